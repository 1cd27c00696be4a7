//! Tests of the mock Ayrshare server, driven through its router like a client would. This file
//! holds the shared harness and the tests of the original routes; each later rule has a file.

mod analytics;
mod answer_forms;
mod comments;
mod delete;
mod faults;
mod forget;
mod history;
mod idempotency;
mod profiles;
mod rate_limit;
mod retry;
mod suite;
mod update;
mod webhooks;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::profile::Profile;
use super::scenario::Scenario;
use super::store::Store;
use super::{AppState, MockConfig, routes};

const KEY: &str = "test-key";
const START: &str = "2026-03-01T12:00:00Z";

/// A mock with a clock the test moves by hand, and a look at its memory.
struct Mock {
    app: Router,
    state: AppState,
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl Mock {
    fn new() -> Mock {
        Mock::with_config(MockConfig::default())
    }

    fn with_config(config: MockConfig) -> Mock {
        // Webhook retries 20 ms apart, so that retry tests are quick.
        Mock::with_retry_delays(config, vec![std::time::Duration::from_millis(20); 3])
    }

    fn with_retry_delays(config: MockConfig, delays: Vec<std::time::Duration>) -> Mock {
        let now = Arc::new(Mutex::new(START.parse::<DateTime<Utc>>().unwrap()));
        let clock_now = Arc::clone(&now);
        let clock: super::store::Clock = Arc::new(move || *clock_now.lock().unwrap());
        let state = AppState::with_retry_delays(config, clock, delays);
        let app = routes(state.clone());
        Mock { app, state, now }
    }

    /// How many profiles the mock remembers.
    fn profile_count(&self) -> usize {
        self.state.store().profile_count()
    }

    /// How many posts the mock remembers, and how many of them wait to fall due.
    fn post_counts(&self) -> (usize, usize) {
        self.state.store().post_counts()
    }

    fn advance(&self, seconds: i64) {
        *self.now.lock().unwrap() += TimeDelta::seconds(seconds);
    }

    /// A `scheduleDate` `seconds` from the mock's now.
    fn in_seconds(&self, seconds: i64) -> String {
        (*self.now.lock().unwrap() + TimeDelta::seconds(seconds))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    async fn post(&self, body: Value) -> Answer {
        call(Method::POST, "/api/post").json(body).send(self).await
    }

    async fn get(&self, path: &str) -> Answer {
        call(Method::GET, path).send(self).await
    }

    async fn delete(&self, path: &str, body: Value) -> Answer {
        call(Method::DELETE, path).json(body).send(self).await
    }
}

/// A request under construction; it carries a valid bearer key unless removed.
struct Call {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

fn call(method: Method, path: &str) -> Call {
    Call {
        method,
        path: path.to_owned(),
        headers: vec![
            ("Authorization".to_owned(), format!("Bearer {KEY}")),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ],
        body: None,
    }
}

impl Call {
    fn header(mut self, name: &str, value: &str) -> Call {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn without(mut self, name: &str) -> Call {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self
    }

    fn json(mut self, body: Value) -> Call {
        self.body = Some(body);
        self
    }

    async fn send(self, mock: &Mock) -> Answer {
        let mut request = Request::builder().method(self.method).uri(&self.path);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let body = self
            .body
            .map_or_else(Body::empty, |body| Body::from(body.to_string()));
        let response = mock
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |value| value.to_str().unwrap())
    }

    fn id(&self) -> String {
        self.body["id"].as_str().unwrap().to_owned()
    }

    fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }

    /// Asserts a JSON error answer with this HTTP status and Ayrshare code.
    fn assert_error(&self, http: StatusCode, code: u64) {
        assert_eq!(self.status, http, "answer: {}", self.text);
        assert_eq!(self.body["status"], "error", "answer: {}", self.text);
        assert_eq!(self.body["code"], code, "answer: {}", self.text);
        assert!(self.header("content-type").starts_with("application/json"));
    }
}

impl Answer {
    /// Asserts an answer whose every network failed: this HTTP status, `status: error` and the
    /// first of its `errors` with this Ayrshare code (no top-level code, as Ayrshare answers).
    fn assert_failed(&self, http: StatusCode, code: u64) {
        assert_eq!(self.status, http, "answer: {}", self.text);
        assert_eq!(self.body["status"], "error", "answer: {}", self.text);
        assert_eq!(
            self.body["errors"][0]["code"], code,
            "answer: {}",
            self.text
        );
    }
}

fn a_post(text: &str) -> Value {
    json!({"post": text, "platforms": ["twitter", "facebook"], "source": "pypi"})
}

fn is_digits(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|byte| byte.is_ascii_digit()) && !text.starts_with('0')
}

// ---- publishing ----

#[tokio::test]
async fn a_post_to_twitter_and_facebook_succeeds_with_a_native_id_for_each() {
    let mock = Mock::new();
    let answer = mock.post(a_post("hello world")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = &answer.body;
    assert_eq!(body["status"], "success");
    assert_eq!(body["errors"], json!([]));
    assert_eq!(body["post"], "hello world");
    let id = answer.id();
    assert_eq!(id.len(), 20);
    assert!(id.bytes().all(|byte| byte.is_ascii_alphanumeric()));
    assert_eq!(body["refId"].as_str().unwrap().len(), 32);
    let post_ids = body["postIds"].as_array().unwrap();
    assert_eq!(post_ids.len(), 2);
    assert_eq!(post_ids[0]["platform"], "twitter");
    assert_eq!(post_ids[0]["status"], "success");
    let tweet = post_ids[0]["id"].as_str().unwrap();
    assert!(is_digits(tweet, 19), "{tweet}");
    assert!(
        post_ids[0]["postUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/status/{tweet}"))
    );
    assert_eq!(post_ids[1]["platform"], "facebook");
    let (page, post) = post_ids[1]["id"].as_str().unwrap().split_once('_').unwrap();
    assert!(is_digits(page, 15) && is_digits(post, 15));
}

#[tokio::test]
async fn a_telegram_post_id_is_a_json_number_as_ayrshare_sends_it() {
    let mock = Mock::new();
    let answer = mock
        .post(json!({"post": "hi", "platforms": ["telegram"]}))
        .await;
    let entry = &answer.body["postIds"][0];
    assert!(entry["id"].is_u64(), "{entry}");
    assert!(
        entry["postUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://t.me/")
    );
}

#[tokio::test]
async fn every_network_gets_a_native_id_shaped_like_its_own() {
    let mock = Mock::new();
    let all = [
        "twitter",
        "facebook",
        "instagram",
        "linkedin",
        "tiktok",
        "youtube",
        "pinterest",
        "reddit",
        "telegram",
        "gmb",
        "bluesky",
        "snapchat",
        "threads",
    ];
    let body = json!({"post": "all of them", "platforms": all, "mediaUrls": ["https://img/a.jpg"]});
    let answer = mock.post(body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let entries = answer.body["postIds"].as_array().unwrap();
    assert_eq!(entries.len(), all.len());
    for (entry, platform) in entries.iter().zip(all) {
        assert_eq!(entry["platform"], platform);
        assert!(
            entry["postUrl"].as_str().unwrap().starts_with("https://"),
            "{entry}"
        );
        let id = entry["id"].as_str().unwrap_or_default();
        let shaped = match platform {
            "twitter" | "tiktok" | "gmb" => is_digits(id, 19),
            "instagram" | "threads" => is_digits(id, 17),
            "pinterest" => is_digits(id, 18),
            "linkedin" => id
                .strip_prefix("urn:li:share:")
                .is_some_and(|n| is_digits(n, 19)),
            "youtube" => id.len() == 11,
            "bluesky" => id.starts_with("at://did:plc:") && entry["cid"].is_string(),
            "telegram" => entry["id"].is_u64(),
            _ => !id.is_empty(),
        };
        assert!(shaped, "{platform}: {entry}");
    }
    assert_eq!(entries[2]["usedQuota"], 1);
    assert_eq!(entries[9]["type"], "localPosts");
}

#[tokio::test]
async fn every_answer_carries_ayrshare_rate_limit_headers_counted_per_profile() {
    let mock = Mock::new();
    let first = mock.get("/api/history").await;
    let second = mock.get("/api/nowhere").await;
    let other = call(Method::GET, "/api/history")
        .header("Profile-Key", "other")
        .send(&mock)
        .await;
    assert_eq!(first.header("x-ratelimit-max"), "300");
    assert_eq!(first.header("x-ratelimit-count"), "1");
    assert_eq!(second.header("x-ratelimit-count"), "2");
    assert_eq!(other.header("x-ratelimit-count"), "1");
    mock.advance(5 * 60);
    assert_eq!(
        mock.get("/api/history").await.header("x-ratelimit-count"),
        "1"
    );
}

#[tokio::test]
async fn the_same_text_twice_is_published_twice_since_duplicates_come_only_from_the_scenario() {
    let mock = Mock::new();
    let first = mock.post(a_post("same words")).await;
    let second = mock.post(a_post("same words")).await;
    assert_eq!(first.body["status"], "success");
    assert_eq!(second.body["status"], "success");
    assert_ne!(first.id(), second.id());
}

// ---- the API key ----

#[tokio::test]
async fn a_missing_bearer_key_is_refused_with_401() {
    let mock = Mock::new();
    let answer = call(Method::POST, "/api/post")
        .without("Authorization")
        .json(a_post("hi"))
        .send(&mock)
        .await;
    answer.assert_error(StatusCode::UNAUTHORIZED, 102);
    assert!(answer.message().starts_with("API Key not valid."));
}

#[tokio::test]
async fn a_malformed_authorization_header_is_refused_with_401() {
    let mock = Mock::new();
    for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", KEY] {
        let answer = call(Method::GET, "/api/history")
            .header("Authorization", value)
            .send(&mock)
            .await;
        answer.assert_error(StatusCode::UNAUTHORIZED, 102);
    }
}

#[tokio::test]
async fn a_wrong_bearer_key_is_refused_when_a_key_is_configured() {
    let mock = Mock::with_config(MockConfig {
        api_key: Some("the-real-key".to_owned()),
        ..MockConfig::default()
    });
    let wrong = mock.post(a_post("hi")).await;
    wrong.assert_error(StatusCode::UNAUTHORIZED, 102);
    let right = call(Method::POST, "/api/post")
        .header("authorization", "bearer the-real-key")
        .json(a_post("hi"))
        .send(&mock)
        .await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
}

// ---- checks on the post body ----

#[tokio::test]
async fn a_post_to_x_is_refused_like_ayrshare_does() {
    let mock = Mock::new();
    let answer = mock.post(json!({"post": "hi", "platforms": ["x"]})).await;
    answer.assert_error(StatusCode::BAD_REQUEST, 101);
    assert!(answer.message().contains("\"x\""), "{}", answer.message());
    assert!(
        answer.message().contains("use \"twitter\""),
        "{}",
        answer.message()
    );
}

#[tokio::test]
async fn an_unknown_or_capitalised_platform_name_is_refused_naming_it() {
    let mock = Mock::new();
    let unknown = mock
        .post(json!({"post": "hi", "platforms": ["twitter", "fb"]}))
        .await;
    unknown.assert_error(StatusCode::BAD_REQUEST, 101);
    assert!(unknown.message().contains("\"fb\""));
    let capitalised = mock
        .post(json!({"post": "hi", "platforms": ["Twitter"]}))
        .await;
    capitalised.assert_error(StatusCode::BAD_REQUEST, 101);
    assert!(capitalised.message().contains("lowercase"));
}

#[tokio::test]
async fn missing_empty_or_non_array_platforms_are_refused() {
    let mock = Mock::new();
    for body in [
        json!({"post": "hi"}),
        json!({"post": "hi", "platforms": []}),
        json!({"post": "hi", "platforms": "twitter"}),
        json!({"post": "hi", "platforms": [1]}),
    ] {
        let answer = mock.post(body).await;
        answer.assert_error(StatusCode::BAD_REQUEST, 101);
        assert!(
            answer
                .message()
                .starts_with("Missing or incorrect platforms parameter")
        );
    }
}

#[tokio::test]
async fn a_missing_blank_or_non_string_post_is_refused() {
    let mock = Mock::new();
    for body in [
        json!({"platforms": ["twitter"]}),
        json!({"post": "", "platforms": ["twitter"]}),
        json!({"post": 42, "platforms": ["twitter"]}),
    ] {
        let answer = mock.post(body).await;
        answer.assert_error(StatusCode::BAD_REQUEST, 101);
        assert_eq!(
            answer.message(),
            "Missing or incorrect post parameter. Please verify a non-empty post field is sent."
        );
    }
}

#[tokio::test]
async fn an_empty_post_is_allowed_with_media_and_random_post_stands_in_for_text() {
    let mock = Mock::new();
    let media = json!({"post": "", "platforms": ["twitter"], "mediaUrls": ["https://img/a.png"]});
    assert_eq!(mock.post(media).await.status, StatusCode::OK);
    let random = mock
        .post(json!({"randomPost": true, "platforms": ["twitter"]}))
        .await;
    assert_eq!(random.status, StatusCode::OK, "{}", random.text);
    assert!(!random.body["post"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn media_urls_must_be_an_array_of_strings() {
    let mock = Mock::new();
    for media in [json!("https://img/a.png"), json!([1, 2])] {
        let body = json!({"post": "hi", "platforms": ["twitter"], "mediaUrls": media});
        mock.post(body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, 101);
    }
}

#[tokio::test]
async fn a_schedule_date_must_be_an_iso_date_and_never_empty() {
    let mock = Mock::new();
    for date in [
        json!(""),
        json!("tomorrow"),
        json!("2026-07-08 12:30:00"),
        json!(1_700_000_000),
    ] {
        let body = json!({"post": "hi", "platforms": ["twitter"], "scheduleDate": date});
        let answer = mock.post(body).await;
        answer.assert_error(StatusCode::BAD_REQUEST, 101);
        assert!(answer.message().contains("scheduleDate"));
    }
    let offset = json!({"post": "hi", "platforms": ["twitter"], "scheduleDate": "2026-07-08T14:30:00+02:00"});
    let answer = mock.post(offset).await;
    assert_eq!(answer.body["scheduleDate"], "2026-07-08T12:30:00Z");
    let null = json!({"post": "hi", "platforms": ["twitter"], "scheduleDate": null});
    assert_eq!(mock.post(null).await.body["status"], "success");
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_a_json_error() {
    let mock = Mock::new();
    let request = Request::post("/api/post")
        .header("Authorization", format!("Bearer {KEY}"))
        .body(Body::from("post=hello"))
        .unwrap();
    let response = mock.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value =
        serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert_eq!(body["code"], 101);
}

#[tokio::test]
async fn refused_requests_are_not_remembered() {
    let mock = Mock::new();
    mock.post(json!({"post": "hi", "platforms": ["x"]})).await;
    call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "server_error")
        .json(a_post("hi"))
        .send(&mock)
        .await;
    assert_eq!(mock.get("/api/history").await.body, json!([]));
}

// ---- scheduling ----

#[tokio::test]
async fn a_future_post_is_scheduled_then_published_once_its_date_has_passed() {
    let mock = Mock::new();
    let due = mock.in_seconds(60);
    let body = json!({"post": "later", "platforms": ["twitter", "telegram"], "scheduleDate": due});
    let created = mock.post(body).await;
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.body["status"], "scheduled");
    assert_eq!(created.body["scheduleDate"], due);
    assert_eq!(created.body["postIds"], json!([]));
    assert_eq!(created.body["errors"], json!([]));
    let path = format!("/api/post/{}", created.id());

    let before = mock.get(&path).await;
    assert_eq!(before.body["status"], "pending");
    assert_eq!(before.body["type"], "scheduled");
    assert_eq!(before.body["postIds"], json!([]));

    mock.advance(61);
    let after = mock.get(&path).await;
    assert_eq!(after.body["status"], "success", "{}", after.text);
    assert_eq!(after.body["postIds"].as_array().unwrap().len(), 2);
    assert_eq!(after.body["scheduleDate"], due);
    assert_eq!(after.body["created"], START);

    mock.advance(3600);
    assert_eq!(mock.get(&path).await.body["postIds"], after.body["postIds"]);
}

#[tokio::test]
async fn a_past_schedule_date_publishes_at_once() {
    let mock = Mock::new();
    let body =
        json!({"post": "late", "platforms": ["twitter"], "scheduleDate": mock.in_seconds(-60)});
    let answer = mock.post(body).await;
    assert_eq!(answer.body["status"], "success");
    let read = mock.get(&format!("/api/post/{}", answer.id())).await;
    assert_eq!(read.body["type"], "now");
}

#[tokio::test]
async fn the_scheduled_scenario_schedules_an_hour_ahead_when_no_date_is_given() {
    let mock = Mock::new();
    let answer = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "scheduled")
        .json(a_post("soon"))
        .send(&mock)
        .await;
    assert_eq!(answer.body["status"], "scheduled");
    assert_eq!(answer.body["scheduleDate"], mock.in_seconds(3600));
}

#[tokio::test]
async fn a_scheduled_post_keeps_the_scenario_chosen_at_creation() {
    let mock = Mock::new();
    let body = json!({"post": "[mock:partial] later", "platforms": ["twitter", "facebook"], "scheduleDate": mock.in_seconds(10)});
    let created = mock.post(body).await;
    assert_eq!(created.body["status"], "scheduled");
    mock.advance(10);
    let read = mock.get(&format!("/api/post/{}", created.id())).await;
    assert_eq!(read.body["status"], "error");
    assert_eq!(read.body["errors"][0]["platform"], "facebook");
}

#[tokio::test]
async fn a_post_scheduled_far_ahead_is_not_published_by_unrelated_traffic_while_a_due_one_is() {
    let mock = Mock::new();
    let far = json!({"post": "next year", "platforms": ["twitter"], "scheduleDate": mock.in_seconds(365 * 24 * 3600)});
    let far = mock.post(far).await.id();
    let soon =
        json!({"post": "soon", "platforms": ["twitter"], "scheduleDate": mock.in_seconds(60)});
    let soon = mock.post(soon).await.id();
    assert_eq!(mock.post_counts(), (2, 2));

    mock.advance(61);
    // Traffic of another profile, which never names either post.
    let other = call(Method::GET, "/api/history")
        .header("Profile-Key", "someone-else")
        .send(&mock)
        .await;
    assert_eq!(other.body, json!([]));
    assert_eq!(mock.post_counts(), (2, 1), "only the far post still waits");

    let soon = mock.get(&format!("/api/post/{soon}")).await;
    assert_eq!(soon.body["status"], "success", "{}", soon.text);
    let far = mock.get(&format!("/api/post/{far}")).await;
    assert_eq!(far.body["status"], "pending", "{}", far.text);
    assert_eq!(far.body["postIds"], json!([]));
}

#[tokio::test]
async fn deleting_a_pending_post_takes_it_out_of_the_waiting_posts() {
    let mock = Mock::new();
    let body =
        json!({"post": "never", "platforms": ["twitter"], "scheduleDate": mock.in_seconds(60)});
    let id = mock.post(body).await.id();
    assert_eq!(mock.post_counts(), (1, 1));
    mock.delete("/api/post", json!({"id": id})).await;
    assert_eq!(mock.post_counts(), (1, 0));
}

// ---- deleting ----

#[tokio::test]
async fn deleting_a_pending_post_means_it_is_never_published() {
    let mock = Mock::new();
    let body =
        json!({"post": "cancel me", "platforms": ["twitter"], "scheduleDate": mock.in_seconds(60)});
    let id = mock.post(body).await.id();
    let deleted = mock
        .delete("/api/post", json!({"id": id, "source": "npm"}))
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body, json!({"status": "success", "id": id}));
    mock.advance(120);
    let read = mock.get(&format!("/api/post/{id}")).await;
    assert_eq!(read.body["status"], "deleted");
    assert_eq!(read.body["postIds"], json!([]));
}

#[tokio::test]
async fn a_published_post_can_be_deleted_through_both_delete_routes() {
    let mock = Mock::new();
    for path in ["/api/post", "/api/delete"] {
        let id = mock.post(a_post(path)).await.id();
        let deleted = mock.delete(path, json!({"id": id, "source": "pypi"})).await;
        assert_eq!(
            deleted.body["status"], "success",
            "{path}: {}",
            deleted.text
        );
        let read = mock.get(&format!("/api/post/{id}")).await;
        assert_eq!(read.body["status"], "deleted");
        assert_eq!(read.body["postIds"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn a_repeated_delete_is_refused_as_already_deleted() {
    let mock = Mock::new();
    let id = mock.post(a_post("twice")).await.id();
    mock.delete("/api/post", json!({"id": id})).await;
    let again = mock.delete("/api/post", json!({"id": id})).await;
    again.assert_error(StatusCode::BAD_REQUEST, 383);
    assert_eq!(again.body["action"], "delete");
}

#[tokio::test]
async fn a_bulk_delete_reports_each_id() {
    let mock = Mock::new();
    let first = mock.post(a_post("one")).await.id();
    let second = mock.post(a_post("two")).await.id();
    let all = mock
        .delete("/api/delete", json!({"bulk": [first, second]}))
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["status"], "success");
    assert_eq!(all.body["bulk"][1]["status"], "success");
    assert_eq!(all.body["bulk"][1]["id"], second.as_str());

    let third = mock.post(a_post("three")).await.id();
    let mixed = mock
        .delete("/api/post", json!({"bulk": [third, "nope"]}))
        .await;
    assert_eq!(mixed.status, StatusCode::OK);
    assert_eq!(mixed.body["status"], "error");
    assert_eq!(mixed.body["bulk"][0]["status"], "success");
    assert_eq!(mixed.body["bulk"][1]["status"], "error");
    assert_eq!(mixed.body["bulk"][1]["code"], 114);
    assert_eq!(mixed.body["bulk"][1]["id"], "nope");
}

#[tokio::test]
async fn deleting_an_unknown_id_or_sending_no_id_is_a_json_error() {
    let mock = Mock::new();
    mock.delete("/api/post", json!({"id": "nope"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    for body in [
        json!({}),
        json!({"id": ""}),
        json!({"bulk": []}),
        json!({"id": 7}),
    ] {
        mock.delete("/api/post", body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, 101);
    }
    mock.delete("/api/post", json!({"deleteAllScheduled": true}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 900);
}

// ---- profiles and history ----

#[tokio::test]
async fn posts_are_only_visible_and_deletable_from_their_own_profile() {
    let mock = Mock::new();
    let id = call(Method::POST, "/api/post")
        .header("Profile-Key", "alice")
        .json(a_post("alice's"))
        .send(&mock)
        .await
        .id();
    let path = format!("/api/post/{id}");
    mock.get(&path)
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    let bob = call(Method::GET, &path)
        .header("Profile-Key", "bob")
        .send(&mock)
        .await;
    bob.assert_error(StatusCode::NOT_FOUND, 114);
    mock.delete("/api/post", json!({"id": id}))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    assert_eq!(mock.get("/api/history").await.body, json!([]));

    let alice = call(Method::GET, &path)
        .header("profile-key", "alice")
        .send(&mock)
        .await;
    assert_eq!(alice.body["status"], "success");
    assert_ne!(
        alice.body["refId"],
        mock.post(a_post("primary")).await.body["refId"]
    );
}

#[tokio::test]
async fn history_lists_the_profiles_posts_newest_first_without_deleted_ones() {
    let mock = Mock::new();
    let first = mock.post(a_post("first")).await.id();
    let second = mock.post(a_post("second")).await.id();
    let third = mock.post(a_post("third")).await.id();
    mock.delete("/api/post", json!({"id": second})).await;

    let history = mock
        .get("/api/history?source=pypi&platforms[0]=twitter")
        .await;
    let ids: Vec<&str> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [third.as_str(), first.as_str()]);

    let deleted = mock.get("/api/history?status=deleted").await;
    assert_eq!(deleted.body.as_array().unwrap().len(), 1);
    assert_eq!(deleted.body[0]["id"], second);
    assert_eq!(
        mock.get("/api/history?limit=1")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn history_by_id_answers_like_get_post_and_ignores_query_and_content_type() {
    let mock = Mock::new();
    let created = mock
        .post(json!({"post": "read me", "platforms": ["twitter"], "notes": "n1"}))
        .await;
    let id = created.id();
    let by_post = mock
        .get(&format!("/api/post/{id}?id={id}&source=pypi"))
        .await;
    let by_history = mock
        .get(&format!("/api/history/{id}?id={id}&source=npm"))
        .await;
    assert_eq!(by_post.status, StatusCode::OK, "{}", by_post.text);
    assert_eq!(by_post.body, by_history.body);
    let body = &by_post.body;
    assert_eq!(body["id"], id);
    assert_eq!(body["status"], "success");
    assert_eq!(body["post"], "read me");
    assert_eq!(body["platforms"], json!(["twitter"]));
    assert_eq!(body["mediaUrls"], json!([]));
    assert_eq!(body["postIds"], created.body["postIds"]);
    assert_eq!(body["errors"], json!([]));
    assert_eq!(body["created"], START);
    assert_eq!(body["type"], "now");
    assert_eq!(body["refId"], created.body["refId"]);
    assert_eq!(body["notes"], "n1");
    assert!(body.get("scheduleDate").is_none());
}

// ---- memory bounds ----

#[tokio::test]
async fn at_the_bound_the_oldest_post_is_forgotten_and_answers_404_while_the_newest_answers() {
    let mock = Mock::with_config(MockConfig {
        max_posts: 3,
        ..MockConfig::default()
    });
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(mock.post(a_post(&format!("post {n}"))).await.id());
    }
    assert_eq!(mock.post_counts(), (3, 0));
    let oldest = format!("/api/post/{}", ids[0]);
    mock.get(&oldest)
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    mock.delete("/api/post", json!({"id": ids[0]}))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    let newest = mock.get(&format!("/api/post/{}", ids[3])).await;
    assert_eq!(newest.body["status"], "success", "{}", newest.text);
    let history = mock.get("/api/history").await;
    let listed: Vec<&str> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[3].as_str(), ids[2].as_str(), ids[1].as_str()]);
}

#[tokio::test]
async fn settled_posts_are_forgotten_before_pending_ones_and_pending_ones_oldest_first() {
    let mock = Mock::with_config(MockConfig {
        max_posts: 2,
        ..MockConfig::default()
    });
    let later = |text: &str| json!({"post": text, "platforms": ["twitter"], "scheduleDate": mock.in_seconds(3600)});
    let pending = mock.post(later("waits")).await.id();
    let first = mock.post(a_post("first")).await.id();
    let second = mock.post(a_post("second")).await.id();
    mock.get(&format!("/api/post/{first}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    let kept = mock.get(&format!("/api/post/{pending}")).await;
    assert_eq!(kept.body["status"], "pending", "{}", kept.text);
    assert_eq!(mock.post_counts(), (2, 1));

    // With nothing settled left, the oldest pending post goes, out of the waiting posts too.
    mock.delete("/api/post", json!({"id": second})).await;
    mock.post(later("another")).await;
    mock.post(later("and another")).await;
    mock.get(&format!("/api/post/{pending}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    assert_eq!(mock.post_counts(), (2, 2));
}

#[tokio::test]
async fn a_max_posts_of_zero_still_remembers_the_newest_post() {
    let mock = Mock::with_config(MockConfig {
        max_posts: 0,
        ..MockConfig::default()
    });
    let first = mock.post(a_post("first")).await.id();
    let second = mock.post(a_post("second")).await.id();
    assert_eq!(mock.post_counts(), (1, 0));
    assert_eq!(
        mock.get(&format!("/api/post/{first}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        mock.get(&format!("/api/post/{second}")).await.status,
        StatusCode::OK
    );
}

#[test]
fn the_default_config_remembers_ten_thousand_posts_and_its_debug_hides_the_key() {
    let config = MockConfig {
        api_key: Some("secret-key".to_owned()),
        ..MockConfig::default()
    };
    assert_eq!(config.max_posts, 10_000);
    let debug = format!("{config:?}");
    assert!(!debug.contains("secret-key"), "{debug}");
    assert!(
        debug.contains("[redacted]") && debug.contains("max_posts: 10000"),
        "{debug}"
    );
}

#[tokio::test]
async fn refused_requests_with_fresh_profile_keys_leave_no_profile_behind() {
    let mock = Mock::with_config(MockConfig {
        api_key: Some(KEY.to_owned()),
        ..MockConfig::default()
    });
    for n in 0..200 {
        let profile = format!("fresh-{n}");
        // No key on a route, or a wrong key on no route: neither is counted.
        let (request, expected) = if n % 2 == 0 {
            let request = call(Method::GET, "/api/history").without("Authorization");
            (request, StatusCode::UNAUTHORIZED)
        } else {
            let request = call(Method::GET, "/api/nowhere").header("Authorization", "Bearer wrong");
            (request, StatusCode::NOT_FOUND)
        };
        let answer = request.header("Profile-Key", &profile).send(&mock).await;
        assert_eq!(answer.status, expected, "{}", answer.text);
        assert_eq!(answer.header("x-ratelimit-count"), "0");
    }
    assert_eq!(mock.profile_count(), 0);

    // A refused request of a known profile shows its count without adding to it.
    let counted = call(Method::GET, "/api/history")
        .header("Profile-Key", "known")
        .send(&mock)
        .await;
    assert_eq!(counted.header("x-ratelimit-count"), "1");
    let refused = call(Method::GET, "/api/history")
        .header("Profile-Key", "known")
        .without("Authorization")
        .send(&mock)
        .await;
    refused.assert_error(StatusCode::UNAUTHORIZED, 102);
    assert_eq!(refused.header("x-ratelimit-count"), "1");
    assert_eq!(mock.profile_count(), 1);
}

#[tokio::test]
async fn profiles_without_posts_are_forgotten_once_their_rate_window_is_over() {
    let mock = Mock::new();
    let kept = call(Method::POST, "/api/post")
        .header("Profile-Key", "keeper")
        .json(a_post("keep my profile"))
        .send(&mock)
        .await
        .id();
    let visit = |profile: String| call(Method::GET, "/api/history").header("Profile-Key", &profile);
    for n in 0..100 {
        visit(format!("early-{n}")).send(&mock).await;
    }
    assert_eq!(mock.profile_count(), 101);
    mock.advance(5 * 60);
    for n in 0..100 {
        visit(format!("late-{n}")).send(&mock).await;
    }
    assert!(
        mock.profile_count() <= 101,
        "{} profiles",
        mock.profile_count()
    );
    let read = call(Method::GET, &format!("/api/post/{kept}"))
        .header("Profile-Key", "keeper")
        .send(&mock)
        .await;
    assert_eq!(read.body["status"], "success", "{}", read.text);
}

#[test]
fn profiles_counted_within_one_window_are_bounded_too() {
    let mut store = Store::new(StdRng::seed_from_u64(7), 10, START.parse().unwrap());
    let start = START.parse::<DateTime<Utc>>().unwrap();
    let profile = |n: usize| {
        let mut headers = HeaderMap::new();
        headers.insert("profile-key", n.to_string().parse().unwrap());
        Profile::from_headers(&headers)
    };
    // 30,000 profiles within 30 seconds: all of them still in their 5-minute window.
    for n in 0..30_000 {
        let now = start + TimeDelta::milliseconds(i64::try_from(n).unwrap());
        store.count_request(&profile(n), now);
    }
    assert!(store.profile_count() <= 20_000, "{}", store.profile_count());
    let now = start + TimeDelta::seconds(30);
    assert_eq!(store.current_count(&profile(29_999), now), 1);
    assert_eq!(store.current_count(&profile(0), now), 0);
}

// ---- scenarios ----

#[tokio::test]
async fn the_partial_scenario_fails_every_platform_but_the_first_and_is_remembered() {
    let mock = Mock::new();
    let body = json!({"post": "some work", "platforms": ["twitter", "facebook", "linkedin"]});
    let answer = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "partial")
        .json(body)
        .send(&mock)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "error");
    assert_eq!(answer.body["postIds"].as_array().unwrap().len(), 1);
    assert_eq!(answer.body["postIds"][0]["platform"], "twitter");
    let errors = answer.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["platform"], "facebook");
    assert_eq!(errors[0]["code"], 156);
    assert_eq!(errors[0]["action"], "post");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("is not linked")
    );

    let read = mock.get(&format!("/api/post/{}", answer.id())).await;
    assert_eq!(read.body["status"], "error");
    assert_eq!(read.body["postIds"], answer.body["postIds"]);
    assert_eq!(read.body["errors"], answer.body["errors"]);
}

#[tokio::test]
async fn the_partial_scenario_with_one_platform_succeeds() {
    let mock = Mock::new();
    let answer = mock
        .post(json!({"post": "[mock:partial]", "platforms": ["twitter"]}))
        .await;
    assert_eq!(answer.body["status"], "success");
}

#[tokio::test]
async fn the_duplicate_scenario_fails_every_platform_with_400_yet_keeps_an_id() {
    let mock = Mock::new();
    let answer = mock.post(a_post("again [mock:duplicate]")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["status"], "error");
    assert_eq!(answer.body["postIds"], json!([]));
    assert_eq!(answer.id().len(), 20);
    let errors = &answer.body["errors"];
    assert_eq!(errors[0]["code"], 110);
    assert_eq!(errors[0]["message"], "Status is a duplicate.");
    assert_eq!(errors[0]["post"], "again [mock:duplicate]");
    assert_eq!(errors[1]["code"], 107);
    assert_eq!(errors[1]["platform"], "facebook");
    let read = mock.get(&format!("/api/post/{}", answer.id())).await;
    assert_eq!(read.body["status"], "error");
}

#[tokio::test]
async fn the_header_wins_over_the_marker_and_names_are_case_insensitive() {
    let mock = Mock::new();
    let answer = call(Method::POST, "/api/post")
        .header("x-mock-scenario", "SUCCESS")
        .json(a_post("[mock:duplicate]"))
        .send(&mock)
        .await;
    assert_eq!(answer.body["status"], "success");
    let marker = mock.post(a_post("[MOCK:Rate-Limit]")).await;
    assert_eq!(marker.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_unknown_scenario_is_refused_naming_the_known_ones() {
    let mock = Mock::new();
    let header = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "sucess")
        .json(a_post("hi"))
        .send(&mock)
        .await;
    header.assert_error(StatusCode::BAD_REQUEST, 900);
    assert!(header.message().contains("\"sucess\""));
    assert!(header.message().contains("rate_limit"));
    let marker = mock.post(a_post("[mock:nope] hi")).await;
    marker.assert_error(StatusCode::BAD_REQUEST, 900);
    let unterminated = mock.post(a_post("[mock:partial hi")).await;
    unterminated.assert_error(StatusCode::BAD_REQUEST, 900);
    let too_slow = mock.post(a_post("[mock:slow:120001]")).await;
    too_slow.assert_error(StatusCode::BAD_REQUEST, 900);
}

#[tokio::test]
async fn the_unauthorized_scenario_answers_401_despite_a_good_key() {
    let mock = Mock::new();
    let answer = mock.post(a_post("[mock:unauthorized]")).await;
    answer.assert_error(StatusCode::UNAUTHORIZED, 102);
}

#[tokio::test]
async fn the_rate_limit_scenario_answers_429_with_retry_after() {
    let mock = Mock::new();
    let answer = mock.post(a_post("[mock:rate_limit]")).await;
    answer.assert_error(StatusCode::TOO_MANY_REQUESTS, 429);
    assert_eq!(answer.header("retry-after"), "60");
    assert_eq!(answer.header("x-ratelimit-max"), "300");
    assert_eq!(answer.header("x-ratelimit-count"), "300");
}

#[tokio::test]
async fn rate_limit_with_seconds_sets_retry_after_to_them() {
    let mock = Mock::new();
    let header = call(Method::GET, "/api/history")
        .header("X-Mock-Scenario", "rate_limit:1")
        .send(&mock)
        .await;
    header.assert_error(StatusCode::TOO_MANY_REQUESTS, 429);
    assert_eq!(header.header("retry-after"), "1");
    assert_eq!(header.header("x-ratelimit-count"), "300");
    let marker = mock.post(a_post("[mock:Rate-Limit:0] hi")).await;
    marker.assert_error(StatusCode::TOO_MANY_REQUESTS, 429);
    assert_eq!(marker.header("retry-after"), "0");
    let longest = mock.post(a_post("[mock:rate_limit:3600]")).await;
    assert_eq!(longest.header("retry-after"), "3600");
}

#[tokio::test]
async fn a_retry_after_out_of_range_or_not_a_number_is_a_400() {
    let mock = Mock::new();
    for scenario in [
        "rate_limit:3601",
        "rate_limit:-1",
        "rate_limit:1.5",
        "rate_limit:",
    ] {
        let answer = call(Method::GET, "/api/history")
            .header("X-Mock-Scenario", scenario)
            .send(&mock)
            .await;
        answer.assert_error(StatusCode::BAD_REQUEST, 900);
        assert!(
            answer.message().contains("from 0 to 3600"),
            "{}",
            answer.message()
        );
    }
    let marker = mock.post(a_post("[mock:rate_limit:99999] hi")).await;
    marker.assert_error(StatusCode::BAD_REQUEST, 900);
}

#[tokio::test]
async fn the_server_error_scenario_answers_a_json_500() {
    let mock = Mock::new();
    let answer = mock.post(a_post("[mock:server_error]")).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        answer.body,
        json!({"status": "error", "message": "Internal server error"})
    );
}

#[tokio::test]
async fn the_not_json_scenario_answers_an_html_502() {
    let mock = Mock::new();
    let answer = mock.post(a_post("[mock:not_json]")).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(answer.header("content-type").starts_with("text/html"));
    assert!(answer.text.contains("Bad Gateway"));
    assert_eq!(answer.body, Value::Null);
}

#[tokio::test]
async fn the_slow_scenario_waits_then_succeeds() {
    let mock = Mock::new();
    let started = std::time::Instant::now();
    let answer = mock.post(a_post("[mock:slow:300]")).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(answer.body["status"], "success");
}

#[test]
fn slow_without_a_delay_waits_five_seconds() {
    let expected = Scenario::Slow(std::time::Duration::from_secs(5));
    assert_eq!(Scenario::parse("slow").unwrap(), expected);
    assert_eq!(Scenario::parse(" Slow:5000 ").unwrap(), expected);
}

#[tokio::test]
async fn transport_scenarios_apply_to_reads_and_deletes_while_outcome_ones_are_ignored() {
    let mock = Mock::new();
    let id = mock.post(a_post("read me")).await.id();
    let path = format!("/api/post/{id}");
    let read =
        |scenario: &'static str| call(Method::GET, &path).header("X-Mock-Scenario", scenario);
    assert_eq!(
        read("unauthorized").send(&mock).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        read("rate_limit").send(&mock).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        read("server_error").send(&mock).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        read("not_json").send(&mock).await.status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(read("slow:1").send(&mock).await.status, StatusCode::OK);
    assert_eq!(read("partial").send(&mock).await.body["status"], "success");
    let delete = call(Method::DELETE, "/api/post")
        .header("X-Mock-Scenario", "server_error")
        .json(json!({"id": id}))
        .send(&mock)
        .await;
    assert_eq!(delete.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(mock.get(&path).await.body["status"], "success");
}

// ---- routing ----

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let mock = Mock::new();
    for path in ["/api/nothing", "/", "/api/post/a/b"] {
        mock.get(path)
            .await
            .assert_error(StatusCode::NOT_FOUND, 404);
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_with_allow() {
    let mock = Mock::new();
    let answer = call(Method::PUT, "/api/history")
        .json(json!({"id": "x"}))
        .send(&mock)
        .await;
    answer.assert_error(StatusCode::METHOD_NOT_ALLOWED, 405);
    assert!(answer.header("allow").contains("GET"));
    mock.delete("/api/history", json!({}))
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, 405);
}

#[tokio::test]
async fn serve_answers_over_a_real_socket_and_stops_on_shutdown() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = MockConfig {
        api_key: Some(KEY.to_owned()),
        ..MockConfig::default()
    };
    let server = tokio::spawn(super::serve(listener, config, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/post"))
        .bearer_auth(KEY)
        .header("Profile-Key", "PK1")
        .json(&a_post("over the wire"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let read = client
        .get(format!("{base}/post/{id}"))
        .bearer_auth(KEY)
        .header("profile-key", "PK1")
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), reqwest::StatusCode::OK);
    assert_eq!(read.headers()["x-ratelimit-count"], "2");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
