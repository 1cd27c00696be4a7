//! The publishing timer and the signed `scheduled` webhooks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

use super::*;
use crate::WebhookTarget;

/// A webhook receiver on a real socket that answers 500 to its first `fail_first` deliveries.
pub(super) struct Receiver {
    pub(super) url: String,
    deliveries: mpsc::UnboundedReceiver<(HeaderMap, Vec<u8>)>,
}

type ReceiverState = Arc<(
    AtomicUsize,
    usize,
    mpsc::UnboundedSender<(HeaderMap, Vec<u8>)>,
)>;

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let (count, fail_first, sender) = &*state;
    let seen = count.fetch_add(1, Ordering::SeqCst);
    let _ = sender.send((headers, body.to_vec()));
    if seen < *fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

pub(super) async fn receiver(fail_first: usize) -> Receiver {
    let (sender, deliveries) = mpsc::unbounded_channel();
    let state: ReceiverState = Arc::new((AtomicUsize::new(0), fail_first, sender));
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, deliveries }
}

impl Receiver {
    /// The next delivery: its headers and its body as received and as JSON.
    pub(super) async fn next(&mut self) -> (HeaderMap, Vec<u8>, Value) {
        let (headers, raw) = tokio::time::timeout(Duration::from_secs(15), self.deliveries.recv())
            .await
            .expect("no webhook delivery within 15 s")
            .unwrap();
        let body = serde_json::from_slice(&raw).unwrap();
        (headers, raw, body)
    }

    /// No further delivery arrives while `settle` runs (a webhook would be sent within it).
    pub(super) async fn assert_nothing_more(&mut self) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            self.deliveries.try_recv().is_err(),
            "an unexpected webhook was delivered"
        );
    }
}

pub(super) fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap())
}

fn later(mock: &Mock, text: &str, seconds: i64) -> Value {
    let mut body = a_post(text);
    body["scheduleDate"] = json!(mock.in_seconds(seconds));
    body
}

pub(super) async fn register(mock: &Mock, profile: Option<&str>, body: Value) -> Answer {
    let mut request = call(Method::POST, "/api/hook/webhook").json(body);
    if let Some(profile) = profile {
        request = request.header("Profile-Key", profile);
    }
    request.send(mock).await
}

/// Runs the publishing timer of `mock` in the background, as `serve` does.
/// The mock's settings with a configured webhook: `url`, signed with `secret` if one is given.
fn delivering_to(url: &str, secret: Option<&str>) -> MockConfig {
    MockConfig {
        webhook: Some(WebhookTarget {
            url: url.to_owned(),
            secret: secret.map(str::to_owned),
        }),
        ..MockConfig::default()
    }
}

fn start_timer(mock: &Mock) -> tokio::task::JoinHandle<()> {
    tokio::spawn(crate::publish_on_time(mock.state.clone()))
}

