//! Answers as Ayrshare really sends them: the wrapped form, successes that name no platform, and
//! every status word of `GET /api/post/{id}`.

use super::*;

async fn post_with(mock: &Mock, scenario: &str, body: Value) -> Answer {
    call(Method::POST, "/api/post")
        .header("X-Mock-Scenario", scenario)
        .json(body)
        .send(mock)
        .await
}

async fn status_of(mock: &Mock, id: &str) -> Value {
    mock.get(&format!("/api/post/{id}")).await.body["status"].clone()
}

fn assert_wrapped(answer: &Answer, http: StatusCode, status: &str) -> Value {
    assert_eq!(answer.status, http, "{}", answer.text);
    assert_eq!(answer.body["status"], status, "{}", answer.text);
    let posts = answer.body["posts"].as_array().expect("posts");
    assert_eq!(posts.len(), 1);
    let inner = posts[0].clone();
    assert_eq!(inner["status"], status);
    for key in ["id", "postIds", "errors", "refId", "profileTitle", "post"] {
        assert!(inner.get(key).is_some(), "{key} missing in {inner}");
    }
    assert!(answer.body.get("id").is_none(), "{}", answer.text);
    inner
}

// ---- the wrapped form ----

#[tokio::test]
async fn the_wrapped_scenario_wraps_a_success_in_posts() {
    let mock = Mock::new();
    let answer = post_with(&mock, "wrapped", a_post("hi")).await;
    let inner = assert_wrapped(&answer, StatusCode::OK, "success");
    assert_eq!(inner["postIds"].as_array().unwrap().len(), 2);
    assert_eq!(inner["profileTitle"], "Primary Profile");
    assert_eq!(inner["post"], "hi");
    // The post is remembered as usual under the id inside the wrapper.
    let id = inner["id"].as_str().unwrap();
    assert_eq!(status_of(&mock, id).await, "success");
}

#[tokio::test]
async fn a_wrapped_partial_is_an_http_400_in_either_order() {
    let mock = Mock::new();
    for scenario in ["wrapped,partial", "partial, Wrapped"] {
        let answer = post_with(&mock, scenario, a_post("hi")).await;
        let inner = assert_wrapped(&answer, StatusCode::BAD_REQUEST, "error");
        assert_eq!(inner["postIds"].as_array().unwrap().len(), 1);
        assert_eq!(inner["errors"][0]["code"], 156);
    }
}

#[tokio::test]
async fn wrapped_works_with_the_marker_with_duplicate_and_with_scheduled() {
    let mock = Mock::new();
    let duplicate = mock.post(a_post("dup [mock:wrapped,duplicate]")).await;
    let inner = assert_wrapped(&duplicate, StatusCode::BAD_REQUEST, "error");
    assert_eq!(inner["postIds"], json!([]));
    let mut later = a_post("later");
    later["scheduleDate"] = json!(mock.in_seconds(600));
    let scheduled = post_with(&mock, "wrapped", later).await;
    let inner = assert_wrapped(&scheduled, StatusCode::OK, "scheduled");
    assert_eq!(inner["scheduleDate"], json!(mock.in_seconds(600)));
}

#[tokio::test]
async fn two_scenarios_or_two_forms_in_one_list_are_refused() {
    let mock = Mock::new();
    for scenario in [
        "partial,duplicate",
        "wrapped,unwrapped",
        "wrapped,wrapped",
        "wrapped,nope",
    ] {
        let answer = post_with(&mock, scenario, a_post("hi")).await;
        answer.assert_error(StatusCode::BAD_REQUEST, 900);
    }
    assert_eq!(mock.post_counts(), (0, 0));
}

