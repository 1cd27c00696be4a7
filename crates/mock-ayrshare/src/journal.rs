//! The request journal (`GET /mock/requests`) and the middleware that fills it and carries out
//! the answer plans of `slow` and `lost`: every request is recorded as received (secrets
//! masked) with what the mock answered, and an answer can be delayed or withheld.

use std::cell::Cell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::AppState;
use super::post::format_time;
use super::profile::Profile;
use super::reply::ApiError;

/// The largest request body the mock reads (axum's default limit, which the routes had before).
pub(super) const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The most requests the journal keeps; past it the oldest are forgotten.
const MAX_ENTRIES: usize = 10_000;

/// The most bytes (bodies, headers, paths) the journal keeps over all its entries; past it the
/// oldest are forgotten.
const MAX_BYTES: usize = 32 * 1024 * 1024;

/// The longest body kept in one entry; a longer one is cut (`body_truncated: true`).
const MAX_BODY: usize = 64 * 1024;

/// Headers whose values are secrets: shown as `[masked]`.
const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "profile-key",
    "x-twitter-oauth1-api-key",
    "x-twitter-oauth1-api-secret",
    "cookie",
    "proxy-authorization",
];

/// Body fields whose values are secrets (the `privateKey` of `generateJWT`).
const SECRET_FIELDS: [&str; 1] = ["privateKey"];

/// What replaces a masked value.
const MASK: &str = "[masked]";

/// What a handler decided about the delivery of its answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct AnswerPlan {
    /// `slow`: the answer waits this long after the work is done.
    pub(super) delay: Option<Duration>,
    /// `lost`: the work is done, the answer withheld; the connection is held this long, then
    /// dropped.
    pub(super) lost: Option<Duration>,
}

tokio::task_local! {
    static PLAN: Cell<AnswerPlan>;
}

/// Delays the answer of the current request by `delay` (the `slow` scenario).
pub(super) fn delay_answer(delay: Duration) {
    let _ = PLAN.try_with(|plan| {
        plan.set(AnswerPlan {
            delay: Some(delay),
            ..plan.get()
        });
    });
}

/// Withholds the answer of the current request: the connection is held `hold`, then dropped
/// (the `lost` scenario). Call it once the work is done.
pub(super) fn lose_answer(hold: Duration) {
    let _ = PLAN.try_with(|plan| {
        plan.set(AnswerPlan {
            lost: Some(hold),
            ..plan.get()
        });
    });
}

/// Put in each request's extensions by [`crate::serve`]: drops the request's connection.
#[derive(Clone, Default)]
pub(super) struct ConnectionDrop(pub(super) Arc<Notify>);

/// One recorded request.
#[derive(Clone, Debug)]
struct Entry {
    seq: u64,
    at: DateTime<Utc>,
    method: String,
    path: String,
    query: Option<String>,
    headers: Map<String, Value>,
    profile: Profile,
    body: Option<String>,
    body_truncated: bool,
    status: Option<u16>,
    lost: bool,
}

impl Entry {
    /// About the bytes the entry holds (headers included: hyper lets a request carry up to
    /// 400 KB of them), for the journal's bound.
    fn size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.as_str().map_or(0, str::len))
            .sum();
        self.body.as_ref().map_or(0, String::len)
            + self.path.len()
            + self.query.as_ref().map_or(0, String::len)
            + headers
            + 256
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "seq": self.seq,
            "at": format_time(self.at),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            // The profile by its reference id, never by its key (a secret).
            "ref_id": self.profile.ref_id(),
            "body": self.body,
            "status": self.status,
        });
        if self.body_truncated {
            entry["body_truncated"] = json!(true);
        }
        if self.lost {
            entry["lost"] = json!(true);
        }
        entry
    }
}

/// The recorded requests, oldest first, bounded in count and bytes.
#[derive(Default)]
pub(super) struct Journal {
    entries: VecDeque<Entry>,
    bytes: usize,
    next_seq: u64,
}

impl Journal {
    fn push(&mut self, mut entry: Entry) {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        self.bytes += entry.size();
        self.entries.push_back(entry);
        while self.entries.len() > MAX_ENTRIES || self.bytes > MAX_BYTES {
            match self.entries.pop_front() {
                Some(oldest) => self.bytes -= oldest.size(),
                None => break,
            }
        }
    }