#[tokio::test]
async fn a_registered_webhook_gets_the_signed_scheduled_action_when_the_timer_publishes() {
    let mut hook = receiver(0).await;
    let mock = Mock::new();
    let answer = register(
        &mock,
        None,
        json!({"action": "scheduled", "url": hook.url, "secret": "s3cret", "source": "pypi"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["status"], "success");
    let timer = start_timer(&mock);
    let scheduled = mock.post(later(&mock, "on time", 60)).await;
    let id = scheduled.id();
    mock.advance(61);
    // No request: the timer alone publishes it and sends the webhook.
    let (headers, raw, body) = hook.next().await;
    let published_at = *mock.now.lock().unwrap();
    assert_eq!(body["action"], "scheduled");
    assert_eq!(body["status"], "success");
    assert_eq!(body["code"], 200);
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["refId"], scheduled.body["refId"]);
    assert_eq!(body["errors"], json!([]));
    assert_eq!(body["postIds"].as_array().unwrap().len(), 2);
    assert_eq!(body["url"], hook.url.as_str());
    assert_eq!(body["hookId"].as_str().unwrap().len(), 20);
    assert!(body["created"].is_string());
    assert!(body.get("subAction").is_none());
    assert_eq!(
        header(&headers, "x-authorization-timestamp"),
        Some(published_at.timestamp().to_string().as_str())
    );
    assert_eq!(
        header(&headers, "x-authorization-content-sha256"),
        Some(hmac_hex("s3cret", &raw).as_str())
    );
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    // The post reads as published, with the ids the webhook named.
    let read = mock.get(&format!("/api/post/{id}")).await;
    assert_eq!(read.body["status"], "success");
    assert_eq!(read.body["postIds"], body["postIds"]);
    timer.abort();
}

#[tokio::test]
async fn a_failed_post_and_a_failed_delivery_are_retried_with_the_same_body() {
    let mut hook = receiver(2).await;
    let mock = Mock::with_config(delivering_to(&hook.url, Some("k")));
    let mut body = later(&mock, "fails on facebook", 30);
    body["post"] = json!("fails [mock:partial]");
    mock.post(body).await;
    mock.advance(31);
    // A request that looks at the posts publishes it too (no timer here).
    mock.get("/api/history").await;
    let (_, first_raw, first) = hook.next().await;
    let (_, second_raw, _) = hook.next().await;
    let (headers, third_raw, _) = hook.next().await;
    assert_eq!(first["status"], "error");
    assert_eq!(first["code"], 400);
    assert_eq!(first["errors"][0]["code"], 156);
    assert_eq!(first_raw, second_raw);
    assert_eq!(second_raw, third_raw);
    assert_eq!(
        header(&headers, "x-authorization-content-sha256"),
        Some(hmac_hex("k", &third_raw).as_str())
    );
    hook.assert_nothing_more().await;
}

#[tokio::test]
async fn a_delivery_is_given_up_after_four_attempts() {
    let mut hook = receiver(usize::MAX).await;
    let mock = Mock::with_config(delivering_to(&hook.url, None));
    mock.post(later(&mock, "x", 1)).await;
    mock.advance(2);
    mock.get("/api/history").await;
    for _ in 0..4 {
        hook.next().await;
    }
    hook.assert_nothing_more().await;
}

#[tokio::test]
async fn without_a_secret_deliveries_are_unsigned_but_timestamped() {
    let mut hook = receiver(0).await;
    let mock = Mock::with_config(delivering_to(&hook.url, None));
    mock.post(later(&mock, "x", 1)).await;
    mock.advance(2);
    mock.get("/api/history").await;
    let (headers, _, _) = hook.next().await;
    assert!(header(&headers, "x-authorization-timestamp").is_some());
    assert!(header(&headers, "x-authorization-content-sha256").is_none());
}

#[tokio::test]
async fn immediate_posts_send_no_webhook() {
    let mut hook = receiver(0).await;
    let mock = Mock::with_config(delivering_to(&hook.url, None));
    mock.post(a_post("now")).await;
    call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "partial")
        .json(a_post("now, partly"))
        .send(&mock)
        .await;
    mock.get("/api/history").await;
    hook.assert_nothing_more().await;
}

#[tokio::test]
async fn a_profile_hook_wins_over_the_primary_one_which_wins_over_the_configured_one() {
    let mut configured = receiver(0).await;
    let mut primary = receiver(0).await;
    let mut team = receiver(0).await;
    let mock = Mock::with_config(delivering_to(&configured.url, None));
    // Before any registration, everything goes to the configured webhook.
    mock.post(later(&mock, "first", 1)).await;
    mock.advance(2);
    mock.get("/api/history").await;
    assert_eq!(configured.next().await.2["status"], "success");

    register(
        &mock,
        None,
        json!({"action": "scheduled", "url": primary.url}),
    )
    .await;
    register(
        &mock,
        Some("team"),
        json!({"action": "scheduled", "url": team.url}),
    )
    .await;
    let as_profile = |profile: &'static str, body: Value| {
        call(Method::POST, "/api/post")
            .header("Profile-Key", profile)
            .json(body)
    };
    let team_post = as_profile("team", later(&mock, "team", 1))
        .send(&mock)
        .await;
    let other_post = as_profile("other", later(&mock, "other", 1))
        .send(&mock)
        .await;
    mock.advance(2);
    mock.get("/api/history").await;
    assert_eq!(team.next().await.2["id"], team_post.id().as_str());
    assert_eq!(primary.next().await.2["id"], other_post.id().as_str());
    configured.assert_nothing_more().await;
}

