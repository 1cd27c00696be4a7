//! The checks Ayrshare makes on a `POST /api/post` body before it accepts a post.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::platforms::{Platform, valid_names};
use super::reply::ApiError;

/// A `POST /api/post` body that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PostRequest {
    /// The post text; `None` when `randomPost: true` stands in for it.
    pub(super) text: Option<String>,
    pub(super) platforms: Vec<Platform>,
    pub(super) media_urls: Vec<String>,
    pub(super) schedule_date: Option<DateTime<Utc>>,
    pub(super) notes: Option<String>,
    /// Ayrshare's `idempotencyKey`: a profile may use each key once.
    pub(super) idempotency_key: Option<String>,
    /// `requiresApproval: true`: the post waits for `approved: true`.
    pub(super) requires_approval: bool,
}

/// The longest `idempotencyKey` accepted, in bytes: the mock remembers keys, so they are bounded.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 1_024;

/// Parses the raw body of `POST /api/post`; an empty body counts as `{}`.
pub(super) fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(bytes).map_err(|err| {
        ApiError::bad_parameter(format!("The request body is not valid JSON: {err}."))
    })
}

/// Checks a parsed body the way Ayrshare does; unknown keys (like the SDKs' `source`) are ignored.
pub(super) fn check_post(body: &Value) -> Result<PostRequest, ApiError> {
    let Some(fields) = body.as_object() else {
        return Err(ApiError::bad_parameter(
            "Missing or incorrect parameters. The request body must be a JSON object.",
        ));
    };
    let platforms = check_platforms(present(fields, "platforms"))?;
    let media_urls = check_media_urls(present(fields, "mediaUrls"))?;
    let random = present(fields, "randomPost") == Some(&Value::Bool(true));
    let text = check_text(present(fields, "post"), random, !media_urls.is_empty())?;
    let schedule_date = check_schedule_date(present(fields, "scheduleDate"))?;
    let notes = present(fields, "notes")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let idempotency_key = check_idempotency_key(present(fields, "idempotencyKey"))?;
    Ok(PostRequest {
        text,
        platforms,
        media_urls,
        schedule_date,
        notes,
        idempotency_key,
        requires_approval: present(fields, "requiresApproval") == Some(&Value::Bool(true)),
    })
}

/// A non-blank string of at most [`MAX_IDEMPOTENCY_KEY_LEN`] bytes, kept exactly as sent.
fn check_idempotency_key(value: Option<&Value>) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::String(key))
            if !key.trim().is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_LEN =>
        {
            Ok(Some(key.clone()))
        }
        Some(_) => Err(ApiError::bad_parameter(format!(
            "Incorrect idempotencyKey parameter. Please send a non-empty string of at most \
             {MAX_IDEMPOTENCY_KEY_LEN} characters."
        ))),
    }
}

/// A field's value, treating JSON `null` as absent.
fn present<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    fields.get(key).filter(|value| !value.is_null())
}

pub(super) fn check_platforms(value: Option<&Value>) -> Result<Vec<Platform>, ApiError> {
    let missing = || {
        ApiError::bad_parameter(format!(
            "Missing or incorrect platforms parameter. Please verify platforms is a non-empty \
             array of platform names: {}.",
            valid_names()
        ))
    };
    let names = value.and_then(Value::as_array).ok_or_else(missing)?;
    if names.is_empty() {
        return Err(missing());
    }
    let mut platforms = Vec::with_capacity(names.len());
    for name in names {
        let name = name.as_str().ok_or_else(missing)?;
        let platform = Platform::from_name(name).ok_or_else(|| invalid_platform(name))?;
        // A network named twice is posted to once.
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    Ok(platforms)
}

fn invalid_platform(name: &str) -> ApiError {
    let hint = if name.eq_ignore_ascii_case("x") {
        " X is called \"twitter\" in Ayrshare: use \"twitter\".".to_owned()
    } else if let Some(platform) = Platform::from_name(&name.to_ascii_lowercase()) {
        format!(" Platform names are lowercase: use {:?}.", platform.name())
    } else {
        String::new()
    };
    ApiError::bad_parameter(format!(
        "Invalid platform {name:?} in the platforms parameter.{hint} Valid platforms: {}.",
        valid_names()
    ))
}

fn check_media_urls(value: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let incorrect = || {
        ApiError::bad_parameter(
            "Incorrect mediaUrls parameter. Please verify mediaUrls is an array of URL strings.",
        )
    };
    value
        .as_array()
        .ok_or_else(incorrect)?
        .iter()
        .map(|url| url.as_str().map(str::to_owned).ok_or_else(incorrect))
        .collect()
}

fn check_text(
    value: Option<&Value>,
    random: bool,
    has_media: bool,
) -> Result<Option<String>, ApiError> {
    let incorrect = || {
        ApiError::bad_parameter(
            "Missing or incorrect post parameter. Please verify a non-empty post field is sent.",
        )
    };
    match value {
        None if random => Ok(None),
        None => Err(incorrect()),
        Some(Value::String(text)) if text.trim().is_empty() && !has_media => Err(incorrect()),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(incorrect()),
    }
}

fn check_schedule_date(value: Option<&Value>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let parsed = value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text.trim()).ok());
    match parsed {
        Some(date) => Ok(Some(date.with_timezone(&Utc))),
        None => Err(ApiError::bad_parameter(format!(
            "Incorrect scheduleDate parameter {value}. Please send a UTC date in the format \
             YYYY-MM-DDThh:mm:ssZ, for example 2026-07-08T12:30:00Z."
        ))),
    }
}

