//! The bodies and queries of `/webhooks/endpoints`: a new endpoint, a change of one, a
//! redelivery, and the pages of endpoints and of delivery attempts. Parsed once, every problem
//! reported at once; an unknown field is refused (nothing here is forwarded anywhere, so a
//! misspelt `evnt_types` must not silently mean "every type").

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::address_rule::check_endpoint_url;
use super::cursor;
use super::event_feed::EVENT_TYPES;
use super::new_post::{FieldError, Problems, ValidationErrors, quote, workspace_id_of};
use super::post_list::{DEFAULT_LIMIT, parse_limit};

/// The type of the event `POST /webhooks/endpoints/{id}/test` sends.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// Every type an endpoint may subscribe to: the post and account events and `webhook.test`.
pub const SUBSCRIBABLE_TYPES: [&str; 11] = [
    EVENT_TYPES[0],
    EVENT_TYPES[1],
    EVENT_TYPES[2],
    EVENT_TYPES[3],
    EVENT_TYPES[4],
    EVENT_TYPES[5],
    EVENT_TYPES[6],
    EVENT_TYPES[7],
    EVENT_TYPES[8],
    EVENT_TYPES[9],
    TEST_EVENT_TYPE,
];

/// The longest description kept, in characters: a label, not a document.
pub const MAX_DESCRIPTION_CHARS: usize = 256;

/// Which URLs the settings let an endpoint have (`WEBHOOK_ALLOW_HTTP`,
/// `WEBHOOK_ALLOW_PRIVATE_TARGETS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrlRules {
    pub allow_http: bool,
    pub allow_private: bool,
}

/// A validated `POST /webhooks/endpoints` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEndpoint {
    pub url: String,
    /// `None`: every type.
    pub event_types: Option<Vec<String>>,
    /// `None`: every workspace of the organization (the use case checks that it is one).
    pub workspace_id: Option<Uuid>,
    pub description: Option<String>,
}

/// A validated `PATCH /webhooks/endpoints/{id}` body: each field `None` when not sent; the inner
/// `None` of `event_types` (every type) and `description` (none) is an explicit `null`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub event_types: Option<Option<Vec<String>>>,
    pub description: Option<Option<String>>,
    pub disabled: Option<bool>,
}

/// What `POST /webhooks/endpoints/{id}/redeliver` sends again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redelivery {
    /// That one event.
    Event(String),
    /// The organization's events of changes made at or after this time, oldest first.
    Since(DateTime<Utc>),
}

const CREATE_FIELDS: [&str; 4] = ["url", "event_types", "workspace_id", "description"];
const PATCH_FIELDS: [&str; 4] = ["url", "event_types", "description", "disabled"];
const REDELIVER_FIELDS: [&str; 2] = ["event_id", "since"];

/// The body as an object, or the one error that says it is not one.
fn object(body: Value) -> Result<Map<String, Value>, ValidationErrors> {
    match body {
        Value::Object(fields) => Ok(fields),
        _ => Err(ValidationErrors::one(FieldError::new(
            "body",
            "must be a JSON object",
        ))),
    }
}

/// Refuses every field left once the known ones were taken.
fn refuse_unknown(fields: &Map<String, Value>, known: &[&str], errors: &mut Problems) {
    for key in fields.keys() {
        errors.push(FieldError::new(
            quote(key),
            format!("is not a field of this body (known: {})", known.join(", ")),
        ));
    }
}

fn parse_url(value: Value, rules: UrlRules, errors: &mut Problems) -> Option<String> {
    let Value::String(text) = value else {
        errors.push(FieldError::new("url", "must be a string"));
        return None;
    };
    match check_endpoint_url(&text, rules.allow_http, rules.allow_private) {
        Ok(url) => Some(url.to_string()),
        Err(e) => {
            errors.push(FieldError::new("url", e.to_string()));
            None
        }
    }
}

