//! Social account connections, pure: what Ayrshare's answers about a profile's linked accounts
//! mean (`GET /user`, the `social` webhook, a post refused with code 156), the state a
//! (workspace, platform) connection moves to, and the requests of the `/social/{platform}/...`
//! routes. No I/O: the use cases are `crate::connections`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::cursor;
use super::new_post::{FieldError, Problems, ValidationErrors, quote, workspace_id_of};
use super::outcome::{DeliveryFailure, ProviderAnswer, Verdict, refusal_of};
use super::platform::Platform;
use super::post_list::{parse_limit, parse_workspace_id};

/// Ayrshare's error code for a post to a platform the profile has not linked.
pub const CODE_NOT_LINKED: i64 = 156;

/// The event a connection that became linked emits.
pub const CONNECTED_EVENT: &str = "account.connected";
/// The event a connection that stopped being linked emits.
pub const DISCONNECTED_EVENT: &str = "account.disconnected";

/// The longest text kept from Ayrshare for one account field: a bound on what a hostile or
/// broken answer can make us store.
const MAX_FIELD_CHARS: usize = 512;

/// The longest `redirect_url` accepted.
pub const MAX_REDIRECT_CHARS: usize = 2048;

/// Why a connection changed, as stored and as events report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// Ayrshare's `social` webhook: the account was linked (`source: user`).
    Linked,
    /// Ayrshare's `social` webhook: the account was unlinked by the user (at Ayrshare).
    Unlinked,
    /// Ayrshare's `social` webhook with `source: system`: Ayrshare dropped a dead token.
    TokenRevoked,
    /// `DELETE /social/{platform}/remove` through this API.
    Removed,
    /// A post was refused because the platform is not linked (Ayrshare code 156).
    PostRefused,
    /// `GET /social/{platform}/status` found Ayrshare's state different from the stored one.
    StatusCheck,
}

impl ChangeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeReason::Linked => "linked",
            ChangeReason::Unlinked => "unlinked",
            ChangeReason::TokenRevoked => "token_revoked",
            ChangeReason::Removed => "removed",
            ChangeReason::PostRefused => "post_refused",
            ChangeReason::StatusCheck => "status_check",
        }
    }

    pub fn parse(text: &str) -> Option<ChangeReason> {
        [
            ChangeReason::Linked,
            ChangeReason::Unlinked,
            ChangeReason::TokenRevoked,
            ChangeReason::Removed,
            ChangeReason::PostRefused,
            ChangeReason::StatusCheck,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// The account linked on a platform, as Ayrshare describes it (every field optional: Ayrshare's
/// answers are read leniently).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LinkedAccount {
    /// The handle on the network.
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub profile_url: Option<String>,
    pub user_image: Option<String>,
    /// The network's own id of the account (not shown; kept to tell a relink of another account).
    #[serde(skip)]
    pub account_id: Option<String>,
}

/// What was learned about one (workspace, platform).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// Linked, with the account when the source describes it.
    Connected(LinkedAccount),
    /// Not linked.
    Disconnected,
}

/// One observation to apply to the stored state, with why and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionChange {
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    pub platform: Platform,
    pub observation: Observation,
    pub reason: ChangeReason,
    pub at: DateTime<Utc>,
}

/// A connection's state as stored (before a change, `None` when never seen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionState {
    pub connected: bool,
    pub account: LinkedAccount,
    pub linked_at: Option<DateTime<Utc>>,
    pub unlinked_at: Option<DateTime<Utc>>,
    pub reason: Option<ChangeReason>,
}

/// What applying a change does: the new state, and the event it emits (none when nothing the
/// events report changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub state: ConnectionState,
    /// `account.connected` or `account.disconnected`.
    pub event: Option<&'static str>,
    /// Whether anything stored changes (account fields refreshed count; an event implies it).
    pub changed: bool,
}

