//! Finding a record's post in its profile's history when the record never learnt the post id
//! (`docs/reconciler.md`, "Finding a post that has no post id"). The history is read back page by
//! page, by publish date, over the record's window only; the reads of one pass are kept and shared
//! by the records whose windows they cover; and a post is taken only by proof (its
//! `idempotencyKey`) or when no other record of any organization owns it or could own it.

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::Value;

use super::reconcile::{Checked, chrono_duration, provider_error, still_due_to_go_out};
use super::{AppError, Publisher};
use crate::ayrshare::{CallScope, Profile};
use crate::domain::history::{self, CLOCK_SKEW, Found, Wanted};
use crate::domain::idempotency::ayrshare_key;
use crate::domain::outcome::judge_status;
use crate::domain::{Open, Outcome, ProviderAnswer, TrackedStatus, Transition};
use crate::store::TrackingRecord;

/// The posts one history page asks for (`limit`): within every documented maximum of Ayrshare's
/// (1000 now, 500 in older docs), so that a shorter page means the window holds no more.
pub const HISTORY_PAGE_LIMIT: u32 = 500;

/// The most pages (Ayrshare calls) one lookup reads: 10,000 posts of the record's window, some
/// fifteen times what one profile can post in that window within Ayrshare's rate limit.
pub const HISTORY_MAX_PAGES: u32 = 20;

/// The most answer text one lookup reads, and one pass keeps (the oldest reads are dropped).
const READ_MAX_BYTES: usize = 16 << 20;

/// The most records one ownership question reads; this many means "could be owned" already.
const MAX_POSSIBLE_OWNERS: i64 = 20;

/// The most matching items whose owners are looked up; more are ambiguous whatever they own
/// (a history of thousands of one text costs no more than this many queries).
const MAX_CANDIDATES: usize = 20;

/// The history reads of one pass, newest last.
#[derive(Default)]
pub(super) struct HistoryReads {
    reads: VecDeque<Read>,
    bytes: usize,
}

/// One read of a profile's history: every post whose publish date lies from `from` to `until`
/// is in `items` (as of the read), once.
struct Read {
    profile: Profile,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    items: Vec<Value>,
    bytes: usize,
}

impl HistoryReads {
    /// The read of `profile` that covers `from` to `until`, if the pass made one.
    fn covering(
        &self,
        profile: Profile,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Option<usize> {
        self.reads
            .iter()
            .rposition(|read| read.profile == profile && read.from <= from && until <= read.until)
    }

    /// Keeps `read` for the rest of the pass (dropping the oldest past the bound); its index.
    fn keep(&mut self, read: Read) -> usize {
        self.bytes += read.bytes;
        self.reads.push_back(read);
        while self.bytes > READ_MAX_BYTES && self.reads.len() > 1 {
            if let Some(old) = self.reads.pop_front() {
                self.bytes -= old.bytes;
            }
        }
        self.reads.len() - 1
    }
}

/// What one read may cover: the publish dates, and the latest time a page may start.
struct ReadBounds {
    dates: (DateTime<Utc>, DateTime<Utc>),
    last_page_at: DateTime<Utc>,
}

/// Why a read stopped without a result.
enum Stop {
    /// The profile is held, or the reconciler's share of it is spent: try again after this.
    Wait(std::time::Duration),
    /// Ayrshare's answer was no history.
    Failed(AppError),
}

impl Publisher {
    /// Looks for the record's post in the profile's history (this pass's reads first), and
    /// applies what it finds.
    pub(super) async fn look_up(
        &self,
        record: TrackingRecord,
        scope: CallScope<'_>,
        lease_until: DateTime<Utc>,
        reads: &mut HistoryReads,
        expired: bool,
    ) -> Result<Checked, (u32, AppError)> {
        let wanted = self.wanted(&record);
        let profile = Profile::of(scope.profile_key);
        let (from, until) = window(&wanted);
        let mut calls = 0;
        let index = match reads.covering(profile, from, until) {
            Some(index) => index,
            None => {
                // A lookup starts only with room for a whole read, so that the share does not
                // cut it short halfway.
                if let Err(wait) = self.ayrshare.background_room(scope, HISTORY_MAX_PAGES) {
                    return Ok(Checked::HeldOff {
                        wait,
                        expired,
                        calls: 0,
                    });
                }
                let read_until = read_until(until, Utc::now());
                // A page may take the whole Ayrshare timeout: the last one must end within the
                // claim's lease, so that no other replica claims the record meanwhile.
                let last_page_at = lease_until
                    - chrono_duration(self.settings.ayrshare_timeout)
                    - Duration::seconds(5);
                let bounds = ReadBounds {
                    dates: (from, read_until),
                    last_page_at,
                };
                match self
                    .read_history(&record, scope, profile, bounds, &wanted, &mut calls)
                    .await
                {
                    Ok(read) => reads.keep(read),
                    Err(Stop::Wait(wait)) => {
                        return Ok(Checked::HeldOff {
                            wait,
                            expired,
                            calls,
                        });
                    }
                    Err(Stop::Failed(error)) => return Err((calls, error)),
                }
            }
        };
        let read = &reads.reads[index];
        let unsettled = |record: TrackingRecord| {
            Ok(Checked::Done {
                record: Box::new(record),
                calls,
                open: false,
            })
        };
        if history::keyed(&read.items, &wanted).is_none() && read.from > from {
            tracing::info!(tracking_id = %record.id, pages = HISTORY_MAX_PAGES, "reconciler: the profile's history of the record's time is longer than a lookup reads; the record stays unknown");
            return unsettled(record);
        }
        let item = match self.choose(&record, &read.items, &wanted).await {
            Ok(Some(item)) => item,
            Ok(None) => return unsettled(record),
            Err(error) => return Err((calls, error)),
        };
        self.take(record, item, calls).await
    }