/// A list of distinct known types; `null` is every type (the caller's `None`).
fn parse_types(value: Value, errors: &mut Problems) -> Option<Option<Vec<String>>> {
    let items = match value {
        Value::Null => return Some(None),
        Value::Array(items) => items,
        _ => {
            errors.push(FieldError::new(
                "event_types",
                "must be an array of event types, or null for every type",
            ));
            return None;
        }
    };
    if items.is_empty() {
        errors.push(FieldError::new(
            "event_types",
            "must list at least one type; leave it out (or send null) for every type",
        ));
        return None;
    }
    let mut types: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("event_types[{i}]");
        let known = item
            .as_str()
            .and_then(|name| SUBSCRIBABLE_TYPES.iter().find(|t| **t == name));
        match known {
            None => {
                errors.push(FieldError::new(
                    field,
                    format!("must be one of {}", SUBSCRIBABLE_TYPES.join(", ")),
                ));
                // One message is enough: a long list of bad names costs no more than that.
                return None;
            }
            Some(name) if types.iter().any(|t| t == name) => {
                errors.push(FieldError::new(field, format!("repeats '{name}'")));
                return None;
            }
            Some(name) => types.push((*name).to_owned()),
        }
    }
    Some(Some(types))
}

/// A description, or `null` for none.
fn parse_description(value: Value, errors: &mut Problems) -> Option<Option<String>> {
    match value {
        Value::Null => Some(None),
        Value::String(s) if s.contains('\0') => {
            errors.push(FieldError::new(
                "description",
                "must not contain NUL characters",
            ));
            None
        }
        Value::String(s) if s.chars().count() > MAX_DESCRIPTION_CHARS => {
            errors.push(FieldError::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
            None
        }
        Value::String(s) => Some(Some(s)),
        _ => {
            errors.push(FieldError::new("description", "must be a string or null"));
            None
        }
    }
}

impl NewEndpoint {
    /// Parses a create body under the settings' URL rules.
    pub fn parse(body: Value, rules: UrlRules) -> Result<NewEndpoint, ValidationErrors> {
        let mut fields = object(body)?;
        let mut errors = Problems::default();
        let url = match fields.remove("url") {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("url", "is required"));
                None
            }
            Some(value) => parse_url(value, rules, &mut errors),
        };
        let event_types = fields
            .remove("event_types")
            .map(|v| parse_types(v, &mut errors))
            .unwrap_or(Some(None));
        let workspace_id = match fields.remove("workspace_id") {
            None | Some(Value::Null) => Some(None),
            Some(value) => workspace_id_of(value, &mut errors).map(Some),
        };
        let description = fields
            .remove("description")
            .map(|v| parse_description(v, &mut errors))
            .unwrap_or(Some(None));
        refuse_unknown(&fields, &CREATE_FIELDS, &mut errors);
        errors.finish()?;
        // Every part parsed when no problem was recorded.
        Ok(NewEndpoint {
            url: url.unwrap_or_default(),
            event_types: event_types.unwrap_or_default(),
            workspace_id: workspace_id.unwrap_or_default(),
            description: description.unwrap_or_default(),
        })
    }
}

impl EndpointChange {
    /// Parses a PATCH body under the settings' URL rules; a body that names no change is
    /// refused.
    pub fn parse(body: Value, rules: UrlRules) -> Result<EndpointChange, ValidationErrors> {
        let mut fields = object(body)?;
        let mut errors = Problems::default();
        let url = match fields.remove("url") {
            None => None,
            Some(Value::Null) => {
                errors.push(FieldError::new("url", "cannot be removed: send a new url"));
                None
            }
            Some(value) => parse_url(value, rules, &mut errors),
        };
        let event_types = fields
            .remove("event_types")
            .and_then(|v| parse_types(v, &mut errors));
        let description = fields
            .remove("description")
            .and_then(|v| parse_description(v, &mut errors));
        let disabled = match fields.remove("disabled") {
            None => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => {
                errors.push(FieldError::new("disabled", "must be true or false"));
                None
            }
        };
        if fields.contains_key("workspace_id") {
            fields.remove("workspace_id");
            errors.push(FieldError::new(
                "workspace_id",
                "cannot change: create another endpoint for another workspace",
            ));
        }
        refuse_unknown(&fields, &PATCH_FIELDS, &mut errors);
        errors.finish()?;
        let change = EndpointChange {
            url,
            event_types,
            description,
            disabled,
        };
        if change == EndpointChange::default() {
            return Err(ValidationErrors::one(FieldError::new(
                "body",
                format!(
                    "names no change: send at least one of {}",
                    PATCH_FIELDS.join(", ")
                ),
            )));
        }
        Ok(change)
    }
}

/// The longest event id read: ours are `evt_` and 32 hex digits.
const MAX_EVENT_ID_CHARS: usize = 64;

