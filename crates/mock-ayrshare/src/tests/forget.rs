//! `--forget`: answers as usual, remembers nothing.

use super::*;

fn forgetful() -> Mock {
    Mock::with_config(MockConfig {
        forget: true,
        rate_limit_max: 2,
        ..MockConfig::default()
    })
}

#[tokio::test]
async fn posts_are_answered_as_usual_and_remembered_nowhere() {
    let mock = forgetful();
    let answer = mock.post(a_post("fast")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["status"], "success");
    assert_eq!(answer.body["postIds"].as_array().unwrap().len(), 2);
    assert_eq!(answer.id().len(), 20);
    mock.get(&format!("/api/post/{}", answer.id()))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    assert_eq!(mock.get("/api/history").await.body, json!([]));
    assert_eq!(mock.post_counts(), (0, 0));
    assert_eq!(mock.profile_count(), 0);
}

#[tokio::test]
async fn keys_are_not_remembered_and_there_is_no_rate_limit() {
    let mock = forgetful();
    for _ in 0..5 {
        let mut body = a_post("same key");
        body["idempotencyKey"] = json!("k");
        let answer = mock.post(body).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert!(answer.headers.get("x-ratelimit-count").is_none());
    }
    assert_eq!(mock.state.store().key_count(), 0);
}

#[tokio::test]
async fn scenarios_and_answer_forms_still_apply() {
    let mock = forgetful();
    let partial = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "wrapped,partial")
        .json(a_post("p"))
        .send(&mock)
        .await;
    assert_eq!(partial.status, StatusCode::BAD_REQUEST);
    assert_eq!(partial.body["posts"][0]["errors"][0]["code"], 156);
    let mut later = a_post("later");
    later["scheduleDate"] = json!(mock.in_seconds(60));
    assert_eq!(mock.post(later).await.body["status"], "scheduled");
    let approval = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "approval")
        .json(a_post("a"))
        .send(&mock)
        .await;
    assert_eq!(approval.body["postIds"], json!([]));
    mock.post(json!({"post": "x", "platforms": ["x"]}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 101);
    assert_eq!(mock.post_counts(), (0, 0));
}

#[tokio::test]
async fn the_stats_count_every_post_received_with_an_accepted_key() {
    let mock = forgetful();
    assert_eq!(
        mock.get("/mock/stats").await.body,
        json!({"posts_received": 0})
    );
    mock.post(a_post("one")).await;
    mock.post(a_post("two")).await;
    // Refused for its body: it was received all the same.
    mock.post(json!({"post": "x", "platforms": ["x"]}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 101);
    // Refused for its key: not counted.
    call(Method::POST, "/api/post")
        .without("Authorization")
        .json(a_post("three"))
        .send(&mock)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, 102);
    let stats = mock.get("/mock/stats").await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.text);
    assert_eq!(stats.body, json!({"posts_received": 3}));
    call(Method::GET, "/mock/stats")
        .without("Authorization")
        .send(&mock)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, 102);
}