#[tokio::test]
async fn a_profile_set_to_wrap_gets_wrapped_answers_and_unwrapped_wins_over_it() {
    let mock = Mock::new();
    let set = call(Method::PUT, "/mock/profiles/team-a")
        .json(json!({"wrap_answers": true, "title": "Team A"}))
        .send(&mock)
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(
        set.body,
        json!({"status": "success", "wrap_answers": true, "title": "Team A", "faults": {}})
    );
    let team_a = || call(Method::POST, "/api/post").header("Profile-Key", "team-a");
    let answer = team_a().json(a_post("a")).send(&mock).await;
    let inner = assert_wrapped(&answer, StatusCode::OK, "success");
    assert_eq!(inner["profileTitle"], "Team A");
    let plain = team_a()
        .header("X-Mock-Scenario", "unwrapped")
        .json(a_post("b"))
        .send(&mock)
        .await;
    assert_eq!(plain.body["status"], "success");
    assert!(plain.body.get("posts").is_none());
    // Other profiles are not affected.
    let other = call(Method::POST, "/api/post")
        .header("Profile-Key", "team-b")
        .json(a_post("c"))
        .send(&mock)
        .await;
    assert!(other.body.get("posts").is_none(), "{}", other.text);
    // Reading and resetting the setting.
    let read = call(Method::GET, "/mock/profiles/team-a").send(&mock).await;
    assert_eq!(read.body["wrap_answers"], true);
    let reset = call(Method::PUT, "/mock/profiles/team-a")
        .json(json!({}))
        .send(&mock)
        .await;
    assert_eq!(reset.body["wrap_answers"], false);
    assert_ne!(reset.body["title"], "Team A");
    let after = team_a().json(a_post("d")).send(&mock).await;
    assert!(after.body.get("posts").is_none(), "{}", after.text);
}

#[tokio::test]
async fn the_wrap_flag_wraps_profile_key_requests_only_and_a_profile_may_opt_out() {
    let mock = Mock::with_config(MockConfig {
        wrap_profile_answers: true,
        ..MockConfig::default()
    });
    let keyed = call(Method::POST, "/api/post")
        .header("Profile-Key", "pk")
        .json(a_post("keyed"))
        .send(&mock)
        .await;
    let inner = assert_wrapped(&keyed, StatusCode::OK, "success");
    assert!(
        inner["profileTitle"]
            .as_str()
            .unwrap()
            .starts_with("Profile ")
    );
    assert!(!inner["profileTitle"].as_str().unwrap().contains("pk"));
    let primary = mock.post(a_post("primary")).await;
    assert!(primary.body.get("posts").is_none(), "{}", primary.text);
    call(Method::PUT, "/mock/profiles/pk")
        .json(json!({"wrap_answers": false}))
        .send(&mock)
        .await;
    let opted_out = call(Method::POST, "/api/post")
        .header("Profile-Key", "pk")
        .json(a_post("keyed again"))
        .send(&mock)
        .await;
    assert!(opted_out.body.get("posts").is_none(), "{}", opted_out.text);
}

#[tokio::test]
async fn the_profile_routes_need_the_api_key_and_refuse_unknown_settings() {
    let mock = Mock::new();
    let anonymous = call(Method::PUT, "/mock/profiles/p")
        .without("Authorization")
        .json(json!({"wrap_answers": true}))
        .send(&mock)
        .await;
    anonymous.assert_error(StatusCode::UNAUTHORIZED, 102);
    for body in [
        json!({"wrap": true}),
        json!({"wrap_answers": "yes"}),
        json!([1]),
    ] {
        let answer = call(Method::PUT, "/mock/profiles/p")
            .json(body)
            .send(&mock)
            .await;
        answer.assert_error(StatusCode::BAD_REQUEST, 900);
    }
    let read = call(Method::GET, "/mock/profiles/p").send(&mock).await;
    assert_eq!(read.body["wrap_answers"], false);
}

// ---- successes that name no platform, and the status words ----

