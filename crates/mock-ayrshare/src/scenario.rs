//! Scenarios: how a caller tells the mock which outcome to simulate (header or `[mock:…]` marker).

use std::time::Duration;

use axum::http::HeaderMap;

use super::reply::ApiError;
use super::store::Hold;

/// The request header that selects a scenario; it wins over a marker in the post text.
pub(super) const SCENARIO_HEADER: &str = "x-mock-scenario";

/// What the marker in the post text starts with, compared case-insensitively.
const MARKER_START: &str = "[mock:";

/// How long `slow` waits when no duration is given.
const DEFAULT_SLOW: Duration = Duration::from_millis(5_000);

/// The longest wait `slow:<ms>` accepts.
const MAX_SLOW_MS: u64 = 120_000;

/// How long `lost` holds the connection before dropping it when no duration is given.
const DEFAULT_LOST: Duration = Duration::from_millis(1_000);

/// The `Retry-After` of `rate_limit` when no delay is given, in seconds.
const DEFAULT_RETRY_AFTER: u64 = 60;

/// The longest `Retry-After` `rate_limit:<seconds>` accepts.
const MAX_RETRY_AFTER: u64 = 3_600;

/// How long `processing` reads `processing` when no duration is given.
const DEFAULT_PROCESSING: Duration = Duration::from_secs(10);

/// The longest `processing:<seconds>` accepted.
const MAX_PROCESSING_SECONDS: u64 = 86_400;

/// The names listed when a caller asks for an unknown scenario.
const KNOWN: &str = "success, scheduled, partial, duplicate, approval, processing, \
                     processing:<seconds>, paused, deleted, unauthorized, rate_limit, \
                     rate_limit:<seconds>, server_error, not_json, slow, slow:<ms>, lost, lost:<ms>; \
                     combinable with wrapped or unwrapped, e.g. \"wrapped,partial\"";

/// The outcome a caller asked the mock to simulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scenario {
    /// Every platform succeeds (the default).
    Success,
    /// The post is scheduled one hour ahead when it carries no `scheduleDate`.
    Scheduled,
    /// The first platform succeeds and every other one fails as "not linked".
    Partial,
    /// Every platform refuses the post as a duplicate.
    Duplicate,
    /// The post waits for approval (as with `requiresApproval: true`): a success that names no
    /// platform, then `awaiting approval` until `PATCH /api/post` sends `approved: true`.
    Approval,
    /// The post is published asynchronously (TikTok): a success that names no platform, then
    /// `processing` for this long, then published (with a `scheduled` webhook).
    Processing(Duration),
    /// The post is scheduled (one hour ahead without a `scheduleDate`) and paused.
    Paused,
    /// The post is accepted as usual, then reads `deleted` (deleted outside the API).
    Deleted,
    /// The API key is refused (HTTP 401).
    Unauthorized,
    /// The profile is over its rate limit (HTTP 429), retry after this many seconds.
    RateLimit(u64),
    /// Ayrshare fails internally (HTTP 500).
    ServerError,
    /// A gateway in front of Ayrshare answers an HTML page (HTTP 502).
    NotJson,
    /// The request is carried out at once (like `Success`); its answer waits this long.
    Slow(Duration),
    /// The request is carried out at once (like `Success`); its answer is never delivered: the
    /// connection is held this long, then dropped.
    Lost(Duration),
}

/// What a post's outcome is once it is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Success,
    Partial,
    Duplicate,
}

impl Scenario {
    /// Parses a scenario name: case-insensitive, `-` and `_` interchangeable.
    pub(super) fn parse(raw: &str) -> Result<Scenario, ApiError> {
        let name = raw.trim().to_ascii_lowercase().replace('-', "_");
        let scenario = match name.as_str() {
            "success" => Scenario::Success,
            "scheduled" => Scenario::Scheduled,
            "partial" => Scenario::Partial,
            "duplicate" => Scenario::Duplicate,
            "approval" | "awaiting_approval" => Scenario::Approval,
            "processing" => Scenario::Processing(DEFAULT_PROCESSING),
            "paused" => Scenario::Paused,
            "deleted" => Scenario::Deleted,
            "unauthorized" => Scenario::Unauthorized,
            "rate_limit" => Scenario::RateLimit(DEFAULT_RETRY_AFTER),
            "server_error" => Scenario::ServerError,
            "not_json" => Scenario::NotJson,
            "slow" => Scenario::Slow(DEFAULT_SLOW),
            "lost" => Scenario::Lost(DEFAULT_LOST),
            _ => {
                if let Some(ms) = name.strip_prefix("slow:") {
                    let ms =
                        parse_bounded(ms, MAX_SLOW_MS, raw, "slow takes a delay in milliseconds")?;
                    Scenario::Slow(Duration::from_millis(ms))
                } else if let Some(ms) = name.strip_prefix("lost:") {
                    let what = "lost takes a hold in milliseconds";
                    Scenario::Lost(Duration::from_millis(parse_bounded(
                        ms,
                        MAX_SLOW_MS,
                        raw,
                        what,
                    )?))
                } else if let Some(seconds) = name.strip_prefix("processing:") {
                    let what = "processing takes a duration in seconds";
                    let seconds = parse_bounded(seconds, MAX_PROCESSING_SECONDS, raw, what)?;
                    Scenario::Processing(Duration::from_secs(seconds))
                } else if let Some(seconds) = name.strip_prefix("rate_limit:") {
                    let what = "rate_limit takes a Retry-After in seconds";
                    Scenario::RateLimit(parse_bounded(seconds, MAX_RETRY_AFTER, raw, what)?)
                } else {
                    return Err(unknown(raw));
                }
            }
        };
        Ok(scenario)
    }

