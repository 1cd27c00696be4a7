//! The body of `POST /social/post`: parsed once into a `NewPost`, with every problem reported at once.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Number, Value};
use url::Url;
use uuid::Uuid;

use super::local_time;
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

/// The problems found in a request: the first `MAX_LISTED` of them, and how many more there were.
/// Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationErrors {
    listed: Vec<FieldError>,
    not_listed: usize,
}

impl ValidationErrors {
    /// How many problems an answer lists; the rest are only counted, so that the answer stays
    /// small whatever the request holds.
    pub const MAX_LISTED: usize = 50;

    /// A single problem.
    pub fn one(error: FieldError) -> ValidationErrors {
        ValidationErrors {
            listed: vec![error],
            not_listed: 0,
        }
    }

    /// The problems listed, in the order they were found.
    pub fn listed(&self) -> &[FieldError] {
        &self.listed
    }

    /// How many problems were found beyond those listed.
    pub fn not_listed(&self) -> usize {
        self.not_listed
    }

    /// The human sentence for `detail`: each problem as `field: message`.
    pub fn detail(&self) -> String {
        let mut detail = self
            .listed
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        if self.not_listed > 0 {
            detail.push_str(&format!(
                "; and {} more problems not listed",
                self.not_listed
            ));
        }
        detail
    }
}

/// Collects problems, keeping the first `ValidationErrors::MAX_LISTED`.
#[derive(Debug, Default)]
pub struct Problems {
    listed: Vec<FieldError>,
    not_listed: usize,
}

impl Problems {
    /// Records one problem (only counted once the list is full).
    pub fn push(&mut self, error: FieldError) {
        if self.listed.len() < ValidationErrors::MAX_LISTED {
            self.listed.push(error);
        } else {
            self.not_listed += 1;
        }
    }

    /// `Ok` when nothing was found.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.listed.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors {
                listed: self.listed,
                not_listed: self.not_listed,
            })
        }
    }
}

/// How much of the caller's text an error message quotes: enough to recognise it, and never so
/// much that an answer grows with the request.
pub const MAX_QUOTED_CHARS: usize = 64;

/// `text`, shortened to `MAX_QUOTED_CHARS` characters (with `…`) for an error message.
/// A `workspace_id` field's value: a uuid string, else a problem recorded and `None`. Shared by
/// every body that names a workspace, so that each refuses a bad one in the same words.
pub fn workspace_id_of(value: Value, errors: &mut Problems) -> Option<Uuid> {
    match value {
        Value::String(s) => match Uuid::parse_str(&s) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new(
                    "workspace_id",
                    format!("'{}' is not a uuid", quote(&s)),
                ));
                None
            }
        },
        _ => {
            errors.push(FieldError::new("workspace_id", "must be a uuid string"));
            None
        }
    }
}

pub fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// The longest number text accepted in a forwarded extra when it is not a plain integer.
pub const MAX_NUMBER_CHARS: usize = 32;

/// A validated create request.
#[derive(Clone, Debug, PartialEq)]
pub struct NewPost {
    pub post: String,
    pub platforms: Vec<Platform>,
    /// Exactly as the caller wrote them (checked, never normalised).
    pub media_urls: Vec<String>,
    /// Whole seconds, UTC: exactly what Ayrshare is sent.
    pub schedule_date: Option<DateTime<Utc>>,
    pub workspace_id: Option<Uuid>,
    /// The caller's IANA time zone (`Europe/Berlin`), checked: the zone a naive `schedule_date`
    /// was read in, or only recorded beside one with an offset. Never sent to Ayrshare, which
    /// takes UTC only.
    pub timezone: Option<String>,
    /// Keys we do not interpret, forwarded to Ayrshare unchanged.
    pub extra: Map<String, Value>,
}

