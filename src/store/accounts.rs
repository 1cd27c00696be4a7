//! Organizations, their API keys and their workspaces: who is calling, and on whose Ayrshare
//! profile.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use super::StoreError;
use crate::domain::{KeyHash, WorkspacePosition};

/// A customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A workspace of an organization; its profile key picks an Ayrshare user profile.
#[derive(Clone)]
pub struct Workspace {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub is_primary: bool,
    /// Sent as `Profile-Key`; a secret, so `Debug` hides it.
    pub ayrshare_profile_key: Option<SecretString>,
    /// `creating`/`orphaned`: the workspace's own profile is not made (or its key was lost), so
    /// it must not post (it would go out on the primary profile); `created` or none otherwise.
    pub profile_state: Option<String>,
}

impl Workspace {
    /// Whether the workspace waits for a profile of its own that it does not have yet.
    pub fn profile_pending(&self) -> bool {
        self.ayrshare_profile_key.is_none()
            && matches!(self.profile_state.as_deref(), Some("creating" | "orphaned"))
    }
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workspace")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("name", &self.name)
            .field("is_primary", &self.is_primary)
            .field(
                "has_ayrshare_profile_key",
                &self.ayrshare_profile_key.is_some(),
            )
            .field("profile_state", &self.profile_state)
            .finish()
    }
}

/// Who is calling: the organization and the key it used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub organization_id: Uuid,
    pub api_key_id: Uuid,
}

/// An API key as listed: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub prefix: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Roughly when the key was last used (kept to the minute), or never.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A workspace as listed: whether it has an Ayrshare profile key, never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceInfo {
    pub id: Uuid,
    pub name: String,
    pub is_primary: bool,
    pub has_profile_key: bool,
    /// `creating` or `orphaned` while an Ayrshare profile this service creates has no stored
    /// key; `created` once it has; `None` when no profile was created here.
    pub profile_state: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Where the Ayrshare profile create of a workspace stands, as its row keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileCreate {
    pub workspace_id: Uuid,
    pub name: String,
    pub idempotency_key: Option<String>,
    pub profile_state: Option<String>,
    pub profile_title: Option<String>,
    pub profile_ref_id: Option<String>,
}

/// How a profile create ended, for [`AccountStore::settle_profile_create`].
pub enum ProfileSettle {
    /// Ayrshare answered with the key: sealed and stored, the row `created`.
    Created {
        profile_key: SecretString,
        ref_id: Option<String>,
    },
    /// A profile with the row's title exists and its key is lost: the row `orphaned`.
    Orphaned { ref_id: Option<String> },
    /// The answer did not come: the row stays `creating`, its claim let go for a retry.
    Released,
    /// Ayrshare refused the create (nothing made there): the `creating` row is removed.
    Refused,
}

/// The storage of organizations, keys and workspaces.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The active (not revoked) key with this hash.
    async fn authenticate(&self, hash: &KeyHash) -> Result<Option<Caller>, StoreError>;
    /// The given workspace of the organization, or its primary one when `workspace_id` is `None`.
    async fn find_workspace(
        &self,
        organization_id: Uuid,
        workspace_id: Option<Uuid>,
    ) -> Result<Option<Workspace>, StoreError>;
    /// The organization with this name, created with its primary workspace if it does not exist.
    async fn ensure_organization(&self, name: &str) -> Result<Organization, StoreError>;
    async fn find_organization(&self, name: &str) -> Result<Option<Organization>, StoreError>;
    async fn find_organization_by_id(&self, id: Uuid) -> Result<Option<Organization>, StoreError>;
    async fn count_organizations(&self) -> Result<i64, StoreError>;
    /// The organization's workspaces, the primary one first, then oldest first.
    async fn list_workspaces(
        &self,
        organization_id: Uuid,
    ) -> Result<Vec<WorkspaceInfo>, StoreError>;
    /// A page of the organization's workspaces in the order of `list_workspaces`, starting
    /// strictly after `after`; at most `limit` of them.
    async fn list_workspace_page(
        &self,
        organization_id: Uuid,
        after: Option<WorkspacePosition>,
        limit: i64,
    ) -> Result<Vec<WorkspaceInfo>, StoreError>;
    /// The organization's workspace with this id, as listed; another organization's is `None`.
    async fn find_workspace_info(
        &self,
        organization_id: Uuid,
        id: Uuid,
    ) -> Result<Option<WorkspaceInfo>, StoreError>;
    async fn create_workspace(
        &self,
        organization_id: Uuid,
        name: &str,
        ayrshare_profile_key: Option<&str>,
    ) -> Result<Workspace, StoreError>;
    /// Writes a workspace row with no key: `profile_title` set means `creating` (claimed until
    /// `claim_until`). False when the name or the idempotency key is taken in the organization.
    #[allow(clippy::too_many_arguments)]
    async fn insert_workspace(
        &self,
        organization_id: Uuid,
        id: Uuid,
        name: &str,
        profile_title: Option<&str>,
        idempotency_key: Option<&str>,
        claim_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// The organization's workspace holding this idempotency key, else the one of this name.
    async fn find_profile_create(
        &self,
        organization_id: Uuid,
        idempotency_key: Option<&str>,
        name: &str,
    ) -> Result<Option<ProfileCreate>, StoreError>;
    /// Takes the right to call Ayrshare for a `creating` row until `until`, if no one holds it
    /// at `now` (replicas race here, and one wins).
    async fn claim_profile_create(
        &self,
        organization_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn settle_profile_create(
        &self,
        organization_id: Uuid,
        id: Uuid,
        settle: ProfileSettle,
    ) -> Result<(), StoreError>;
    async fn insert_api_key(
        &self,
        organization_id: Uuid,
        hash: &KeyHash,
        prefix: &str,
        label: Option<&str>,
    ) -> Result<ApiKeyInfo, StoreError>;
    async fn list_api_keys(&self, organization_id: Uuid) -> Result<Vec<ApiKeyInfo>, StoreError>;
    /// The key with this id.
    async fn find_api_key(&self, id: Uuid) -> Result<Option<ApiKeyInfo>, StoreError>;
    /// Sets the key's `last_used_at` to `at`, unless it already says `not_before` or later (so
    /// that replicas sharing the database write at most about once per interval).
    async fn touch_api_key(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Revokes the key with this id or prefix (`mk_` and 8 characters); an ambiguous prefix is
    /// refused. Revoking a revoked key changes nothing and succeeds.
    async fn revoke_api_key(&self, id_or_prefix: &str) -> Result<ApiKeyInfo, StoreError>;
}

/// Finds the one key an id or a prefix names, from the candidates a backend found.
pub(super) fn pick_key(
    id_or_prefix: &str,
    mut found: Vec<ApiKeyInfo>,
) -> Result<ApiKeyInfo, StoreError> {
    match found.len() {
        0 => Err(StoreError::NotFound(format!(
            "no API key has the id or prefix {id_or_prefix}"
        ))),
        1 => Ok(found.remove(0)),
        n => Err(StoreError::Conflict(format!(
            "{n} API keys share the prefix {id_or_prefix}; revoke by id instead"
        ))),
    }
}
