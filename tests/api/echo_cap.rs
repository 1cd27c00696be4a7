//! Every answer that quotes the caller's input quotes at most 64 characters of it, then `…`
//! (`docs/limits.md`): an answer never grows with the request. One case per place that quotes:
//! the fallbacks (404, 405), every route with an id in its path, the query strings, the update
//! body, the docs assets and the webhook's receipt.

use chrono::Utc;
use mosaic_social::domain::webhook::signature;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{Options, TestApp, response_json};

/// Far past the cap, well within the 64 KiB head.
const LONG: usize = 10_000;

const WEBHOOK_SECRET: &str = "whsec-echo-cap";

fn with_webhook_secret() -> Options {
    Options {
        env: vec![("AYRSHARE_WEBHOOK_SECRET", WEBHOOK_SECRET.into())],
        ..Options::default()
    }
}

fn long(c: char) -> String {
    c.to_string().repeat(LONG)
}

/// `text` quotes the input (a run of `c`, after a few other characters such as the path's
/// start) cut at 64 characters in all and followed by the marker.
fn assert_capped(text: &str, c: char, what: &str) {
    let runs = text.split(|x| x != c).filter(|run| !run.is_empty());
    let longest = runs.map(|run| run.chars().count()).max().unwrap_or(0);
    assert!(
        (32..=64).contains(&longest),
        "{what}: quotes {longest} characters: {text}"
    );
    let cut = format!("{}…", c.to_string().repeat(longest));
    assert!(
        text.contains(&cut),
        "{what}: not cut with the marker: {text}"
    );
}

/// The error's `detail`, and every listed problem's field and message, are capped.
async fn assert_error_capped(response: reqwest::Response, status: u16, c: char, what: &str) {
    assert_eq!(response.status().as_u16(), status, "{what}");
    let body = response_json(response).await;
    assert_capped(body["detail"].as_str().unwrap(), c, what);
    // The answer as a whole stays small.
    assert!(
        body.to_string().len() < 2_000,
        "{what}: {} bytes",
        body.to_string().len()
    );
    for problem in body["errors"].as_array().into_iter().flatten() {
        for part in ["field", "message"] {
            let text = problem[part].as_str().unwrap();
            assert!(
                !text.contains(&c.to_string().repeat(65)),
                "{what}: {part}: {text}"
            );
        }
    }
}

async fn send(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap()
}

/// A webhook delivery of `payload`, signed as Ayrshare signs it.
async fn deliver(app: &TestApp, payload: &Value) -> Value {
    let body = serde_json::to_vec(payload).unwrap();
    let secret = SecretString::from(WEBHOOK_SECRET.to_owned());
    let response = app
        .client
        .post(app.url("/webhooks/ayrshare"))
        .header("content-type", "application/json")
        .header("X-Authorization-Content-SHA256", signature(&secret, &body))
        .header(
            "X-Authorization-Timestamp",
            Utc::now().timestamp().to_string(),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response_json(response).await
}

backend_tests! {
    async fn every_answer_quotes_at_most_64_characters_of_the_callers_input(app) [with_webhook_secret()] {
        // The fallbacks: a 60 KB path, a 10 KB method.
        let path = format!("/{}", "p".repeat(60_000));
        assert_error_capped(send(app, Method::GET, &path).await, 404, 'p', "404 path").await;
        let method = Method::from_bytes(long('M').as_bytes()).unwrap();
        assert_error_capped(send(app, method.clone(), "/nowhere").await, 404, 'M', "404 method").await;
        assert_error_capped(send(app, method, "/social/post").await, 405, 'M', "405 method").await;
        let path = format!("/social/{}", "q".repeat(60_000));
        assert_error_capped(send(app, Method::PUT, &path).await, 404, 'q', "404 path, other method").await;

        // Every route with a post id or a tracking id in its path.
        let id = long('i');
        for (method, path) in [
            (Method::GET, format!("/social/post/{id}")),
            (Method::DELETE, format!("/social/post/{id}")),
            (Method::GET, format!("/social/post/{id}/analytics")),
            // No id of ours contains U+0000: refused before the store is asked.
            (Method::GET, format!("/social/post/{id}%00")),
        ] {
            assert_error_capped(send(app, method.clone(), &path).await, 404, 'i', &format!("{method} {path:.40}")).await;
        }
        let response = app.client.patch(app.url(&format!("/social/post/{id}")))
            .bearer_auth(&app.api_key).json(&json!({"notes": "n"})).send().await.unwrap();
        assert_error_capped(response, 404, 'i', "PATCH post id").await;
        let path = format!("/social/post/track/{}", long('t'));
        assert_error_capped(send(app, Method::GET, &path).await, 400, 't', "tracking id").await;

        // The update body: a refused key, however it is spelt.
        let key = format!("{}profileKey", "-".repeat(LONG));
        let response = app.client.patch(app.url("/social/post/some-post"))
            .bearer_auth(&app.api_key).json(&json!({key: "k"})).send().await.unwrap();
        assert_error_capped(response, 400, '-', "update key").await;

        // Query strings: unknown names and every checked value.
        let n = long('n');
        assert_error_capped(send(app, Method::GET, &format!("/social/posts?{n}=1")).await, 400, 'n', "list name").await;
        for name in ["limit", "tracked_status", "platform", "workspace_id", "created_after"] {
            let path = format!("/social/posts?{name}={}", long('v'));
            assert_error_capped(send(app, Method::GET, &path).await, 400, 'v', name).await;
        }
        let path = format!("/social/post/some-post/analytics?{n}=1");
        assert_error_capped(send(app, Method::GET, &path).await, 400, 'n', "analytics name").await;
        let path = format!("/social/post/some-post/analytics?platforms={}", long('v'));
        assert_error_capped(send(app, Method::GET, &path).await, 400, 'v', "analytics platform").await;

        // The create body (capped before this test; kept here so that every place is in one list).
        let response = app.post(&json!({"platforms": [long('x')]})).send().await.unwrap();
        assert_error_capped(response, 400, 'x', "create platform").await;

        // The docs asset's name.
        let path = format!("/docs/{}", long('d'));
        assert_error_capped(send(app, Method::GET, &path).await, 404, 'd', "docs asset").await;

        // The webhook's receipt: the action it ignores, the post id it accepts.
        let ignored = deliver(app, &json!({"action": long('a'), "id": "W1"})).await;
        assert_eq!(ignored["status"], "ignored");
        assert_capped(ignored["detail"].as_str().unwrap(), 'a', "webhook action");
        let accepted = deliver(app, &json!({"action": "scheduled", "id": long('w')})).await;
        assert_eq!(accepted["status"], "accepted");
        assert_capped(accepted["post_id"].as_str().unwrap(), 'w', "webhook post id");
    }
}