/// Extra keys that would override a documented field or reach another workspace's Ayrshare
/// profile, in their normalized form (lowercase, without `-` and `_`).
/// `timeZone` and the like are refused rather than forwarded: Ayrshare has no such field, and
/// a caller who misspelt ours would otherwise have a naive date refused with no word about
/// the zone they did send.
const REFUSED_EXTRAS: [&str; 7] = [
    "post",
    "platforms",
    "mediaurls",
    "scheduledate",
    "profilekey",
    "profilekeys",
    "timezone",
];

/// The documented fields, spelled as the API spells them.
const DOCUMENTED: [&str; 6] = [
    "post",
    "platforms",
    "media_urls",
    "schedule_date",
    "timezone",
    "workspace_id",
];

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
            return Err(ValidationErrors::one(FieldError::new(
                "body",
                "must be a JSON object",
            )));
        };
        let mut errors = Problems::default();
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
        let timezone = parse_timezone(take("timezone"), &mut errors);
        let schedule_date =
            parse_schedule_date(take("schedule_date"), timezone.as_ref(), now, &mut errors);
        let workspace_id = take("workspace_id").and_then(|v| workspace_id_of(v, &mut errors));

        for (key, value) in &fields {
            let mut path = vec![PathStep::Key(key)];
            if key.contains('\0') {
                errors.push(FieldError::new(
                    path_field(&path),
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
                    quote(key),
                    format!(
                        "may not be forwarded to Ayrshare: {hint} ({})",
                        DOCUMENTED.join(", ")
                    ),
                ));
                continue;
            }
            check_extra(value, &mut path, &mut errors);
        }

        errors.finish()?;
        Ok(NewPost {
            post,
            platforms,
            media_urls,
            schedule_date,
            workspace_id,
            timezone: timezone.and_then(Zone::into_name),
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
                self.media_urls.iter().map(String::as_str).collect(),
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

fn parse_platforms(value: Option<Value>, errors: &mut Problems) -> Vec<Platform> {
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
                format!("'{}' is not one of {}", quote(name), Platform::names()),
            )),
            Some(p) if platforms.contains(&p) => errors.push(FieldError::new(
                field,
                format!("'{}' is a duplicate of {p}", quote(name)),
            )),
            Some(p) => platforms.push(p),
        }
    }
    platforms
}

fn parse_media_urls(value: Option<Value>, errors: &mut Problems) -> Vec<String> {
    let items = match value {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new("media_urls", "must be an array of URLs"));
            return Vec::new();
        }
    };
    let mut urls = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let field = format!("media_urls[{i}]");
        let Value::String(text) = item else {
            errors.push(FieldError::new(field, "must be a string"));
            continue;
        };
        match media_url_problem(&text) {
            None => urls.push(text),
            Some(problem) => errors.push(FieldError::new(
                field,
                format!("'{}' {problem}", quote(&text)),
            )),
        }
    }
    urls
}

/// What is wrong with a media URL, if anything. The caller's text is forwarded as it is, so it
/// is checked as written: a URL parser would accept (and silently rewrite) text that Ayrshare
/// or a platform could read another way.
fn media_url_problem(text: &str) -> Option<&'static str> {
    if text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Some(
            "contains whitespace, a control character or a backslash: percent-encode them",
        );
    }
    const NOT_HTTP: &str = "is not an absolute http or https URL with a host";
    let Some((scheme, rest)) = text.split_once(':') else {
        return Some(NOT_HTTP);
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Some(NOT_HTTP);
    }
    let Some(after_slashes) = rest.strip_prefix("//") else {
        return Some("must have // after its scheme, as in https://cdn.example.com/a.png");
    };
    let authority = after_slashes
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if authority.contains('@') {
        return Some("carries credentials (user:password@): they would be sent to Ayrshare");
    }
    match Url::parse(text) {
        Ok(url) if !authority.is_empty() && url.host_str().is_some_and(|h| !h.is_empty()) => None,
        Ok(_) => Some(NOT_HTTP),
        Err(_) => Some("is not a valid http or https URL"),
    }
}

