//! `POST /webhooks/ayrshare`: Ayrshare's signed `scheduled` action settles the record with that
//! post id, and nothing else; every refusal is a JSON 401.

use chrono::Utc;
use mosaic_social::domain::TrackedStatus;
use mosaic_social::domain::webhook::signature;
use reqwest::Response;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::backend_tests;
use crate::reconcile::{create, create_as, failure, published};
use crate::support::{Options, TestApp, expect_error, response_json};

const SECRET: &str = "whsec-current-7c1e";
const PREVIOUS: &str = "whsec-previous-19ab";

fn with_secrets() -> Options {
    Options {
        env: vec![
            ("AYRSHARE_WEBHOOK_SECRET", SECRET.into()),
            ("AYRSHARE_WEBHOOK_SECRET_PREVIOUS", PREVIOUS.into()),
        ],
        ..Options::default()
    }
}

/// A scheduled post of `acme` with Ayrshare's post id `post_id`.
async fn scheduled(app: &TestApp, post_id: &str) -> Uuid {
    create(
        app,
        &format!("post {post_id}"),
        true,
        json!({"status": "scheduled", "id": post_id}),
    )
    .await
}

/// Ayrshare's `scheduled` action for a post that went out on both platforms.
fn published_payload(post_id: &str) -> Value {
    json!({
        "action": "scheduled", "created": "2031-01-01T00:00:05Z", "code": 200,
        "refId": "ref-profile-1", "status": "success", "id": post_id, "errors": [],
        "postIds": [published("twitter", "T9"), published("linkedin", "L9")],
        "url": "https://service.example/webhooks/ayrshare", "hookId": format!("hook-{post_id}")
    })
}

/// The same for a post that failed everywhere.
fn failed_payload(post_id: &str) -> Value {
    json!({
        "action": "scheduled", "code": 400, "status": "error", "id": post_id,
        "errors": [failure("twitter"), failure("linkedin")], "postIds": [],
        "hookId": format!("hook-{post_id}")
    })
}

