//! `POST /social/post/validate`: our checks first, then Ayrshare's `POST /validate/post`;
//! nothing written, nothing published, no idempotency key consumed; Ayrshare's refusals and
//! warnings in the verdict, Ayrshare's failures as the create's errors.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::fixtures::{answer_creates, received};
use crate::support::{TestApp, expect_error, response_json};

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
    }
}