impl Redelivery {
    /// Parses a redeliver body: exactly one of `event_id` and `since`.
    pub fn parse(body: Value) -> Result<Redelivery, ValidationErrors> {
        let mut fields = object(body)?;
        let mut errors = Problems::default();
        let event_id = match fields.remove("event_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s))
                if s.starts_with("evt_") && s.len() <= MAX_EVENT_ID_CHARS && s.is_ascii() =>
            {
                Some(s)
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "event_id",
                    "must be an event id (evt_ and 32 hex digits)",
                ));
                None
            }
        };
        let since = match fields.remove("since") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match DateTime::parse_from_rfc3339(&s) {
                Ok(at) => Some(at.with_timezone(&Utc)),
                Err(_) => {
                    errors.push(FieldError::new(
                        "since",
                        format!("'{}' is not an RFC 3339 time", quote(&s)),
                    ));
                    None
                }
            },
            Some(_) => {
                errors.push(FieldError::new("since", "must be an RFC 3339 time"));
                None
            }
        };
        refuse_unknown(&fields, &REDELIVER_FIELDS, &mut errors);
        errors.finish()?;
        match (event_id, since) {
            (Some(id), None) => Ok(Redelivery::Event(id)),
            (None, Some(at)) => Ok(Redelivery::Since(at)),
            _ => Err(ValidationErrors::one(FieldError::new(
                "body",
                "must have exactly one of event_id and since",
            ))),
        }
    }
}

/// Where a page of endpoints ends: the last one's `(created_at, id)`, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointPosition {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

const ENDPOINT_CURSOR: &[u8] = b"mosaic-social endpoints cursor v1";
const ATTEMPT_CURSOR: &[u8] = b"mosaic-social attempts cursor v1";

impl EndpointPosition {
    pub fn encode(&self) -> String {
        cursor::seal(
            ENDPOINT_CURSOR,
            &format!("{}.{}", self.created_at.timestamp_micros(), self.id),
        )
    }

