//! `/workspaces`: create, list and read the organization's workspaces. Translation only (the
//! use cases are `crate::workspaces`); another organization's workspace is a 404.

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
use crate::workspaces::{WorkspaceDetail, WorkspaceList, Workspaces};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_workspace, list_workspaces))
        .routes(routes!(read_workspace))
}

fn workspaces(state: &AppState) -> Workspaces {
    Workspaces::new(state.publisher.store.clone())
}

/// The body of `POST /workspaces` (for the document; the use case parses the JSON).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "acme-brand"}))]
pub struct CreateWorkspaceRequest {
    /// Unique in your organization; not blank, no control characters, at most 200 characters.
    pub name: String,
    /// Creating the workspace's own Ayrshare profile is not supported by this version yet:
    /// `true` is a 400 and nothing is written.
    pub create_ayrshare_profile: Option<bool>,
}

/// Create a workspace.
///
/// A new, non-primary workspace of your organization, posting on Ayrshare's primary profile.
#[utoipa::path(
    post,
    path = "/workspaces",
    tag = "workspaces",
    request_body = CreateWorkspaceRequest,
    responses(
        (status = 201, description = "Created.", body = WorkspaceDetail),
        (status = 409, description = "`conflict`: a workspace of that name exists.",
         body = ErrorBody),
    ),
)]
async fn create_workspace(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<WorkspaceDetail>), ApiError> {
    let created = workspaces(&state)
        .create(caller.organization_id, body)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
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
