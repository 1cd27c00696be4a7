//! What Ayrshare's answer to a change of a post (`PATCH /post`, `DELETE /post`,
//! `PUT /post/retry`) means: done,
//! refused (the post is not in a state that allows it: the contract's 409 `conflict`), or a
//! failure mapped as on the create. Read leniently: Ayrshare documents neither answer's shape.

use serde_json::{Map, Value};

use super::outcome::{DEFAULT_RETRY_AFTER_SECS, DeliveryFailure, ProviderAnswer, Verdict};
use super::platform::platform_from_ayrshare;

/// Which change was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Update,
    Delete,
    Retry,
}

impl Change {
    fn verb(self) -> &'static str {
        match self {
            Change::Update => "update",
            Change::Delete => "delete",
            Change::Retry => "retry",
        }
    }
}

/// Ayrshare's code for deleting a post that is already deleted (secondary sources).
pub const CODE_ALREADY_DELETED: &str = "383";
/// Ayrshare's code for a post id it does not know.
pub const CODE_UNKNOWN_POST: &str = "114";

/// How a change ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Ayrshare made the change; `status` is its status word (`success` when it gave none).
    Done { status: String },
    /// Ayrshare refused it, saying why; nothing changed there.
    Refused { detail: String },
    /// No change could be confirmed; answered as on the create.
    Failed(Verdict),
}

