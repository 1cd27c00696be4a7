//! The mock's error answers: Ayrshare-shaped JSON errors plus the simulated transport failures.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The request budget Ayrshare reports per profile and 5-minute window (the default of
/// `--rate-limit-max`).
pub const DEFAULT_RATE_LIMIT_MAX: u64 = 300;

/// Ayrshare error code for a post id the profile does not have.
pub(super) const CODE_UNKNOWN_POST: u32 = 114;

/// Ayrshare error code for deleting a post that is already deleted.
pub(super) const CODE_ALREADY_DELETED: u32 = 383;

/// Ayrshare error code for `markManualDeleted` on a post that still exists on a network.
pub(super) const CODE_STILL_ON_NETWORK: u32 = 382;

/// Error code (the mock's choice) for deleting a published post on a network whose API cannot
/// delete it (Instagram, TikTok).
pub(super) const CODE_CANNOT_DELETE: u32 = 384;

/// Error code (the mock's choice) for updating a post that is no longer pending.
pub(super) const CODE_NOT_UPDATABLE: u32 = 385;

/// Error code (the mock's choice) for analytics of a post not published on a network.
pub(super) const CODE_NO_ANALYTICS: u32 = 386;

/// Error code (the mock's choice) for retrying a post whose status is not `error`.
pub(super) const CODE_NOT_RETRYABLE: u32 = 387;

/// Error code (the mock's choice) for retrying a post a second time.
pub(super) const CODE_ALREADY_RETRIED: u32 = 388;

/// Error code (the mock's choice) for a comment a network or the post cannot take.
pub(super) const CODE_COMMENT_REFUSED: u32 = 389;

/// Ayrshare's code for a post that does not pass `POST /api/validate/post`.
pub(super) const CODE_INVALID_POST: u32 = 136;

/// Ayrshare error code for a missing, malformed or refused API key.
pub(super) const CODE_BAD_KEY: u32 = 102;

/// Ayrshare error code for a missing or incorrect request parameter.
pub(super) const CODE_BAD_PARAMETER: u32 = 101;

/// Error code of conditions only the mock produces (bad scenario, unsimulated feature).
pub(super) const CODE_MOCK: u32 = 900;

/// A JSON answer with `status`.
// Built by hand rather than with `axum::Json`, which the crate's clippy.toml reserves for its own
// JSON-rejecting extractor.
pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Ayrshare error code for an `idempotencyKey` the profile has used before (the mock's choice:
/// Ayrshare does not document the refusal).
pub(super) const CODE_IDEMPOTENCY_KEY_USED: u32 = 194;

/// The message of that refusal. Clients recognise it by the word "idempotency".
pub(super) const IDEMPOTENCY_KEY_USED_MESSAGE: &str =
    "Idempotency key already used: a post with this idempotencyKey was already submitted";

/// An error answer: `{"status":"error","code":…,"message":…}` with an HTTP status, plus any
/// keys in `extra` (like `action` or `idempotencyKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(super) http: StatusCode,
    pub(super) code: u32,
    pub(super) message: String,
    pub(super) extra: Map<String, Value>,
}

impl ApiError {
    /// HTTP 401 for a missing, malformed or wrong API key.
    pub(super) fn unauthorized() -> ApiError {
        ApiError {
            http: StatusCode::UNAUTHORIZED,
            code: CODE_BAD_KEY,
            message: "API Key not valid. Please verify the Authorization header is \
                      \"Bearer API_KEY\" with the API Key from the Ayrshare dashboard."
                .to_owned(),
            extra: Map::new(),
        }
    }

