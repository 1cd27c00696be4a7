//! `/social/post`: create (publish or schedule) a post, check one without sending it (the dry
//! run), read its downstream outcome, update,
//! delete it, read its analytics, and read the tracking record. Translation only: the work is
//! done by `publishing`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json, OptionalJson, Path, Query};
use super::openapi::schemas::{CreatePostRequest, DeletePostRequest, ErrorBody, UpdatePostRequest};
use crate::domain::IdempotencyKey;
use crate::domain::dry_run::DryRun;
use crate::publishing::{
    AnalyticsView, AppError, DeletionView, PostView, RetryView, TrackingView, UpdateView,
};

/// The request header that makes a create safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header that marks a replayed answer.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_post))
        .routes(routes!(validate_post))
        .routes(routes!(get_post, update_post, delete_post))
        .routes(routes!(get_analytics))
        .routes(routes!(retry_post))
        .routes(routes!(get_tracking))
}

/// Publish now, or schedule, one post to one or more platforms.
///
/// Validates the whole body, writes the tracking record (`pending`) before calling Ayrshare,
/// calls Ayrshare's `POST /post` at most once, records the outcome, and answers Ayrshare's post
/// id and per-platform results with the record's `tracking_id` and `tracked_status`. Any key
/// besides the six documented ones is forwarded to Ayrshare as written. With an
/// `Idempotency-Key`, a retry replays the first answer and never publishes twice.
#[utoipa::path(
    post,
    path = "/social/post",
    tag = "posts",
    request_body = CreatePostRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header,
         description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, \
                        unique per request of your organization, kept 24 hours. A retry with the \
                        same key and body replays the first answer."),
    ),
    responses(
        (status = 200, description = "Ayrshare accepted the post: published (`posted`), \
                                      scheduled (`scheduled`) or published on some platforms \
                                      (`partial`, `status: error`).",
         body = PostView,
         headers(("Idempotent-Replayed" = String,
                  description = "`true` when the answer is a replay of an earlier request with \
                                 the same `Idempotency-Key`.")),
         example = json!({
            "post_id": "FZSYDe2OWcX201BGHq0b", "status": "success",
            "links": [{"platform": "x", "post_url": "https://twitter.com/ayrshare_mock/status/1015829281126638117"}],
            "results": [{"platform": "x", "status": "success", "post_id": "1015829281126638117",
                         "post_url": "https://twitter.com/ayrshare_mock/status/1015829281126638117",
                         "message": null}],
            "error": null,
            "tracking_id": "a4a04908-2c23-4316-b56d-5f0ce9ea827b", "tracked_status": "posted"})),
        (status = 400, description = "`validation_error` (nothing written), or \
                                      `provider_rejected`: Ayrshare refused the post and nothing \
                                      was published (`failed`).", body = ErrorBody),
        (status = 404, description = "`not_found`: no such workspace in your organization.",
         body = ErrorBody),
        (status = 409, description = "`idempotency_in_progress`: the first request with this \
                                      key has not been answered yet, or stopped before it \
                                      recorded Ayrshare's answer and its record is not settled \
                                      yet.", body = ErrorBody,
         headers(("Retry-After" = String, description = "Seconds to wait."))),
        (status = 422, description = "`idempotency_key_mismatch`: this key was used with \
                                      another body.", body = ErrorBody),
        (status = 429, description = "`rate_limit`: your key's limit, or Ayrshare's (then with \
                                      the record, `failed`).", body = ErrorBody,
         headers(("Retry-After" = String, description = "Seconds to wait."))),
        (status = 502, description = "`provider_error`: Ayrshare refused our credentials, failed \
                                      or answered something unreadable (`failed` or \
                                      `unknown`).", body = ErrorBody),
        (status = 503, description = "`provider_unavailable`: Ayrshare could not be reached and \
                                      nothing was sent (`failed`); or `service_unavailable`: our \
                                      database could not be reached (nothing written).",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`: Ayrshare did not answer in time; the \
                                      post may have been published (`unknown`).",
         body = ErrorBody),
    ),
)]
async fn create_post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let answer = state.publisher.create(caller, body, key).await?;
    Ok(answer_response(answer))
}

/// A keyed write's answer (its view, or its error), marked when it is a replay: the create's,
/// and a comment write's.
pub(super) fn answer_response<T: serde::Serialize>(
    answer: crate::publishing::Answer<T>,
) -> Response {
    let mut response = match answer.result {
        Ok(view) => Json(view).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    };
    mark_replayed(&mut response, answer.replayed);
    response
}

/// Adds `Idempotent-Replayed: true` to the answer of a write that was a replay.
pub(super) fn mark_replayed(response: &mut Response, replayed: bool) {
    if replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
}

/// Check a post without sending it: the create's checks, then Ayrshare's.
///
/// The body of a create. This service's own checks come first (the same as the create's); only
/// when they pass is Ayrshare's `POST /validate/post` asked. Nothing is written, nothing is
/// published, and an `Idempotency-Key` header is ignored (no key is consumed, so the create
/// that follows may use it). Our problems and Ayrshare's refusals are `errors` in a 200; when
/// Ayrshare cannot be asked the answer is the create's error, never `valid: true`.
#[utoipa::path(
    post,
    path = "/social/post/validate",
    tag = "posts",
    request_body = CreatePostRequest,
    responses(
        (status = 200, description = "The verdict: `valid`, with this service's or Ayrshare's                                       `errors`, and Ayrshare's `warnings`.",
         body = DryRun,
         example = json!({
            "valid": false,
            "errors": [{"field": "schedule_date", "source": "mosaic",
                        "message": "'2027-03-14T02:30:00' does not exist in America/New_York: the clocks skip it when daylight saving time begins"}],
            "warnings": []})),
        (status = 429, description = "`rate_limit`: your key's limit, or Ayrshare's for the                                       workspace's profile.", body = ErrorBody,
         headers(("Retry-After" = String, description = "Seconds to wait."))),
        (status = 502, description = "`provider_error`: Ayrshare refused our credentials, failed                                       or answered something unreadable.", body = ErrorBody),
        (status = 503, description = "`provider_unavailable`: Ayrshare could not be reached; or                                       `service_unavailable`: our database could not be reached.",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`: Ayrshare did not answer in time                                       (nothing was published: a dry run never publishes).",
         body = ErrorBody),
    ),
)]
async fn validate_post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<Value>,
) -> Result<Json<DryRun>, ApiError> {
    Ok(Json(state.publisher.validate_post(caller, body).await?))
}

