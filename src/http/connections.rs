//! `/social/{platform}/connect`, `/status`, `/remove` and `/social/connections`: a workspace's
//! social accounts linked, checked and unlinked through Ayrshare. Translation only (the use
//! cases are `crate::connections`).

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{Authenticated, Json, OptionalJson, Path, Query};
use super::openapi::schemas::ErrorBody;
use crate::connections::{ConnectView, ConnectionList, RemoveView, StatusView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(connect))
        .routes(routes!(status))
        .routes(routes!(remove))
        .routes(routes!(list))
}

/// The body of `POST /social/{platform}/connect` (for the document; the use case parses it).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"workspace_id": "6f1c2a4e-0d5b-4b8e-9a77-3c1e2f9d8b10",
                          "redirect_url": "https://app.example.com/accounts/linked"}))]
pub struct ConnectRequestBody {
    /// The workspace (also accepted in the query); left out: the primary workspace.
    pub workspace_id: Option<uuid::Uuid>,
    /// Where Ayrshare's page sends the person once done: an `http(s)` URL, at most 2048
    /// characters, forwarded as written.
    pub redirect_url: Option<String>,
}

/// The body of `DELETE /social/{platform}/remove` (optional).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveRequestBody {
    /// The workspace (also accepted in the query); left out: the primary workspace.
    pub workspace_id: Option<uuid::Uuid>,
}

const PLATFORM: &str =
    "This API's platform name: x, linkedin, instagram, facebook, tiktok or youtube.";
const WORKSPACE: &str = "The workspace; left out: the primary workspace.";

/// A linking URL for a social account of the workspace.
///
/// Ayrshare's linking page for the workspace's own Ayrshare profile (`POST /profiles/generateJWT`
/// with `AYRSHARE_DOMAIN` and `AYRSHARE_PRIVATE_KEY`). Open `connect_url` in a browser; once the
/// account is linked the person is sent to `redirect_url`. A workspace without a profile of its
/// own is refused (409): linking there would change the primary profile's accounts.
#[utoipa::path(
    post,
    path = "/social/{platform}/connect",
    tag = "connections",
    params(
        ("platform" = String, Path, description = PLATFORM),
        ("workspace_id" = Option<String>, Query, description = WORKSPACE),
    ),
    request_body(content = Option<ConnectRequestBody>, description = "Optional."),
    responses(
        (status = 200, description = "The linking URL.", body = ConnectView),
        (status = 400, description = "`validation_error`: an unknown platform (the answer lists \
                                      ours), a bad `workspace_id` or `redirect_url`, another \
                                      field.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such workspace in your organization.",
         body = ErrorBody),
        (status = 409, description = "`conflict`: the workspace has no Ayrshare profile of its \
                                      own; nothing was sent to Ayrshare.", body = ErrorBody),
        (status = 502, description = "`provider_error` or `provider_rejected`: Ayrshare failed \
                                      or refused.", body = ErrorBody),
        (status = 503, description = "`not_configured`: `AYRSHARE_DOMAIN` or \
                                      `AYRSHARE_PRIVATE_KEY` is not set (the detail names \
                                      them).", body = ErrorBody),
    ),
)]
async fn connect(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(platform): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    OptionalJson(body): OptionalJson,
) -> Result<Json<ConnectView>, ApiError> {
    Ok(Json(
        state
            .connections
            .connect(caller, &platform, body, &query)
            .await?,
    ))
}

/// Whether a social account is linked to the workspace now.
///
/// Asks Ayrshare (`GET /user` with the workspace's profile, or the primary profile for a
/// workspace without one) and refreshes the stored state of the workspace's connections.
#[utoipa::path(
    get,
    path = "/social/{platform}/status",
    tag = "connections",
    params(
        ("platform" = String, Path, description = PLATFORM),
        ("workspace_id" = Option<String>, Query, description = WORKSPACE),
    ),
    responses(
        (status = 200, description = "The platform's state; `account` when connected.",
         body = StatusView),
        (status = 400, description = "`validation_error`: an unknown platform, a bad \
                                      `workspace_id`, another parameter.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such workspace in your organization.",
         body = ErrorBody),
        (status = 502, description = "`provider_error`: Ayrshare failed.", body = ErrorBody),
    ),
)]
async fn status(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(platform): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<StatusView>, ApiError> {
    Ok(Json(
        state.connections.status(caller, &platform, &query).await?,
    ))
}

/// Unlink a social account from the workspace.
///
/// `DELETE /profiles/social` with the workspace's own `Profile-Key`. A workspace without a
/// profile of its own is refused (409) without calling Ayrshare: without a `Profile-Key`
/// Ayrshare unlinks the **primary** profile's account. 200 also when nothing was linked.
#[utoipa::path(
    delete,
    path = "/social/{platform}/remove",
    tag = "connections",
    params(
        ("platform" = String, Path, description = PLATFORM),
        ("workspace_id" = Option<String>, Query, description = WORKSPACE),
    ),
    request_body(content = Option<RemoveRequestBody>, description = "Optional."),
    responses(
        (status = 200, description = "Unlinked.", body = RemoveView),
        (status = 400, description = "`validation_error`: an unknown platform, a bad \
                                      `workspace_id`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such workspace in your organization.",
         body = ErrorBody),
        (status = 409, description = "`conflict`: the workspace has no Ayrshare profile of its \
                                      own; nothing was sent to Ayrshare.", body = ErrorBody),
        (status = 502, description = "`provider_error` or `provider_rejected`.", body = ErrorBody),
    ),
)]
async fn remove(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(platform): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    OptionalJson(body): OptionalJson,
) -> Result<Json<RemoveView>, ApiError> {
    Ok(Json(
        state
            .connections
            .remove(caller, &platform, body, &query)
            .await?,
    ))
}

/// The organization's linked social accounts.
///
/// From the stored state only (no Ayrshare call), oldest link first, a page of at most 100.
#[utoipa::path(
    get,
    path = "/social/connections",
    tag = "connections",
    params(
        ("workspace_id" = Option<String>, Query, description = "Only this workspace."),
        ("platform" = Option<String>, Query, description = "Only this platform."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100,
         description = "Accounts per page, 1 to 100 (default 100)."),
        ("after" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of linked accounts.", body = ConnectionList),
        (status = 400, description = "`validation_error`: a bad filter, `limit` or `after`, or \
                                      a parameter this list does not take.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such workspace in your organization.",
         body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<ConnectionList>, ApiError> {
    Ok(Json(state.connections.list(caller, &query).await?))
}