/// The changes a `PATCH`/`PUT /api/post` body asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct PostUpdate {
    pub(super) schedule_date: Option<DateTime<Utc>>,
    pub(super) scheduled_pause: Option<bool>,
    pub(super) notes: Option<String>,
    pub(super) approved: Option<bool>,
    /// `disableComments` and `youTubeOptions`, kept and shown back as sent.
    pub(super) shown: Map<String, Value>,
}

/// The fields an update may carry.
const UPDATE_FIELDS: &str =
    "scheduleDate, scheduledPause, notes, approved, disableComments, youTubeOptions";

/// Checks a `PATCH /api/post` body: `id` plus at least one update field, nothing that cannot be
/// changed (text, media, platforms).
pub(super) fn check_update(body: &Value) -> Result<(String, PostUpdate), ApiError> {
    let fields = body.as_object().ok_or_else(|| {
        ApiError::bad_parameter(
            "Missing or incorrect parameters. The request body must be a JSON object.",
        )
    })?;
    let id = check_id(fields)?;
    for fixed in ["post", "platforms", "mediaUrls"] {
        if present(fields, fixed).is_some() {
            return Err(ApiError::bad_parameter(format!(
                "The {fixed} of a post cannot be updated: only {UPDATE_FIELDS} can. Delete the post and create it again."
            )));
        }
    }
    let incorrect = |key: &str, what: &str| {
        ApiError::bad_parameter(format!("Incorrect {key} parameter. Please send {what}."))
    };
    let boolean = |key: &str| match present(fields, key) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(_) => Err(incorrect(key, "true or false")),
    };
    let mut update = PostUpdate {
        schedule_date: check_schedule_date(present(fields, "scheduleDate"))?,
        scheduled_pause: boolean("scheduledPause")?,
        approved: boolean("approved")?,
        ..PostUpdate::default()
    };
    match present(fields, "notes") {
        None => {}
        Some(Value::String(notes)) => update.notes = Some(notes.clone()),
        Some(_) => return Err(incorrect("notes", "a string")),
    }
    if let Some(flag) = boolean("disableComments")? {
        update
            .shown
            .insert("disableComments".to_owned(), Value::Bool(flag));
    }
    if let Some(options) = present(fields, "youTubeOptions") {
        let has_title = options
            .get("title")
            .and_then(Value::as_str)
            .is_some_and(|title| !title.trim().is_empty());
        if !options.is_object() || !has_title {
            return Err(incorrect(
                "youTubeOptions",
                "an object with its title: an update of youTubeOptions must send the title again",
            ));
        }
        update
            .shown
            .insert("youTubeOptions".to_owned(), options.clone());
    }
    if update == (PostUpdate::default()) {
        return Err(ApiError::bad_parameter(format!(
            "Missing update parameters. Please send at least one of {UPDATE_FIELDS}."
        )));
    }
    Ok((id, update))
}

/// Checks a `PUT /api/post/retry` body: the `id` of the post.
pub(super) fn check_retry(body: &Value) -> Result<String, ApiError> {
    let fields = body.as_object().ok_or_else(|| {
        ApiError::bad_parameter(
            "Missing or incorrect parameters. The request body must be a JSON object.",
        )
    })?;
    check_id(fields)
}

/// The `id` of a body that names one post.
fn check_id(fields: &Map<String, Value>) -> Result<String, ApiError> {
    present(fields, "id").and_then(non_empty_id).ok_or_else(|| {
        ApiError::bad_parameter(
            "Missing or incorrect id parameter. Please send the Ayrshare post id as id.",
        )
    })
}

/// Checks a `POST /api/analytics/post` body: `id`, and optionally `platforms` (Ayrshare names).
pub(super) fn check_analytics(body: &Value) -> Result<(String, Option<Vec<Platform>>), ApiError> {
    let fields = body.as_object().ok_or_else(|| {
        ApiError::bad_parameter(
            "Missing or incorrect parameters. The request body must be a JSON object.",
        )
    })?;
    let id = check_id(fields)?;
    let platforms = match present(fields, "platforms") {
        None => None,
        some => Some(check_platforms(some)?),
    };
    Ok((id, platforms))
}

/// What a `DELETE` body asks to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DeleteTarget {
    /// `{"id": "…"}`
    One(String),
    /// `{"bulk": ["…", …]}`
    Bulk(Vec<String>),
}

/// Whether a `DELETE` body sets `markManualDeleted: true`.
pub(super) fn mark_manual_deleted(body: &Value) -> bool {
    body.get("markManualDeleted") == Some(&Value::Bool(true))
}

/// Checks a `DELETE /api/post` body: `bulk` wins over `id`, as in Ayrshare's documentation order.
pub(super) fn check_delete(body: &Value) -> Result<DeleteTarget, ApiError> {
    let missing = || {
        ApiError::bad_parameter(
            "Missing or incorrect id parameter. Please send the Ayrshare post id as id, \
             or an array of post ids as bulk.",
        )
    };
    let fields = body.as_object().ok_or_else(missing)?;
    if present(fields, "deleteAllScheduled") == Some(&Value::Bool(true)) {
        return Err(ApiError::mock(
            "deleteAllScheduled is not simulated by the mock: delete posts by id or bulk",
        ));
    }
    if let Some(bulk) = present(fields, "bulk") {
        let ids: Vec<String> = bulk
            .as_array()
            .ok_or_else(missing)?
            .iter()
            .map(|id| non_empty_id(id).ok_or_else(missing))
            .collect::<Result<_, _>>()?;
        return if ids.is_empty() {
            Err(missing())
        } else {
            Ok(DeleteTarget::Bulk(ids))
        };
    }
    present(fields, "id")
        .and_then(non_empty_id)
        .map(DeleteTarget::One)
        .ok_or_else(missing)
}

fn non_empty_id(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}
