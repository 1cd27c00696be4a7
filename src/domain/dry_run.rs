//! The dry run (`POST /social/post/validate`): our own problems with a create's body and what
//! Ayrshare's `POST /validate/post` answered, read into one list of errors and one of warnings.
//! Pure: the use case calls Ayrshare and hands the answer here.

use serde::Serialize;
use serde_json::{Map, Value};

use super::new_post::{FieldError, ValidationErrors};
use super::outcome::{DeliveryFailure, ProviderAnswer, Verdict, refusal_of};
use super::platform::platform_from_ayrshare;

/// Who found a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemSource {
    /// This service's own checks: the same as the create's.
    Mosaic,
    /// Ayrshare's `POST /validate/post`.
    Ayrshare,
}

/// One error or warning of a dry run: `field` and `message` as in a `validation_error`'s
/// `errors`, with who found it and, for Ayrshare's, the platform and Ayrshare's code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DryRunProblem {
    /// Where: `platforms[0]`, `schedule_date`, ...; `ayrshare` for what Ayrshare found.
    pub field: String,
    pub message: String,
    pub source: ProblemSource,
    /// The platform Ayrshare's problem is about, under this API's names.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub platform: Option<String>,
    /// Ayrshare's error code (`136`, `272`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub code: Option<String>,
}

impl DryRunProblem {
    /// One of our own problems.
    pub fn ours(error: &FieldError) -> DryRunProblem {
        DryRunProblem {
            field: error.field.clone(),
            message: error.message.clone(),
            source: ProblemSource::Mosaic,
            platform: None,
            code: None,
        }
    }
}

/// The dry run's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DryRun {
    /// `true` when neither this service nor Ayrshare found an error: the create would be sent
    /// (it can still fail on a network, see `warnings`).
    pub valid: bool,
    /// Our own problems (then Ayrshare was not asked), or Ayrshare's. At most 50.
    pub errors: Vec<DryRunProblem>,
    /// Problems that do not stop the create: Ayrshare's warnings (a network the post would
    /// fail on, such as an unlinked account). At most 50.
    pub warnings: Vec<DryRunProblem>,
    /// How many more of our own problems were found than `errors` lists; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub errors_not_listed: Option<usize>,
}

impl DryRun {
    /// The answer when our own checks found problems: Ayrshare is not asked.
    pub fn refused(errors: &ValidationErrors) -> DryRun {
        DryRun {
            valid: false,
            errors: errors.listed().iter().map(DryRunProblem::ours).collect(),
            warnings: Vec::new(),
            errors_not_listed: (errors.not_listed() > 0).then_some(errors.not_listed()),
        }
    }
}

/// How many items of each of Ayrshare's lists are kept: an answer stays small whatever Ayrshare
/// sends.
pub const MAX_PROBLEMS: usize = ValidationErrors::MAX_LISTED;

/// The longest message of Ayrshare's that is passed on, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Reads Ayrshare's answer to `POST /validate/post`: its errors and warnings, or (when Ayrshare
/// could not be asked, refused our credentials, failed or said something unreadable) the
/// failure mapped as on the create, so that the caller gets the create's 502/503/504/429.
pub fn judge_validation(
    answer: Result<&ProviderAnswer, DeliveryFailure>,
) -> Result<DryRun, Verdict> {
    let answer = match answer {
        Ok(answer) => answer,
        Err(DeliveryFailure::NotSent) => {
            return Err(Verdict::Unavailable {
                detail: "ayrshare could not be reached to validate the post; nothing was sent"
                    .into(),
            });
        }
        Err(DeliveryFailure::OutcomeUnknown) => {
            return Err(Verdict::TimedOut {
                detail: "ayrshare did not answer the validation in time; nothing was published \
                         (a dry run never publishes): try again"
                    .into(),
            });
        }
        Err(DeliveryFailure::HeldOff { retry_after_secs }) => {
            return Err(Verdict::RateLimited {
                retry_after: retry_after_secs.to_string(),
            });
        }
    };
    if let Some(refusal) = refusal_of(answer, "ayrshare failed to validate the post") {
        return Err(refusal);
    }
    let status = answer.http_status;
    let unreadable = || Verdict::ProviderError {
        detail: format!(
            "ayrshare answered the validation with HTTP {status} and a body that is not \
             Ayrshare's validation answer"
        ),
    };
    let body = answer
        .json
        .as_ref()
        .and_then(Value::as_object)
        .ok_or_else(unreadable)?;
    let word = body
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let warnings = problems(body.get("warnings"));
    match (word.as_deref(), status) {
        (Some("success"), 200..=299) => Ok(DryRun {
            valid: true,
            errors: Vec::new(),
            warnings,
            errors_not_listed: None,
        }),
        (Some("error"), 200..=499) => {
            let mut errors = problems(body.get("errors"));
            if errors.is_empty() {
                errors.push(problem(body).unwrap_or_else(|| DryRunProblem {
                    field: "ayrshare".into(),
                    message: format!("ayrshare refused the post (HTTP {status}) without a reason"),
                    source: ProblemSource::Ayrshare,
                    platform: None,
                    code: None,
                }));
            }
            Ok(DryRun {
                valid: false,
                errors,
                warnings,
                errors_not_listed: None,
            })
        }
        _ => Err(unreadable()),
    }
}

