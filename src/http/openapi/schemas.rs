//! Schemas that exist for the document only: the request bodies (the handlers read them as JSON
//! values, checked field by field in `domain`, so that unknown keys can be forwarded as written),
//! the error body, and the small answers built with `json!`. The answers of the use cases
//! (`publishing::views`) derive their schemas where they are defined.

// Never built: they describe what the handlers read as JSON values. `Serialize` is derived so
// that utoipa reads the `#[serde]` attributes exactly as serde would.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, schema::SchemaType};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::{Platform, TrackedStatus};

/// A platform name of this API (any case on input; stored and reported in lowercase).
impl PartialSchema for Platform {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(Platform::ALL.map(Platform::as_str)))
            .description(Some(
                "A platform, under this API's names (`x`, never `twitter`). Case-insensitive on \
                 input.",
            ))
            .into()
    }
}

impl ToSchema for Platform {}

/// The body of `POST /social/post`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "post": "Launch day! https://example.com",
    "platforms": ["x", "linkedin"],
    "media_urls": ["https://cdn.example.com/launch.png"],
    "schedule_date": "2031-03-10T16:00:00+01:00",
    "shortenLinks": false
}))]
pub struct CreatePostRequest {
    /// The text. Defaults to `""`; forwarded as written (URLs in it are plain text).
    pub post: Option<String>,
    /// One or more platforms, each at most once (`["x", "X"]` is a duplicate).
    #[schema(min_items = 1)]
    pub platforms: Vec<Platform>,
    /// Absolute `http`/`https` URLs with a host, forwarded as written: no credentials, spaces or
    /// control characters.
    pub media_urls: Option<Vec<String>>,
    /// When to publish, later than now; absent: publish now. RFC 3339 with an offset
    /// (`2031-03-10T16:00:00+01:00`, `...Z`) is taken as written; a local time without one
    /// (`2031-03-10T16:00:00`, seconds and fractions optional) is read in `timezone`, and is
    /// refused without it, or when it falls in a daylight-saving gap or fold of the zone.
    #[schema(example = "2031-03-10T16:00:00+01:00")]
    pub schedule_date: Option<String>,
    /// An IANA time zone name (`Europe/Berlin`), exact spelling: reads a local
    /// `schedule_date`, and is kept on the record (never sent to Ayrshare, which takes UTC).
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
    /// A workspace of the caller's organization; defaults to the primary workspace.
    pub workspace_id: Option<uuid::Uuid>,
    /// Any other key is forwarded to Ayrshare unchanged (`youTubeOptions`, `isVideo`,
    /// `shortenLinks`, `notes`, `requiresApproval`, ...); `mediaUrls`, `scheduleDate`,
    /// `profileKey`, `profileKeys`, `timeZone` and their spellings are refused.
    #[serde(flatten)]
    pub forwarded: BTreeMap<String, Value>,
}

/// The body of `PATCH /social/post/{post_id}`: at least one field.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"schedule_date": "2031-03-11T09:30:00+01:00", "notes": "moved a day"}))]
pub struct UpdatePostRequest {
    /// Reschedule (a scheduled post only), later than now: RFC 3339 with an offset, or a local
    /// time read in `timezone`, as on the create.
    pub schedule_date: Option<String>,
    /// The IANA zone of `schedule_date` (only with it), kept on the record in place of the
    /// zone it had; a reschedule without it records none.
    pub timezone: Option<String>,
    /// `true` pauses, `false` resumes (a scheduled post only).
    pub scheduled_pause: Option<bool>,
    /// Ayrshare's notes on the post.
    pub notes: Option<String>,
    /// Approves a post created with `requiresApproval`.
    pub approve: Option<bool>,
    /// Ayrshare's own update fields, forwarded as written (`disableComments`, ...).
    #[serde(flatten)]
    pub forwarded: BTreeMap<String, Value>,
}

/// The optional body of `DELETE /social/post/{post_id}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"mark_manual_deleted": true}))]
pub struct DeletePostRequest {
    /// The post was deleted by hand on its network; Ayrshare only marks it.
    pub mark_manual_deleted: Option<bool>,
}

