//! The two reads: `GET /social/post/{post_id}` (asks Ayrshare, updates the record) and
//! `GET /social/post/track/{tracking_id}` (the database only).

use mosaic_social::domain::TrackedStatus;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::create_post::{answer_post, success_body};
use crate::support::{TestApp, expect_error, response_json};

/// Creates a scheduled post through the API and returns (post id, tracking id).
async fn scheduled_post(app: &TestApp) -> (String, String) {
    answer_post(
        app,
        ResponseTemplate::new(200).set_body_json(json!({
            "status": "scheduled", "id": "SCHED42", "scheduleDate": "2031-01-01T00:00:00Z"
        })),
    )
    .await;
    let response = app
        .post(&json!({"post": "soon", "platforms": ["x", "linkedin"],
        "schedule_date": "2031-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let body = response_json(response).await;
    assert_eq!(body["tracked_status"], "scheduled");
    (
        body["post_id"].as_str().unwrap().to_owned(),
        body["tracking_id"].as_str().unwrap().to_owned(),
    )
}

async fn ayrshare_get_answers(app: &TestApp, template: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/api/post/SCHED42"))
        .respond_with(template)
        .mount(&app.ayrshare)
        .await;
}

fn published_body() -> Value {
    let mut body = success_body();
    body["id"] = json!("SCHED42");
    body
}

backend_tests! {
    async fn reading_a_published_post_moves_the_record_to_posted(app) {
        let (post_id, tracking_id) = scheduled_post(app).await;
        ayrshare_get_answers(app, ResponseTemplate::new(200).set_body_json(published_body())).await;
        let response = app.get(&format!("/social/post/{post_id}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["post_id"], "SCHED42");
        assert_eq!(body["status"], "success");
        assert_eq!(body["tracked_status"], "posted");
        assert_eq!(body["tracking_id"], tracking_id.as_str());
        assert_eq!(body["results"][0]["platform"], "x");
        assert_eq!(body["links"].as_array().unwrap().len(), 2);
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        assert_eq!(record.results.len(), 2);
        // The record keeps the raw answer to the create call.
        assert_eq!(app.raw_answer(record.id).await.unwrap()["status"], "scheduled");
    }

    async fn reading_a_post_still_pending_answers_200_and_keeps_the_record(app) {
        let (post_id, _) = scheduled_post(app).await;
        ayrshare_get_answers(app, ResponseTemplate::new(200).set_body_json(json!({
            "id": "SCHED42", "status": "pending", "postIds": [], "errors": [], "type": "scheduled"
        }))).await;
        let response = app.get(&format!("/social/post/{post_id}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["status"], "pending");
        assert_eq!(body["tracked_status"], "scheduled");
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Scheduled);
    }

    async fn reading_a_post_that_failed_downstream_records_failed(app) {
        let (post_id, _) = scheduled_post(app).await;
        ayrshare_get_answers(app, ResponseTemplate::new(200).set_body_json(json!({
            "id": "SCHED42", "status": "error", "postIds": [],
            "errors": [{"action": "post", "status": "error", "code": 272,
                        "message": "Twitter authorization issue.", "platform": "twitter"}]
        }))).await;
        let body = response_json(app.get(&format!("/social/post/{post_id}")).send().await.unwrap()).await;
        assert_eq!(body["status"], "error");
        assert_eq!(body["tracked_status"], "failed");
        assert_eq!(body["results"][0]["message"], "Twitter authorization issue. (code 272)");
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Failed);
    }

    async fn reading_sends_the_workspaces_profile_key(app) {
        let workspace = app.store.create_workspace(app.organization_id, "b", Some("PK-READ")).await.unwrap();
        answer_post(app, ResponseTemplate::new(200).set_body_json(json!({"status": "scheduled", "id": "SCHED42"}))).await;
        app.post(&json!({"platforms": ["linkedin"], "post": "x", "schedule_date": "2031-01-01T00:00:00Z",
            "workspace_id": workspace.id})).send().await.unwrap();
        ayrshare_get_answers(app, ResponseTemplate::new(200).set_body_json(published_body())).await;
        let response = app.get("/social/post/SCHED42").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let requests = app.ayrshare.received_requests().await.unwrap();
        let get = requests.iter().find(|r| r.method.as_str() == "GET").unwrap();
        assert_eq!(get.headers.get("profile-key").unwrap(), "PK-READ");
    }

    async fn a_post_ayrshare_no_longer_knows_is_404_and_the_record_is_unchanged(app) {
        let (post_id, tracking_id) = scheduled_post(app).await;
        ayrshare_get_answers(app, ResponseTemplate::new(404).set_body_json(json!({
            "status": "error", "code": 404, "message": "Post not found"
        }))).await;
        let response = app.get(&format!("/social/post/{post_id}")).send().await.unwrap();
        let body = expect_error(response, 404, "not_found").await;
        assert_eq!(body["tracking_id"], tracking_id.as_str());
        assert_eq!(body["tracked_status"], "scheduled");
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Scheduled);
    }

    async fn an_ayrshare_failure_while_reading_maps_like_a_create_and_changes_nothing(app) {
        let (post_id, _) = scheduled_post(app).await;
        ayrshare_get_answers(app, ResponseTemplate::new(503).set_body_string("down")).await;
        let response = app.get(&format!("/social/post/{post_id}")).send().await.unwrap();
        let body = expect_error(response, 502, "provider_error").await;
        assert_eq!(body["tracked_status"], "scheduled");
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Scheduled);
    }

    async fn another_organizations_post_is_not_found_and_ayrshare_is_not_asked(app) {
        let (post_id, tracking_id) = scheduled_post(app).await;
        let (their_key, _) = app.other_organization("globex").await;
        let response = app.client.get(app.url(&format!("/social/post/{post_id}")))
            .bearer_auth(&their_key).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        let response = app.client.get(app.url(&format!("/social/post/track/{tracking_id}")))
            .bearer_auth(&their_key).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        let gets = app.ayrshare.received_requests().await.unwrap()
            .into_iter().filter(|r| r.method.as_str() == "GET").count();
        assert_eq!(gets, 0);
    }

    async fn a_post_id_never_created_here_is_not_found(app) {
        let response = app.get("/social/post/NEVER-SEEN").send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        assert!(app.ayrshare.received_requests().await.unwrap().is_empty());
    }

    async fn the_tracking_record_reads_back_from_the_database(app) {
        let (post_id, tracking_id) = scheduled_post(app).await;
        let response = app.get(&format!("/social/post/track/{tracking_id}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["tracking_id"], tracking_id.as_str());
        assert_eq!(body["workspace_id"], app.primary_workspace_id.to_string());
        assert_eq!(body["post_id"], post_id.as_str());
        assert_eq!(body["tracked_status"], "scheduled");
        assert_eq!(body["post"], "soon");
        assert_eq!(body["platforms"], json!(["x", "linkedin"]));
        assert_eq!(body["media_urls"], json!([]));
        assert_eq!(body["schedule_date"], "2031-01-01T00:00:00Z");
        assert_eq!(body["links"], json!([]));
        assert_eq!(body["results"], json!([]));
        assert_eq!(body["error"], Value::Null);
        assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(body["updated_at"].is_string());
    }

    async fn a_tracking_id_that_is_not_a_uuid_is_a_validation_error(app) {
        let response = app.get("/social/post/track/12345").send().await.unwrap();
        let body = expect_error(response, 400, "validation_error").await;
        assert_eq!(body["errors"][0]["field"], "tracking_id");
    }

    async fn an_unknown_tracking_id_is_not_found(app) {
        let response = app.get("/social/post/track/6f1c1f2e-8d7b-4a55-9d7e-2b1f0c3d4e5f").send().await.unwrap();
        expect_error(response, 404, "not_found").await;
    }
}
