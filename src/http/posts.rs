//! `/social/posts`: the caller's tracking records, a page at a time. Translation only.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json, Query};
use super::openapi::schemas::ErrorBody;
use crate::domain::Platform;
use crate::publishing::PostList;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_posts))
}

/// Your organization's tracking records, newest first, a page at a time.
///
/// Read from the database only. Pages are cut by keyset: pass `next_cursor` back unchanged, with
/// the same filters. A page holds at most 1 MiB of records (always at least one), so it can be
/// shorter than `limit` and still have a `next_cursor`: only a null `next_cursor` ends the list.
/// An unknown or repeated parameter is a `validation_error`. With `updated_after` the list is
/// the changes feed (`docs/api.md`): oldest change first, with a cursor of its own.
#[utoipa::path(
    get,
    path = "/social/posts",
    tag = "posts",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100,
         description = "Records per page, 1 to 100 (default 20)."),
        ("cursor" = Option<String>, Query,
         description = "The `next_cursor` of the previous page, unchanged."),
        // A string, not an array with `explode = false`: generated clients (openapi-python-client,
        // openapi-fetch) ignore `explode` and repeat the parameter, which is a 400 here.
        ("tracked_status" = Option<String>, Query,
         pattern = "^(pending|scheduled|posted|partial|failed|unknown|cancelled|deleted)(,(pending|scheduled|posted|partial|failed|unknown|cancelled|deleted))*$",
         description = "Only these statuses: one, or several separated by commas, each at most \
                        once (`posted,partial`), of `pending`, `scheduled`, `posted`, \
                        `partial`, `failed`, `unknown`, `cancelled`, `deleted`."),
        ("platform" = Option<Platform>, Query, description = "Only posts that name it."),
        ("workspace_id" = Option<uuid::Uuid>, Query,
         description = "Only this workspace of your organization."),
        ("created_after" = Option<chrono::DateTime<chrono::Utc>>, Query,
         description = "Exclusive bound, RFC 3339 with an offset (`+` written `%2B`)."),
        ("created_before" = Option<chrono::DateTime<chrono::Utc>>, Query,
         description = "Exclusive bound, RFC 3339 with an offset (`+` written `%2B`)."),
        ("updated_after" = Option<chrono::DateTime<chrono::Utc>>, Query,
         description = "The changes feed: records last changed after this time (exclusive, \
                        RFC 3339), in the order their changes committed, oldest first. \
                        `next_cursor` is then never null once there is a position: keep it \
                        and ask again later to get the changes made since."),
    ),
    responses(
        (status = 200, description = "A page; `next_cursor` is null on the last one.",
         body = PostList),
        (status = 400, description = "`validation_error`, naming each parameter.",
         body = ErrorBody),
        (status = 404, description = "`not_found`: no such workspace in your organization.",
         body = ErrorBody),
    ),
)]
async fn list_posts(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<PostList>, ApiError> {
    Ok(Json(state.publisher.list_posts(caller, &query).await?))
}
