//! The query of `GET /social/posts`: its filters, its page size, and the opaque keyset cursor
//! that says where the next page starts. Two orders: newest first (by `created_at`), and, with
//! `updated_after`, the changes feed: records in the order their last changes committed, so that
//! a poller that keeps the cursor never misses one.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::cursor;
use super::new_post::{FieldError, Problems, ValidationErrors, quote};
use super::platform::Platform;
use super::tracked_status::TrackedStatus;

/// The page size when the caller names none.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest page.
pub const MAX_LIMIT: u32 = 100;

/// Which records to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostFilter {
    /// Any of these statuses (every status when empty).
    pub tracked_status: Vec<TrackedStatus>,
    pub platform: Option<Platform>,
    pub workspace_id: Option<Uuid>,
    /// Records created strictly after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Records created strictly before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Records last changed strictly after this time; it also switches the list to the changes
    /// order (`ChangePosition`).
    pub updated_after: Option<DateTime<Utc>>,
}

/// Where a page ends: the last record's `(created_at, id)`. The next page holds the records
/// strictly after it in the order `created_at desc, id desc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Where a page of the changes feed ends: the last record's change and id. A record's change
/// is a number the store gives each committed change of the record, growing in commit order
/// (see the stores' `list_change_sizes`); the next page holds the records strictly after it in
/// the order `change asc, id asc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangePosition {
    pub change: i64,
    pub id: Uuid,
}

/// A position in either order: the record it stands at.
pub trait Keyed: Copy {
    fn id(&self) -> Uuid;
}

impl Keyed for Position {
    fn id(&self) -> Uuid {
        self.id
    }
}

impl Keyed for ChangePosition {
    fn id(&self) -> Uuid {
        self.id
    }
}

/// Where the previous page ended, in the order the request lists in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Newest first: the first page.
    Start,
    /// Newest first, after this record.
    Newest(Position),
    /// The changes feed (`updated_after`), after this change (`None`: from the start).
    Changes(Option<ChangePosition>),
}

/// A checked list request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRequest {
    pub filter: PostFilter,
    /// Where the previous page ended, from the cursor, and so which order the list is in.
    pub after: After,
    pub limit: u32,
}

/// The query parameters the list knows.
const PARAMETERS: [&str; 8] = [
    "limit",
    "cursor",
    "tracked_status",
    "platform",
    "workspace_id",
    "created_after",
    "created_before",
    "updated_after",
];

impl ListRequest {
    /// Parses the query's `(name, value)` pairs, reporting every problem at once. A name the
    /// list does not know, or one given twice, is a problem too: a misspelt filter would
    /// otherwise silently list everything.
    pub fn parse(pairs: &[(String, String)]) -> Result<ListRequest, ValidationErrors> {
        let mut errors = Problems::default();
        // A set, not a scan of what came before: a query with thousands of parameters must not
        // cost quadratic time.
        let mut seen = std::collections::HashSet::new();
        let mut request = ListRequest {
            filter: PostFilter::default(),
            after: After::Start,
            limit: DEFAULT_LIMIT,
        };
        // Read once every parameter is in: which kind of cursor it must be depends on whether
        // `updated_after` is given, wherever it stands in the query.
        let mut cursor = None;
        for (name, value) in pairs {
            if !seen.insert(name.as_str()) {
                errors.push(FieldError::new(quote(name), "is given more than once"));
                continue;
            }
            let problem = match name.as_str() {
                "limit" => parse_limit(value).map(|n| request.limit = n).err(),
                "cursor" => {
                    cursor = Some(value.as_str());
                    None
                }
                "tracked_status" => match parse_statuses(value) {
                    Ok(statuses) => {
                        request.filter.tracked_status = statuses;
                        None
                    }
                    Err(message) => Some(message),
                },
                "platform" => match Platform::parse(value) {
                    Some(platform) => {
                        request.filter.platform = Some(platform);
                        None
                    }
                    None => Some(format!(
                        "'{}' is not one of {}",
                        quote(value),
                        Platform::names()
                    )),
                },
                "workspace_id" => parse_workspace_id(value)
                    .map(|id| request.filter.workspace_id = Some(id))
                    .err(),
                "created_after" | "created_before" | "updated_after" => {
                    match DateTime::parse_from_rfc3339(value) {
                        Ok(time) => {
                            let time = Some(time.with_timezone(&Utc));
                            match name.as_str() {
                                "created_after" => request.filter.created_after = time,
                                "created_before" => request.filter.created_before = time,
                                _ => request.filter.updated_after = time,
                            }
                            None
                        }
                        Err(_) => Some(format!(
                            "'{}' is not an RFC 3339 timestamp with an offset, such as \
                         2026-03-10T16:00:00Z",
                            quote(value)
                        )),
                    }
                }
                _ => Some(format!(
                    "is not a parameter of this list (known: {})",
                    PARAMETERS.join(", ")
                )),
            };
            if let Some(message) = problem {
                errors.push(FieldError::new(quote(name), message));
            }
        }
        let changes = request.filter.updated_after.is_some();
        request.after = match (cursor, changes) {
            (None, false) => After::Start,
            (None, true) => After::Changes(None),
            (Some(text), false) => match Position::decode(text) {
                Some(position) => After::Newest(position),
                None => {
                    errors.push(FieldError::new("cursor", cursor_problem(text, true)));
                    After::Start
                }
            },
            (Some(text), true) => match ChangePosition::decode(text) {
                Some(position) => After::Changes(Some(position)),
                None => {
                    errors.push(FieldError::new("cursor", cursor_problem(text, false)));
                    After::Changes(None)
                }
            },
        };
        errors.finish()?;
        Ok(request)
    }
}

