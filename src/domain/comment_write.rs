//! Comment writes (a comment on a post, a reply to a comment, a delete): the checked requests,
//! which platforms Ayrshare takes each on, the body Ayrshare is sent, the state a write's record
//! is in, and what Ayrshare's answer means for it. Pure.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::change::lenient_string;
use super::comment::{ayrshare_platform, refusal};
use super::new_post::{FieldError, Problems, ValidationErrors, quote};
use super::outcome::{DeliveryFailure, ProviderAnswer, Verdict};
use super::platform::Platform;

/// The longest comment accepted, in characters.
pub const MAX_COMMENT_CHARS: usize = 10_000;
/// The longest comment id accepted in a path.
pub const MAX_COMMENT_ID_BYTES: usize = 512;

/// Which write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommentOp {
    /// `POST /comments`: a comment on the post.
    Comment,
    /// `POST /comments/reply`: a reply to one comment.
    Reply,
    /// `DELETE /comments/{id}`: one comment sent through this service.
    Delete,
}

impl CommentOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CommentOp::Comment => "comment",
            CommentOp::Reply => "reply",
            CommentOp::Delete => "delete",
        }
    }

    pub fn parse(text: &str) -> Option<CommentOp> {
        [CommentOp::Comment, CommentOp::Reply, CommentOp::Delete]
            .into_iter()
            .find(|op| op.as_str() == text)
    }

    /// Whether Ayrshare takes this write on `platform` (Ayrshare: comments on facebook,
    /// instagram, linkedin, tiktok, twitter, youtube, not threads; replies on the same six). A
    /// delete names one comment Ayrshare sent, wherever it is.
    pub fn supports(self, platform: Platform) -> bool {
        match self {
            CommentOp::Comment | CommentOp::Reply => Platform::ALL.contains(&platform),
            CommentOp::Delete => true,
        }
    }
}

/// The platforms that take a media URL with a comment.
pub const MEDIA_PLATFORMS: [Platform; 3] = [Platform::Facebook, Platform::Linkedin, Platform::X];

/// Where a write's record stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteStatus {
    /// Written, Ayrshare not answered yet.
    Pending,
    /// Ayrshare did it on every platform asked.
    Done,
    /// Ayrshare did it on some platforms and refused the others.
    Partial,
    /// Nothing was done: Ayrshare refused it, or it was never sent.
    Failed,
    /// Sent, and no answer came back: it may or may not have been done. Never sent again.
    Unknown,
}

impl WriteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteStatus::Pending => "pending",
            WriteStatus::Done => "done",
            WriteStatus::Partial => "partial",
            WriteStatus::Failed => "failed",
            WriteStatus::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<WriteStatus> {
        [
            WriteStatus::Pending,
            WriteStatus::Done,
            WriteStatus::Partial,
            WriteStatus::Failed,
            WriteStatus::Unknown,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the write's outcome is known.
    pub fn is_settled(self) -> bool {
        !matches!(self, WriteStatus::Pending | WriteStatus::Unknown)
    }
}

/// A checked `POST /social/post/{post_id}/comments` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewComment {
    pub comment: String,
    pub platforms: Option<Vec<Platform>>,
    pub media_urls: Vec<String>,
}

/// A checked `POST .../comments/{comment_id}/replies` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReply {
    pub comment: String,
    pub platform: Platform,
}

fn fields_of(body: &Value) -> Result<&Map<String, Value>, ValidationErrors> {
    body.as_object()
        .ok_or_else(|| ValidationErrors::one(FieldError::new("body", "must be a JSON object")))
}

fn comment_of(fields: &Map<String, Value>, errors: &mut Problems) -> String {
    match fields.get("comment") {
        Some(Value::String(text)) if text.trim().is_empty() => {
            errors.push(FieldError::new("comment", "must not be blank"));
        }
        Some(Value::String(text)) if text.chars().count() > MAX_COMMENT_CHARS => {
            errors.push(FieldError::new(
                "comment",
                format!("must be at most {MAX_COMMENT_CHARS} characters"),
            ));
        }
        Some(Value::String(text)) => return text.clone(),
        Some(_) => errors.push(FieldError::new("comment", "must be a string")),
        None => errors.push(FieldError::new("comment", "is required")),
    }
    String::new()
}

