//! `ApiError`: every error the API answers, and the one place that turns it into the contract's
//! JSON body `{"detail", "error", ...}`.

use super::extract::Json;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::domain::{FieldError, PlatformResult, TrackedStatus, ValidationErrors, Verdict};
use crate::store::{StoreError, TrackingRecord};

/// Where a provider-side failure left the tracking record, so the caller can always find it.
#[derive(Clone, Debug)]
pub struct RecordRef {
    pub tracking_id: uuid::Uuid,
    pub tracked_status: TrackedStatus,
    pub post_id: Option<String>,
    /// Present when Ayrshare answered.
    pub results: Option<Vec<PlatformResult>>,
}

impl RecordRef {
    /// The reference to a record, with the results Ayrshare reported if it answered.
    pub fn new(record: &TrackingRecord, answered: bool, results: &[PlatformResult]) -> RecordRef {
        RecordRef {
            tracking_id: record.id,
            tracked_status: record.tracked_status,
            post_id: record.provider_post_id.clone(),
            results: answered.then(|| results.to_vec()),
        }
    }
}

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{}", .0.detail())]
    Validation(ValidationErrors),
    #[error("{0}")]
    InvalidApiKey(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than 1 MiB")]
    PayloadTooLarge,
    #[error("ayrshare: {verdict:?}")]
    Provider { verdict: Verdict, record: RecordRef },
    /// Something failed on our side; the source is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
    /// The tracking record could not be brought up to date after Ayrshare answered.
    #[error("the outcome could not be recorded: {cause}")]
    Unrecorded { cause: String, record: RecordRef },
}

impl ApiError {
    /// A validation error about one field.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Validation(ValidationErrors::one(FieldError::new(field, message)))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::field("path", rejection.body_text())
    }
}

/// The contract's error body.
pub fn error_body(
    status: StatusCode,
    code: &str,
    detail: &str,
    extra: Map<String, Value>,
) -> Response {
    let mut body = extra;
    body.insert("detail".into(), Value::String(detail.to_owned()));
    body.insert("error".into(), Value::String(code.to_owned()));
    (status, Json(Value::Object(body))).into_response()
}

/// The contract's status and code for a provider verdict.
fn provider_status(verdict: &Verdict) -> (StatusCode, &'static str, String) {
    match verdict {
        Verdict::Rejected { detail } => {
            (StatusCode::BAD_REQUEST, "provider_rejected", detail.clone())
        }
        Verdict::ProviderError { detail } => {
            (StatusCode::BAD_GATEWAY, "provider_error", detail.clone())
        }
        Verdict::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit",
            format!("ayrshare is rate limiting this service; retry after {retry_after} seconds"),
        ),
        Verdict::Unavailable { detail } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unavailable",
            detail.clone(),
        ),
        Verdict::TimedOut { detail } => (
            StatusCode::GATEWAY_TIMEOUT,
            "provider_timeout",
            detail.clone(),
        ),
        Verdict::NotFound { detail } => (StatusCode::NOT_FOUND, "not_found", detail.clone()),
        // Never an error; mapped defensively rather than panicking.
        Verdict::Accepted => (StatusCode::OK, "ok", String::new()),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Validation(errors) => {
                let mut extra = Map::new();
                extra.insert("errors".into(), json!(errors.listed()));
                // Only when the list is cut short: how many more problems were found.
                if errors.not_listed() > 0 {
                    extra.insert("errors_not_listed".into(), json!(errors.not_listed()));
                }
                error_body(
                    StatusCode::BAD_REQUEST,
                    "validation_error",
                    &errors.detail(),
                    extra,
                )
            }
            ApiError::InvalidApiKey(detail) => {
                let mut response = error_body(
                    StatusCode::UNAUTHORIZED,
                    "invalid_api_key",
                    detail,
                    Map::new(),
                );
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            ApiError::NotFound(detail) => {
                error_body(StatusCode::NOT_FOUND, "not_found", &detail, Map::new())
            }
            ApiError::UnsupportedMediaType(detail) => error_body(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                &detail,
                Map::new(),
            ),
            ApiError::PayloadTooLarge => error_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than 1 MiB",
                Map::new(),
            ),
            ApiError::Provider { verdict, record } => {
                let (status, code, detail) = provider_status(&verdict);
                let mut response = error_body(status, code, &detail, record_fields(&record));
                if let Verdict::RateLimited { retry_after } = &verdict {
                    if let Ok(value) = HeaderValue::from_str(retry_after) {
                        response.headers_mut().insert(header::RETRY_AFTER, value);
                    }
                }
                response
            }
            ApiError::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                internal_error(Map::new())
            }
            ApiError::Unrecorded { cause, record } => {
                tracing::error!(
                    error = %cause,
                    tracking_id = %record.tracking_id,
                    post_id = record.post_id.as_deref().unwrap_or(""),
                    "ayrshare answered but the tracking record could not be updated"
                );
                internal_error(record_fields(&record))
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
