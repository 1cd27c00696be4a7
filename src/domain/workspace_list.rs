//! Paging an organization's workspaces (primary first, then oldest first): the page size, the
//! opaque cursor that says where the next page starts, and the query of `GET /whoami`, which
//! shows one page of them.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::cursor;
use super::new_post::{FieldError, Problems, ValidationErrors};

/// The most workspaces one answer lists.
pub const WORKSPACES_PER_PAGE: u32 = 100;

/// The query parameter of `GET /whoami` that asks for a later page of the workspaces.
pub const WORKSPACES_CURSOR: &str = "workspaces_cursor";

/// Where a page of workspaces ends. The next page holds the workspaces strictly after it in the
/// order `is_primary desc, created_at, id` (the one primary workspace first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkspacePosition {
    pub is_primary: bool,
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// What keeps a workspace cursor from being read as another kind of cursor.
const CURSOR_CONTEXT: &[u8] = b"mosaic-social workspace cursor v1";

impl WorkspacePosition {
    /// The opaque cursor (see `cursor`).
    pub fn encode(&self) -> String {
        let payload = format!(
            "{}.{}.{}",
            if self.is_primary { "p" } else { "s" },
            self.created_at.timestamp_micros(),
            self.id.simple()
        );
        cursor::seal(CURSOR_CONTEXT, &payload)
    }

    /// The position in a cursor, or `None` for anything this service did not issue.
    pub fn decode(sealed: &str) -> Option<WorkspacePosition> {
        let text = cursor::open(CURSOR_CONTEXT, sealed)?;
        let mut parts = text.splitn(3, '.');
        let is_primary = match parts.next()? {
            "p" => true,
            "s" => false,
            _ => return None,
        };
        Some(WorkspacePosition {
            is_primary,
            created_at: DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?,
            id: Uuid::parse_str(parts.next()?).ok()?,
        })
    }
}

/// A checked `GET /whoami` query: which page of the workspaces to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WhoamiRequest {
    /// Where the previous page of workspaces ended; `None` for the first page.
    pub workspaces_after: Option<WorkspacePosition>,
}

impl WhoamiRequest {
    /// Parses the query's `(name, value)` pairs; an unknown or repeated name is a problem, like
    /// a cursor this service did not issue.
    pub fn parse(pairs: &[(String, String)]) -> Result<WhoamiRequest, ValidationErrors> {
        let mut errors = Problems::default();
        let mut seen = HashSet::new();
        let mut request = WhoamiRequest::default();
        for (name, value) in pairs {
            if !seen.insert(name.as_str()) {
                errors.push(FieldError::new(name.clone(), "is given more than once"));
                continue;
            }
            if name != WORKSPACES_CURSOR {
                errors.push(FieldError::new(
                    name.clone(),
                    format!("is not a parameter of whoami (known: {WORKSPACES_CURSOR})"),
                ));
                continue;
            }
            match WorkspacePosition::decode(value) {
                Some(position) => request.workspaces_after = Some(position),
                None => errors.push(FieldError::new(
                    name.clone(),
                    "is not a cursor this service issued: pass workspaces_next_cursor back \
                     unchanged",
                )),
            }
        }
        errors.finish()?;
        Ok(request)
    }
}

/// The default and the most workspaces one page of `GET /workspaces` lists.
pub const WORKSPACES_DEFAULT_LIMIT: u32 = 20;

/// A checked `GET /workspaces` query: `after` (the previous page's `next_cursor`) and `limit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspacePageQuery {
    pub after: Option<WorkspacePosition>,
    pub limit: u32,
}

impl WorkspacePageQuery {
    /// Parses the query's pairs; an unknown or repeated name, a bad cursor or a limit outside
    /// 1 to [`WORKSPACES_PER_PAGE`] is a problem.
    pub fn parse(pairs: &[(String, String)]) -> Result<WorkspacePageQuery, ValidationErrors> {
        let mut errors = Problems::default();
        let mut seen = HashSet::new();
        let mut query = WorkspacePageQuery {
            after: None,
            limit: WORKSPACES_DEFAULT_LIMIT,
        };
        for (name, value) in pairs {
            if !seen.insert(name.as_str()) {
                errors.push(FieldError::new(name.clone(), "is given more than once"));
                continue;
            }
            match name.as_str() {
                "after" => match WorkspacePosition::decode(value) {
                    Some(position) => query.after = Some(position),
                    None => errors.push(FieldError::new(
                        "after",
                        "is not a cursor this service issued: pass next_cursor back unchanged",
                    )),
                },
                "limit" => match value.parse::<u32>() {
                    Ok(limit) if (1..=WORKSPACES_PER_PAGE).contains(&limit) => query.limit = limit,
                    _ => errors.push(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {WORKSPACES_PER_PAGE}"),
                    )),
                },
                _ => errors.push(FieldError::new(
                    name.clone(),
                    "is not a parameter of this list (known: after, limit)",
                )),
            }
        }
        errors.finish()?;
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Position;

    fn position(is_primary: bool) -> WorkspacePosition {
        WorkspacePosition {
            is_primary,
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            id: Uuid::parse_str("6f1c1f2e-8d7b-4a55-9d7e-2b1f0c3d4e5f").unwrap(),
        }
    }

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_workspace_cursor_round_trips_and_is_not_a_list_cursor() {
        for is_primary in [true, false] {
            let cursor = position(is_primary).encode();
            assert_eq!(
                WorkspacePosition::decode(&cursor),
                Some(position(is_primary))
            );
            assert_eq!(Position::decode(&cursor), None);
        }
        let list_cursor = Position {
            created_at: position(true).created_at,
            id: position(true).id,
        }
        .encode();
        assert_eq!(WorkspacePosition::decode(&list_cursor), None);
        let cursor = position(false).encode();
        assert_eq!(WorkspacePosition::decode(&cursor[..cursor.len() - 1]), None);
    }

    #[test]
    fn whoami_takes_only_a_workspace_cursor() {
        assert_eq!(WhoamiRequest::parse(&[]).unwrap(), WhoamiRequest::default());
        let cursor = position(false).encode();
        let request = WhoamiRequest::parse(&pairs(&[("workspaces_cursor", &cursor)])).unwrap();
        assert_eq!(request.workspaces_after, Some(position(false)));
        let fields = |query: &[(&str, &str)]| -> Vec<String> {
            WhoamiRequest::parse(&pairs(query))
                .unwrap_err()
                .listed()
                .iter()
                .map(|e| e.field.clone())
                .collect()
        };
        assert_eq!(
            fields(&[("workspaces_cursor", "nope"), ("limit", "5")]),
            ["workspaces_cursor", "limit"]
        );
        assert_eq!(
            fields(&[
                ("workspaces_cursor", &cursor),
                ("workspaces_cursor", &cursor)
            ]),
            ["workspaces_cursor"]
        );
    }
}
