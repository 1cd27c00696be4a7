//! `/events`: the feed of what happened to the organization's posts. Translation only.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json, Query};
use super::openapi::schemas::ErrorBody;
use crate::events::EventList;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// The organization's post events, oldest first, in the order their changes committed.
///
/// One event for every committed change of a record's `tracked_status` and for its overdue flag,
/// written in the same transaction as the change (`docs/events.md`). `next_cursor` is kept on
/// the last page too: keep it, and ask again later with `after` to get what happened since; no
/// event that commits late is ever skipped. Events are kept `EVENT_RETENTION_DAYS` (30).
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(
        ("after" = Option<String>, Query,
         description = "The `next_cursor` of the previous page, unchanged."),
        // A string, not an array with `explode = false`: generated clients ignore `explode`
        // and repeat the parameter, which is a 400 here (see `GET /social/posts`).
        ("type" = Option<String>, Query,
         pattern = "^post\\.(scheduled|posted|partial|failed|unknown|cancelled|deleted|overdue)(,post\\.(scheduled|posted|partial|failed|unknown|cancelled|deleted|overdue))*$",
         description = "Only these types: one, or several separated by commas, each at most \
                        once (`post.posted,post.failed`)."),
        ("workspace_id" = Option<uuid::Uuid>, Query,
         description = "Only this workspace of your organization."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100,
         description = "Events per page, 1 to 100 (default 20)."),
    ),
    responses(
        (status = 200, description = "A page, at most 1 MiB; `next_cursor` says where to go on \
                                      from.", body = EventList),
        (status = 400, description = "`validation_error`, naming each parameter.",
         body = ErrorBody),
        (status = 404, description = "`not_found`: no such workspace in your organization.",
         body = ErrorBody),
    ),
)]
async fn list_events(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<EventList>, ApiError> {
    Ok(Json(state.events.feed(caller, &query).await?))
}