/// Applies `change` to `before`. A link of a connected platform refreshes its account (an event
/// only when another account took its place); an unlink of a platform never seen or already
/// unlinked changes nothing, so that a repeated webhook or status read emits no second event.
pub fn apply(before: Option<&ConnectionState>, change: &ConnectionChange) -> Applied {
    let was_connected = before.is_some_and(|b| b.connected);
    match &change.observation {
        Observation::Connected(account) => {
            let previous = before.map(|b| &b.account);
            // A status read describes the account fully; a webhook names only a display name:
            // keep what it does not say.
            let merged = merge(previous, account);
            let other_account = was_connected
                && account.account_id.is_some()
                && previous.and_then(|p| p.account_id.as_ref()) != account.account_id.as_ref();
            if was_connected && !other_account {
                let before = before.expect("connected implies a state");
                return Applied {
                    changed: merged != before.account,
                    state: ConnectionState {
                        account: merged,
                        ..before.clone()
                    },
                    event: None,
                };
            }
            Applied {
                state: ConnectionState {
                    connected: true,
                    account: merged,
                    linked_at: Some(change.at),
                    unlinked_at: None,
                    reason: Some(change.reason),
                },
                event: Some(CONNECTED_EVENT),
                changed: true,
            }
        }
        Observation::Disconnected => {
            let Some(before) = before.filter(|b| b.connected) else {
                return Applied {
                    state: before.cloned().unwrap_or(ConnectionState {
                        connected: false,
                        account: LinkedAccount::default(),
                        linked_at: None,
                        unlinked_at: None,
                        reason: None,
                    }),
                    event: None,
                    changed: false,
                };
            };
            Applied {
                state: ConnectionState {
                    connected: false,
                    // Kept: the event and the list say which account went away.
                    account: before.account.clone(),
                    linked_at: before.linked_at,
                    unlinked_at: Some(change.at),
                    reason: Some(change.reason),
                },
                event: Some(DISCONNECTED_EVENT),
                changed: true,
            }
        }
    }
}

fn merge(previous: Option<&LinkedAccount>, new: &LinkedAccount) -> LinkedAccount {
    let keep = |new: &Option<String>, old: Option<&Option<String>>| {
        new.clone().or_else(|| old.cloned().flatten())
    };
    // Another account (its id differs): nothing of the old one is kept.
    let same = match (
        previous.and_then(|p| p.account_id.as_ref()),
        &new.account_id,
    ) {
        (Some(old), Some(new)) => old == new,
        _ => true,
    };
    let previous = previous.filter(|_| same);
    LinkedAccount {
        username: keep(&new.username, previous.map(|p| &p.username)),
        display_name: keep(&new.display_name, previous.map(|p| &p.display_name)),
        profile_url: keep(&new.profile_url, previous.map(|p| &p.profile_url)),
        user_image: keep(&new.user_image, previous.map(|p| &p.user_image)),
        account_id: keep(&new.account_id, previous.map(|p| &p.account_id)),
    }
}

/// A string field of an Ayrshare object, bounded; empty counts as missing.
fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    let value = match object.get(key)? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    if value.is_empty() {
        return None;
    }
    Some(value.chars().take(MAX_FIELD_CHARS).collect())
}

/// Ayrshare's name of a platform (`twitter`) as ours, when it is one of ours.
pub fn our_platform(ayrshare_name: &str) -> Option<Platform> {
    Platform::parse(&super::platform::platform_from_ayrshare(
        ayrshare_name.trim(),
    ))
}

/// What `GET /user` says of the profile: its `refId`, and for each of our platforms whether it
/// is linked (in `activeSocialAccounts`) with the account `displayNames` describes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserAnswer {
    pub ref_id: Option<String>,
    pub linked: Vec<(Platform, LinkedAccount)>,
}

