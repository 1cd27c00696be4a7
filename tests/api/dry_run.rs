//! `POST /social/post/validate`: our checks first, then Ayrshare's `POST /validate/post`;
//! nothing written, nothing published, no idempotency key consumed; Ayrshare's refusals and
//! warnings in the verdict, Ayrshare's failures as the create's errors.

use std::time::Duration;

use mosaic_social::mock_ayrshare::{self, MockConfig};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::fixtures::{answer_creates, received};
use crate::support::{AYRSHARE_KEY, Options, TestApp, expect_error, response_json};

fn validate(app: &TestApp, body: &Value) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/social/post/validate"))
        .bearer_auth(&app.api_key)
        .json(body)
}

/// Makes the wiremock Ayrshare answer `POST /validate/post` with `template`.
async fn ayrshare_validates(app: &TestApp, template: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/api/validate/post"))
        .respond_with(template)
        .mount(&app.ayrshare)
        .await;
}

fn success() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"status": "success",
        "message": "Post validated: it passes the checks of POST /post. Nothing was posted."}))
}

/// The verdict of a dry run that must answer 200.
async fn verdict(app: &TestApp, body: &Value) -> Value {
    let response = validate(app, body).send().await.unwrap();
    assert_eq!(response.status(), 200, "{body}");
    response_json(response).await
}

/// The shipped simulator, accepting only the app's key: (its options, its address).
fn shipped_mock() -> (Options, std::net::SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let config = MockConfig {
            api_key: Some(AYRSHARE_KEY.to_owned()),
            ..MockConfig::default()
        };
        mock_ayrshare::serve(listener, config, std::future::pending())
            .await
            .unwrap();
    });
    let options = Options {
        ayrshare_base_url: Some(format!("http://{addr}/api")),
        ..Options::default()
    };
    (options, addr)
}

fn closed_port() -> std::net::SocketAddr {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    Box::leak(Box::new(socket));
    addr
}