    /// What the record says about its post, to recognise it. Its `idempotencyKey` counts only
    /// when it is the one derived from its tracking id: a key the caller chose may be another
    /// organization's too, on a shared profile.
    fn wanted<'r>(&self, record: &'r TrackingRecord) -> Wanted<'r> {
        let deadline = chrono_duration(self.settings.answer_deadline());
        let (derived, _) = ayrshare_key(None, record.id);
        Wanted {
            post: &record.post,
            platforms: &record.platforms,
            schedule_date: record.schedule_date,
            received_from: record.created_at - CLOCK_SKEW,
            received_until: record.created_at + deadline + CLOCK_SKEW,
            idempotency_key: record
                .ayrshare_idempotency_key
                .as_deref()
                .filter(|key| *key == derived),
        }
    }

    /// Reads the profile's history from `until` back to `from` (publish dates, whole seconds),
    /// a page at a time, each page ending where the last one's oldest post was: until a page is
    /// not full, an item shows the record's key, or the bounds are reached.
    async fn read_history(
        &self,
        record: &TrackingRecord,
        scope: CallScope<'_>,
        profile: Profile,
        bounds: ReadBounds,
        wanted: &Wanted<'_>,
        calls: &mut u32,
    ) -> Result<Read, Stop> {
        let (from, until) = bounds.dates;
        let mut items = Vec::new();
        let mut ids = HashSet::new();
        let mut bytes = 0;
        let mut end = until;
        // Nothing is known read until a page says so.
        let mut covered_from = until + Duration::seconds(1);
        for _ in 0..HISTORY_MAX_PAGES {
            if Utc::now() > bounds.last_page_at {
                return Err(Stop::Failed(provider_error(
                    record,
                    "ayrshare's history answered too slowly to read the record's window in time",
                )));
            }
            self.ayrshare
                .take_background_call(scope)
                .map_err(Stop::Wait)?;
            *calls += 1;
            let answer = self
                .ayrshare
                .history(scope, from, end, HISTORY_PAGE_LIMIT)
                .await
                .map_err(|e| Stop::Failed(provider_error(record, &e.to_string())))?;
            if answer.http_status == 429 {
                let wait = self
                    .ayrshare
                    .held_off(scope)
                    .unwrap_or(crate::ayrshare::hold_off::DEFAULT_WINDOW);
                return Err(Stop::Wait(wait));
            }
            bytes += answer.text.len();
            let page = match (answer.http_status, answer.json.and_then(into_items)) {
                (200, Some(page)) => page,
                (status, _) => {
                    return Err(Stop::Failed(provider_error(
                        record,
                        &format!("ayrshare answered HTTP {status} without a history"),
                    )));
                }
            };
            let full = page.len() >= HISTORY_PAGE_LIMIT as usize;
            let oldest = page.iter().filter_map(history::date_of).min();
            let keyed = history::keyed(&page, wanted).is_some();
            for item in page {
                if history::id_of(&item).is_some_and(|id| ids.insert(id)) {
                    items.push(item);
                }
            }
            if !full {
                covered_from = from;
                break;
            }
            // Every post listed later than the page's oldest second is on this page or an
            // earlier one; that second may hold more than the page had room for. The next page
            // ends just after it (Ayrshare lists whole seconds, and may compare finer).
            let Some(oldest) = oldest.map(whole_second) else {
                break;
            };
            covered_from = covered_from.min(oldest + Duration::seconds(1));
            if covered_from >= end {
                break;
            }
            end = covered_from;
            if keyed || bytes >= READ_MAX_BYTES {
                break;
            }
        }
        Ok(Read {
            profile,
            from: covered_from,
            until,
            items,
            bytes,
        })
    }

    /// The item of `items` that is the record's post, if one can be proven: the item showing
    /// its `idempotencyKey`, or the only one that matches it, is owned by no other record of any
    /// organization, and could be owned by none.
    async fn choose(
        &self,
        record: &TrackingRecord,
        items: &[Value],
        wanted: &Wanted<'_>,
    ) -> Result<Option<Value>, AppError> {
        let candidates = match history::find(items, wanted, |_| false) {
            Found::Keyed(item) | Found::One(item) => history::id_of(&item).into_iter().collect(),
            Found::Ambiguous(ids) => ids,
            Found::None => Vec::new(),
        };
        if candidates.len() > MAX_CANDIDATES {
            tracing::warn!(tracking_id = %record.id, candidates = candidates.len(), "reconciler: several posts in ayrshare's history match the record; none is taken");
            return Ok(None);
        }
        // A candidate already on a record (of any organization: workspaces without a profile
        // key share Ayrshare's primary profile) is that record's post.
        let mut taken = Vec::new();
        for id in candidates {
            let owners = self.store.find_tracking_by_provider_post_id(&id).await?;
            if owners.iter().any(|other| other.id != record.id) {
                taken.push(id);
            }
        }
        match history::find(items, wanted, |id| taken.iter().any(|t| t == id)) {
            Found::Keyed(item) => Ok(Some(item)),
            Found::One(item) => match self.possible_owner(record, &item).await? {
                None => Ok(Some(item)),
                Some(other) => {
                    tracing::warn!(tracking_id = %record.id, post_id = history::id_of(&item).unwrap_or_default(), other_tracking_id = %other, "reconciler: another record could own the post found in ayrshare's history; none is taken");
                    Ok(None)
                }
            },
            Found::None => {
                tracing::info!(tracking_id = %record.id, "reconciler: the post is not in ayrshare's history");
                Ok(None)
            }
            Found::Ambiguous(ids) => {
                tracing::warn!(tracking_id = %record.id, candidates = ?ids, "reconciler: several posts in ayrshare's history match the record; none is taken");
                Ok(None)
            }
        }
    }

    /// Another record that could own `item`: open, without a post id, of any organization, on
    /// the same Ayrshare profile, and matched by `item` by the same rules (text, platforms,
    /// schedule date, its window holding the item's `created`, its key). Its id, if there is one.
    async fn possible_owner(
        &self,
        record: &TrackingRecord,
        item: &Value,
    ) -> Result<Option<uuid::Uuid>, AppError> {
        // `find` only matches an item with a `created` time; without one, assume the worst.
        let Some(received) = history::received_at(item) else {
            return Ok(Some(record.id));
        };
        let deadline = chrono_duration(self.settings.answer_deadline());
        // The records whose windows hold `received`.
        let others = self
            .store
            .find_possible_owners(
                record.workspace_id,
                &record.post,
                received - deadline - CLOCK_SKEW,
                received + CLOCK_SKEW,
                MAX_POSSIBLE_OWNERS,
            )
            .await?;
        if others.len() as i64 >= MAX_POSSIBLE_OWNERS {
            return Ok(others.first().map(|other| other.id));
        }
        Ok(others
            .iter()
            .find(|other| other.id != record.id && history::matches(item, &self.wanted(other)))
            .map(|other| other.id))
    }

    /// Gives the record the post `item` is: a settled item is applied as a reading; one still
    /// open gives the record its post id (`Found`), and `Refresh` settles it later.
    async fn take(
        &self,
        record: TrackingRecord,
        item: Value,
        calls: u32,
    ) -> Result<Checked, (u32, AppError)> {
        let reading = ProviderAnswer::new(200, &item.to_string(), None);
        tracing::info!(tracking_id = %record.id, post_id = history::id_of(&item).unwrap_or_default(), "reconciler: the post was found in ayrshare's history");
        let outcome = judge_status(Ok(&reading), record.tracked_status, &record.results);
        if outcome.tracked_status.is_some() {
            let (record, outcome) = self
                .apply_reading(record, Ok(&reading))
                .await
                .map_err(|e| (calls, e))?;
            return Ok(Checked::Done {
                open: still_due_to_go_out(&record, &outcome),
                record: Box::new(record),
                calls,
            });
        }
        let status = match outcome.open {
            Some(Open::Scheduled) => TrackedStatus::Scheduled,
            _ => TrackedStatus::Unknown,
        };
        let outcome = Outcome {
            tracked_status: Some(status),
            ..outcome
        };
        let record = self
            .record_outcome(
                record.id,
                record.tracked_status,
                Transition::Found,
                &outcome,
                None,
            )
            .await
            .map_err(|e| (calls, AppError::from(e)))?;
        Ok(Checked::Done {
            open: still_due_to_go_out(&record, &outcome),
            record: Box::new(record),
            calls,
        })
    }
}