#[tokio::test]
async fn approval_answers_a_success_without_platforms_then_reads_awaiting_approval() {
    let mock = Mock::new();
    let by_scenario = post_with(&mock, "approval", a_post("needs a yes")).await;
    let mut asked = a_post("asked for approval");
    asked["requiresApproval"] = json!(true);
    let by_field = mock.post(asked).await;
    for answer in [&by_scenario, &by_field] {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.body["status"], "success");
        assert_eq!(answer.body["postIds"], json!([]));
        assert_eq!(answer.body["errors"], json!([]));
        mock.advance(86_400);
        assert_eq!(status_of(&mock, &answer.id()).await, "awaiting approval");
    }
    let listed = mock.get("/api/history?status=awaiting%20approval").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2, "{}", listed.text);
    let plus = mock.get("/api/history?status=awaiting+approval").await;
    assert_eq!(plus.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn processing_answers_a_success_without_platforms_then_publishes_after_its_delay() {
    let mock = Mock::new();
    let mut body = a_post("a video");
    body["platforms"] = json!(["tiktok"]);
    let answer = post_with(&mock, "processing", body.clone()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "success");
    assert_eq!(answer.body["postIds"], json!([]));
    let id = answer.id();
    assert_eq!(status_of(&mock, &id).await, "processing");
    mock.advance(9);
    assert_eq!(status_of(&mock, &id).await, "processing");
    mock.advance(1);
    let read = mock.get(&format!("/api/post/{id}")).await;
    assert_eq!(read.body["status"], "success");
    assert_eq!(read.body["postIds"][0]["platform"], "tiktok");

    let longer = post_with(&mock, "processing:60", body).await;
    mock.advance(59);
    assert_eq!(status_of(&mock, &longer.id()).await, "processing");
    mock.advance(1);
    assert_eq!(status_of(&mock, &longer.id()).await, "success");
}

#[tokio::test]
async fn a_scheduled_processing_post_is_pending_then_processing_then_published() {
    let mock = Mock::new();
    let mut body = a_post("later video");
    body["scheduleDate"] = json!(mock.in_seconds(60));
    let answer = post_with(&mock, "processing:30", body).await;
    assert_eq!(answer.body["status"], "scheduled");
    let id = answer.id();
    assert_eq!(status_of(&mock, &id).await, "pending");
    mock.advance(70);
    assert_eq!(status_of(&mock, &id).await, "processing");
    mock.advance(30);
    assert_eq!(status_of(&mock, &id).await, "success");
}

#[tokio::test]
async fn paused_answers_scheduled_and_is_never_published_while_paused() {
    let mock = Mock::new();
    let answer = post_with(&mock, "paused", a_post("on hold")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "scheduled");
    assert_eq!(answer.body["scheduleDate"], json!(mock.in_seconds(3_600)));
    mock.advance(7_200);
    let read = mock.get(&format!("/api/post/{}", answer.id())).await;
    assert_eq!(read.body["status"], "paused");
    assert_eq!(read.body["postIds"], json!([]));
}

#[tokio::test]
async fn deleted_reads_deleted_keeping_what_was_published() {
    let mock = Mock::new();
    let published = post_with(&mock, "deleted", a_post("gone later")).await;
    assert_eq!(published.body["status"], "success");
    let read = mock.get(&format!("/api/post/{}", published.id())).await;
    assert_eq!(read.body["status"], "deleted");
    assert_eq!(read.body["postIds"], published.body["postIds"]);

    let mut later = a_post("never sent");
    later["scheduleDate"] = json!(mock.in_seconds(60));
    let scheduled = post_with(&mock, "deleted", later).await;
    assert_eq!(scheduled.body["status"], "scheduled");
    mock.advance(120);
    let read = mock.get(&format!("/api/post/{}", scheduled.id())).await;
    assert_eq!(read.body["status"], "deleted");
    assert_eq!(read.body["postIds"], json!([]));
}

#[tokio::test]
async fn every_status_answer_names_the_profile_title() {
    let mock = Mock::new();
    let answer = mock.post(a_post("hi")).await;
    assert_eq!(answer.body["profileTitle"], "Primary Profile");
    let read = mock.get(&format!("/api/post/{}", answer.id())).await;
    assert_eq!(read.body["profileTitle"], "Primary Profile");
}