backend_tests! {
    async fn a_dry_run_writes_nothing_publishes_nothing_and_leaves_the_idempotency_key_free(app) {
        answer_creates(app).await;
        ayrshare_validates(app, success()).await;
        let body = json!({"post": "launch", "platforms": ["x", "linkedin"],
            "schedule_date": "2031-03-10T16:00:00", "timezone": "Europe/Berlin",
            "idempotencyKey": "caller-1", "shortenLinks": false});
        let response = validate(app, &body).header("Idempotency-Key", "dry-1").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("idempotent-replayed").is_none());
        assert_eq!(response_json(response).await, json!({"valid": true, "errors": [], "warnings": []}));

        assert!(app.records().await.is_empty());
        assert!(received(app, "POST", "/api/post").await.is_empty());
        let asked = received(app, "POST", "/api/validate/post").await;
        assert_eq!(asked.len(), 1);
        // What the create would send, without any idempotency key and without the zone.
        assert_eq!(asked[0].0, json!({"post": "launch", "platforms": ["twitter", "linkedin"],
            "scheduleDate": "2031-03-10T15:00:00Z", "shortenLinks": false}));

        // The key is still free: the create with it is a first request, not a replay.
        let created = app.post(&body).header("Idempotency-Key", "dry-1").send().await.unwrap();
        assert_eq!(created.status(), 200);
        assert!(created.headers().get("idempotent-replayed").is_none());
        assert_eq!(app.records().await.len(), 1);
        assert_eq!(received(app, "POST", "/api/post").await.len(), 1);
    }

    async fn a_dry_run_reports_our_own_errors_without_asking_ayrshare(app) {
        ayrshare_validates(app, success()).await;
        let judged = verdict(app, &json!({"platforms": ["x", "myspace"], "media_urls": ["ftp://a/b"],
            "schedule_date": "2027-03-14T02:30:00", "timezone": "America/New_York"})).await;
        assert_eq!(judged["valid"], false);
        let fields: Vec<&str> = judged["errors"].as_array().unwrap().iter()
            .map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["platforms[1]", "media_urls[0]", "schedule_date"]);
        assert!(judged["errors"].as_array().unwrap().iter().all(|e| e["source"] == "mosaic"));
        assert_eq!(judged["warnings"], json!([]));
        // An unknown workspace is one of them.
        let judged = verdict(app, &json!({"post": "p", "platforms": ["x"],
            "workspace_id": "00000000-0000-4000-8000-000000000000"})).await;
        assert_eq!(judged["errors"][0]["field"], "workspace_id");
        // Not a JSON object at all: still a verdict.
        let judged = verdict(app, &json!(["x"])).await;
        assert_eq!(judged["errors"][0]["field"], "body");
        assert!(received(app, "POST", "/api/validate/post").await.is_empty());
        assert!(app.records().await.is_empty());
    }

    async fn a_dry_run_reports_ayrshares_refusal_and_warnings(app) {
        let brand = app.store.create_workspace(app.organization_id, "brand", Some("PK-BRAND")).await.unwrap();
        Mock::given(method("POST")).and(path("/api/validate/post"))
            .and(wiremock::matchers::header("profile-key", "PK-BRAND"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success",
                "message": "ok", "warnings": [{"code": 272, "platform": "twitter",
                "message": "X/Twitter authorization error: the token expired or was revoked."}]})))
            .mount(&app.ayrshare).await;
        ayrshare_validates(app, ResponseTemplate::new(400).set_body_json(json!({"action": "post",
            "status": "error", "code": 136, "message": "Media URLs invalid: https://cdn.example.com/gone.png"}))).await;

        let refused = verdict(app, &json!({"post": "p", "platforms": ["instagram"],
            "media_urls": ["https://cdn.example.com/gone.png"]})).await;
        assert_eq!(refused, json!({"valid": false, "warnings": [], "errors": [{"field": "ayrshare",
            "source": "ayrshare", "code": "136",
            "message": "Media URLs invalid: https://cdn.example.com/gone.png"}]}));

        let warned = verdict(app, &json!({"post": "p", "platforms": ["x"], "workspace_id": brand.id})).await;
        assert_eq!(warned, json!({"valid": true, "errors": [], "warnings": [{"field": "ayrshare",
            "source": "ayrshare", "code": "272", "platform": "x",
            "message": "X/Twitter authorization error: the token expired or was revoked."}]}));
        assert!(app.records().await.is_empty());
        assert!(received(app, "POST", "/api/post").await.is_empty());
    }

    async fn a_dry_run_that_cannot_ask_ayrshare_answers_the_creates_error_without_a_record(app) {
        ayrshare_validates(app, ResponseTemplate::new(500).set_body_string("boom")).await;
        let response = validate(app, &json!({"post": "p", "platforms": ["x"]})).send().await.unwrap();
        let error = expect_error(response, 502, "provider_error").await;
        assert!(error.get("tracking_id").is_none(), "{error}");
        assert!(app.records().await.is_empty());
    }

    async fn a_dry_run_needs_a_key(app) {
        let response = app.client.post(app.url("/social/post/validate"))
            .json(&json!({"post": "p", "platforms": ["x"]})).send().await.unwrap();
        expect_error(response, 401, "invalid_api_key").await;
        // The path is the dry run's, not a post id: other methods are a JSON 405.
        let read = app.get("/social/post/validate").send().await.unwrap();
        assert_eq!(read.headers()["allow"], "POST");
        expect_error(read, 405, "method_not_allowed").await;
    }

    async fn a_dry_run_whose_ayrshare_is_slow_is_provider_timeout(app) [Options {
        ayrshare_timeout: Duration::from_millis(500),
        ..Options::default()
    }] {
        ayrshare_validates(app, success().set_delay(Duration::from_secs(3))).await;
        let response = validate(app, &json!({"post": "p", "platforms": ["x"]})).send().await.unwrap();
        expect_error(response, 504, "provider_timeout").await;
        assert!(app.records().await.is_empty());
    }

    async fn a_dry_run_whose_ayrshare_is_unreachable_is_provider_unavailable(app) [Options {
        ayrshare_base_url: Some(format!("http://{}/api", closed_port())),
        ..Options::default()
    }] {
        let response = validate(app, &json!({"post": "p", "platforms": ["x"]})).send().await.unwrap();
        let error = expect_error(response, 503, "provider_unavailable").await;
        assert!(error.get("tracking_id").is_none(), "{error}");
        assert!(app.records().await.is_empty());
    }

    async fn a_dry_run_for_a_profile_ayrshare_is_rate_limiting_is_held_off_unsent(app) {
        Mock::given(method("POST")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120")
                .set_body_json(json!({"status": "error", "message": "Too many requests"})))
            .mount(&app.ayrshare).await;
        ayrshare_validates(app, success()).await;
        let first = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        expect_error(first, 429, "rate_limit").await;
        let held = validate(app, &json!({"post": "b", "platforms": ["x"]})).send().await.unwrap();
        assert!(held.headers().contains_key("retry-after"));
        expect_error(held, 429, "rate_limit").await;
        assert!(received(app, "POST", "/api/validate/post").await.is_empty());
        // Our own errors are still told: they need no call.
        let judged = verdict(app, &json!({"platforms": []})).await;
        assert_eq!(judged["errors"][0]["field"], "platforms");
    }

    async fn a_dry_run_counts_against_the_keys_rate_limit(app) [Options {
        rate_limit: (1, 2),
        ..Options::default()
    }] {
        ayrshare_validates(app, success()).await;
        for _ in 0..2 {
            let response = validate(app, &json!({"post": "p", "platforms": ["x"]})).send().await.unwrap();
            assert_eq!(response.status(), 200);
        }
        let over = validate(app, &json!({"post": "p", "platforms": ["x"]})).send().await.unwrap();
        expect_error(over, 429, "rate_limit").await;
        assert_eq!(received(app, "POST", "/api/validate/post").await.len(), 2);
    }

    async fn a_dry_run_refuses_hostile_bodies_as_the_create_does(app) {
        ayrshare_validates(app, success()).await;
        let large = app.client.post(app.url("/social/post/validate")).bearer_auth(&app.api_key)
            .header("content-type", "application/json")
            .body(format!("{{\"post\": \"{}\", \"platforms\": [\"x\"]}}", "a".repeat(1_100_000)))
            .send().await.unwrap();
        expect_error(large, 413, "payload_too_large").await;
        let text = app.client.post(app.url("/social/post/validate")).bearer_auth(&app.api_key)
            .body("{}").send().await.unwrap();
        expect_error(text, 415, "unsupported_media_type").await;
        let broken = app.client.post(app.url("/social/post/validate")).bearer_auth(&app.api_key)
            .header("content-type", "application/json").body("{\"platforms\": [").send().await.unwrap();
        expect_error(broken, 400, "validation_error").await;
        assert!(received(app, "POST", "/api/validate/post").await.is_empty());
    }
}