    /// Forgets every entry, or only those of `profile`.
    pub(super) fn clear(&mut self, profile: Option<&Profile>) {
        match profile {
            None => {
                self.entries.clear();
                self.bytes = 0;
            }
            Some(profile) => {
                self.entries.retain(|entry| &entry.profile != profile);
                self.bytes = self.entries.iter().map(Entry::size).sum();
            }
        }
    }

    /// The entries of `profile` (all without one) whose path starts with `path`, oldest first,
    /// at most `limit` of the newest.
    pub(super) fn list(
        &self,
        profile: Option<&Profile>,
        path: Option<&str>,
        limit: usize,
    ) -> Value {
        let matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|entry| profile.is_none_or(|profile| &entry.profile == profile))
            .filter(|entry| path.is_none_or(|path| entry.path.starts_with(path)))
            .collect();
        let skip = matching.len().saturating_sub(limit);
        let requests: Vec<Value> = matching[skip..].iter().map(|e| e.to_json()).collect();
        json!({"status": "success", "count": requests.len(), "requests": requests})
    }
}

/// Middleware, outermost: records the request (except the mock's own `/mock/` routes), runs it,
/// records the answer's status, then delivers the answer as planned: at once, late (`slow`), or
/// never (`lost`: the connection is held, then dropped).
pub(super) async fn record_and_deliver(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let recorded = !request.uri().path().starts_with("/mock/");
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let over_limit = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            let (http, reason) = if over_limit {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "length limit exceeded".to_owned(),
                )
            } else {
                (StatusCode::BAD_REQUEST, error.to_string())
            };
            return ApiError::unreadable_body(http, &reason).into_response();
        }
    };
    let entry = recorded.then(|| new_entry(&parts, &bytes, state.now()));
    let connection = parts.extensions.get::<ConnectionDrop>().cloned();
    let request = Request::from_parts(parts, Body::from(bytes));
    let (response, plan) = PLAN
        .scope(Cell::new(AnswerPlan::default()), async {
            let response = next.run(request).await;
            (response, PLAN.with(Cell::get))
        })
        .await;
    if let Some(mut entry) = entry {
        entry.status = plan.lost.is_none().then(|| response.status().as_u16());
        entry.lost = plan.lost.is_some();
        state.journal().push(entry);
    }
    if let Some(hold) = plan.lost {
        tracing::info!(?hold, "mock ayrshare withholds an answer (lost)");
        tokio::time::sleep(hold).await;
        return match connection {
            Some(ConnectionDrop(drop)) => {
                drop.notify_one();
                // The connection is dropped with this future: nothing is ever answered.
                std::future::pending().await
            }
            // No connection of ours (the router used as a library): a body that breaks, so
            // that the server in front aborts the connection.
            None => Response::new(Body::new(BrokenBody)),
        };
    }
    if let Some(delay) = plan.delay {
        tokio::time::sleep(delay).await;
    }
    response
}

fn new_entry(parts: &Parts, bytes: &Bytes, now: DateTime<Utc>) -> Entry {
    let (body, body_truncated) = recorded_body(bytes);
    Entry {
        seq: 0,
        at: now,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: masked_headers(&parts.headers),
        profile: Profile::from_headers(&parts.headers),
        body,
        body_truncated,
        status: None,
        lost: false,
    }
}

fn masked_headers(headers: &HeaderMap) -> Map<String, Value> {
    let mut shown = Map::new();
    for (name, value) in headers {
        let value = if SECRET_HEADERS.contains(&name.as_str()) {
            MASK.to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        // A header sent twice shows its values joined, as HTTP allows.
        match shown.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                shown.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    shown
}

/// The body as received (lossy UTF-8, at most [`MAX_BODY`] bytes), `None` when empty; a JSON
/// object with a secret field is shown with that field masked.
fn recorded_body(bytes: &Bytes) -> (Option<String>, bool) {
    if bytes.is_empty() {
        return (None, false);
    }
    let masked = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|mut body| {
            let fields = body.as_object_mut()?;
            let mut found = false;
            for secret in SECRET_FIELDS {
                if let Some(value) = fields.get_mut(secret) {
                    *value = json!(MASK);
                    found = true;
                }
            }
            found.then(|| body.to_string())
        });
    let text = masked.unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
    if text.len() <= MAX_BODY {
        return (Some(text), false);
    }
    let mut end = MAX_BODY;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (Some(text[..end].to_owned()), true)
}

/// A response body that fails at once: a server in front of it aborts the connection.
struct BrokenBody;

impl HttpBody for BrokenBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::other(
            "mock ayrshare: the answer was lost on purpose",
        ))))
    }
}
