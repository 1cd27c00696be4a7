//! The query of `GET /social/posts`: its filters, its page size, and the opaque keyset cursor
//! that says where the next page starts.

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
    pub tracked_status: Option<TrackedStatus>,
    pub platform: Option<Platform>,
    pub workspace_id: Option<Uuid>,
    /// Records created strictly after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Records created strictly before this time.
    pub created_before: Option<DateTime<Utc>>,
}

/// Where a page ends: the last record's `(created_at, id)`. The next page holds the records
/// strictly after it in the order `created_at desc, id desc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// A checked list request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRequest {
    pub filter: PostFilter,
    /// Where the previous page ended, from the cursor.
    pub after: Option<Position>,
    pub limit: u32,
}

/// The query parameters the list knows.
const PARAMETERS: [&str; 7] = [
    "limit",
    "cursor",
    "tracked_status",
    "platform",
    "workspace_id",
    "created_after",
    "created_before",
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
            after: None,
            limit: DEFAULT_LIMIT,
        };
        for (name, value) in pairs {
            if !seen.insert(name.as_str()) {
                errors.push(FieldError::new(quote(name), "is given more than once"));
                continue;
            }
            let problem = match name.as_str() {
                "limit" => match value.parse::<u32>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => {
                        request.limit = n;
                        None
                    }
                    _ => Some(format!(
                        "'{}' is not a whole number from 1 to {MAX_LIMIT}",
                        quote(value)
                    )),
                },
                "cursor" => match Position::decode(value) {
                    Some(position) => {
                        request.after = Some(position);
                        None
                    }
                    None => Some(
                        "is not a cursor this service issued: pass next_cursor back unchanged"
                            .to_owned(),
                    ),
                },
                "tracked_status" => match value.parse::<TrackedStatus>() {
                    Ok(status) => {
                        request.filter.tracked_status = Some(status);
                        None
                    }
                    Err(_) => Some(format!(
                        "'{}' is not one of {}",
                        quote(value),
                        TrackedStatus::ALL.map(TrackedStatus::as_str).join(", ")
                    )),
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
                "workspace_id" => match Uuid::parse_str(value) {
                    Ok(id) => {
                        request.filter.workspace_id = Some(id);
                        None
                    }
                    Err(_) => Some(format!("'{}' is not a uuid", quote(value))),
                },
                "created_after" | "created_before" => match DateTime::parse_from_rfc3339(value) {
                    Ok(time) => {
                        let time = Some(time.with_timezone(&Utc));
                        if name == "created_after" {
                            request.filter.created_after = time;
                        } else {
                            request.filter.created_before = time;
                        }
                        None
                    }
                    Err(_) => Some(format!(
                        "'{}' is not an RFC 3339 timestamp with an offset, such as \
                         2026-03-10T16:00:00Z",
                        quote(value)
                    )),
                },
                _ => Some(format!(
                    "is not a parameter of this list (known: {})",
                    PARAMETERS.join(", ")
                )),
            };
            if let Some(message) = problem {
                errors.push(FieldError::new(quote(name), message));
            }
        }
        errors.finish()?;
        Ok(request)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn fields_of(query: &[(&str, &str)]) -> Vec<String> {
        ListRequest::parse(&pairs(query))
            .unwrap_err()
            .listed()
            .iter()
            .map(|e| e.field.clone())
            .collect()
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
        assert_eq!(request.after, None);
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
        assert_eq!(request.after, Some(position()));
        assert_eq!(
            request.filter.tracked_status,
            Some(TrackedStatus::Scheduled)
        );
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
