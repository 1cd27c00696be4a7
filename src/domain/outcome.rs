//! What an Ayrshare answer means: per-platform results, the new `tracked_status`, and the verdict
//! the HTTP layer turns into a response. Pure code; Ayrshare's JSON is read leniently.

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformResult {
    /// Our platform name (`x`, never `twitter`).
    pub platform: String,
    /// Ayrshare's status for this platform (`success`, `error`, ...).
    pub status: String,
    /// The platform's native post id, always a string.
    pub post_id: Option<String>,
    pub post_url: Option<String>,
    /// The error message with its Ayrshare code, or null.
    pub message: Option<String>,
}

impl PlatformResult {
    fn succeeded(&self) -> bool {
        self.status == "success"
    }
}

/// A link to a published post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The merged response (posted, scheduled, partial).
    Accepted,
    /// Ayrshare refused the post; nothing was published.
    Rejected { detail: String },
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

/// Everything learnt from one Ayrshare exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The new `tracked_status`, or `None` when the answer leaves the record as it is.
    pub tracked_status: Option<TrackedStatus>,
    /// Ayrshare's top-level post id.
    pub provider_post_id: Option<String>,
    /// Ayrshare's top-level `status`.
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

    if let Some(verdict) = reading.failure(answer) {
        outcome.tracked_status = Some(match verdict {
            Verdict::ProviderError { .. } if !reading.is_credential_problem(answer) => {
                TrackedStatus::Unknown
            }
            _ => TrackedStatus::Failed,
        });
        outcome.verdict = verdict;
        return outcome;
    }

    // A 2xx (or a 4xx with Ayrshare's JSON) that says what happened.
    let (tracked, verdict) = match reading.status.as_deref() {
        Some("scheduled") => (TrackedStatus::Scheduled, Verdict::Accepted),
        // Accepted for later; but if Ayrshare lists published platforms, it posted at once.
        Some("success") if scheduled && reading.successes() == 0 => {
            (TrackedStatus::Scheduled, Verdict::Accepted)
        }
        Some("success") if reading.successes() > 0 || reading.errors.is_empty() => {
            (TrackedStatus::Posted, Verdict::Accepted)
        }
        // Ayrshare says something failed: even when every platform it listed succeeded (one it
        // did not list may be the failure), that is a partial success, never `posted`.
        Some("error") if reading.successes() > 0 => (TrackedStatus::Partial, Verdict::Accepted),
        _ => match (
            reading.successes() > 0,
            !reading.errors.is_empty() || reading.failures() > 0,
        ) {
            (true, false) => (TrackedStatus::Posted, Verdict::Accepted),
            (true, true) => (TrackedStatus::Partial, Verdict::Accepted),
            (false, true) => (TrackedStatus::Failed, reading.rejection()),
            (false, false) if reading.status.as_deref() == Some("error") => {
                (TrackedStatus::Failed, reading.rejection())
            }
            (false, false) => (
                TrackedStatus::Unknown,
                Verdict::ProviderError {
                    detail: "ayrshare answered without saying whether the post was published"
                        .into(),
                },
            ),
        },
    };
    if tracked == TrackedStatus::Scheduled {
        // A scheduled post has no per-platform outcome yet.
        outcome.results.clear();
        outcome.error = None;
    }
    if tracked == TrackedStatus::Posted {
        outcome.error = None;
    }
    outcome.tracked_status = Some(tracked);
    outcome.verdict = verdict;
    outcome
}

/// Judges the answer to `GET /post/{id}`: a 200 is always answered as it is, and only an answer
/// that shows the post published or failed changes `tracked_status`.
pub fn judge_status(answer: Result<&ProviderAnswer, DeliveryFailure>) -> Outcome {
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
    outcome.tracked_status = match reading.status.as_deref() {
        Some("success") => Some(TrackedStatus::Posted),
        Some("error") if reading.successes() > 0 => Some(TrackedStatus::Partial),
        Some("error") => Some(TrackedStatus::Failed),
        _ => None,
    };
    if outcome.tracked_status == Some(TrackedStatus::Posted) {
        outcome.error = None;
    }
    // The record keeps the raw answer to the create call; a reading only updates the results.
    outcome.provider_response = None;
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
        provider_post_id: None,
        provider_status: None,
        results: Vec::new(),
        error: Some(json!({ "message": message })),
        provider_response: None,
        verdict,
    }
}

/// A lenient reading of an Ayrshare body: missing fields are empty, ids may be numbers,
/// unknown fields are ignored.
struct Reading {
    object: Option<Map<String, Value>>,
    status: Option<String>,
    id: Option<String>,
    results: Vec<PlatformResult>,
    errors: Vec<Value>,
}

impl Reading {
    fn of(answer: &ProviderAnswer) -> Reading {
        let object = answer.json.as_ref().and_then(Value::as_object).cloned();
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

    fn successes(&self) -> usize {
        self.results.iter().filter(|r| r.succeeded()).count()
    }

    fn failures(&self) -> usize {
        self.results.iter().filter(|r| !r.succeeded()).count()
    }

    fn is_credential_problem(&self, answer: &ProviderAnswer) -> bool {
        matches!(answer.http_status, 401 | 403)
    }

    /// The shared part of every outcome; callers set the status and verdict.
    fn outcome(&self, answer: &ProviderAnswer) -> Outcome {
        let error = if self.errors.is_empty() && self.status.as_deref() != Some("error") {
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

    /// The verdict for answers that are failures whatever their body says, except a partial
    /// success, which is always reported as such.
    fn failure(&self, answer: &ProviderAnswer) -> Option<Verdict> {
        let status = answer.http_status;
        if self.object.is_some() && self.successes() > 0 && self.status.as_deref() == Some("error")
        {
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

    #[test]
    fn reading_a_post_changes_the_record_only_when_it_is_settled() {
        let pending = judge_status(Ok(&answer(200, json!({"status": "pending", "id": "A"}))));
        assert_eq!(pending.tracked_status, None);
        assert_eq!(pending.verdict, Verdict::Accepted);
        assert_eq!(pending.provider_status.as_deref(), Some("pending"));
        let done = judge_status(Ok(&answer(200, success_body())));
        assert_eq!(done.tracked_status, Some(TrackedStatus::Posted));
        let partial = judge_status(Ok(&answer(200, partial_body())));
        assert_eq!(partial.tracked_status, Some(TrackedStatus::Partial));
        let failed = judge_status(Ok(&answer(200, duplicate_body())));
        assert_eq!(failed.tracked_status, Some(TrackedStatus::Failed));
        assert_eq!(failed.verdict, Verdict::Accepted);
        let gone = judge_status(Ok(&answer(404, json!({"status": "error"}))));
        assert!(matches!(gone.verdict, Verdict::NotFound { .. }));
        assert_eq!(gone.tracked_status, None);
        let down = judge_status(Err(DeliveryFailure::NotSent));
        assert_eq!(down.tracked_status, None);
    }
}