fn platform_of(value: &Value) -> Result<Platform, String> {
    let name = value.as_str().ok_or("must be a platform name")?;
    Platform::parse(name)
        .ok_or_else(|| format!("'{}' is not one of {}", quote(name), Platform::names()))
}

fn unknown_keys(fields: &Map<String, Value>, known: &[&str], errors: &mut Problems) {
    for key in fields.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(FieldError::new(
            quote(key),
            format!("is not a field of this request ({})", known.join(", ")),
        ));
    }
}

impl NewComment {
    pub fn parse(body: &Value) -> Result<NewComment, ValidationErrors> {
        let fields = fields_of(body)?;
        let mut errors = Problems::default();
        unknown_keys(fields, &["comment", "platforms", "media_urls"], &mut errors);
        let comment = comment_of(fields, &mut errors);
        let platforms = match fields.get("platforms") {
            None | Some(Value::Null) => None,
            Some(Value::Array(names)) if names.is_empty() => {
                errors.push(FieldError::new(
                    "platforms",
                    "must name at least one platform",
                ));
                None
            }
            Some(Value::Array(names)) if names.len() > Platform::ALL.len() => {
                errors.push(FieldError::new(
                    "platforms",
                    "names a platform more than once",
                ));
                None
            }
            Some(Value::Array(names)) => {
                let mut platforms = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    match platform_of(name) {
                        Ok(p) if platforms.contains(&p) => errors.push(FieldError::new(
                            format!("platforms[{i}]"),
                            format!("{p} is named more than once"),
                        )),
                        Ok(p) => platforms.push(p),
                        Err(message) => {
                            errors.push(FieldError::new(format!("platforms[{i}]"), message))
                        }
                    }
                }
                Some(platforms)
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "platforms",
                    "must be an array of platform names",
                ));
                None
            }
        };
        let media_urls = match fields.get("media_urls") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(urls)) if urls.len() > 1 => {
                errors.push(FieldError::new(
                    "media_urls",
                    "takes one URL at most (Ayrshare's limit)",
                ));
                Vec::new()
            }
            Some(Value::Array(urls)) => urls
                .iter()
                .filter_map(|url| match url.as_str().map(url::Url::parse) {
                    Some(Ok(parsed)) if matches!(parsed.scheme(), "http" | "https") => {
                        url.as_str().map(str::to_owned)
                    }
                    _ => {
                        errors.push(FieldError::new("media_urls[0]", "must be an http(s) URL"));
                        None
                    }
                })
                .collect(),
            Some(_) => {
                errors.push(FieldError::new("media_urls", "must be an array of one URL"));
                Vec::new()
            }
        };
        errors.finish().map(|()| NewComment {
            comment,
            platforms,
            media_urls,
        })
    }
}

impl NewReply {
    pub fn parse(body: &Value) -> Result<NewReply, ValidationErrors> {
        let fields = fields_of(body)?;
        let mut errors = Problems::default();
        unknown_keys(fields, &["comment", "platform"], &mut errors);
        let comment = comment_of(fields, &mut errors);
        let platform = match fields.get("platform").map(platform_of) {
            Some(Ok(p)) => Some(p),
            Some(Err(message)) => {
                errors.push(FieldError::new("platform", message));
                None
            }
            None => {
                errors.push(FieldError::new(
                    "platform",
                    "is required: the comment's platform",
                ));
                None
            }
        };
        errors.finish()?;
        Ok(NewReply {
            comment,
            platform: platform.unwrap_or(Platform::X),
        })
    }
}