/// Why a cursor was refused, telling apart a cursor of the other order (a poller that dropped
/// `updated_after`, or added it) from one this service never issued.
fn cursor_problem(text: &str, newest: bool) -> String {
    let other = if newest {
        ChangePosition::decode(text).is_some()
    } else {
        Position::decode(text).is_some()
    };
    match (other, newest) {
        (true, true) => "is a cursor of the changes feed: pass updated_after as on the page \
                         that gave it"
            .to_owned(),
        (true, false) => "is a cursor of the newest-first list, not of the changes feed \
                          (updated_after): start the feed without a cursor"
            .to_owned(),
        (false, _) => {
            "is not a cursor this service issued: pass next_cursor back unchanged".to_owned()
        }
    }
}

/// The statuses of a `tracked_status` filter: one name, or several separated by commas
/// (`posted,partial`); each at most once.
fn parse_statuses(value: &str) -> Result<Vec<TrackedStatus>, String> {
    distinct_names(
        value,
        |name| name.parse::<TrackedStatus>().ok(),
        &TrackedStatus::ALL.map(TrackedStatus::as_str).join(", "),
    )
}

/// A page size: a whole number from 1 to `MAX_LIMIT` (the list's and the event feed's).
pub(crate) fn parse_limit(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{}' is not a whole number from 1 to {MAX_LIMIT}",
            quote(value)
        )),
    }
}

/// A `workspace_id` filter.
pub(crate) fn parse_workspace_id(value: &str) -> Result<Uuid, String> {
    Uuid::parse_str(value).map_err(|_| format!("'{}' is not a uuid", quote(value)))
}

/// A filter of several values: names separated by commas, each one `parse` knows (`known`
/// lists them) and each at most once. Bounded by itself: it stops at the first name that is
/// unknown or repeated, so it reads at most one more name than there are values.
pub(crate) fn distinct_names<T: PartialEq>(
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    known: &str,
) -> Result<Vec<T>, String> {
    let mut values = Vec::new();
    for name in value.split(',') {
        let parsed = parse(name).ok_or_else(|| {
            format!(
                "'{}' is not one of {known} (several may be given, separated by commas)",
                quote(name)
            )
        })?;
        if values.contains(&parsed) {
            return Err(format!("names '{}' more than once", quote(name)));
        }
        values.push(parsed);
    }
    Ok(values)
}

/// What keeps a list cursor from being mistaken for another kind of cursor.
const CURSOR_CONTEXT: &[u8] = b"mosaic-social list cursor v1";

impl Position {
    /// The opaque cursor: the position's microseconds and id, sealed (see `cursor`).
    pub fn encode(&self) -> String {
        let payload = format!(
            "{}.{}",
            self.created_at.timestamp_micros(),
            self.id.simple()
        );
        cursor::seal(CURSOR_CONTEXT, &payload)
    }

