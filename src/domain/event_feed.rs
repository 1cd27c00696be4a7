//! Post events and the query of `GET /events`: the event types, the feed's filters and page
//! size, and its opaque cursor. The events themselves are written by the database in the
//! transaction of each change (the migration `post_events`); this is what a reader asks of them.

use uuid::Uuid;

use super::cursor;
use super::new_post::{FieldError, Problems, ValidationErrors, quote};
use super::post_list::{DEFAULT_LIMIT, distinct_names, parse_limit, parse_workspace_id};

/// Every type of event: the post events in the order of a post's life, then the account events.
pub const EVENT_TYPES: [&str; 10] = [
    "post.scheduled",
    "post.posted",
    "post.partial",
    "post.failed",
    "post.unknown",
    "post.cancelled",
    "post.deleted",
    "post.overdue",
    super::connection::CONNECTED_EVENT,
    super::connection::DISCONNECTED_EVENT,
];

/// Where a page of the feed ends. An event's `change` is the transaction that wrote it on
/// Postgres (0 on SQLite, whose `seq` alone is in commit order), and `seq` its order of writing;
/// the next page holds the events strictly after it in the order `change, seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventPosition {
    pub change: i64,
    pub seq: i64,
}

/// What keeps an events cursor from being read as another kind of cursor.
const CURSOR_CONTEXT: &[u8] = b"mosaic-social events cursor v1";

impl EventPosition {
    /// The opaque cursor (see `cursor`).
    pub fn encode(&self) -> String {
        cursor::seal(CURSOR_CONTEXT, &format!("{}.{}", self.change, self.seq))
    }

    /// The position in a cursor, or `None` for anything this service did not issue.
    pub fn decode(sealed: &str) -> Option<EventPosition> {
        let text = cursor::open(CURSOR_CONTEXT, sealed)?;
        let (change, seq) = text.split_once('.')?;
        Some(EventPosition {
            change: change.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

/// Which events to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Any of these types (every type when empty).
    pub types: Vec<&'static str>,
    pub workspace_id: Option<Uuid>,
}

/// A checked feed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventQuery {
    pub filter: EventFilter,
    /// Where the previous page ended (`None`: from the oldest event kept).
    pub after: Option<EventPosition>,
    pub limit: u32,
}

/// The query parameters the feed knows.
const PARAMETERS: [&str; 4] = ["after", "type", "workspace_id", "limit"];

impl EventQuery {
    /// Parses the query's `(name, value)` pairs, reporting every problem at once; an unknown or
    /// repeated name is a problem too, as in the list of posts.
    pub fn parse(pairs: &[(String, String)]) -> Result<EventQuery, ValidationErrors> {
        let mut errors = Problems::default();
        let mut seen = std::collections::HashSet::new();
        let mut query = EventQuery {
            filter: EventFilter::default(),
            after: None,
            limit: DEFAULT_LIMIT,
        };
        for (name, value) in pairs {
            if !seen.insert(name.as_str()) {
                errors.push(FieldError::new(quote(name), "is given more than once"));
                continue;
            }
            let problem = match name.as_str() {
                "limit" => parse_limit(value).map(|n| query.limit = n).err(),
                "after" => match EventPosition::decode(value) {
                    Some(position) => {
                        query.after = Some(position);
                        None
                    }
                    None => Some(
                        "is not a cursor of this feed: pass next_cursor back unchanged".to_owned(),
                    ),
                },
                "type" => match parse_types(value) {
                    Ok(types) => {
                        query.filter.types = types;
                        None
                    }
                    Err(message) => Some(message),
                },
                "workspace_id" => parse_workspace_id(value)
                    .map(|id| query.filter.workspace_id = Some(id))
                    .err(),
                _ => Some(format!(
                    "is not a parameter of this feed (known: {})",
                    PARAMETERS.join(", ")
                )),
            };
            if let Some(message) = problem {
                errors.push(FieldError::new(quote(name), message));
            }
        }
        errors.finish()?;
        Ok(query)
    }
}

/// The types of a `type` filter: one, or several separated by commas, each at most once.
fn parse_types(value: &str) -> Result<Vec<&'static str>, String> {
    distinct_names(
        value,
        |name| EVENT_TYPES.iter().find(|t| **t == name).copied(),
        &EVENT_TYPES.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::query_tests::{fields, pairs};

    fn fields_of(query: &[(&str, &str)]) -> Vec<String> {
        fields(EventQuery::parse(&pairs(query)))
    }

    #[test]
    fn no_parameters_read_from_the_oldest_event_twenty_at_a_time() {
        let query = EventQuery::parse(&[]).unwrap();
        assert_eq!(query.limit, 20);
        assert_eq!(query.after, None);
        assert_eq!(query.filter, EventFilter::default());
    }

    #[test]
    fn every_parameter_is_parsed() {
        let position = EventPosition {
            change: 9_007_199_254_740_993,
            seq: 42,
        };
        let cursor = position.encode();
        let query = EventQuery::parse(&pairs(&[
            ("after", &cursor),
            ("type", "post.posted,post.failed"),
            ("workspace_id", "6f1c1f2e-8d7b-4a55-9d7e-2b1f0c3d4e5f"),
            ("limit", "100"),
        ]))
        .unwrap();
        assert_eq!(query.after, Some(position));
        assert_eq!(query.filter.types, ["post.posted", "post.failed"]);
        assert!(query.filter.workspace_id.is_some());
        assert_eq!(query.limit, 100);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        assert_eq!(
            fields_of(&[
                ("after", "abc"),
                ("type", "post.published"),
                ("workspace_id", "w1"),
                ("limit", "0"),
                ("cursor", "x"),
            ]),
            ["after", "type", "workspace_id", "limit", "cursor"]
        );
        assert_eq!(fields_of(&[("limit", "101")]), ["limit"]);
        assert_eq!(fields_of(&[("type", "post.posted,post.posted")]), ["type"]);
        assert_eq!(fields_of(&[("type", "post.posted,")]), ["type"]);
        assert_eq!(fields_of(&[("type", "")]), ["type"]);
        assert_eq!(fields_of(&[("limit", "5"), ("limit", "6")]), ["limit"]);
    }

    #[test]
    fn a_cursor_round_trips_and_no_other_cursor_is_taken_for_it() {
        let position = EventPosition { change: 0, seq: 7 };
        let cursor = position.encode();
        assert_eq!(EventPosition::decode(&cursor), Some(position));
        for i in 0..cursor.len() {
            let mut tampered: Vec<char> = cursor.chars().collect();
            tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
            let tampered: String = tampered.into_iter().collect();
            assert_eq!(EventPosition::decode(&tampered), None, "{tampered}");
            assert_eq!(EventPosition::decode(&cursor[..i]), None);
        }
        // A cursor of the changes feed has the same shape of payload, and is still refused.
        let changes = super::super::post_list::ChangePosition {
            change: 0,
            id: Uuid::nil(),
        };
        assert_eq!(EventPosition::decode(&changes.encode()), None);
    }
}