/// A comment id given in a path: 1 to 512 bytes, no control characters.
pub fn check_comment_id(id: &str) -> Result<(), ValidationErrors> {
    if id.is_empty() || id.len() > MAX_COMMENT_ID_BYTES || id.chars().any(char::is_control) {
        return Err(ValidationErrors::one(FieldError::new(
            "comment_id",
            format!("must be 1 to {MAX_COMMENT_ID_BYTES} bytes without control characters"),
        )));
    }
    Ok(())
}

/// The platforms of `asked` that Ayrshare cannot take `op` on for this post (not supported,
/// not a platform the post was published on, or media where none is taken), as one 400.
pub fn refuse_platforms(
    op: CommentOp,
    asked: &[Platform],
    published: &[Platform],
    with_media: bool,
) -> Result<(), ValidationErrors> {
    let mut errors = Problems::default();
    let field = if op == CommentOp::Reply {
        "platform"
    } else {
        "platforms"
    };
    let unsupported: Vec<&str> = asked
        .iter()
        .filter(|p| !op.supports(**p))
        .map(|p| p.as_str())
        .collect();
    if !unsupported.is_empty() {
        errors.push(FieldError::new(
            field,
            format!(
                "ayrshare cannot {} on {}",
                op.as_str(),
                unsupported.join(", ")
            ),
        ));
    }
    let absent: Vec<&str> = asked
        .iter()
        .filter(|p| !published.contains(p))
        .map(|p| p.as_str())
        .collect();
    if !absent.is_empty() {
        errors.push(FieldError::new(
            field,
            format!(
                "the post was not published on {}: there is nothing to {} there",
                absent.join(", "),
                op.as_str()
            ),
        ));
    }
    if with_media {
        let no_media: Vec<&str> = asked
            .iter()
            .filter(|p| !MEDIA_PLATFORMS.contains(p))
            .map(|p| p.as_str())
            .collect();
        if !no_media.is_empty() {
            errors.push(FieldError::new(
                "media_urls",
                format!(
                    "ayrshare takes comment media on facebook, linkedin and x only, not on {}",
                    no_media.join(", ")
                ),
            ));
        }
    }
    errors.finish()
}

/// Ayrshare's `POST /comments` body.
pub fn comment_body(post_id: &str, comment: &NewComment, platforms: &[Platform]) -> Value {
    let mut body = json!({
        "id": post_id,
        "comment": comment.comment,
        "platforms": platforms.iter().map(|p| p.ayrshare_name()).collect::<Vec<_>>(),
    });
    if !comment.media_urls.is_empty() {
        body["mediaUrls"] = json!(comment.media_urls);
    }
    body
}

/// Ayrshare's `POST /comments/reply` body; TikTok needs the post's video id.
pub fn reply_body(comment_id: &str, reply: &NewReply, video_id: Option<&str>) -> Value {
    let mut body = json!({
        "commentId": comment_id,
        "comment": reply.comment,
        "platforms": [reply.platform.ayrshare_name()],
    });
    if let (Platform::Tiktok, Some(video)) = (reply.platform, video_id) {
        body["videoId"] = json!(video);
    }
    body
}

/// One platform's part of a write, as Ayrshare answered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WriteResult {
    pub platform: String,
    /// `success` or `error`.
    pub status: String,
    /// The comment written (or deleted), when Ayrshare named it.
    pub comment_id: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// What one answer to a write means.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOutcome {
    pub status: WriteStatus,
    pub results: Vec<WriteResult>,
    /// `Accepted` for `done` and `partial`; else why not.
    pub verdict: Verdict,
    /// Ayrshare's body, as JSON (text as a JSON string), when it answered.
    pub response: Option<Value>,
}

fn outcome(status: WriteStatus, verdict: Verdict, response: Option<Value>) -> WriteOutcome {
    WriteOutcome {
        status,
        results: Vec::new(),
        verdict,
        response,
    }
}