/// The publish dates a lookup must read for `wanted`, in whole seconds (widened outwards).
fn window(wanted: &Wanted<'_>) -> (DateTime<Utc>, DateTime<Utc>) {
    let (from, until) = wanted.dates();
    let until_second = whole_second(until);
    let until = if until_second < until {
        until_second + Duration::seconds(1)
    } else {
        until_second
    };
    (whole_second(from), until)
}

/// Where a read for a window ending at `until` ends: a window not over yet is read a while past
/// now (where nothing is published yet), so that the next records of the profile, created a
/// moment later, find their windows covered by the same read.
fn read_until(until: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    if until > now {
        until.max(whole_second(now) + CLOCK_SKEW * 2)
    } else {
        until
    }
}

/// The time cut to its whole second.
fn whole_second(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::seconds(1)).unwrap_or(at)
}

/// The items of a history answer, owned.
fn into_items(answer: Value) -> Option<Vec<Value>> {
    match answer {
        Value::Array(items) => Some(items),
        Value::Object(mut body) => match body.remove("history") {
            Some(Value::Array(items)) => Some(items),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_window_is_read_in_whole_seconds_widened_outwards() {
        let platforms = vec!["x".to_owned()];
        let wanted = Wanted {
            post: "p",
            platforms: &platforms,
            schedule_date: None,
            received_from: at("2026-01-01T10:00:00.700Z"),
            received_until: at("2026-01-01T10:05:40.200Z"),
            idempotency_key: None,
        };
        assert_eq!(
            window(&wanted),
            (at("2026-01-01T10:00:00Z"), at("2026-01-01T10:05:41Z"))
        );
        let scheduled = Wanted {
            schedule_date: Some(at("2026-02-01T09:00:00Z")),
            ..wanted
        };
        assert_eq!(
            window(&scheduled),
            (at("2026-02-01T08:59:59Z"), at("2026-02-01T09:00:01Z"))
        );
    }

    #[test]
    fn a_window_not_over_yet_is_read_past_now() {
        let now = at("2026-01-01T10:00:00.500Z");
        assert_eq!(
            read_until(at("2026-01-01T10:03:00Z"), now),
            at("2026-01-01T10:10:00Z")
        );
        assert_eq!(
            read_until(at("2026-01-01T10:30:00Z"), now),
            at("2026-01-01T10:30:00Z")
        );
        assert_eq!(
            read_until(at("2026-01-01T09:59:00Z"), now),
            at("2026-01-01T09:59:00Z")
        );
    }

    fn read(profile: Profile, from: &str, until: &str, bytes: usize) -> Read {
        Read {
            profile,
            from: at(from),
            until: at(until),
            items: Vec::new(),
            bytes,
        }
    }

    #[test]
    fn a_read_serves_the_windows_inside_it_of_its_profile_only() {
        let mut reads = HistoryReads::default();
        reads.keep(read(
            Profile::Primary,
            "2026-01-01T10:00:00Z",
            "2026-01-01T10:10:00Z",
            10,
        ));
        let inside = (at("2026-01-01T10:01:00Z"), at("2026-01-01T10:09:00Z"));
        assert_eq!(
            reads.covering(Profile::Primary, inside.0, inside.1),
            Some(0)
        );
        assert_eq!(
            reads.covering(Profile::Keyed([1; 32]), inside.0, inside.1),
            None
        );
        let older = at("2026-01-01T09:59:59Z");
        assert_eq!(reads.covering(Profile::Primary, older, inside.1), None);
        let later = at("2026-01-01T10:10:01Z");
        assert_eq!(reads.covering(Profile::Primary, inside.0, later), None);
    }

    #[test]
    fn the_reads_of_a_pass_stay_within_their_bound() {
        let mut reads = HistoryReads::default();
        for _ in 0..5 {
            reads.keep(read(
                Profile::Primary,
                "2026-01-01T10:00:00Z",
                "2026-01-01T10:10:00Z",
                READ_MAX_BYTES / 2,
            ));
        }
        assert!(reads.bytes <= READ_MAX_BYTES);
        assert_eq!(reads.reads.len(), 2);
        // One read larger than the bound is kept alone.
        reads.keep(read(
            Profile::Primary,
            "2026-01-01T10:00:00Z",
            "2026-01-01T10:10:00Z",
            READ_MAX_BYTES * 2,
        ));
        assert_eq!(reads.reads.len(), 1);
    }

    #[test]
    fn both_forms_of_a_history_answer_give_their_items() {
        assert_eq!(into_items(json!([1, 2])), Some(vec![json!(1), json!(2)]));
        assert_eq!(into_items(json!({"history": [3]})), Some(vec![json!(3)]));
        assert_eq!(into_items(json!({"status": "error"})), None);
        assert_eq!(into_items(json!("no")), None);
    }
}
