//! The background release of expired idempotency claims: in bounded, paced batches
//! ([`crate::sweeps`]), so that a backlog never turns into one long statement holding locks, on
//! any number of replicas at once.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{AppError, Publisher};
use crate::sweeps;

/// The most claims released by one statement.
pub const PURGE_BATCH: i64 = 500;

/// How often the purge looks for expired claims.
pub const PURGE_EVERY: Duration = Duration::from_secs(600);

impl Publisher {
    /// Releases every claim older than the retention, a batch at a time; returns how many.
    pub async fn purge_expired_claims(&self) -> Result<u64, AppError> {
        let retention = chrono::Duration::from_std(self.settings.idempotency_retention)
            .map_err(|e| AppError::Internal(format!("retention out of range: {e}")))?;
        let cutoff = Utc::now() - retention;
        let store = &self.store;
        let claims = sweeps::in_batches(PURGE_BATCH, |limit| {
            store.release_idempotency_claims(cutoff, limit)
        })
        .await?;
        // Comment writes hold their keys the same way, for the same retention.
        let comments = sweeps::in_batches(PURGE_BATCH, |limit| {
            store.release_comment_claims(cutoff, limit)
        })
        .await?;
        Ok(claims + comments)
    }
}

/// Runs the purge every `every` until `stop` is cancelled.
pub async fn run_purge(publisher: Publisher, every: Duration, stop: CancellationToken) {
    sweeps::every(
        every,
        stop,
        "expired idempotency keys released",
        "releasing expired idempotency keys failed",
        || publisher.purge_expired_claims(),
    )
    .await;
}