impl UserAnswer {
    /// Reads the answer leniently; `None` when it is not a JSON object at all.
    pub fn read(json: &Value) -> Option<UserAnswer> {
        let object = json.as_object()?;
        let active: Vec<Platform> = object
            .get("activeSocialAccounts")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(our_platform)
                    .collect()
            })
            .unwrap_or_default();
        let described: Vec<(Platform, LinkedAccount)> = object
            .get("displayNames")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_object)
                    .filter_map(|item| {
                        let platform = our_platform(item.get("platform")?.as_str()?)?;
                        Some((
                            platform,
                            LinkedAccount {
                                username: text(item, "username"),
                                display_name: text(item, "displayName"),
                                profile_url: text(item, "profileUrl"),
                                user_image: text(item, "userImage"),
                                account_id: text(item, "id"),
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut linked = Vec::new();
        for platform in Platform::ALL {
            if active.contains(&platform) {
                let account = described
                    .iter()
                    .find(|(p, _)| *p == platform)
                    .map(|(_, a)| a.clone())
                    .unwrap_or_default();
                linked.push((platform, account));
            }
        }
        Some(UserAnswer {
            ref_id: text(object, "refId"),
            linked,
        })
    }

    /// The account linked on `platform`, if it is linked.
    pub fn account(&self, platform: Platform) -> Option<&LinkedAccount> {
        self.linked
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, a)| a)
    }
}

/// Ayrshare's `social` webhook: a link or unlink on one profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocialNotice {
    pub ref_id: String,
    pub platform: Platform,
    pub observation: Observation,
    pub reason: ChangeReason,
}

/// Why a `social` payload is acknowledged without effect.
pub type Ignored = String;

impl SocialNotice {
    /// Reads a verified `social` payload: `type` link or unlink (anything else, such as
    /// `refresh`, is ignored), one of our platforms, and the profile's `refId`.
    pub fn read(payload: &Map<String, Value>) -> Result<SocialNotice, Ignored> {
        let kind = payload.get("type").and_then(Value::as_str).unwrap_or("");
        let source = payload.get("source").and_then(Value::as_str).unwrap_or("");
        let name = payload
            .get("platform")
            .and_then(Value::as_str)
            .unwrap_or("");
        let platform = our_platform(name)
            .ok_or_else(|| format!("the platform '{}' is not one of ours", quote(name)))?;
        let ref_id = text(payload, "refId").ok_or("the payload names no refId")?;
        let (observation, reason) = match kind {
            "link" => (
                Observation::Connected(LinkedAccount {
                    display_name: text(payload, "displayName"),
                    ..LinkedAccount::default()
                }),
                ChangeReason::Linked,
            ),
            "unlink" if source.eq_ignore_ascii_case("system") => {
                (Observation::Disconnected, ChangeReason::TokenRevoked)
            }
            "unlink" => (Observation::Disconnected, ChangeReason::Unlinked),
            other => {
                return Err(format!(
                    "the social type '{}' is not handled; only link and unlink are",
                    quote(other)
                ));
            }
        };
        Ok(SocialNotice {
            ref_id,
            platform,
            observation,
            reason,
        })
    }
}

/// The platforms a post's Ayrshare error says are not linked (code 156), from the `errors`
/// array of the recorded error.
pub fn not_linked_platforms(error: Option<&Value>) -> Vec<Platform> {
    let mut found = Vec::new();
    let Some(errors) = error
        .and_then(|e| e.get("errors"))
        .and_then(Value::as_array)
    else {
        return found;
    };
    for entry in errors.iter().take(64) {
        let code = entry.get("code").and_then(|c| {
            c.as_i64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        });
        if code != Some(CODE_NOT_LINKED) {
            continue;
        }
        if let Some(platform) = entry
            .get("platform")
            .and_then(Value::as_str)
            .and_then(our_platform)
            && !found.contains(&platform)
        {
            found.push(platform);
        }
    }
    found
}