/// Judges Ayrshare's answer to a write. Only an answer that shows nothing was done makes the
/// write `failed`; one that may hide a done write (a timeout, Ayrshare's own failure, an
/// unreadable body) makes it `unknown`.
pub fn judge_write(
    answer: Result<&ProviderAnswer, DeliveryFailure>,
    op: CommentOp,
) -> WriteOutcome {
    let verb = op.as_str();
    let answer = match answer {
        Ok(answer) => answer,
        Err(DeliveryFailure::NotSent) => {
            return outcome(
                WriteStatus::Failed,
                Verdict::Unavailable {
                    detail: "ayrshare could not be reached; nothing was sent".into(),
                },
                None,
            );
        }
        Err(DeliveryFailure::HeldOff { retry_after_secs }) => {
            return outcome(
                WriteStatus::Failed,
                Verdict::RateLimited {
                    retry_after: retry_after_secs.to_string(),
                },
                None,
            );
        }
        Err(DeliveryFailure::OutcomeUnknown) => {
            return outcome(
                WriteStatus::Unknown,
                Verdict::TimedOut {
                    detail: format!(
                        "ayrshare did not answer in time; the {verb} may have been made (it is \
                         never sent again: read the post's comments to find out)"
                    ),
                },
                None,
            );
        }
    };
    let response = Some(
        answer
            .json
            .clone()
            .unwrap_or_else(|| Value::String(answer.text.chars().take(4096).collect())),
    );
    let status = answer.http_status;
    let body = answer.json.as_ref().and_then(Value::as_object);
    if let Some(verdict) = refusal(answer, body, verb) {
        let state = match (&verdict, status) {
            // Ayrshare failed on its side: the write may have been made.
            (Verdict::ProviderError { .. }, 500..=599) => WriteStatus::Unknown,
            _ => WriteStatus::Failed,
        };
        let verdict = match verdict {
            Verdict::ProviderError { detail } if state == WriteStatus::Unknown => {
                Verdict::ProviderError {
                    detail: format!("{detail}; the {verb} may have been made"),
                }
            }
            other => other,
        };
        return outcome(state, verdict, response);
    }
    let Some(body) = body else {
        return outcome(
            WriteStatus::Unknown,
            Verdict::ProviderError {
                detail: format!(
                    "ayrshare answered HTTP {status} with a body that is not Ayrshare JSON; the \
                     {verb} may have been made"
                ),
            },
            response,
        );
    };
    let results = results_of(body);
    let done = results.iter().filter(|r| r.status == "success").count();
    let word_error = body
        .get("status")
        .and_then(lenient_string)
        .is_some_and(|w| w.eq_ignore_ascii_case("error"));
    let (state, verdict) = if done > 0 && done == results.len() {
        (WriteStatus::Done, Verdict::Accepted)
    } else if done > 0 {
        (WriteStatus::Partial, Verdict::Accepted)
    } else if !results.is_empty() || word_error || (400..=499).contains(&status) {
        (
            WriteStatus::Failed,
            Verdict::Rejected {
                detail: format!("ayrshare refused the {verb}: {}", reasons(&results)),
            },
        )
    } else if (200..=299).contains(&status) {
        (WriteStatus::Done, Verdict::Accepted)
    } else {
        (
            WriteStatus::Unknown,
            Verdict::ProviderError {
                detail: format!("ayrshare answered HTTP {status}; the {verb} may have been made"),
            },
        )
    };
    WriteOutcome {
        status: state,
        results,
        verdict,
        response,
    }
}

fn reasons(results: &[WriteResult]) -> String {
    let parts: Vec<String> = results
        .iter()
        .filter_map(|r| {
            let message = r.message.as_deref()?;
            Some(match &r.code {
                Some(code) => format!("{}: {message} (code {code})", r.platform),
                None => format!("{}: {message}", r.platform),
            })
        })
        .collect();
    if parts.is_empty() {
        "no reason given".into()
    } else {
        parts.join("; ")
    }
}

