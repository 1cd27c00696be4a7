//! `ApiError`: every error the API answers, and the one table that gives each its status and
//! code and turns it into the contract's JSON body `{"detail", "error", ...}`. Handlers,
//! extractors and middleware all answer through it.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::extract::Json;
use super::rate_limit::RateLimitRefusal;
use super::server::MAX_HEAD_BYTES;
use crate::domain::new_post::quote;
use crate::domain::{FieldError, ValidationErrors, Verdict};
use crate::publishing::{AppError, RecordRef};

/// An error answer: a use case's, or one that only HTTP knows about.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than 1 MiB")]
    PayloadTooLarge,
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("the request took too long and was stopped")]
    RequestTimeout,
    /// The connection cut the body for arriving more slowly than this many bytes a second
    /// (`HTTP_MIN_BODY_BYTES_PER_SEC`).
    #[error(
        "the request body arrived more slowly than {0} bytes a second and was cut; nothing was done"
    )]
    BodyTooSlow(u64),
    /// A 429 `rate_limit` of our own for the caller's key: no record was written, Ayrshare was
    /// not called.
    #[error("{0}")]
    RateLimited(RateLimitRefusal),
}

impl ApiError {
    /// A validation error about one field.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::App(AppError::field(field, message))
    }

    /// The one table: each error's status and machine code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        let code = self.error_code();
        (code.status(), code.code())
    }

    /// Which row of [`ErrorCode`]'s table this error answers with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ApiError::App(error) => match error {
                AppError::Validation(_) => ErrorCode::ValidationError,
                AppError::InvalidApiKey(_) => ErrorCode::InvalidApiKey,
                AppError::InvalidSignature(_) => ErrorCode::InvalidSignature,
                AppError::NotFound(_) => ErrorCode::NotFound,
                AppError::Conflict { .. } => ErrorCode::Conflict,
                AppError::Provider { verdict, .. }
                | AppError::ProviderUnrecorded { verdict }
                | AppError::CommentProvider { verdict, .. } => provider_code(verdict),
                AppError::RateLimited { .. } => ErrorCode::RateLimit,
                AppError::IdempotencyKeyMismatch { .. } => ErrorCode::IdempotencyKeyMismatch,
                AppError::IdempotencyInProgress { .. } => ErrorCode::IdempotencyInProgress,
                AppError::Unavailable(_) => ErrorCode::ServiceUnavailable,
                AppError::NotConfigured(_) => ErrorCode::NotConfigured,
                AppError::Internal(_) | AppError::Unrecorded { .. } => {
                    ErrorCode::InternalServerError
                }
            },
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            ApiError::RequestTimeout | ApiError::BodyTooSlow(_) => ErrorCode::RequestTimeout,
            ApiError::RateLimited(_) => ErrorCode::RateLimit,
        }
    }
}

/// Declares [`ErrorCode`] from one list, so that the list of every code (`ALL`, which
/// `docs/errors.md` is tested against) cannot miss a variant.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => $status:ident, $code:literal; )*) => {
        /// Every `error` code the API answers, with its status: the one table. An answer's
        /// code is always one of these, and `docs/errors.md` has a row for each (a test reads
        /// the page against [`ErrorCode::ALL`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The status it answers with.
            pub fn status(self) -> StatusCode {
                match self { $( ErrorCode::$variant => StatusCode::$status, )* }
            }

            /// The machine code, the body's `error`.
            pub fn code(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )* }
            }
        }
    };
}

