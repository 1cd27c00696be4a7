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
        match self {
            ApiError::App(error) => match error {
                AppError::Validation(_) => (StatusCode::BAD_REQUEST, "validation_error"),
                AppError::InvalidApiKey(_) => (StatusCode::UNAUTHORIZED, "invalid_api_key"),
                AppError::InvalidSignature(_) => (StatusCode::UNAUTHORIZED, "invalid_signature"),
                AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                AppError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
                AppError::Provider { verdict, .. } => provider_status(verdict),
                AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limit"),
                AppError::IdempotencyKeyMismatch { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_mismatch")
                }
                AppError::IdempotencyInProgress { .. } => {
                    (StatusCode::CONFLICT, "idempotency_in_progress")
                }
                AppError::Unavailable(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
                }
                AppError::Internal(_) | AppError::Unrecorded { .. } => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "internal_server_error")
                }
            },
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::RequestTimeout | ApiError::BodyTooSlow(_) => {
                (StatusCode::REQUEST_TIMEOUT, "request_timeout")
            }
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limit"),
        }
    }
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
            "request_head_too_large",
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
            error_json("validation_error", &errors.detail(), extra)
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

/// The contract's status and code for a provider verdict.
fn provider_status(verdict: &Verdict) -> (StatusCode, &'static str) {
    match verdict {
        Verdict::Rejected { .. } => (StatusCode::BAD_REQUEST, "provider_rejected"),
        Verdict::AlreadyReceived { .. } => (StatusCode::CONFLICT, "conflict"),
        Verdict::ProviderError { .. } => (StatusCode::BAD_GATEWAY, "provider_error"),
        Verdict::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limit"),
        Verdict::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable"),
        Verdict::TimedOut { .. } => (StatusCode::GATEWAY_TIMEOUT, "provider_timeout"),
        Verdict::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
        // Never an error; mapped defensively rather than panicking.
        Verdict::Accepted => (StatusCode::OK, "ok"),
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
            AppError::RateLimited {
                detail,
                retry_after_secs,
            } => with_header(
                error_body(status, code, &detail, Map::new()),
                header::RETRY_AFTER,
                &retry_after_secs.to_string(),
            ),
            ref mismatch @ AppError::IdempotencyKeyMismatch { tracking_id } => {
                let mut extra = Map::new();
                extra.insert("tracking_id".into(), json!(tracking_id));
                let detail = format!(
                    "{mismatch}: a retry must send the same body to the same workspace; use a \
                     new key for a new post"
                );
                error_body(status, code, &detail, extra)
            }
            ref busy @ AppError::IdempotencyInProgress {
                tracking_id,
                retry_after_secs,
                ..
            } => {
                let mut extra = Map::new();
                extra.insert("tracking_id".into(), json!(tracking_id));
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
            AppError::NotFound(detail) | AppError::InvalidSignature(detail) => {
                error_body(status, code, &detail, Map::new())
            }
        }
    }
}

/// A 500 that says nothing about internals.
pub fn internal_error(extra: Map<String, Value>) -> Response {
    error_body(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_server_error",
        "the server failed to handle the request; it has been logged",
        extra,
    )
}