fn result_of(platform: Platform, entry: &Map<String, Value>, default_ok: bool) -> WriteResult {
    let status = entry
        .get("status")
        .and_then(lenient_string)
        .map(|s| s.to_ascii_lowercase());
    let ok = status.as_deref().map_or(default_ok, |s| s == "success");
    WriteResult {
        platform: platform.as_str().to_owned(),
        status: if ok { "success" } else { "error" }.into(),
        comment_id: ["commentId", "id", "commentID"]
            .iter()
            .find_map(|k| entry.get(*k).and_then(lenient_string)),
        code: entry.get("code").and_then(lenient_string),
        message: entry.get("message").and_then(lenient_string),
    }
}

/// The per-platform parts: entries keyed by platform (an object, or a list of them for a
/// delete of several), then `errors` naming a platform.
fn results_of(body: &Map<String, Value>) -> Vec<WriteResult> {
    let mut results = Vec::new();
    for (key, value) in body {
        let Some(platform) = ayrshare_platform(key) else {
            continue;
        };
        match value {
            Value::Object(entry) => results.push(result_of(platform, entry, true)),
            Value::Array(entries) => results.extend(
                entries
                    .iter()
                    .take(100)
                    .filter_map(Value::as_object)
                    .map(|e| result_of(platform, e, true)),
            ),
            _ => {}
        }
    }
    for entry in body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(100)
        .filter_map(Value::as_object)
    {
        let Some(platform) = entry
            .get("platform")
            .and_then(Value::as_str)
            .and_then(ayrshare_platform)
        else {
            continue;
        };
        if !results
            .iter()
            .any(|r| r.platform == platform.as_str() && r.status == "error")
        {
            results.push(result_of(platform, entry, false));
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::query_tests::fields;

    fn judge(status: u16, body: Value, op: CommentOp) -> WriteOutcome {
        let answer = ProviderAnswer::new(status, &body.to_string(), None);
        judge_write(Ok(&answer), op)
    }

    #[test]
    fn a_comment_body_is_checked_whole() {
        let ok = NewComment::parse(&json!({"comment": "hi", "platforms": ["x", "FACEBOOK"],
            "media_urls": ["https://cdn.example.com/a.png"]}))
        .unwrap();
        assert_eq!(ok.platforms, Some(vec![Platform::X, Platform::Facebook]));
        assert_eq!(ok.media_urls, ["https://cdn.example.com/a.png"]);
        assert_eq!(
            fields(NewComment::parse(&json!({"comment": " "}))),
            ["comment"]
        );
        assert_eq!(fields(NewComment::parse(&json!({}))), ["comment"]);
        assert_eq!(
            fields(NewComment::parse(
                &json!({"comment": "a", "platforms": ["x", "x", "myspace"], "extra": 1})
            )),
            ["extra", "platforms[1]", "platforms[2]"]
        );
        assert_eq!(
            fields(NewComment::parse(
                &json!({"comment": "a", "media_urls": ["a", "b"]})
            )),
            ["media_urls"]
        );
        assert_eq!(
            fields(NewComment::parse(
                &json!({"comment": "a", "media_urls": ["ftp://x"]})
            )),
            ["media_urls[0]"]
        );
        assert_eq!(fields(NewComment::parse(&json!([1]))), ["body"]);
        let long = "é".repeat(MAX_COMMENT_CHARS + 1);
        assert_eq!(
            fields(NewComment::parse(&json!({"comment": long}))),
            ["comment"]
        );
        assert_eq!(
            fields(NewReply::parse(&json!({"comment": "a"}))),
            ["platform"]
        );
        assert_eq!(
            NewReply::parse(&json!({"comment": "a", "platform": "tiktok"}))
                .unwrap()
                .platform,
            Platform::Tiktok
        );
    }

    #[test]
    fn platforms_the_post_is_not_on_or_without_media_are_refused_by_name() {
        let published = [Platform::X, Platform::Instagram];
        assert!(refuse_platforms(CommentOp::Comment, &[Platform::X], &published, true).is_ok());
        let refused = refuse_platforms(
            CommentOp::Comment,
            &[Platform::Instagram, Platform::Youtube],
            &published,
            true,
        )
        .unwrap_err();
        let detail = refused.detail();
        assert!(detail.contains("not published on youtube"), "{detail}");
        assert!(detail.contains("not on instagram, youtube"), "{detail}");
    }

    #[test]
    fn the_bodies_use_ayrshares_names() {
        let c = NewComment {
            comment: "hi".into(),
            platforms: None,
            media_urls: vec![],
        };
        assert_eq!(
            comment_body("P", &c, &[Platform::X]),
            json!({"id": "P", "comment": "hi", "platforms": ["twitter"]})
        );
        let r = NewReply {
            comment: "yo".into(),
            platform: Platform::Tiktok,
        };
        assert_eq!(
            reply_body("C", &r, Some("V")),
            json!({"commentId": "C", "comment": "yo", "platforms": ["tiktok"], "videoId": "V"})
        );
    }

    #[test]
    fn every_platform_done_partial_or_refused() {
        let done = judge(
            200,
            json!({"status": "success", "twitter": {"status": "success", "commentId": "c1", "platform": "twitter"}, "errors": []}),
            CommentOp::Comment,
        );
        assert_eq!(done.status, WriteStatus::Done);
        assert_eq!(done.results[0].platform, "x");
        assert_eq!(done.results[0].comment_id.as_deref(), Some("c1"));
        let partial = judge(
            200,
            json!({"status": "error", "facebook": {"status": "success", "commentId": "f"},
            "errors": [{"action": "comment", "status": "error", "code": 389, "message": "no", "platform": "instagram"}]}),
            CommentOp::Comment,
        );
        assert_eq!(partial.status, WriteStatus::Partial);
        assert_eq!(partial.results.len(), 2);
        let refused = judge(
            400,
            json!({"status": "error", "errors": [{"code": 156, "message": "not linked", "platform": "twitter"}]}),
            CommentOp::Comment,
        );
        assert_eq!(refused.status, WriteStatus::Failed);
        assert!(
            matches!(&refused.verdict, Verdict::Rejected { detail } if detail.contains("x: not linked (code 156)")),
            "{refused:?}"
        );
        let whole = judge(
            400,
            json!({"action": "comment", "status": "error", "code": 389, "message": "No network"}),
            CommentOp::Comment,
        );
        assert_eq!(whole.status, WriteStatus::Failed);
        assert!(matches!(whole.verdict, Verdict::Rejected { .. }));
        let deleted = judge(
            200,
            json!({"status": "success", "twitter": {"action": "delete", "status": "success", "id": "c1"}}),
            CommentOp::Delete,
        );
        assert_eq!(
            (deleted.status, deleted.results[0].comment_id.as_deref()),
            (WriteStatus::Done, Some("c1"))
        );
        let gone = judge(
            404,
            json!({"status": "error", "code": 114, "message": "Comment not found"}),
            CommentOp::Delete,
        );
        assert_eq!(gone.status, WriteStatus::Failed);
        assert!(matches!(gone.verdict, Verdict::NotFound { .. }));
    }

    #[test]
    fn an_answer_that_may_hide_a_done_write_is_unknown_never_failed() {
        assert_eq!(
            judge_write(Err(DeliveryFailure::OutcomeUnknown), CommentOp::Reply).status,
            WriteStatus::Unknown
        );
        assert_eq!(
            judge(500, json!({}), CommentOp::Comment).status,
            WriteStatus::Unknown
        );
        let html = ProviderAnswer::new(200, "<html>", None);
        assert_eq!(
            judge_write(Ok(&html), CommentOp::Comment).status,
            WriteStatus::Unknown
        );
        assert_eq!(
            judge_write(Err(DeliveryFailure::NotSent), CommentOp::Comment).status,
            WriteStatus::Failed
        );
        let limited = judge(429, json!({}), CommentOp::Comment);
        assert_eq!(limited.status, WriteStatus::Failed);
        assert!(matches!(limited.verdict, Verdict::RateLimited { .. }));
        assert_eq!(
            judge(401, json!({}), CommentOp::Comment).status,
            WriteStatus::Failed
        );
    }
}
