//! `tracked_status`: what this service knows about a post, and the one place that says how it may
//! change. The full table, with the reasons, is in `docs/tracked-status.md`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of a tracking record (`scheduled_social_posts_v2.tracked_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Ayrshare may have acted but we could not learn the outcome (yet).
    Unknown,
    /// A post that never went out, deleted (through this API or at Ayrshare).
    Cancelled,
    /// A published post deleted (through this API or at Ayrshare).
    Deleted,
}

/// Why a status may change: each writer names its reason, and the reason decides what is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transition {
    /// The answer (or the lack of one) to the one `POST /post` call of a create request: moves a
    /// `pending` record to anything but `pending`, `cancelled` or `deleted`. It also lands on a
    /// record the reconciler made `unknown` meanwhile (`Expire`, `Found`): the create's own
    /// answer is better knowledge than the reconciler's guess, and nothing else makes a record
    /// `unknown` before its create has answered.
    CreateOutcome,
    /// An authoritative reading of the post from Ayrshare (`GET /post/{id}` or a webhook): settles
    /// `pending`, `unknown` and `scheduled`, corrects `failed` and `partial` (Ayrshare's retry
    /// can publish a failed post later), and records a deletion; never leaves `cancelled` or
    /// `deleted`.
    Refresh,
    /// The reconciler gives up waiting: a `pending` record older than the request deadline
    /// (a crash or a lost recording) becomes `unknown`.
    Expire,
    /// The reconciler found the post of a record without a post id in Ayrshare's history, not
    /// settled yet: the record learns its post id and becomes `scheduled` (Ayrshare holds it for
    /// later) or `unknown` (on its way); `Refresh` settles it from then on.
    Found,
    /// Our `DELETE` of a post that never went out: `scheduled` or `unknown` becomes `cancelled`.
    Cancel,
    /// Our `DELETE` of a published post: `posted` or `partial` (or a record whose results show a
    /// published platform) becomes `deleted`.
    Delete,
    /// Our retry of a failed post (`POST /social/post/{post_id}/retry`), written before Ayrshare's
    /// `PUT /post/retry` is sent: `failed` becomes `pending`, and settles later by a `Refresh`
    /// like a scheduled post.
    Retry,
    /// Ayrshare refused that retry (nothing was sent again): the `pending` it wrote goes back to
    /// `failed`.
    RetryRefused,
}

impl Transition {
    /// Every transition, for tables and tests.
    pub const ALL: [Transition; 8] = [
        Transition::CreateOutcome,
        Transition::Refresh,
        Transition::Expire,
        Transition::Found,
        Transition::Cancel,
        Transition::Delete,
        Transition::Retry,
        Transition::RetryRefused,
    ];

    /// The transition our own `DELETE` takes to move a record to `target` (what
    /// `TrackedStatus::removed` chose): `Delete` to `deleted`, `Cancel` otherwise.
    pub fn for_removal(target: TrackedStatus) -> Transition {
        if target == TrackedStatus::Deleted {
            Transition::Delete
        } else {
            Transition::Cancel
        }
    }
}

