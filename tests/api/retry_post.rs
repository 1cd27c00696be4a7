//! `POST /social/post/{post_id}/retry`: a failed post is sent again through Ayrshare's
//! `PUT /post/retry` once, written on the record first, and settled later by the reconciler;
//! refused up front for any other state and for a second time; a refusal by Ayrshare changes
//! nothing; a lost answer leaves the record `pending`, never sent twice.

use std::time::Duration;

use chrono::Utc;
use mosaic_social::domain::TrackedStatus;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::reconcile::{create, create_as, failure, published};
use crate::support::{Options, TestApp, expect_error, response_json};

/// A post that failed on both of its platforms: (Ayrshare's post id, tracking id).
async fn failed_post(app: &TestApp, post_id: &str) -> Uuid {
    let id = create(
        app,
        &format!("failed {post_id}"),
        false,
        json!({"status": "error", "id": post_id,
               "errors": [failure("twitter"), failure("linkedin")], "postIds": []}),
    )
    .await;
    assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Failed);
    id
}

async fn answer_retries(app: &TestApp, template: ResponseTemplate) {
    Mock::given(method("PUT"))
        .and(path("/api/post/retry"))
        .respond_with(template)
        .mount(&app.ayrshare)
        .await;
}

fn retried() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"status": "success", "id": "R1"}))
}

async fn retry(app: &TestApp, post_id: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/social/post/{post_id}/retry")))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap()
}

