//! A post's comments: Ayrshare's per-platform answer to `GET /comments/{id}` read leniently into
//! one normalized shape, ordered (newest first, undated last, ties by platform, comment id,
//! platform comment id), bounded (replies per comment) and paged by a keyset cursor. Pure.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::change::lenient_string;
use super::cursor;
use super::new_post::{FieldError, Problems, ValidationErrors, quote};
use super::outcome::{DEFAULT_RETRY_AFTER_SECS, DeliveryFailure, ProviderAnswer, Verdict};
use super::platform::{Platform, platform_from_ayrshare};
use super::post_list::parse_limit;

/// The page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 20;
/// The most replies shown under one comment (newest first); the rest are counted in
/// `replies_omitted`.
pub const MAX_REPLIES: usize = 20;
/// The longest id kept from Ayrshare's answer; a comment with a longer one is left out (no
/// network issues such ids, and each must fit in a cursor).
pub const MAX_ID_BYTES: usize = 512;
/// The most comments read out of one Ayrshare answer, all platforms together (Facebook and
/// Instagram keep 1,000 each): what one request may cost.
pub const MAX_READ: usize = 10_000;
/// The longest cursor read.
const MAX_CURSOR_LEN: usize = 2_400;
/// The cursors of this list are read by this list only.
const CURSOR_CONTEXT: &[u8] = b"mosaic-social/comments/v1";

/// Who wrote a comment, as the network says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Author {
    pub id: Option<String>,
    pub username: Option<String>,
}

/// One comment (or reply) in the normalized shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Comment {
    /// Ayrshare's id of the comment: the one to reply to or delete.
    pub comment_id: String,
    /// The network's own id of the comment, when Ayrshare gives one (else Ayrshare's).
    pub platform_comment_id: Option<String>,
    /// Our platform name (`x`, not `twitter`).
    pub platform: String,
    pub text: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub author: Author,
    pub like_count: Option<u64>,
    pub hidden: Option<bool>,
    /// Newest first, at most 20 (`replies_limit` in the list says so).
    #[schema(no_recursion)]
    pub replies: Vec<Comment>,
    /// Replies Ayrshare returned that are not shown (past the first 20).
    pub replies_omitted: u64,
}

/// What the list asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentQuery {
    pub platform: Option<Platform>,
    pub limit: u32,
    pub after: Option<CommentKey>,
}

impl CommentQuery {
    /// Parses the query's pairs: `platform`, `limit` (1 to 100), `cursor`; anything else, or a
    /// name given twice, is refused.
    pub fn parse(pairs: &[(String, String)]) -> Result<CommentQuery, ValidationErrors> {
        let mut errors = Problems::default();
        let mut seen = std::collections::HashSet::new();
        let mut query = CommentQuery {
            platform: None,
            limit: DEFAULT_LIMIT,
            after: None,
        };
        for (name, value) in pairs {
            if !seen.insert(name.as_str()) {
                errors.push(FieldError::new(quote(name), "is given more than once"));
                continue;
            }
            let problem = match name.as_str() {
                "limit" => parse_limit(value).map(|n| query.limit = n).err(),
                "platform" => match Platform::parse(value) {
                    Some(platform) => {
                        query.platform = Some(platform);
                        None
                    }
                    None => Some(format!(
                        "'{}' is not one of {}",
                        quote(value),
                        Platform::names()
                    )),
                },
                "cursor" => match CommentKey::open(value) {
                    Some(key) => {
                        query.after = Some(key);
                        None
                    }
                    None => Some("is not a cursor this list handed out".to_owned()),
                },
                _ => Some("is not a parameter of this list (platform, limit, cursor)".to_owned()),
            };
            if let Some(message) = problem {
                errors.push(FieldError::new(quote(name), message));
            }
        }
        errors.finish().map(|()| query)
    }
}

/// Where a comment stands in the order: the cursor's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentKey {
    created_at: Option<DateTime<Utc>>,
    platform: String,
    comment_id: String,
    platform_comment_id: Option<String>,
}

impl CommentKey {
    fn of(comment: &Comment) -> CommentKey {
        CommentKey {
            created_at: comment.created_at,
            platform: comment.platform.clone(),
            comment_id: comment.comment_id.clone(),
            platform_comment_id: comment.platform_comment_id.clone(),
        }
    }

    /// The cursor that starts the next page after this comment.
    pub fn seal(&self) -> String {
        let payload = serde_json::to_string(self).unwrap_or_default();
        cursor::seal(CURSOR_CONTEXT, &payload)
    }