/// Delivers `body` signed with `secret` (none: no signature header) and stamped `timestamp`
/// (none: no timestamp header), as Ayrshare does: no API key.
async fn deliver_raw(
    app: &TestApp,
    body: &[u8],
    secret: Option<&str>,
    timestamp: Option<i64>,
) -> Response {
    let mut request = app
        .client
        .post(app.url("/webhooks/ayrshare"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(secret) = secret {
        let secret = SecretString::from(secret.to_owned());
        request = request.header("X-Authorization-Content-SHA256", signature(&secret, body));
    }
    if let Some(timestamp) = timestamp {
        request = request.header("X-Authorization-Timestamp", timestamp.to_string());
    }
    request.send().await.unwrap()
}

async fn deliver(app: &TestApp, payload: &Value, secret: &str) -> Response {
    let body = serde_json::to_vec(payload).unwrap();
    deliver_raw(app, &body, Some(secret), Some(Utc::now().timestamp())).await
}

backend_tests! {
    async fn a_signed_delivery_settles_the_record_with_that_post_id(app) [with_secrets()] {
        let id = scheduled(app, "W1").await;
        let response = deliver(app, &published_payload("W1"), SECRET).await;
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body, json!({"status": "accepted", "post_id": "W1"}));
        app.background_done().await;
        let record = app.record(id).await;
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        assert_eq!(record.results.len(), 2);
        assert_eq!(record.results[0].platform, "x");
        assert_eq!(record.results[0].post_url.as_deref(), Some("https://twitter.example/T9"));
        assert_eq!(record.error, None);
        // The webhook was enough: Ayrshare was not asked.
        let gets = app.ayrshare.received_requests().await.unwrap().iter()
            .filter(|r| r.method.as_str() == "GET").count();
        assert_eq!(gets, 0);
    }

    async fn a_failure_report_settles_the_record_as_failed(app) [with_secrets()] {
        let id = scheduled(app, "W2").await;
        assert_eq!(deliver(app, &failed_payload("W2"), SECRET).await.status(), 200);
        app.background_done().await;
        let record = app.record(id).await;
        assert_eq!(record.tracked_status, TrackedStatus::Failed);
        assert!(record.error.unwrap().to_string().contains("not linked"));
    }

    async fn the_previous_secret_is_accepted_during_a_rotation(app) [with_secrets()] {
        let id = scheduled(app, "W3").await;
        assert_eq!(deliver(app, &published_payload("W3"), PREVIOUS).await.status(), 200);
        app.background_done().await;
        assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Posted);
    }

    async fn deliveries_that_do_not_check_out_are_refused_and_change_nothing(app) [with_secrets()] {
        let id = scheduled(app, "W4").await;
        let before = app.record(id).await;
        let body = serde_json::to_vec(&published_payload("W4")).unwrap();
        let now = Utc::now().timestamp();
        let cases: [(&str, Option<&str>, Option<i64>, &str); 6] = [
            ("another secret", Some("not-the-secret"), Some(now), "signature"),
            ("no signature", None, Some(now), "X-Authorization-Content-SHA256"),
            ("no timestamp", Some(SECRET), None, "X-Authorization-Timestamp"),
            ("stale", Some(SECRET), Some(now - 301), "window"),
            ("from the future", Some(SECRET), Some(now + 301), "window"),
            ("nothing", None, None, "X-Authorization-Content-SHA256"),
        ];
        for (case, secret, timestamp, says) in cases {
            let response = deliver_raw(app, &body, secret, timestamp).await;
            let error = expect_error(response, 401, "invalid_signature").await;
            assert!(error["detail"].as_str().unwrap().contains(says), "{case}: {error}");
        }
        // A body changed after signing.
        let mut tampered = body.clone();
        let signed = signature(&SecretString::from(SECRET.to_owned()), &body);
        tampered[2] = b' ';
        let response = app.client.post(app.url("/webhooks/ayrshare"))
            .header("X-Authorization-Content-SHA256", signed)
            .header("X-Authorization-Timestamp", now.to_string())
            .body(tampered).send().await.unwrap();
        expect_error(response, 401, "invalid_signature").await;
        // An API key does not replace the signature.
        let response = app.client.post(app.url("/webhooks/ayrshare"))
            .bearer_auth(&app.api_key).body(body.clone()).send().await.unwrap();
        expect_error(response, 401, "invalid_signature").await;
        app.background_done().await;
        assert_eq!(app.record(id).await, before);
    }

    async fn a_duplicate_delivery_changes_nothing_and_is_acknowledged(app) [with_secrets()] {
        let posted = scheduled(app, "W5").await;
        let failed = scheduled(app, "W6").await;
        for payload in [published_payload("W5"), failed_payload("W6")] {
            assert_eq!(deliver(app, &payload, SECRET).await.status(), 200);
        }
        app.background_done().await;
        let first = (app.record(posted).await, app.record(failed).await);
        assert_eq!(first.0.tracked_status, TrackedStatus::Posted);
        assert_eq!(first.1.tracked_status, TrackedStatus::Failed);
        for payload in [published_payload("W5"), failed_payload("W6")] {
            let response = deliver(app, &payload, SECRET).await;
            assert_eq!(response.status(), 200);
            assert_eq!(response_json(response).await["status"], "accepted");
        }
        app.background_done().await;
        // Not even `updated_at` moved.
        assert_eq!((app.record(posted).await, app.record(failed).await), first);
    }

    async fn an_unknown_post_id_is_acknowledged_and_touches_nothing(app) [with_secrets()] {
        let id = scheduled(app, "W7").await;
        let before = app.record(id).await;
        let response = deliver(app, &published_payload("NOBODY-HAS-THIS"), SECRET).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response_json(response).await["post_id"], "NOBODY-HAS-THIS");
        app.background_done().await;
        assert_eq!(app.record(id).await, before);
    }

    async fn a_payload_never_touches_another_organizations_record(app) [with_secrets()] {
        let (other_key, other_org) = app.other_organization("globex").await;
        let theirs = create_as(app, &other_key, "their post", true,
            json!({"status": "scheduled", "id": "THEIRS-1"})).await;
        let ours = scheduled(app, "OURS-1").await;
        let theirs_before = app.store.find_tracking(other_org, theirs).await.unwrap().unwrap();
        assert_eq!(theirs_before.tracked_status, TrackedStatus::Scheduled);

        assert_eq!(deliver(app, &published_payload("OURS-1"), SECRET).await.status(), 200);
        app.background_done().await;
        assert_eq!(app.record(ours).await.tracked_status, TrackedStatus::Posted);
        let theirs_after = app.store.find_tracking(other_org, theirs).await.unwrap().unwrap();
        assert_eq!(theirs_after, theirs_before);
    }

    async fn other_actions_and_payloads_without_a_post_id_are_acknowledged(app) [with_secrets()] {
        let id = scheduled(app, "W8").await;
        let before = app.record(id).await;
        let social = json!({"action": "social", "id": "W8", "status": "success", "postIds": []});
        let response = deliver(app, &social, SECRET).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response_json(response).await["status"], "ignored");
        let no_id = json!({"action": "scheduled", "status": "success"});
        let response = deliver(app, &no_id, SECRET).await;
        assert_eq!(response_json(response).await["status"], "ignored");
        // Signed, but not JSON.
        let response = deliver_raw(app, b"<html>", Some(SECRET), Some(Utc::now().timestamp())).await;
        expect_error(response, 400, "validation_error").await;
        app.background_done().await;
        assert_eq!(app.record(id).await, before);
    }

    async fn without_a_secret_the_route_does_not_exist(app) {
        let body = serde_json::to_vec(&published_payload("W9")).unwrap();
        let response = deliver_raw(app, &body, Some(SECRET), Some(Utc::now().timestamp())).await;
        let error = expect_error(response, 404, "not_found").await;
        assert!(error["detail"].as_str().unwrap().contains("AYRSHARE_WEBHOOK_SECRET"), "{error}");
    }
}
