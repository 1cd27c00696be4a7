//! `/social/posts`: the caller's tracking records, a page at a time. Translation only.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json, Query};
use crate::publishing::PostList;

pub fn router() -> Router<AppState> {
    Router::new().route("/social/posts", get(list_posts))
}

/// `GET /social/posts?limit&cursor&tracked_status&platform&workspace_id&created_after&created_before`.
async fn list_posts(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<PostList>, ApiError> {
    Ok(Json(state.publisher.list_posts(caller, &query).await?))
}
