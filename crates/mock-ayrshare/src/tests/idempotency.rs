//! `idempotencyKey`: a profile may use each key once, whatever became of the post.

use super::*;

fn keyed(text: &str, key: &str) -> Value {
    let mut body = a_post(text);
    body["idempotencyKey"] = json!(key);
    body
}

fn history_len(answer: &Answer) -> usize {
    answer.body.as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_reused_key_is_refused_with_the_documented_body_and_nothing_is_published() {
    let mock = Mock::new();
    let first = mock.post(keyed("first", "k-1")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = mock.post(keyed("second, other text", "k-1")).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        again.body,
        json!({
            "action": "post",
            "status": "error",
            "code": 194,
            "message": "Idempotency key already used: a post with this idempotencyKey was already submitted",
            "idempotencyKey": "k-1",
        })
    );
    assert!(again.header("content-type").starts_with("application/json"));
    assert_eq!(mock.post_counts(), (1, 0));
    assert_eq!(history_len(&mock.get("/api/history").await), 1);
}

#[tokio::test]
async fn keys_are_per_profile_and_the_primary_profile_is_one() {
    let mock = Mock::new();
    assert_eq!(
        mock.post(keyed("primary", "shared")).await.status,
        StatusCode::OK
    );
    let team_a = call(Method::POST, "/api/post")
        .header("Profile-Key", "team-a")
        .json(keyed("team a", "shared"))
        .send(&mock)
        .await;
    assert_eq!(team_a.status, StatusCode::OK, "{}", team_a.text);
    let team_a_again = call(Method::POST, "/api/post")
        .header("Profile-Key", "team-a")
        .json(keyed("team a again", "shared"))
        .send(&mock)
        .await;
    team_a_again.assert_error(StatusCode::BAD_REQUEST, 194);
    mock.post(keyed("primary again", "shared"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 194);
}

#[tokio::test]
async fn a_failed_scheduled_or_deleted_post_spends_its_key_too() {
    let mock = Mock::new();
    let failed = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "duplicate")
        .json(keyed("dup", "failed-key"))
        .send(&mock)
        .await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        failed.body["code"],
        Value::Null,
        "a post failure, not a refusal"
    );
    mock.post(keyed("retry", "failed-key"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 194);

    let mut later = keyed("later", "scheduled-key");
    later["scheduleDate"] = json!(mock.in_seconds(3_600));
    let scheduled = mock.post(later).await;
    assert_eq!(scheduled.body["status"], "scheduled");
    mock.delete("/api/post", json!({"id": scheduled.id()}))
        .await;
    mock.post(keyed("again", "scheduled-key"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 194);
}

#[tokio::test]
async fn a_request_refused_before_a_post_exists_does_not_spend_its_key() {
    let mock = Mock::new();
    let mut bad = keyed("to x", "k");
    bad["platforms"] = json!(["x"]);
    mock.post(bad)
        .await
        .assert_error(StatusCode::BAD_REQUEST, 101);
    let outage = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "server_error")
        .json(keyed("outage", "k"))
        .send(&mock)
        .await;
    assert_eq!(outage.status, StatusCode::INTERNAL_SERVER_ERROR);
    let unauthorized = call(Method::POST, "/api/post")
        .without("Authorization")
        .json(keyed("no key", "k"))
        .send(&mock)
        .await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    assert_eq!(mock.post(keyed("fixed", "k")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn posts_without_a_key_are_never_refused_as_reused() {
    let mock = Mock::new();
    assert_eq!(mock.post(a_post("one")).await.status, StatusCode::OK);
    assert_eq!(mock.post(a_post("one")).await.status, StatusCode::OK);
    let mut null_key = a_post("null key");
    null_key["idempotencyKey"] = Value::Null;
    assert_eq!(mock.post(null_key.clone()).await.status, StatusCode::OK);
    assert_eq!(mock.post(null_key).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_key_that_is_not_a_short_non_blank_string_is_a_bad_parameter() {
    let mock = Mock::new();
    for key in [
        json!(""),
        json!("  "),
        json!(42),
        json!(["k"]),
        json!("k".repeat(1_025)),
    ] {
        let mut body = a_post("hi");
        body["idempotencyKey"] = key;
        let answer = mock.post(body).await;
        answer.assert_error(StatusCode::BAD_REQUEST, 101);
        assert!(
            answer.message().contains("idempotencyKey"),
            "{}",
            answer.text
        );
    }
    assert_eq!(
        mock.post(keyed("longest", &"k".repeat(1_024))).await.status,
        StatusCode::OK
    );
    assert_eq!(mock.post_counts(), (1, 0));
}

#[tokio::test]
async fn remembered_keys_are_bounded_like_the_posts_oldest_forgotten_first() {
    let mock = Mock::with_config(MockConfig {
        max_posts: 2,
        ..MockConfig::default()
    });
    for key in ["a", "b", "c"] {
        assert_eq!(mock.post(keyed(key, key)).await.status, StatusCode::OK);
    }
    assert_eq!(mock.state.store().key_count(), 2);
    // "a" was forgotten to make room for "c"; "b" and "c" are still refused.
    mock.post(keyed("b again", "b"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 194);
    mock.post(keyed("c again", "c"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 194);
    assert_eq!(
        mock.post(keyed("a again", "a")).await.status,
        StatusCode::OK
    );
    assert_eq!(mock.state.store().key_count(), 2);
}
