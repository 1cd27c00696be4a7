//! The use cases of a post's life, free of HTTP: create (the write-ahead record, the one Ayrshare
//! call, the recording), its dry run, its comments (read, and written never twice through the same write-ahead machinery), refresh a record from Ayrshare, read, list, update, delete, analytics,
//! the caller's account, receive Ayrshare's webhook, reconcile open records. The HTTP handlers,
//! and the background work (reconciler, webhooks, idempotency purge), all go through here.

pub mod account;
mod analytics;
mod change;
mod comments;
mod create;
mod delete;
mod error;
mod history_lookup;
pub mod idempotency;
mod list;
mod lookups;
mod read;
pub mod reconcile;
mod recording;
mod retry;
mod update;
mod validate;
mod views;
pub mod webhook;
mod write_once;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, Span};
use uuid::Uuid;

pub use account::KeyUsage;
pub use comments::{CommentList, CommentWriteView};
pub use error::{AppError, ClaimHolder, RecordRef, WriteRef};
pub use lookups::{LOOKUP_TTL, Lookups};
pub use reconcile::{PassReport, ReconcileSettings};
pub use views::{
    AnalyticsView, DeletionView, PostList, PostView, RetryView, TrackingView, UpdateView,
    WhoamiView,
};
pub use webhook::{RegisterError, Registered, WebhookDelivery, WebhookReceipt, WebhookSettings};

use crate::ayrshare::{AyrshareClient, CallScope};
use crate::store::{DynStore, TrackingRecord, Workspace};

/// How long past the Ayrshare timeout a create waits for its record to be written and updated
/// before answering `provider_timeout` with the record still `pending`.
pub const RECORDING_ALLOWANCE: Duration = Duration::from_secs(10);

/// The publishing settings.
#[derive(Clone, Debug)]
pub struct PublishingSettings {
    /// The bound on one Ayrshare call.
    pub ayrshare_timeout: Duration,
    /// How long an idempotency key and its answer are kept (at least 24 hours).
    pub idempotency_retention: Duration,
    /// The reconciler's interval, call budget and overdue grace.
    pub reconcile: ReconcileSettings,
    /// The webhook's secrets and timestamp window.
    pub webhook: WebhookSettings,
}

impl PublishingSettings {
    /// How long a create waits for its outcome to be recorded before answering without it.
    pub fn answer_deadline(&self) -> Duration {
        self.ayrshare_timeout + RECORDING_ALLOWANCE
    }
}

/// The use cases, with what they need. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    pub store: DynStore,
    pub ayrshare: Arc<AyrshareClient>,
    /// Work that must finish even if the client goes away (recording an Ayrshare outcome);
    /// shutdown waits for it.
    pub tasks: TaskTracker,
    /// Cancelled once shutdown's grace has passed: recordings still retrying in the background
    /// give up (logged) and leave their records to the reconciler.
    pub grace_over: CancellationToken,
    pub settings: Arc<PublishingSettings>,
    /// When each key's `last_used_at` was last written.
    pub key_usage: Arc<KeyUsage>,
    /// Recent answers of the key and workspace lookups.
    pub lookups: Arc<Lookups>,
}

impl Publisher {
    /// Runs `work` as a task of its own, in the request's span, and waits for its answer: a
    /// client hanging up drops only the waiting, so nothing stops between Ayrshare acting and
    /// the record saying so. Shutdown waits for it.
    async fn to_the_end<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, AppError>> + Send + 'static,
    ) -> Result<T, AppError> {
        self.tasks
            .spawn(work.instrument(Span::current()))
            .await
            .map_err(|e| AppError::Internal(format!("the use case's task failed: {e}")))?
    }
}

/// A use case's answer, and whether it is the replay of an earlier one.
#[derive(Debug)]
pub struct Answer<T> {
    pub result: Result<T, AppError>,
    pub replayed: bool,
}

impl<T> Answer<T> {
    fn fresh(result: Result<T, AppError>) -> Answer<T> {
        Answer {
            result,
            replayed: false,
        }
    }

    fn replayed(result: Result<T, AppError>) -> Answer<T> {
        Answer {
            result,
            replayed: true,
        }
    }
}

impl Publisher {
    /// The given workspace of the organization, or its primary one.
    async fn workspace(
        &self,
        organization_id: Uuid,
        workspace_id: Option<Uuid>,
    ) -> Result<Workspace, AppError> {
        self.find_workspace(organization_id, workspace_id)
            .await?
            .ok_or_else(|| match workspace_id {
                Some(id) => AppError::NotFound(format!("no workspace with id {id}")),
                None => AppError::Internal(format!(
                    "organization {organization_id} has no primary workspace"
                )),
            })
    }

    /// The workspace a new post is sent for: refused while its own profile is not made, since
    /// without its key the post would go out on Ayrshare's primary profile.
    async fn sending_workspace(
        &self,
        organization_id: Uuid,
        workspace_id: Option<Uuid>,
    ) -> Result<Workspace, AppError> {
        let workspace = self.workspace(organization_id, workspace_id).await?;
        if workspace.profile_pending() {
            return Err(AppError::Conflict {
                detail: format!(
                    "workspace {}'s own Ayrshare profile is {} (its key is not stored), so \
                     nothing is sent for it; finish the create with POST /workspaces (see \
                     GET /workspaces/{})",
                    workspace.id,
                    workspace.profile_state.as_deref().unwrap_or("creating"),
                    workspace.id
                ),
                record: None,
            });
        }
        Ok(workspace)
    }

    /// The workspace a record was created in.
    async fn workspace_of(&self, record: &TrackingRecord) -> Result<Workspace, AppError> {
        self.workspace(record.organization_id, Some(record.workspace_id))
            .await
    }

    /// The scope of an Ayrshare call about a record's post: its workspace's profile, and the X
    /// credentials when X is involved (`involves_x`, or by default when the post names X).
    fn scope_of<'a>(
        &self,
        record: &TrackingRecord,
        workspace: &'a Workspace,
        involves_x: Option<bool>,
    ) -> CallScope<'a> {
        CallScope {
            profile_key: workspace.ayrshare_profile_key.as_ref(),
            involves_x: involves_x.unwrap_or_else(|| record.platforms.iter().any(|p| p == "x")),
        }
    }
}