#[tokio::test]
async fn processing_tiktok_posts_send_the_tiktok_published_sub_action() {
    let mut hook = receiver(0).await;
    let mock = Mock::with_config(delivering_to(&hook.url, None));
    let mut body = a_post("video");
    body["platforms"] = json!(["tiktok"]);
    let answer = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "processing:5")
        .json(body)
        .send(&mock)
        .await;
    mock.advance(5);
    mock.get("/api/history").await;
    let (_, _, event) = hook.next().await;
    assert_eq!(event["subAction"], "tikTokPublished");
    assert_eq!(event["id"], answer.id().as_str());
    assert_eq!(event["postIds"][0]["platform"], "tiktok");
}

#[tokio::test]
async fn registering_checks_the_action_and_the_url_and_listing_hides_the_secret() {
    let mock = Mock::new();
    let bad = [
        (
            json!({"action": "feed", "url": "https://example.com/h"}),
            900,
        ),
        (json!({"url": "https://example.com/h"}), 101),
        (json!({"action": "scheduled"}), 101),
        (
            json!({"action": "scheduled", "url": "ftp://example.com/h"}),
            101,
        ),
        (json!({"action": "scheduled", "url": "not a url"}), 101),
        (
            json!({"action": "scheduled", "url": "https://example.com/h", "secret": 5}),
            101,
        ),
    ];
    for (body, code) in bad {
        register(&mock, None, body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, code);
    }
    let ok = register(
        &mock,
        None,
        json!({"action": "scheduled", "url": "https://example.com/h", "secret": "hidden"}),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    let listed = mock.get("/api/hook/webhook").await;
    assert_eq!(
        listed.body,
        json!({"status": "success", "webhooks": [
            {"action": "scheduled", "url": "https://example.com/h", "signed": true}
        ]})
    );
    assert!(!listed.text.contains("hidden"));
    let removed = mock
        .delete("/api/hook/webhook", json!({"action": "scheduled"}))
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    let again = mock
        .delete("/api/hook/webhook", json!({"action": "scheduled"}))
        .await;
    again.assert_error(StatusCode::NOT_FOUND, 404);
    assert_eq!(
        mock.get("/api/hook/webhook").await.body["webhooks"],
        json!([])
    );
}

#[test]
fn the_webhook_target_debug_hides_the_secret() {
    let target = WebhookTarget {
        url: "https://example.com/h".to_owned(),
        secret: Some("very-secret".to_owned()),
    };
    let config = MockConfig {
        webhook: Some(target.clone()),
        ..MockConfig::default()
    };
    assert!(!format!("{target:?}").contains("very-secret"));
    assert!(!format!("{config:?}").contains("very-secret"));
    assert_eq!(
        crate::webhook::signature("very-secret", b"{}"),
        hmac_hex("very-secret", b"{}")
    );
}

#[tokio::test]
async fn serve_publishes_a_scheduled_post_on_time_and_delivers_its_webhook_with_no_request() {
    let mut hook = receiver(0).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api", listener.local_addr().unwrap());
    let config = delivering_to(&hook.url, Some("s"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve(listener, config, async {
        let _ = stopped.await;
    }));
    let due = (Utc::now() + TimeDelta::seconds(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let created: Value = reqwest::Client::new()
        .post(format!("{base}/post"))
        .bearer_auth(KEY)
        .json(&json!({"post": "soon", "platforms": ["linkedin"], "scheduleDate": due}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["status"], "scheduled");
    let (headers, raw, event) = hook.next().await;
    assert_eq!(event["id"], created["id"]);
    assert_eq!(event["status"], "success");
    assert_eq!(
        header(&headers, "x-authorization-content-sha256"),
        Some(hmac_hex("s", &raw).as_str())
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
