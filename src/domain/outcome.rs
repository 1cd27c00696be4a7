//! What an Ayrshare answer means: per-platform results, the new `tracked_status`, and the verdict
//! the HTTP layer turns into a response. Pure code; Ayrshare's JSON is read leniently, wrapped
//! (`{"status", "posts": [...]}`, the answer to a call with a `Profile-Key`) or not. The mapping
//! is written out in `docs/tracked-status.md`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::platform::platform_from_ayrshare;
use super::tracked_status::TrackedStatus;

/// What came back from one HTTP exchange with Ayrshare.
#[derive(Clone, Debug)]
pub struct ProviderAnswer {
    /// The HTTP status code.
    pub http_status: u16,
    /// The body, when it was JSON.
    pub json: Option<Value>,
    /// The body as text (kept for the record when it was not JSON).
    pub text: String,
    /// Ayrshare's `Retry-After` header, when it sent one.
    pub retry_after: Option<String>,
}

impl ProviderAnswer {
    /// An answer from its status line and body. U+0000 is replaced by U+FFFD throughout (in the
    /// text and in every JSON string and key): Postgres cannot store it, SQLite can, and the
    /// two stores must keep the same record.
    pub fn new(http_status: u16, text: &str, retry_after: Option<String>) -> ProviderAnswer {
        let text = text.replace('\0', "\u{fffd}");
        let json = serde_json::from_str(&text).ok().map(without_nul);
        ProviderAnswer {
            http_status,
            json,
            text,
            retry_after,
        }
    }
}

fn without_nul(value: Value) -> Value {
    let clean = |s: String| {
        if s.contains('\0') {
            s.replace('\0', "\u{fffd}")
        } else {
            s
        }
    };
    match value {
        Value::String(s) => Value::String(clean(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nul).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (clean(k), without_nul(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Why no answer came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// Connection refused, DNS failure, connect timeout: the request never left.
    NotSent,
    /// Timeout or broken connection after the request was sent: Ayrshare may have acted.
    OutcomeUnknown,
    /// Not sent: Ayrshare rate-limited the profile, and its window has not passed.
    HeldOff { retry_after_secs: u64 },
}

/// One platform's outcome, as this API reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlatformResult {
    /// Our platform name (`x`, never `twitter`).
    pub platform: String,
    /// Ayrshare's status for this platform (`success`, `error`, ...).
    pub status: String,
    /// The platform's native post id, always a string.
    #[schema(required = true)]
    pub post_id: Option<String>,
    #[schema(required = true)]
    pub post_url: Option<String>,
    /// The error message with its Ayrshare code, or null.
    #[schema(required = true)]
    pub message: Option<String>,
}

impl PlatformResult {
    /// Whether this platform published the post.
    pub fn published(&self) -> bool {
        word_of(&self.status) == Word::Success
    }

    /// Whether this platform is still on its way (`pending`, `processing`, ...): neither
    /// published nor failed.
    fn in_progress(&self) -> bool {
        matches!(
            word_of(&self.status),
            Word::Scheduled | Word::Held | Word::Processing
        )
    }

    /// Whether this platform failed: any status but success or one still on its way.
    fn failed(&self) -> bool {
        !self.published() && !self.in_progress()
    }
}

/// Whether any of these results shows a platform that published the post.
pub fn any_published(results: &[PlatformResult]) -> bool {
    results.iter().any(PlatformResult::published)
}

/// A link to a published post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Link {
    pub platform: String,
    pub post_url: String,
}

/// The links of every result that has a URL.
pub fn links(results: &[PlatformResult]) -> Vec<Link> {
    results
        .iter()
        .filter_map(|r| {
            Some(Link {
                platform: r.platform.clone(),
                post_url: r.post_url.clone()?,
            })
        })
        .collect()
}

/// How the HTTP layer should answer, independent of HTTP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The merged response (posted, scheduled, partial, or accepted with the outcome unknown).
    Accepted,
    /// Ayrshare refused the post; nothing was published.
    Rejected { detail: String },
    /// Ayrshare refused the post's `idempotencyKey` as already used: an earlier request sent
    /// this post, so nothing new was published by this one, and whatever came of the earlier
    /// one is still to be learnt (the record is `unknown`). The contract's 409 `conflict`.
    AlreadyReceived { detail: String },
    /// Ayrshare failed, or refused our credentials, or said something we cannot read.
    ProviderError { detail: String },
    /// Ayrshare is rate limiting us.
    RateLimited { retry_after: String },
    /// Ayrshare could not be reached; nothing was sent.
    Unavailable { detail: String },
    /// The request was sent and no answer came back in time.
    TimedOut { detail: String },
    /// Ayrshare does not know the post (only when reading a post).
    NotFound { detail: String },
}

/// What Ayrshare says about a post that has not settled yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// Ayrshare holds the post and nothing went out yet: waiting for its schedule date
    /// (`pending`, `scheduled`), paused, or `awaiting approval`.
    Scheduled,
    /// Ayrshare is publishing it (`processing`, a platform still pending), or said `success`
    /// without naming a platform that published it (approval flows, TikTok's asynchronous
    /// publishing): ask again soon.
    Publishing,
}

/// Everything learnt from one Ayrshare exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The new `tracked_status`, or `None` when the answer leaves the record as it is.
    pub tracked_status: Option<TrackedStatus>,
    /// Set when Ayrshare's answer shows the post not settled yet: whether it is still held for
    /// later (`Open::Scheduled`) or on its way (`Open::Publishing`).
    pub open: Option<Open>,
    /// Ayrshare's post id.
    pub provider_post_id: Option<String>,
    /// Ayrshare's `status` (the post's own, in a wrapped answer).
    pub provider_status: Option<String>,
    pub results: Vec<PlatformResult>,
    /// Null on success; otherwise Ayrshare's `errors` and message, or what went wrong.
    pub error: Option<Value>,
    /// The raw body as JSON, or as a JSON string when it was not JSON.
    pub provider_response: Option<Value>,
    pub verdict: Verdict,
}

/// When Ayrshare sends a 429 without `Retry-After`: its rate-limit window is five minutes.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 300;

/// The longest raw non-JSON body kept on a record.
const MAX_RAW_TEXT: usize = 16 * 1024;

/// The answer to a create refused for its reused `idempotencyKey`.
pub const ALREADY_RECEIVED: &str =
    "ayrshare has already received a post with this idempotencyKey; nothing new was published";