mod shipped {
    use super::*;

    /// Against the simulator we ship: an empty text is Ayrshare's refusal, an account whose token
    /// expired is Ayrshare's warning, and the mock saw no post.
    async fn run(app: &TestApp, mock: std::net::SocketAddr) {
        let team = app
            .store
            .create_workspace(app.organization_id, "team", Some("team"))
            .await
            .unwrap();
        let fault = app
            .client
            .put(format!("http://{mock}/mock/profiles/team/faults/twitter"))
            .bearer_auth(AYRSHARE_KEY)
            .json(&json!({"fault": "expired_token"}))
            .send()
            .await
            .unwrap();
        assert!(
            fault.status().is_success(),
            "{}",
            fault.text().await.unwrap()
        );

        let refused = verdict(app, &json!({"platforms": ["linkedin"]})).await;
        assert_eq!(refused["valid"], false, "{refused}");
        assert_eq!(refused["errors"][0]["source"], "ayrshare");
        assert_eq!(refused["errors"][0]["code"], "136");

        let warned = verdict(
            app,
            &json!({"post": "p", "platforms": ["x", "linkedin"],
            "workspace_id": team.id}),
        )
        .await;
        assert_eq!(warned["valid"], true, "{warned}");
        assert_eq!(warned["warnings"].as_array().unwrap().len(), 1, "{warned}");
        assert_eq!(warned["warnings"][0]["platform"], "x");
        assert_eq!(warned["warnings"][0]["code"], "272");

        let stats: Value = app
            .client
            .get(format!("http://{mock}/mock/stats"))
            .bearer_auth(AYRSHARE_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(stats, json!({"posts_received": 0}));
        assert!(app.records().await.is_empty());
    }

    #[tokio::test]
    async fn sqlite() {
        let (options, mock) = shipped_mock();
        let app = TestApp::spawn_with(crate::support::Backend::Sqlite, options)
            .await
            .unwrap();
        run(&app, mock).await;
        app.finish().await;
    }

    #[tokio::test]
    async fn postgres() {
        let (options, mock) = shipped_mock();
        let Some(app) = TestApp::spawn_with(crate::support::Backend::Postgres, options).await
        else {
            return;
        };
        run(&app, mock).await;
        app.finish().await;
    }
}
