//! `tracked_status`: what this service knows about a post, and the one place that says how it may change.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of a tracking record (`scheduled_social_posts_v2.tracked_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackedStatus {
    /// Written, Ayrshare has not answered yet (or the process died before it did).
    Pending,
    /// Ayrshare accepted the post for a later time.
    Scheduled,
    /// Every platform succeeded.
    Posted,
    /// Some platforms succeeded, some failed.
    Partial,
    /// Nothing was posted.
    Failed,
    /// Ayrshare may have acted but we could not learn the outcome.
    Unknown,
    /// Deleted through this API.
    Cancelled,
}

/// Why a status may change: each caller names its reason, and the reason decides what is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The answer (or the lack of one) to the one `POST /post` call of a create request.
    CreateOutcome,
    /// A later reading of the post from Ayrshare (`GET /post/{id}`, later a webhook or reconciler).
    Refresh,
}

impl TrackedStatus {
    /// Every value, as the database check constraint lists them.
    pub const ALL: [TrackedStatus; 7] = [
        TrackedStatus::Pending,
        TrackedStatus::Scheduled,
        TrackedStatus::Posted,
        TrackedStatus::Partial,
        TrackedStatus::Failed,
        TrackedStatus::Unknown,
        TrackedStatus::Cancelled,
    ];

    /// The stored and reported spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackedStatus::Pending => "pending",
            TrackedStatus::Scheduled => "scheduled",
            TrackedStatus::Posted => "posted",
            TrackedStatus::Partial => "partial",
            TrackedStatus::Failed => "failed",
            TrackedStatus::Unknown => "unknown",
            TrackedStatus::Cancelled => "cancelled",
        }
    }

    /// The states a record must be in for `transition` to move it to `self`.
    ///
    /// Stores apply updates conditionally on this list (`where tracked_status in (...)`), so two
    /// writers racing on one record (a request and, later, a reconciler or a webhook) cannot move
    /// it backwards: the state machine is enforced by the database, not only by the caller.
    pub fn allowed_sources(self, transition: Transition) -> &'static [TrackedStatus] {
        use TrackedStatus::*;
        match (transition, self) {
            // A create request's answer lands exactly once, on the record it wrote as pending.
            (Transition::CreateOutcome, Pending) | (Transition::CreateOutcome, Cancelled) => &[],
            (Transition::CreateOutcome, _) => &[Pending],
            // A later reading may settle an open question, or improve a partial result after
            // Ayrshare retried; posted, failed and cancelled are final for it.
            (Transition::Refresh, Posted | Partial | Failed) => {
                &[Pending, Unknown, Scheduled, Partial]
            }
            (Transition::Refresh, _) => &[],
        }
    }

    /// Whether `transition` may move a record from `from` to `self`.
    pub fn may_follow(self, from: TrackedStatus, transition: Transition) -> bool {
        self.allowed_sources(transition).contains(&from)
    }
}

impl fmt::Display for TrackedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored value that is not one of the seven (the check constraint makes this a corrupt row).
#[derive(Debug, thiserror::Error)]
#[error("unknown tracked_status {0:?}")]
pub struct UnknownTrackedStatus(pub String);

impl FromStr for TrackedStatus {
    type Err = UnknownTrackedStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrackedStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownTrackedStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::TrackedStatus::*;
    use super::*;

    #[test]
    fn a_create_outcome_only_moves_a_pending_record() {
        for to in [Scheduled, Posted, Partial, Failed, Unknown] {
            assert!(to.may_follow(Pending, Transition::CreateOutcome), "{to}");
            for from in [Scheduled, Posted, Partial, Failed, Unknown, Cancelled] {
                assert!(
                    !to.may_follow(from, Transition::CreateOutcome),
                    "{from} -> {to}"
                );
            }
        }
        assert!(!Pending.may_follow(Pending, Transition::CreateOutcome));
    }

    #[test]
    fn a_refresh_never_leaves_cancelled_posted_or_failed() {
        for to in TrackedStatus::ALL {
            for from in [Cancelled, Posted, Failed] {
                assert!(!to.may_follow(from, Transition::Refresh), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn a_refresh_settles_open_records() {
        for from in [Pending, Unknown, Scheduled, Partial] {
            for to in [Posted, Partial, Failed] {
                assert!(to.may_follow(from, Transition::Refresh), "{from} -> {to}");
            }
            assert!(!Scheduled.may_follow(from, Transition::Refresh));
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in TrackedStatus::ALL {
            assert_eq!(s.as_str().parse::<TrackedStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("posting".parse::<TrackedStatus>().is_err());
    }
}
