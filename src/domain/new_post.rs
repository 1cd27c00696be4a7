//! The body of `POST /social/post`: parsed once into a `NewPost`, with every problem reported at once.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;
use uuid::Uuid;

use super::platform::Platform;

/// One problem with one field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, with an index for array items (`platforms[0]`).
    pub field: String,
    /// What is wrong, as a sentence fragment.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every problem found in a request; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// The human sentence for `detail`: each problem as `field: message`.
    pub fn detail(&self) -> String {
        self.0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A validated create request.
#[derive(Clone, Debug, PartialEq)]
pub struct NewPost {
    pub post: String,
    pub platforms: Vec<Platform>,
    pub media_urls: Vec<Url>,
    /// Whole seconds, UTC: exactly what Ayrshare is sent.
    pub schedule_date: Option<DateTime<Utc>>,
    pub workspace_id: Option<Uuid>,
    /// Keys we do not interpret, forwarded to Ayrshare unchanged.
    pub extra: Map<String, Value>,
}

/// Extra keys that would override a documented field or reach another workspace's Ayrshare
/// profile, in their normalized form (lowercase, without `-` and `_`).
const REFUSED_EXTRAS: [&str; 6] = [
    "post",
    "platforms",
    "mediaurls",
    "scheduledate",
    "profilekey",
    "profilekeys",
];

/// The documented fields, spelled as the API spells them.
const DOCUMENTED: [&str; 5] = [
    "post",
    "platforms",
    "media_urls",
    "schedule_date",
    "workspace_id",
];

/// A key as the refusal lists compare it: lowercase, without `-` and `_`.
pub(crate) fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

impl NewPost {
    /// Parses a request body, checking every field against the contract.
    ///
    /// `now` is the server's clock, passed in so that this stays pure and testable.
    pub fn parse(body: Value, now: DateTime<Utc>) -> Result<NewPost, ValidationErrors> {
        let Value::Object(mut fields) = body else {
            return Err(ValidationErrors(vec![FieldError::new(
                "body",
                "must be a JSON object",
            )]));
        };
        let mut errors = Vec::new();
        let mut take = |name: &str| fields.remove(name).filter(|v| !v.is_null());

        let post = match take("post") {
            None => String::new(),
            Some(Value::String(s)) if s.contains('\0') => {
                errors.push(FieldError::new("post", "must not contain NUL characters"));
                String::new()
            }
            Some(Value::String(s)) => s,
            Some(_) => {
                errors.push(FieldError::new("post", "must be a string"));
                String::new()
            }
        };
        let platforms = parse_platforms(take("platforms"), &mut errors);
        let media_urls = parse_media_urls(take("media_urls"), &mut errors);
        let schedule_date = parse_schedule_date(take("schedule_date"), now, &mut errors);
        let workspace_id = match take("workspace_id") {
            None => None,
            Some(Value::String(s)) => match Uuid::parse_str(&s) {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(FieldError::new(
                        "workspace_id",
                        format!("'{s}' is not a uuid"),
                    ));
                    None
                }
            },
            Some(_) => {
                errors.push(FieldError::new("workspace_id", "must be a uuid string"));
                None
            }
        };

        for (key, value) in &fields {
            if key.contains('\0') || contains_nul(value) {
                errors.push(FieldError::new(
                    key.replace('\0', "\u{fffd}"),
                    "must not contain NUL characters",
                ));
                continue;
            }
            let normalized = normalize_key(key);
            if REFUSED_EXTRAS.contains(&normalized.as_str()) {
                let hint = if normalized.starts_with("profilekey") {
                    "choose the Ayrshare profile with workspace_id"
                } else {
                    "use the documented field instead"
                };
                errors.push(FieldError::new(
                    key.clone(),
                    format!(
                        "may not be forwarded to Ayrshare: {hint} ({})",
                        DOCUMENTED.join(", ")
                    ),
                ));
            }
        }

        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        Ok(NewPost {
            post,
            platforms,
            media_urls,
            schedule_date,
            workspace_id,
            extra: fields,
        })
    }

    /// Whether X is among the targets (X calls need the customer's own X app credentials).
    pub fn involves_x(&self) -> bool {
        self.platforms.contains(&Platform::X)
    }

    /// The JSON body of Ayrshare's `POST /post` for this request.
    pub fn ayrshare_body(&self) -> Value {
        let mut body = self.extra.clone();
        body.insert("post".into(), Value::String(self.post.clone()));
        body.insert(
            "platforms".into(),
            self.platforms.iter().map(|p| p.ayrshare_name()).collect(),
        );
        if !self.media_urls.is_empty() {
            body.insert(
                "mediaUrls".into(),
                self.media_urls.iter().map(Url::as_str).collect(),
            );
        }
        if let Some(date) = self.schedule_date {
            body.insert(
                "scheduleDate".into(),
                Value::String(ayrshare_timestamp(date)),
            );
        }
        Value::Object(body)
    }
}

