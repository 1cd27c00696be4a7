//! Workspaces over the API: create one, list the organization's (primary first, then oldest
//! first, a page at a time), read one. Free of HTTP; scoped to the caller's organization, so
//! another organization's workspace is not found. The profile key is never shown: only whether
//! there is one.

pub mod profile_create;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_util::task::TaskTracker;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ayrshare::AyrshareClient;
use crate::domain::Platform;
use crate::domain::workspace_list::WorkspacePageQuery;
use crate::domain::{FieldError, ValidationErrors, WorkspacePosition};
use crate::publishing::AppError;
use crate::store::{ConnectionFilter, DynStore, WorkspaceInfo};
use profile_create::ProfileCreator;

/// The longest workspace name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A workspace as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"id": "6f1c1f2e-8d7b-4a55-9d7e-2b1f0c3d4e5f", "name": "acme-brand",
                          "is_primary": false, "has_profile_key": false,
                          "created_at": "2026-12-02T18:00:00Z"}))]
pub struct WorkspaceDetail {
    pub id: Uuid,
    pub name: String,
    pub is_primary: bool,
    /// Whether the workspace posts with an Ayrshare profile key of its own (never the key);
    /// false: Ayrshare's primary profile.
    pub has_profile_key: bool,
    /// While the workspace's own Ayrshare profile is not made: `creating` (an answer from
    /// Ayrshare is awaited or was lost; send the create again to settle it) or `orphaned` (the
    /// profile exists at Ayrshare, its key was lost). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = json!(null))]
    pub profile_state: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `GET /workspaces/{id}` only: the platforms linked to the workspace's profile, from the
    /// stored connection state (`GET /social/connections`; no Ayrshare call), in our names.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["x", "linkedin"]))]
    pub platforms: Option<Vec<String>>,
}

impl From<WorkspaceInfo> for WorkspaceDetail {
    fn from(w: WorkspaceInfo) -> Self {
        WorkspaceDetail {
            id: w.id,
            name: w.name,
            is_primary: w.is_primary,
            has_profile_key: w.has_profile_key,
            profile_state: w.profile_state.filter(|s| s != "created"),
            created_at: w.created_at,
            platforms: None,
        }
    }
}

/// A page of workspaces.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct WorkspaceList {
    pub workspaces: Vec<WorkspaceDetail>,
    /// Pass it as `after` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The workspace use cases. Cheap to clone.
#[derive(Clone)]
pub struct Workspaces {
    store: DynStore,
    profiles: ProfileCreator,
    tasks: TaskTracker,
}

/// A created workspace, and whether it is the replay of an earlier request's.
pub struct Created {
    pub workspace: WorkspaceDetail,
    pub replayed: bool,
}

impl Workspaces {
    /// `claim_for` bounds one profile create (the Ayrshare timeout and room to record it);
    /// `tasks` carries creates to their end when the caller goes away.
    pub fn new(
        store: DynStore,
        ayrshare: Arc<AyrshareClient>,
        claim_for: Duration,
        tasks: TaskTracker,
    ) -> Workspaces {
        Workspaces {
            profiles: ProfileCreator {
                store: store.clone(),
                ayrshare,
                claim_for,
            },
            store,
            tasks,
        }
    }

    /// `POST /workspaces` `{name, create_ayrshare_profile?}`. A name already used in the
    /// organization is a 409, so a retry never makes a second workspace; with an
    /// `Idempotency-Key` (kept on the row, unique in the organization) a retry replays the
    /// workspace, or resumes its profile create (see [`profile_create`]).
    pub async fn create(
        &self,
        organization_id: Uuid,
        body: Value,
        idempotency_key: Option<&str>,
    ) -> Result<Created, AppError> {
        let request = CreateRequest::parse(body).map_err(AppError::Validation)?;
        let id = Uuid::new_v4();
        let title = request
            .create_ayrshare_profile
            .then(|| profile_create::profile_title(id, &request.name));
        let inserted = self
            .store
            .insert_workspace(
                organization_id,
                id,
                &request.name,
                title.as_deref(),
                idempotency_key,
                self.profiles.claim_until(),
            )
            .await?;
        if inserted {
            if let Some(title) = title {
                let profiles = self.profiles.clone();
                self.tasks
                    .spawn(async move { profiles.create(organization_id, id, &title).await })
                    .await
                    .map_err(|e| {
                        AppError::Unavailable(format!("the profile create stopped: {e}"))
                    })??;
            }
            return Ok(Created {
                workspace: self.read(organization_id, id).await?,
                replayed: false,
            });
        }
        let taken = || AppError::Conflict {
            detail: format!("a workspace named {} already exists", request.name),
            record: None,
        };
        let Some(existing) = self
            .store
            .find_profile_create(organization_id, idempotency_key, &request.name)
            .await?
        else {
            return Err(taken());
        };
        let same_key =
            idempotency_key.is_some() && existing.idempotency_key.as_deref() == idempotency_key;
        let wants_profile = request.create_ayrshare_profile;
        if same_key
            && (existing.name != request.name || existing.profile_title.is_some() != wants_profile)
        {
            return Err(AppError::Conflict {
                detail: format!(
                    "this Idempotency-Key was used by another request (it created workspace {});                      send a new key for a new request",
                    existing.workspace_id
                ),
                record: None,
            });
        }
        // The same name without a key resumes only an unfinished profile create without one:
        // the name is unique in the organization, so it names that create.
        let resumable = same_key
            || (idempotency_key.is_none() && existing.idempotency_key.is_none() && wants_profile);
        if !resumable {
            return Err(taken());
        }
        match existing.profile_state.as_deref() {
            Some("creating") | Some("orphaned") if wants_profile => {
                let profiles = self.profiles.clone();
                let row = existing.clone();
                self.tasks
                    .spawn(async move { profiles.resume(organization_id, &row).await })
                    .await
                    .map_err(|e| {
                        AppError::Unavailable(format!("the profile create stopped: {e}"))
                    })??;
            }
            _ if !same_key => return Err(taken()),
            _ => {}
        }
        Ok(Created {
            workspace: self.read(organization_id, existing.workspace_id).await?,
            replayed: true,
        })
    }

