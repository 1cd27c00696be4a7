//! `/whoami`: the calling organization, key and workspaces. Translation only.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json};
use crate::publishing::WhoamiView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(whoami))
}

/// Who is calling: your organization, this key and your workspaces.
///
/// From the database; never a key, never a profile key.
#[utoipa::path(
    get,
    path = "/whoami",
    tag = "account",
    responses((status = 200, description = "The caller.", body = WhoamiView)),
)]
async fn whoami(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<WhoamiView>, ApiError> {
    Ok(Json(state.publisher.whoami(caller).await?))
}
