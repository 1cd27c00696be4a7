//! The database goes away and comes back: requests answer 503 `service_unavailable` quickly,
//! Ayrshare is never called without a record, `/readyz` says so, and the service recovers with
//! no restart.
//! Postgres only: a TCP proxy the test controls stands between the service and Postgres.

use std::time::Duration;

use mosaic_social::store::MOST_BACKOFF;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::create_post::success_body;
use crate::db_proxy::Proxy;
use crate::support::{Backend, Options, TestApp, expect_error, postgres_admin_url, response_json};

#[tokio::test]
async fn a_dead_database_answers_503_without_calling_ayrshare_and_recovers_by_itself() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let proxy = Proxy::start(&admin_url).await;
    let options = Options {
        database_port: Some(proxy.port),
        env: vec![("DATABASE_ACQUIRE_TIMEOUT_SECS", "1".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Postgres, options)
        .await
        .unwrap();
    Mock::given(method("POST"))
        .and(path("/api/post"))
        .respond_with(ResponseTemplate::new(200).set_body_json(success_body()))
        .mount(&app.ayrshare)
        .await;
    let body = json!({"post": "p", "platforms": ["x"]});
    assert_eq!(app.post(&body).send().await.unwrap().status(), 200);

    proxy.down();
    for _ in 0..2 {
        let response = app.post(&body).send().await.unwrap();
        assert_eq!(response.headers()["retry-after"], "5");
        let error = expect_error(response, 503, "service_unavailable").await;
        assert!(
            !error["detail"].as_str().unwrap().contains("127.0.0.1"),
            "{error}"
        );
    }
    let track = app
        .get(&format!("/social/post/track/{}", uuid::Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    expect_error(track, 503, "service_unavailable").await;
    // The process is up, whatever its database does.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Not ready: a load balancer stops sending traffic here until the database is back.
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.headers()["retry-after"], "5");
    let error = expect_error(ready, 503, "service_unavailable").await;
    assert!(
        !error["detail"].as_str().unwrap().contains("127.0.0.1"),
        "{error}"
    );
    assert_eq!(
        app.ayrshare.received_requests().await.unwrap().len(),
        1,
        "no call without a record"
    );

    proxy.up().await;
    // Noticed within the reconnect backoff's longest wait (MOST_BACKOFF).
    let back = std::time::Instant::now();
    let ready = loop {
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        if ready.status() == 200 || back.elapsed() > MOST_BACKOFF + Duration::from_secs(3) {
            break ready;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ready.status(), 200);
    assert_eq!(response_json(ready).await["status"], "ready");
    let response = app.post(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response_json(response).await["tracked_status"], "posted");
    assert_eq!(app.ayrshare.received_requests().await.unwrap().len(), 2);
    assert_eq!(app.records().await.len(), 2);
    app.finish().await;
}