/// Judges the answer to `POST /post` (the outcome table of the contract).
///
/// `scheduled` says whether the request carried a `scheduleDate`.
pub fn judge_create(answer: Result<&ProviderAnswer, DeliveryFailure>, scheduled: bool) -> Outcome {
    let answer = match answer {
        Ok(answer) => answer,
        Err(failure) => return undelivered(failure),
    };
    let reading = Reading::of(answer);
    let mut outcome = reading.outcome(answer);

    let (tracked, verdict) = match reading.failure(answer) {
        Some(verdict @ Verdict::ProviderError { .. }) if !reading.is_credential_problem(answer) => {
            (TrackedStatus::Unknown, verdict)
        }
        Some(verdict) => (TrackedStatus::Failed, verdict),
        None => reading.judge_accepted(scheduled),
    };
    // A refused idempotencyKey means an earlier request sent this very post: this one published
    // nothing, but the post is not known to have failed.
    let (tracked, verdict) = match verdict {
        Verdict::Rejected { .. } if reading.refuses_idempotency_key() => (
            TrackedStatus::Unknown,
            Verdict::AlreadyReceived {
                detail: ALREADY_RECEIVED.into(),
            },
        ),
        verdict => (tracked, verdict),
    };
    match tracked {
        // A scheduled post has no per-platform outcome yet.
        TrackedStatus::Scheduled => {
            outcome.results.clear();
            outcome.error = None;
            outcome.open = Some(Open::Scheduled);
        }
        TrackedStatus::Unknown if verdict == Verdict::Accepted => {
            outcome.open = Some(Open::Publishing);
        }
        _ => {}
    }
    outcome.tracked_status = Some(tracked);
    outcome.verdict = verdict;
    outcome
}

/// Judges the answer to `GET /post/{id}` (or a webhook's report, which has the same fields) about
/// a record that is `before` with `before_results`: a 200 is always answered as it is, and only
/// an answer that settles the post changes `tracked_status`.
///
/// `success` and `error` settle it by the per-platform results (`posted`, `partial`, `failed`);
/// `deleted` makes it `cancelled` if it never went out and `deleted` if it did; `pending`,
/// `scheduled`, `paused`, `awaiting approval` and `processing` leave it open and say so in
/// `Outcome::open`; any other word changes nothing.
pub fn judge_status(
    answer: Result<&ProviderAnswer, DeliveryFailure>,
    before: TrackedStatus,
    before_results: &[PlatformResult],
) -> Outcome {
    let answer = match answer {
        Ok(answer) => answer,
        Err(failure) => {
            let mut outcome = undelivered(failure);
            outcome.tracked_status = None;
            return outcome;
        }
    };
    let reading = Reading::of(answer);
    let mut outcome = reading.outcome(answer);
    // The record keeps the raw answer to the create call; a reading only updates the results.
    outcome.provider_response = None;
    if answer.http_status == 404 {
        outcome.verdict = Verdict::NotFound {
            detail: "ayrshare no longer knows this post".into(),
        };
        return outcome;
    }
    if let Some(verdict) = reading.failure(answer).or_else(|| {
        (answer.http_status != 200).then(|| Verdict::ProviderError {
            detail: format!(
                "ayrshare answered HTTP {} when asked for the post",
                answer.http_status
            ),
        })
    }) {
        outcome.verdict = verdict;
        return outcome;
    }
    match reading.word() {
        Word::Success | Word::Error => match reading.settled() {
            Some(tracked) => outcome.tracked_status = Some(tracked),
            None => outcome.open = Some(Open::Publishing),
        },
        Word::Scheduled | Word::Held => outcome.open = Some(Open::Scheduled),
        Word::Processing => outcome.open = Some(Open::Publishing),
        Word::Deleted => {
            let published = reading.published() > 0 || any_published(before_results);
            outcome.tracked_status = before.removed(published);
            // What was published stays on the record, even when Ayrshare no longer lists it.
            if outcome.results.is_empty() {
                outcome.results = before_results.to_vec();
            }
            outcome.error = None;
        }
        Word::Other => {}
    }
    outcome
}

fn undelivered(failure: DeliveryFailure) -> Outcome {
    let (tracked, verdict, message) = match failure {
        DeliveryFailure::HeldOff { retry_after_secs } => (
            TrackedStatus::Failed,
            Verdict::RateLimited {
                retry_after: retry_after_secs.to_string(),
            },
            "ayrshare is rate limiting this profile; nothing was sent",
        ),
        DeliveryFailure::NotSent => (
            TrackedStatus::Failed,
            Verdict::Unavailable {
                detail: "ayrshare could not be reached; nothing was sent".into(),
            },
            "ayrshare could not be reached; nothing was sent",
        ),
        DeliveryFailure::OutcomeUnknown => (
            TrackedStatus::Unknown,
            Verdict::TimedOut {
                detail: "ayrshare did not answer in time; the post may have been published".into(),
            },
            "ayrshare did not answer in time; the post may have been published",
        ),
    };
    Outcome {
        tracked_status: Some(tracked),
        open: None,
        provider_post_id: None,
        provider_status: None,
        results: Vec::new(),
        error: Some(json!({ "message": message })),
        provider_response: None,
        verdict,
    }
}

/// Ayrshare's status words, for the post and for each platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Word {
    Success,
    Error,
    /// Accepted for a later time.
    Scheduled,
    /// Held: `pending`, `paused`, `awaiting approval`.
    Held,
    Processing,
    Deleted,
    /// Missing, or a word we do not know.
    Other,
}

/// Reads a status word leniently: any case, `_` for a space.
fn word_of(status: &str) -> Word {
    match status
        .trim()
        .to_ascii_lowercase()
        .replace('_', " ")
        .as_str()
    {
        "success" => Word::Success,
        "error" => Word::Error,
        "scheduled" => Word::Scheduled,
        "pending" | "paused" | "awaiting approval" => Word::Held,
        "processing" => Word::Processing,
        "deleted" => Word::Deleted,
        _ => Word::Other,
    }
}

/// A lenient reading of an Ayrshare body: missing fields are empty, ids may be numbers,
/// unknown fields are ignored, and a wrapped answer is read as the post inside it.
struct Reading {
    /// The post's fields: the body itself, or the wrapped post over the wrapper's fields.
    object: Option<Map<String, Value>>,
    status: Option<String>,
    id: Option<String>,
    results: Vec<PlatformResult>,
    errors: Vec<Value>,
}

impl Reading {
    fn of(answer: &ProviderAnswer) -> Reading {
        let object = answer
            .json
            .as_ref()
            .and_then(Value::as_object)
            .map(unwrapped);
        let empty = Map::new();
        let body = object.as_ref().unwrap_or(&empty);
        let errors = body
            .get("errors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut results: Vec<PlatformResult> = Vec::new();
        for entry in body
            .get("postIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(result) = result_of(entry, "success") {
                results.push(result);
            }
        }
        for entry in &errors {
            let Some(result) = result_of(entry, "error") else {
                continue;
            };
            // One entry per platform: an error for a platform already listed completes it.
            match results.iter_mut().find(|r| r.platform == result.platform) {
                Some(existing) => {
                    if existing.message.is_none() {
                        existing.message = result.message;
                    }
                }
                None => results.push(result),
            }
        }
        Reading {
            status: body.get("status").and_then(lenient_string),
            id: body.get("id").and_then(lenient_string),
            object,
            results,
            errors,
        }
    }

