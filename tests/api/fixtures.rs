//! Posts to act on, for the tests of what comes after the create (list, update, delete,
//! analytics): a wiremock Ayrshare that answers every create with a fresh post id, and helpers
//! to create posts through the API and to read what Ayrshare received.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Respond, ResponseTemplate};

use mosaic_social::store::NewTracking;
use uuid::Uuid;

use crate::support::{TestApp, response_json};

/// Answers each `POST /post` as Ayrshare would, with ids of its own: `scheduled` (`SCHED-n`)
/// when the post has a `scheduleDate`, else published on every platform (`POST-n`).
#[derive(Default)]
struct Creates {
    next: AtomicUsize,
}

impl Respond for Creates {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        if let Some(date) = body.get("scheduleDate") {
            return ResponseTemplate::new(200).set_body_json(json!({
                "status": "scheduled", "id": format!("SCHED-{n}"), "scheduleDate": date
            }));
        }
        let post_ids: Vec<Value> = body["platforms"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, platform)| {
                let name = platform.as_str().unwrap_or("");
                json!({"status": "success", "id": format!("{n}0{i}"), "platform": name,
                       "postUrl": format!("https://{name}.example/{n}0{i}")})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "status": "success", "errors": [], "postIds": post_ids, "id": format!("POST-{n}")
        }))
    }
}

/// Makes the wiremock Ayrshare answer every create.
pub async fn answer_creates(app: &TestApp) {
    Mock::given(method("POST"))
        .and(path("/api/post"))
        .respond_with(Creates::default())
        .mount(&app.ayrshare)
        .await;
}

/// Creates a post through the API (Ayrshare must be answering creates) and returns the answer.
pub async fn create(app: &TestApp, body: Value) -> Value {
    let response = app.post(&body).send().await.unwrap();
    assert_eq!(response.status(), 200, "create {body}");
    response_json(response).await
}

/// A post scheduled for 2031 on `platforms`: (post id, tracking id).
pub async fn scheduled(app: &TestApp, platforms: Value) -> (String, String) {
    ids(&create(
        app,
        json!({"post": "later", "platforms": platforms, "schedule_date": "2031-01-01T00:00:00Z"}),
    )
    .await)
}

/// A post published on `platforms`: (post id, tracking id).
pub async fn published(app: &TestApp, platforms: Value) -> (String, String) {
    ids(&create(app, json!({"post": "now", "platforms": platforms})).await)
}

fn ids(body: &Value) -> (String, String) {
    (
        body["post_id"].as_str().unwrap().to_owned(),
        body["tracking_id"].as_str().unwrap().to_owned(),
    )
}

/// The JSON bodies Ayrshare received on `verb path`, in order.
pub async fn received(app: &TestApp, verb: &str, route: &str) -> Vec<(Value, wiremock::Request)> {
    app.ayrshare
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == route)
        .map(|r| (serde_json::from_slice(&r.body).unwrap_or(Value::Null), r))
        .collect()
}

/// The record with this tracking id, from the database.
pub async fn record(app: &TestApp, tracking_id: &str) -> mosaic_social::store::TrackingRecord {
    app.store
        .find_tracking(app.organization_id, tracking_id.parse().unwrap())
        .await
        .unwrap()
        .expect("the record exists")
}

/// A record as a create writes it before calling Ayrshare, in the app's organization, primary
/// workspace and key, with no idempotency key; a test sets what its case needs.
pub async fn new_tracking(app: &TestApp, text: &str) -> NewTracking {
    let keys = app.store.list_api_keys(app.organization_id).await.unwrap();
    NewTracking {
        id: Uuid::new_v4(),
        organization_id: app.organization_id,
        workspace_id: app.primary_workspace_id,
        api_key_id: keys[0].id,
        post: text.to_owned(),
        platforms: vec!["x".into()],
        media_urls: Vec::new(),
        schedule_date: None,
        extra: json!({}),
        idempotency_key: None,
        request_fingerprint: None,
        ayrshare_idempotency_key: None,
        timezone: None,
    }
}
