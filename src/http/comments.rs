//! `/social/post/{post_id}/comments`: read a post's comments, comment, reply, delete a comment.
//! Translation only: the work is done by `publishing` (its comments use cases).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json, Path, Query};
use super::openapi::schemas::{CommentRequest, ErrorBody, ReplyRequest};
use super::social_post::{answer_response, idempotency_key};
use crate::publishing::{CommentList, CommentWriteView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_comments, add_comment))
        .routes(routes!(reply_comment))
        .routes(routes!(delete_comment))
}

/// A post's comments, every platform in one shape.
///
/// One read of Ayrshare's `GET /comments/{id}` (Ayrshare refreshes comments about every 10
/// minutes), normalized: newest first, those without a date last, ties broken by platform,
/// comment id, platform comment id. At most `limit` comments a page; under each, at most
/// `replies_limit` replies (newest first), the rest counted in `replies_omitted`. A platform
/// Ayrshare left out of its answer has no comments in the list.
#[utoipa::path(
    get,
    path = "/social/post/{post_id}/comments",
    tag = "comments",
    params(
        ("post_id" = String, Path, description = "Ayrshare's post id, as a create answered it."),
        ("platform" = Option<String>, Query, description = "Only this platform's comments (x, linkedin, instagram, facebook, tiktok, youtube)."),
        ("limit" = Option<u32>, Query, description = "1 to 100; 20 by default."),
        ("cursor" = Option<String>, Query, description = "The previous page's `next_cursor`."),
    ),
    responses(
        (status = 200, description = "One page of comments.", body = CommentList),
        (status = 400, description = "`validation_error`: a bad limit, platform or cursor, or a \
                                      parameter the list does not take.", body = ErrorBody),
        (status = 404, description = "`not_found`: no post of the caller's with that id (or \
                                      Ayrshare no longer knows it).", body = ErrorBody),
        (status = 429, description = "`rate_limit`: Ayrshare rate limits the workspace's \
                                      profile.", body = ErrorBody,
         headers(("Retry-After" = String, description = "Seconds to wait."))),
        (status = 502, description = "`provider_error`: Ayrshare refused our credentials, \
                                      failed or answered something unreadable.", body = ErrorBody),
        (status = 503, description = "`provider_unavailable` or `service_unavailable`.",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`: Ayrshare did not answer in time.",
         body = ErrorBody),
    ),
)]
async fn list_comments(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(post_id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<CommentList>, ApiError> {
    Ok(Json(
        state
            .publisher
            .list_comments(caller, &post_id, &query)
            .await?,
    ))
}

/// Comment on a post, on some or all of its platforms.
///
/// Body `{comment, platforms?, media_urls?}` (one media URL, on facebook, linkedin and x only).
/// Without `platforms`, every platform the post was published on. A platform the post is not
/// published on is refused up front (400, naming it). The write is recorded before Ayrshare's
/// `POST /comments` is called once; a lost answer leaves it `unknown` and it is never sent
/// again. With an `Idempotency-Key`, a retry replays the first answer.
#[utoipa::path(
    post,
    path = "/social/post/{post_id}/comments",
    tag = "comments",
    request_body = CommentRequest,
    params(
        ("post_id" = String, Path, description = "Ayrshare's post id, as a create answered it."),
        ("Idempotency-Key" = Option<String>, Header,
         description = "Makes the request safe to retry, as on `POST /social/post`."),
    ),
    responses(
        (status = 200, description = "Written: `done`, or `partial` when some platforms \
                                      refused (their results say why).", body = CommentWriteView,
         headers(("Idempotent-Replayed" = String, description = "`true` on a replay."))),
        (status = 400, description = "`validation_error` (nothing written), or \
                                      `provider_rejected`: Ayrshare refused it everywhere \
                                      (`failed`).", body = ErrorBody),
        (status = 404, description = "`not_found`: no post of the caller's with that id.",
         body = ErrorBody),
        (status = 409, description = "`idempotency_in_progress`.", body = ErrorBody),
        (status = 422, description = "`idempotency_key_mismatch`.", body = ErrorBody),
        (status = 429, description = "`rate_limit`: Ayrshare's, nothing written or `failed`.",
         body = ErrorBody),
        (status = 502, description = "`provider_error`: the write may have been made \
                                      (`unknown`), or Ayrshare refused our credentials \
                                      (`failed`).", body = ErrorBody),
        (status = 503, description = "`provider_unavailable` (`failed`) or \
                                      `service_unavailable`.", body = ErrorBody),
        (status = 504, description = "`provider_timeout`: no answer; the write may have been \
                                      made (`unknown`) and is never sent again.", body = ErrorBody),
    ),
)]
async fn add_comment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(post_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let answer = state
        .publisher
        .add_comment(caller, &post_id, body, key)
        .await?;
    Ok(answer_response(answer))
}

/// Reply to one comment of a post.
///
/// Body `{comment, platform}` (the comment's platform). Recorded and sent once, as a comment
/// is (Ayrshare's `POST /comments/reply`).
#[utoipa::path(
    post,
    path = "/social/post/{post_id}/comments/{comment_id}/replies",
    tag = "comments",
    request_body = ReplyRequest,
    params(
        ("post_id" = String, Path, description = "Ayrshare's post id."),
        ("comment_id" = String, Path, description = "The comment's `comment_id`."),
        ("Idempotency-Key" = Option<String>, Header,
         description = "Makes the request safe to retry, as on `POST /social/post`."),
    ),
    responses(
        (status = 200, description = "Replied.", body = CommentWriteView),
        (status = 400, description = "`validation_error` or `provider_rejected`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no post of the caller's with that id, or \
                                      Ayrshare knows no such comment.", body = ErrorBody),
        (status = 409, description = "`idempotency_in_progress`.", body = ErrorBody),
        (status = 422, description = "`idempotency_key_mismatch`.", body = ErrorBody),
        (status = 429, description = "`rate_limit`.", body = ErrorBody),
        (status = 502, description = "`provider_error`.", body = ErrorBody),
        (status = 503, description = "`provider_unavailable` or `service_unavailable`.",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`: the reply may have been made \
                                      (`unknown`).", body = ErrorBody),
    ),
)]
async fn reply_comment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((post_id, comment_id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let answer = state
        .publisher
        .reply_comment(caller, &post_id, &comment_id, body, key)
        .await?;
    Ok(answer_response(answer))
}

/// Delete a comment this service wrote on the post.
///
/// Only a comment (or reply) written through this API on this post; recorded and sent once
/// (Ayrshare's `DELETE /comments/{id}`).
#[utoipa::path(
    delete,
    path = "/social/post/{post_id}/comments/{comment_id}",
    tag = "comments",
    params(
        ("post_id" = String, Path, description = "Ayrshare's post id."),
        ("comment_id" = String, Path, description = "The `comment_id` a comment write answered."),
        ("Idempotency-Key" = Option<String>, Header,
         description = "Makes the request safe to retry, as on `POST /social/post`."),
    ),
    responses(
        (status = 200, description = "Deleted.", body = CommentWriteView),
        (status = 400, description = "`validation_error` or `provider_rejected`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no post of the caller's with that id, or no \
                                      such comment written on it through this service.",
         body = ErrorBody),
        (status = 409, description = "`idempotency_in_progress`.", body = ErrorBody),
        (status = 422, description = "`idempotency_key_mismatch`.", body = ErrorBody),
        (status = 429, description = "`rate_limit`.", body = ErrorBody),
        (status = 502, description = "`provider_error`.", body = ErrorBody),
        (status = 503, description = "`provider_unavailable` or `service_unavailable`.",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`: the delete may have been made \
                                      (`unknown`).", body = ErrorBody),
    ),
)]
async fn delete_comment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((post_id, comment_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let answer = state
        .publisher
        .delete_comment(caller, &post_id, &comment_id, key)
        .await?;
    Ok(answer_response(answer))
}
