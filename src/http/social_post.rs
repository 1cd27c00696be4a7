//! `/social/post`: create (publish or schedule) a post, read its downstream outcome, update,
//! delete it, read its analytics, and read the tracking record. Translation only: the work is
//! done by `publishing`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json, OptionalJson, Path, Query};
use crate::domain::IdempotencyKey;
use crate::publishing::{
    AnalyticsView, AppError, DeletionView, PostView, TrackingView, UpdateView,
};

/// The request header that makes a create safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header that marks a replayed answer.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/social/post", post(create_post))
        .route(
            "/social/post/{post_id}",
            get(get_post).patch(update_post).delete(delete_post),
        )
        .route("/social/post/{post_id}/analytics", get(get_analytics))
        .route("/social/post/track/{tracking_id}", get(get_tracking))
}

/// `POST /social/post`.
async fn create_post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let answer = state.publisher.create(caller, body, key).await?;
    let mut response = match answer.result {
        Ok(view) => Json(view).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    };
    if answer.replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The `Idempotency-Key` header, checked; two of them are refused (one meaning per request).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
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

/// `GET /social/post/{post_id}`: asks Ayrshare, and brings the record up to date when the post
/// has settled.
async fn get_post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(post_id): Path<String>,
) -> Result<Json<PostView>, ApiError> {
    Ok(Json(state.publisher.read_post(caller, &post_id).await?))
}

/// `GET /social/post/track/{tracking_id}`: the record, from the database only.
async fn get_tracking(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tracking_id): Path<String>,
) -> Result<Json<TrackingView>, ApiError> {
    Ok(Json(
        state.publisher.read_tracking(caller, &tracking_id).await?,
    ))
}

/// `PATCH /social/post/{post_id}`: reschedule, pause or resume, annotate or approve.
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

/// `DELETE /social/post/{post_id}`: cancel a scheduled post or delete a published one.
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

/// `GET /social/post/{post_id}/analytics[?platforms=x,linkedin]`.
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