impl TrackedStatus {
    /// Every value, as the database check constraint lists them.
    pub const ALL: [TrackedStatus; 8] = [
        TrackedStatus::Pending,
        TrackedStatus::Scheduled,
        TrackedStatus::Posted,
        TrackedStatus::Partial,
        TrackedStatus::Failed,
        TrackedStatus::Unknown,
        TrackedStatus::Cancelled,
        TrackedStatus::Deleted,
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
            TrackedStatus::Deleted => "deleted",
        }
    }

    /// The states a record must be in for `transition` to move it to `self`.
    ///
    /// Stores apply updates conditionally on this list (`where tracked_status in (...)`), so two
    /// writers racing on one record (a request, a reconciler, a webhook) cannot move it backwards:
    /// the state machine is enforced by the database, not only by the caller. A target listed
    /// among its own sources may be rewritten (new results for the same status).
    pub fn allowed_sources(self, transition: Transition) -> &'static [TrackedStatus] {
        use TrackedStatus::*;
        match (transition, self) {
            // A create request's answer lands exactly once, on the record it wrote as pending (or
            // that the reconciler made `unknown` while the answer was on its way).
            (Transition::CreateOutcome, Scheduled | Posted | Partial | Failed | Unknown) => {
                &[Pending, Unknown]
            }
            (Transition::CreateOutcome, Pending | Cancelled | Deleted) => &[],
            // What Ayrshare says about the post is the truth, unless the post is gone; a post
            // that is already `posted` only moves to `deleted`.
            (Transition::Refresh, Posted | Partial | Failed) => {
                &[Pending, Unknown, Scheduled, Partial, Failed]
            }
            // Ayrshare says the post is gone; `removed` picks `cancelled` or `deleted` by whether
            // it ever went out.
            (Transition::Refresh, Cancelled) => &[Pending, Unknown, Scheduled],
            (Transition::Refresh, Deleted) => {
                &[Pending, Unknown, Scheduled, Posted, Partial, Failed]
            }
            // Open states are never entered by a reading: "still pending" changes nothing.
            (Transition::Refresh, Pending | Scheduled | Unknown) => &[],
            (Transition::Expire, Unknown) => &[Pending],
            (Transition::Expire, _) => &[],
            // Rewriting `unknown` with `unknown` is how an `unknown` record learns its post id.
            (Transition::Found, Scheduled | Unknown) => &[Pending, Unknown],
            (Transition::Found, _) => &[],
            // Our DELETE needs Ayrshare's post id, which a pending record does not have yet.
            (Transition::Cancel, Cancelled) => &[Scheduled, Unknown],
            (Transition::Cancel, _) => &[],
            (Transition::Delete, Deleted) => &[Unknown, Scheduled, Posted, Partial, Failed],
            (Transition::Delete, _) => &[],
            // Only a post that failed is retried (the use case also asks that every platform
            // failed, and the store that it is the record's first retry).
            (Transition::Retry, Pending) => &[Failed],
            (Transition::Retry, _) => &[],
            (Transition::RetryRefused, Failed) => &[Pending],
            (Transition::RetryRefused, _) => &[],
        }
    }

    /// Whether `transition` may move a record from `from` to `self`.
    pub fn may_follow(self, from: TrackedStatus, transition: Transition) -> bool {
        self.allowed_sources(transition).contains(&from)
    }

    /// Where a record in this state goes when its post is deleted (Ayrshare's word `deleted`, or
    /// our `DELETE`): `deleted` if the post went out (`posted`, `partial`, or `published`: a
    /// platform is known to have published it), `cancelled` if it never did, and `None` when
    /// there is nothing to change (a `failed` post that never went out already says so;
    /// `cancelled` and `deleted` are final).
    pub fn removed(self, published: bool) -> Option<TrackedStatus> {
        use TrackedStatus::*;
        match self {
            Cancelled | Deleted => None,
            Posted | Partial => Some(Deleted),
            Pending | Scheduled | Unknown | Failed if published => Some(Deleted),
            Pending | Scheduled | Unknown => Some(Cancelled),
            Failed => None,
        }
    }
}

