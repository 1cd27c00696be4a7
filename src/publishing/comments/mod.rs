//! A post's comments, free of HTTP: the list read from Ayrshare (normalized, ordered, paged), and
//! the writes (a comment, a reply, a delete), each recorded before Ayrshare is called and never
//! sent twice, through the write-ahead and idempotency machinery the create shares
//! (`write_once`, `recording`).

mod list;
mod views;
mod write;

pub use views::{CommentList, CommentWriteView};

use super::Publisher;
use super::error::AppError;
use crate::ayrshare::CallScope;
use crate::domain::Platform;
use crate::store::{Caller, TrackingRecord, Workspace};

/// A post of the caller's, with what comment calls about it need.
struct OwnPost {
    record: TrackingRecord,
    /// Ayrshare's post id (the caller's path names it).
    post_id: String,
    workspace: Workspace,
}

impl OwnPost {
    /// The platforms the post was published on: the only ones with comments to read or answer.
    fn published(&self) -> Vec<Platform> {
        self.record
            .results
            .iter()
            .filter(|r| r.published())
            .filter_map(|r| Platform::parse(&r.platform))
            .collect()
    }

    /// The network's own id of the post on `platform` (TikTok's `videoId`).
    fn native_id(&self, platform: Platform) -> Option<&str> {
        self.record
            .results
            .iter()
            .find(|r| r.platform == platform.as_str() && r.published())
            .and_then(|r| r.post_id.as_deref())
    }

    fn scope(&self, involves_x: bool) -> CallScope<'_> {
        CallScope {
            profile_key: self.workspace.ayrshare_profile_key.as_ref(),
            involves_x,
        }
    }
}

impl Publisher {
    /// The caller's post with this Ayrshare id (another organization's is not found), and its
    /// workspace.
    async fn own_commented_post(&self, caller: Caller, post_id: &str) -> Result<OwnPost, AppError> {
        let record = self.own_post(caller, post_id).await?;
        let workspace = self.workspace_of(&record).await?;
        Ok(OwnPost {
            record,
            post_id: post_id.to_owned(),
            workspace,
        })
    }

    /// Refuses a call now while Ayrshare rate-limits the post's profile: a call would only
    /// collect another 429.
    fn refuse_if_held_off(&self, scope: CallScope<'_>) -> Result<(), AppError> {
        match self.ayrshare.held_off(scope) {
            None => Ok(()),
            Some(wait) => {
                crate::telemetry::metrics::rate_limit_refused(
                    crate::telemetry::metrics::RefusalKind::AyrshareProfile,
                );
                let retry_after_secs = crate::ayrshare::retry_after_secs(wait);
                Err(AppError::RateLimited {
                    detail: format!(
                        "ayrshare is rate limiting this workspace's profile; retry after \
                         {retry_after_secs} seconds"
                    ),
                    retry_after_secs,
                })
            }
        }
    }
}
