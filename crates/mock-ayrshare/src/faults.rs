//! Faults that stay: per profile and platform, set with `PUT /mock/profiles/{key}/faults/{platform}`
//! until cleared, and the errors Ayrshare answers for each (in a post's `errors`, a comment's
//! answer, or a whole 403 for a suspended account).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::platforms::Platform;
use super::reply::ApiError;

/// The key of a fault that applies to every platform of the profile.
pub(super) const ALL: &str = "all";

/// Ayrshare's code for a network that is not linked.
pub(super) const CODE_NOT_LINKED: u32 = 156;

/// Ayrshare's code for a Facebook authorization error (the mock uses it for every network but
/// X/Twitter, whose code is [`CODE_X_AUTHORIZATION`]).
pub(super) const CODE_AUTHORIZATION: u32 = 161;

/// Ayrshare's code for an X/Twitter authorization issue.
pub(super) const CODE_X_AUTHORIZATION: u32 = 272;

/// Ayrshare's code for Instagram's rate limit (the mock uses it for every network), surfaced
/// as HTTP 429.
pub(super) const CODE_NETWORK_RATE_LIMIT: u32 = 435;

/// The code of a suspended account (the mock's choice; Ayrshare documents HTTP 403 only).
pub(super) const CODE_SUSPENDED: u32 = 403;

/// The `Retry-After` seconds a network rate limit reports in its `details`.
const NETWORK_RETRY_AFTER: u64 = 3_600;

/// The names accepted, for error messages.
const KNOWN: &str = "not_linked, rate_limited, expired_token, suspended";

/// A fault of one platform of one profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fault {
    /// The network is not linked (code 156).
    NotLinked,
    /// The network's own rate limit (code 435, HTTP 429 when nothing else succeeded).
    RateLimited,
    /// The network's token expired or was revoked (code 272 on X/Twitter, 161 elsewhere).
    ExpiredToken,
    /// The account is suspended: a request that acts on it is refused whole with HTTP 403.
    Suspended,
}

impl Fault {
    pub(super) fn parse(name: &str) -> Result<Fault, ApiError> {
        match name.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "not_linked" => Ok(Fault::NotLinked),
            "rate_limited" => Ok(Fault::RateLimited),
            "expired_token" => Ok(Fault::ExpiredToken),
            "suspended" => Ok(Fault::Suspended),
            _ => Err(ApiError::mock(format!(
                "unknown fault {name:?}: known faults are {KNOWN}"
            ))),
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Fault::NotLinked => "not_linked",
            Fault::RateLimited => "rate_limited",
            Fault::ExpiredToken => "expired_token",
            Fault::Suspended => "suspended",
        }
    }

    /// The code of this fault on `platform`.
    pub(super) fn code(self, platform: Platform) -> u32 {
        match self {
            Fault::NotLinked => CODE_NOT_LINKED,
            Fault::RateLimited => CODE_NETWORK_RATE_LIMIT,
            Fault::ExpiredToken if platform == Platform::Twitter => CODE_X_AUTHORIZATION,
            Fault::ExpiredToken => CODE_AUTHORIZATION,
            Fault::Suspended => CODE_SUSPENDED,
        }
    }

    /// The `errors[]` item of this fault on `platform`, for the refused `action` (`post`,
    /// `comment`).
    pub(super) fn error_entry(self, action: &str, platform: Platform) -> Value {
        let name = platform.display_name();
        let message = match self {
            Fault::NotLinked => format!(
                "{name} is not linked. Please confirm the account is linked on the Social Accounts page."
            ),
            Fault::RateLimited => format!(
                "{name} rate limit reached for this account. Please try again later."
            ),
            Fault::ExpiredToken if platform == Platform::Twitter => {
                "X/Twitter authorization error: the token expired or was revoked. Please unlink and re-link the account.".to_owned()
            }
            Fault::ExpiredToken => format!(
                "{name} authorization error: the token expired or was revoked. Try unlinking and re-linking the account."
            ),
            Fault::Suspended => format!("The {name} account of this profile is suspended."),
        };
        let mut entry = json!({
            "action": action,
            "status": "error",
            "code": self.code(platform),
            "message": message,
            "platform": platform.name(),
        });
        if self == Fault::RateLimited {
            entry["details"] = json!({"retryAfter": NETWORK_RETRY_AFTER});
        }
        entry
    }

    /// The HTTP 403 that refuses a whole request acting on a suspended account.
    pub(super) fn suspended(platform: Option<Platform>) -> ApiError {
        let message = match platform {
            Some(platform) => format!(
                "Not allowed: the {} account of this profile is suspended.",
                platform.display_name()
            ),
            None => "Not allowed: this User Profile is suspended.".to_owned(),
        };
        ApiError {
            http: StatusCode::FORBIDDEN,
            code: CODE_SUSPENDED,
            message,
            extra: serde_json::Map::new(),
        }
    }
}

/// The HTTP status of an answer whose every platform failed with `errors`: 429 when each was a
/// network rate limit (as Ayrshare surfaces code 435), else 400.
pub(super) fn failed_everywhere_status(errors: &[Value]) -> StatusCode {
    let all_rate_limited = !errors.is_empty()
        && errors
            .iter()
            .all(|error| error["code"] == CODE_NETWORK_RATE_LIMIT);
    if all_rate_limited {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// The faults of one profile, by platform name or [`ALL`].
pub(super) type Faults = BTreeMap<&'static str, Fault>;

/// The fault that applies to `platform` under `faults`: its own, else the profile-wide one.
pub(super) fn fault_of(faults: &Faults, platform: Platform) -> Option<Fault> {
    faults
        .get(platform.name())
        .or_else(|| faults.get(ALL))
        .copied()
}

/// Parses the `{platform}` of a fault route: an Ayrshare platform name or `all`.
pub(super) fn parse_target(name: &str) -> Result<&'static str, ApiError> {
    if name == ALL {
        return Ok(ALL);
    }
    Platform::from_name(name).map(Platform::name).ok_or_else(|| {
        ApiError::mock(format!(
            "unknown platform {name:?} for a fault: use an Ayrshare platform name ({}) or \"all\"",
            super::platforms::valid_names()
        ))
    })
}

/// The faults as JSON (`{"twitter": "expired_token", ...}`).
pub(super) fn to_json(faults: &Faults) -> Value {
    Value::Object(
        faults
            .iter()
            .map(|(platform, fault)| ((*platform).to_owned(), json!(fault.name())))
            .collect(),
    )
}
