//! The caller's account: `whoami` (with a page of the workspaces), and keeping each key's `last_used_at` roughly current without
//! a database write per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Publisher;
use super::error::AppError;
use super::views::{WhoamiView, WorkspaceView};
use crate::domain::workspace_list::WORKSPACES_PER_PAGE;
use crate::domain::{WhoamiRequest, WorkspacePosition};
use crate::store::Caller;

/// How stale `last_used_at` may get: at most one write per key per interval (per replica; the
/// write itself is conditional, so replicas sharing a database add little).
pub const KEY_USE_INTERVAL: Duration = Duration::from_secs(60);

/// When this replica last wrote each key's `last_used_at`. One entry per key that has been used,
/// so its size is bounded by the number of keys.
#[derive(Debug)]
pub struct KeyUsage {
    interval: chrono::TimeDelta,
    written: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl Default for KeyUsage {
    fn default() -> Self {
        KeyUsage::new(KEY_USE_INTERVAL)
    }
}

impl KeyUsage {
    pub fn new(interval: Duration) -> KeyUsage {
        KeyUsage {
            interval: chrono::TimeDelta::from_std(interval).unwrap_or(chrono::TimeDelta::MAX),
            written: Mutex::new(HashMap::new()),
        }
    }

    /// Notes a use of `key` at `now`; `Some(now)` when a write is due (none in the last interval).
    fn note(&self, key: Uuid, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        match written.get(&key) {
            Some(last) if now - *last < self.interval => None,
            _ => {
                written.insert(key, now);
                Some(now)
            }
        }
    }

    /// The last use of `key` this replica wrote (or is writing).
    fn last_written(&self, key: Uuid) -> Option<DateTime<Utc>> {
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written.get(&key).copied()
    }
}

impl Publisher {
    /// Notes that the caller's key was used: at most once per interval, its `last_used_at` is
    /// written, off the request's path (a failed write only leaves it a little older).
    pub fn note_key_use(&self, caller: Caller) {
        // At the precision both databases keep, so that the answer and the row agree.
        let now = Utc::now();
        let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        let Some(at) = self.key_usage.note(caller.api_key_id, now) else {
            return;
        };
        let store = self.store.clone();
        let not_before = at - self.key_usage.interval;
        self.tasks.spawn(async move {
            if let Err(e) = store
                .touch_api_key(caller.api_key_id, at, not_before)
                .await
            {
                tracing::warn!(api_key_id = %caller.api_key_id, error = %e, "could not record the key's last use");
            }
        });
    }

    /// `GET /whoami`: the organization, the calling key, and a page of the workspaces (the
    /// first, or the one `query`'s `workspaces_cursor` names), from the database; never a key or
    /// a profile key.
    pub async fn whoami(
        &self,
        caller: Caller,
        query: &[(String, String)],
    ) -> Result<WhoamiView, AppError> {
        let request = WhoamiRequest::parse(query).map_err(AppError::Validation)?;
        let organization = self
            .store
            .find_organization_by_id(caller.organization_id)
            .await?
            .ok_or_else(|| AppError::Internal("the caller's organization is gone".into()))?;
        let mut api_key = self
            .store
            .find_api_key(caller.api_key_id)
            .await?
            .ok_or_else(|| AppError::Internal("the caller's key is gone".into()))?;
        // This very request counts, even while its write is still on its way.
        api_key.last_used_at = api_key
            .last_used_at
            .max(self.key_usage.last_written(caller.api_key_id));
        // One more than the page: whether it exists says whether there is a next page.
        let mut workspaces = self
            .store
            .list_workspace_page(
                caller.organization_id,
                request.workspaces_after,
                i64::from(WORKSPACES_PER_PAGE) + 1,
            )
            .await?;
        let workspaces_next_cursor = if workspaces.len() > WORKSPACES_PER_PAGE as usize {
            workspaces.truncate(WORKSPACES_PER_PAGE as usize);
            workspaces.last().map(|last| {
                WorkspacePosition {
                    is_primary: last.is_primary,
                    created_at: last.created_at,
                    id: last.id,
                }
                .encode()
            })
        } else {
            None
        };
        Ok(WhoamiView {
            organization: organization.into(),
            api_key: api_key.into(),
            workspaces: workspaces.into_iter().map(WorkspaceView::from).collect(),
            workspaces_next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_written_at_most_once_per_interval() {
        let usage = KeyUsage::new(Duration::from_secs(60));
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(usage.note(a, t0), Some(t0));
        assert_eq!(usage.note(a, t0 + chrono::TimeDelta::seconds(59)), None);
        assert_eq!(usage.note(b, t0), Some(t0));
        let later = t0 + chrono::TimeDelta::seconds(60);
        assert_eq!(usage.note(a, later), Some(later));
        assert_eq!(usage.last_written(a), Some(later));
        assert_eq!(usage.last_written(Uuid::new_v4()), None);
    }
}