/// A timestamp as Ayrshare wants it: UTC, whole seconds, `Z`.
pub fn ayrshare_timestamp(date: DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_platforms(value: Option<Value>, errors: &mut Vec<FieldError>) -> Vec<Platform> {
    let items = match value {
        None => {
            errors.push(FieldError::new("platforms", "is required"));
            return Vec::new();
        }
        Some(Value::Array(items)) if items.is_empty() => {
            errors.push(FieldError::new("platforms", "must not be empty"));
            return Vec::new();
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new(
                "platforms",
                "must be an array of platform names",
            ));
            return Vec::new();
        }
    };
    let mut platforms: Vec<Platform> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("platforms[{i}]");
        let Some(name) = item.as_str() else {
            errors.push(FieldError::new(field, "must be a string"));
            continue;
        };
        match Platform::parse(name) {
            None => errors.push(FieldError::new(
                field,
                format!("'{name}' is not one of {}", Platform::names()),
            )),
            Some(p) if platforms.contains(&p) => errors.push(FieldError::new(
                field,
                format!("'{name}' is a duplicate of {p}"),
            )),
            Some(p) => platforms.push(p),
        }
    }
    platforms
}

fn parse_media_urls(value: Option<Value>, errors: &mut Vec<FieldError>) -> Vec<Url> {
    let items = match value {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new("media_urls", "must be an array of URLs"));
            return Vec::new();
        }
    };
    let mut urls = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("media_urls[{i}]");
        let Some(text) = item.as_str() else {
            errors.push(FieldError::new(field, "must be a string"));
            continue;
        };
        match Url::parse(text) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some_and(|h| !h.is_empty()) =>
            {
                urls.push(url)
            }
            _ => errors.push(FieldError::new(
                field,
                format!("'{text}' is not an absolute http or https URL with a host"),
            )),
        }
    }
    urls
}

/// Parses `schedule_date` as the contract says (an offset, the future once truncated to whole
/// seconds, at most the year 9999); problems go to `errors`.
pub(crate) fn parse_schedule_date(
    value: Option<Value>,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    let text = match value? {
        Value::String(s) => s,
        _ => {
            errors.push(FieldError::new("schedule_date", "must be a string"));
            return None;
        }
    };
    let Ok(parsed) = DateTime::parse_from_rfc3339(&text) else {
        errors.push(FieldError::new(
            "schedule_date",
            format!(
                "'{text}' is not an RFC 3339 timestamp with an offset (Z or +hh:mm), \
                 such as 2026-03-10T16:00:00Z"
            ),
        ));
        return None;
    };
    // Ayrshare takes whole seconds: truncate first, so that the check below is about exactly
    // what is sent (a time less than a second ahead would otherwise reach Ayrshare as a past
    // time and be published at once).
    let utc = parsed.with_timezone(&Utc);
    let sent = DateTime::from_timestamp(utc.timestamp(), 0).unwrap_or(utc);
    if sent.year() > 9999 {
        errors.push(FieldError::new(
            "schedule_date",
            format!("'{text}' is after the year 9999, which Ayrshare's format cannot express"),
        ));
        return None;
    }
    if sent <= now {
        errors.push(FieldError::new(
            "schedule_date",
            format!(
                "'{text}' is not in the future (server time is {})",
                ayrshare_timestamp(now)
            ),
        ));
        return None;
    }
    Some(sent)
}

