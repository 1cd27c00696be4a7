//! `mosaic-social webhooks listen`: a local receiver for development (like `stripe listen`).
//! It accepts a `POST` on any path, checks the Standard Webhooks signature with the endpoint's
//! secret (and the timestamp within five minutes), answers 204 when it holds and 400 when not,
//! and prints one line for each delivery: what was verified, then the body.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use crate::domain::standard_webhooks::{
    DEFAULT_TOLERANCE_SECS, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSecret, verify,
};

/// The largest body accepted (Standard Webhooks asks senders to stay far below).
const MAX_BODY: usize = 1024 * 1024;

/// Where the receiver says what it got: a line at a time.
pub type Printer = Arc<dyn Fn(String) + Send + Sync>;

#[derive(Clone)]
struct Listening {
    secret: Arc<WebhookSecret>,
    print: Printer,
}

/// The receiver's routes: every path takes a `POST`.
pub fn router(secret: WebhookSecret, print: Printer) -> Router {
    let state = Listening {
        secret: Arc::new(secret),
        print,
    };
    Router::new()
        .route("/", post(receive))
        .route("/{*path}", post(receive))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn receive(
    State(listening): State<Listening>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (id, timestamp) = (header(ID_HEADER), header(TIMESTAMP_HEADER));
    let checked = verify(
        &header(SIGNATURE_HEADER),
        std::slice::from_ref(&listening.secret),
        &id,
        &timestamp,
        &body,
        chrono::Utc::now().timestamp(),
        DEFAULT_TOLERANCE_SECS,
    );
    let shown_id = printable(&id, 80);
    match checked {
        Ok(()) => {
            let kind = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "(no type)".into());
            (listening.print)(format!(
                "verified {shown_id} {} {}",
                printable(&kind, 80),
                printable(&String::from_utf8_lossy(&body), MAX_BODY)
            ));
            (StatusCode::NO_CONTENT, "")
        }
        Err(e) => {
            (listening.print)(format!("refused {shown_id}: {e}"));
            (
                StatusCode::BAD_REQUEST,
                "the webhook signature does not verify",
            )
        }
    }
}

/// `text` on one line, without control characters (a hostile sender cannot write to the
/// terminal), at most `chars` long.
fn printable(text: &str, chars: usize) -> String {
    let text = if text.is_empty() { "-" } else { text };
    text.chars()
        .take(chars)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tower::ServiceExt;

    use super::*;
    use crate::domain::standard_webhooks::sign;

    fn printer() -> (Printer, Arc<Mutex<Vec<String>>>) {
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let kept = lines.clone();
        (Arc::new(move |line| kept.lock().unwrap().push(line)), lines)
    }

    async fn deliver(router: Router, signature: &str, timestamp: i64, body: &str) -> StatusCode {
        let request = axum::http::Request::post("/any/path")
            .header(ID_HEADER, "evt_1")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap();
        router.oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn a_signed_delivery_is_accepted_and_printed_and_a_forged_one_refused() {
        let secret = WebhookSecret::generate();
        let (print, lines) = printer();
        let now = chrono::Utc::now().timestamp();
        let body = r#"{"type":"post.posted","data":{"x":"a\nb"}}"#;
        let good = sign(&secret, "evt_1", now, body.as_bytes());
        let router = router(secret.clone(), print);
        assert_eq!(
            deliver(router.clone(), &good, now, body).await,
            StatusCode::NO_CONTENT
        );
        let forged = sign(&WebhookSecret::generate(), "evt_1", now, body.as_bytes());
        assert_eq!(
            deliver(router.clone(), &forged, now, body).await,
            StatusCode::BAD_REQUEST
        );
        let stale = sign(&secret, "evt_1", now - 600, body.as_bytes());
        assert_eq!(
            deliver(router, &stale, now - 600, body).await,
            StatusCode::BAD_REQUEST
        );
        let lines = lines.lock().unwrap().clone();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with("verified evt_1 post.posted {"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "refused evt_1: no signature matches the message");
        assert!(
            lines[2].contains("outside the accepted window"),
            "{lines:?}"
        );
        assert!(lines.iter().all(|l| !l.contains('\n')));
    }
}