/// What `timezone` held: a zone (its name exactly as written: names are matched exactly), or a
/// value that is not one (already reported).
pub(crate) enum Zone {
    Known(String),
    Invalid,
}

impl Zone {
    pub(crate) fn into_name(self) -> Option<String> {
        match self {
            Zone::Known(name) => Some(name),
            Zone::Invalid => None,
        }
    }
}

/// Checks `timezone`: absent, or the exact name of an IANA zone.
pub(crate) fn parse_timezone(value: Option<Value>, errors: &mut Problems) -> Option<Zone> {
    let name = match value? {
        Value::String(name) => name,
        _ => {
            errors.push(FieldError::new(
                "timezone",
                "must be a string: an IANA time zone name, such as Europe/Berlin",
            ));
            return Some(Zone::Invalid);
        }
    };
    match local_time::parse_time_zone(&name) {
        Ok(_) => Some(Zone::Known(name)),
        Err(e) => {
            errors.push(FieldError::new("timezone", e.to_string()));
            Some(Zone::Invalid)
        }
    }
}

/// Checks `schedule_date`, read in `zone` when it is a naive local time (see `local_time`).
/// When the zone itself was refused, a naive date is only checked for its shape: the zone's
/// error already says what to fix.
pub(crate) fn parse_schedule_date(
    value: Option<Value>,
    zone: Option<&Zone>,
    now: DateTime<Utc>,
    errors: &mut Problems,
) -> Option<DateTime<Utc>> {
    let text = match value? {
        Value::String(s) => s,
        _ => {
            errors.push(FieldError::new("schedule_date", "must be a string"));
            return None;
        }
    };
    let resolved = match zone {
        None => local_time::resolve_schedule_date(&text, None),
        Some(Zone::Known(name)) => local_time::resolve_schedule_date(&text, Some(name)),
        // UTC has neither gaps nor folds: only the shape is checked.
        Some(Zone::Invalid) => match local_time::resolve_schedule_date(&text, Some("UTC")) {
            Ok(_) => return None,
            Err(e) => Err(e),
        },
    };
    let utc = match resolved {
        Ok(utc) => utc,
        Err(e) => {
            errors.push(FieldError::new("schedule_date", e.to_string()));
            return None;
        }
    };
    // Ayrshare takes whole seconds: truncate first, so that the check below is about exactly
    // what is sent (a time less than a second ahead would otherwise reach Ayrshare as a past
    // time and be published at once).
    let sent = DateTime::from_timestamp(utc.timestamp(), 0).unwrap_or(utc);
    if sent.year() > 9999 {
        errors.push(FieldError::new(
            "schedule_date",
            format!(
                "'{}' is after the year 9999, which Ayrshare's format cannot express",
                quote(&text)
            ),
        ));
        return None;
    }
    if sent <= now {
        errors.push(FieldError::new(
            "schedule_date",
            format!(
                "'{}' is not in the future (server time is {})",
                quote(&text),
                ayrshare_timestamp(now)
            ),
        ));
        return None;
    }
    Some(sent)
}

/// One step of the path to a value inside the extras.
enum PathStep<'a> {
    Key(&'a str),
    Index(usize),
}

/// The path as errors spell it: `youTubeOptions.tags[2]`.
fn path_field(path: &[PathStep]) -> String {
    let mut field = String::new();
    for step in path {
        match step {
            PathStep::Key(key) => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(&quote(&key.replace('\0', "\u{fffd}")));
            }
            PathStep::Index(i) => field.push_str(&format!("[{i}]")),
        }
    }
    field
}

/// Checks a value forwarded to Ayrshare under `key` (a create's extra, a PATCH's update field)
/// as `check_extra` does.
pub(crate) fn check_forwarded(key: &str, value: &Value, errors: &mut Problems) {
    let mut path = vec![PathStep::Key(key)];
    check_extra(value, &mut path, errors);
}