    pub fn decode(sealed: &str) -> Option<EndpointPosition> {
        let text = cursor::open(ENDPOINT_CURSOR, sealed)?;
        let (micros, id) = text.split_once('.')?;
        Some(EndpointPosition {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// The cursor of a page of attempts: the last attempt's id (pages go newest first).
pub fn encode_attempt_cursor(id: i64) -> String {
    cursor::seal(ATTEMPT_CURSOR, &id.to_string())
}

fn decode_attempt_cursor(sealed: &str) -> Option<i64> {
    cursor::open(ATTEMPT_CURSOR, sealed)?.parse().ok()
}

/// A checked `?after=&limit=` of a paged list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageQuery<P> {
    pub after: Option<P>,
    pub limit: u32,
}

/// Parses `after` (with `decode`) and `limit`; anything else is refused.
fn parse_page<P>(
    pairs: &[(String, String)],
    decode: impl Fn(&str) -> Option<P>,
) -> Result<PageQuery<P>, ValidationErrors> {
    let mut errors = Problems::default();
    let mut seen = std::collections::HashSet::new();
    let mut query = PageQuery {
        after: None,
        limit: DEFAULT_LIMIT,
    };
    for (name, value) in pairs {
        if !seen.insert(name.as_str()) {
            errors.push(FieldError::new(quote(name), "is given more than once"));
            continue;
        }
        let problem = match name.as_str() {
            "limit" => parse_limit(value).map(|n| query.limit = n).err(),
            "after" => match decode(value) {
                Some(position) => {
                    query.after = Some(position);
                    None
                }
                None => {
                    Some("is not a cursor of this list: pass next_cursor back unchanged".to_owned())
                }
            },
            _ => Some("is not a parameter of this list (known: after, limit)".to_owned()),
        };
        if let Some(message) = problem {
            errors.push(FieldError::new(quote(name), message));
        }
    }
    errors.finish()?;
    Ok(query)
}

impl PageQuery<EndpointPosition> {
    /// `GET /webhooks/endpoints`.
    pub fn parse_endpoints(pairs: &[(String, String)]) -> Result<Self, ValidationErrors> {
        parse_page(pairs, EndpointPosition::decode)
    }
}

impl PageQuery<i64> {
    /// `GET /webhooks/endpoints/{id}/deliveries`.
    pub fn parse_attempts(pairs: &[(String, String)]) -> Result<Self, ValidationErrors> {
        parse_page(pairs, decode_attempt_cursor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::query_tests::{fields, pairs};

    const STRICT: UrlRules = UrlRules {
        allow_http: false,
        allow_private: false,
    };
    const OPEN: UrlRules = UrlRules {
        allow_http: true,
        allow_private: true,
    };

    #[test]
    fn a_create_with_only_a_url_wants_every_type_of_every_workspace() {
        let endpoint =
            NewEndpoint::parse(json!({"url": "https://hooks.example.com/x"}), STRICT).unwrap();
        assert_eq!(endpoint.url, "https://hooks.example.com/x");
        assert_eq!(endpoint.event_types, None);
        assert_eq!(endpoint.workspace_id, None);
        assert_eq!(endpoint.description, None);
    }

    #[test]
    fn a_create_reports_every_problem_at_once() {
        let errors = NewEndpoint::parse(
            json!({
                "url": "http://127.0.0.1/x",
                "event_types": ["post.published"],
                "workspace_id": "w1",
                "description": "x".repeat(257),
                "secret": "whsec_mine",
            }),
            STRICT,
        );
        assert_eq!(
            fields(errors),
            [
                "url",
                "event_types[0]",
                "workspace_id",
                "description",
                "secret"
            ]
        );
        assert_eq!(fields(NewEndpoint::parse(json!({}), STRICT)), ["url"]);
        assert_eq!(fields(NewEndpoint::parse(json!([1]), STRICT)), ["body"]);
        for types in [
            json!([]),
            json!("post.posted"),
            json!(["post.posted", "post.posted"]),
        ] {
            let body = json!({"url": "https://a.example", "event_types": types});
            assert!(NewEndpoint::parse(body, STRICT).is_err(), "{types}");
        }
    }

    #[test]
    fn internal_and_plain_http_urls_are_refused_unless_the_switches_allow_them() {
        for url in [
            "https://127.0.0.1/",
            "https://10.0.0.1/",
            "https://169.254.169.254/latest",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "http://hooks.example.com/",
        ] {
            let body = json!({"url": url});
            assert_eq!(
                fields(NewEndpoint::parse(body.clone(), STRICT)),
                ["url"],
                "{url}"
            );
            assert!(NewEndpoint::parse(body, OPEN).is_ok(), "{url}");
        }
    }

    #[test]
    fn a_patch_must_name_a_change_and_may_clear_the_type_filter() {
        assert_eq!(fields(EndpointChange::parse(json!({}), STRICT)), ["body"]);
        let change = EndpointChange::parse(
            json!({"event_types": null, "description": null, "disabled": true}),
            STRICT,
        )
        .unwrap();
        assert_eq!(change.event_types, Some(None));
        assert_eq!(change.description, Some(None));
        assert_eq!(change.disabled, Some(true));
        assert_eq!(
            fields(EndpointChange::parse(
                json!({"url": null, "disabled": "no", "workspace_id": null, "x": 1}),
                STRICT
            )),
            ["url", "disabled", "workspace_id", "x"]
        );
    }

    #[test]
    fn a_redelivery_names_one_event_or_a_time() {
        assert_eq!(
            Redelivery::parse(json!({"event_id": "evt_0123"})).unwrap(),
            Redelivery::Event("evt_0123".into())
        );
        assert!(matches!(
            Redelivery::parse(json!({"since": "2026-12-01T00:00:00Z"})).unwrap(),
            Redelivery::Since(_)
        ));
        for body in [
            json!({}),
            json!({"event_id": "evt_1", "since": "2026-12-01T00:00:00Z"}),
            json!({"event_id": "1"}),
            json!({"since": "yesterday"}),
            json!({"event_id": "evt_1", "all": true}),
        ] {
            assert!(Redelivery::parse(body.clone()).is_err(), "{body}");
        }
    }

    #[test]
    fn page_cursors_round_trip_and_are_not_interchangeable() {
        let position = EndpointPosition {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        let query =
            PageQuery::parse_endpoints(&pairs(&[("after", &position.encode()), ("limit", "5")]))
                .unwrap();
        assert_eq!(query.after, Some(position));
        assert_eq!(query.limit, 5);
        let attempts = encode_attempt_cursor(42);
        assert_eq!(
            PageQuery::parse_attempts(&pairs(&[("after", &attempts)]))
                .unwrap()
                .after,
            Some(42)
        );
        assert_eq!(
            fields(PageQuery::parse_endpoints(&pairs(&[("after", &attempts)]))),
            ["after"]
        );
        assert_eq!(
            fields(PageQuery::parse_attempts(&pairs(&[
                ("limit", "0"),
                ("type", "x")
            ]))),
            ["limit", "type"]
        );
    }
}
