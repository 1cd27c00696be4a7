//! Webhook endpoints as kept (the migration `webhook_endpoints`): the organization's endpoints,
//! their sealed secrets, the deliveries queued to them by hand (`webhook.test`, redelivery), and
//! the log of attempts. The delivery worker's side of these tables is `DeliveryStore`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::StoreError;
use super::rows::Column;
use crate::domain::webhook_endpoint::{EndpointChange, EndpointPosition, Redelivery};

/// An endpoint as kept, without its secrets: what every answer shows (the secrets are sealed
/// in their columns and only the delivery worker opens them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEndpoint {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub url: String,
    /// `None`: every type.
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation still signs beside the current one.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new endpoint, its secret already sealed (`crate::secrets`, associated data
/// [`secret_aad`]).
#[derive(Clone, PartialEq, Eq)]
pub struct NewStoredEndpoint {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub sealed_secret: String,
    pub created_at: DateTime<Utc>,
}

// The sealed secret is not a secret, but there is nothing to learn from it in a log either.
impl std::fmt::Debug for NewStoredEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewStoredEndpoint")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// One attempt to deliver an event, as the worker logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAttempt {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub http_status: Option<i32>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

/// The associated data an endpoint's secrets are sealed with, for both `secret` and
/// `previous_secret` (so that a rotation moves the envelope as it is): bound to the row, so an
/// envelope copied to another endpoint does not open.
pub fn secret_aad(endpoint_id: Uuid) -> Vec<u8> {
    format!("webhook_endpoints.secret:{}", endpoint_id.hyphenated()).into_bytes()
}

/// The reason kept when the caller disables an endpoint (`PATCH {"disabled": true}`).
pub const DISABLED_BY_CALLER: &str = "disabled by the caller";

/// The storage of webhook endpoints. Every method is scoped to the organization: another
/// organization's endpoint is not found.
#[async_trait]
pub trait EndpointStore: Send + Sync {
    /// Inserts the endpoint unless the organization has `max` already; `None` then. The count
    /// and the insert are one atomic step: two creates at once cannot both take the last place.
    async fn create_endpoint(
        &self,
        endpoint: &NewStoredEndpoint,
        max: u32,
    ) -> Result<Option<StoredEndpoint>, StoreError>;
    /// The organization's endpoints, oldest first, strictly after `after`; at most `limit`.
    async fn list_endpoints(
        &self,
        organization_id: Uuid,
        after: Option<EndpointPosition>,
        limit: i64,
    ) -> Result<Vec<StoredEndpoint>, StoreError>;
    async fn find_endpoint(
        &self,
        organization_id: Uuid,
        id: Uuid,
    ) -> Result<Option<StoredEndpoint>, StoreError>;
    /// Applies the change (the url already checked); enabling clears the reason and the failing
    /// streak, disabling keeps an earlier reason (a 410's, say). `None`: no such endpoint.
    async fn update_endpoint(
        &self,
        organization_id: Uuid,
        id: Uuid,
        change: &EndpointChange,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredEndpoint>, StoreError>;
    /// Deletes the endpoint with its deliveries and attempts; whether there was one.
    async fn delete_endpoint(&self, organization_id: Uuid, id: Uuid) -> Result<bool, StoreError>;
    /// Makes `sealed_secret` the secret, and the current one the previous secret until
    /// `previous_until` (a previous secret from an earlier rotation is dropped).
    async fn rotate_endpoint_secret(
        &self,
        organization_id: Uuid,
        id: Uuid,
        sealed_secret: &str,
        previous_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredEndpoint>, StoreError>;
    /// Queues a delivery of `payload` (a whole event, `webhook.test`) to the endpoint, due now;
    /// whether the endpoint was there.
    async fn queue_test_delivery(
        &self,
        organization_id: Uuid,
        id: Uuid,
        event_id: &str,
        payload: &Value,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Queues, due now, a new delivery to the endpoint of each of the organization's post events
    /// that `what` names and the endpoint's filters (workspace, types) let through: oldest
    /// first, at most `limit`; how many.
    async fn redeliver(
        &self,
        organization_id: Uuid,
        id: Uuid,
        what: &Redelivery,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// The endpoint's attempts, newest first, strictly older than attempt `before`; at most
    /// `limit`. The caller has found the endpoint in its organization.
    async fn list_attempts(
        &self,
        endpoint_id: Uuid,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredAttempt>, StoreError>;
}

/// The columns `EndpointRow` reads, never the secrets.
pub(super) const ENDPOINT_COLUMNS: &str = "id, organization_id, workspace_id, url, event_types, \
     description, disabled, disabled_reason, previous_secret_until, created_at, updated_at";

/// The columns `AttemptRow` reads.
pub(super) const ATTEMPT_COLUMNS: &str = "id, event_id, event_type, attempt, started_at, \
     duration_ms, http_status, error, response_excerpt";

/// The update of `update_endpoint`, the same on both backends: `$3` the url or null, `$4`
/// whether to set the types to `$5`, `$6` whether to set the description to `$7`, `$8`
/// disabled or null, `$9` the reason given when disabling, `$10` now.
pub(super) const UPDATE_ENDPOINT: &str = "update webhook_endpoints set \
     url = coalesce($3, url), \
     event_types = case when $4 then $5 else event_types end, \
     description = case when $6 then $7 else description end, \
     disabled_reason = case when $8 is null then disabled_reason \
         when $8 then (case when disabled then disabled_reason else $9 end) \
         else null end, \
     failing_since = case when $8 = false then null else failing_since end, \
     disabled = coalesce($8, disabled), \
     updated_at = $10 \
     where id = $1 and organization_id = $2";

/// The rotation, the same on both backends (the right-hand sides read the row as it was).
/// Queues a `webhook.test` for one endpoint of the organization (`$1` endpoint, `$2`
/// organization, `$3` event id, `$4` type, `$5` payload, `$6` now): nothing for another's.
pub(super) const QUEUE_TEST_DELIVERY: &str = "insert into webhook_deliveries \
     (endpoint_id, event_id, event_type, payload, next_attempt_at, created_at) \
     select id, $3, $4, $5, $6, $6 from webhook_endpoints \
     where id = $1 and organization_id = $2";

pub(super) const ROTATE_SECRET: &str = "update webhook_endpoints set \
     previous_secret = secret, previous_secret_until = $3, secret = $4, updated_at = $5 \
     where id = $1 and organization_id = $2";

/// An endpoint row, generic over how a backend keeps uuids and lists.
#[derive(sqlx::FromRow)]
pub(super) struct EndpointRow<Id, List> {
    id: Id,
    organization_id: Id,
    workspace_id: Option<Id>,
    url: String,
    event_types: Option<List>,
    description: Option<String>,
    disabled: bool,
    disabled_reason: Option<String>,
    previous_secret_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<Id: Column<Uuid>, List: Column<Vec<String>>> From<EndpointRow<Id, List>> for StoredEndpoint {
    fn from(row: EndpointRow<Id, List>) -> Self {
        StoredEndpoint {
            id: row.id.into_domain(),
            organization_id: row.organization_id.into_domain(),
            workspace_id: row.workspace_id.map(Column::into_domain),
            url: row.url,
            event_types: row.event_types.map(Column::into_domain),
            description: row.description,
            disabled: row.disabled,
            disabled_reason: row.disabled_reason,
            previous_secret_until: row.previous_secret_until,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AttemptRow {
    id: i64,
    event_id: String,
    event_type: String,
    attempt: i32,
    started_at: DateTime<Utc>,
    duration_ms: i32,
    http_status: Option<i32>,
    error: Option<String>,
    response_excerpt: Option<String>,
}

impl From<AttemptRow> for StoredAttempt {
    fn from(row: AttemptRow) -> Self {
        StoredAttempt {
            id: row.id,
            event_id: row.event_id,
            event_type: row.event_type,
            attempt: row.attempt,
            started_at: row.started_at,
            duration_ms: row.duration_ms,
            http_status: row.http_status,
            error: row.error,
            response_excerpt: row.response_excerpt,
        }
    }
}
