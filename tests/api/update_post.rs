//! `PATCH /social/post/{post_id}`: reschedule, pause and resume, approve; what Ayrshare
//! received; a post that is no longer scheduled is a 409 with nothing sent or changed; another
//! organization's post is not found.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::fixtures::{answer_creates, create, published, received, record, scheduled};
use crate::support::{TestApp, expect_error, response_json};

/// Ayrshare answers every `PATCH /post` as its documentation shows.
async fn answer_updates(app: &TestApp, template: ResponseTemplate) {
    Mock::given(method("PATCH"))
        .and(path("/api/post"))
        .respond_with(template)
        .mount(&app.ayrshare)
        .await;
}

fn updated() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"status": "success", "id": "ignored",
        "postStatus": "pending"}))
}

fn patch(app: &TestApp, post_id: &str, body: Value) -> reqwest::RequestBuilder {
    app.client
        .patch(app.url(&format!("/social/post/{post_id}")))
        .bearer_auth(&app.api_key)
        .json(&body)
}

backend_tests! {
    async fn a_scheduled_post_is_rescheduled_and_the_record_follows(app) {
        answer_creates(app).await;
        answer_updates(app, updated()).await;
        let brand = app.store.create_workspace(app.organization_id, "brand", Some("PK-BRAND")).await.unwrap();
        let created = create(app, json!({"post": "later", "platforms": ["x"], "workspace_id": brand.id,
            "schedule_date": "2031-01-01T00:00:00Z"})).await;
        let (post_id, tracking_id) = (created["post_id"].as_str().unwrap(), created["tracking_id"].as_str().unwrap());

        let response = patch(app, post_id, json!({"schedule_date": "2032-02-02T10:00:00.9+01:00"}))
            .send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body, json!({"post_id": post_id, "status": "success", "tracking_id": tracking_id,
            "tracked_status": "scheduled", "schedule_date": "2032-02-02T09:00:00Z", "timezone": null}));

        let sent = received(app, "PATCH", "/api/post").await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, json!({"id": post_id, "scheduleDate": "2032-02-02T09:00:00Z"}));
        assert_eq!(sent[0].1.headers.get("profile-key").unwrap(), "PK-BRAND");
        let record = record(app, tracking_id).await;
        assert_eq!(record.schedule_date.unwrap().to_rfc3339(), "2032-02-02T09:00:00+00:00");
        assert!(!record.paused);
        assert_eq!(record.tracked_status.as_str(), "scheduled");
    }

    async fn a_scheduled_post_is_paused_and_resumed(app) {
        answer_creates(app).await;
        answer_updates(app, updated()).await;
        let (post_id, tracking_id) = scheduled(app, json!(["linkedin"])).await;
        let body = response_json(patch(app, &post_id, json!({"scheduled_pause": true})).send().await.unwrap()).await;
        assert_eq!(body["tracked_status"], "scheduled");
        assert_eq!(body["schedule_date"], "2031-01-01T00:00:00Z");
        assert!(record(app, &tracking_id).await.paused);
        let track = response_json(app.get(&format!("/social/post/track/{tracking_id}")).send().await.unwrap()).await;
        assert_eq!(track["paused"], true);

        let response = patch(app, &post_id, json!({"scheduled_pause": false})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(!record(app, &tracking_id).await.paused);
        let sent: Vec<Value> = received(app, "PATCH", "/api/post").await.into_iter().map(|(b, _)| b).collect();
        assert_eq!(sent, [json!({"id": post_id, "scheduledPause": true}),
                          json!({"id": post_id, "scheduledPause": false})]);
    }

    async fn approving_sends_ayrshares_fields_and_forwards_its_own(app) {
        answer_creates(app).await;
        answer_updates(app, updated()).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let before = record(app, &tracking_id).await;
        let response = patch(app, &post_id, json!({"approve": true, "notes": "ok by legal",
            "disableComments": true, "youTubeOptions": {"title": "T"}})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["tracked_status"], "scheduled");
        let sent = received(app, "PATCH", "/api/post").await;
        assert_eq!(sent[0].0, json!({"id": post_id, "approved": true, "notes": "ok by legal",
            "disableComments": true, "youTubeOptions": {"title": "T"}}));
        // Nothing the record keeps changed.
        assert_eq!(record(app, &tracking_id).await, before);
    }

    async fn a_post_no_longer_scheduled_cannot_be_rescheduled_or_paused(app) {
        answer_creates(app).await;
        answer_updates(app, updated()).await;
        let (post_id, tracking_id) = published(app, json!(["x"])).await;
        let before = record(app, &tracking_id).await;
        for change in [json!({"schedule_date": "2032-01-01T00:00:00Z"}), json!({"scheduled_pause": true}),
                       json!({"scheduled_pause": false, "notes": "n"})] {
            let response = patch(app, &post_id, change).send().await.unwrap();
            let body = expect_error(response, 409, "conflict").await;
            assert!(body["detail"].as_str().unwrap().contains("this one is posted"), "{body}");
            assert_eq!(body["tracking_id"], tracking_id.as_str());
            assert_eq!(body["tracked_status"], "posted");
        }
        assert!(received(app, "PATCH", "/api/post").await.is_empty());
        assert_eq!(record(app, &tracking_id).await, before);
    }

    async fn ayrshares_refusal_is_a_conflict_with_its_reason_and_changes_nothing(app) {
        answer_creates(app).await;
        answer_updates(app, ResponseTemplate::new(400).set_body_json(json!({"action": "update",
            "status": "error", "code": 385, "message": "Post cannot be updated: it was already sent."}))).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let before = record(app, &tracking_id).await;
        let response = patch(app, &post_id, json!({"schedule_date": "2032-01-01T00:00:00Z"})).send().await.unwrap();
        let body = expect_error(response, 409, "conflict").await;
        assert_eq!(body["detail"], "ayrshare refused to update the post: Post cannot be updated: it was already sent. (code 385)");
        assert_eq!(body["tracked_status"], "scheduled");
        assert_eq!(received(app, "PATCH", "/api/post").await.len(), 1);
        assert_eq!(record(app, &tracking_id).await, before);
    }

    async fn an_ayrshare_failure_maps_as_on_the_create_and_changes_nothing(app) {
        answer_creates(app).await;
        answer_updates(app, ResponseTemplate::new(503).set_body_string("down")).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let before = record(app, &tracking_id).await;
        let response = patch(app, &post_id, json!({"scheduled_pause": true})).send().await.unwrap();
        let body = expect_error(response, 502, "provider_error").await;
        assert_eq!(body["post_id"], post_id.as_str());
        assert_eq!(record(app, &tracking_id).await, before);
    }

    async fn a_bad_body_is_refused_before_anything_is_sent(app) {
        answer_creates(app).await;
        answer_updates(app, updated()).await;
        let (post_id, _) = scheduled(app, json!(["x"])).await;
        for (body, field) in [
            (json!({}), "body"),
            (json!({"schedule_date": "2020-01-01T00:00:00Z"}), "schedule_date"),
            (json!({"scheduled_pause": "yes"}), "scheduled_pause"),
            (json!({"scheduleDate": "2032-01-01T00:00:00Z"}), "scheduleDate"),
            (json!({"Profile-Key": "other"}), "Profile-Key"),
            (json!({"id": "OTHER"}), "id"),
        ] {
            let response = patch(app, &post_id, body.clone()).send().await.unwrap();
            let error = expect_error(response, 400, "validation_error").await;
            assert_eq!(error["errors"][0]["field"], field, "{body}");
        }
        assert!(received(app, "PATCH", "/api/post").await.is_empty());
    }

    async fn another_organizations_post_is_not_found(app) {
        answer_creates(app).await;
        answer_updates(app, updated()).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let (their_key, _) = app.other_organization("globex").await;
        let response = app.client.patch(app.url(&format!("/social/post/{post_id}")))
            .bearer_auth(&their_key).json(&json!({"scheduled_pause": true})).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        let response = patch(app, "NEVER-SEEN", json!({"notes": "n"})).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        assert!(received(app, "PATCH", "/api/post").await.is_empty());
        assert!(!record(app, &tracking_id).await.paused);
    }

    async fn five_reschedules_at_once_send_one_update_to_ayrshare(app) {
        answer_creates(app).await;
        answer_updates(app, updated().set_delay(std::time::Duration::from_millis(500))).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let dates = ["2032-01-01T00:00:00Z", "2032-01-02T00:00:00Z", "2032-01-03T00:00:00Z",
                     "2032-01-04T00:00:00Z", "2032-01-05T00:00:00Z"];
        let post_id = post_id.as_str();
        let answers = futures_util::future::join_all(dates.iter().map(|date| async move {
            let response = patch(app, post_id, json!({"schedule_date": date})).send().await.unwrap();
            (response.status().as_u16(), response_json(response).await)
        })).await;
        assert_eq!(received(app, "PATCH", "/api/post").await.len(), 1, "{answers:?}");
        let done: Vec<_> = answers.iter().filter(|(status, _)| *status == 200).collect();
        assert_eq!(done.len(), 1, "{answers:?}");
        for (status, body) in &answers {
            if *status != 200 {
                assert_eq!((*status, body["error"].as_str()), (409, Some("conflict")), "{body}");
                assert!(body["detail"].as_str().unwrap().contains("in flight"), "{body}");
            }
        }
        // The record follows the one change Ayrshare made.
        let record = record(app, &tracking_id).await;
        assert_eq!(Some(record.schedule_date.unwrap()), done[0].1["schedule_date"].as_str().map(|d| d.parse().unwrap()));
        // The claim was given back: the next change goes ahead at once.
        let next = patch(app, post_id, json!({"notes": "after"})).send().await.unwrap();
        assert_eq!(next.status(), 200);
        assert_eq!(received(app, "PATCH", "/api/post").await.len(), 2);
    }
}
