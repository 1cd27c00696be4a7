//! `/webhooks/endpoints`: the organization's webhook endpoints, their secrets, test events,
//! redelivery and the log of attempts. Translation only (the use cases are
//! `events::endpoints`); another organization's endpoint is a 404 on every route.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json, Path, Query};
use super::openapi::schemas::ErrorBody;
use crate::events::{
    AttemptList, CreatedEndpoint, EndpointList, EndpointView, QueuedTest, Redelivered,
    RotatedSecret,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(read_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
}

/// The body of `POST /webhooks/endpoints` (for the document; the use case parses the JSON).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.example.com/mosaic",
                          "event_types": ["post.posted", "post.failed"],
                          "description": "production backend"}))]
pub struct CreateEndpointRequest {
    /// `https://` (`http://` only with `WEBHOOK_ALLOW_HTTP`), at most 2048 characters, no user
    /// name or password, and no loopback, private, link-local or metadata address.
    pub url: String,
    /// Only these types (`post.scheduled`, `post.posted`, `post.partial`, `post.failed`,
    /// `post.unknown`, `post.cancelled`, `post.deleted`, `post.overdue`, `webhook.test`); left
    /// out or null: every type.
    pub event_types: Option<Vec<String>>,
    /// Only this workspace of your organization; left out: every workspace.
    pub workspace_id: Option<uuid::Uuid>,
    /// At most 256 characters.
    pub description: Option<String>,
}

/// The body of `PATCH /webhooks/endpoints/{id}`: at least one field.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"disabled": false}))]
pub struct UpdateEndpointRequest {
    /// Checked as on the create.
    pub url: Option<String>,
    /// null: every type.
    pub event_types: Option<Vec<String>>,
    /// null: none.
    pub description: Option<String>,
    /// `true` stops deliveries; `false` enables again (clearing the reason and the failing
    /// streak).
    pub disabled: Option<bool>,
}

/// The body of `POST /webhooks/endpoints/{id}/redeliver`: exactly one field.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"since": "2026-12-01T00:00:00Z"}))]
pub struct RedeliverRequest {
    /// One post event, by its id.
    pub event_id: Option<String>,
    /// Every post event of changes made at or after this time (RFC 3339) that the endpoint
    /// receives, oldest first, at most 1000 a call.
    pub since: Option<String>,
}

const ID: &str = "The endpoint's id, as the create answered it.";

/// Register a webhook endpoint.
///
/// Post events (and `webhook.test`) are delivered to it, signed as Standard Webhooks says. The
/// answer shows the signing `secret`: this and the rotation are the only answers that do.
#[utoipa::path(
    post,
    path = "/webhooks/endpoints",
    tag = "endpoints",
    request_body = CreateEndpointRequest,
    responses(
        (status = 201, description = "Created; keep `secret`.", body = CreatedEndpoint),
        (status = 404, description = "`not_found`: no such workspace in your organization.",
         body = ErrorBody),
        (status = 409, description = "`conflict`: the organization has `WEBHOOK_MAX_ENDPOINTS` \
                                      endpoints already.", body = ErrorBody),
        (status = 503, description = "`not_configured`: no `SECRETS_KEY`, or \
                                      `service_unavailable`.", body = ErrorBody),
    ),
)]
async fn create_endpoint(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    let created = state
        .events
        .create_endpoint(caller.organization_id, body)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The organization's webhook endpoints, oldest first.
#[utoipa::path(
    get,
    path = "/webhooks/endpoints",
    tag = "endpoints",
    params(
        ("after" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100,
         description = "Endpoints per page, 1 to 100 (default 20)."),
    ),
    responses(
        (status = 200, description = "A page; never a secret.", body = EndpointList),
        (status = 400, description = "`validation_error`: a bad `limit` or `after`, or a \
                                      parameter this list does not take.", body = ErrorBody),
    ),
)]
async fn list_endpoints(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<EndpointList>, ApiError> {
    Ok(Json(
        state
            .events
            .list_endpoints(caller.organization_id, &query)
            .await?,
    ))
}

/// One webhook endpoint (never its secret).
#[utoipa::path(
    get,
    path = "/webhooks/endpoints/{id}",
    tag = "endpoints",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, description = "The endpoint.", body = EndpointView),
        (status = 404, description = "`not_found`.", body = ErrorBody),
    ),
)]
async fn read_endpoint(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(
        state
            .events
            .read_endpoint(caller.organization_id, &id)
            .await?,
    ))
}

