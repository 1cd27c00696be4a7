//! The background release of expired idempotency claims: in bounded batches, so that a backlog
//! never turns into one long statement holding locks, on any number of replicas at once.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{AppError, Publisher};

/// The most claims released by one statement.
pub const PURGE_BATCH: i64 = 500;

/// The pause after each full batch: a backlog is released at a few thousand claims a second
/// rather than as fast as the database can, so that the requests beside it keep their share of
/// the database (as the event retention sweep's `PURGE_PAUSE`).
pub const PURGE_PAUSE: Duration = Duration::from_millis(200);

/// How often the purge looks for expired claims.
pub const PURGE_EVERY: Duration = Duration::from_secs(600);

impl Publisher {
    /// Releases every claim older than the retention, a batch at a time; returns how many.
    pub async fn purge_expired_claims(&self) -> Result<u64, AppError> {
        let retention = chrono::Duration::from_std(self.settings.idempotency_retention)
            .map_err(|e| AppError::Internal(format!("retention out of range: {e}")))?;
        let cutoff = Utc::now() - retention;
        let mut released = 0;
        loop {
            let done = self
                .store
                .release_idempotency_claims(cutoff, PURGE_BATCH)
                .await?;
            // Comment writes hold their keys the same way, for the same retention.
            let comments = self
                .store
                .release_comment_claims(cutoff, PURGE_BATCH)
                .await?;
            released += done + comments;
            if done < PURGE_BATCH as u64 && comments < PURGE_BATCH as u64 {
                return Ok(released);
            }
            // Let the requests in: a backlog is worked through without starving them.
            tokio::time::sleep(PURGE_PAUSE).await;
        }
    }
}

/// Runs the purge every `every` until `stop` is cancelled.
pub async fn run_purge(publisher: Publisher, every: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match publisher.purge_expired_claims().await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "expired idempotency keys released"),
            Err(e) => tracing::warn!(error = %e, "releasing expired idempotency keys failed"),
        }
    }
}