    /// A cursor handed out by `seal`, or `None`.
    pub fn open(text: &str) -> Option<CommentKey> {
        let payload = cursor::open_within(CURSOR_CONTEXT, text, MAX_CURSOR_LEN)?;
        serde_json::from_str(&payload).ok()
    }
}

/// Newest first, undated last, then platform, comment id, platform comment id (ascending).
fn order(a: &CommentKey, b: &CommentKey) -> Ordering {
    let by_date = match (a.created_at, b.created_at) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_date
        .then_with(|| a.platform.cmp(&b.platform))
        .then_with(|| a.comment_id.cmp(&b.comment_id))
        .then_with(|| a.platform_comment_id.cmp(&b.platform_comment_id))
}

fn sort(comments: &mut [Comment]) {
    comments.sort_by_cached_key(CommentKey::of_sortable);
}

impl CommentKey {
    fn of_sortable(comment: &Comment) -> Sortable {
        Sortable(CommentKey::of(comment))
    }
}

#[derive(PartialEq, Eq)]
struct Sortable(CommentKey);

impl PartialOrd for Sortable {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sortable {
    fn cmp(&self, other: &Self) -> Ordering {
        order(&self.0, &other.0)
    }
}

/// One page of comments, and the cursor of the next when there is more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentPage {
    pub comments: Vec<Comment>,
    pub next_cursor: Option<String>,
}

/// The page `query` asks for out of every comment read: ordered, filtered by platform, after
/// the cursor, at most `limit`.
pub fn page(mut comments: Vec<Comment>, query: &CommentQuery) -> CommentPage {
    if let Some(platform) = query.platform {
        comments.retain(|c| c.platform == platform.as_str());
    }
    sort(&mut comments);
    let start = match &query.after {
        Some(after) => comments.partition_point(|c| order(&CommentKey::of(c), after).is_le()),
        None => 0,
    };
    let limit = query.limit as usize;
    let rest = comments.len() - start;
    let mut shown: Vec<Comment> = comments.into_iter().skip(start).take(limit).collect();
    let next_cursor = (rest > limit)
        .then(|| shown.last().map(|c| CommentKey::of(c).seal()))
        .flatten();
    shown.shrink_to_fit();
    CommentPage {
        comments: shown,
        next_cursor,
    }
}

/// What Ayrshare's answer to `GET /comments/{id}` means: the comments of every platform it
/// listed (a platform it left out has none to show), or why there are none to show.
pub fn judge_read(
    answer: Result<&ProviderAnswer, DeliveryFailure>,
) -> Result<Vec<Comment>, Verdict> {
    let answer = match answer {
        Ok(answer) => answer,
        Err(DeliveryFailure::NotSent) => {
            return Err(Verdict::Unavailable {
                detail: "ayrshare could not be reached".into(),
            });
        }
        Err(DeliveryFailure::OutcomeUnknown) => {
            return Err(Verdict::TimedOut {
                detail: "ayrshare did not answer in time; nothing was changed (a read)".into(),
            });
        }
        Err(DeliveryFailure::HeldOff { retry_after_secs }) => {
            return Err(Verdict::RateLimited {
                retry_after: retry_after_secs.to_string(),
            });
        }
    };
    let status = answer.http_status;
    let body = answer.json.as_ref().and_then(Value::as_object);
    if let Some(verdict) = refusal(answer, body, "read the comments") {
        return Err(verdict);
    }
    let Some(body) = body else {
        return Err(Verdict::ProviderError {
            detail: format!(
                "ayrshare answered HTTP {status} with a body that is not Ayrshare JSON"
            ),
        });
    };
    Ok(read_comments(body))
}

