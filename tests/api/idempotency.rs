//! `Idempotency-Key`: a retry gets the first answer back, never a second publish; another
//! request under the same key is refused; a key in flight answers 409.

use std::time::Duration;

use chrono::Utc;
use futures_util::future::join;
use mosaic_social::domain::{NewPost, ProviderAnswer, TrackedStatus, idempotency};
use mosaic_social::store::{Inserted, NewTracking, StoredAnswerJson};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::create_post::success_body;
use crate::fixtures::new_tracking;
use crate::support::{TestApp, expect_error, response_json};

/// A create with an idempotency key, from a raw body (so that spacing and key order can vary).
async fn post_with_key(app: &TestApp, key: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.url("/social/post"))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn answer_post(app: &TestApp, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/api/post"))
        .respond_with(response)
        .mount(&app.ayrshare)
        .await;
}

async fn ayrshare_calls(app: &TestApp) -> usize {
    app.ayrshare.received_requests().await.unwrap().len()
}

fn replayed(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
}

/// The POST /post calls Ayrshare received.
async fn publishes(app: &TestApp) -> usize {
    crate::fixtures::received(app, "POST", "/api/post")
        .await
        .len()
}

/// Settles a record as a reading of its post would (a `GET /post/{id}`, or the reconciler's
/// find in the history): published on X as `post_id`.
async fn settle_as_posted(app: &TestApp, id: uuid::Uuid, post_id: &str) {
    let reading = json!({"id": post_id, "status": "success", "errors": [],
        "postIds": [{"status": "success", "platform": "twitter", "id": "T1",
                     "postUrl": "https://x.example/T1"}]});
    let answer = ProviderAnswer::new(200, &reading.to_string(), None);
    let (record, _) = app
        .publisher
        .apply_reading(app.record(id).await, Ok(&answer))
        .await
        .unwrap();
    assert_eq!(record.tracked_status, TrackedStatus::Posted);
}

/// A record as a create with `key` and `body` writes it before calling Ayrshare, left there as a
/// crash would leave it: `pending`, no answer recorded.
async fn crashed_create(app: &TestApp, key: &str, body: &str) -> uuid::Uuid {
    let parsed = NewPost::parse(serde_json::from_str(body).unwrap(), Utc::now()).unwrap();
    let base = crate::fixtures::new_tracking(app, &parsed.post).await;
    let record = NewTracking {
        idempotency_key: Some(key.into()),
        request_fingerprint: Some(idempotency::fingerprint(
            &parsed.ayrshare_body(),
            app.primary_workspace_id,
        )),
        ayrshare_idempotency_key: Some(format!("mosaic-{}", base.id)),
        timezone: None,
        ..base
    };
    assert!(matches!(
        app.store.insert_tracking(&record).await.unwrap(),
        Inserted::New(_)
    ));
    record.id
}

const BODY: &str =
    r#"{"post": "launch", "platforms": ["x", "linkedin"], "notes": {"a": 1, "b": 2}}"#;

