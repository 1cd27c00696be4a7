//! `/whoami`: the calling organization, key and workspaces. Translation only.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json};
use crate::publishing::WhoamiView;

pub fn router() -> Router<AppState> {
    Router::new().route("/whoami", get(whoami))
}

/// `GET /whoami`: never a key, never a profile key.
async fn whoami(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<WhoamiView>, ApiError> {
    Ok(Json(state.publisher.whoami(caller).await?))
}