/// Postgres text cannot hold U+0000, and no platform accepts it: refusing it here keeps both
/// stores answering the same.
pub(crate) fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn errors_of(body: Value) -> Vec<FieldError> {
        NewPost::parse(body, now()).unwrap_err().0
    }

    fn fields_of(body: Value) -> Vec<String> {
        errors_of(body).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_minimal_body_defaults_everything_optional() {
        let post = NewPost::parse(json!({"platforms": ["x"]}), now()).unwrap();
        assert_eq!(post.post, "");
        assert_eq!(post.platforms, vec![Platform::X]);
        assert!(post.media_urls.is_empty());
        assert_eq!(post.schedule_date, None);
        assert_eq!(post.workspace_id, None);
        assert!(post.extra.is_empty());
    }

    #[test]
    fn null_means_absent_for_optional_fields() {
        let post = NewPost::parse(
            json!({"post": null, "platforms": ["x"], "media_urls": null,
                   "schedule_date": null, "workspace_id": null}),
            now(),
        )
        .unwrap();
        assert_eq!(post.post, "");
        assert!(post.extra.is_empty());
    }

    #[test]
    fn platforms_is_required_non_empty_and_an_array() {
        assert_eq!(fields_of(json!({})), ["platforms"]);
        assert_eq!(fields_of(json!({"platforms": null})), ["platforms"]);
        assert_eq!(
            errors_of(json!({"platforms": []}))[0].message,
            "must not be empty"
        );
        assert_eq!(fields_of(json!({"platforms": "x"})), ["platforms"]);
    }

    #[test]
    fn unknown_platforms_are_named_with_the_allowed_list() {
        let errors = errors_of(json!({"platforms": ["myspace"]}));
        assert_eq!(errors[0].field, "platforms[0]");
        assert_eq!(
            errors[0].message,
            "'myspace' is not one of x, linkedin, instagram, facebook, tiktok, youtube"
        );
        // Ayrshare's own name for X is not ours.
        assert_eq!(
            fields_of(json!({"platforms": ["twitter"]})),
            ["platforms[0]"]
        );
    }

    #[test]
    fn platforms_are_case_insensitive_and_duplicates_are_refused() {
        let post = NewPost::parse(json!({"platforms": ["LinkedIn", "X"]}), now()).unwrap();
        assert_eq!(post.platforms, vec![Platform::Linkedin, Platform::X]);
        assert_eq!(
            fields_of(json!({"platforms": ["x", "X"]})),
            ["platforms[1]"]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let fields = fields_of(json!({
            "post": 5,
            "platforms": ["x", 7, "myspace"],
            "media_urls": ["ftp://a.example/x.png", "not a url", "https://ok.example/a.png"],
            "schedule_date": "2026-03-10T16:00:00",
            "workspace_id": "nope",
            "profileKey": "abc"
        }));
        assert_eq!(
            fields,
            [
                "post",
                "platforms[1]",
                "platforms[2]",
                "media_urls[0]",
                "media_urls[1]",
                "schedule_date",
                "workspace_id",
                "profileKey"
            ]
        );
    }

    #[test]
    fn media_urls_must_be_absolute_http_urls_with_a_host() {
        let ok = NewPost::parse(
            json!({"platforms": ["x"], "media_urls": ["https://cdn.example.com/a b.mp4", "http://h/x"]}),
            now(),
        )
        .unwrap();
        assert_eq!(ok.media_urls.len(), 2);
        for bad in [
            "/relative.png",
            "mailto:a@b.c",
            "https://",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                fields_of(json!({"platforms": ["x"], "media_urls": [bad]})),
                ["media_urls[0]"],
                "{bad}"
            );
        }
    }

    #[test]
    fn schedule_date_needs_an_offset_and_the_future() {
        let post = NewPost::parse(
            json!({"platforms": ["x"], "schedule_date": "2026-03-10T17:00:00.987+01:00"}),
            now(),
        )
        .unwrap();
        let date = post.schedule_date.unwrap();
        assert_eq!(ayrshare_timestamp(date), "2026-03-10T16:00:00Z");
        assert_eq!(post.ayrshare_body()["scheduleDate"], "2026-03-10T16:00:00Z");

        let naive = errors_of(json!({"platforms": ["x"], "schedule_date": "2026-03-10T16:00:00"}));
        assert!(naive[0].message.contains("with an offset"), "{naive:?}");
        let past = errors_of(json!({"platforms": ["x"], "schedule_date": "2025-12-31T23:59:59Z"}));
        assert!(past[0].message.contains("not in the future"), "{past:?}");
    }

    #[test]
    fn nul_characters_are_refused_in_the_text_and_the_extras() {
        assert_eq!(
            fields_of(json!({"platforms": ["x"], "post": "a\u{0}b"})),
            ["post"]
        );
        assert_eq!(
            fields_of(json!({"platforms": ["x"], "notes": {"deep": ["ok", "no\u{0}"]}})),
            ["notes"]
        );
    }

    #[test]
    fn a_schedule_date_less_than_a_second_ahead_is_in_the_past_once_truncated() {
        let fraction = json!({"platforms": ["x"], "schedule_date": "2026-01-01T00:00:00.900Z"});
        assert_eq!(fields_of(fraction), ["schedule_date"]);
        let ok = json!({"platforms": ["x"], "schedule_date": "2026-01-01T00:00:01.100Z"});
        assert!(NewPost::parse(ok, now()).is_ok());
    }

    #[test]
    fn a_schedule_date_past_year_9999_in_utc_is_refused() {
        let late = json!({"platforms": ["x"], "schedule_date": "9999-12-31T23:59:59-23:59"});
        assert_eq!(fields_of(late), ["schedule_date"]);
    }

    #[test]
    fn refused_extras_are_compared_loosely() {
        for key in [
            "mediaUrls",
            "schedule-Date",
            "PROFILE_KEY",
            "Profile-Key",
            "profileKeys",
            "Platforms",
        ] {
            assert_eq!(
                fields_of(json!({"platforms": ["x"], key: 1})),
                [key],
                "{key}"
            );
        }
    }

    #[test]
    fn the_ayrshare_body_maps_names_and_forwards_extras() {
        let post = NewPost::parse(
            json!({"post": "hi https://a.example", "platforms": ["x", "youtube"],
                   "media_urls": ["https://cdn.example.com/v.mp4"],
                   "youTubeOptions": {"title": "T"}, "isVideo": true, "workspace_id": null}),
            now(),
        )
        .unwrap();
        assert_eq!(
            post.ayrshare_body(),
            json!({"post": "hi https://a.example", "platforms": ["twitter", "youtube"],
                   "mediaUrls": ["https://cdn.example.com/v.mp4"],
                   "youTubeOptions": {"title": "T"}, "isVideo": true})
        );
        assert!(post.involves_x());
    }

    #[test]
    fn a_body_that_is_not_an_object_is_one_error() {
        assert_eq!(fields_of(json!(["x"])), ["body"]);
    }
}
