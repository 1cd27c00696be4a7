//! What a test suite drives the mock with: reset, the request journal, the clock, the `lost` and
//! `slow` scenarios, the start line and the health route.

use std::time::Duration;

use super::webhooks::{receiver, register};
use super::*;

/// The mock served on a real socket (as the binary serves it): its base URL.
pub(super) async fn served(config: MockConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(crate::serve(listener, config, std::future::pending()));
    base
}

/// A client with a short timeout, for answers that never come.
pub(super) fn impatient() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_reset_forgets_everything_and_a_profile_reset_only_that_profile() {
    let mock = Mock::new();
    let primary = mock.post(a_post("primary")).await.id();
    let team = call(Method::POST, "/api/post")
        .header("Profile-Key", "team-a")
        .json(a_post("team"))
        .send(&mock)
        .await
        .id();
    call(Method::PUT, "/mock/profiles/team-a/faults/twitter")
        .json(json!({"fault": "expired_token"}))
        .send(&mock)
        .await;

    let reset = call(Method::POST, "/mock/reset")
        .json(json!({"profile_key": "team-a"}))
        .send(&mock)
        .await;
    assert_eq!(reset.body, json!({"status": "success", "reset": "profile"}));
    let team_read = call(Method::GET, &format!("/api/post/{team}"))
        .header("Profile-Key", "team-a")
        .send(&mock)
        .await;
    team_read.assert_error(StatusCode::NOT_FOUND, 114);
    let faults = call(Method::GET, "/mock/profiles/team-a").send(&mock).await;
    assert_eq!(faults.body["faults"], json!({}));
    assert_eq!(
        mock.get(&format!("/api/post/{primary}")).await.status,
        StatusCode::OK
    );

    call(Method::POST, "/mock/clock")
        .json(json!({"advance_secs": 60}))
        .send(&mock)
        .await;
    let everything = call(Method::POST, "/mock/reset").send(&mock).await;
    assert_eq!(everything.body["reset"], "everything");
    mock.get(&format!("/api/post/{primary}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    assert_eq!(mock.post_counts(), (0, 0));
    let clock = call(Method::GET, "/mock/clock").send(&mock).await;
    assert_eq!(clock.body["advanced_secs"], 0.0);
    let journal = call(Method::GET, "/mock/requests").send(&mock).await;
    assert_eq!(
        journal.body["count"], 1,
        "only the read since the reset: {}",
        journal.text
    );
}

#[tokio::test]
async fn a_reset_refuses_a_body_it_cannot_read() {
    let mock = Mock::new();
    let answer = call(Method::POST, "/mock/reset")
        .json(json!({"profile_key": 7}))
        .send(&mock)
        .await;
    answer.assert_error(StatusCode::BAD_REQUEST, 900);
    let unauthenticated = call(Method::POST, "/mock/reset")
        .without("Authorization")
        .send(&mock)
        .await;
    unauthenticated.assert_error(StatusCode::UNAUTHORIZED, 102);
}

#[tokio::test]
async fn the_journal_records_each_request_as_received_with_its_secrets_masked() {
    let mock = Mock::new();
    call(Method::POST, "/api/post")
        .header("Profile-Key", "secret-profile-key")
        .header("X-Twitter-OAuth1-Api-Secret", "x-secret")
        .json(json!({"post": "journaled", "platforms": ["twitter"]}))
        .send(&mock)
        .await;
    call(Method::POST, "/api/profiles/generateJWT")
        .json(json!({"domain": "d", "privateKey": "-----BEGIN RSA-----", "profileKey": "k"}))
        .send(&mock)
        .await;
    mock.get("/api/history?limit=5").await;
    call(Method::GET, "/api/post/x")
        .without("Authorization")
        .send(&mock)
        .await;

    let journal = call(Method::GET, "/mock/requests").send(&mock).await;
    assert_eq!(journal.status, StatusCode::OK);
    assert!(
        !journal.text.contains("secret-profile-key"),
        "{}",
        journal.text
    );
    assert!(!journal.text.contains("x-secret"), "{}", journal.text);
    assert!(!journal.text.contains("BEGIN RSA"), "{}", journal.text);
    assert!(!journal.text.contains(KEY), "{}", journal.text);
    let requests = journal.body["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 4);
    let first = &requests[0];
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/api/post");
    assert_eq!(first["status"], 200);
    assert_eq!(first["headers"]["authorization"], "[masked]");
    assert_eq!(first["headers"]["profile-key"], "[masked]");
    assert_eq!(
        first["ref_id"],
        Profile::keyed("secret-profile-key").ref_id()
    );
    assert_eq!(
        first["body"],
        json!({"post": "journaled", "platforms": ["twitter"]}).to_string()
    );
    let masked: Value = serde_json::from_str(requests[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(masked["privateKey"], "[masked]");
    assert_eq!(masked["domain"], "d");
    assert_eq!(requests[2]["query"], "limit=5");
    assert_eq!(requests[2]["body"], Value::Null);
    assert_eq!(
        requests[3]["status"], 401,
        "refused requests are journaled too"
    );

    let by_profile = call(Method::GET, "/mock/requests?profile_key=secret-profile-key")
        .send(&mock)
        .await;
    assert_eq!(by_profile.body["count"], 1);
    let by_path = call(Method::GET, "/mock/requests?path=/api/profiles")
        .send(&mock)
        .await;
    assert_eq!(by_path.body["count"], 1);
    assert_eq!(
        by_path.body["requests"][0]["path"],
        "/api/profiles/generateJWT"
    );
    let newest = call(Method::GET, "/mock/requests?limit=1")
        .send(&mock)
        .await;
    assert_eq!(newest.body["requests"][0]["status"], 401);
}

#[tokio::test]
async fn the_journal_keeps_a_bounded_cut_of_a_large_body() {
    let mock = Mock::new();
    let text = "é".repeat(40_000);
    mock.post(json!({"post": text, "platforms": ["twitter"]}))
        .await;
    let journal = call(Method::GET, "/mock/requests").send(&mock).await;
    let entry = &journal.body["requests"][0];
    assert_eq!(entry["body_truncated"], true);
    assert!(entry["body"].as_str().unwrap().len() <= 64 * 1024);
}

#[tokio::test]
async fn advancing_the_clock_publishes_due_posts_at_once_with_their_webhooks() {
    let mut hook = receiver(0).await;
    let mock = Mock::new();
    register(&mock, None, json!({"action": "scheduled", "url": hook.url})).await;
    let mut body = a_post("in an hour");
    body["scheduleDate"] = json!(mock.in_seconds(3_600));
    let id = mock.post(body).await.id();
    let mut later = a_post("tomorrow");
    later["scheduleDate"] = json!(mock.in_seconds(86_400));
    let tomorrow = mock.post(later).await.id();

    let advanced = call(Method::POST, "/mock/clock")
        .json(json!({"advance_secs": 3_600}))
        .send(&mock)
        .await;
    assert_eq!(advanced.status, StatusCode::OK, "{}", advanced.text);
    assert_eq!(advanced.body["published"], json!([id]));
    assert_eq!(advanced.body["advanced_secs"], 3600.0);
    assert_eq!(advanced.body["now"], mock.in_seconds(3_600));
    let (_, _, delivered) = hook.next().await;
    assert_eq!(delivered["id"], id.as_str());
    assert_eq!(delivered["status"], "success");
    assert_eq!(
        mock.get(&format!("/api/post/{id}")).await.body["status"],
        "success"
    );
    assert_eq!(
        mock.get(&format!("/api/post/{tomorrow}")).await.body["status"],
        "pending"
    );
    hook.assert_nothing_more().await;
}

#[tokio::test]
async fn the_clock_moves_only_forward_and_only_by_a_number() {
    let mock = Mock::new();
    for body in [
        json!({"advance_secs": -1}),
        json!({"advance_secs": "60"}),
        json!({}),
        json!({"advance_secs": 1e12}),
    ] {
        call(Method::POST, "/mock/clock")
            .json(body.clone())
            .send(&mock)
            .await
            .assert_error(StatusCode::BAD_REQUEST, 900);
    }
    let clock = call(Method::GET, "/mock/clock").send(&mock).await;
    assert_eq!(clock.body["advanced_secs"], 0.0);
    // However often it is asked, the clock stops short of chrono's limits.
    let century = json!({"advance_secs": 3_155_760_000_u64});
    for _ in 0..10 {
        let moved = call(Method::POST, "/mock/clock")
            .json(century.clone())
            .send(&mock)
            .await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    }
    call(Method::POST, "/mock/clock")
        .json(century)
        .send(&mock)
        .await
        .assert_error(StatusCode::BAD_REQUEST, 900);
    assert_eq!(mock.get("/api/history").await.status, StatusCode::OK);
}

#[tokio::test]
async fn advancing_the_clock_ends_a_rate_window() {
    let mock = Mock::with_config(MockConfig {
        rate_limit_max: 1,
        ..MockConfig::default()
    });
    mock.get("/api/history").await;
    mock.get("/api/history")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, 429);
    call(Method::POST, "/mock/clock")
        .json(json!({"advance_secs": 300}))
        .send(&mock)
        .await;
    assert_eq!(mock.get("/api/history").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_lost_post_is_published_and_kept_but_its_connection_is_dropped_unanswered() {
    let base = served(MockConfig::default()).await;
    let client = impatient();
    let sent = client
        .post(format!("{base}/post"))
        .bearer_auth(KEY)
        .json(&a_post("gone [mock:lost:50]"))
        .send()
        .await;
    let error = sent.expect_err("a lost answer must never arrive");
    assert!(
        !error.is_timeout(),
        "the connection is dropped, not left open: {error}"
    );
    let history: Value = client
        .get(format!("{base}/history"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["post"], "gone [mock:lost:50]");
    assert_eq!(history[0]["status"], "success");
    let id = history[0]["id"].as_str().unwrap();
    let read = client
        .get(format!("{base}/post/{id}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), reqwest::StatusCode::OK);
    let journal: Value = client
        .get(format!(
            "{}/mock/requests?path=/api/post",
            base.trim_end_matches("/api")
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(journal["requests"][0]["lost"], true);
    assert_eq!(journal["requests"][0]["status"], Value::Null);
}

#[tokio::test]
async fn a_lost_answer_through_the_router_alone_is_a_body_that_breaks() {
    let mock = Mock::new();
    let request = Request::post("/api/post")
        .header("Authorization", format!("Bearer {KEY}"))
        .header("X-Mock-Scenario", "lost:0")
        .body(Body::from(a_post("no socket").to_string()))
        .unwrap();
    let response = mock.app.clone().oneshot(request).await.unwrap();
    assert!(to_bytes(response.into_body(), usize::MAX).await.is_err());
    assert_eq!(mock.post_counts(), (1, 0), "the post was kept");
}

#[tokio::test]
async fn a_slow_post_is_kept_even_when_the_client_gives_up_waiting() {
    let base = served(MockConfig::default()).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let sent = client
        .post(format!("{base}/post"))
        .bearer_auth(KEY)
        .json(&a_post("late [mock:slow:2000]"))
        .send()
        .await;
    assert!(sent.expect_err("the client gives up first").is_timeout());
    let history: Value = impatient()
        .get(format!("{base}/history"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["status"], "success");
}

#[test]
fn the_start_line_names_the_base_url_scripts_read() {
    let addr = "127.0.0.1:40123".parse().unwrap();
    assert_eq!(
        crate::cli::start_line(addr),
        "mock ayrshare listening on http://127.0.0.1:40123/api"
    );
}

#[tokio::test]
async fn the_health_route_answers_without_a_key_and_the_probe_reads_it() {
    let mock = Mock::with_config(MockConfig {
        api_key: Some("only-this".to_owned()),
        ..MockConfig::default()
    });
    let health = call(Method::GET, "/mock/health")
        .without("Authorization")
        .send(&mock)
        .await;
    assert_eq!(health.body, json!({"status": "ok"}));
    let base = served(MockConfig::default()).await;
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches("/api")
        .parse()
        .unwrap();
    crate::cli::probe(addr).await.unwrap();
    assert!(
        crate::cli::probe("127.0.0.1:9".parse().unwrap())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_journal_forgets_its_oldest_requests_past_its_bytes_headers_included() {
    let mock = Mock::new();
    let big = "h".repeat(100 * 1024);
    for _ in 0..350 {
        call(Method::GET, "/api/history")
            .header("X-Padding", &big)
            .send(&mock)
            .await;
    }
    let journal = call(Method::GET, "/mock/requests?limit=10000")
        .send(&mock)
        .await;
    let count = journal.body["count"].as_u64().unwrap();
    assert!(count < 350, "{count} entries of 100 KB kept");
    assert!(count > 250, "only the oldest went: {count} kept");
    assert_ne!(journal.body["requests"][0]["seq"], 1);
}