    fn word(&self) -> Word {
        self.status.as_deref().map_or(Word::Other, word_of)
    }

    fn published(&self) -> usize {
        self.results.iter().filter(|r| r.published()).count()
    }

    fn in_progress(&self) -> usize {
        self.results.iter().filter(|r| r.in_progress()).count()
    }

    /// Whether Ayrshare says something failed: a failed platform, an error entry, or the word.
    fn reports_failure(&self) -> bool {
        self.word() == Word::Error
            || !self.errors.is_empty()
            || self.results.iter().any(PlatformResult::failed)
    }

    /// `posted`, `partial` or `failed` when every platform has its outcome; `None` while a
    /// platform is still on its way, or when nothing shows the post published or failed.
    fn settled(&self) -> Option<TrackedStatus> {
        if self.in_progress() > 0 {
            return None;
        }
        match (self.published() > 0, self.reports_failure()) {
            (true, false) => Some(TrackedStatus::Posted),
            (true, true) => Some(TrackedStatus::Partial),
            (false, true) => Some(TrackedStatus::Failed),
            (false, false) => None,
        }
    }

    /// The judgement of an answer that `failure` lets through: Ayrshare took the request.
    fn judge_accepted(&self, scheduled: bool) -> (TrackedStatus, Verdict) {
        if self.word() == Word::Scheduled {
            return (TrackedStatus::Scheduled, Verdict::Accepted);
        }
        match self.settled() {
            Some(TrackedStatus::Failed) => return (TrackedStatus::Failed, self.rejection()),
            Some(settled) => return (settled, Verdict::Accepted),
            None => {}
        }
        // Nothing settled: a platform is on its way, or Ayrshare took the post without naming
        // a platform that published it. Neither is proof of publication.
        let accepted = self.in_progress() > 0
            || matches!(self.word(), Word::Success | Word::Held | Word::Processing);
        if !accepted {
            return (
                TrackedStatus::Unknown,
                Verdict::ProviderError {
                    detail: "ayrshare answered without saying whether the post was published"
                        .into(),
                },
            );
        }
        // Some platform published, or failed, while another is still on its way.
        if self.published() > 0 || self.reports_failure() {
            return (TrackedStatus::Unknown, Verdict::Accepted);
        }
        if scheduled {
            (TrackedStatus::Scheduled, Verdict::Accepted)
        } else {
            (TrackedStatus::Unknown, Verdict::Accepted)
        }
    }

    fn is_credential_problem(&self, answer: &ProviderAnswer) -> bool {
        matches!(answer.http_status, 401 | 403)
    }

    /// Whether Ayrshare refused the post because its `idempotencyKey` was used before. The
    /// refusal's shape is not documented: any request-level or per-error message naming
    /// "idempotency" counts.
    fn refuses_idempotency_key(&self) -> bool {
        let names_it = |message: Option<String>| {
            message.is_some_and(|m| m.to_ascii_lowercase().contains("idempotency"))
        };
        names_it(self.message())
            || self.errors.iter().any(|entry| {
                names_it(
                    entry
                        .as_object()
                        .and_then(|e| e.get("message"))
                        .and_then(lenient_string),
                )
            })
    }

    /// The shared part of every outcome; callers set the status and verdict.
    fn outcome(&self, answer: &ProviderAnswer) -> Outcome {
        let error = if self.errors.is_empty() && self.word() != Word::Error {
            None
        } else {
            let mut error = Map::new();
            error.insert("errors".into(), Value::Array(self.errors.clone()));
            if let Some(message) = self.message() {
                error.insert("message".into(), Value::String(message));
            }
            if let Some(code) = self.object.as_ref().and_then(|o| o.get("code")) {
                error.insert("code".into(), code.clone());
            }
            Some(Value::Object(error))
        };
        Outcome {
            tracked_status: None,
            open: None,
            provider_post_id: self.id.clone(),
            provider_status: self.status.clone(),
            results: self.results.clone(),
            error,
            provider_response: Some(match &answer.json {
                Some(json) => json.clone(),
                None => Value::String(truncate(&answer.text, MAX_RAW_TEXT)),
            }),
            verdict: Verdict::Accepted,
        }
    }

    fn message(&self) -> Option<String> {
        self.object
            .as_ref()?
            .get("message")
            .and_then(lenient_string)
    }