/// Judges the answer to a change. A delete that Ayrshare refuses because the post is already
/// deleted is done: the post is gone, which is what was asked.
pub fn judge_change(
    answer: Result<&ProviderAnswer, DeliveryFailure>,
    change: Change,
) -> ChangeOutcome {
    let answer = match answer {
        Ok(answer) => answer,
        Err(failure) => return ChangeOutcome::Failed(undelivered(failure, change)),
    };
    let status = answer.http_status;
    let body = answer.json.as_ref().and_then(Value::as_object);
    let word = body.and_then(|b| b.get("status")).and_then(lenient_string);
    let code = body.and_then(|b| b.get("code")).and_then(lenient_string);
    let failed = |detail: String| ChangeOutcome::Failed(Verdict::ProviderError { detail });
    match status {
        401 | 403 => {
            return failed(format!(
                "ayrshare refused this service's credentials (HTTP {status}){}; the caller's API \
                 key is fine",
                body.and_then(message_of)
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
        429 => {
            return ChangeOutcome::Failed(Verdict::RateLimited {
                retry_after: answer
                    .retry_after
                    .clone()
                    .filter(|v| !v.trim().is_empty())
                    .unwrap_or_else(|| DEFAULT_RETRY_AFTER_SECS.to_string()),
            });
        }
        500..=599 => {
            return failed(format!(
                "ayrshare failed (HTTP {status}); the {} may have been made",
                change.verb()
            ));
        }
        _ => {}
    }
    let Some(body) = body else {
        return failed(format!(
            "ayrshare answered HTTP {status} with a body that is not Ayrshare JSON; the {} may \
             have been made",
            change.verb()
        ));
    };
    let refused = (400..=499).contains(&status)
        || word
            .as_deref()
            .is_some_and(|w| w.eq_ignore_ascii_case("error"));
    if !refused {
        if (200..=299).contains(&status) {
            return ChangeOutcome::Done {
                status: word.unwrap_or_else(|| "success".into()),
            };
        }
        return failed(format!(
            "ayrshare answered HTTP {status}; the {} may have been made",
            change.verb()
        ));
    }
    if change == Change::Delete && code.as_deref() == Some(CODE_ALREADY_DELETED) {
        return ChangeOutcome::Done {
            status: "deleted".into(),
        };
    }
    if status == 404 || code.as_deref() == Some(CODE_UNKNOWN_POST) {
        return ChangeOutcome::Failed(Verdict::NotFound {
            detail: "ayrshare no longer knows this post".into(),
        });
    }
    ChangeOutcome::Refused {
        detail: format!(
            "ayrshare refused to {} the post: {}",
            change.verb(),
            reasons(body)
        ),
    }
}

fn undelivered(failure: DeliveryFailure, change: Change) -> Verdict {
    match failure {
        DeliveryFailure::NotSent => Verdict::Unavailable {
            detail: "ayrshare could not be reached; nothing was sent".into(),
        },
        DeliveryFailure::OutcomeUnknown => Verdict::TimedOut {
            detail: format!(
                "ayrshare did not answer in time; the {} may have been made",
                change.verb()
            ),
        },
        DeliveryFailure::HeldOff { retry_after_secs } => Verdict::RateLimited {
            retry_after: retry_after_secs.to_string(),
        },
    }
}

/// The request-level message with its code, then each platform's (from `errors` and from
/// per-platform objects such as `{"instagram": {"status": "error", "message"}}`).
fn reasons(body: &Map<String, Value>) -> String {
    let mut parts = Vec::new();
    if let Some(message) = message_of(body) {
        parts.push(with_code(message, body));
    }
    let entries = body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|e| (e.get("platform").and_then(lenient_string), e));
    let platforms = body
        .iter()
        .filter_map(|(k, v)| Some((Some(k.clone()), v.as_object()?)));
    for (platform, entry) in entries.chain(platforms) {
        let is_error = entry
            .get("status")
            .and_then(lenient_string)
            .is_none_or(|s| s.eq_ignore_ascii_case("error"));
        let (Some(platform), Some(message), true) = (platform, message_of(entry), is_error) else {
            continue;
        };
        let part = format!(
            "{}: {}",
            platform_from_ayrshare(&platform),
            with_code(message, entry)
        );
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    if parts.is_empty() {
        "no reason given".into()
    } else {
        parts.join("; ")
    }
}

fn message_of(object: &Map<String, Value>) -> Option<String> {
    object.get("message").and_then(lenient_string)
}

fn with_code(message: String, object: &Map<String, Value>) -> String {
    match object.get("code").and_then(lenient_string) {
        Some(code) => format!("{message} (code {code})"),
        None => message,
    }
}

/// A string, or a number or boolean written as one.
pub(crate) fn lenient_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn judge(status: u16, body: Value, change: Change) -> ChangeOutcome {
        let answer = ProviderAnswer::new(status, &body.to_string(), None);
        judge_change(Ok(&answer), change)
    }

    #[test]
    fn a_2xx_without_error_is_done_with_ayrshares_word() {
        assert_eq!(
            judge(200, json!({"status": "success", "id": "A"}), Change::Update),
            ChangeOutcome::Done {
                status: "success".into()
            }
        );
        assert_eq!(
            judge(
                200,
                json!({"twitter": {"action": "delete", "status": "success"}}),
                Change::Delete
            ),
            ChangeOutcome::Done {
                status: "success".into()
            }
        );
    }

    #[test]
    fn a_refusal_quotes_ayrshare_and_each_platform() {
        let body = json!({
            "status": "error", "code": 384, "action": "delete",
            "message": "Instagram does not allow deleting a published post through its API.",
            "instagram": {"action": "delete", "status": "error", "code": 384,
                          "message": "Instagram does not allow deleting a published post through its API."}
        });
        let ChangeOutcome::Refused { detail } = judge(400, body, Change::Delete) else {
            panic!("not refused");
        };
        assert_eq!(
            detail,
            "ayrshare refused to delete the post: Instagram does not allow deleting a published \
             post through its API. (code 384); instagram: Instagram does not allow deleting a \
             published post through its API. (code 384)"
        );
        let ChangeOutcome::Refused { detail } = judge(
            200,
            json!({"status": "error", "errors": [{"platform": "twitter", "message": "no", "code": 1}]}),
            Change::Update,
        ) else {
            panic!("not refused");
        };
        assert_eq!(
            detail,
            "ayrshare refused to update the post: x: no (code 1)"
        );
    }

    #[test]
    fn an_already_deleted_post_is_deleted_and_an_unknown_one_is_not_found() {
        let gone = json!({"status": "error", "code": 383, "message": "Post already deleted."});
        assert_eq!(
            judge(400, gone.clone(), Change::Delete),
            ChangeOutcome::Done {
                status: "deleted".into()
            }
        );
        assert!(matches!(
            judge(400, gone, Change::Update),
            ChangeOutcome::Refused { .. }
        ));
        for status in [400, 404] {
            assert!(matches!(
                judge(
                    status,
                    json!({"status": "error", "code": 114, "message": "Post not found"}),
                    Change::Delete
                ),
                ChangeOutcome::Failed(Verdict::NotFound { .. })
            ));
        }
    }

    #[test]
    fn failures_map_as_on_the_create() {
        let failed = |status, body: &str| {
            let answer = ProviderAnswer::new(status, body, None);
            match judge_change(Ok(&answer), Change::Update) {
                ChangeOutcome::Failed(verdict) => verdict,
                other => panic!("{other:?}"),
            }
        };
        assert!(matches!(failed(401, "{}"), Verdict::ProviderError { .. }));
        assert_eq!(
            failed(429, "{}"),
            Verdict::RateLimited {
                retry_after: "300".into()
            }
        );
        assert!(matches!(failed(503, "{}"), Verdict::ProviderError { .. }));
        assert!(matches!(
            failed(200, "<html>"),
            Verdict::ProviderError { .. }
        ));
        assert!(matches!(
            judge_change(Err(DeliveryFailure::NotSent), Change::Delete),
            ChangeOutcome::Failed(Verdict::Unavailable { .. })
        ));
        assert!(matches!(
            judge_change(Err(DeliveryFailure::OutcomeUnknown), Change::Delete),
            ChangeOutcome::Failed(Verdict::TimedOut { .. })
        ));
    }
}
