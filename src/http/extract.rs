//! The project's own extractors: JSON bodies, paths and query strings whose rejections are
//! `ApiError`s (never axum's plain-text ones), and the bearer-key authentication.

#![allow(clippy::disallowed_types)] // The one place that may name axum's originals.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::rate_limit;
use crate::domain::{ApiKeySecret, ValidationErrors, strict_json};
use crate::publishing::AppError;
use crate::store::Caller;

/// A JSON body (or response) whose rejection is an `ApiError`.
///
/// A body is read with one meaning and a bounded cost (`domain::strict_json`): a duplicated
/// object key, too deep a nesting or too many values are a `validation_error` naming where.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json_content_type(request.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be JSON, sent with content-type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::field("body", "the request body could not be read")
                }
            })?;
        strict_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| ApiError::App(AppError::Validation(ValidationErrors::one(e))))
    }
}

/// `application/json` or `application/<anything>+json`, with any parameters: what axum's own
/// `Json` accepts.
fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application") && (subtype == "json" || subtype.ends_with("+json"))
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters whose rejection is an `ApiError`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// Query parameters whose rejection is an `ApiError`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// An optional JSON body: none at all is `None`; a body must be JSON, sent as JSON, as with
/// `Json`.
#[derive(Debug)]
pub struct OptionalJson(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for OptionalJson {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::field("body", e.body_text())
                }
            })?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        let request = Request::from_parts(parts, Body::from(bytes));
        let Json(value) = Json::<Value>::from_request(request, state).await?;
        Ok(OptionalJson(Some(value)))
    }
}

/// The caller, identified by `Authorization: Bearer mk_...`.
#[derive(Clone, Copy, Debug)]
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let mut headers = parts.headers.get_all(AUTHORIZATION).iter();
        let header = headers.next().ok_or(ApiError::App(AppError::InvalidApiKey(
            "missing Authorization header: send Authorization: Bearer mk_...",
        )))?;
        // Two keys would be two meanings: which one is the caller? Neither.
        if headers.next().is_some() {
            return Err(ApiError::App(AppError::InvalidApiKey(
                "more than one Authorization header: send exactly one",
            )));
        }
        let header = header.to_str().map_err(|_| {
            ApiError::App(AppError::InvalidApiKey(
                "the Authorization header is not readable text",
            ))
        })?;
        let (scheme, token) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::App(AppError::InvalidApiKey(
                "the Authorization scheme must be Bearer: send Authorization: Bearer mk_...",
            )));
        }
        let key = ApiKeySecret::from_presented(token.trim());
        if !key.is_well_formed() {
            return Err(ApiError::App(AppError::InvalidApiKey(
                "the API key is not valid or has been revoked",
            )));
        }
        // Cached for a few seconds: a revoked key is refused by every replica within the
        // contract's 5 seconds (publishing::LOOKUP_TTL).
        let caller = state
            .publisher
            .authenticate(&key.hash())
            .await
            .map_err(AppError::from)?
            .ok_or(ApiError::App(AppError::InvalidApiKey(
                "the API key is not valid or has been revoked",
            )))?;
        state.publisher.note_key_use(caller);
        rate_limit::admit(&state.key_rate_limit, caller.api_key_id, parts)?;
        Ok(Authenticated(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_content_types_are_recognised_as_axum_does() {
        let accepts = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            is_json_content_type(&headers)
        };
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/vnd.api+json",
        ] {
            assert!(accepts(ok), "{ok}");
        }
        for bad in ["text/plain", "application/jsonx", "json", "text/json", ""] {
            assert!(!accepts(bad), "{bad}");
        }
        assert!(!is_json_content_type(&HeaderMap::new()));
    }
}
