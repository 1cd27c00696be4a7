//! Cross-cutting HTTP behaviour: the request id, the request span, JSON answers for unknown
//! routes, wrong methods and panics, and a last guard that no error leaves as plain text.

use std::any::Any;
use std::time::Duration;

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{Method, Request, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Map;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::TraceLayer;
use tracing::Span;

use super::MAX_BODY_BYTES;
use super::error::{ApiError, internal_error};
use super::server::SlowBody;
use crate::domain::new_post::quote;
use crate::publishing::AppError;
use crate::telemetry::metrics;

/// The longest incoming `X-Request-Id` that is kept (a UUID is 36 characters, a W3C trace id 32).
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Removes an incoming `X-Request-Id` that is longer than `MAX_REQUEST_ID_LEN`, sent more than
/// once, or has characters outside `A-Z a-z 0-9 - _ . : + / = @`, so that the request-id layer
/// gives the request a fresh one: such a value is never echoed, logged or propagated.
pub async fn drop_unsafe_request_id(mut request: Request<Body>) -> Request<Body> {
    let headers = request.headers();
    let mut values = headers.get_all(REQUEST_ID).iter();
    let safe = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(value), None) => is_safe_request_id(value.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !safe {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

const REQUEST_ID: &str = "x-request-id";

fn is_safe_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@".contains(b))
}

/// The request span, with the method, the matched route (not the raw path, which would put ids
/// into every log key) and the request id; one line when the response leaves.
pub type Trace<B> = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    fn(&Request<Body>) -> Span,
    (),
    fn(&Response<B>, Duration, &Span),
    (),
    (),
    (),
>;

pub fn trace_layer<B>() -> Trace<B> {
    TraceLayer::new_for_http()
        .make_span_with(make_span as fn(&Request<Body>) -> Span)
        .on_request(())
        .on_response(log_response::<B> as fn(&Response<B>, Duration, &Span))
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

fn make_span(request: &Request<Body>) -> Span {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or("(no route)");
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Any token is a method: quoted, so that a log line stays short too.
    let method = quote(request.method().as_str());
    tracing::info_span!("request", method, path, request_id)
}

/// Counts the request in the metrics, by its route template (never the raw path) and the status
/// it finally left with.
pub async fn record_metrics(request: Request<Body>, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics::http_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

fn log_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_millis() as u64,
        "request finished"
    );
}

/// The fallback for unknown routes. The method and the path are the caller's: quoted, so that
/// a 60 KB path is not answered back.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::App(AppError::NotFound(format!(
        "no route for {} {}",
        quote(method.as_str()),
        quote(uri.path())
    )))
}

/// The fallback for a known route with another method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        quote(method.as_str()),
        quote(uri.path())
    ))
}

/// A panic becomes a JSON 500; the message goes to the log, not to the caller.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = %message, "handler panicked");
    internal_error(Map::new())
}

/// Answers 408 `request_timeout` for a request whose body the connection cut for arriving too
/// slowly (`HTTP_MIN_BODY_BYTES_PER_SEC`), whatever a handler made of the cut body (a
/// `validation_error`, most likely).
pub async fn answer_slow_bodies(request: Request<Body>, next: Next) -> Response {
    let slow = request.extensions().get::<SlowBody>().cloned();
    let response = next.run(request).await;
    match slow {
        Some(slow) if slow.was_cut() => ApiError::BodyTooSlow(slow.min_rate).into_response(),
        _ => response,
    }
}

/// Refuses a body over the limit before anything else is done (before authentication): at once
/// when its `Content-Length` says so, or after reading at most the limit when it is chunked.
pub async fn refuse_large_bodies(request: Request<Body>, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > MAX_BODY_BYTES as u64 => ApiError::PayloadTooLarge.into_response(),
        Some(_) => next.run(request).await,
        None => {
            let (parts, body) = request.into_parts();
            match Limited::new(body, MAX_BODY_BYTES).collect().await {
                Ok(collected) => {
                    next.run(Request::from_parts(parts, Body::from(collected.to_bytes())))
                        .await
                }
                Err(e) if e.is::<LengthLimitError>() => ApiError::PayloadTooLarge.into_response(),
                Err(_) => {
                    ApiError::field("body", "the request body could not be read").into_response()
                }
            }
        }
    }
}

/// Rewrites any error response that is not JSON (from a tower layer: 408 from the timeout, 413
/// from the body limit) into the contract's shape, keeping its status and headers.
pub async fn ensure_json_error(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => Some(ApiError::PayloadTooLarge),
        StatusCode::REQUEST_TIMEOUT => Some(ApiError::RequestTimeout),
        StatusCode::NOT_FOUND => Some(ApiError::App(AppError::NotFound("not found".into()))),
        StatusCode::METHOD_NOT_ALLOWED => {
            Some(ApiError::MethodNotAllowed("method not allowed".into()))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Some(ApiError::UnsupportedMediaType(
            "unsupported media type".into(),
        )),
        _ => None,
    };
    let json = match error {
        Some(error) => error.into_response(),
        None if status.is_server_error() => internal_error(Map::new()),
        None => ApiError::field("request", "the request could not be handled").into_response(),
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, json.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn kept(values: &[&[u8]]) -> Option<Vec<u8>> {
        let mut request = Request::new(Body::empty());
        for value in values {
            request
                .headers_mut()
                .append(REQUEST_ID, header::HeaderValue::from_bytes(value).unwrap());
        }
        let request = drop_unsafe_request_id(request).await;
        let mut kept = request.headers().get_all(REQUEST_ID).iter();
        let first = kept.next().map(|v| v.as_bytes().to_vec());
        assert!(kept.next().is_none());
        first
    }

    #[tokio::test]
    async fn safe_request_ids_are_kept_and_others_dropped() {
        for ok in [
            &b"trace-me-42"[..],
            b"0af7651916cd43dd8448eb211c80319c",
            b"a:b/c+d=e@f_g.h",
        ] {
            assert_eq!(kept(&[ok]).await.as_deref(), Some(ok));
        }
        let longest = vec![b'a'; MAX_REQUEST_ID_LEN];
        assert_eq!(kept(&[&longest]).await, Some(longest.clone()));
        let too_long = [b'a'; MAX_REQUEST_ID_LEN + 1];
        for bad in [
            &too_long[..],
            b"has space",
            b"semi;colon",
            b"quote\"",
            b"tab\there",
            b"<script>",
            b"caf\xc3\xa9",
            b"",
        ] {
            assert_eq!(kept(&[bad]).await, None, "{bad:?}");
        }
        assert_eq!(kept(&[b"one", b"two"]).await, None);
        assert_eq!(kept(&[]).await, None);
    }
}
