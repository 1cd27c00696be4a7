//! Comments: reading, writing, replying, deleting, the audience's comments and `lost`.

use super::suite::{impatient, served};
use super::*;

async fn published(mock: &Mock, platforms: Value) -> String {
    mock.post(json!({"post": "to comment on", "platforms": platforms}))
        .await
        .id()
}

async fn comment(mock: &Mock, body: Value) -> Answer {
    call(Method::POST, "/api/comments")
        .json(body)
        .send(mock)
        .await
}

async fn seed(mock: &Mock, id: &str, body: Value) -> Answer {
    call(Method::POST, &format!("/mock/comments/{id}"))
        .json(body)
        .send(mock)
        .await
}

#[tokio::test]
async fn comments_are_listed_per_network_with_an_empty_list_and_a_missing_network() {
    let mock = Mock::new();
    let id = published(&mock, json!(["facebook", "instagram", "telegram"])).await;
    let audience = seed(
        &mock,
        &id,
        json!({"platform": "facebook", "comment": "Nice!", "username": "fan", "like_count": 3}),
    )
    .await;
    assert_eq!(audience.status, StatusCode::OK, "{}", audience.text);
    let parent = audience.body["commentId"].as_str().unwrap().to_owned();
    seed(
        &mock,
        &id,
        json!({"platform": "facebook", "comment": "Agreed", "reply_to": parent}),
    )
    .await;

    let listed = mock.get(&format!("/api/comments/{id}")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["status"], "success");
    assert_eq!(
        listed.body["instagram"],
        json!([]),
        "published there, no comment yet"
    );
    assert!(
        listed.body.get("telegram").is_none(),
        "Ayrshare reads no Telegram comments"
    );
    let facebook = &listed.body["facebook"][0];
    assert_eq!(facebook["comment"], "Nice!");
    assert_eq!(facebook["commentId"], parent.as_str());
    assert_eq!(facebook["from"]["username"], "fan");
    assert_eq!(facebook["username"], "fan");
    assert_eq!(facebook["likeCount"], 3);
    assert_eq!(facebook["hidden"], false);
    assert_eq!(facebook["platform"], "facebook");
    let native = mock.get(&format!("/api/post/{id}")).await.body["postIds"][0]["id"].clone();
    assert_eq!(facebook["postId"], native);
    assert_eq!(facebook["replies"][0]["comment"], "Agreed");
    // The npm SDK's form.
    let by_query = mock.get(&format!("/api/comments?id={id}&source=npm")).await;
    assert_eq!(by_query.body, listed.body);
}

#[tokio::test]
async fn a_comment_is_added_per_network_and_read_back() {
    let mock = Mock::new();
    let id = published(&mock, json!(["twitter", "linkedin"])).await;
    let answer = comment(
        &mock,
        json!({"id": id, "comment": "Thanks all", "platforms": ["twitter"]}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["status"], "success");
    let twitter = &answer.body["twitter"];
    assert_eq!(twitter["status"], "success");
    assert_eq!(twitter["comment"], "Thanks all");
    assert_eq!(twitter["platform"], "twitter");
    assert!(twitter["commentId"].is_string());
    assert!(answer.body.get("linkedin").is_none());
    let listed = mock.get(&format!("/api/comments/{id}")).await;
    assert_eq!(listed.body["twitter"][0]["commentId"], twitter["commentId"]);
    assert_eq!(listed.body["linkedin"], json!([]));

    // Without platforms: every network of the post that takes comments.
    let all = comment(&mock, json!({"id": id, "comment": "Both"})).await;
    assert_eq!(all.body["twitter"]["status"], "success");
    assert_eq!(all.body["linkedin"]["status"], "success");
}

#[tokio::test]
async fn networks_that_cannot_take_a_comment_are_refused_one_by_one() {
    let mock = Mock::new();
    let id = published(&mock, json!(["threads", "facebook"])).await;
    let mixed = comment(
        &mock,
        json!({"id": id, "comment": "hi", "platforms": ["threads", "facebook", "youtube"]}),
    )
    .await;
    assert_eq!(
        mixed.status,
        StatusCode::OK,
        "one network took it: {}",
        mixed.text
    );
    assert_eq!(mixed.body["status"], "error");
    assert_eq!(mixed.body["facebook"]["status"], "success");
    let refused: Vec<(&str, u64)> = mixed.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["platform"].as_str().unwrap(), e["code"].as_u64().unwrap()))
        .collect();
    assert_eq!(refused, [("threads", 389), ("youtube", 389)]);
    let none = comment(
        &mock,
        json!({"id": id, "comment": "hi", "platforms": ["threads"]}),
    )
    .await;
    none.assert_failed(StatusCode::BAD_REQUEST, 389);
    let media = comment(
        &mock,
        json!({"id": published(&mock, json!(["instagram"])).await, "comment": "pic",
               "mediaUrls": ["https://cdn.test/a.png"]}),
    )
    .await;
    media.assert_failed(StatusCode::BAD_REQUEST, 389);
}

