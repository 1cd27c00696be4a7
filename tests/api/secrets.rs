//! Secrets stay secret: the raw `mk_` key is never stored, and neither it nor the Ayrshare key
//! reaches the logs, even at trace level.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::create_post::{answer_post, success_body};
use crate::support::{AYRSHARE_KEY, Backend, TestApp};
use wiremock::ResponseTemplate;

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

async fn keys_are_neither_stored_nor_logged(backend: Backend) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .finish();
    // #[tokio::test] runs everything on this thread, so a thread-local subscriber sees the
    // server, the client and the store.
    let _guard = tracing::subscriber::set_default(subscriber);

    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    answer_post(
        &app,
        ResponseTemplate::new(200).set_body_json(success_body()),
    )
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

    let stored = app.dump_database().await;
    assert!(
        stored.contains(&app.api_key[..11]),
        "the key's prefix is stored for listing"
    );
    assert!(!stored.contains(&app.api_key), "the raw API key is stored");
    assert!(
        !stored.contains(&app.api_key[11..]),
        "the secret part of the API key is stored"
    );

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("tracking record written"),
        "the capture works"
    );
    assert!(
        logs.contains("ayrshare answered"),
        "the capture sees the client"
    );
    assert!(!logs.contains(&app.api_key[11..]), "the API key was logged");
    assert!(!logs.contains(AYRSHARE_KEY), "the Ayrshare key was logged");
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