    /// The verdict for answers that are failures whatever their body says, except one that
    /// shows a platform published, which is always judged by its content.
    fn failure(&self, answer: &ProviderAnswer) -> Option<Verdict> {
        let status = answer.http_status;
        if self.published() > 0 {
            return None;
        }
        match status {
            401 | 403 => Some(Verdict::ProviderError {
                detail: format!(
                    "ayrshare refused this service's credentials (HTTP {status}){}; \
                     the caller's API key is fine",
                    self.message().map(|m| format!(": {m}")).unwrap_or_default()
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
                detail: format!(
                    "ayrshare failed (HTTP {status}); the post may have been published"
                ),
            }),
            _ if self.object.is_none() => Some(Verdict::ProviderError {
                detail: format!(
                    "ayrshare answered HTTP {status} with a body that is not Ayrshare JSON; \
                     the post may have been published"
                ),
            }),
            200..=299 => None,
            400..=499 => Some(self.rejection()),
            _ => Some(Verdict::ProviderError {
                detail: format!(
                    "ayrshare answered HTTP {status}; the post may have been published"
                ),
            }),
        }
    }

    /// `provider_rejected`, quoting each platform's message and code, or the request-level one.
    fn rejection(&self) -> Verdict {
        let mut parts: Vec<String> = self
            .results
            .iter()
            .filter_map(|r| Some(format!("{}: {}", r.platform, r.message.as_ref()?)))
            .collect();
        if parts.is_empty() {
            let code = self
                .object
                .as_ref()
                .and_then(|o| o.get("code"))
                .and_then(lenient_string);
            parts.push(match (self.message(), code) {
                (Some(m), Some(c)) => format!("{m} (code {c})"),
                (Some(m), None) => m,
                (None, Some(c)) => format!("code {c}"),
                (None, None) => "no reason given".into(),
            });
        }
        Verdict::Rejected {
            detail: format!("ayrshare rejected the post: {}", parts.join("; ")),
        }
    }
}

/// Reads one `postIds` or `errors` entry; `default_status` is what an entry without a status is.
fn result_of(entry: &Value, default_status: &str) -> Option<PlatformResult> {
    let entry = entry.as_object()?;
    let platform = entry.get("platform").and_then(lenient_string)?;
    let message = entry.get("message").and_then(lenient_string).map(|m| {
        match entry.get("code").and_then(lenient_string) {
            Some(code) => format!("{m} (code {code})"),
            None => m,
        }
    });
    Some(PlatformResult {
        platform: platform_from_ayrshare(&platform),
        status: entry
            .get("status")
            .and_then(lenient_string)
            .unwrap_or_else(|| default_status.to_owned()),
        post_id: entry.get("id").and_then(lenient_string),
        post_url: entry.get("postUrl").and_then(lenient_string),
        message,
    })
}

/// The post inside a wrapped answer (`{"status", "posts": [{...}]}`), its own fields over the
/// wrapper's (which fill in what the post lacks, such as a request-level `message`); an answer
/// that is not wrapped, as it is. A call carries one `Profile-Key`, so one post: the first.
fn unwrapped(body: &Map<String, Value>) -> Map<String, Value> {
    let mut merged = body.clone();
    let Some(post) = body
        .get("posts")
        .and_then(Value::as_array)
        .and_then(|posts| posts.iter().find_map(Value::as_object))
    else {
        return merged;
    };
    merged.remove("posts");
    merged.extend(post.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// A string, or a number or boolean written as one; anything else is absent.
fn lenient_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// What Ayrshare's status says of a read-like call (analytics, a dry run) whatever its body: our
/// credentials refused (401, 403), its rate limit (429, with its `Retry-After` or ours), or its
/// own failure (5xx, `failed` saying what failed); `None` for any other status.
pub fn refusal_of(answer: &ProviderAnswer, failed: &str) -> Option<Verdict> {
    let status = answer.http_status;
    match status {
        401 | 403 => Some(Verdict::ProviderError {
            detail: format!(
                "ayrshare refused this service's credentials (HTTP {status}); the caller's API \
                 key is fine"
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
            detail: format!("{failed} (HTTP {status})"),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Value) -> ProviderAnswer {
        ProviderAnswer {
            http_status: status,
            text: body.to_string(),
            json: Some(body),
            retry_after: None,
        }
    }

    fn create(status: u16, body: Value) -> Outcome {
        judge_create(Ok(&answer(status, body)), false)
    }

    fn success_body() -> Value {
        json!({
            "status": "success", "errors": [], "id": "RhrbDtYh7hdSMc67zC8H",
            "postIds": [
                {"status": "success", "id": "1288899996423983105", "platform": "twitter",
                 "postUrl": "https://twitter.com/h/status/1288899996423983105"},
                {"status": "success", "id": 635, "platform": "telegram", "postUrl": "https://t.me/c/1/635",
                 "usedQuota": 12}
            ],
            "somethingNew": {"nested": true}
        })
    }

    #[test]
    fn success_is_posted_with_string_ids_and_our_platform_names() {
        let outcome = create(200, success_body());
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Posted));
        assert_eq!(outcome.verdict, Verdict::Accepted);
        assert_eq!(
            outcome.provider_post_id.as_deref(),
            Some("RhrbDtYh7hdSMc67zC8H")
        );
        assert_eq!(outcome.error, None);
        assert_eq!(outcome.results[0].platform, "x");
        assert_eq!(
            outcome.results[0].post_id.as_deref(),
            Some("1288899996423983105")
        );
        assert_eq!(outcome.results[1].post_id.as_deref(), Some("635"));
        assert_eq!(links(&outcome.results).len(), 2);
    }

    #[test]
    fn scheduled_answers_are_scheduled_without_results() {
        let outcome = create(
            200,
            json!({"status": "scheduled", "scheduleDate": "2026-07-08T12:30:00Z", "id": "S1"}),
        );
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Scheduled));
        assert!(outcome.results.is_empty());
        // "accepted with a schedule_date": a success answer to a scheduled request.
        let accepted = judge_create(
            Ok(&answer(200, json!({"status": "success", "id": "S2"}))),
            true,
        );
        assert_eq!(accepted.tracked_status, Some(TrackedStatus::Scheduled));
    }

    fn partial_body() -> Value {
        json!({
            "status": "error",
            "errors": [{"action": "post", "status": "error", "code": 156,
                        "message": "instagram is not linked", "platform": "instagram"}],
            "postIds": [{"status": "success", "id": "1", "platform": "twitter", "postUrl": "https://x.test/1"}],
            "id": "P1"
        })
    }

    #[test]
    fn a_scheduled_request_that_ayrshare_published_at_once_is_posted() {
        let outcome = judge_create(Ok(&answer(200, success_body())), true);
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Posted));
        assert_eq!(outcome.results.len(), 2);
    }

    #[test]
    fn nul_characters_in_an_answer_are_replaced() {
        let answer = ProviderAnswer::new(
            500,
            r#"{"status": "error", "message": "bad\u0000byte", "k\u0000": 1}"#,
            None,
        );
        let json = answer.json.unwrap();
        assert_eq!(json["message"], "bad\u{fffd}byte");
        assert!(json.get("k\u{fffd}").is_some());
        let raw = ProviderAnswer::new(502, "<html>\0</html>", None);
        assert_eq!(raw.text, "<html>\u{fffd}</html>");
        assert!(raw.json.is_none());
    }

    #[test]
    fn a_partial_failure_is_partial_whatever_the_http_status() {
        for status in [200, 400, 500] {
            let outcome = create(status, partial_body());
            assert_eq!(
                outcome.tracked_status,
                Some(TrackedStatus::Partial),
                "{status}"
            );
            assert_eq!(outcome.verdict, Verdict::Accepted);
            assert_eq!(outcome.results.len(), 2);
            assert_eq!(
                outcome.results[1].message.as_deref(),
                Some("instagram is not linked (code 156)")
            );
            assert_eq!(outcome.error.as_ref().unwrap()["errors"][0]["code"], 156);
        }
    }

    fn duplicate_body() -> Value {
        json!({
            "status": "error", "postIds": [], "id": "6APU4qqI7XO7JM3BOy6B",
            "errors": [
                {"action": "post", "status": "error", "code": 110, "message": "Status is a duplicate.",
                 "platform": "twitter"},
                {"action": "post", "status": "error", "code": 107, "message": "Facebook Error: identical",
                 "platform": "facebook"}
            ]
        })
    }

