//! Secrets stay secret: the raw `mk_` key is never stored, and neither it, the Ayrshare key nor
//! the webhook secrets reach the logs, even at trace level.
//!
//! A test binary of its own: it installs a global subscriber that records everything, which
//! would slow the other tests down (and a thread-local one misses events on busy test threads).

#[allow(dead_code)]
#[path = "api/support/mod.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use mosaic_social::domain::webhook::signature;
use secrecy::SecretString;
use support::{AYRSHARE_KEY, Backend, Options, TestApp};

const WEBHOOK_SECRET: &str = "whsec-never-logged-4e7a";
const PREVIOUS_WEBHOOK_SECRET: &str = "whsec-previous-never-logged-0b2c";
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

/// Collects everything logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Everything logged by this test binary, at every level.
fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(captured.clone())
            .init();
        captured
    })
}

async fn keys_are_neither_stored_nor_logged(backend: Backend) {
    let captured = captured();

    let options = Options {
        x_credentials: true,
        env: vec![
            ("AYRSHARE_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
            (
                "AYRSHARE_WEBHOOK_SECRET_PREVIOUS",
                PREVIOUS_WEBHOOK_SECRET.into(),
            ),
        ],
        ..Options::default()
    };
    let Some(app) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success", "id": "S1",
            "postIds": [{"status": "success", "id": "1", "platform": "twitter"}]
        })))
        .expect(1)
        .mount(&app.ayrshare)
        .await;
    let response = app
        .post(&json!({"post": "secret test", "platforms": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let refused = app
        .client
        .post(app.url("/social/post"))
        .header("authorization", format!("Bearer {}x", app.api_key))
        .json(&json!({"platforms": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // A signed webhook delivery and a refused one.
    let payload = serde_json::to_vec(&json!({"action": "scheduled", "id": "S1",
        "status": "success", "postIds": [{"status": "success", "id": "1", "platform": "twitter"}]}))
    .unwrap();
    for secret in [WEBHOOK_SECRET, "wrong-secret"] {
        let signature = signature(&SecretString::from(secret.to_owned()), &payload);
        app.client
            .post(app.url("/webhooks/ayrshare"))
            .header("X-Authorization-Content-SHA256", signature)
            .header(
                "X-Authorization-Timestamp",
                chrono::Utc::now().timestamp().to_string(),
            )
            .body(payload.clone())
            .send()
            .await
            .unwrap();
    }
    app.background_done().await;

    // The X credentials did travel, so their absence below means something.
    let sent = app.ayrshare.received_requests().await.unwrap();
    assert_eq!(
        sent[0].headers.get("x-twitter-oauth1-api-secret").unwrap(),
        "x-app-secret"
    );

    let stored = app.dump_database().await;
    assert!(
        stored.contains(&app.api_key[..11]),
        "the key's prefix is stored for listing"
    );
    assert!(!stored.contains(&app.api_key), "the raw API key is stored");
    assert!(!stored.contains(AYRSHARE_KEY), "the Ayrshare key is stored");
    assert!(
        !stored.contains("x-app-secret"),
        "the X app secret is stored"
    );
    for secret in [WEBHOOK_SECRET, PREVIOUS_WEBHOOK_SECRET] {
        assert!(!stored.contains(secret), "a webhook secret is stored");
    }
    assert!(
        !stored.contains(&app.api_key[11..]),
        "the secret part of the API key is stored"
    );

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    let written = logs
        .lines()
        .find(|l| l.contains("tracking record written"))
        .expect("the capture works");
    // The publishing task runs in the request's span: its lines carry the request id.
    assert!(written.contains("request_id="), "{written}");
    assert!(
        logs.contains("ayrshare answered"),
        "the capture sees the client"
    );
    assert!(!logs.contains(&app.api_key[11..]), "the API key was logged");
    assert!(!logs.contains(AYRSHARE_KEY), "the Ayrshare key was logged");
    assert!(
        !logs.contains("x-app-secret"),
        "the X app secret was logged"
    );
    assert!(
        logs.contains("ayrshare webhook accepted") && logs.contains("ayrshare webhook refused"),
        "the capture sees the webhook"
    );
    for secret in [WEBHOOK_SECRET, PREVIOUS_WEBHOOK_SECRET] {
        assert!(!logs.contains(secret), "a webhook secret was logged");
    }
    app.finish().await;
}

#[tokio::test]
async fn keys_are_neither_stored_nor_logged_on_sqlite() {
    keys_are_neither_stored_nor_logged(Backend::Sqlite).await;
}

#[tokio::test]
async fn keys_are_neither_stored_nor_logged_on_postgres() {
    keys_are_neither_stored_nor_logged(Backend::Postgres).await;
}