    /// The outcome of a post created under this scenario.
    pub(super) fn outcome(self) -> Outcome {
        match self {
            Scenario::Partial => Outcome::Partial,
            Scenario::Duplicate => Outcome::Duplicate,
            _ => Outcome::Success,
        }
    }

    /// What keeps a post created under this scenario from being published when due.
    pub(super) fn hold(self) -> Hold {
        match self {
            Scenario::Approval => Hold::Approval,
            Scenario::Paused => Hold::Paused,
            Scenario::Processing(delay) => {
                Hold::Processing(chrono::TimeDelta::from_std(delay).unwrap_or_default())
            }
            _ => Hold::None,
        }
    }
}

/// What a request asked for: one scenario, and maybe an answer form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Choice {
    pub(super) scenario: Scenario,
    /// `Some(true)` for `wrapped`, `Some(false)` for `unwrapped`, `None` to follow the
    /// profile's setting.
    pub(super) wrap: Option<bool>,
}

impl Choice {
    /// Parses a comma-separated list: at most one scenario (default `success`) and at most one
    /// of `wrapped`/`unwrapped`, in any order.
    pub(super) fn parse(raw: &str) -> Result<Choice, ApiError> {
        let mut scenario = None;
        let mut wrap = None;
        for part in raw.split(',') {
            let name = part.trim().to_ascii_lowercase();
            let form = match name.as_str() {
                "wrapped" => Some(true),
                "unwrapped" => Some(false),
                _ => None,
            };
            match form {
                Some(_) if wrap.is_some() => return Err(two_of("wrapped or unwrapped", raw)),
                Some(_) => wrap = form,
                None if scenario.is_some() => return Err(two_of("scenario", raw)),
                None => scenario = Some(Scenario::parse(part)?),
            }
        }
        Ok(Choice {
            scenario: scenario.unwrap_or(Scenario::Success),
            wrap,
        })
    }
}

/// Chooses the scenario of a request: the header if present, else a marker in `post_text`.
pub(super) fn choose(headers: &HeaderMap, post_text: Option<&str>) -> Result<Choice, ApiError> {
    if let Some(value) = headers.get(SCENARIO_HEADER) {
        let raw = String::from_utf8_lossy(value.as_bytes());
        if !raw.trim().is_empty() {
            return Choice::parse(&raw);
        }
    }
    match post_text.map(find_marker).transpose()?.flatten() {
        Some(name) => Choice::parse(name),
        None => Ok(Choice {
            scenario: Scenario::Success,
            wrap: None,
        }),
    }
}

fn two_of(what: &str, raw: &str) -> ApiError {
    ApiError::mock(format!(
        "invalid mock scenario {:?}: at most one {what} may be named; known scenarios: {KNOWN}",
        raw.trim()
    ))
}

/// Finds the first `[mock:<name>]` in `text` and returns `<name>`.
fn find_marker(text: &str) -> Result<Option<&str>, ApiError> {
    // ASCII lowercasing keeps byte offsets, so indexes found in `lower` are valid in `text`.
    let lower = text.to_ascii_lowercase();
    let Some(start) = lower.find(MARKER_START) else {
        return Ok(None);
    };
    let rest = &text[start + MARKER_START.len()..];
    match rest.find(']') {
        Some(end) => Ok(Some(&rest[..end])),
        None => Err(ApiError::mock(format!(
            "unterminated mock marker in post text: expected \"[mock:<scenario>]\"; known scenarios: {KNOWN}"
        ))),
    }
}

/// Parses the number after `<name>:` in a scenario, from 0 to `max`; `what` names it in the error.
fn parse_bounded(number: &str, max: u64, raw: &str, what: &str) -> Result<u64, ApiError> {
    match number.trim().parse::<u64>() {
        Ok(number) if number <= max => Ok(number),
        _ => Err(ApiError::mock(format!(
            "invalid mock scenario {:?}: {what} from 0 to {max}",
            raw.trim()
        ))),
    }
}

fn unknown(raw: &str) -> ApiError {
    ApiError::mock(format!(
        "unknown mock scenario {:?}; known scenarios: {KNOWN}",
        raw.trim()
    ))
}
