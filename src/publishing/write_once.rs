//! What every write to Ayrshare that must never be sent twice shares, whatever it writes (a
//! post's create, a comment write): the write-ahead record is written and Ayrshare called in a
//! task of their own that a hung-up client cannot stop, the caller waits for it at most the
//! answer deadline, and a retry under the same `Idempotency-Key` gets the first answer back
//! (or learns why there is none yet) without a second call. Recording what Ayrshare did, with
//! its retries, is `recording`'s.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::Publisher;
use super::error::{AppError, ClaimHolder};
use crate::store::StoredAnswerJson;

/// How far the record holding a claim has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Progress {
    /// Written; Ayrshare's answer not recorded yet.
    Pending,
    /// Sent, and nobody knows what came of it (yet).
    Unknown,
    /// Its outcome is known.
    Settled,
}

/// The record holding an idempotency claim, as the replay sees it.
pub(super) struct Holder<'a> {
    pub who: ClaimHolder,
    pub progress: Progress,
    pub fingerprint: Option<&'a str>,
    pub stored_answer: Option<&'a StoredAnswerJson>,
    pub created_at: DateTime<Utc>,
}

/// An answer kept on the record for replays: the use case's own typed answer.
pub(super) trait KeptAnswer: DeserializeOwned {
    /// Whether it tells how the write ended (one given while the outcome was unknown does not).
    fn is_final(&self) -> bool;
}

/// What a retry under a claimed key gets.
pub(super) enum Replay<K> {
    /// The first answer, to replay: final, or the one given while the outcome was unknown and
    /// the record has not settled since.
    Kept(K),
    /// The record settled after an answer that could not say how (or none was kept): the use
    /// case works its answer out from the record (and keeps it).
    Settled,
    /// The first request has not recorded Ayrshare's answer; `interrupted` once it is past its
    /// answer deadline (it stopped, and never will).
    InProgress { interrupted: bool },
    /// The record is `unknown` and no answer was kept: the write may have been made.
    Unknown,
}

/// Decides what a retry under `holder`'s claim gets. The same key with another request
/// (another `fingerprint`) is refused. Never a call to Ayrshare.
pub(super) fn replay_of<K: KeptAnswer>(
    holder: &Holder<'_>,
    fingerprint: Option<&str>,
    deadline: std::time::Duration,
) -> Result<Replay<K>, AppError> {
    if holder.fingerprint != fingerprint {
        return Err(AppError::IdempotencyKeyMismatch { holder: holder.who });
    }
    let kept: Option<K> = holder
        .stored_answer
        .map(|stored| serde_json::from_str(stored.get()))
        .transpose()
        .map_err(|e| AppError::Internal(format!("stored answer unreadable: {e}")))?;
    let kept = match kept {
        Some(kept) if kept.is_final() => return Ok(Replay::Kept(kept)),
        kept => kept,
    };
    if holder.progress == Progress::Settled {
        return Ok(Replay::Settled);
    }
    if let Some(kept) = kept {
        return Ok(Replay::Kept(kept));
    }
    let age = (Utc::now() - holder.created_at)
        .to_std()
        .unwrap_or_default();
    match holder.progress {
        Progress::Pending => Ok(Replay::InProgress {
            interrupted: age > deadline,
        }),
        _ => Ok(Replay::Unknown),
    }
}

impl Publisher {
    /// Runs `work` (write the record, call Ayrshare once, record the outcome) to the end in a
    /// task of its own, and waits for it at most the answer deadline: past it, `late()` is the
    /// answer and the task goes on, recording the outcome when it can.
    pub(super) async fn within_answer_deadline<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, AppError>> + Send + 'static,
        late: impl FnOnce() -> T,
    ) -> Result<T, AppError> {
        let deadline = self.settings.answer_deadline();
        match tokio::time::timeout(deadline, self.to_the_end(work)).await {
            Ok(done) => done,
            Err(_) => Ok(late()),
        }
    }
}