#[tokio::test]
async fn a_comment_on_an_unknown_or_unpublished_post_or_a_bad_body_is_refused() {
    let mock = Mock::new();
    comment(&mock, json!({"id": "nope", "comment": "hi"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    let mut scheduled = a_post("later");
    scheduled["scheduleDate"] = json!(mock.in_seconds(600));
    let pending = mock.post(scheduled).await.id();
    comment(&mock, json!({"id": pending, "comment": "hi"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 389);
    let id = published(&mock, json!(["twitter"])).await;
    for body in [
        json!({"id": id}),
        json!({"id": id, "comment": ""}),
        json!({"comment": "hi"}),
        json!({"id": id, "comment": "hi", "platforms": ["x"]}),
        json!({"id": id, "comment": "hi", "mediaUrls": ["a", "b"]}),
    ] {
        comment(&mock, body.clone())
            .await
            .assert_error(StatusCode::BAD_REQUEST, 101);
    }
    // Another profile does not see the post.
    call(Method::POST, "/api/comments")
        .header("Profile-Key", "other")
        .json(json!({"id": id, "comment": "hi"}))
        .send(&mock)
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
}

#[tokio::test]
async fn faults_refuse_comments_as_they_refuse_posts() {
    let mock = Mock::new();
    let id = published(&mock, json!(["twitter", "facebook"])).await;
    call(Method::PUT, "/mock/profiles/team/faults/twitter")
        .json(json!({"fault": "expired_token"}))
        .send(&mock)
        .await;
    // The fault is on another profile: nothing changes here.
    assert_eq!(
        comment(&mock, json!({"id": id, "comment": "a"})).await.body["status"],
        "success"
    );
    call(Method::PUT, "/mock/profiles/team/faults/twitter")
        .json(json!({"fault": "rate_limited"}))
        .send(&mock)
        .await;
    let team_post = call(Method::POST, "/api/post")
        .header("Profile-Key", "team")
        .json(json!({"post": "p", "platforms": ["facebook", "twitter"]}))
        .send(&mock)
        .await;
    let team_id = team_post.id();
    let limited = call(Method::POST, "/api/comments")
        .header("Profile-Key", "team")
        .json(json!({"id": team_id, "comment": "c", "platforms": ["facebook", "twitter"]}))
        .send(&mock)
        .await;
    // Twitter failed when posting, so it is refused as not published there.
    assert_eq!(
        limited.body["facebook"]["status"], "success",
        "{}",
        limited.text
    );
    assert_eq!(limited.body["errors"][0]["code"], 389);
    call(Method::PUT, "/mock/profiles/team/faults/facebook")
        .json(json!({"fault": "rate_limited"}))
        .send(&mock)
        .await;
    let all_limited = call(Method::POST, "/api/comments")
        .header("Profile-Key", "team")
        .json(json!({"id": team_id, "comment": "c", "platforms": ["facebook"]}))
        .send(&mock)
        .await;
    assert_eq!(
        all_limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        all_limited.text
    );
    assert_eq!(all_limited.body["errors"][0]["code"], 435);
}

#[tokio::test]
async fn a_reply_goes_under_its_comment_on_the_same_network() {
    let mock = Mock::new();
    let id = published(&mock, json!(["instagram", "bluesky"])).await;
    let parent = seed(
        &mock,
        &id,
        json!({"platform": "instagram", "comment": "Q?"}),
    )
    .await
    .body["commentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = call(Method::POST, "/api/comments/reply")
        .json(json!({"commentId": parent, "comment": "A!", "platforms": ["instagram"]}))
        .send(&mock)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["instagram"]["status"], "success");
    let listed = mock.get(&format!("/api/comments/{id}")).await;
    assert_eq!(listed.body["instagram"][0]["replies"][0]["comment"], "A!");
    assert_eq!(
        listed.body["instagram"][0]["replies"][0]["commentId"],
        reply.body["instagram"]["commentId"]
    );

    let reply_to = |platforms: Value| {
        call(Method::POST, "/api/comments/reply")
            .json(json!({"commentId": parent, "comment": "x", "platforms": platforms}))
    };
    reply_to(json!(["bluesky"]))
        .send(&mock)
        .await
        .assert_error(StatusCode::BAD_REQUEST, 101);
    reply_to(json!(["instagram", "bluesky"]))
        .send(&mock)
        .await
        .assert_error(StatusCode::BAD_REQUEST, 101);
    let bluesky = seed(&mock, &id, json!({"platform": "bluesky", "comment": "b"})).await;
    call(Method::POST, "/api/comments/reply")
        .json(json!({"commentId": bluesky.body["commentId"], "comment": "x", "platforms": ["bluesky"]}))
        .send(&mock)
        .await
        .assert_failed(StatusCode::BAD_REQUEST, 389);
    call(Method::POST, "/api/comments/reply")
        .json(json!({"commentId": "nope", "comment": "x", "platforms": ["instagram"]}))
        .send(&mock)
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
    call(Method::POST, "/api/comments/reply")
        .header("Profile-Key", "other")
        .json(json!({"commentId": parent, "comment": "x", "platforms": ["instagram"]}))
        .send(&mock)
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
}

#[tokio::test]
async fn a_tiktok_reply_needs_the_video_id() {
    let mock = Mock::new();
    let id = published(&mock, json!(["tiktok"])).await;
    let parent = seed(&mock, &id, json!({"platform": "tiktok", "comment": "wow"})).await;
    let body = |video: Option<&str>| {
        let mut body = json!({"commentId": parent.body["commentId"], "comment": "ty", "platforms": ["tiktok"]});
        if let Some(video) = video {
            body["videoId"] = json!(video);
        }
        body
    };
    call(Method::POST, "/api/comments/reply")
        .json(body(None))
        .send(&mock)
        .await
        .assert_error(StatusCode::BAD_REQUEST, 101);
    let ok = call(Method::POST, "/api/comments/reply")
        .json(body(Some("7123")))
        .send(&mock)
        .await;
    assert_eq!(ok.body["tiktok"]["status"], "success", "{}", ok.text);
}

#[tokio::test]
async fn deleting_by_post_id_removes_every_comment_sent_and_by_comment_id_one() {
    let mock = Mock::new();
    let id = published(&mock, json!(["twitter", "facebook"])).await;
    let first = comment(&mock, json!({"id": id, "comment": "one"})).await;
    comment(
        &mock,
        json!({"id": id, "comment": "two", "platforms": ["twitter"]}),
    )
    .await;
    let audience = seed(&mock, &id, json!({"platform": "twitter", "comment": "fan"})).await;

    let facebook_id = first.body["facebook"]["commentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = mock
        .delete(
            &format!("/api/comments/{facebook_id}"),
            json!({"source": "pypi"}),
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(
        one.body,
        json!({"status": "success", "facebook": {"action": "delete", "status": "success", "id": facebook_id, "comment": "one"}})
    );
    mock.delete(
        &format!(
            "/api/comments/{}",
            audience.body["commentId"].as_str().unwrap()
        ),
        json!({}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, 389);

    let all = mock.delete(&format!("/api/comments/{id}"), json!({})).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.body["twitter"].as_array().unwrap().len(), 2);
    let left = mock.get(&format!("/api/comments/{id}")).await;
    assert_eq!(
        left.body["twitter"].as_array().unwrap().len(),
        1,
        "the audience's stays"
    );
    assert_eq!(left.body["facebook"], json!([]));
    mock.delete(&format!("/api/comments/{id}"), json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, 389);
    mock.delete("/api/comments/nope", json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
}

#[tokio::test]
async fn comments_go_with_their_profile_on_reset_and_an_idempotency_key_is_not_honoured() {
    let mock = Mock::new();
    let id = published(&mock, json!(["twitter"])).await;
    let body = json!({"id": id, "comment": "same", "idempotencyKey": "k1"});
    comment(&mock, body.clone()).await;
    assert_eq!(
        comment(&mock, body).await.body["status"],
        "success",
        "Ayrshare documents no key"
    );
    assert_eq!(
        mock.get(&format!("/api/comments/{id}")).await.body["twitter"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    call(Method::POST, "/mock/reset")
        .json(json!({"primary_profile": true}))
        .send(&mock)
        .await;
    mock.get(&format!("/api/comments/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, 114);
}

#[tokio::test]
async fn a_lost_comment_is_kept_but_never_answered() {
    let base = served(MockConfig::default()).await;
    let client = impatient();
    let created: Value = client
        .post(format!("{base}/post"))
        .bearer_auth(KEY)
        .json(&json!({"post": "p", "platforms": ["facebook"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let sent = client
        .post(format!("{base}/comments"))
        .bearer_auth(KEY)
        .json(&json!({"id": id, "comment": "hello [mock:lost:0]"}))
        .send()
        .await;
    let error = sent.expect_err("a lost answer never arrives");
    assert!(
        !error.is_timeout(),
        "the connection is dropped, not left open: {error}"
    );
    let listed: Value = client
        .get(format!("{base}/comments/{id}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["facebook"][0]["comment"], "hello [mock:lost:0]",
        "{listed}"
    );
}
