//! Ayrshare's answers as they really come, through the service: wrapped answers (to calls with a
//! `Profile-Key`), a success that names no published platform, a refused `idempotencyKey`, and
//! the status words of `GET /post/{id}`; each checked in the response and in the record.

use mosaic_social::domain::TrackedStatus;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::create_post::{answer_post, ayrshare_request, success_body};
use crate::support::{TestApp, expect_error, response_json};

/// Ayrshare's answer for a User Profile: the post inside `posts`.
fn wrapped(mut post: Value) -> Value {
    post["refId"] = json!("b68bdcabb379be2cf1186c1e59544");
    post["profileTitle"] = json!("Brand B");
    json!({"status": post["status"].clone(), "posts": [post]})
}

/// Posts through a workspace with a profile key and returns the response body.
async fn post_as_profile(app: &TestApp, extra: Value) -> (u16, Value) {
    let workspace = app
        .store
        .create_workspace(app.organization_id, "brand-b", Some("PROFILE-KEY-B"))
        .await
        .unwrap();
    let mut body = json!({"post": "hello", "platforms": ["x", "linkedin"],
                          "workspace_id": workspace.id.to_string()});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let response = app.post(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response_json(response).await)
}

async fn ayrshare_get_answers(app: &TestApp, id: &str, template: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/api/post/{id}")))
        .respond_with(template)
        .expect(1)
        .mount(&app.ayrshare)
        .await;
}

/// Creates a post that Ayrshare answers with `body` and returns the response body.
async fn created(app: &TestApp, body: Value, request: Value) -> Value {
    answer_post(app, ResponseTemplate::new(200).set_body_json(body)).await;
    response_json(app.post(&request).send().await.unwrap()).await
}

fn partial_post() -> Value {
    json!({
        "status": "error", "id": "PART9",
        "errors": [{"action": "post", "status": "error", "code": 156,
                    "message": "LinkedIn is not linked.", "platform": "linkedin"}],
        "postIds": [{"status": "success", "id": "1", "platform": "twitter", "postUrl": "https://x.com/a/1"}]
    })
}

