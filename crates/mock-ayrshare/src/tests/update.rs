//! `PATCH /api/post` (and `PUT`): only a post still pending, paused or awaiting approval.

use super::*;

async fn patch(mock: &Mock, body: Value) -> Answer {
    call(Method::PATCH, "/api/post").json(body).send(mock).await
}

async fn scheduled(mock: &Mock, seconds: i64) -> String {
    let mut body = a_post("later");
    body["scheduleDate"] = json!(mock.in_seconds(seconds));
    mock.post(body).await.id()
}

async fn read(mock: &Mock, id: &str) -> Value {
    mock.get(&format!("/api/post/{id}")).await.body
}

#[tokio::test]
async fn rescheduling_moves_the_publication_and_the_answer_says_so() {
    let mock = Mock::new();
    let id = scheduled(&mock, 60).await;
    let new_date = mock.in_seconds(600);
    let answer = patch(
        &mock,
        json!({"id": id, "scheduleDate": new_date, "notes": "moved"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.body,
        json!({"status": "success", "id": id, "postStatus": "pending", "scheduleDate": new_date})
    );
    mock.advance(120);
    let post = read(&mock, &id).await;
    assert_eq!(post["status"], "pending");
    assert_eq!(post["notes"], "moved");
    assert_eq!(post["scheduleDate"], json!(new_date));
    mock.advance(600);
    assert_eq!(read(&mock, &id).await["status"], "success");
}

#[tokio::test]
async fn put_works_like_patch_as_the_sdks_send_it() {
    let mock = Mock::new();
    let id = scheduled(&mock, 60).await;
    let answer = call(Method::PUT, "/api/post")
        .json(json!({"id": id, "notes": "via put", "source": "npm"}))
        .send(&mock)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(read(&mock, &id).await["notes"], "via put");
}

#[tokio::test]
async fn a_past_schedule_date_publishes_at_once() {
    let mock = Mock::new();
    let id = scheduled(&mock, 3_600).await;
    let answer = patch(
        &mock,
        json!({"id": id, "scheduleDate": mock.in_seconds(-1)}),
    )
    .await;
    assert_eq!(answer.body["postStatus"], "success");
    assert_eq!(
        read(&mock, &id).await["postIds"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn pausing_keeps_a_due_post_unpublished_and_resuming_publishes_it() {
    let mock = Mock::new();
    let id = scheduled(&mock, 60).await;
    let paused = patch(&mock, json!({"id": id, "scheduledPause": true})).await;
    assert_eq!(paused.body["postStatus"], "paused");
    mock.advance(120);
    assert_eq!(read(&mock, &id).await["status"], "paused");
    // Still updatable while paused, and still paused after a notes change.
    patch(&mock, json!({"id": id, "notes": "n"})).await;
    assert_eq!(read(&mock, &id).await["status"], "paused");
    let resumed = patch(&mock, json!({"id": id, "scheduledPause": false})).await;
    assert_eq!(resumed.body["postStatus"], "success", "{}", resumed.text);
}

#[tokio::test]
async fn approving_publishes_now_or_at_the_schedule_date() {
    let mock = Mock::new();
    let mut now_body = a_post("approve me");
    now_body["requiresApproval"] = json!(true);
    let now_id = mock.post(now_body).await.id();
    let still = patch(&mock, json!({"id": now_id, "approved": false})).await;
    assert_eq!(still.body["postStatus"], "awaiting approval");
    let approved = patch(&mock, json!({"id": now_id, "approved": true})).await;
    assert_eq!(approved.body["postStatus"], "success");

    let mut later = a_post("approve me later");
    later["requiresApproval"] = json!(true);
    later["scheduleDate"] = json!(mock.in_seconds(60));
    let later_id = mock.post(later).await.id();
    assert_eq!(read(&mock, &later_id).await["status"], "awaiting approval");
    let approved = patch(&mock, json!({"id": later_id, "approved": true})).await;
    assert_eq!(approved.body["postStatus"], "pending");
    mock.advance(61);
    assert_eq!(read(&mock, &later_id).await["status"], "success");
}

#[tokio::test]
async fn disable_comments_and_youtube_options_are_kept_and_shown() {
    let mock = Mock::new();
    let id = scheduled(&mock, 60).await;
    let options = json!({"title": "My video", "visibility": "unlisted"});
    let answer = patch(
        &mock,
        json!({"id": id, "disableComments": true, "youTubeOptions": options}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let post = read(&mock, &id).await;
    assert_eq!(post["disableComments"], true);
    assert_eq!(post["youTubeOptions"], options);
}

#[tokio::test]
async fn a_published_failed_deleted_or_processing_post_cannot_be_updated() {
    let mock = Mock::new();
    let published = mock.post(a_post("now")).await.id();
    let failed = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "duplicate")
        .json(a_post("dup"))
        .send(&mock)
        .await
        .id();
    let deleted = scheduled(&mock, 60).await;
    mock.delete("/api/post", json!({"id": deleted})).await;
    let processing = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "processing")
        .json(a_post("video"))
        .send(&mock)
        .await
        .id();
    for (id, word) in [
        (published, "success"),
        (failed, "error"),
        (deleted, "deleted"),
        (processing, "processing"),
    ] {
        let answer = patch(&mock, json!({"id": id, "notes": "too late"})).await;
        answer.assert_error(StatusCode::BAD_REQUEST, 385);
        assert_eq!(answer.body["action"], "update");
        assert!(answer.message().contains(word), "{}", answer.text);
        assert!(read(&mock, &id).await.get("notes").is_none());
    }
}

#[tokio::test]
async fn an_approval_post_cannot_be_paused() {
    let mock = Mock::new();
    let id = call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", "approval")
        .json(a_post("hold"))
        .send(&mock)
        .await
        .id();
    patch(&mock, json!({"id": id, "scheduledPause": true}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 385);
    assert_eq!(read(&mock, &id).await["status"], "awaiting approval");
}

#[tokio::test]
async fn bad_update_bodies_are_refused_and_change_nothing() {
    let mock = Mock::new();
    let id = scheduled(&mock, 60).await;
    let bad = [
        json!({"notes": "no id"}),
        json!({"id": id}),
        json!({"id": id, "source": "pypi"}),
        json!({"id": id, "post": "new text"}),
        json!({"id": id, "platforms": ["twitter"]}),
        json!({"id": id, "scheduleDate": "tomorrow"}),
        json!({"id": id, "scheduledPause": "yes"}),
        json!({"id": id, "approved": 1}),
        json!({"id": id, "notes": 5}),
        json!({"id": id, "youTubeOptions": {"visibility": "private"}}),
        json!({"id": id, "youTubeOptions": "x"}),
    ];
    for body in bad {
        patch(&mock, body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, 101);
    }
    patch(&mock, json!({"id": "nope", "notes": "x"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    let other_profile = call(Method::PATCH, "/api/post")
        .header("Profile-Key", "someone-else")
        .json(json!({"id": id, "notes": "x"}))
        .send(&mock)
        .await;
    other_profile.assert_error(StatusCode::NOT_FOUND, 114);
    let post = read(&mock, &id).await;
    assert_eq!(post["status"], "pending");
    assert!(post.get("notes").is_none());
}