    #[test]
    fn an_error_status_with_only_successes_listed_is_still_partial() {
        let outcome = create(
            200,
            json!({"status": "error", "errors": [], "id": "E1",
                   "postIds": [{"status": "success", "id": "1", "platform": "twitter"}]}),
        );
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Partial));
        assert_eq!(outcome.verdict, Verdict::Accepted);
    }

    #[test]
    fn a_total_error_is_rejected_and_quotes_each_platform() {
        for status in [200, 400, 404] {
            let outcome = create(status, duplicate_body());
            assert_eq!(outcome.tracked_status, Some(TrackedStatus::Failed));
            assert_eq!(
                outcome.verdict,
                Verdict::Rejected {
                    detail: "ayrshare rejected the post: x: Status is a duplicate. (code 110); \
                             facebook: Facebook Error: identical (code 107)"
                        .into()
                }
            );
            assert_eq!(
                outcome.provider_post_id.as_deref(),
                Some("6APU4qqI7XO7JM3BOy6B")
            );
        }
    }

    #[test]
    fn a_request_level_error_quotes_its_message() {
        let outcome = create(
            400,
            json!({"status": "error", "code": 101, "message": "Missing or incorrect post parameter."}),
        );
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Failed));
        assert_eq!(
            outcome.verdict,
            Verdict::Rejected {
                detail:
                    "ayrshare rejected the post: Missing or incorrect post parameter. (code 101)"
                        .into()
            }
        );
    }

    #[test]
    fn credential_problems_and_rate_limits_are_failed() {
        for status in [401, 403] {
            let outcome = create(status, json!({"status": "error", "message": "bad key"}));
            assert_eq!(outcome.tracked_status, Some(TrackedStatus::Failed));
            assert!(matches!(outcome.verdict, Verdict::ProviderError { .. }));
        }
        let mut limited = answer(429, json!({"status": "error"}));
        limited.retry_after = Some("42".into());
        let outcome = judge_create(Ok(&limited), false);
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Failed));
        assert_eq!(
            outcome.verdict,
            Verdict::RateLimited {
                retry_after: "42".into()
            }
        );
        limited.retry_after = None;
        assert_eq!(
            judge_create(Ok(&limited), false).verdict,
            Verdict::RateLimited {
                retry_after: "300".into()
            }
        );
    }

    #[test]
    fn server_errors_and_foreign_bodies_are_unknown() {
        let outcome = create(503, json!({"status": "error"}));
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Unknown));
        let html = ProviderAnswer {
            http_status: 200,
            json: None,
            text: "<html>gateway</html>".into(),
            retry_after: None,
        };
        let outcome = judge_create(Ok(&html), false);
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Unknown));
        assert!(matches!(outcome.verdict, Verdict::ProviderError { .. }));
        assert_eq!(
            outcome.provider_response,
            Some(json!("<html>gateway</html>"))
        );
        // JSON that is not an object is not Ayrshare JSON either.
        assert_eq!(
            create(200, json!([1, 2])).tracked_status,
            Some(TrackedStatus::Unknown)
        );
    }

    #[test]
    fn a_missing_status_is_judged_from_post_ids_and_errors() {
        let mut body = success_body();
        body.as_object_mut().unwrap().remove("status");
        assert_eq!(
            create(200, body).tracked_status,
            Some(TrackedStatus::Posted)
        );
        let mut body = partial_body();
        body["status"] = json!("weird");
        assert_eq!(
            create(200, body).tracked_status,
            Some(TrackedStatus::Partial)
        );
        let mut body = duplicate_body();
        body.as_object_mut().unwrap().remove("status");
        assert_eq!(
            create(200, body).tracked_status,
            Some(TrackedStatus::Failed)
        );
        let outcome = create(200, json!({"id": "Z"}));
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Unknown));
        assert!(matches!(outcome.verdict, Verdict::ProviderError { .. }));
    }

    #[test]
    fn transport_failures_say_whether_anything_was_sent() {
        let refused = judge_create(Err(DeliveryFailure::NotSent), false);
        assert_eq!(refused.tracked_status, Some(TrackedStatus::Failed));
        assert!(matches!(refused.verdict, Verdict::Unavailable { .. }));
        let lost = judge_create(Err(DeliveryFailure::OutcomeUnknown), false);
        assert_eq!(lost.tracked_status, Some(TrackedStatus::Unknown));
        assert!(matches!(lost.verdict, Verdict::TimedOut { .. }));
        let held = judge_create(
            Err(DeliveryFailure::HeldOff {
                retry_after_secs: 120,
            }),
            false,
        );
        assert_eq!(held.tracked_status, Some(TrackedStatus::Failed));
        assert_eq!(
            held.verdict,
            Verdict::RateLimited {
                retry_after: "120".into()
            }
        );
    }

    fn read(status: u16, body: Value) -> Outcome {
        judge_status(Ok(&answer(status, body)), TrackedStatus::Scheduled, &[])
    }

    #[test]
    fn reading_a_post_changes_the_record_only_when_it_is_settled() {
        let pending = read(200, json!({"status": "pending", "id": "A"}));
        assert_eq!(pending.tracked_status, None);
        assert_eq!(pending.verdict, Verdict::Accepted);
        assert_eq!(pending.provider_status.as_deref(), Some("pending"));
        let done = read(200, success_body());
        assert_eq!(done.tracked_status, Some(TrackedStatus::Posted));
        assert_eq!(done.open, None);
        assert_eq!(done.error, None);
        assert_eq!(done.results.len(), 2);
        // The record keeps the raw answer to the create call.
        assert_eq!(done.provider_response, None);
        let partial = read(200, partial_body());
        assert_eq!(partial.tracked_status, Some(TrackedStatus::Partial));
        assert_eq!(partial.error.as_ref().unwrap()["errors"][0]["code"], 156);
        let failed = read(200, duplicate_body());
        assert_eq!(failed.tracked_status, Some(TrackedStatus::Failed));
        assert_eq!(failed.verdict, Verdict::Accepted);
        let gone = read(404, json!({"status": "error"}));
        assert!(matches!(gone.verdict, Verdict::NotFound { .. }));
        assert_eq!(gone.tracked_status, None);
        for failure in [DeliveryFailure::NotSent, DeliveryFailure::OutcomeUnknown] {
            let down = judge_status(Err(failure), TrackedStatus::Scheduled, &[]);
            assert_eq!(down.tracked_status, None);
            assert_ne!(down.verdict, Verdict::Accepted);
        }
    }

    fn wrapped(post: Value) -> Value {
        json!({"status": post["status"].clone(), "posts": [post]})
    }

    fn with_profile_fields(mut post: Value) -> Value {
        post["refId"] = json!("b68bdcabb379be2cf1186c1e59544");
        post["profileTitle"] = json!("Acme");
        post["post"] = json!("hello");
        post
    }

    #[test]
    fn a_wrapped_success_is_read_as_the_post_inside() {
        let body = wrapped(with_profile_fields(success_body()));
        let outcome = create(200, body.clone());
        assert_eq!(outcome, create_with_raw(200, success_body(), body));
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Posted));
        assert_eq!(
            outcome.provider_post_id.as_deref(),
            Some("RhrbDtYh7hdSMc67zC8H")
        );
        assert_eq!(outcome.results.len(), 2);
        assert_eq!(links(&outcome.results).len(), 2);
        assert_eq!(outcome.error, None);
    }

    /// The outcome of `body`, as if Ayrshare had sent `raw` (which reads the same).
    fn create_with_raw(status: u16, body: Value, raw: Value) -> Outcome {
        let mut outcome = create(status, body);
        outcome.provider_response = Some(raw);
        outcome
    }

    #[test]
    fn a_wrapped_partial_is_partial_also_at_http_400() {
        for status in [200, 400] {
            let body = wrapped(with_profile_fields(partial_body()));
            let outcome = create(status, body.clone());
            assert_eq!(
                outcome,
                create_with_raw(status, partial_body(), body),
                "{status}"
            );
            assert_eq!(outcome.tracked_status, Some(TrackedStatus::Partial));
            assert_eq!(outcome.verdict, Verdict::Accepted);
            assert_eq!(outcome.provider_post_id.as_deref(), Some("P1"));
            assert_eq!(outcome.error.as_ref().unwrap()["errors"][0]["code"], 156);
        }
    }

    #[test]
    fn a_wrapped_total_error_is_rejected_quoting_each_platform() {
        let body = wrapped(duplicate_body());
        let outcome = create(400, body.clone());
        assert_eq!(outcome, create_with_raw(400, duplicate_body(), body));
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Failed));
        assert!(
            matches!(&outcome.verdict, Verdict::Rejected { detail } if detail.contains("x: Status is a duplicate."))
        );
    }

    #[test]
    fn a_wrapped_scheduled_answer_is_scheduled() {
        let post = json!({"status": "scheduled", "id": "WS1", "scheduleDate": "2031-01-01T00:00:00Z",
                          "postIds": [], "errors": [], "refId": "r"});
        let outcome = judge_create(Ok(&answer(200, wrapped(post))), true);
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Scheduled));
        assert_eq!(outcome.open, Some(Open::Scheduled));
        assert_eq!(outcome.provider_post_id.as_deref(), Some("WS1"));
        assert_eq!(outcome.provider_status.as_deref(), Some("scheduled"));
        assert!(outcome.results.is_empty());
        assert_eq!(outcome.verdict, Verdict::Accepted);
    }

    #[test]
    fn the_wrapper_fills_in_what_the_post_lacks_and_the_post_wins() {
        // A request-level refusal may carry its message on the wrapper only.
        let body = json!({"status": "error", "code": 101, "message": "Missing or incorrect post parameter.",
                          "posts": [{"status": "error", "errors": [], "postIds": [], "id": "W2"}]});
        let outcome = create(400, body);
        assert_eq!(
            outcome.verdict,
            Verdict::Rejected {
                detail:
                    "ayrshare rejected the post: Missing or incorrect post parameter. (code 101)"
                        .into()
            }
        );
        assert_eq!(outcome.provider_post_id.as_deref(), Some("W2"));
        // The post's own status wins over the wrapper's.
        let body = json!({"status": "error", "posts": ["not a post", success_body()]});
        let outcome = create(200, body);
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Posted));
        assert_eq!(outcome.provider_status.as_deref(), Some("success"));
        // A wrapper without a post is read as it is.
        let outcome = create(200, json!({"status": "success", "id": "W3", "posts": []}));
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Unknown));
        assert_eq!(outcome.provider_post_id.as_deref(), Some("W3"));
    }

    #[test]
    fn a_success_that_names_no_published_platform_is_unknown_not_posted() {
        for body in [
            json!({"status": "success", "id": "AP1"}),
            json!({"status": "success", "id": "AP1", "postIds": [], "errors": []}),
            json!({"status": "success", "id": "AP1", "postIds": [
                {"status": "pending", "platform": "tiktok", "id": "v1"}]}),
            json!({"status": "awaiting approval", "id": "AP1"}),
            json!({"status": "processing", "id": "AP1"}),
            json!({"id": "AP1", "postIds": [{"status": "processing", "platform": "tiktok"}]}),
            wrapped(json!({"status": "success", "id": "AP1", "postIds": []})),
        ] {
            let outcome = create(200, body.clone());
            assert_eq!(
                outcome.tracked_status,
                Some(TrackedStatus::Unknown),
                "{body}"
            );
            assert_eq!(outcome.verdict, Verdict::Accepted, "{body}");
            assert_eq!(outcome.open, Some(Open::Publishing), "{body}");
            assert_eq!(outcome.provider_post_id.as_deref(), Some("AP1"), "{body}");
            assert_eq!(outcome.error, None, "{body}");
            // With a schedule date, it is accepted for later.
            let outcome = judge_create(Ok(&answer(200, body.clone())), true);
            assert_eq!(
                outcome.tracked_status,
                Some(TrackedStatus::Scheduled),
                "{body}"
            );
            assert_eq!(outcome.open, Some(Open::Scheduled), "{body}");
            assert!(outcome.results.is_empty(), "{body}");
        }
    }

    #[test]
    fn a_platform_still_on_its_way_beside_a_settled_one_leaves_the_post_unknown() {
        let published_and_pending = json!({"status": "success", "id": "M1", "postIds": [
            {"status": "success", "platform": "twitter", "id": "1", "postUrl": "https://x.test/1"},
            {"status": "pending", "platform": "tiktok"}]});
        let failed_and_processing = json!({"status": "error", "id": "M2",
            "postIds": [{"status": "processing", "platform": "tiktok"}],
            "errors": [{"status": "error", "platform": "twitter", "message": "nope", "code": 272}]});
        for body in [published_and_pending, failed_and_processing] {
            for scheduled in [false, true] {
                let outcome = judge_create(Ok(&answer(200, body.clone())), scheduled);
                assert_eq!(
                    outcome.tracked_status,
                    Some(TrackedStatus::Unknown),
                    "{body}"
                );
                assert_eq!(outcome.verdict, Verdict::Accepted);
                assert_eq!(outcome.open, Some(Open::Publishing));
                assert_eq!(outcome.results.len(), 2);
            }
        }
    }

    #[test]
    fn a_success_that_lists_an_error_is_partial() {
        let mut body = success_body();
        body["errors"] = json!([{"status": "error", "platform": "linkedin", "message": "down"}]);
        let outcome = create(200, body);
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Partial));
        assert_eq!(outcome.results.len(), 3);
        assert!(outcome.error.is_some());
    }

    #[test]
    fn a_platform_listed_with_an_error_status_in_post_ids_is_a_failure() {
        let mut body = success_body();
        body["postIds"][1]["status"] = json!("error");
        let outcome = create(200, body.clone());
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Partial));
        assert_eq!(read(200, body).tracked_status, Some(TrackedStatus::Partial));
        let only_failed =
            json!({"id": "F1", "postIds": [{"status": "failed", "platform": "twitter"}]});
        let outcome = create(200, only_failed);
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Failed));
        assert!(matches!(outcome.verdict, Verdict::Rejected { .. }));
    }

    #[test]
    fn a_body_that_is_not_json_is_kept_up_to_16_kib_on_a_character_boundary() {
        let short = ProviderAnswer::new(502, "<html>bad gateway</html>", None);
        assert_eq!(
            judge_create(Ok(&short), false).provider_response,
            Some(json!("<html>bad gateway</html>"))
        );
        // 'é' is two bytes: the cut at 16 KiB falls inside one and moves back before it.
        let long = format!("x{}", "é".repeat(10_000));
        let kept = judge_create(Ok(&ProviderAnswer::new(502, &long, None)), false)
            .provider_response
            .unwrap();
        let kept = kept.as_str().unwrap();
        assert_eq!(kept.len(), 16 * 1024 - 1);
        assert!(long.starts_with(kept));
        let exact = "y".repeat(16 * 1024);
        let kept =
            judge_create(Ok(&ProviderAnswer::new(502, &exact, None)), false).provider_response;
        assert_eq!(kept, Some(json!(exact)));
    }

    #[test]
    fn a_server_error_says_ayrshare_failed_and_may_have_published() {
        for body in [
            json!({"status": "error", "message": "internal"}),
            json!("oops"),
        ] {
            let outcome = create(503, body.clone());
            assert_eq!(outcome.tracked_status, Some(TrackedStatus::Unknown));
            assert_eq!(
                outcome.verdict,
                Verdict::ProviderError {
                    detail: "ayrshare failed (HTTP 503); the post may have been published".into()
                },
                "{body}"
            );
        }
        let outcome = create(302, json!({"status": "error"}));
        assert_eq!(
            outcome.verdict,
            Verdict::ProviderError {
                detail: "ayrshare answered HTTP 302; the post may have been published".into()
            }
        );
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Unknown));
    }

    #[test]
    fn strings_numbers_and_booleans_are_read_as_text_and_nothing_else() {
        assert_eq!(lenient_string(&json!("a")), Some("a".into()));
        assert_eq!(lenient_string(&json!(635)), Some("635".into()));
        assert_eq!(lenient_string(&json!(true)), Some("true".into()));
        for other in [json!(null), json!([1]), json!({"a": 1})] {
            assert_eq!(lenient_string(&other), None, "{other}");
        }
    }

    #[test]
    fn status_words_are_read_in_any_case() {
        let mut body = success_body();
        body["status"] = json!("SUCCESS");
        body["postIds"][0]["status"] = json!("Success");
        body["postIds"][1]["status"] = json!(" success ");
        assert_eq!(
            create(200, body).tracked_status,
            Some(TrackedStatus::Posted)
        );
        let held = read(200, json!({"status": "Awaiting_Approval", "id": "A"}));
        assert_eq!(held.open, Some(Open::Scheduled));
    }

    #[test]
    fn numeric_ids_are_read_as_strings() {
        let body = json!({"status": "success", "id": 12345,
            "postIds": [{"status": "success", "id": 635, "platform": "telegram", "postUrl": "https://t.me/c/1/635"}]});
        for body in [body.clone(), wrapped(body)] {
            let outcome = create(200, body);
            assert_eq!(outcome.provider_post_id.as_deref(), Some("12345"));
            assert_eq!(outcome.results[0].post_id.as_deref(), Some("635"));
            assert_eq!(outcome.tracked_status, Some(TrackedStatus::Posted));
        }
    }

    fn idempotency_refusal() -> Value {
        json!({"action": "post", "status": "error", "code": 194,
               "message": "Idempotency key already used: 3f0c7a1e", "idempotencyKey": "3f0c7a1e"})
    }

    #[test]
    fn a_refused_idempotency_key_is_unknown_and_already_received() {
        let refused = |status, body: Value| {
            let outcome = create(status, body.clone());
            assert_eq!(
                outcome.tracked_status,
                Some(TrackedStatus::Unknown),
                "{status} {body}"
            );
            assert_eq!(
                outcome.verdict,
                Verdict::AlreadyReceived {
                    detail: ALREADY_RECEIVED.into()
                },
                "{status} {body}"
            );
            assert_eq!(outcome.open, None);
            outcome
        };
        let outcome = refused(400, idempotency_refusal());
        let error = outcome.error.unwrap();
        assert_eq!(error["code"], 194);
        assert_eq!(error["message"], "Idempotency key already used: 3f0c7a1e");
        assert_eq!(outcome.provider_response, Some(idempotency_refusal()));
        // Real Ayrshare's refusal is undocumented: any status that is a refusal, the word in a
        // request-level or a per-error message, wrapped or not.
        refused(409, idempotency_refusal());
        refused(422, wrapped(idempotency_refusal()));
        refused(200, idempotency_refusal());
        refused(
            400,
            json!({"status": "error", "errors": [{"action": "post", "status": "error", "code": 1,
                   "message": "Duplicate IDEMPOTENCY key"}]}),
        );
        refused(
            400,
            json!({"status": "error", "errors": [{"action": "post", "status": "error",
                   "message": "idempotencyKey was used before", "platform": "twitter"}]}),
        );
    }

    #[test]
    fn only_a_refusal_naming_idempotency_is_already_received() {
        // Credentials, rate limits and server errors say nothing about the key.
        let mut limited = answer(429, idempotency_refusal());
        limited.retry_after = Some("7".into());
        assert_eq!(
            judge_create(Ok(&limited), false).verdict,
            Verdict::RateLimited {
                retry_after: "7".into()
            }
        );
        let outcome = create(401, idempotency_refusal());
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Failed));
        assert!(matches!(outcome.verdict, Verdict::ProviderError { .. }));
        // A partial stays partial, whatever one of its errors says.
        let mut body = partial_body();
        body["errors"][0]["message"] = json!("idempotency trouble");
        assert_eq!(
            create(400, body).tracked_status,
            Some(TrackedStatus::Partial)
        );
        // A message or an error entry without the word is an ordinary rejection.
        let outcome = create(
            400,
            json!({"status": "error", "code": 137, "message": "Duplicate or similar content",
                   "errors": [{"message": 17}, "not an object"]}),
        );
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Failed));
        assert!(matches!(outcome.verdict, Verdict::Rejected { .. }));
    }

    #[test]
    fn every_get_status_word_has_its_meaning() {
        let reading = |body: Value| read(200, body);
        // Settled by the per-platform results.
        assert_eq!(
            reading(success_body()).tracked_status,
            Some(TrackedStatus::Posted)
        );
        assert_eq!(
            reading(partial_body()).tracked_status,
            Some(TrackedStatus::Partial)
        );
        assert_eq!(
            reading(duplicate_body()).tracked_status,
            Some(TrackedStatus::Failed)
        );
        assert_eq!(
            reading(json!({"status": "error", "id": "E"})).tracked_status,
            Some(TrackedStatus::Failed)
        );
        // Open: no change, and whether Ayrshare still holds the post for later.
        for (word, open) in [
            ("pending", Open::Scheduled),
            ("scheduled", Open::Scheduled),
            ("paused", Open::Scheduled),
            ("awaiting approval", Open::Scheduled),
            ("processing", Open::Publishing),
        ] {
            let outcome = reading(json!({"status": word, "id": "A", "postIds": [], "errors": []}));
            assert_eq!(outcome.tracked_status, None, "{word}");
            assert_eq!(outcome.open, Some(open), "{word}");
            assert_eq!(outcome.verdict, Verdict::Accepted, "{word}");
            assert_eq!(outcome.provider_status.as_deref(), Some(word));
        }
        // `success` naming no published platform, or a platform still on its way: not settled.
        for body in [
            json!({"status": "success", "id": "A", "postIds": []}),
            json!({"status": "success", "id": "A", "postIds": [
                {"status": "success", "platform": "twitter"}, {"status": "processing", "platform": "tiktok"}]}),
            json!({"status": "error", "id": "A", "postIds": [{"status": "pending", "platform": "tiktok"}],
                   "errors": [{"platform": "twitter", "message": "no"}]}),
        ] {
            let outcome = reading(body.clone());
            assert_eq!(outcome.tracked_status, None, "{body}");
            assert_eq!(outcome.open, Some(Open::Publishing), "{body}");
        }
        // A word we do not know changes nothing and claims nothing.
        let outcome = reading(json!({"status": "mystery", "id": "A", "postIds": [
            {"status": "success", "platform": "twitter"}]}));
        assert_eq!(outcome.tracked_status, None);
        assert_eq!(outcome.open, None);
        let outcome = reading(json!({"id": "A"}));
        assert_eq!((outcome.tracked_status, outcome.open), (None, None));
    }

    #[test]
    fn a_wrapped_get_answer_is_read_as_the_post_inside() {
        let outcome = read(200, wrapped(with_profile_fields(success_body())));
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Posted));
        assert_eq!(
            outcome.provider_post_id.as_deref(),
            Some("RhrbDtYh7hdSMc67zC8H")
        );
        assert_eq!(outcome.results.len(), 2);
        let outcome = read(200, wrapped(partial_body()));
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Partial));
        let outcome = read(200, wrapped(json!({"status": "pending", "id": "A"})));
        assert_eq!(outcome.open, Some(Open::Scheduled));
    }

    fn published_result() -> PlatformResult {
        PlatformResult {
            platform: "x".into(),
            status: "success".into(),
            post_id: Some("1".into()),
            post_url: Some("https://x.test/1".into()),
            message: None,
        }
    }

    #[test]
    fn deleted_cancels_a_post_that_never_went_out_and_deletes_one_that_did() {
        let deleted = answer(
            200,
            json!({"status": "deleted", "id": "D1", "postIds": [], "errors": []}),
        );
        let judge = |before, results: &[PlatformResult]| {
            judge_status(Ok(&deleted), before, results).tracked_status
        };
        for before in [
            TrackedStatus::Pending,
            TrackedStatus::Scheduled,
            TrackedStatus::Unknown,
        ] {
            assert_eq!(
                judge(before, &[]),
                Some(TrackedStatus::Cancelled),
                "{before}"
            );
        }
        let published = [published_result()];
        assert_eq!(
            judge(TrackedStatus::Unknown, &published),
            Some(TrackedStatus::Deleted)
        );
        for before in [TrackedStatus::Posted, TrackedStatus::Partial] {
            assert_eq!(
                judge(before, &published),
                Some(TrackedStatus::Deleted),
                "{before}"
            );
        }
        for before in [
            TrackedStatus::Failed,
            TrackedStatus::Cancelled,
            TrackedStatus::Deleted,
        ] {
            assert_eq!(judge(before, &[]), None, "{before}");
        }
        // What was published stays on the record when Ayrshare no longer lists it.
        let outcome = judge_status(Ok(&deleted), TrackedStatus::Posted, &published);
        assert_eq!(outcome.results, published);
        assert_eq!(outcome.error, None);
        assert_eq!(outcome.open, None);
        // Ayrshare's answer showing a published platform is enough, and its results are kept.
        let listed = answer(
            200,
            json!({"status": "deleted", "id": "D1", "errors": [{"platform": "linkedin", "message": "gone"}],
                   "postIds": [{"status": "success", "platform": "twitter", "id": "9"}]}),
        );
        let outcome = judge_status(Ok(&listed), TrackedStatus::Scheduled, &[]);
        assert_eq!(outcome.tracked_status, Some(TrackedStatus::Deleted));
        assert_eq!(outcome.results.len(), 2);
        assert_eq!(outcome.results[0].post_id.as_deref(), Some("9"));
        assert_eq!(outcome.error, None);
        // A wrapped `deleted` reads the same.
        let wrapped_deleted = answer(200, wrapped(json!({"status": "deleted", "id": "D1"})));
        assert_eq!(
            judge_status(Ok(&wrapped_deleted), TrackedStatus::Scheduled, &[]).tracked_status,
            Some(TrackedStatus::Cancelled)
        );
    }

    #[test]
    fn a_get_answer_that_is_not_a_200_changes_nothing() {
        for status in [201, 204, 302, 400, 401, 403, 429, 500, 503] {
            let outcome = read(status, success_body_without_platforms());
            assert_eq!(outcome.tracked_status, None, "{status}");
            assert_ne!(outcome.verdict, Verdict::Accepted, "{status}");
            // Not even one that shows a platform published.
            let outcome = read(status, success_body());
            assert_eq!(outcome.tracked_status, None, "{status}");
            assert!(
                matches!(outcome.verdict, Verdict::ProviderError { .. }),
                "{status}"
            );
        }
        assert!(matches!(
            read(429, json!({"status": "error"})).verdict,
            Verdict::RateLimited { .. }
        ));
        assert!(matches!(
            read(400, json!({"status": "error", "message": "bad id"})).verdict,
            Verdict::Rejected { .. }
        ));
        let html = ProviderAnswer::new(200, "<html>ok</html>", None);
        let outcome = judge_status(Ok(&html), TrackedStatus::Scheduled, &[]);
        assert!(matches!(outcome.verdict, Verdict::ProviderError { .. }));
        assert_eq!(outcome.tracked_status, None);
    }

    fn success_body_without_platforms() -> Value {
        json!({"status": "success", "id": "N1"})
    }
}
