//! `PUT /api/post/retry` and `POST /api/validate/post`.

use super::webhooks::{receiver, register};
use super::*;

async fn retry(mock: &Mock, id: &str) -> Answer {
    call(Method::PUT, "/api/post/retry")
        .json(json!({"id": id}))
        .send(mock)
        .await
}

async fn validate(mock: &Mock, body: Value) -> Answer {
    call(Method::POST, "/api/validate/post")
        .json(body)
        .send(mock)
        .await
}

#[tokio::test]
async fn a_failed_post_is_retried_once_pending_then_published_with_its_webhook() {
    let mut hook = receiver(0).await;
    let mock = Mock::new();
    register(&mock, None, json!({"action": "scheduled", "url": hook.url})).await;
    call(Method::PUT, "/mock/profiles/team/faults/facebook")
        .json(json!({"fault": "expired_token"}))
        .send(&mock)
        .await;
    let failed = call(Method::POST, "/api/post")
        .header("Profile-Key", "team")
        .json(a_post("retry me"))
        .send(&mock)
        .await;
    assert_eq!(failed.body["status"], "error", "{}", failed.text);
    let id = failed.id();
    let twitter = failed.body["postIds"][0].clone();
    call(Method::DELETE, "/mock/profiles/team/faults/facebook")
        .send(&mock)
        .await;
    let team = |method: Method, path: &str| call(method, path).header("Profile-Key", "team");

    let retried = team(Method::PUT, "/api/post/retry")
        .json(json!({"id": id, "source": "pypi"}))
        .send(&mock)
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    assert_eq!(
        retried.body,
        json!({"status": "success", "id": id, "postStatus": "pending"})
    );
    let read = team(Method::GET, &format!("/api/post/{id}"))
        .send(&mock)
        .await;
    assert_eq!(read.body["status"], "pending");

    // The clock control makes the retry's wait instant.
    call(Method::POST, "/mock/clock")
        .json(json!({"advance_secs": 5}))
        .send(&mock)
        .await;
    let (_, _, body) = hook.next().await;
    assert_eq!(body["action"], "scheduled");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["status"], "success");
    let read = team(Method::GET, &format!("/api/post/{id}"))
        .send(&mock)
        .await;
    assert_eq!(read.body["status"], "success", "{}", read.text);
    assert_eq!(
        read.body["postIds"][0], twitter,
        "what succeeded keeps its id"
    );
    assert_eq!(read.body["postIds"][1]["platform"], "facebook");
    assert_eq!(read.body["errors"], json!([]));

    let again = team(Method::PUT, "/api/post/retry")
        .json(json!({"id": id}))
        .send(&mock)
        .await;
    again.assert_error(StatusCode::BAD_REQUEST, 387);
}

#[tokio::test]
async fn a_retry_that_fails_again_cannot_be_retried_a_second_time() {
    let mock = Mock::new();
    let id = mock.post(a_post("dup [mock:duplicate]")).await.id();
    call(Method::PUT, "/mock/profiles/primary-faults/faults/all")
        .json(json!({"fault": "not_linked"}))
        .send(&mock)
        .await;
    assert_eq!(retry(&mock, &id).await.status, StatusCode::OK);
    mock.advance(5);
    // The duplicate scenario is not chosen again: the retry publishes.
    assert_eq!(
        mock.get(&format!("/api/post/{id}")).await.body["status"],
        "success"
    );

    let failed = call(Method::POST, "/api/post")
        .header("Profile-Key", "primary-faults")
        .json(a_post("never linked"))
        .send(&mock)
        .await;
    let id = failed.id();
    let first = call(Method::PUT, "/api/post/retry")
        .header("Profile-Key", "primary-faults")
        .json(json!({"id": id}))
        .send(&mock)
        .await;
    assert_eq!(first.status, StatusCode::OK);
    mock.advance(5);
    let read = call(Method::GET, &format!("/api/post/{id}"))
        .header("Profile-Key", "primary-faults")
        .send(&mock)
        .await;
    assert_eq!(
        read.body["status"], "error",
        "the fault stays: {}",
        read.text
    );
    let second = call(Method::PUT, "/api/post/retry")
        .header("Profile-Key", "primary-faults")
        .json(json!({"id": id}))
        .send(&mock)
        .await;
    second.assert_error(StatusCode::BAD_REQUEST, 388);
}

#[tokio::test]
async fn only_a_failed_post_of_the_profile_can_be_retried() {
    let mock = Mock::new();
    let ok = mock.post(a_post("fine")).await.id();
    retry(&mock, &ok)
        .await
        .assert_error(StatusCode::BAD_REQUEST, 387);
    retry(&mock, "unknown")
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    call(Method::PUT, "/api/post/retry")
        .json(json!({}))
        .send(&mock)
        .await
        .assert_error(StatusCode::BAD_REQUEST, 101);
    let failed = mock.post(a_post("p [mock:partial]")).await.id();
    call(Method::PUT, "/api/post/retry")
        .header("Profile-Key", "other")
        .json(json!({"id": failed}))
        .send(&mock)
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
}

#[tokio::test]
async fn validate_applies_the_checks_of_post_and_stores_nothing() {
    let mock = Mock::new();
    let ok = validate(&mock, a_post("fine")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["status"], "success");
    assert!(ok.body["message"].is_string());
    assert!(ok.body.get("warnings").is_none());
    let refused = validate(&mock, json!({"post": "x", "platforms": ["x"]})).await;
    refused.assert_error(StatusCode::BAD_REQUEST, 136);
    assert_eq!(refused.body["action"], "post");
    assert!(
        refused.message().contains("use \"twitter\""),
        "{}",
        refused.text
    );
    validate(&mock, json!({"platforms": ["twitter"]}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 136);
    let body = json!({"post": "k", "platforms": ["twitter"], "idempotencyKey": "once"});
    validate(&mock, body.clone()).await;
    assert_eq!(mock.post_counts(), (0, 0));
    assert_eq!(
        mock.post(body).await.status,
        StatusCode::OK,
        "validate spent no key"
    );
}

#[tokio::test]
async fn validate_warns_of_networks_the_post_would_fail_on() {
    let mock = Mock::new();
    call(Method::PUT, "/mock/profiles/team/faults/twitter")
        .json(json!({"fault": "expired_token"}))
        .send(&mock)
        .await;
    let answer = call(Method::POST, "/api/validate/post")
        .header("Profile-Key", "team")
        .json(a_post("x"))
        .send(&mock)
        .await;
    assert_eq!(answer.body["status"], "success");
    assert_eq!(
        answer.body["warnings"],
        json!([{"code": 272, "platform": "twitter",
                "message": "X/Twitter authorization error: the token expired or was revoked. Please unlink and re-link the account."}])
    );
}