/// The verdict of an answer that refuses or fails, shared by reads and writes (`what` names the
/// call in the message); `None` for an answer that is not a refusal as a whole.
pub(crate) fn refusal(
    answer: &ProviderAnswer,
    body: Option<&Map<String, Value>>,
    what: &str,
) -> Option<Verdict> {
    let status = answer.http_status;
    let message = body.and_then(|b| b.get("message")).and_then(lenient_string);
    let code = body.and_then(|b| b.get("code")).and_then(lenient_string);
    let said = || match (&message, &code) {
        (Some(m), Some(c)) => format!(": {m} (code {c})"),
        (Some(m), None) => format!(": {m}"),
        (None, Some(c)) => format!(" (code {c})"),
        (None, None) => String::new(),
    };
    match status {
        401 | 403 => Some(Verdict::ProviderError {
            detail: format!(
                "ayrshare refused this service's credentials (HTTP {status}){}; the caller's API \
                 key is fine",
                said()
            ),
        }),
        429 => Some(Verdict::RateLimited {
            retry_after: answer
                .retry_after
                .clone()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_RETRY_AFTER_SECS.to_string()),
        }),
        500..=599 => Some(Verdict::ProviderError {
            detail: format!("ayrshare failed (HTTP {status}){}", said()),
        }),
        404 => Some(Verdict::NotFound {
            detail: format!("ayrshare does not know it{}", said()),
        }),
        _ if code.as_deref() == Some(super::change::CODE_UNKNOWN_POST) => Some(Verdict::NotFound {
            detail: format!("ayrshare does not know it{}", said()),
        }),
        400..=499 if body.is_some_and(|b| !has_platform_entries(b)) => Some(Verdict::Rejected {
            detail: format!("ayrshare refused to {what}{}", said()),
        }),
        _ => None,
    }
}

/// Whether the body has per-platform entries (a write's answer may refuse on some platforms
/// only, in a 4xx).
fn has_platform_entries(body: &Map<String, Value>) -> bool {
    body.get("errors")
        .and_then(Value::as_array)
        .is_some_and(|e| !e.is_empty())
        || body.keys().any(|k| ayrshare_platform(k).is_some())
}

/// Our platform for one of Ayrshare's keys, when it is a platform we know.
pub(crate) fn ayrshare_platform(key: &str) -> Option<Platform> {
    Platform::parse(&platform_from_ayrshare(key))
}

/// Every comment of every platform key of the answer, replies bounded, each list as Ayrshare
/// gave it (ordered later). An entry that is not an object or has no usable id is left out.
pub fn read_comments(body: &Map<String, Value>) -> Vec<Comment> {
    let mut out = Vec::new();
    for (key, value) in body {
        let Some(platform) = ayrshare_platform(key) else {
            continue;
        };
        let Some(items) = value.as_array() else {
            continue;
        };
        for item in items {
            if out.len() >= MAX_READ {
                return out;
            }
            if let Some(comment) = read_one(item, platform, true) {
                out.push(comment);
            }
        }
    }
    out
}

fn string_of(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| object.get(*k).and_then(lenient_string))
        .filter(|s| !s.is_empty())
}

fn id_of(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    string_of(object, keys).filter(|id| id.len() <= MAX_ID_BYTES)
}

fn date_of(value: Option<&Value>) -> Option<DateTime<Utc>> {
    match value? {
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|d| d.with_timezone(&Utc))
            .or_else(|| {
                // Facebook's `2026-12-02T10:00:00+0000`.
                DateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%z")
                    .ok()
                    .map(|d| d.with_timezone(&Utc))
            }),
        // Seconds, or milliseconds when too big to be seconds.
        Value::Number(n) => {
            let n = n.as_i64()?;
            if n > 100_000_000_000 {
                DateTime::from_timestamp_millis(n)
            } else {
                DateTime::from_timestamp(n, 0)
            }
        }
        _ => None,
    }
}