/// The body of `POST /social/post/{post_id}/comments`: these fields only (any other key is a
/// 400).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"comment": "Thanks for reading!", "platforms": ["x", "linkedin"]}))]
pub struct CommentRequest {
    /// The comment's text, forwarded as written: not blank, at most 10000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub comment: String,
    /// Where to comment: platforms the post was published on, each at most once. Absent or
    /// null: every platform the post was published on (with `media_urls`, those of them that
    /// take media).
    #[schema(min_items = 1, max_items = 6)]
    pub platforms: Option<Vec<Platform>>,
    /// At most one absolute `http`/`https` URL, taken on facebook, linkedin and x only.
    #[schema(max_items = 1)]
    pub media_urls: Option<Vec<String>>,
}

/// The body of `POST /social/post/{post_id}/comments/{comment_id}/replies`: these fields only
/// (any other key is a 400).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"comment": "Glad you liked it.", "platform": "x"}))]
pub struct ReplyRequest {
    /// The reply's text, forwarded as written: not blank, at most 10000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub comment: String,
    /// The platform of the comment replied to (one the post was published on).
    pub platform: Platform,
}

/// Every error answer: `detail` for people, `error` for programs, and extra fields for some
/// codes.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "detail": "platforms[0]: 'myspace' is not one of x, linkedin, instagram, facebook, tiktok, youtube",
    "error": "validation_error",
    "errors": [{"field": "platforms[0]", "message": "'myspace' is not one of x, linkedin, instagram, facebook, tiktok, youtube"}]
}))]
pub struct ErrorBody {
    /// A sentence for people; never internals.
    pub detail: String,
    pub error: ErrorCode,
    /// `validation_error`: every problem found, up to 50.
    #[schema(nullable = false)]
    pub errors: Option<Vec<FieldProblem>>,
    /// `validation_error`: how many more problems were found than `errors` lists.
    #[schema(nullable = false)]
    pub errors_not_listed: Option<u64>,
    /// Errors after the record was written: the record.
    #[schema(nullable = false)]
    pub tracking_id: Option<uuid::Uuid>,
    #[schema(nullable = false)]
    pub tracked_status: Option<TrackedStatus>,
    /// Where Ayrshare answered: its post id (null if it gave none).
    pub post_id: Option<String>,
    /// Where Ayrshare answered: its per-platform results.
    #[schema(nullable = false)]
    pub results: Option<Vec<crate::domain::PlatformResult>>,
}

/// One validation problem.
#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    /// Where: `platforms[0]`, `schedule_date`, `Idempotency-Key`, ...
    pub field: String,
    pub message: String,
}

/// The machine codes of errors.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ValidationError,
    InvalidApiKey,
    InvalidSignature,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    IdempotencyInProgress,
    IdempotencyKeyMismatch,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimit,
    ProviderRejected,
    ProviderError,
    ProviderUnavailable,
    ProviderTimeout,
    ServiceUnavailable,
    NotConfigured,
    InternalServerError,
}

/// `GET /healthz` and `GET /readyz` when all is well.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct HealthStatus {
    /// `ok` (healthz) or `ready` (readyz).
    pub status: String,
}

/// The answer to a verified webhook delivery.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "accepted", "post_id": "SvdnuC8CZiM4kVE9HUto"}))]
pub struct WebhookReceiptBody {
    /// `accepted` (the record will be brought up to date) or `ignored` (nothing to do).
    pub status: String,
    /// `accepted` for a `scheduled` action: Ayrshare's post id.
    #[schema(nullable = false)]
    pub post_id: Option<String>,
    /// `accepted` for a `social` action: the platform linked or unlinked (this API's name).
    #[schema(nullable = false)]
    pub platform: Option<String>,
    /// `ignored`: why.
    #[schema(nullable = false)]
    pub detail: Option<String>,
}

/// The body of Ayrshare's webhook, as Ayrshare sends it (signed; read leniently).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"action": "scheduled", "id": "SvdnuC8CZiM4kVE9HUto", "status": "success"}))]
pub struct WebhookRequest {
    /// `scheduled` (a scheduled post was sent), among others that are acknowledged and ignored.
    #[schema(nullable = false)]
    pub action: Option<String>,
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}