/// The items of one of Ayrshare's lists (`errors`, `warnings`) that say something, at most
/// `MAX_PROBLEMS`.
fn problems(list: Option<&Value>) -> Vec<DryRunProblem> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter_map(problem)
        .take(MAX_PROBLEMS)
        .collect()
}

/// One entry of Ayrshare's (`{code, message, platform?}`), when it has a message.
fn problem(entry: &Map<String, Value>) -> Option<DryRunProblem> {
    let message = entry.get("message").and_then(text)?;
    Some(DryRunProblem {
        field: "ayrshare".into(),
        message: shorten(&message),
        source: ProblemSource::Ayrshare,
        platform: entry
            .get("platform")
            .and_then(Value::as_str)
            .map(platform_from_ayrshare)
            .map(|name| shorten(&name)),
        code: entry.get("code").and_then(text).map(|code| shorten(&code)),
    })
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::outcome::DEFAULT_RETRY_AFTER_SECS;

    fn answer(status: u16, body: Value) -> ProviderAnswer {
        ProviderAnswer::new(status, &body.to_string(), None)
    }

    #[test]
    fn a_success_is_valid_with_its_warnings_under_our_platform_names() {
        let judged = judge_validation(Ok(&answer(
            200,
            json!({"status": "success", "message": "ok",
                   "warnings": [{"code": 272, "message": "token expired", "platform": "twitter"},
                                {"nothing": "to say"}]}),
        )))
        .unwrap();
        assert!(judged.valid);
        assert!(judged.errors.is_empty());
        assert_eq!(
            judged.warnings,
            [DryRunProblem {
                field: "ayrshare".into(),
                message: "token expired".into(),
                source: ProblemSource::Ayrshare,
                platform: Some("x".into()),
                code: Some("272".into()),
            }]
        );
    }

    #[test]
    fn a_refusal_is_invalid_with_ayrshares_message_or_its_list() {
        let one = judge_validation(Ok(&answer(
            400,
            json!({"action": "post", "status": "error", "code": 136, "message": "Media URLs invalid"}),
        )))
        .unwrap();
        assert!(!one.valid);
        assert_eq!(one.errors.len(), 1);
        assert_eq!(one.errors[0].message, "Media URLs invalid");
        assert_eq!(one.errors[0].code.as_deref(), Some("136"));

        let listed = judge_validation(Ok(&answer(
            400,
            json!({"status": "error", "message": "top",
                   "errors": [{"code": 1, "message": "a", "platform": "linkedin"},
                              {"code": 2, "message": "b"}]}),
        )))
        .unwrap();
        let messages: Vec<&str> = listed.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["a", "b"]);

        let silent = judge_validation(Ok(&answer(400, json!({"status": "error"})))).unwrap();
        assert!(silent.errors[0].message.contains("without a reason"));
    }

    #[test]
    fn failures_map_as_on_the_create() {
        assert!(matches!(
            judge_validation(Err(DeliveryFailure::NotSent)),
            Err(Verdict::Unavailable { .. })
        ));
        assert!(matches!(
            judge_validation(Err(DeliveryFailure::OutcomeUnknown)),
            Err(Verdict::TimedOut { .. })
        ));
        assert!(matches!(
            judge_validation(Ok(&answer(401, json!({"status": "error"})))),
            Err(Verdict::ProviderError { .. })
        ));
        assert!(matches!(
            judge_validation(Ok(&answer(503, json!({})))),
            Err(Verdict::ProviderError { .. })
        ));
        assert_eq!(
            judge_validation(Ok(&answer(429, json!({})))),
            Err(Verdict::RateLimited {
                retry_after: DEFAULT_RETRY_AFTER_SECS.to_string()
            })
        );
        for odd in [
            json!([1]),
            json!({"status": "maybe"}),
            json!({"status": "success"}),
        ] {
            let status = if odd.get("status") == Some(&json!("success")) {
                400
            } else {
                200
            };
            assert!(
                matches!(
                    judge_validation(Ok(&answer(status, odd.clone()))),
                    Err(Verdict::ProviderError { .. })
                ),
                "{odd}"
            );
        }
        let text = ProviderAnswer::new(200, "<html>", None);
        assert!(judge_validation(Ok(&text)).is_err());
    }

    #[test]
    fn ayrshares_lists_and_messages_are_bounded() {
        let many: Vec<Value> = (0..500)
            .map(|i| json!({"message": "m".repeat(10_000), "code": i}))
            .collect();
        let judged = judge_validation(Ok(&answer(
            200,
            json!({"status": "success", "warnings": many}),
        )))
        .unwrap();
        assert_eq!(judged.warnings.len(), MAX_PROBLEMS);
        assert!(judged.warnings[0].message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn our_own_problems_come_with_their_count() {
        let errors = ValidationErrors::one(FieldError::new("platforms", "is required"));
        let refused = DryRun::refused(&errors);
        assert!(!refused.valid);
        assert_eq!(refused.errors[0].source, ProblemSource::Mosaic);
        assert_eq!(refused.errors_not_listed, None);
        assert_eq!(
            serde_json::to_value(&refused).unwrap(),
            json!({"valid": false, "warnings": [],
                   "errors": [{"field": "platforms", "message": "is required", "source": "mosaic"}]})
        );
    }
}
