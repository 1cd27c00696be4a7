//! Recording an Ayrshare outcome on a tracking record, through the state machine, with retries
//! once Ayrshare has acted.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::Publisher;
use crate::domain::{Outcome, Transition};
use crate::store::TrackingRecord;

/// How often recording is tried in all.
const ATTEMPTS: u32 = 4;

impl Publisher {
    /// Ayrshare has acted by now, so losing its answer would leave a lie in the database: a
    /// brief database hiccup is retried (the update is conditional on the state, so repeating it
    /// is safe).
    pub(super) async fn record_with_retries(
        &self,
        id: Uuid,
        transition: Transition,
        outcome: &Outcome,
        answer: Option<&Value>,
    ) -> Result<TrackingRecord, String> {
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match self
                .store
                .record_outcome(id, transition, outcome, answer)
                .await
            {
                Ok(record) => return Ok(record),
                Err(e) if attempt >= ATTEMPTS => return Err(e.to_string()),
                Err(e) => {
                    tracing::warn!(tracking_id = %id, attempt, error = %e, "recording the outcome failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
    }
}