fn read_one(item: &Value, platform: Platform, with_replies: bool) -> Option<Comment> {
    let object = item.as_object()?;
    let comment_id = id_of(object, &["commentId", "id", "platformCommentId"])?;
    let platform_comment_id = id_of(object, &["platformCommentId", "commentPlatformId"])
        .or_else(|| id_of(object, &["commentId", "id"]));
    let from = object.get("from").and_then(Value::as_object);
    let author = Author {
        id: from
            .and_then(|f| id_of(f, &["id"]))
            .or_else(|| id_of(object, &["userId"])),
        username: from
            .and_then(|f| string_of(f, &["username", "name"]))
            .or_else(|| string_of(object, &["username", "userName", "displayName"])),
    };
    let like_count = ["likeCount", "like_count", "likes"]
        .iter()
        .find_map(|k| object.get(*k))
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()));
    let hidden = object.get("hidden").and_then(|v| match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    let created_at = [
        "created",
        "createdAt",
        "created_time",
        "timestamp",
        "publishedAt",
    ]
    .iter()
    .find_map(|k| date_of(object.get(*k)));
    let (replies, replies_omitted) = if with_replies {
        let mut replies: Vec<Comment> = object
            .get("replies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(MAX_READ)
            .filter_map(|r| read_one(r, platform, false))
            .collect();
        sort(&mut replies);
        let omitted = replies.len().saturating_sub(MAX_REPLIES) as u64;
        replies.truncate(MAX_REPLIES);
        (replies, omitted)
    } else {
        (Vec::new(), 0)
    };
    Some(Comment {
        comment_id,
        platform_comment_id,
        platform: platform.as_str().to_owned(),
        text: string_of(object, &["comment", "text", "message"]),
        created_at,
        author,
        like_count,
        hidden,
        replies,
        replies_omitted,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::query_tests::{fields, pairs};

    fn read(body: Value) -> Vec<Comment> {
        let answer = ProviderAnswer::new(200, &body.to_string(), None);
        judge_read(Ok(&answer)).unwrap()
    }

    fn ids(comments: &[Comment]) -> Vec<&str> {
        comments.iter().map(|c| c.comment_id.as_str()).collect()
    }

    #[test]
    fn every_platform_is_read_into_one_shape_under_our_names() {
        let comments = read(json!({
            "status": "success", "id": "P1",
            "twitter": [{"comment": "hi", "commentId": "t1", "created": "2026-12-02T10:00:00Z",
                         "from": {"id": "u1", "username": "ann"}, "likeCount": 3, "hidden": false,
                         "platform": "twitter", "postId": "n1"}],
            "facebook": [{"message": "fb", "id": "f1", "created_time": "2026-12-02T11:00:00+0000",
                          "userName": "bob", "likes": "2"}],
            "pinterest": [{"comment": "not ours", "commentId": "p1"}],
            "linkedin": "not a list",
        }));
        let mut listed = ids(&comments);
        listed.sort();
        assert_eq!(listed, ["f1", "t1"]);
        let x = comments.iter().find(|c| c.comment_id == "t1").unwrap();
        assert_eq!(x.platform, "x");
        assert_eq!(x.text.as_deref(), Some("hi"));
        assert_eq!(
            x.author,
            Author {
                id: Some("u1".into()),
                username: Some("ann".into())
            }
        );
        assert_eq!((x.like_count, x.hidden), (Some(3), Some(false)));
        assert_eq!(x.platform_comment_id.as_deref(), Some("t1"));
        let fb = comments.iter().find(|c| c.comment_id == "f1").unwrap();
        assert_eq!(fb.text.as_deref(), Some("fb"));
        assert_eq!(fb.author.username.as_deref(), Some("bob"));
        assert_eq!(fb.like_count, Some(2));
        assert_eq!(fb.hidden, None);
        assert_eq!(
            fb.created_at.unwrap().to_rfc3339(),
            "2026-12-02T11:00:00+00:00"
        );
    }

    #[test]
    fn entries_without_an_id_or_not_objects_are_left_out() {
        let comments = read(json!({"instagram": [7, {"comment": "no id"},
            {"commentId": "x".repeat(MAX_ID_BYTES + 1)}, {"commentId": "ok"}]}));
        assert_eq!(ids(&comments), ["ok"]);
        assert!(read(json!({"status": "success", "id": "P"})).is_empty());
        assert!(read(json!({"instagram": []})).is_empty());
    }

    #[test]
    fn newest_first_undated_last_ties_by_platform_then_ids() {
        let body = json!({
            "twitter": [{"commentId": "b", "created": "2026-12-02T10:00:00Z"},
                        {"commentId": "undated-2"},
                        {"commentId": "a", "created": "2026-12-02T10:00:00Z"}],
            "facebook": [{"commentId": "z", "created": "2026-12-02T10:00:00Z"},
                         {"commentId": "new", "created": "2026-12-02T12:00:00Z"},
                         {"commentId": "undated-1"}],
        });
        let all = page(
            read(body),
            &CommentQuery {
                platform: None,
                limit: 100,
                after: None,
            },
        );
        assert_eq!(
            ids(&all.comments),
            ["new", "z", "a", "b", "undated-1", "undated-2"]
        );
        assert_eq!(all.next_cursor, None);
    }

    #[test]
    fn pages_follow_each_other_without_gap_or_repeat() {
        let items: Vec<Value> = (0..7)
            .map(|i| {
                json!({"commentId": format!("c{i}"),
                            "created": format!("2026-12-02T10:00:0{}Z", i % 3)})
            })
            .collect();
        let all = read(json!({"instagram": items, "youtube": [{"commentId": "y"}]}));
        let mut query = CommentQuery {
            platform: None,
            limit: 3,
            after: None,
        };
        let mut seen = Vec::new();
        loop {
            let got = page(all.clone(), &query);
            assert!(got.comments.len() <= 3);
            seen.extend(got.comments.iter().map(|c| c.comment_id.clone()));
            match got.next_cursor {
                Some(cursor) => query.after = Some(CommentKey::open(&cursor).unwrap()),
                None => break,
            }
        }
        let whole = page(
            all,
            &CommentQuery {
                platform: None,
                limit: 100,
                after: None,
            },
        );
        assert_eq!(seen, ids(&whole.comments));
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn a_platform_filter_keeps_that_platform_only() {
        let all = read(json!({"twitter": [{"commentId": "t"}], "tiktok": [{"commentId": "k"}]}));
        let query = CommentQuery {
            platform: Some(Platform::X),
            limit: 10,
            after: None,
        };
        assert_eq!(ids(&page(all, &query).comments), ["t"]);
    }

    #[test]
    fn replies_are_ordered_and_bounded_and_the_rest_counted() {
        let replies: Vec<Value> = (0..MAX_REPLIES + 5)
            .map(|i| json!({"commentId": format!("r{i:02}"), "created": "2026-12-02T10:00:00Z"}))
            .collect();
        let comments = read(json!({"facebook": [{"commentId": "c", "replies": replies}],
            "instagram": [{"commentId": "d", "replies": [{"commentId": "r", "replies": [{"commentId": "deep"}]}]}]}));
        let c = comments.iter().find(|c| c.comment_id == "c").unwrap();
        assert_eq!(c.replies.len(), MAX_REPLIES);
        assert_eq!(c.replies_omitted, 5);
        assert_eq!(c.replies[0].comment_id, "r00");
        let d = comments.iter().find(|c| c.comment_id == "d").unwrap();
        assert_eq!(ids(&d.replies), ["r"]);
        assert!(
            d.replies[0].replies.is_empty(),
            "replies of replies are not read"
        );
    }

    #[test]
    fn refusals_and_failures_map_to_verdicts() {
        let judge = |status: u16, body: Value| {
            let answer = ProviderAnswer::new(status, &body.to_string(), None);
            judge_read(Ok(&answer)).unwrap_err()
        };
        assert!(matches!(
            judge(401, json!({})),
            Verdict::ProviderError { .. }
        ));
        assert!(
            matches!(judge(429, json!({})), Verdict::RateLimited { retry_after } if retry_after == "300")
        );
        assert!(matches!(
            judge(500, json!({})),
            Verdict::ProviderError { .. }
        ));
        assert!(matches!(
            judge(404, json!({"code": 114})),
            Verdict::NotFound { .. }
        ));
        assert!(matches!(
            judge(400, json!({"status": "error", "code": 114})),
            Verdict::NotFound { .. }
        ));
        let refused = judge(
            400,
            json!({"status": "error", "code": 389, "message": "No"}),
        );
        assert!(
            matches!(&refused, Verdict::Rejected { detail } if detail.contains("No (code 389)")),
            "{refused:?}"
        );
        let answer = ProviderAnswer::new(200, "<html>", None);
        assert!(matches!(
            judge_read(Ok(&answer)),
            Err(Verdict::ProviderError { .. })
        ));
        assert!(matches!(
            judge_read(Err(DeliveryFailure::NotSent)),
            Err(Verdict::Unavailable { .. })
        ));
    }

    #[test]
    fn the_query_takes_platform_limit_and_cursor_only() {
        let q = CommentQuery::parse(&pairs(&[("platform", "X"), ("limit", "5")])).unwrap();
        assert_eq!((q.platform, q.limit), (Some(Platform::X), 5));
        assert_eq!(CommentQuery::parse(&[]).unwrap().limit, DEFAULT_LIMIT);
        for bad in [
            ("limit", "0"),
            ("limit", "101"),
            ("platform", "myspace"),
            ("cursor", "abc"),
            ("sort", "x"),
        ] {
            assert_eq!(
                fields(CommentQuery::parse(&pairs(&[bad]))),
                [bad.0],
                "{bad:?}"
            );
        }
        assert_eq!(
            fields(CommentQuery::parse(&pairs(&[
                ("limit", "1"),
                ("limit", "2")
            ]))),
            ["limit"]
        );
    }
}