error_codes! {
    /// A field, the path, the query or the HTTP request itself breaks a rule.
    ValidationError => BAD_REQUEST, "validation_error";
    /// Ayrshare refused the post; nothing was published.
    ProviderRejected => BAD_REQUEST, "provider_rejected";
    /// No key, another scheme, or an unknown, malformed or revoked key.
    InvalidApiKey => UNAUTHORIZED, "invalid_api_key";
    /// A webhook delivery whose signature does not check out.
    InvalidSignature => UNAUTHORIZED, "invalid_signature";
    /// No such route, workspace, record or post (or another organization's).
    NotFound => NOT_FOUND, "not_found";
    /// A known route with another method.
    MethodNotAllowed => METHOD_NOT_ALLOWED, "method_not_allowed";
    /// The last-resort bound on a request, or a body that arrived too slowly.
    RequestTimeout => REQUEST_TIMEOUT, "request_timeout";
    /// The record's state does not allow the change, or another change is in flight.
    Conflict => CONFLICT, "conflict";
    /// The first request with this `Idempotency-Key` is still being handled.
    IdempotencyInProgress => CONFLICT, "idempotency_in_progress";
    /// The body is over 1 MiB.
    PayloadTooLarge => PAYLOAD_TOO_LARGE, "payload_too_large";
    /// A body without `content-type: application/json`.
    UnsupportedMediaType => UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type";
    /// An `Idempotency-Key` reused with another body or workspace.
    IdempotencyKeyMismatch => UNPROCESSABLE_ENTITY, "idempotency_key_mismatch";
    /// Ayrshare, or the caller's key, is over its rate limit.
    RateLimit => TOO_MANY_REQUESTS, "rate_limit";
    /// The request line and headers are too large (hyper's 431, or 414 for the line alone).
    RequestHeadTooLarge => REQUEST_HEADER_FIELDS_TOO_LARGE, "request_head_too_large";
    /// Something failed on our side.
    InternalServerError => INTERNAL_SERVER_ERROR, "internal_server_error";
    /// Ayrshare refused our credentials, failed, or answered something unreadable.
    ProviderError => BAD_GATEWAY, "provider_error";
    /// Ayrshare could not be reached; nothing was sent.
    ProviderUnavailable => SERVICE_UNAVAILABLE, "provider_unavailable";
    /// This service's database cannot be reached.
    ServiceUnavailable => SERVICE_UNAVAILABLE, "service_unavailable";
    /// The feature needs a setting this deployment lacks (`SECRETS_KEY` for webhook
    /// endpoints); the detail names it.
    NotConfigured => SERVICE_UNAVAILABLE, "not_configured";
    /// Ayrshare did not answer in time; the post may have been published.
    ProviderTimeout => GATEWAY_TIMEOUT, "provider_timeout";
}

// axum's rejection texts can quote the value that failed to parse.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::field("path", quote(&rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::field("query", quote(&rejection.body_text()))
    }
}

/// The contract's error body.
pub fn error_body(
    status: StatusCode,
    code: &str,
    detail: &str,
    extra: Map<String, Value>,
) -> Response {
    (status, Json(error_json(code, detail, extra))).into_response()
}

fn error_json(code: &str, detail: &str, extra: Map<String, Value>) -> Value {
    let mut body = extra;
    body.insert("detail".into(), Value::String(detail.to_owned()));
    body.insert("error".into(), Value::String(code.to_owned()));
    Value::Object(body)
}

/// The answer to a request that hyper could not parse, so that it never reached the router:
/// the status to answer (hyper's) and the contract's JSON body. A head over the limit (hyper's
/// 431, or 414 for the request line alone) is `request_head_too_large`; anything else a 400
/// `validation_error` on `request`.
pub fn unparsed_request_answer(hyper_status: StatusCode) -> (StatusCode, Vec<u8>) {
    let body = match hyper_status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE | StatusCode::URI_TOO_LONG => error_json(
            ErrorCode::RequestHeadTooLarge.code(),
            &format!(
                "the request line and headers are larger than {} KiB",
                MAX_HEAD_BYTES / 1024
            ),
            Map::new(),
        ),
        _ => {
            let errors = ValidationErrors::one(FieldError::new(
                "request",
                "is not valid HTTP/1.1: a malformed request line or header (a control character, \
                 a folded line), a Content-Length that is not one non-negative number, or a \
                 Transfer-Encoding other than chunked",
            ));
            let mut extra = Map::new();
            extra.insert("errors".into(), json!(errors.listed()));
            error_json(ErrorCode::ValidationError.code(), &errors.detail(), extra)
        }
    };
    let status = if hyper_status.is_client_error() {
        hyper_status
    } else {
        StatusCode::BAD_REQUEST
    };
    let bytes = serde_json::to_vec(&body).expect("a JSON value serializes");
    (status, bytes)
}