/// The bodies of the `PUT /post/retry` calls Ayrshare received.
async fn retries_sent(app: &TestApp) -> Vec<Value> {
    app.ayrshare
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT" && r.url.path() == "/api/post/retry")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

backend_tests! {
    async fn a_failed_post_is_retried_once_and_settled_by_the_reconciler(app) {
        answer_retries(app, retried()).await;
        let id = failed_post(app, "R1").await;
        let response = retry(app, "R1").await;
        assert_eq!(response.status(), 202);
        let body = response_json(response).await;
        assert_eq!(body["post_id"], "R1");
        assert_eq!(body["status"], "success");
        assert_eq!(body["tracking_id"], id.to_string());
        assert_eq!(body["tracked_status"], "pending");
        assert!(body["message"].as_str().unwrap().contains("track"));
        assert_eq!(retries_sent(app).await, vec![json!({"id": "R1"})]);
        let record = app.record(id).await;
        assert_eq!(record.tracked_status, TrackedStatus::Pending);
        // The track answer says so too.
        let tracked = response_json(app.get(&format!("/social/post/track/{id}")).send().await.unwrap()).await;
        assert_eq!(tracked["tracked_status"], "pending");

        // A second retry is refused, and nothing more is sent.
        let second = expect_error(retry(app, "R1").await, 409, "conflict").await;
        assert!(second["detail"].as_str().unwrap().contains("pending"), "{second}");
        assert_eq!(retries_sent(app).await.len(), 1);

        // Ayrshare publishes it; the reconciler's next check (made due now) settles the record.
        Mock::given(method("GET")).and(path("/api/post/R1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "R1", "status": "success", "platforms": ["twitter", "linkedin"],
                "postIds": [published("twitter", "t1"), published("linkedin", "l1")]})))
            .mount(&app.ayrshare).await;
        app.set_time(id, "next_check_at", Utc::now() - chrono::Duration::seconds(1)).await;
        app.publisher.reconcile_pass().await.unwrap();
        let record = app.record(id).await;
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        assert!(record.results.iter().all(|r| r.status == "success"), "{:?}", record.results);

        // Posted now, and retried once: still refused.
        expect_error(retry(app, "R1").await, 409, "conflict").await;
        assert_eq!(retries_sent(app).await.len(), 1);
    }

    async fn a_retry_that_failed_again_is_not_retried_a_second_time(app) {
        answer_retries(app, retried()).await;
        let id = failed_post(app, "R2").await;
        assert_eq!(retry(app, "R2").await.status(), 202);
        Mock::given(method("GET")).and(path("/api/post/R2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "R2", "status": "error", "platforms": ["twitter", "linkedin"],
                "errors": [failure("twitter"), failure("linkedin")]})))
            .mount(&app.ayrshare).await;
        app.set_time(id, "next_check_at", Utc::now() - chrono::Duration::seconds(1)).await;
        app.publisher.reconcile_pass().await.unwrap();
        assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Failed);
        let body = expect_error(retry(app, "R2").await, 409, "conflict").await;
        assert!(body["detail"].as_str().unwrap().contains("retried already"), "{body}");
        assert_eq!(body["tracked_status"], "failed");
        assert_eq!(retries_sent(app).await.len(), 1);
    }

    async fn only_a_post_whose_every_platform_failed_is_retried(app) {
        answer_retries(app, retried()).await;
        let partial = create(app, "half", false, json!({"status": "error", "id": "P1",
            "postIds": [published("twitter", "t1")], "errors": [failure("linkedin")]})).await;
        assert_eq!(app.record(partial).await.tracked_status, TrackedStatus::Partial);
        let posted = create(app, "all", false, json!({"status": "success", "id": "P2",
            "postIds": [published("twitter", "t2"), published("linkedin", "l2")]})).await;
        let scheduled = create(app, "later", true, json!({"status": "scheduled", "id": "P3",
            "scheduleDate": "2031-01-01T00:00:00Z"})).await;
        for (post_id, id, status) in [("P1", partial, "partial"), ("P2", posted, "posted"),
                                      ("P3", scheduled, "scheduled")] {
            let body = expect_error(retry(app, post_id).await, 409, "conflict").await;
            assert!(body["detail"].as_str().unwrap().contains(status), "{body}");
            assert_eq!(body["tracking_id"], id.to_string());
            assert_eq!(app.record(id).await.tracked_status.as_str(), status);
        }
        assert!(retries_sent(app).await.is_empty());
    }

    async fn a_retry_ayrshare_refuses_changes_nothing_and_may_be_made_again(app) {
        let id = failed_post(app, "R3").await;
        Mock::given(method("PUT")).and(path("/api/post/retry"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "action": "post", "status": "error", "code": 169,
                "message": "Post cannot be retried now"})))
            .up_to_n_times(1)
            .mount(&app.ayrshare).await;
        let body = expect_error(retry(app, "R3").await, 409, "conflict").await;
        assert!(body["detail"].as_str().unwrap().contains("Post cannot be retried now"), "{body}");
        let record = app.record(id).await;
        assert_eq!(record.tracked_status, TrackedStatus::Failed);
        assert_eq!(record.results.len(), 2, "the failure's results stay");
        // Nothing was sent again, so the retry is not spent.
        answer_retries(app, retried()).await;
        assert_eq!(retry(app, "R3").await.status(), 202);
        assert_eq!(retries_sent(app).await.len(), 2);
        assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Pending);
    }

    async fn a_retry_whose_answer_is_lost_stays_pending_and_is_never_sent_twice(app) [Options {
        ayrshare_timeout: Duration::from_millis(500),
        ..Options::default()
    }] {
        let id = failed_post(app, "R4").await;
        answer_retries(app, retried().set_delay(Duration::from_secs(3))).await;
        let body = expect_error(retry(app, "R4").await, 504, "provider_timeout").await;
        assert_eq!(body["tracked_status"], "pending");
        assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Pending);
        expect_error(retry(app, "R4").await, 409, "conflict").await;
        assert_eq!(retries_sent(app).await.len(), 1);
    }

    async fn another_organizations_post_is_not_found_and_nothing_is_sent(app) {
        answer_retries(app, retried()).await;
        let (other_key, other_org) = app.other_organization("globex").await;
        let theirs = create_as(app, &other_key, "theirs", false, json!({"status": "error",
            "id": "G1", "errors": [failure("twitter"), failure("linkedin")]})).await;
        expect_error(retry(app, "G1").await, 404, "not_found").await;
        expect_error(retry(app, &theirs.to_string()).await, 404, "not_found").await;
        let record = app.store.find_tracking(other_org, theirs).await.unwrap().unwrap();
        assert_eq!(record.tracked_status, TrackedStatus::Failed);
        assert!(retries_sent(app).await.is_empty());
    }

    async fn a_body_is_refused_and_nothing_is_sent(app) {
        answer_retries(app, retried()).await;
        let id = failed_post(app, "R5").await;
        let response = app.client.post(app.url("/social/post/R5/retry"))
            .bearer_auth(&app.api_key).json(&json!({"platforms": ["x"]})).send().await.unwrap();
        expect_error(response, 400, "validation_error").await;
        assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Failed);
        assert!(retries_sent(app).await.is_empty());
        // An empty object is no body.
        let response = app.client.post(app.url("/social/post/R5/retry"))
            .bearer_auth(&app.api_key).json(&json!({})).send().await.unwrap();
        assert_eq!(response.status(), 202);
    }
}