/// What an answer to one of the connection calls (`generateJWT`, `GET /user`,
/// `DELETE /profiles/social`) says: its JSON object when Ayrshare did what was asked, else the
/// verdict to answer with (`what` names the call in the messages). Nothing is recorded for
/// these calls, so a lost answer is simply reported.
pub fn judge_answer(
    answer: Result<&ProviderAnswer, DeliveryFailure>,
    what: &str,
) -> Result<Map<String, Value>, Verdict> {
    let answer = match answer {
        Ok(answer) => answer,
        Err(DeliveryFailure::NotSent) => {
            return Err(Verdict::Unavailable {
                detail: format!("ayrshare could not be reached to {what}; nothing was sent"),
            });
        }
        Err(DeliveryFailure::OutcomeUnknown) => {
            return Err(Verdict::TimedOut {
                detail: format!("ayrshare did not answer in time to {what}; try again"),
            });
        }
        Err(DeliveryFailure::HeldOff { retry_after_secs }) => {
            return Err(Verdict::RateLimited {
                retry_after: retry_after_secs.to_string(),
            });
        }
    };
    if let Some(refusal) = refusal_of(answer, &format!("ayrshare failed to {what}")) {
        return Err(refusal);
    }
    let status = answer.http_status;
    let object = answer.json.as_ref().and_then(Value::as_object);
    let refused = object
        .and_then(|o| o.get("status"))
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("error"));
    match object {
        Some(object) if status < 300 && !refused => Ok(object.clone()),
        Some(object) if (400..500).contains(&status) || refused => {
            let message = object
                .get("message")
                .and_then(Value::as_str)
                .map(quote)
                .unwrap_or_else(|| "no message".into());
            let code = object
                .get("code")
                .map(|c| format!(" (code {c})"))
                .unwrap_or_default();
            Err(Verdict::Rejected {
                detail: format!("ayrshare refused to {what}: {message}{code}"),
            })
        }
        _ => Err(Verdict::ProviderError {
            detail: format!(
                "ayrshare answered HTTP {status} with a body that is not what it answers to {what}"
            ),
        }),
    }
}

/// The `{platform}` of a route, or the 400 that lists ours.
pub fn parse_platform(name: &str) -> Result<Platform, ValidationErrors> {
    Platform::parse(name).ok_or_else(|| {
        ValidationErrors::one(FieldError::new(
            "platform",
            format!(
                "'{}' is not a platform of this API (one of: {})",
                quote(name),
                Platform::names()
            ),
        ))
    })
}

/// A checked `POST /social/{platform}/connect` body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectRequest {
    pub workspace_id: Option<Uuid>,
    pub redirect_url: Option<String>,
}

impl ConnectRequest {
    /// Parses the body (none at all is `{}`) and the query's `workspace_id`; an unknown field is
    /// refused, since nothing here is forwarded as written.
    pub fn parse(
        body: Option<Value>,
        query: &[(String, String)],
    ) -> Result<ConnectRequest, ValidationErrors> {
        let mut errors = Problems::default();
        let mut request = ConnectRequest {
            workspace_id: query_workspace_id(query, &["workspace_id"], &mut errors),
            ..ConnectRequest::default()
        };
        let fields = match body {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(fields)) => fields,
            Some(_) => {
                errors.push(FieldError::new("body", "must be a JSON object"));
                Map::new()
            }
        };
        for (name, value) in fields {
            match name.as_str() {
                "workspace_id" if value.is_null() => {}
                "workspace_id" => {
                    let id = workspace_id_of(value, &mut errors);
                    if request.workspace_id.is_some() && id != request.workspace_id {
                        errors.push(FieldError::new(
                            "workspace_id",
                            "is given in the query and the body with different values",
                        ));
                    }
                    request.workspace_id = request.workspace_id.or(id);
                }
                "redirect_url" if value.is_null() => {}
                "redirect_url" => match check_redirect(&value) {
                    Ok(url) => request.redirect_url = Some(url),
                    Err(message) => errors.push(FieldError::new("redirect_url", message)),
                },
                other => errors.push(FieldError::new(
                    quote(other),
                    "is not a field of this request (known: workspace_id, redirect_url)",
                )),
            }
        }
        errors.finish()?;
        Ok(request)
    }
}

