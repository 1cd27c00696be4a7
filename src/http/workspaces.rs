//! `/workspaces`: create, list and read the organization's workspaces. Translation only (the
//! use cases are `crate::workspaces`); another organization's workspace is a 404.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json, Path, Query};
use super::openapi::schemas::ErrorBody;
use super::social_post::{idempotency_key, mark_replayed};
use crate::workspaces::{WorkspaceDetail, WorkspaceList, Workspaces};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_workspace, list_workspaces))
        .routes(routes!(read_workspace))
}

fn workspaces(state: &AppState) -> Workspaces {
    let publisher = &state.publisher;
    Workspaces::new(
        publisher.store.clone(),
        publisher.ayrshare.clone(),
        publisher.settings.answer_deadline(),
        publisher.tasks.clone(),
    )
}

/// The body of `POST /workspaces` (for the document; the use case parses the JSON).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "acme-brand", "create_ayrshare_profile": true}))]
pub struct CreateWorkspaceRequest {
    /// Unique in your organization; not blank, no control characters, at most 200 characters.
    pub name: String,
    /// `true`: the service creates the workspace's own Ayrshare User Profile (titled
    /// `mosaic-social workspace {id}: {name}`) and keeps its key, sealed; default false (the
    /// workspace posts on Ayrshare's primary profile).
    pub create_ayrshare_profile: Option<bool>,
}

/// Create a workspace.
///
/// A new, non-primary workspace of your organization, posting on Ayrshare's primary profile,
/// or, with `create_ayrshare_profile`, on a profile of its own that the service creates. The
/// row is written before Ayrshare is called: if Ayrshare's answer is lost, send the request
/// again (same `Idempotency-Key`, or the same name): it looks the profile up by its title and
/// never creates a second one; a profile found without its key is reported (409, `orphaned`).
#[utoipa::path(
    post,
    path = "/workspaces",
    tag = "workspaces",
    request_body = CreateWorkspaceRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header,
         description = "A retry with the same key replays the workspace (header \
                        `Idempotent-Replayed: true`) or resumes its profile create."),
    ),
    responses(
        (status = 201, description = "Created (or replayed).", body = WorkspaceDetail),
        (status = 409, description = "`conflict`: a workspace of that name exists, the \
                                      Idempotency-Key was used by another request, a create of \
                                      this workspace's profile is in flight, or its profile \
                                      is `orphaned` (the detail names its title and refId and \
                                      what to do).", body = ErrorBody),
        (status = 400, description = "`validation_error` (a bad body or Idempotency-Key; \
                                      nothing written) or `provider_rejected` (Ayrshare \
                                      refused the profile; nothing kept).", body = ErrorBody),
        (status = 502, description = "`provider_error`: Ayrshare failed; the workspace stays \
                                      `creating`, send the request again.", body = ErrorBody),
        (status = 503, description = "`provider_unavailable`: Ayrshare could not be reached.",
         body = ErrorBody),
        (status = 504, description = "`provider_timeout`: Ayrshare's answer was lost; the \
                                      workspace stays `creating`, send the request again.",
         body = ErrorBody),
    ),
)]
async fn create_workspace(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let created = workspaces(&state)
        .create(
            caller.organization_id,
            body,
            key.as_ref().map(|k| k.as_str()),
        )
        .await?;
    let mut response = (StatusCode::CREATED, Json(created.workspace)).into_response();
    mark_replayed(&mut response, created.replayed);
    Ok(response)
}

/// The organization's workspaces, the primary one first, then oldest first.
#[utoipa::path(
    get,
    path = "/workspaces",
    tag = "workspaces",
    params(
        ("after" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100,
         description = "Workspaces per page, 1 to 100 (default 20)."),
    ),
    responses(
        (status = 200, description = "A page; never a profile key.", body = WorkspaceList),
        (status = 400, description = "`validation_error`: a bad `limit` or `after`, or a \
                                      parameter this list does not take.", body = ErrorBody),
    ),
)]
async fn list_workspaces(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<WorkspaceList>, ApiError> {
    Ok(Json(
        workspaces(&state)
            .list(caller.organization_id, &query)
            .await?,
    ))
}

/// One workspace of the organization.
#[utoipa::path(
    get,
    path = "/workspaces/{id}",
    tag = "workspaces",
    params(("id" = String, Path, description = "The workspace's id.")),
    responses(
        (status = 200, description = "The workspace; never its profile key.",
         body = WorkspaceDetail),
    ),
)]
async fn read_workspace(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<WorkspaceDetail>, ApiError> {
    Ok(Json(
        workspaces(&state)
            .read_by_text(caller.organization_id, &id)
            .await?,
    ))
}
