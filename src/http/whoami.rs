//! `/whoami`: the calling organization, key and workspaces (a page of them). Translation only.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json, Query};
use super::openapi::schemas::ErrorBody;
use crate::publishing::WhoamiView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(whoami))
}

/// Who is calling: your organization, this key and your workspaces.
///
/// From the database; never a key, never a profile key. The workspaces come a page of at most
/// 100 at a time, primary first, then oldest first: pass `workspaces_next_cursor` back as
/// `workspaces_cursor` for the next page.
#[utoipa::path(
    get,
    path = "/whoami",
    tag = "account",
    params(
        ("workspaces_cursor" = Option<String>, Query,
         description = "The `workspaces_next_cursor` of the previous answer, unchanged."),
    ),
    responses(
        (status = 200, description = "The caller; `workspaces_next_cursor` is null on the last \
                                      page of workspaces.", body = WhoamiView),
        (status = 400, description = "`validation_error`: a cursor this service did not issue, \
                                      or another parameter.", body = ErrorBody),
    ),
)]
async fn whoami(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<WhoamiView>, ApiError> {
    Ok(Json(state.publisher.whoami(caller, &query).await?))
}