backend_tests! {
    async fn a_wrapped_success_is_recorded_with_its_post_id_results_and_links(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(wrapped(success_body()))).await;
        let (status, body) = post_as_profile(app, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["post_id"], "RhrbDtYh7hdSMc67zC8H");
        assert_eq!(body["status"], "success");
        assert_eq!(body["tracked_status"], "posted");
        assert_eq!(body["error"], Value::Null);
        assert_eq!(body["links"].as_array().unwrap().len(), 2);
        assert_eq!(body["results"][1]["post_id"], "7206185311");
        let (_, request) = ayrshare_request(app).await;
        assert_eq!(request.headers.get("profile-key").unwrap(), "PROFILE-KEY-B");

        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        assert_eq!(record.provider_post_id.as_deref(), Some("RhrbDtYh7hdSMc67zC8H"));
        assert_eq!(record.provider_status.as_deref(), Some("success"));
        assert_eq!(record.results.len(), 2);
        assert_eq!(record.results[0].platform, "x");
        // The raw answer is kept as Ayrshare sent it.
        assert_eq!(app.raw_answer(record.id).await, Some(wrapped(success_body())));
    }

    async fn a_wrapped_partial_at_http_400_is_partial(app) {
        answer_post(app, ResponseTemplate::new(400).set_body_json(wrapped(partial_post()))).await;
        let (status, body) = post_as_profile(app, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["post_id"], "PART9");
        assert_eq!(body["status"], "error");
        assert_eq!(body["tracked_status"], "partial");
        assert_eq!(body["error"]["errors"][0]["code"], 156);
        assert_eq!(body["results"][1]["message"], "LinkedIn is not linked. (code 156)");
        assert_eq!(body["links"], json!([{"platform": "x", "post_url": "https://x.com/a/1"}]));
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Partial);
        assert_eq!(record.provider_post_id.as_deref(), Some("PART9"));
        assert_eq!(record.results.len(), 2);
        assert_eq!(record.error.unwrap()["errors"][0]["code"], 156);
    }

    async fn a_wrapped_scheduled_answer_is_scheduled(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(wrapped(json!({
            "status": "scheduled", "id": "WSCHED1", "scheduleDate": "2031-03-10T16:00:00Z",
            "postIds": [], "errors": []
        })))).await;
        let (status, body) = post_as_profile(app, json!({"schedule_date": "2031-03-10T16:00:00Z"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["post_id"], "WSCHED1");
        assert_eq!(body["status"], "scheduled");
        assert_eq!(body["tracked_status"], "scheduled");
        assert_eq!(body["results"], json!([]));
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Scheduled);
        assert_eq!(record.provider_post_id.as_deref(), Some("WSCHED1"));
    }

    async fn a_success_naming_no_published_platform_answers_200_and_records_unknown(app) {
        let body = created(app, json!({"status": "success", "id": "APPROVE1", "postIds": [], "errors": []}),
            json!({"post": "needs approval", "platforms": ["tiktok"],
                   "media_urls": ["https://cdn.example.com/v.mp4"]})).await;
        assert_eq!(body["tracked_status"], "unknown", "{body}");
        assert_eq!(body["status"], "success");
        assert_eq!(body["post_id"], "APPROVE1");
        assert_eq!(body["links"], json!([]));
        assert_eq!(body["results"], json!([]));
        assert_eq!(body["error"], Value::Null);
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Unknown);
        // The reconciler asks Ayrshare about unknown records that have a post id.
        assert_eq!(record.provider_post_id.as_deref(), Some("APPROVE1"));
        assert_eq!(record.provider_status.as_deref(), Some("success"));
    }

    async fn a_success_naming_no_published_platform_stays_scheduled_with_a_schedule_date(app) {
        let body = created(app, json!({"status": "success", "id": "LATER1"}),
            json!({"post": "later", "platforms": ["linkedin"],
                   "schedule_date": "2031-03-10T16:00:00Z"})).await;
        assert_eq!(body["tracked_status"], "scheduled", "{body}");
        assert_eq!(body["post_id"], "LATER1");
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Scheduled);
        assert_eq!(record.provider_post_id.as_deref(), Some("LATER1"));
    }

    async fn a_refused_idempotency_key_is_409_conflict_and_the_record_unknown(app) {
        answer_post(app, ResponseTemplate::new(400).set_body_json(json!({
            "action": "post", "status": "error", "code": 194,
            "message": "Idempotency key already used: order-17", "idempotencyKey": "order-17"
        }))).await;
        let response = app.post(&json!({"post": "again", "platforms": ["x"], "idempotencyKey": "order-17"}))
            .send().await.unwrap();
        let body = expect_error(response, 409, "conflict").await;
        assert_eq!(
            body["detail"],
            "ayrshare has already received a post with this idempotencyKey; nothing new was published"
        );
        assert_eq!(body["tracked_status"], "unknown");
        let record = app.only_record().await;
        assert_eq!(body["tracking_id"], record.id.to_string());
        assert_eq!(body["results"], json!([]));
        assert_eq!(record.tracked_status, TrackedStatus::Unknown);
        let error = record.error.unwrap();
        assert_eq!(error["code"], 194);
        assert_eq!(error["message"], "Idempotency key already used: order-17");
        let (sent, _) = ayrshare_request(app).await;
        assert_eq!(sent["idempotencyKey"], "order-17");
    }

    async fn reading_an_unknown_post_that_went_out_settles_it_to_posted(app) {
        created(app, json!({"status": "success", "id": "APPROVE1"}),
            json!({"post": "p", "platforms": ["x", "linkedin"]})).await;
        let mut published = success_body();
        published["id"] = json!("APPROVE1");
        ayrshare_get_answers(app, "APPROVE1", ResponseTemplate::new(200).set_body_json(wrapped(published))).await;
        let body = response_json(app.get("/social/post/APPROVE1").send().await.unwrap()).await;
        assert_eq!(body["tracked_status"], "posted", "{body}");
        assert_eq!(body["links"].as_array().unwrap().len(), 2);
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        assert_eq!(record.results.len(), 2);
    }

    async fn reading_a_post_still_processing_leaves_an_unknown_record_alone(app) {
        created(app, json!({"status": "success", "id": "TT1"}),
            json!({"post": "p", "platforms": ["tiktok"], "media_urls": ["https://cdn.example.com/v.mp4"]})).await;
        ayrshare_get_answers(app, "TT1", ResponseTemplate::new(200).set_body_json(json!({
            "status": "processing", "id": "TT1", "postIds": [], "errors": []
        }))).await;
        let response = app.get("/social/post/TT1").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["status"], "processing");
        assert_eq!(body["tracked_status"], "unknown");
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Unknown);
    }

    async fn reading_deleted_cancels_a_scheduled_post(app) {
        created(app, json!({"status": "scheduled", "id": "SCHED7"}),
            json!({"post": "p", "platforms": ["x"], "schedule_date": "2031-01-01T00:00:00Z"})).await;
        ayrshare_get_answers(app, "SCHED7", ResponseTemplate::new(200).set_body_json(json!({
            "status": "deleted", "id": "SCHED7", "postIds": [], "errors": []
        }))).await;
        let body = response_json(app.get("/social/post/SCHED7").send().await.unwrap()).await;
        assert_eq!(body["status"], "deleted");
        assert_eq!(body["tracked_status"], "cancelled", "{body}");
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Cancelled);
    }

    async fn reading_deleted_marks_a_published_post_deleted_and_keeps_its_results(app) {
        created(app, success_body(), json!({"post": "p", "platforms": ["x", "linkedin"]})).await;
        ayrshare_get_answers(app, "RhrbDtYh7hdSMc67zC8H", ResponseTemplate::new(200).set_body_json(json!({
            "status": "deleted", "id": "RhrbDtYh7hdSMc67zC8H"
        }))).await;
        let body = response_json(app.get("/social/post/RhrbDtYh7hdSMc67zC8H").send().await.unwrap()).await;
        assert_eq!(body["tracked_status"], "deleted", "{body}");
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Deleted);
        assert_eq!(record.results.len(), 2);
        assert_eq!(record.results[0].post_id.as_deref(), Some("1901625213503277588"));
    }

    async fn reading_a_failed_post_that_ayrshare_published_later_corrects_it(app) {
        answer_post(app, ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "id": "RETRY1", "postIds": [],
            "errors": [{"action": "post", "status": "error", "code": 272,
                        "message": "Twitter authorization issue.", "platform": "twitter"}]
        }))).await;
        let response = app.post(&json!({"post": "p", "platforms": ["x"]})).send().await.unwrap();
        expect_error(response, 400, "provider_rejected").await;
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Failed);
        ayrshare_get_answers(app, "RETRY1", ResponseTemplate::new(200).set_body_json(json!({
            "status": "success", "id": "RETRY1", "errors": [],
            "postIds": [{"status": "success", "id": "77", "platform": "twitter", "postUrl": "https://x.com/a/77"}]
        }))).await;
        let body = response_json(app.get("/social/post/RETRY1").send().await.unwrap()).await;
        assert_eq!(body["tracked_status"], "posted", "{body}");
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        assert_eq!(record.error, None);
        assert_eq!(record.results[0].post_url.as_deref(), Some("https://x.com/a/77"));
    }
}