/// The contract's code for a provider verdict.
fn provider_code(verdict: &Verdict) -> ErrorCode {
    match verdict {
        Verdict::Rejected { .. } => ErrorCode::ProviderRejected,
        Verdict::AlreadyReceived { .. } => ErrorCode::Conflict,
        Verdict::ProviderError { .. } => ErrorCode::ProviderError,
        Verdict::RateLimited { .. } => ErrorCode::RateLimit,
        Verdict::Unavailable { .. } => ErrorCode::ProviderUnavailable,
        Verdict::TimedOut { .. } => ErrorCode::ProviderTimeout,
        Verdict::NotFound { .. } => ErrorCode::NotFound,
        // Never an error answer. Mapped defensively rather than panicking, and to a code of
        // the table (it used to be a 200 `ok` no page listed).
        Verdict::Accepted => ErrorCode::InternalServerError,
    }
}

/// The sentence a provider verdict shows the caller.
fn provider_detail(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Rejected { detail }
        | Verdict::AlreadyReceived { detail }
        | Verdict::ProviderError { detail }
        | Verdict::Unavailable { detail }
        | Verdict::TimedOut { detail }
        | Verdict::NotFound { detail } => detail.clone(),
        Verdict::RateLimited { retry_after } => {
            format!("ayrshare is rate limiting this service; retry after {retry_after} seconds")
        }
        Verdict::Accepted => String::new(),
    }
}

fn record_fields(record: &RecordRef) -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert("tracking_id".into(), json!(record.tracking_id));
    extra.insert("tracked_status".into(), json!(record.tracked_status));
    // Where Ayrshare answered, both fields are present (null when it gave no id), so a caller
    // can tell "Ayrshare said nothing about an id" from "Ayrshare was never heard".
    if let Some(results) = &record.results {
        extra.insert("post_id".into(), json!(record.post_id));
        extra.insert("results".into(), json!(results));
    } else if let Some(post_id) = &record.post_id {
        extra.insert("post_id".into(), json!(post_id));
    }
    extra
}

fn with_header(mut response: Response, name: header::HeaderName, value: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::RateLimited(refusal) = self {
            return refusal.into_response();
        }
        let ApiError::App(error) = self else {
            return error_body(status, code, &self.to_string(), Map::new());
        };
        match error {
            AppError::Validation(errors) => {
                let mut extra = Map::new();
                extra.insert("errors".into(), json!(errors.listed()));
                // Only when the list is cut short: how many more problems were found.
                if errors.not_listed() > 0 {
                    extra.insert("errors_not_listed".into(), json!(errors.not_listed()));
                }
                error_body(status, code, &errors.detail(), extra)
            }
            AppError::InvalidApiKey(detail) => with_header(
                error_body(status, code, detail, Map::new()),
                header::WWW_AUTHENTICATE,
                "Bearer",
            ),
            AppError::Conflict { detail, record } => {
                let extra = record.as_ref().map(record_fields).unwrap_or_default();
                error_body(status, code, &detail, extra)
            }
            AppError::Provider { verdict, record } => {
                let response = error_body(
                    status,
                    code,
                    &provider_detail(&verdict),
                    record_fields(&record),
                );
                match &verdict {
                    Verdict::RateLimited { retry_after } => {
                        with_header(response, header::RETRY_AFTER, retry_after)
                    }
                    _ => response,
                }
            }
            AppError::CommentProvider { verdict, write } => {
                let mut extra = Map::new();
                extra.insert("write_id".into(), json!(write.write_id));
                extra.insert("write_status".into(), json!(write.write_status));
                extra.insert("tracking_id".into(), json!(write.tracking_id));
                extra.insert("post_id".into(), json!(write.post_id));
                if let Some(results) = &write.results {
                    extra.insert("results".into(), json!(results));
                }
                let response = error_body(status, code, &provider_detail(&verdict), extra);
                match &verdict {
                    Verdict::RateLimited { retry_after } => {
                        with_header(response, header::RETRY_AFTER, retry_after)
                    }
                    _ => response,
                }
            }
            AppError::ProviderUnrecorded { verdict } => {
                let response = error_body(status, code, &provider_detail(&verdict), Map::new());
                match &verdict {
                    Verdict::RateLimited { retry_after } => {
                        with_header(response, header::RETRY_AFTER, retry_after)
                    }
                    _ => response,
                }
            }
            AppError::RateLimited {
                detail,
                retry_after_secs,
            } => with_header(
                error_body(status, code, &detail, Map::new()),
                header::RETRY_AFTER,
                &retry_after_secs.to_string(),
            ),
            ref mismatch @ AppError::IdempotencyKeyMismatch { holder } => {
                let mut extra = Map::new();
                let (field, id) = holder.field();
                extra.insert(field.into(), json!(id));
                let detail = match holder {
                    crate::publishing::ClaimHolder::Tracking(_) => format!(
                        "{mismatch}: a retry must send the same body to the same workspace; use \
                         a new key for a new post"
                    ),
                    crate::publishing::ClaimHolder::CommentWrite(_) => format!(
                        "{mismatch}: a retry must send the same body about the same post; use a \
                         new key for a new {}",
                        holder.what()
                    ),
                };
                error_body(status, code, &detail, extra)
            }
            ref busy @ AppError::IdempotencyInProgress {
                holder,
                retry_after_secs,
                ..
            } => {
                let mut extra = Map::new();
                let (field, id) = holder.field();
                extra.insert(field.into(), json!(id));
                let detail = match retry_after_secs {
                    1 => format!("{busy}; retry in a second to get its answer"),
                    n => format!("{busy}; retry in {n} seconds to get its answer"),
                };
                with_header(
                    error_body(status, code, &detail, extra),
                    header::RETRY_AFTER,
                    &retry_after_secs.to_string(),
                )
            }
            AppError::Unavailable(source) => {
                tracing::error!(error = %source, "database unavailable");
                with_header(
                    error_body(
                        status,
                        code,
                        "the service's database cannot be reached; nothing was sent to ayrshare, \
                         retry later",
                        Map::new(),
                    ),
                    header::RETRY_AFTER,
                    "5",
                )
            }
            AppError::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                internal_error(Map::new())
            }
            // Logged where it happened, with everything needed to repair the record.
            AppError::Unrecorded { record, .. } => internal_error(record_fields(&record)),
            AppError::NotFound(detail)
            | AppError::InvalidSignature(detail)
            | AppError::NotConfigured(detail) => error_body(status, code, &detail, Map::new()),
        }
    }
}