/// Change an endpoint's url, types or description, or disable or enable it.
#[utoipa::path(
    patch,
    path = "/webhooks/endpoints/{id}",
    tag = "endpoints",
    params(("id" = String, Path, description = ID)),
    request_body = UpdateEndpointRequest,
    responses(
        (status = 200, description = "The endpoint as changed.", body = EndpointView),
        (status = 404, description = "`not_found`.", body = ErrorBody),
    ),
)]
async fn update_endpoint(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(
        state
            .events
            .update_endpoint(caller.organization_id, &id, body)
            .await?,
    ))
}

/// Delete an endpoint, with its pending deliveries and its log.
#[utoipa::path(
    delete,
    path = "/webhooks/endpoints/{id}",
    tag = "endpoints",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`not_found`.", body = ErrorBody),
    ),
)]
async fn delete_endpoint(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .events
        .delete_endpoint(caller.organization_id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret; the old one keeps signing beside it for 24 hours.
#[utoipa::path(
    post,
    path = "/webhooks/endpoints/{id}/rotate-secret",
    tag = "endpoints",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, description = "The new secret, shown once.", body = RotatedSecret),
        (status = 404, description = "`not_found`.", body = ErrorBody),
        (status = 503, description = "`not_configured`: no `SECRETS_KEY`, or \
                                      `service_unavailable`.", body = ErrorBody),
    ),
)]
async fn rotate_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<RotatedSecret>, ApiError> {
    Ok(Json(
        state
            .events
            .rotate_secret(caller.organization_id, &id)
            .await?,
    ))
}

/// Queue a `webhook.test` event to this endpoint alone.
#[utoipa::path(
    post,
    path = "/webhooks/endpoints/{id}/test",
    tag = "endpoints",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 202, description = "Queued; it shows in the deliveries log once attempted.",
         body = QueuedTest),
        (status = 404, description = "`not_found`.", body = ErrorBody),
        (status = 409, description = "`conflict`: the endpoint is disabled.", body = ErrorBody),
    ),
)]
async fn send_test(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<QueuedTest>), ApiError> {
    let queued = state.events.send_test(caller.organization_id, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(queued)))
}

/// The endpoint's delivery attempts, newest first.
#[utoipa::path(
    get,
    path = "/webhooks/endpoints/{id}/deliveries",
    tag = "endpoints",
    params(
        ("id" = String, Path, description = ID),
        ("after" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100,
         description = "Attempts per page, 1 to 100 (default 20)."),
    ),
    responses(
        (status = 200, description = "A page of attempts.", body = AttemptList),
        (status = 400, description = "`validation_error`: a bad `limit` or `after`, or a \
                                      parameter this list does not take.", body = ErrorBody),
        (status = 404, description = "`not_found`.", body = ErrorBody),
    ),
)]
async fn list_deliveries(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<AttemptList>, ApiError> {
    Ok(Json(
        state
            .events
            .list_attempts(caller.organization_id, &id, &query)
            .await?,
    ))
}

/// Send past post events to this endpoint again: one by id, or every one since a time.
#[utoipa::path(
    post,
    path = "/webhooks/endpoints/{id}/redeliver",
    tag = "endpoints",
    params(("id" = String, Path, description = ID)),
    request_body = RedeliverRequest,
    responses(
        (status = 202, description = "Queued, a new delivery per event.", body = Redelivered),
        (status = 404, description = "`not_found`: no such endpoint, or no such event that \
                                      it receives.", body = ErrorBody),
        (status = 409, description = "`conflict`: the endpoint is disabled.", body = ErrorBody),
    ),
)]
async fn redeliver(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Redelivered>), ApiError> {
    let queued = state
        .events
        .redeliver(caller.organization_id, &id, body)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(queued)))
}