/// The `Idempotency-Key` header, checked; two of them are refused (one meaning per request).
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::field(
            "Idempotency-Key",
            "was sent more than once; send one key",
        ));
    }
    IdempotencyKey::parse(first.as_bytes())
        .map(Some)
        .map_err(|e| {
            ApiError::App(AppError::Validation(crate::domain::ValidationErrors::one(
                e,
            )))
        })
}

/// The downstream outcome of a post, from Ayrshare.
///
/// Asks Ayrshare, and brings the tracking record up to date first when the post has settled
/// (published or failed), so `tracked_status` is the new one.
#[utoipa::path(
    get,
    path = "/social/post/{post_id}",
    tag = "posts",
    params(("post_id" = String, Path, description = "Ayrshare's post id, as a create answered it.")),
    responses(
        (status = 200, description = "Ayrshare's view of the post, whatever its state.",
         body = PostView),
        (status = 400, description = "`provider_rejected`: Ayrshare refused the read.",
         body = ErrorBody),
        (status = 404, description = "`not_found`: not a post of your organization, or Ayrshare \
                                      no longer knows it.", body = ErrorBody),
        (status = 502, description = "`provider_error`.", body = ErrorBody),
        (status = 503, description = "`provider_unavailable` or `service_unavailable`.",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`.", body = ErrorBody),
    ),
)]
async fn get_post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(post_id): Path<String>,
) -> Result<Json<PostView>, ApiError> {
    Ok(Json(state.publisher.read_post(caller, &post_id).await?))
}

/// The tracking record, from the database only.
#[utoipa::path(
    get,
    path = "/social/post/track/{tracking_id}",
    tag = "posts",
    params(("tracking_id" = uuid::Uuid, Path,
            description = "The `tracking_id` a create answered.")),
    responses(
        (status = 200, description = "The record.", body = TrackingView),
        (status = 400, description = "`validation_error`: the id is not a uuid.",
         body = ErrorBody),
        (status = 404, description = "`not_found`: not a record of your organization.",
         body = ErrorBody),
    ),
)]
async fn get_tracking(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tracking_id): Path<String>,
) -> Result<Json<TrackingView>, ApiError> {
    Ok(Json(
        state.publisher.read_tracking(caller, &tracking_id).await?,
    ))
}

/// Reschedule, pause or resume, annotate or approve a post.
///
/// Ayrshare's `PATCH /post`; the record follows once Ayrshare made the change. Only a scheduled
/// post can be rescheduled, paused or resumed.
#[utoipa::path(
    patch,
    path = "/social/post/{post_id}",
    tag = "posts",
    params(("post_id" = String, Path, description = "Ayrshare's post id, as a create answered it.")),
    request_body = UpdatePostRequest,
    responses(
        (status = 200, description = "Ayrshare made the change.", body = UpdateView),
        (status = 409, description = "`conflict`: the post is not in a state that allows the \
                                      change, another change of it is in flight, or Ayrshare \
                                      refused it; nothing changed.",
         body = ErrorBody),
        (status = 502, description = "`provider_error`.", body = ErrorBody),
        (status = 503, description = "`provider_unavailable` or `service_unavailable`.",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`: the change may have been made; \
                                      sending it again is safe.", body = ErrorBody),
    ),
)]
async fn update_post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(post_id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<UpdateView>, ApiError> {
    Ok(Json(
        state.publisher.update_post(caller, &post_id, body).await?,
    ))
}

/// Cancel a scheduled post, or delete a published one from its networks.
///
/// Ayrshare's `DELETE /post`. A post that never went out becomes `cancelled`, one that went out
/// `deleted`; one already cancelled or deleted answers 200 without asking Ayrshare again.
#[utoipa::path(
    delete,
    path = "/social/post/{post_id}",
    tag = "posts",
    params(("post_id" = String, Path, description = "Ayrshare's post id, as a create answered it.")),
    request_body(content = Option<DeletePostRequest>,
                 description = "Optional: `mark_manual_deleted`."),
    responses(
        (status = 200, description = "Deleted, or already deleted.", body = DeletionView),
        (status = 409, description = "`conflict`: Ayrshare refused (Instagram and TikTok cannot \
                                      delete a published post), the create is still \
                                      `pending`, or another change of the post is in flight.",
         body = ErrorBody),
        (status = 502, description = "`provider_error`.", body = ErrorBody),
        (status = 503, description = "`provider_unavailable` or `service_unavailable`.",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`: the post may be gone.",
         body = ErrorBody),
    ),
)]
async fn delete_post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(post_id): Path<String>,
    OptionalJson(body): OptionalJson,
) -> Result<Json<DeletionView>, ApiError> {
    Ok(Json(
        state.publisher.delete_post(caller, &post_id, body).await?,
    ))
}

/// Send a failed post once more (Ayrshare's `PUT /post/retry`), at most once per post.
///
/// Only for a `failed` post none of whose platforms published it. The retry is written on the
/// record first (`failed` becomes `pending`), then sent once; the outcome comes later, as a
/// scheduled post's does (the reconciler, Ayrshare's webhook, the `post.*` events). A retry
/// Ayrshare refuses changes nothing (the record is `failed` again, and may be retried later); a
/// second retry once Ayrshare took one is a 409.
#[utoipa::path(
    post,
    path = "/social/post/{post_id}/retry",
    tag = "posts",
    params(("post_id" = String, Path, description = "Ayrshare's post id, as a create answered it.")),
    responses(
        (status = 202, description = "Sent again; the record is `pending` until the outcome \
                                      is known.", body = RetryView),
        (status = 400, description = "`validation_error`: the retry takes no body.",
         body = ErrorBody),
        (status = 404, description = "`not_found`: no post of the caller's with that id.",
         body = ErrorBody),
        (status = 409, description = "`conflict`: the post is not `failed`, a platform \
                                      published it, it was retried already, Ayrshare refused \
                                      the retry, or another change of the post is in flight.",
         body = ErrorBody),
        (status = 429, description = "`rate_limited`: Ayrshare holds the profile off; nothing \
                                      was sent.", body = ErrorBody),
        (status = 502, description = "`provider_error`: the retry may have been sent; the \
                                      record stays `pending` and settles by itself.",
         body = ErrorBody),
        (status = 503, description = "`provider_unavailable` or `service_unavailable`.",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`: the retry may have been sent; the \
                                      record stays `pending` and settles by itself.",
         body = ErrorBody),
    ),
)]
async fn retry_post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(post_id): Path<String>,
    OptionalJson(body): OptionalJson,
) -> Result<(StatusCode, Json<RetryView>), ApiError> {
    // A body would be a field this route does not read: refused rather than ignored.
    if body
        .as_ref()
        .is_some_and(|b| b.as_object().is_none_or(|o| !o.is_empty()))
    {
        return Err(AppError::field("body", "the retry takes no body").into());
    }
    let view = state.publisher.retry_post(caller, &post_id).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// The post's numbers per platform, from Ayrshare.
#[utoipa::path(
    get,
    path = "/social/post/{post_id}/analytics",
    tag = "posts",
    params(
        ("post_id" = String, Path, description = "Ayrshare's post id, as a create answered it."),
        ("platforms" = Option<String>, Query,
         description = "Comma-separated platforms of the post (`x,linkedin`, any case, no \
                        duplicates); all of them when absent."),
    ),
    responses(
        (status = 200, description = "The numbers, and the platforms that have none.",
         body = AnalyticsView),
        (status = 400, description = "`validation_error`, or `provider_rejected`: Ayrshare has \
                                      no numbers for the post.", body = ErrorBody),
        (status = 502, description = "`provider_error`.", body = ErrorBody),
        (status = 503, description = "`provider_unavailable` or `service_unavailable`.",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`.", body = ErrorBody),
    ),
)]
async fn get_analytics(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(post_id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<AnalyticsView>, ApiError> {
    Ok(Json(
        state
            .publisher
            .post_analytics(caller, &post_id, &query)
            .await?,
    ))
}
