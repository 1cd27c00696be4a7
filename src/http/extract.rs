//! The project's own extractors: JSON bodies and paths whose rejections are `ApiError`s (never
//! axum's plain-text ones), and the bearer-key authentication.

#![allow(clippy::disallowed_types)] // The one place that may name axum's originals.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::rate_limit;
use crate::domain::ApiKeySecret;
use crate::publishing::AppError;
use crate::store::Caller;

/// A JSON body (or response) whose rejection is an `ApiError`.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters whose rejection is an `ApiError`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// The caller, identified by `Authorization: Bearer mk_...`.
#[derive(Clone, Copy, Debug)]
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::App(AppError::InvalidApiKey(
                "missing Authorization header: send Authorization: Bearer mk_...",
            )))?
            .to_str()
            .map_err(|_| {
                AppError::InvalidApiKey("the Authorization header is not readable text")
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
        rate_limit::admit(&state.key_rate_limit, caller.api_key_id, parts)?;
        Ok(Authenticated(caller))
    }
}