impl fmt::Display for TrackedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored value that is not one of the eight (the check constraint makes this a corrupt row).
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
    use super::Transition::*;
    use super::*;

    /// The whole table, written out once more by hand: (transition, from, to) for every move
    /// that is allowed. `docs/tracked-status.md` shows the same table.
    const ALLOWED: &[(Transition, TrackedStatus, TrackedStatus)] = &[
        (CreateOutcome, Pending, Scheduled),
        (CreateOutcome, Pending, Posted),
        (CreateOutcome, Pending, Partial),
        (CreateOutcome, Pending, Failed),
        (CreateOutcome, Pending, Unknown),
        (CreateOutcome, Unknown, Scheduled),
        (CreateOutcome, Unknown, Posted),
        (CreateOutcome, Unknown, Partial),
        (CreateOutcome, Unknown, Failed),
        (CreateOutcome, Unknown, Unknown),
        (Refresh, Pending, Posted),
        (Refresh, Pending, Partial),
        (Refresh, Pending, Failed),
        (Refresh, Pending, Cancelled),
        (Refresh, Pending, Deleted),
        (Refresh, Unknown, Posted),
        (Refresh, Unknown, Partial),
        (Refresh, Unknown, Failed),
        (Refresh, Unknown, Cancelled),
        (Refresh, Unknown, Deleted),
        (Refresh, Scheduled, Posted),
        (Refresh, Scheduled, Partial),
        (Refresh, Scheduled, Failed),
        (Refresh, Scheduled, Cancelled),
        (Refresh, Scheduled, Deleted),
        (Refresh, Partial, Posted),
        (Refresh, Partial, Partial),
        (Refresh, Partial, Failed),
        (Refresh, Partial, Deleted),
        (Refresh, Failed, Posted),
        (Refresh, Failed, Partial),
        (Refresh, Failed, Failed),
        (Refresh, Failed, Deleted),
        (Refresh, Posted, Deleted),
        (Expire, Pending, Unknown),
        (Found, Pending, Scheduled),
        (Found, Pending, Unknown),
        (Found, Unknown, Scheduled),
        (Found, Unknown, Unknown),
        (Cancel, Scheduled, Cancelled),
        (Cancel, Unknown, Cancelled),
        (Delete, Unknown, Deleted),
        (Delete, Scheduled, Deleted),
        (Delete, Posted, Deleted),
        (Delete, Partial, Deleted),
        (Delete, Failed, Deleted),
        (Retry, Failed, Pending),
        (RetryRefused, Pending, Failed),
    ];

    #[test]
    fn every_transition_allows_exactly_the_documented_moves() {
        for transition in Transition::ALL {
            for from in TrackedStatus::ALL {
                for to in TrackedStatus::ALL {
                    assert_eq!(
                        to.may_follow(from, transition),
                        ALLOWED.contains(&(transition, from, to)),
                        "{transition:?}: {from} -> {to}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_create_outcome_only_moves_a_pending_record_or_one_the_reconciler_guessed_at() {
        for to in [Scheduled, Posted, Partial, Failed, Unknown] {
            assert_eq!(
                to.allowed_sources(CreateOutcome),
                [Pending, Unknown],
                "{to}"
            );
        }
        for to in [Pending, Cancelled, Deleted] {
            assert!(to.allowed_sources(CreateOutcome).is_empty(), "{to}");
        }
    }

    #[test]
    fn nothing_leaves_cancelled_or_deleted() {
        for transition in Transition::ALL {
            for to in TrackedStatus::ALL {
                for from in [Cancelled, Deleted] {
                    assert!(
                        !to.may_follow(from, transition),
                        "{transition:?}: {from} -> {to}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_refresh_settles_open_records_and_corrects_failed_and_partial_ones() {
        for from in [Pending, Unknown, Scheduled, Partial, Failed] {
            for to in [Posted, Partial, Failed] {
                assert!(to.may_follow(from, Refresh), "{from} -> {to}");
            }
        }
        // A published post only moves on when it is deleted.
        for to in [Pending, Scheduled, Unknown, Partial, Failed, Cancelled] {
            assert!(!to.may_follow(Posted, Refresh), "posted -> {to}");
        }
        // "Still pending" is no news: a reading never moves a record back to an open state.
        for to in [Pending, Scheduled, Unknown] {
            assert!(to.allowed_sources(Refresh).is_empty(), "{to}");
        }
    }

    #[test]
    fn only_the_reconciler_expires_a_pending_record_to_unknown() {
        assert_eq!(Unknown.allowed_sources(Expire), [Pending]);
        for to in TrackedStatus::ALL {
            if to != Unknown {
                assert!(to.allowed_sources(Expire).is_empty(), "{to}");
            }
        }
    }

    #[test]
    fn a_record_found_in_the_history_learns_its_post_id_and_stays_open() {
        for to in [Scheduled, Unknown] {
            assert_eq!(to.allowed_sources(Found), [Pending, Unknown], "{to}");
        }
        for to in [Pending, Posted, Partial, Failed, Cancelled, Deleted] {
            assert!(to.allowed_sources(Found).is_empty(), "{to}");
        }
    }

    #[test]
    fn a_deletion_cancels_what_never_went_out_and_deletes_what_did() {
        for published in [false, true] {
            assert_eq!(Posted.removed(published), Some(Deleted));
            assert_eq!(Partial.removed(published), Some(Deleted));
            assert_eq!(Cancelled.removed(published), None);
            assert_eq!(Deleted.removed(published), None);
        }
        for from in [Pending, Scheduled, Unknown] {
            assert_eq!(from.removed(false), Some(Cancelled), "{from}");
            assert_eq!(from.removed(true), Some(Deleted), "{from}");
        }
        // A failed post that never went out stays failed; one Ayrshare published later did go out.
        assert_eq!(Failed.removed(false), None);
        assert_eq!(Failed.removed(true), Some(Deleted));
        // Whatever a reading of `deleted` chooses, a refresh may apply it.
        for from in TrackedStatus::ALL {
            for published in [false, true] {
                if let Some(to) = from.removed(published) {
                    assert!(
                        to.may_follow(from, Refresh),
                        "{from} (published: {published}) -> {to}"
                    );
                }
            }
        }
        assert_eq!(Transition::for_removal(Deleted), Delete);
        assert_eq!(Transition::for_removal(Cancelled), Cancel);
    }

    #[test]
    fn our_delete_takes_the_transition_that_allows_its_target() {
        // What `removed` chooses, `for_removal` can apply, from every state our DELETE acts on.
        for from in [Scheduled, Unknown, Posted, Partial, Failed] {
            for published in [false, true] {
                let Some(to) = from.removed(published) else {
                    continue;
                };
                assert!(
                    to.may_follow(from, Transition::for_removal(to)),
                    "{from} (published: {published}) -> {to}"
                );
            }
        }
    }

    #[test]
    fn only_a_failed_post_is_retried_and_only_its_retry_is_undone() {
        assert_eq!(Pending.allowed_sources(Retry), [Failed]);
        assert_eq!(Failed.allowed_sources(RetryRefused), [Pending]);
        for to in TrackedStatus::ALL {
            if to != Pending {
                assert!(to.allowed_sources(Retry).is_empty(), "{to}");
            }
            if to != Failed {
                assert!(to.allowed_sources(RetryRefused).is_empty(), "{to}");
            }
        }
        // A retried post settles like a scheduled one: a reading moves its `pending` on.
        for to in [Posted, Partial, Failed] {
            assert!(to.may_follow(Pending, Refresh), "{to}");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in TrackedStatus::ALL {
            assert_eq!(s.as_str().parse::<TrackedStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(Deleted.as_str(), "deleted");
        assert_eq!(Cancelled.as_str(), "cancelled");
        assert!("posting".parse::<TrackedStatus>().is_err());
    }
}