/// Checks a forwarded extra, everywhere inside it: no U+0000 (Postgres text cannot hold it, and
/// no platform accepts it, so refusing it keeps both stores answering the same) and only
/// numbers that Ayrshare could read and both stores can hold (see `number_problem`).
fn check_extra<'a>(value: &'a Value, path: &mut Vec<PathStep<'a>>, errors: &mut Problems) {
    match value {
        Value::String(s) if s.contains('\0') => {
            errors.push(FieldError::new(
                path_field(path),
                "must not contain NUL characters",
            ));
        }
        Value::Number(n) => {
            if let Some(problem) = number_problem(n) {
                errors.push(FieldError::new(
                    path_field(path),
                    format!("the number {} {problem}", quote(&n.to_string())),
                ));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                check_extra(item, path, errors);
                path.pop();
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                path.push(PathStep::Key(key));
                if key.contains('\0') {
                    errors.push(FieldError::new(
                        path_field(path),
                        "must not contain NUL characters",
                    ));
                } else {
                    check_extra(item, path, errors);
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// What is wrong with a number in a forwarded extra, if anything.
///
/// Ayrshare reads JSON as JavaScript does (64-bit floats), and the two stores differ past that
/// (Postgres' `numeric` allocates one digit per power of ten of the exponent, SQLite keeps the
/// text), so a number is accepted when it is an integer that fits `i64` or `u64`, or otherwise
/// a finite, non-vanishing `f64` written in at most `MAX_NUMBER_CHARS` characters. Accepted
/// numbers are forwarded digit for digit.
pub fn number_problem(number: &Number) -> Option<String> {
    let text = number.to_string();
    if !text.contains(['.', 'e', 'E']) {
        return (!number.is_i64() && !number.is_u64()).then(|| {
            format!(
                "is an integer outside the 64-bit range ({} to {})",
                i64::MIN,
                u64::MAX
            )
        });
    }
    if text.chars().count() > MAX_NUMBER_CHARS {
        return Some(format!(
            "is written with more than {MAX_NUMBER_CHARS} characters"
        ));
    }
    match number.as_f64() {
        None => Some("is too large for a 64-bit floating-point number".into()),
        Some(value) if value == 0.0 && has_nonzero_digit(&text) => {
            Some("is too small for a 64-bit floating-point number (it would become 0)".into())
        }
        Some(_) => None,
    }
}

/// Whether the mantissa of a number's text (before any exponent) has a digit other than 0.
fn has_nonzero_digit(text: &str) -> bool {
    text.split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .chars()
        .any(|c| matches!(c, '1'..='9'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn errors_of(body: Value) -> Vec<FieldError> {
        NewPost::parse(body, now()).unwrap_err().listed().to_vec()
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
            json!({"platforms": ["x"], "media_urls": ["https://cdn.example.com/a%20b.mp4", "http://h/x"]}),
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
    fn media_urls_are_forwarded_exactly_as_written() {
        // Each of these a URL parser would rewrite (case, default port, dot segments, an
        // encoded host, an IPv4 shorthand): the caller's text goes out unchanged.
        let written = [
            "HTTPS://CDN.Example.COM:443/a/../b.png?x=1#frag",
            "https://%63dn.example.com/v.mp4",
            "http://0x7f.1/a.png",
            "https://[::1]:8443/a.png",
            "https://cdn.example.com/caf%C3%A9.png",
            "https://cdn.example.com/café.png",
        ];
        let post =
            NewPost::parse(json!({"platforms": ["x"], "media_urls": written}), now()).unwrap();
        assert_eq!(post.media_urls, written);
        assert_eq!(post.ayrshare_body()["mediaUrls"], json!(written));
    }

    #[test]
    fn media_urls_that_a_parser_would_repair_or_that_carry_credentials_are_refused() {
        for bad in [
            "https://user:pass@cdn.example.com/a.png",
            "https://user@cdn.example.com/a.png",
            "https://@cdn.example.com/a.png",
            "https:cdn.example.com/a.png",
            "https:/cdn.example.com/a.png",
            "https:///cdn.example.com/a.png",
            "https:\\\\cdn.example.com/a.png",
            "https://cdn.example.com\\a.png",
            " https://cdn.example.com/a.png",
            "https://cdn.example.com/a.png ",
            "https://cdn.example.com/a b.png",
            "https://cdn.example.com/a.png\u{0}",
            "https://cdn.example.com/a\t.png",
            "https://cdn.example.com/a\u{a0}.png",
            "https://cdn.example.com:99999/a.png",
            "https://exa%mple.com/a.png",
            "ftp://cdn.example.com/a.png",
            "",
        ] {
            let errors = errors_of(json!({"platforms": ["x"], "media_urls": [bad]}));
            assert_eq!(errors.len(), 1, "{bad:?}");
            assert_eq!(errors[0].field, "media_urls[0]", "{bad:?}");
        }
        let credentials =
            errors_of(json!({"platforms": ["x"], "media_urls": ["https://u:p@h.example/a"]}));
        assert!(
            credentials[0].message.contains("credentials"),
            "{credentials:?}"
        );
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
            ["notes.deep[1]"]
        );
        assert_eq!(
            fields_of(json!({"platforms": ["x"], "no\u{0}te": 1, "n": {"k\u{0}": 1}})),
            ["n.k\u{fffd}", "no\u{fffd}te"]
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

    fn number(text: &str) -> Number {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn numbers_in_extras_must_fit_64_bits() {
        for ok in [
            "0",
            "-0",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551615",
            "9007199254740993",
            "1.10",
            "1e2",
            "-2.5E-3",
            "1.7976931348623157e308",
            "5e-324",
            "0.0e-999",
            "0.00000000000000000000000000001",
            // MAX_NUMBER_CHARS exactly.
            "0.000000000000000000000000000001",
        ] {
            assert_eq!(number_problem(&number(ok)), None, "{ok}");
        }
        for bad in [
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "1e400",
            "-1.8e308",
            "1e-400",
            "0.0000000000000000000000000000001",
            "1e99999999999999999999",
        ] {
            assert!(number_problem(&number(bad)).is_some(), "{bad}");
        }
    }

    #[test]
    fn a_bad_number_is_named_with_its_path_and_every_one_is_reported() {
        let body: Value = serde_json::from_str(
            r#"{"platforms": ["x"], "big": 1e400, "opts": {"list": [1, 2.5, -1e999]}}"#,
        )
        .unwrap();
        let errors = errors_of(body);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["big", "opts.list[2]"]);
        assert!(errors[0].message.contains("1e+400"), "{errors:?}");
    }

    #[test]
    fn the_error_list_is_capped_and_counts_the_rest() {
        let platforms: Vec<String> = (0..500).map(|i| format!("p{i}")).collect();
        let error = NewPost::parse(json!({"platforms": platforms}), now()).unwrap_err();
        assert_eq!(error.listed().len(), ValidationErrors::MAX_LISTED);
        assert_eq!(error.not_listed(), 450);
        assert!(
            error
                .detail()
                .ends_with("; and 450 more problems not listed")
        );
        let one = NewPost::parse(json!({"platforms": ["p"]}), now()).unwrap_err();
        assert_eq!(one.not_listed(), 0);
        assert!(!one.detail().contains("more problems"));
    }

    #[test]
    fn quoted_input_is_short() {
        let long = "é".repeat(1000);
        let errors = errors_of(
            json!({"platforms": [long.clone()], "media_urls": [long.clone()],
            "schedule_date": long.clone(), "workspace_id": long.clone()}),
        );
        for error in &errors {
            assert!(error.message.chars().count() < 200, "{error:?}");
            assert!(error.field.chars().count() < 100, "{error:?}");
        }
        assert_eq!(quote("short"), "short");
        assert_eq!(quote(&"a".repeat(65)), format!("{}…", "a".repeat(64)));
        assert_eq!(quote(&"a".repeat(64)), "a".repeat(64));
    }
}
