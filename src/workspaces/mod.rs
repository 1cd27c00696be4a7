//! Workspaces over the API: create one, list the organization's (primary first, then oldest
//! first, a page at a time), read one. Free of HTTP; scoped to the caller's organization, so
//! another organization's workspace is not found. The profile key is never shown: only whether
//! there is one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::workspace_list::WorkspacePageQuery;
use crate::domain::{FieldError, ValidationErrors, WorkspacePosition};
use crate::publishing::AppError;
use crate::store::{DynStore, StoreError, WorkspaceInfo};

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
    pub created_at: DateTime<Utc>,
}

impl From<WorkspaceInfo> for WorkspaceDetail {
    fn from(w: WorkspaceInfo) -> Self {
        WorkspaceDetail {
            id: w.id,
            name: w.name,
            is_primary: w.is_primary,
            has_profile_key: w.has_profile_key,
            created_at: w.created_at,
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
}

impl Workspaces {
    pub fn new(store: DynStore) -> Workspaces {
        Workspaces { store }
    }

    /// `POST /workspaces` `{name, create_ayrshare_profile?}`. A name already used in the
    /// organization is a 409, so a retry never makes a second workspace.
    pub async fn create(
        &self,
        organization_id: Uuid,
        body: Value,
    ) -> Result<WorkspaceDetail, AppError> {
        let request = CreateRequest::parse(body).map_err(AppError::Validation)?;
        if request.create_ayrshare_profile {
            // Not refused silently: creating the Ayrshare profile (write-ahead, orphan
            // detection) is not in this build yet; nothing is written.
            return Err(AppError::field(
                "create_ayrshare_profile",
                "creating an Ayrshare profile is not supported by this version yet; create the \
                 workspace without it",
            ));
        }
        let created = self
            .store
            .create_workspace(organization_id, &request.name, None)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(detail) => AppError::Conflict {
                    detail,
                    record: None,
                },
                other => other.into(),
            })?;
        self.read(organization_id, created.id).await
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
        self.store
            .find_workspace_info(organization_id, id)
            .await?
            .map(WorkspaceDetail::from)
            .ok_or_else(|| not_found(&id.to_string()))
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