/// A 500 that says nothing about internals.
pub fn internal_error(extra: Map<String, Value>) -> Response {
    error_body(
        ErrorCode::InternalServerError.status(),
        ErrorCode::InternalServerError.code(),
        "the server failed to handle the request; it has been logged",
        extra,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The `| status | \`code\` | when |` rows of `docs/errors.md`'s table.
    fn documented_rows(page: &str) -> BTreeSet<(u16, String)> {
        page.lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                // "", status, code, when, "" for a table row.
                let status = cells.get(1)?.parse::<u16>().ok()?;
                let code = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((status, code.to_owned()))
            })
            .collect()
    }

    #[test]
    fn every_error_code_has_its_row_in_docs_errors_md_and_no_row_names_another() {
        let page = include_str!("../../docs/errors.md");
        let documented = documented_rows(page);
        let table: BTreeSet<(u16, String)> = ErrorCode::ALL
            .iter()
            .map(|code| (code.status().as_u16(), code.code().to_owned()))
            .collect();
        let missing: Vec<_> = table.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&table).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "docs/errors.md and ErrorCode disagree: rows missing from the page {missing:?}, \
             rows on the page for no code {extra:?}"
        );
    }

    #[test]
    fn every_captured_error_on_docs_errors_md_has_a_status_and_code_of_the_table() {
        let page = include_str!("../../docs/errors.md");
        let table: BTreeSet<(u16, &str)> = ErrorCode::ALL
            .iter()
            .map(|code| (code.status().as_u16(), code.code()))
            .collect();
        let mut seen = 0;
        // Lines such as `404  {"detail":"...","error":"not_found"}`.
        for line in page.lines() {
            let Some((status, rest)) = line.split_once("  {") else {
                continue;
            };
            let Ok(status) = status.trim().parse::<u16>() else {
                continue;
            };
            // The JSON object, and whatever note follows it on the line.
            let body = format!("{{{rest}");
            let value: Value = serde_json::Deserializer::from_str(&body)
                .into_iter::<Value>()
                .next()
                .and_then(Result::ok)
                .unwrap_or_else(|| panic!("no JSON answer in docs/errors.md: {line}"));
            let code = value["error"].as_str().expect("an error code");
            assert!(
                table.contains(&(status, code)),
                "docs/errors.md shows {status} {code}, which no ErrorCode answers: {line}"
            );
            seen += 1;
        }
        assert!(seen >= 5, "the captured answers were not found ({seen})");
    }
}
