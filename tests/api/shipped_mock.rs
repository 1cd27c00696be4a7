//! The service against the Ayrshare simulator we ship (`mosaic-social mock-ayrshare`), instead of
//! wiremock: the two must understand each other exactly as the service and Ayrshare do.

use mosaic_social::domain::TrackedStatus;
use mosaic_social::mock_ayrshare::{self, MockConfig};
use serde_json::json;

use crate::backend_tests;
use crate::support::{AYRSHARE_KEY, Options, expect_error, response_json};

/// Starts the shipped simulator (accepting only the app's key) and points the app at it.
pub(crate) fn shipped_mock() -> Options {
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
    Options {
        ayrshare_base_url: Some(format!("http://{addr}/api")),
        ..Options::default()
    }
}

backend_tests! {
    async fn a_post_is_published_and_read_back_through_the_shipped_mock(app) [shipped_mock()] {
        let response = app.post(&json!({"post": "hello", "platforms": ["x", "facebook"]})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["tracked_status"], "posted");
        assert_eq!(body["results"][0]["platform"], "x");
        let post_id = body["post_id"].as_str().unwrap().to_owned();

        let read = app.get(&format!("/social/post/{post_id}")).send().await.unwrap();
        assert_eq!(read.status(), 200);
        let read = response_json(read).await;
        assert_eq!(read["status"], "success");
        assert_eq!(read["tracked_status"], "posted");
        assert_eq!(read["results"], body["results"]);
    }

    async fn a_scheduled_post_stays_pending_until_due_then_reads_as_posted(app) [shipped_mock()] {
        // Two whole seconds ahead (the service truncates to seconds), then read before and after.
        let due = chrono::Utc::now() + chrono::Duration::seconds(3);
        let due = due.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let response = app.post(&json!({"post": "later", "platforms": ["linkedin"],
            "schedule_date": due})).send().await.unwrap();
        let body = response_json(response).await;
        assert_eq!(body["tracked_status"], "scheduled", "{body}");
        let path = format!("/social/post/{}", body["post_id"].as_str().unwrap());
        let read = response_json(app.get(&path).send().await.unwrap()).await;
        assert_eq!(read["status"], "pending");
        assert_eq!(read["tracked_status"], "scheduled");

        tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
        let read = response_json(app.get(&path).send().await.unwrap()).await;
        assert_eq!(read["status"], "success", "{read}");
        assert_eq!(read["tracked_status"], "posted");
        assert_eq!(read["links"].as_array().unwrap().len(), 1);
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Posted);
    }

    async fn the_mocks_partial_and_duplicate_scenarios_map_to_partial_and_rejected(app) [shipped_mock()] {
        let partial = response_json(app.post(&json!({"post": "p [mock:partial]",
            "platforms": ["x", "instagram"], "media_urls": ["https://cdn.example.com/a.png"]}))
            .send().await.unwrap()).await;
        assert_eq!(partial["tracked_status"], "partial", "{partial}");
        assert_eq!(partial["results"][1]["status"], "error");

        let duplicate = app.post(&json!({"post": "d [mock:duplicate]", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(duplicate, 400, "provider_rejected").await;
        assert!(body["detail"].as_str().unwrap().contains("(code 110)"), "{body}");
        let statuses: Vec<TrackedStatus> = app.records().await.iter().map(|r| r.tracked_status).collect();
        assert_eq!(statuses, [TrackedStatus::Partial, TrackedStatus::Failed]);
    }

    async fn the_mocks_outage_scenarios_map_like_ayrshares(app) [shipped_mock()] {
        let broken = app.post(&json!({"post": "b [mock:not_json]", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(broken, 502, "provider_error").await;
        assert_eq!(body["tracked_status"], "unknown");
        // Last: a 429 holds the profile for the mock's Retry-After.
        let limited = app.post(&json!({"post": "r [mock:rate_limit]", "platforms": ["x"]})).send().await.unwrap();
        assert_eq!(limited.headers()["retry-after"], "60");
        expect_error(limited, 429, "rate_limit").await;
        let held = app.post(&json!({"post": "fine", "platforms": ["x"]})).send().await.unwrap();
        let retry_after: u64 = held.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        expect_error(held, 429, "rate_limit").await;
    }
}

backend_tests! {
    async fn a_reused_idempotency_key_is_refused_upstream_and_the_record_is_not_failed(app) [shipped_mock()] {
        // The caller forwards Ayrshare's own idempotencyKey, and sends the same post twice
        // without our Idempotency-Key header: the mock refuses the second, as Ayrshare does.
        let body = json!({"post": "once", "platforms": ["linkedin"], "idempotencyKey": "launch-1"});
        let first = app.post(&body).send().await.unwrap();
        assert_eq!(first.status(), 200);
        let second = app.post(&body).send().await.unwrap();
        let refused = expect_error(second, 409, "conflict").await;
        // The post did go out once: this record must not claim it failed.
        assert_eq!(refused["tracked_status"], "unknown", "{refused}");
        let records = app.records().await;
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].tracked_status, TrackedStatus::Posted);
        assert_eq!(records[1].tracked_status, TrackedStatus::Unknown);
        assert_eq!(records[1].ayrshare_idempotency_key.as_deref(), Some("launch-1"));
    }

    async fn our_derived_idempotency_keys_never_collide_at_the_mock(app) [shipped_mock()] {
        for i in 0..3 {
            let response = app.post(&json!({"post": format!("p{i}"), "platforms": ["x"]})).send().await.unwrap();
            assert_eq!(response.status(), 200);
        }
        let records = app.records().await;
        let keys: std::collections::HashSet<_> =
            records.iter().map(|r| r.ayrshare_idempotency_key.clone().unwrap()).collect();
        assert_eq!(keys.len(), 3);
        assert!(records.iter().all(|r| r.tracked_status == TrackedStatus::Posted));
    }
}
