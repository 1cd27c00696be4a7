//! `DELETE /social/post/{post_id}`: a scheduled post becomes `cancelled`, a published one
//! `deleted`; Ayrshare's refusal is a 409 and changes nothing; a repeated delete answers without
//! asking Ayrshare; another organization's post is not found.

use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use mosaic_social::domain::TrackedStatus;
use mosaic_social::publishing::AppError;
use mosaic_social::store::Caller;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::fixtures::{answer_creates, published, received, record, scheduled};
use crate::support::{TestApp, expect_error, response_json};

async fn answer_deletes(app: &TestApp, template: ResponseTemplate) {
    Mock::given(method("DELETE"))
        .and(path("/api/post"))
        .respond_with(template)
        .mount(&app.ayrshare)
        .await;
}

fn deleted() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"status": "success",
        "twitter": {"action": "delete", "status": "success", "id": "1288900099663775749"}}))
}

fn delete(app: &TestApp, post_id: &str) -> reqwest::RequestBuilder {
    app.client
        .delete(app.url(&format!("/social/post/{post_id}")))
        .bearer_auth(&app.api_key)
}

/// What a DELETE answered: its status, and the body's `status` or `error`.
async fn outcome(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response_json(response).await;
    let word = body["status"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or("")
        .to_owned();
    (status, word)
}

/// The test key's caller, for calling a replica's use cases directly.
async fn caller(app: &TestApp) -> Caller {
    Caller {
        organization_id: app.organization_id,
        api_key_id: app.store.list_api_keys(app.organization_id).await.unwrap()[0].id,
    }
}

backend_tests! {
    async fn a_scheduled_post_is_cancelled(app) {
        answer_creates(app).await;
        answer_deletes(app, ResponseTemplate::new(200).set_body_json(json!({"status": "success", "id": "x"}))).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x", "linkedin"])).await;
        let response = delete(app, &post_id).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body, json!({"post_id": post_id, "status": "success", "tracking_id": tracking_id,
            "tracked_status": "cancelled"}));
        let sent = received(app, "DELETE", "/api/post").await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, json!({"id": post_id}));
        let record = record(app, &tracking_id).await;
        assert_eq!(record.tracked_status, TrackedStatus::Cancelled);
        assert_eq!(record.provider_status.as_deref(), Some("deleted"));
    }

    async fn a_published_post_is_deleted_and_keeps_its_links(app) {
        answer_creates(app).await;
        answer_deletes(app, deleted()).await;
        let (post_id, tracking_id) = published(app, json!(["x"])).await;
        let before = record(app, &tracking_id).await;
        // The optional body, as documented.
        let response = delete(app, &post_id).json(&json!({"mark_manual_deleted": true})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["tracked_status"], "deleted");
        assert_eq!(body["status"], "success");
        let sent = received(app, "DELETE", "/api/post").await;
        assert_eq!(sent[0].0, json!({"id": post_id, "markManualDeleted": true}));
        let after = record(app, &tracking_id).await;
        assert_eq!(after.tracked_status, TrackedStatus::Deleted);
        assert_eq!(after.results, before.results);
        let track = response_json(app.get(&format!("/social/post/track/{tracking_id}")).send().await.unwrap()).await;
        assert_eq!(track["tracked_status"], "deleted");
        assert_eq!(track["links"].as_array().unwrap().len(), 1);
    }

    async fn ayrshares_refusal_is_a_conflict_with_its_reason_and_changes_nothing(app) {
        answer_creates(app).await;
        answer_deletes(app, ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "action": "delete", "code": 384,
            "message": "Instagram does not allow deleting a published post through its API.",
            "instagram": {"action": "delete", "status": "error", "code": 384, "id": "1787",
                          "message": "Instagram does not allow deleting a published post through its API."}
        }))).await;
        let (post_id, tracking_id) = published(app, json!(["instagram"])).await;
        let before = record(app, &tracking_id).await;
        let response = delete(app, &post_id).send().await.unwrap();
        let body = expect_error(response, 409, "conflict").await;
        assert!(body["detail"].as_str().unwrap().starts_with(
            "ayrshare refused to delete the post: Instagram does not allow deleting a published post"), "{body}");
        assert_eq!(body["tracking_id"], tracking_id.as_str());
        assert_eq!(body["tracked_status"], "posted");
        assert_eq!(record(app, &tracking_id).await, before);
    }

    async fn a_repeated_delete_answers_200_without_asking_ayrshare(app) {
        answer_creates(app).await;
        answer_deletes(app, deleted()).await;
        let (post_id, tracking_id) = published(app, json!(["x"])).await;
        assert_eq!(delete(app, &post_id).send().await.unwrap().status(), 200);
        let first = record(app, &tracking_id).await;
        for _ in 0..2 {
            let response = delete(app, &post_id).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let body = response_json(response).await;
            assert_eq!(body, json!({"post_id": post_id, "status": "deleted", "tracking_id": tracking_id,
                "tracked_status": "deleted"}));
        }
        assert_eq!(received(app, "DELETE", "/api/post").await.len(), 1);
        assert_eq!(record(app, &tracking_id).await, first);
    }

    async fn ayrshare_saying_already_deleted_settles_the_record(app) {
        answer_creates(app).await;
        answer_deletes(app, ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "code": 383, "message": "Post already deleted."}))).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let body = response_json(delete(app, &post_id).send().await.unwrap()).await;
        assert_eq!(body["tracked_status"], "cancelled");
        assert_eq!(record(app, &tracking_id).await.tracked_status, TrackedStatus::Cancelled);
    }

    async fn an_ayrshare_failure_maps_as_on_the_create_and_changes_nothing(app) {
        answer_creates(app).await;
        answer_deletes(app, ResponseTemplate::new(429).insert_header("retry-after", "42")).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let before = record(app, &tracking_id).await;
        let response = delete(app, &post_id).send().await.unwrap();
        assert_eq!(response.headers()["retry-after"], "42");
        let body = expect_error(response, 429, "rate_limit").await;
        assert_eq!(body["tracked_status"], "scheduled");
        assert_eq!(record(app, &tracking_id).await, before);
    }

    async fn a_bad_body_is_refused_before_anything_is_sent(app) {
        answer_creates(app).await;
        answer_deletes(app, deleted()).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        for body in [json!({"markManualDeleted": true}), json!({"mark_manual_deleted": "yes"}), json!([])] {
            let response = delete(app, &post_id).json(&body).send().await.unwrap();
            expect_error(response, 400, "validation_error").await;
        }
        let response = delete(app, &post_id).body("{\"mark_manual_deleted\": true}").send().await.unwrap();
        expect_error(response, 415, "unsupported_media_type").await;
        assert!(received(app, "DELETE", "/api/post").await.is_empty());
        assert_eq!(record(app, &tracking_id).await.tracked_status, TrackedStatus::Scheduled);
    }

    async fn another_organizations_post_is_not_found(app) {
        answer_creates(app).await;
        answer_deletes(app, deleted()).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let (their_key, _) = app.other_organization("globex").await;
        let response = app.client.delete(app.url(&format!("/social/post/{post_id}")))
            .bearer_auth(&their_key).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        expect_error(delete(app, "NEVER-SEEN").send().await.unwrap(), 404, "not_found").await;
        assert!(received(app, "DELETE", "/api/post").await.is_empty());
        assert_eq!(record(app, &tracking_id).await.tracked_status, TrackedStatus::Scheduled);
    }

    async fn a_client_hanging_up_does_not_stop_the_record_from_following_ayrshare(app) {
        answer_creates(app).await;
        let slow = ResponseTemplate::new(200)
            .set_body_json(json!({"status": "success", "id": "x"}))
            .set_delay(Duration::from_millis(800));
        answer_deletes(app, slow).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        // The client leaves while Ayrshare is still deleting the post.
        let gave_up = delete(app, &post_id).timeout(Duration::from_millis(200)).send().await;
        assert!(gave_up.unwrap_err().is_timeout());
        let settled = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let now = record(app, &tracking_id).await;
                if now.tracked_status != TrackedStatus::Scheduled {
                    return now;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the deletion is recorded although its client left");
        assert_eq!(settled.tracked_status, TrackedStatus::Cancelled);
        assert_eq!(received(app, "DELETE", "/api/post").await.len(), 1);
    }

    async fn ten_deletes_at_once_send_one_delete_to_ayrshare(app) {
        answer_creates(app).await;
        answer_deletes(app, ResponseTemplate::new(200).set_body_json(json!({"status": "success", "id": "x"}))
            .set_delay(Duration::from_millis(500))).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let answers = join_all((0..10).map(|_| async { outcome(delete(app, &post_id).send().await.unwrap()).await })).await;
        assert_eq!(received(app, "DELETE", "/api/post").await.len(), 1, "{answers:?}");
        // One did it; each other one was told a change is in flight (409 conflict), or, when it
        // came after, that the post is already deleted.
        let done: Vec<_> = answers.iter().filter(|a| **a == (200, "success".to_owned())).collect();
        assert_eq!(done.len(), 1, "{answers:?}");
        assert!(answers.iter().all(|a| a.0 == 200 && (a.1 == "success" || a.1 == "deleted")
            || *a == (409, "conflict".to_owned())), "{answers:?}");
        assert!(answers.contains(&(409, "conflict".to_owned())), "{answers:?}");
        assert_eq!(record(app, &tracking_id).await.tracked_status, TrackedStatus::Cancelled);
        // The claim was given back: a later delete is answered from the record.
        assert_eq!(outcome(delete(app, &post_id).send().await.unwrap()).await, (200, "deleted".to_owned()));
        assert_eq!(received(app, "DELETE", "/api/post").await.len(), 1);
    }

    async fn updates_and_deletes_at_once_on_two_replicas_send_one_change_to_ayrshare(app) {
        answer_creates(app).await;
        let slow = |body: serde_json::Value| ResponseTemplate::new(200).set_body_json(body)
            .set_delay(Duration::from_millis(500));
        answer_deletes(app, slow(json!({"status": "success", "id": "x"}))).await;
        Mock::given(method("PATCH")).and(path("/api/post"))
            .respond_with(slow(json!({"status": "success", "id": "x"}))).mount(&app.ayrshare).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let replica = app.replica().await;
        let caller = caller(app).await;
        let reschedule = json!({"schedule_date": "2032-01-01T00:00:00Z"});

        let here = (0..6).map(|i| {
            let request = if i % 2 == 0 {
                delete(app, &post_id)
            } else {
                app.client.patch(app.url(&format!("/social/post/{post_id}")))
                    .bearer_auth(&app.api_key).json(&reschedule)
            };
            async move { let response = request.send().await.unwrap(); outcome(response).await }
        });
        let there = (0..4).map(|i| {
            let (replica, post_id, reschedule) = (replica.clone(), post_id.clone(), reschedule.clone());
            async move {
                let result = if i % 2 == 0 {
                    replica.delete_post(caller, &post_id, None).await.map(|_| ())
                } else {
                    replica.update_post(caller, &post_id, reschedule).await.map(|_| ())
                };
                match result {
                    Ok(()) => (200, "success".to_owned()),
                    Err(AppError::Conflict { .. }) => (409, "conflict".to_owned()),
                    Err(other) => panic!("{other:?}"),
                }
            }
        });
        let (here, there) = futures_util::future::join(join_all(here), join_all(there)).await;
        let changes = received(app, "DELETE", "/api/post").await.len()
            + received(app, "PATCH", "/api/post").await.len();
        assert_eq!(changes, 1, "{here:?} {there:?}");
        let answers: Vec<_> = here.iter().chain(there.iter()).collect();
        assert_eq!(answers.iter().filter(|a| a.0 == 200 && a.1 == "success").count(), 1, "{answers:?}");
        // Whichever won, the record says what it did.
        let record = record(app, &tracking_id).await;
        assert!(record.tracked_status == TrackedStatus::Cancelled
            || record.schedule_date == Some("2032-01-01T00:00:00Z".parse().unwrap()), "{record:?}");
    }

    async fn a_change_claim_left_by_a_dead_process_holds_until_it_expires(app) {
        answer_creates(app).await;
        answer_deletes(app, ResponseTemplate::new(200).set_body_json(json!({"status": "success", "id": "x"}))).await;
        let (post_id, tracking_id) = scheduled(app, json!(["x"])).await;
        let id = tracking_id.parse().unwrap();
        // A replica claimed the record for a change and died before it gave the claim back.
        app.set_time(id, "change_in_flight_until", Utc::now() + chrono::Duration::minutes(1)).await;
        let response = delete(app, &post_id).send().await.unwrap();
        let body = expect_error(response, 409, "conflict").await;
        assert!(body["detail"].as_str().unwrap().contains("in flight"), "{body}");
        assert_eq!(body["tracked_status"], "scheduled");
        assert!(received(app, "DELETE", "/api/post").await.is_empty());
        // Once it has expired, the next change goes ahead.
        app.set_time(id, "change_in_flight_until", Utc::now() - chrono::Duration::seconds(1)).await;
        let response = delete(app, &post_id).send().await.unwrap();
        assert_eq!(response_json(response).await["tracked_status"], "cancelled");
        assert_eq!(received(app, "DELETE", "/api/post").await.len(), 1);
    }

    async fn a_late_release_never_frees_a_claim_taken_since(app) {
        let record = crate::fixtures::new_tracking(app, "claimed").await;
        app.store.insert_tracking(&record).await.unwrap();
        let t0 = chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
        let minute = chrono::Duration::minutes(1);
        let first = t0 + minute;
        assert!(app.store.claim_change(record.id, t0, first).await.unwrap().is_some());
        assert!(app.store.claim_change(record.id, t0, t0 + minute * 2).await.unwrap().is_none());
        // The first claim expired and another change took the record.
        let second = t0 + minute * 3;
        let claimed = app.store.claim_change(record.id, first, second).await.unwrap();
        assert_eq!(claimed.map(|r| r.id), Some(record.id));
        // The first change's late release leaves the second one's claim alone...
        app.store.release_change(record.id, first).await.unwrap();
        assert!(app.store.claim_change(record.id, first, t0 + minute * 4).await.unwrap().is_none());
        // ...and the second one's own release frees the record.
        app.store.release_change(record.id, second).await.unwrap();
        assert!(app.store.claim_change(record.id, first, t0 + minute * 4).await.unwrap().is_some());
    }
}