fn check_redirect(value: &Value) -> Result<String, String> {
    let Value::String(text) = value else {
        return Err("must be an http:// or https:// URL string".into());
    };
    if text.chars().count() > MAX_REDIRECT_CHARS {
        return Err(format!("is longer than {MAX_REDIRECT_CHARS} characters"));
    }
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(text.clone()),
        _ => Err(format!(
            "'{}' is not an absolute http:// or https:// URL",
            quote(text)
        )),
    }
}

/// The `workspace_id` of a query that may carry only `known` parameters.
fn query_workspace_id(
    query: &[(String, String)],
    known: &[&str],
    errors: &mut Problems,
) -> Option<Uuid> {
    let mut found = None;
    let mut seen = std::collections::HashSet::new();
    for (name, value) in query {
        if !seen.insert(name.as_str()) {
            errors.push(FieldError::new(quote(name), "is given more than once"));
            continue;
        }
        if name == "workspace_id" {
            match parse_workspace_id(value) {
                Ok(id) => found = Some(id),
                Err(message) => errors.push(FieldError::new("workspace_id", message)),
            }
        } else if !known.contains(&name.as_str()) {
            errors.push(FieldError::new(
                quote(name),
                format!(
                    "is not a parameter of this route (known: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    found
}

/// The `workspace_id` of `GET /social/{platform}/status` and `DELETE .../remove`: the only query
/// parameter they take.
pub fn parse_workspace_query(query: &[(String, String)]) -> Result<Option<Uuid>, ValidationErrors> {
    let mut errors = Problems::default();
    let id = query_workspace_id(query, &["workspace_id"], &mut errors);
    errors.finish()?;
    Ok(id)
}

/// The workspace of `DELETE /social/{platform}/remove`: in the query or a JSON body.
pub fn parse_remove(
    body: Option<Value>,
    query: &[(String, String)],
) -> Result<Option<Uuid>, ValidationErrors> {
    let mut errors = Problems::default();
    let mut id = query_workspace_id(query, &["workspace_id"], &mut errors);
    match body {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            for (name, value) in fields {
                if name == "workspace_id" {
                    if !value.is_null() {
                        let found = workspace_id_of(value, &mut errors);
                        if id.is_some() && found != id {
                            errors.push(FieldError::new(
                                "workspace_id",
                                "is given in the query and the body with different values",
                            ));
                        }
                        id = id.or(found);
                    }
                } else {
                    errors.push(FieldError::new(
                        quote(&name),
                        "is not a field of this request (known: workspace_id)",
                    ));
                }
            }
        }
        Some(_) => errors.push(FieldError::new("body", "must be a JSON object")),
    }
    errors.finish()?;
    Ok(id)
}

/// The most connections one page of `GET /social/connections` lists.
pub const CONNECTIONS_PER_PAGE: u32 = 100;

/// Where a page of connections ends: the order is `connected_at`, then the connection's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionPosition {
    pub linked_at: DateTime<Utc>,
    pub id: Uuid,
}

const CURSOR_CONTEXT: &[u8] = b"mosaic-social connections cursor v1";

impl ConnectionPosition {
    pub fn encode(&self) -> String {
        cursor::seal(
            CURSOR_CONTEXT,
            &format!("{}.{}", self.linked_at.timestamp_micros(), self.id),
        )
    }

    pub fn decode(sealed: &str) -> Option<ConnectionPosition> {
        let text = cursor::open(CURSOR_CONTEXT, sealed)?;
        let (micros, id) = text.split_once('.')?;
        Some(ConnectionPosition {
            linked_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// A checked `GET /social/connections` query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionsQuery {
    pub workspace_id: Option<Uuid>,
    pub platform: Option<Platform>,
    pub after: Option<ConnectionPosition>,
    pub limit: u32,
}

impl ConnectionsQuery {
    pub fn parse(query: &[(String, String)]) -> Result<ConnectionsQuery, ValidationErrors> {
        const KNOWN: [&str; 4] = ["workspace_id", "platform", "limit", "after"];
        let mut errors = Problems::default();
        let mut parsed = ConnectionsQuery {
            workspace_id: query_workspace_id(query, &KNOWN, &mut errors),
            platform: None,
            after: None,
            limit: CONNECTIONS_PER_PAGE,
        };
        let mut seen = std::collections::HashSet::new();
        for (name, value) in query {
            if !seen.insert(name.as_str()) {
                continue;
            }
            match name.as_str() {
                "platform" => match Platform::parse(value) {
                    Some(p) => parsed.platform = Some(p),
                    None => errors.push(FieldError::new(
                        "platform",
                        format!(
                            "'{}' is not a platform of this API (one of: {})",
                            quote(value),
                            Platform::names()
                        ),
                    )),
                },
                "limit" => match parse_limit(value) {
                    Ok(n) => parsed.limit = n.min(CONNECTIONS_PER_PAGE),
                    Err(message) => errors.push(FieldError::new("limit", message)),
                },
                "after" => match ConnectionPosition::decode(value) {
                    Some(position) => parsed.after = Some(position),
                    None => errors.push(FieldError::new(
                        "after",
                        "is not a cursor of this list: pass next_cursor back unchanged",
                    )),
                },
                _ => {}
            }
        }
        errors.finish()?;
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn change(observation: Observation, reason: ChangeReason) -> ConnectionChange {
        ConnectionChange {
            organization_id: Uuid::nil(),
            workspace_id: Uuid::nil(),
            platform: Platform::X,
            observation,
            reason,
            at: "2026-12-02T10:00:00Z".parse().unwrap(),
        }
    }

    fn account(id: &str, name: &str) -> LinkedAccount {
        LinkedAccount {
            username: Some(name.into()),
            account_id: Some(id.into()),
            ..LinkedAccount::default()
        }
    }

    #[test]
    fn a_link_connects_once_and_an_unlink_disconnects_once() {
        let linked = apply(
            None,
            &change(
                Observation::Connected(account("1", "a")),
                ChangeReason::Linked,
            ),
        );
        assert_eq!(linked.event, Some(CONNECTED_EVENT));
        assert!(linked.state.connected);
        let again = apply(
            Some(&linked.state),
            &change(
                Observation::Connected(account("1", "a")),
                ChangeReason::StatusCheck,
            ),
        );
        assert_eq!((again.event, again.changed), (None, false));
        let other = apply(
            Some(&linked.state),
            &change(
                Observation::Connected(account("2", "b")),
                ChangeReason::StatusCheck,
            ),
        );
        assert_eq!(other.event, Some(CONNECTED_EVENT));
        let gone = apply(
            Some(&linked.state),
            &change(Observation::Disconnected, ChangeReason::TokenRevoked),
        );
        assert_eq!(gone.event, Some(DISCONNECTED_EVENT));
        assert_eq!(gone.state.reason, Some(ChangeReason::TokenRevoked));
        assert_eq!(gone.state.account.username.as_deref(), Some("a"));
        let twice = apply(
            Some(&gone.state),
            &change(Observation::Disconnected, ChangeReason::Unlinked),
        );
        assert_eq!((twice.event, twice.changed), (None, false));
        let never = apply(
            None,
            &change(Observation::Disconnected, ChangeReason::PostRefused),
        );
        assert_eq!((never.event, never.changed), (None, false));
    }

    #[test]
    fn a_webhook_link_keeps_the_fields_it_does_not_name() {
        let linked = apply(
            None,
            &change(
                Observation::Connected(account("1", "a")),
                ChangeReason::StatusCheck,
            ),
        );
        let named = apply(
            Some(&linked.state),
            &change(
                Observation::Connected(LinkedAccount {
                    display_name: Some("A".into()),
                    ..LinkedAccount::default()
                }),
                ChangeReason::Linked,
            ),
        );
        assert_eq!(named.event, None);
        assert!(named.changed);
        assert_eq!(named.state.account.username.as_deref(), Some("a"));
        assert_eq!(named.state.account.display_name.as_deref(), Some("A"));
    }

    #[test]
    fn the_user_answer_is_read_under_our_names() {
        let answer = UserAnswer::read(&json!({
            "activeSocialAccounts": ["twitter", "gmb", "linkedin"],
            "displayNames": [{"platform": "twitter", "username": "u", "displayName": "U",
                              "profileUrl": "https://twitter.com/u", "id": 42}],
            "refId": "abc"
        }))
        .unwrap();
        assert_eq!(answer.ref_id.as_deref(), Some("abc"));
        assert_eq!(answer.linked.len(), 2);
        let x = answer.account(Platform::X).unwrap();
        assert_eq!(x.username.as_deref(), Some("u"));
        assert_eq!(x.account_id.as_deref(), Some("42"));
        assert_eq!(
            answer.account(Platform::Linkedin),
            Some(&LinkedAccount::default())
        );
        assert!(answer.account(Platform::Youtube).is_none());
        assert!(UserAnswer::read(&json!("no")).is_none());
    }

    #[test]
    fn social_payloads_are_read_and_others_ignored() {
        let read = |v: Value| SocialNotice::read(v.as_object().unwrap());
        let link = read(json!({"type": "link", "platform": "twitter", "refId": "r",
                               "source": "user", "displayName": "D"}))
        .unwrap();
        assert_eq!(link.platform, Platform::X);
        assert_eq!(link.reason, ChangeReason::Linked);
        let dropped =
            read(json!({"type": "unlink", "platform": "tiktok", "refId": "r", "source": "system"}))
                .unwrap();
        assert_eq!(dropped.reason, ChangeReason::TokenRevoked);
        assert_eq!(dropped.observation, Observation::Disconnected);
        assert!(read(json!({"type": "refresh", "platform": "x", "refId": "r"})).is_err());
        assert!(read(json!({"type": "link", "platform": "gmb", "refId": "r"})).is_err());
        assert!(read(json!({"type": "link", "platform": "twitter"})).is_err());
    }

    #[test]
    fn code_156_names_the_platforms_not_linked() {
        let error = json!({"errors": [
            {"code": 156, "platform": "twitter"}, {"code": 110, "platform": "facebook"},
            {"code": "156", "platform": "instagram"}, {"code": 156, "platform": "twitter"}]});
        assert_eq!(
            not_linked_platforms(Some(&error)),
            vec![Platform::X, Platform::Instagram]
        );
        assert!(not_linked_platforms(None).is_empty());
    }

    #[test]
    fn requests_are_checked() {
        let id = Uuid::new_v4();
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let ok = ConnectRequest::parse(
            Some(
                json!({"workspace_id": id.to_string(), "redirect_url": "https://app.example/done"}),
            ),
            &[],
        )
        .unwrap();
        assert_eq!(ok.workspace_id, Some(id));
        assert!(
            ConnectRequest::parse(Some(json!({"redirect_url": "javascript:alert(1)"})), &[])
                .is_err()
        );
        assert!(ConnectRequest::parse(Some(json!({"other": 1})), &[]).is_err());
        assert!(ConnectRequest::parse(None, &q(&[("workspace_id", "nope")])).is_err());
        assert_eq!(
            ConnectRequest::parse(None, &[]).unwrap(),
            ConnectRequest::default()
        );
        assert!(parse_workspace_query(&q(&[("limit", "1")])).is_err());
        let list = ConnectionsQuery::parse(&q(&[("platform", "X"), ("limit", "5")])).unwrap();
        assert_eq!((list.platform, list.limit), (Some(Platform::X), 5));
        assert!(ConnectionsQuery::parse(&q(&[("platform", "myspace")])).is_err());
        assert!(ConnectionsQuery::parse(&q(&[("after", "forged")])).is_err());
        let position = ConnectionPosition {
            linked_at: "2026-12-02T10:00:00.123456Z".parse().unwrap(),
            id,
        };
        assert_eq!(
            ConnectionPosition::decode(&position.encode()),
            Some(position)
        );
        assert!(
            parse_platform("myspace")
                .unwrap_err()
                .detail()
                .contains("x, linkedin")
        );
    }
}