    /// HTTP 400 for a missing or incorrect request parameter.
    pub(super) fn bad_parameter(message: impl Into<String>) -> ApiError {
        ApiError {
            http: StatusCode::BAD_REQUEST,
            code: CODE_BAD_PARAMETER,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// HTTP 400 for a request the mock itself cannot honour (unknown scenario and the like).
    pub(super) fn mock(message: impl Into<String>) -> ApiError {
        ApiError {
            http: StatusCode::BAD_REQUEST,
            code: CODE_MOCK,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// HTTP 404 for an id the caller's profile does not own.
    pub(super) fn post_not_found(id: &str) -> ApiError {
        ApiError {
            http: StatusCode::NOT_FOUND,
            code: CODE_UNKNOWN_POST,
            message: format!("Post not found: no post with id {id:?} exists for this profile."),
            extra: Map::new(),
        }
    }

    /// HTTP 400 for a refusal with an Ayrshare code, naming the `action` refused.
    pub(super) fn refused(action: &str, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            http: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
            extra: Map::new(),
        }
        .with("action", action)
    }

    /// HTTP 404 for something else the profile does not have.
    pub(super) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            http: StatusCode::NOT_FOUND,
            code: 404,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// HTTP 404 with an Ayrshare `code`.
    pub(super) fn not_found_code(code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            http: StatusCode::NOT_FOUND,
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// HTTP 404 for a route Ayrshare (or the mock) does not have.
    pub(super) fn route_not_found(method: &str, path: &str) -> ApiError {
        ApiError {
            http: StatusCode::NOT_FOUND,
            code: 404,
            message: format!("Not found: {method} {path} is not a route of the Ayrshare mock."),
            extra: Map::new(),
        }
    }

    /// HTTP 405 for a known route called with the wrong method.
    pub(super) fn method_not_allowed(method: &str, path: &str) -> ApiError {
        ApiError {
            http: StatusCode::METHOD_NOT_ALLOWED,
            code: 405,
            message: format!("Method not allowed: {method} is not accepted on {path}."),
            extra: Map::new(),
        }
    }

    /// An error for a body that could not be read (too large, broken stream).
    pub(super) fn unreadable_body(http: StatusCode, reason: &str) -> ApiError {
        ApiError {
            http,
            code: u32::from(http.as_u16()),
            message: format!("could not read the request body: {}", reason.to_lowercase()),
            extra: Map::new(),
        }
    }
}

impl ApiError {
    /// The same error with one more key in its body.
    pub(super) fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// HTTP 400 for an `idempotencyKey` the profile has sent before, whatever became of that post.
    pub(super) fn idempotency_key_used(key: &str) -> ApiError {
        ApiError {
            http: StatusCode::BAD_REQUEST,
            code: CODE_IDEMPOTENCY_KEY_USED,
            message: IDEMPOTENCY_KEY_USED_MESSAGE.to_owned(),
            extra: Map::new(),
        }
        .with("action", "post")
        .with("idempotencyKey", key)
    }

    /// The JSON body: `status`, `code`, `message` and the extra keys.
    pub(super) fn body(&self) -> Value {
        let mut body = self.extra.clone();
        body.insert("status".to_owned(), json!("error"));
        body.insert("code".to_owned(), json!(self.code));
        body.insert("message".to_owned(), json!(self.message));
        Value::Object(body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.http, &self.body())
    }
}

/// Lets handlers returning `Result<_, Response>` use `?` on checks that fail with an [`ApiError`].
impl From<ApiError> for Response {
    fn from(error: ApiError) -> Response {
        error.into_response()
    }
}

/// HTTP 429 as Ayrshare sends it when a profile is over its budget of `max` requests, with
/// `Retry-After` in seconds and the rate-limit headers showing `count`.
pub(super) fn rate_limited(retry_after: u64, max: u64, count: u64) -> Response {
    let body = json!({
        "status": "error",
        "code": 429,
        "message": format!(
            "Too many requests. The rate limit is {max} requests per 5 minutes per profile. \
             Please retry after the time in the Retry-After header."
        ),
    });
    let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    headers.insert("x-ratelimit-max", HeaderValue::from(max));
    headers.insert("x-ratelimit-count", HeaderValue::from(count));
    response
}

/// HTTP 500 with Ayrshare's terse internal-error body.
pub(super) fn server_error() -> Response {
    let body = json!({"status": "error", "message": "Internal server error"});
    json_response(StatusCode::INTERNAL_SERVER_ERROR, &body)
}

/// HTTP 502 with an HTML page: the only answer of the mock that is not JSON.
pub(super) fn bad_gateway_html() -> Response {
    const PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
                        <center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        PAGE,
    )
        .into_response()
}