    /// The position in a cursor, or `None` for anything this service did not issue.
    pub fn decode(sealed: &str) -> Option<Position> {
        let text = cursor::open(CURSOR_CONTEXT, sealed)?;
        let (micros, id) = text.split_once('.')?;
        Some(Position {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// What keeps a changes cursor from being read as a list cursor, and the other way round.
const CHANGES_CURSOR_CONTEXT: &[u8] = b"mosaic-social changes cursor v1";

impl ChangePosition {
    /// The opaque cursor: the change number and id, sealed (see `cursor`).
    pub fn encode(&self) -> String {
        cursor::seal(
            CHANGES_CURSOR_CONTEXT,
            &format!("{}.{}", self.change, self.id.simple()),
        )
    }

    /// The position in a changes cursor, or `None` for anything this service did not issue.
    pub fn decode(sealed: &str) -> Option<ChangePosition> {
        let text = cursor::open(CHANGES_CURSOR_CONTEXT, sealed)?;
        let (change, id) = text.split_once('.')?;
        Some(ChangePosition {
            change: change.parse().ok()?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// The most bytes of JSON the records of one page take together. A page holds `limit` records
/// or fewer: it ends before the record that would take it past this budget (and still gives a
/// `next_cursor`), except that it always holds at least one record, so that paging moves on
/// even past a record larger than the budget.
pub const PAGE_BYTES: u64 = 1024 * 1024;

/// How many of the records, whose sizes come in page order, make one page within `budget`: as
/// many as fit, and at least one when there is one.
pub fn fitting(sizes: impl IntoIterator<Item = u64>, budget: u64) -> usize {
    let mut total: u64 = 0;
    let mut count = 0;
    for size in sizes {
        total = total.saturating_add(size);
        if count > 0 && total > budget {
            break;
        }
        count += 1;
    }
    count
}

/// The bytes of `value` as JSON, counted without writing them anywhere.
pub fn json_len<T: serde::Serialize>(value: &T) -> u64 {
    let mut counter = Counter(0);
    // Writing to a counter cannot fail; a value that does not serialize counts what it wrote.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// A writer that only counts what it is given.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::query_tests::{fields, pairs};

    fn fields_of(query: &[(&str, &str)]) -> Vec<String> {
        fields(ListRequest::parse(&pairs(query)))
    }

    fn position() -> Position {
        Position {
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            id: Uuid::parse_str("6f1c1f2e-8d7b-4a55-9d7e-2b1f0c3d4e5f").unwrap(),
        }
    }

    #[test]
    fn no_parameters_list_everything_twenty_at_a_time() {
        let request = ListRequest::parse(&[]).unwrap();
        assert_eq!(request.limit, 20);
        assert_eq!(request.after, After::Start);
        assert_eq!(request.filter, PostFilter::default());
    }

    #[test]
    fn every_filter_is_parsed() {
        let cursor = position().encode();
        let request = ListRequest::parse(&pairs(&[
            ("limit", "100"),
            ("cursor", &cursor),
            ("tracked_status", "scheduled"),
            ("platform", "X"),
            ("workspace_id", "6f1c1f2e-8d7b-4a55-9d7e-2b1f0c3d4e5f"),
            ("created_after", "2026-01-01T01:00:00+01:00"),
            ("created_before", "2026-02-01T00:00:00Z"),
        ]))
        .unwrap();
        assert_eq!(request.limit, 100);
        assert_eq!(request.after, After::Newest(position()));
        assert_eq!(request.filter.tracked_status, [TrackedStatus::Scheduled]);
        assert_eq!(request.filter.platform, Some(Platform::X));
        assert_eq!(
            request.filter.created_after.unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert!(request.filter.created_before.is_some());
        assert!(request.filter.workspace_id.is_some());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        assert_eq!(
            fields_of(&[
                ("limit", "0"),
                ("tracked_status", "posting"),
                ("platform", "twitter"),
                ("workspace_id", "w1"),
                ("created_after", "2026-01-01T00:00:00"),
                ("status", "posted"),
                ("cursor", "abc"),
            ]),
            [
                "limit",
                "tracked_status",
                "platform",
                "workspace_id",
                "created_after",
                "status",
                "cursor"
            ]
        );
        assert_eq!(fields_of(&[("limit", "101")]), ["limit"]);
        assert_eq!(fields_of(&[("limit", "-1")]), ["limit"]);
        assert_eq!(
            fields_of(&[("platform", "x"), ("platform", "linkedin")]),
            ["platform"]
        );
    }

    fn change() -> ChangePosition {
        ChangePosition {
            change: 9_007_199_254_740_993,
            id: Uuid::parse_str("6f1c1f2e-8d7b-4a55-9d7e-2b1f0c3d4e5f").unwrap(),
        }
    }

    #[test]
    fn several_statuses_are_separated_by_commas_each_at_most_once() {
        let request =
            ListRequest::parse(&pairs(&[("tracked_status", "posted,partial,failed")])).unwrap();
        assert_eq!(
            request.filter.tracked_status,
            [
                TrackedStatus::Posted,
                TrackedStatus::Partial,
                TrackedStatus::Failed
            ]
        );
        for bad in [
            "posted,posted",
            "posted,",
            ",posted",
            "posted,nope",
            "posted partial",
        ] {
            let problems = ListRequest::parse(&pairs(&[("tracked_status", bad)])).unwrap_err();
            let listed = problems.listed();
            assert_eq!(listed.len(), 1, "{bad}");
            assert_eq!(listed[0].field, "tracked_status", "{bad}");
        }
        let repeated =
            ListRequest::parse(&pairs(&[("tracked_status", "posted,failed,posted")])).unwrap_err();
        assert!(
            repeated.listed()[0].message.contains("more than once"),
            "{:?}",
            repeated.listed()
        );
    }

    #[test]
    fn updated_after_starts_the_changes_feed_whose_cursor_is_its_own() {
        let request =
            ListRequest::parse(&pairs(&[("updated_after", "2026-01-01T01:00:00+01:00")])).unwrap();
        assert_eq!(request.after, After::Changes(None));
        assert_eq!(
            request.filter.updated_after.unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        // The cursor may come before updated_after in the query.
        let cursor = change().encode();
        let request = ListRequest::parse(&pairs(&[
            ("cursor", &cursor),
            ("updated_after", "2026-01-01T00:00:00Z"),
        ]))
        .unwrap();
        assert_eq!(request.after, After::Changes(Some(change())));

        // Each order refuses the other's cursor, and says which it is.
        let newest = position().encode();
        let refused = ListRequest::parse(&pairs(&[
            ("updated_after", "2026-01-01T00:00:00Z"),
            ("cursor", &newest),
        ]))
        .unwrap_err();
        assert_eq!(refused.listed()[0].field, "cursor");
        assert!(refused.listed()[0].message.contains("newest-first"));
        let refused = ListRequest::parse(&pairs(&[("cursor", &cursor)])).unwrap_err();
        assert_eq!(refused.listed()[0].field, "cursor");
        assert!(refused.listed()[0].message.contains("changes feed"));
        for junk in ["abc", ""] {
            for query in [
                vec![("cursor", junk)],
                vec![("cursor", junk), ("updated_after", "2026-01-01T00:00:00Z")],
            ] {
                let refused = ListRequest::parse(&pairs(&query)).unwrap_err();
                assert_eq!(refused.listed().len(), 1);
                assert!(
                    refused.listed()[0]
                        .message
                        .contains("not a cursor this service issued")
                );
            }
        }
        assert_eq!(
            fields_of(&[("updated_after", "yesterday")]),
            ["updated_after"]
        );
    }

    #[test]
    fn a_changes_cursor_round_trips_and_any_change_is_refused() {
        let cursor = change().encode();
        assert_eq!(ChangePosition::decode(&cursor), Some(change()));
        for i in 0..cursor.len() {
            let mut tampered: Vec<char> = cursor.chars().collect();
            tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
            let tampered: String = tampered.into_iter().collect();
            assert_eq!(ChangePosition::decode(&tampered), None, "{tampered}");
            assert_eq!(ChangePosition::decode(&cursor[..i]), None);
        }
        let negative = ChangePosition {
            change: -1,
            ..change()
        };
        assert_eq!(ChangePosition::decode(&negative.encode()), Some(negative));
    }

    #[test]
    fn json_len_counts_the_bytes_serde_json_writes() {
        for value in [
            serde_json::json!(null),
            serde_json::json!({"a": "é\n", "b": [1, 2.5, true]}),
            serde_json::json!("x".repeat(1000)),
        ] {
            assert_eq!(
                json_len(&value),
                serde_json::to_vec(&value).unwrap().len() as u64
            );
        }
    }

    #[test]
    fn the_page_budget_is_the_mebibyte_the_documentation_states() {
        assert_eq!(PAGE_BYTES, 1_048_576);
    }

    #[test]
    fn a_page_ends_before_the_record_that_would_pass_the_budget_and_holds_at_least_one() {
        assert_eq!(fitting([], 10), 0);
        assert_eq!(fitting([4, 4, 2, 1], 10), 3);
        assert_eq!(fitting([4, 4, 3], 10), 2);
        assert_eq!(fitting([10], 10), 1);
        assert_eq!(fitting([11, 1], 10), 1);
        assert_eq!(fitting([1, 11], 10), 1);
        assert_eq!(fitting([u64::MAX, u64::MAX], 10), 1);
        assert_eq!(fitting([0; 5], 0), 5);
    }

    #[test]
    fn a_cursor_round_trips_and_any_change_is_refused() {
        let cursor = position().encode();
        assert_eq!(Position::decode(&cursor), Some(position()));
        assert!(!cursor.contains(['+', '/', '=']), "{cursor}");
        // Every single-character change, and every truncation, fails the check.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..cursor.len() {
            for c in alphabet.chars() {
                let mut tampered: Vec<char> = cursor.chars().collect();
                if tampered[i] == c {
                    continue;
                }
                tampered[i] = c;
                let tampered: String = tampered.into_iter().collect();
                assert_eq!(Position::decode(&tampered), None, "{tampered}");
            }
            assert_eq!(Position::decode(&cursor[..i]), None);
        }
        for junk in ["", "!!!", "%00", &"A".repeat(1000)] {
            assert_eq!(Position::decode(junk), None, "{junk}");
        }
    }
}