    /// `GET /workspaces`.
    pub async fn list(
        &self,
        organization_id: Uuid,
        query: &[(String, String)],
    ) -> Result<WorkspaceList, AppError> {
        let query = WorkspacePageQuery::parse(query).map_err(AppError::Validation)?;
        let limit = i64::from(query.limit);
        // One more than asked says whether there is a next page.
        let mut found = self
            .store
            .list_workspace_page(organization_id, query.after, limit + 1)
            .await?;
        let more = found.len() as i64 > limit;
        found.truncate(query.limit as usize);
        let next_cursor = more.then(|| found.last()).flatten().map(|w| {
            WorkspacePosition {
                is_primary: w.is_primary,
                created_at: w.created_at,
                id: w.id,
            }
            .encode()
        });
        Ok(WorkspaceList {
            workspaces: found.into_iter().map(WorkspaceDetail::from).collect(),
            next_cursor,
        })
    }

    /// `GET /workspaces/{id}`: another organization's id, or one that is no uuid, is not found.
    pub async fn read_by_text(
        &self,
        organization_id: Uuid,
        id: &str,
    ) -> Result<WorkspaceDetail, AppError> {
        let uuid = Uuid::parse_str(id).map_err(|_| not_found(id))?;
        self.read(organization_id, uuid).await
    }

    async fn read(&self, organization_id: Uuid, id: Uuid) -> Result<WorkspaceDetail, AppError> {
        let mut workspace = self
            .store
            .find_workspace_info(organization_id, id)
            .await?
            .map(WorkspaceDetail::from)
            .ok_or_else(|| not_found(&id.to_string()))?;
        // One row per platform at most: the page below holds them all.
        let linked = self
            .store
            .list_connections(
                organization_id,
                ConnectionFilter {
                    workspace_id: Some(id),
                    platform: None,
                },
                None,
                Platform::ALL.len() as i64,
            )
            .await?;
        workspace.platforms = Some(
            linked
                .into_iter()
                .map(|c| c.platform.as_str().to_owned())
                .collect(),
        );
        Ok(workspace)
    }
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!(
        "no workspace with id {}",
        crate::domain::new_post::quote(id)
    ))
}

/// A checked create body.
struct CreateRequest {
    name: String,
    create_ayrshare_profile: bool,
}

impl CreateRequest {
    fn parse(body: Value) -> Result<CreateRequest, ValidationErrors> {
        let Value::Object(map) = body else {
            return Err(ValidationErrors::one(FieldError::new(
                "body",
                "must be a JSON object",
            )));
        };
        let mut name = None;
        let mut create_ayrshare_profile = false;
        for (key, value) in map {
            match (key.as_str(), value) {
                ("name", Value::String(text)) => {
                    if text.trim().is_empty() {
                        return Err(one("name", "must not be blank"));
                    }
                    if text.chars().any(char::is_control) {
                        return Err(one("name", "must not contain control characters"));
                    }
                    if text.chars().count() > MAX_NAME_CHARS {
                        return Err(one(
                            "name",
                            format!("must be at most {MAX_NAME_CHARS} characters"),
                        ));
                    }
                    name = Some(text);
                }
                ("name", _) => return Err(one("name", "must be a string")),
                ("create_ayrshare_profile", Value::Bool(flag)) => create_ayrshare_profile = flag,
                ("create_ayrshare_profile", Value::Null) => {}
                ("create_ayrshare_profile", _) => {
                    return Err(one("create_ayrshare_profile", "must be true or false"));
                }
                (other, _) => {
                    return Err(one(
                        other,
                        "is not a field of a workspace (known: name, create_ayrshare_profile)",
                    ));
                }
            }
        }
        Ok(CreateRequest {
            name: name.ok_or_else(|| one("name", "is required"))?,
            create_ayrshare_profile,
        })
    }
}

fn one(field: &str, message: impl Into<String>) -> ValidationErrors {
    ValidationErrors::one(FieldError::new(field, message))
}
