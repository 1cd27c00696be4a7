//! Social account connections: the stored state of each (workspace, platform) link, changed
//! with its `account.connected` / `account.disconnected` event in one transaction, and the
//! Ayrshare profile (`refId`) each workspace acts on, so that a `social` webhook finds it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use super::rows::Column;
use crate::domain::Platform;
use crate::domain::connection::{
    Applied, ChangeReason, ConnectionChange, ConnectionPosition, ConnectionState, LinkedAccount,
};

/// A connection as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredConnection {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    pub platform: Platform,
    pub state: ConnectionState,
    pub updated_at: DateTime<Utc>,
}

/// What applying a change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionApplied {
    /// The connection after the change; `None` when nothing was ever stored for it and the
    /// change (an unlink) left it so.
    pub connection: Option<StoredConnection>,
    /// The event written with it (`evt_…`, and its type).
    pub event: Option<(String, &'static str)>,
}

/// Which connections to list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionFilter {
    pub workspace_id: Option<Uuid>,
    pub platform: Option<Platform>,
}

/// A workspace an Ayrshare profile belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileOwner {
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
}

/// The most workspaces one `refId` is looked up for: a bound on the work of one webhook (many
/// workspaces without a profile key share the primary profile's refId).
pub const MAX_PROFILE_OWNERS: i64 = 1000;

/// The storage of connections.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Applies `change` to the stored state of its (workspace, platform) as
    /// `domain::connection::apply` decides, and writes the event it emits, in one transaction;
    /// concurrent changes of one connection take turns.
    async fn apply_connection(
        &self,
        change: &ConnectionChange,
    ) -> Result<ConnectionApplied, StoreError>;
    /// The connection of this workspace on this platform, if anything was stored for it.
    async fn find_connection(
        &self,
        workspace_id: Uuid,
        platform: Platform,
    ) -> Result<Option<StoredConnection>, StoreError>;
    /// The organization's linked connections matching `filter`, oldest link first, strictly
    /// after `after`; at most `limit`.
    async fn list_connections(
        &self,
        organization_id: Uuid,
        filter: ConnectionFilter,
        after: Option<ConnectionPosition>,
        limit: i64,
    ) -> Result<Vec<StoredConnection>, StoreError>;
    /// Notes that the workspace acts on the Ayrshare profile `ref_id`.
    async fn remember_ref_id(
        &self,
        organization_id: Uuid,
        workspace_id: Uuid,
        ref_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The workspaces known to act on the Ayrshare profile `ref_id` (at most
    /// [`MAX_PROFILE_OWNERS`]).
    async fn find_profile_owners(&self, ref_id: &str) -> Result<Vec<ProfileOwner>, StoreError>;
}

/// The columns of `social_connections` that `ConnectionRow` reads.
pub(super) const CONNECTION_COLUMNS: &str = "id, organization_id, workspace_id, platform, \
     connected, account_id, account_username, account_name, profile_url, user_image, linked_at, \
     unlinked_at, reason, updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct ConnectionRow<Id> {
    id: Id,
    organization_id: Id,
    workspace_id: Id,
    platform: String,
    connected: bool,
    account_id: Option<String>,
    account_username: Option<String>,
    account_name: Option<String>,
    profile_url: Option<String>,
    user_image: Option<String>,
    linked_at: Option<DateTime<Utc>>,
    unlinked_at: Option<DateTime<Utc>>,
    reason: Option<String>,
    updated_at: DateTime<Utc>,
}

impl<Id: Column<Uuid>> TryFrom<ConnectionRow<Id>> for StoredConnection {
    type Error = StoreError;

    fn try_from(row: ConnectionRow<Id>) -> Result<Self, StoreError> {
        let platform = Platform::parse(&row.platform).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "unknown platform {:?} in a connection",
                row.platform
            ))
        })?;
        Ok(StoredConnection {
            id: row.id.into_domain(),
            organization_id: row.organization_id.into_domain(),
            workspace_id: row.workspace_id.into_domain(),
            platform,
            state: ConnectionState {
                connected: row.connected,
                account: LinkedAccount {
                    username: row.account_username,
                    display_name: row.account_name,
                    profile_url: row.profile_url,
                    user_image: row.user_image,
                    account_id: row.account_id,
                },
                linked_at: row.linked_at,
                unlinked_at: row.unlinked_at,
                reason: row.reason.as_deref().and_then(ChangeReason::parse),
            },
            updated_at: row.updated_at,
        })
    }
}

/// The update of a connection to what `apply` decided: `$1` the id, then the state's columns.
pub(super) const UPDATE_CONNECTION: &str = "update social_connections set connected = $2, \
     account_id = $3, account_username = $4, account_name = $5, profile_url = $6, \
     user_image = $7, linked_at = $8, unlinked_at = $9, reason = $10, updated_at = $11 \
     where id = $1";

/// A new event id: `evt_` and 32 hex digits, as the post events'.
pub(super) fn new_event_id() -> String {
    format!("evt_{}", Uuid::new_v4().simple())
}

/// The reason an event reports: the change's.
pub(super) fn event_reason(applied: &Applied, change: &ConnectionChange) -> &'static str {
    applied.state.reason.unwrap_or(change.reason).as_str()
}