backend_tests! {
    async fn a_retry_gets_the_first_answer_back_without_a_second_publish(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        let first = post_with_key(app, "order-42", BODY).await;
        assert_eq!(first.status(), 200);
        assert_eq!(replayed(&first), None);
        let first_body = response_json(first).await;

        // Other spacing, other key order, "X" for "x": the same request.
        let again = r#"{ "notes":{"b":2,"a":1},"platforms":["X","linkedin"],  "post":"launch" }"#;
        let second = post_with_key(app, "order-42", again).await;
        assert_eq!(second.status(), 200);
        assert_eq!(replayed(&second), Some("true"));
        assert_eq!(response_json(second).await, first_body);

        assert_eq!(ayrshare_calls(app).await, 1, "exactly one publish");
        let record = app.only_record().await;
        assert_eq!(record.idempotency_key.as_deref(), Some("order-42"));
        assert_eq!(first_body["tracking_id"], record.id.to_string());

        // The track answer shows the key the record was created with.
        let track = response_json(
            app.get(&format!("/social/post/track/{}", record.id)).send().await.unwrap(),
        ).await;
        assert_eq!(track["idempotency_key"], "order-42");
    }

    async fn the_same_key_with_another_request_is_refused(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        assert_eq!(post_with_key(app, "k-1", BODY).await.status(), 200);
        let other = r#"{"post": "launch!", "platforms": ["x", "linkedin"], "notes": {"a": 1, "b": 2}}"#;
        let body = expect_error(post_with_key(app, "k-1", other).await, 422, "idempotency_key_mismatch").await;
        assert_eq!(body["tracking_id"], app.only_record().await.id.to_string());
        // Another workspace is another request too.
        let workspace = app.store
            .create_workspace(app.organization_id, "second", None).await.unwrap();
        let moved = format!(
            r#"{{"post": "launch", "platforms": ["x", "linkedin"], "notes": {{"a": 1, "b": 2}}, "workspace_id": "{}"}}"#,
            workspace.id
        );
        expect_error(post_with_key(app, "k-1", &moved).await, 422, "idempotency_key_mismatch").await;
        assert_eq!(ayrshare_calls(app).await, 1);
        assert_eq!(app.records().await.len(), 1);
    }

    async fn an_error_answered_after_the_record_was_written_is_replayed(app) {
        answer_post(app, ResponseTemplate::new(400).set_body_json(json!({
            "status": "error",
            "errors": [{"action": "post", "status": "error", "code": 156,
                        "message": "Instagram is not linked", "platform": "instagram"}]
        }))).await;
        let body = r#"{"post": "p", "platforms": ["instagram"]}"#;
        let first = post_with_key(app, "err-1", body).await;
        let first_body = expect_error(first, 400, "provider_rejected").await;
        assert_eq!(first_body["tracked_status"], "failed");
        let second = post_with_key(app, "err-1", body).await;
        assert_eq!(replayed(&second), Some("true"));
        assert_eq!(expect_error(second, 400, "provider_rejected").await, first_body);
        assert_eq!(ayrshare_calls(app).await, 1);
    }

    async fn a_rate_limit_answer_is_replayed_with_its_retry_after(app) {
        answer_post(app, ResponseTemplate::new(429).insert_header("retry-after", "42")
            .set_body_json(json!({"status": "error", "message": "slow down"}))).await;
        let body = r#"{"post": "p", "platforms": ["x"]}"#;
        let first = post_with_key(app, "rl-1", body).await;
        assert_eq!(first.headers()["retry-after"], "42");
        let first_body = expect_error(first, 429, "rate_limit").await;
        let second = post_with_key(app, "rl-1", body).await;
        assert_eq!(replayed(&second), Some("true"));
        assert_eq!(second.headers()["retry-after"], "42");
        assert_eq!(expect_error(second, 429, "rate_limit").await, first_body);
        assert_eq!(ayrshare_calls(app).await, 1);
    }

    async fn a_request_refused_before_its_record_stores_nothing(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        let bad = r#"{"post": "p", "platforms": ["myspace"]}"#;
        expect_error(post_with_key(app, "fix-me", bad).await, 400, "validation_error").await;
        let unknown_workspace = format!(
            r#"{{"post": "p", "platforms": ["x"], "workspace_id": "{}"}}"#, uuid::Uuid::new_v4()
        );
        expect_error(post_with_key(app, "fix-me", &unknown_workspace).await, 404, "not_found").await;
        assert!(app.records().await.is_empty());
        // Fixed, under the same key: a fresh create.
        let fixed = post_with_key(app, "fix-me", r#"{"post": "p", "platforms": ["x"]}"#).await;
        assert_eq!(fixed.status(), 200);
        assert_eq!(replayed(&fixed), None);
        assert_eq!(ayrshare_calls(app).await, 1);
    }

    async fn a_malformed_key_is_a_validation_error_and_writes_nothing(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        let long = "k".repeat(256);
        for key in ["", " ", long.as_str(), "tab\there"] {
            let response = app.client.post(app.url("/social/post"))
                .bearer_auth(&app.api_key)
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(BODY).send().await.unwrap();
            let body = expect_error(response, 400, "validation_error").await;
            assert_eq!(body["errors"][0]["field"], "Idempotency-Key", "{key:?}: {body}");
        }
        let twice = app.client.post(app.url("/social/post"))
            .bearer_auth(&app.api_key)
            .header("content-type", "application/json")
            .header("idempotency-key", "a")
            .header("idempotency-key", "b")
            .body(BODY).send().await.unwrap();
        expect_error(twice, 400, "validation_error").await;
        assert!(app.records().await.is_empty());
        assert_eq!(ayrshare_calls(app).await, 0);
    }

    async fn keys_belong_to_one_organization(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        assert_eq!(post_with_key(app, "shared", BODY).await.status(), 200);
        let (other_key, _) = app.other_organization("globex").await;
        let response = app.client.post(app.url("/social/post"))
            .bearer_auth(&other_key)
            .header("content-type", "application/json")
            .header("idempotency-key", "shared")
            .body(BODY).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(replayed(&response), None);
        assert_eq!(ayrshare_calls(app).await, 2);
    }

    async fn a_retry_while_the_first_is_in_flight_is_409_and_publishes_once(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())
            .set_delay(Duration::from_millis(1500))).await;
        let first = post_with_key(app, "busy", BODY);
        let second = async {
            // Once the first has written its record.
            for _ in 0..100 {
                if !app.records().await.is_empty() { break; }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            post_with_key(app, "busy", BODY).await
        };
        let (first, second) = join(first, second).await;
        assert_eq!(first.status(), 200);
        assert_eq!(second.headers()["retry-after"], "1");
        let busy = expect_error(second, 409, "idempotency_in_progress").await;
        assert_eq!(busy["tracking_id"], response_json(first).await["tracking_id"]);
        assert_eq!(ayrshare_calls(app).await, 1);
        assert_eq!(app.records().await.len(), 1);
        // Done now: the retry is a replay.
        let later = post_with_key(app, "busy", BODY).await;
        assert_eq!(replayed(&later), Some("true"));
    }

    async fn two_requests_with_one_key_at_the_same_moment_publish_once(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())
            .set_delay(Duration::from_millis(300))).await;
        let (a, b) = join(post_with_key(app, "race", BODY), post_with_key(app, "race", BODY)).await;
        let mut statuses = vec![a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        // One publishes; the other is told it is in flight (or, if it came late, replayed).
        assert!(statuses == [200, 409] || statuses == [200, 200], "{statuses:?}");
        assert_eq!(ayrshare_calls(app).await, 1);
        assert_eq!(app.records().await.len(), 1);
    }

    async fn an_expired_key_is_released_and_may_be_used_again(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        assert_eq!(post_with_key(app, "old", BODY).await.status(), 200);
        assert_eq!(post_with_key(app, "newer", BODY).await.status(), 200);
        // Everything made before this moment counts as expired, one claim per batch.
        let cutoff = chrono::Utc::now() + chrono::Duration::seconds(1);
        assert_eq!(app.store.release_idempotency_claims(cutoff, 1).await.unwrap(), 1);
        assert_eq!(app.store.release_idempotency_claims(cutoff, 1).await.unwrap(), 1);
        assert_eq!(app.store.release_idempotency_claims(cutoff, 1).await.unwrap(), 0);
        let again = post_with_key(app, "old", BODY).await;
        assert_eq!(again.status(), 200);
        assert_eq!(replayed(&again), None);
        assert_eq!(ayrshare_calls(app).await, 3);
        let records = app.records().await;
        assert_eq!(records.len(), 3);
        // The first record still shows the key it was created with, but no longer replays.
        assert_eq!(records[0].idempotency_key.as_deref(), Some("old"));
        assert_eq!(records[0].stored_answer, None);
        assert!(records.iter().all(|r| r.request_fingerprint.is_some()));
    }

    async fn a_post_without_a_key_stores_no_answer(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        let response = app.post(&serde_json::from_str::<Value>(BODY).unwrap()).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let record = app.only_record().await;
        assert_eq!(record.idempotency_key, None);
        assert_eq!(record.stored_answer, None);
    }

    async fn an_answer_stored_apart_from_its_outcome_is_kept_once_and_found_with_the_claim(app) {
        // What a create does when another writer moved its record before its outcome (and the
        // answer with it) could be recorded: the answer is stored on its own.
        let record = NewTracking {
            idempotency_key: Some("held".into()),
            request_fingerprint: Some("f".into()),
            ..new_tracking(app, "p").await
        };
        assert!(matches!(app.store.insert_tracking(&record).await.unwrap(), Inserted::New(_)));
        let answer = |n: u32| StoredAnswerJson::of(&json!({"kind": "created", "n": n})).unwrap();
        app.store.store_answer(record.id, &answer(1)).await.unwrap();
        // A second one does not replace it: every retry gets the same answer.
        app.store.store_answer(record.id, &answer(2)).await.unwrap();
        let holder = app.store.find_claim(app.organization_id, "held").await.unwrap().unwrap();
        assert_eq!(holder.id, record.id);
        let stored: Value = serde_json::from_str(holder.stored_answer.unwrap().get()).unwrap();
        assert_eq!(stored, json!({"kind": "created", "n": 1}));
    }

    async fn a_retry_after_a_crash_answers_what_the_record_settled_to_without_publishing(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        let body = r#"{"post": "crashed", "platforms": ["x"]}"#;
        let id = crashed_create(app, "crash-1", body).await;

        // Still within its deadline: the first request may be running.
        let busy = post_with_key(app, "crash-1", body).await;
        assert_eq!(busy.headers()["retry-after"], "1");
        expect_error(busy, 409, "idempotency_in_progress").await;

        // Past its deadline it is over, its answer lost: in progress until the reconciler
        // (which is off here, so a minute) has settled the record.
        app.set_time(id, "created_at", Utc::now() - chrono::Duration::hours(1)).await;
        let interrupted = post_with_key(app, "crash-1", body).await;
        assert_eq!(interrupted.headers()["retry-after"], "60");
        let error = expect_error(interrupted, 409, "idempotency_in_progress").await;
        assert_eq!(error["tracking_id"], id.to_string());
        assert!(error["detail"].as_str().unwrap().contains("stopped before it recorded"), "{error}");

        // The reconciler's first pass makes it `unknown`: nobody knows yet whether it went out.
        app.publisher.reconcile_pass().await.unwrap();
        assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Unknown);
        let unknown = post_with_key(app, "crash-1", body).await;
        assert_eq!(replayed(&unknown), Some("true"));
        let error = expect_error(unknown, 504, "provider_timeout").await;
        assert_eq!(error["tracked_status"], "unknown");

        // Once the record has settled, a retry gets the answer the create would have given.
        settle_as_posted(app, id, "FOUND-1").await;
        let settled = post_with_key(app, "crash-1", body).await;
        assert_eq!(settled.status(), 200);
        assert_eq!(replayed(&settled), Some("true"));
        let settled = response_json(settled).await;
        assert_eq!(settled["tracking_id"], id.to_string());
        assert_eq!(settled["tracked_status"], "posted");
        assert_eq!(settled["post_id"], "FOUND-1");
        assert_eq!(settled["status"], "success");
        assert_eq!(settled["links"], json!([{"platform": "x", "post_url": "https://x.example/T1"}]));
        // Kept from then on: the same answer byte for byte, even after the record moves on.
        assert!(app.record(id).await.stored_answer.is_some());
        let again = post_with_key(app, "crash-1", body).await;
        assert_eq!(replayed(&again), Some("true"));
        assert_eq!(response_json(again).await, settled);
        assert_eq!(publishes(app).await, 0, "a retry never publishes");
        assert_eq!(app.records().await.len(), 1);
    }

    async fn a_retry_after_an_answer_that_did_not_know_the_outcome_gets_the_settled_one(app) [crate::support::Options {
        ayrshare_timeout: Duration::from_millis(300),
        ..Default::default()
    }] {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())
            .set_delay(Duration::from_secs(2))).await;
        let first = post_with_key(app, "slow-1", BODY).await;
        let first = expect_error(first, 504, "provider_timeout").await;
        assert_eq!(first["tracked_status"], "unknown");
        // While nobody knows, the first answer stands, byte for byte.
        let again = post_with_key(app, "slow-1", BODY).await;
        assert_eq!(replayed(&again), Some("true"));
        assert_eq!(expect_error(again, 504, "provider_timeout").await, first);

        let id: uuid::Uuid = first["tracking_id"].as_str().unwrap().parse().unwrap();
        settle_as_posted(app, id, "LATE-1").await;
        let settled = post_with_key(app, "slow-1", BODY).await;
        assert_eq!(settled.status(), 200);
        assert_eq!(replayed(&settled), Some("true"));
        let settled = response_json(settled).await;
        assert_eq!((settled["tracked_status"].as_str(), settled["post_id"].as_str()), (Some("posted"), Some("LATE-1")));
        let again = post_with_key(app, "slow-1", BODY).await;
        assert_eq!(response_json(again).await, settled);
        assert_eq!(publishes(app).await, 1);
    }

    async fn a_crashed_create_that_failed_at_ayrshare_is_replayed_as_the_refusal(app) {
        let body = r#"{"post": "refused", "platforms": ["x"]}"#;
        let id = crashed_create(app, "crash-2", body).await;
        app.set_time(id, "created_at", Utc::now() - chrono::Duration::hours(1)).await;
        app.publisher.reconcile_pass().await.unwrap();
        let reading = json!({"id": "F-1", "status": "error", "errors": [{"action": "post",
            "status": "error", "code": 156, "platform": "twitter", "message": "account is not linked"}],
            "postIds": []});
        let answer = ProviderAnswer::new(200, &reading.to_string(), None);
        let (record, _) = app.publisher.apply_reading(app.record(id).await, Ok(&answer)).await.unwrap();
        assert_eq!(record.tracked_status, TrackedStatus::Failed);
        let refused = post_with_key(app, "crash-2", body).await;
        assert_eq!(replayed(&refused), Some("true"));
        let error = expect_error(refused, 400, "provider_rejected").await;
        assert_eq!(error["tracked_status"], "failed");
        assert_eq!(error["tracking_id"], id.to_string());
        assert_eq!(publishes(app).await, 0);
    }
}
