//! Rate limits this service answers itself: the per-API-key limit (`RATE_LIMIT_PER_MINUTE`,
//! `RATE_LIMIT_BURST`) and the hold-off of an Ayrshare profile after Ayrshare's 429.

use reqwest::Response;
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::create_post::success_body;
use crate::support::{Options, expect_error};

/// One request a minute, bursts of two: the third request at once is over the limit.
fn tiny_limit() -> Options {
    Options {
        rate_limit: (1, 2),
        ..Options::default()
    }
}

fn header_number(response: &Response, name: &str) -> u64 {
    response.headers()[name]
        .to_str()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

fn a_tracking_path() -> String {
    format!("/social/post/track/{}", Uuid::new_v4())
}

backend_tests! {
    async fn the_request_past_the_burst_gets_429_with_the_headers_and_calls_nothing(app) [tiny_limit()] {
        Mock::given(method("POST")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(200).set_body_json(success_body()))
            .expect(2).mount(&app.ayrshare).await;
        for remaining in ["1", "0"] {
            let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["ratelimit-limit"], "2");
            assert_eq!(response.headers()["ratelimit-remaining"], remaining);
            assert!(header_number(&response, "ratelimit-reset") >= 1);
        }

        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        let retry_after = header_number(&response, "retry-after");
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(response.headers()["ratelimit-limit"], "2");
        assert_eq!(response.headers()["ratelimit-remaining"], "0");
        assert_eq!(header_number(&response, "ratelimit-reset"), retry_after);
        let body = expect_error(response, 429, "rate_limit").await;
        assert!(body.get("tracking_id").is_none(), "{body}");

        // Nothing written, nothing sent for the refused request; reads are counted too.
        assert_eq!(app.records().await.len(), 2);
        assert_eq!(app.ayrshare.received_requests().await.unwrap().len(), 2);
        let read = app.get(&a_tracking_path()).send().await.unwrap();
        expect_error(read, 429, "rate_limit").await;
    }

    async fn another_key_has_its_own_limit(app) [tiny_limit()] {
        for _ in 0..2 {
            expect_error(app.get(&a_tracking_path()).send().await.unwrap(), 404, "not_found").await;
        }
        expect_error(app.get(&a_tracking_path()).send().await.unwrap(), 429, "rate_limit").await;

        // A second key of the same organization, and a key of another one.
        let (same_org_key, _) = crate::support::create_key(&app.store, "acme").await;
        let (other_key, _) = app.other_organization("globex").await;
        for key in [same_org_key, other_key] {
            let response = app.client.get(app.url(&a_tracking_path())).bearer_auth(&key).send().await.unwrap();
            assert_eq!(response.headers()["ratelimit-remaining"], "1");
            expect_error(response, 404, "not_found").await;
        }
    }

    async fn a_refused_key_is_not_counted(app) [tiny_limit()] {
        for _ in 0..5 {
            let response = app.client.get(app.url(&a_tracking_path()))
                .bearer_auth("mk_0000000000000000000000000000000000000000000").send().await.unwrap();
            assert!(!response.headers().contains_key("ratelimit-limit"));
            expect_error(response, 401, "invalid_api_key").await;
        }
        let response = app.get(&a_tracking_path()).send().await.unwrap();
        assert_eq!(response.headers()["ratelimit-remaining"], "1");
    }

    async fn zero_per_minute_turns_the_limit_off(app) [Options { rate_limit: (0, 2), ..Options::default() }] {
        for _ in 0..10 {
            let response = app.get(&a_tracking_path()).send().await.unwrap();
            assert!(!response.headers().contains_key("ratelimit-limit"));
            expect_error(response, 404, "not_found").await;
        }
    }

    async fn after_ayrshares_429_the_profile_is_held_and_another_profile_is_not(app) {
        let workspace = app.store.create_workspace(app.organization_id, "brand-b", Some("PK-B")).await.unwrap();
        Mock::given(method("POST")).and(path("/api/post")).and(header("profile-key", "PK-B"))
            .respond_with(ResponseTemplate::new(200).set_body_json(success_body()))
            .with_priority(1).expect(1).mount(&app.ayrshare).await;
        Mock::given(method("POST")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120")
                .set_body_json(json!({"status": "error", "message": "Too many requests"})))
            .expect(1).mount(&app.ayrshare).await;

        let first = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        assert_eq!(first.headers()["retry-after"], "120");
        expect_error(first, 429, "rate_limit").await;

        // The primary profile is held: our own 429, and no second call to Ayrshare.
        let held = app.post(&json!({"post": "b", "platforms": ["x"]})).send().await.unwrap();
        let retry_after = header_number(&held, "retry-after");
        assert!((1..=120).contains(&retry_after), "{retry_after}");
        expect_error(held, 429, "rate_limit").await;

        // Another profile goes on.
        let other = app.post(&json!({"post": "c", "platforms": ["x"], "workspace_id": workspace.id}))
            .send().await.unwrap();
        assert_eq!(other.status(), 200);
        assert_eq!(app.ayrshare.received_requests().await.unwrap().len(), 2);
        // The held request wrote no record: only the 429'd one and the other profile's.
        assert_eq!(app.records().await.len(), 2);
    }
}
