//! Faults that stay, per profile and platform.

use super::*;

async fn set_fault(mock: &Mock, profile: &str, platform: &str, fault: &str) -> Answer {
    call(
        Method::PUT,
        &format!("/mock/profiles/{profile}/faults/{platform}"),
    )
    .json(json!({"fault": fault}))
    .send(mock)
    .await
}

async fn post_as(mock: &Mock, profile: &str, body: Value) -> Answer {
    call(Method::POST, "/api/post")
        .header("Profile-Key", profile)
        .json(body)
        .send(mock)
        .await
}

#[tokio::test]
async fn each_fault_fails_its_platform_with_ayrshares_code_while_the_others_publish() {
    let mock = Mock::new();
    set_fault(&mock, "team", "twitter", "expired_token").await;
    set_fault(&mock, "team", "facebook", "expired_token").await;
    set_fault(&mock, "team", "instagram", "rate_limited").await;
    let set = set_fault(&mock, "team", "linkedin", "not_linked").await;
    assert_eq!(
        set.body["faults"],
        json!({"twitter": "expired_token", "facebook": "expired_token",
               "instagram": "rate_limited", "linkedin": "not_linked"})
    );
    let body = json!({"post": "faulty", "platforms": ["twitter", "facebook", "instagram", "linkedin", "bluesky"]});
    let answer = post_as(&mock, "team", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["status"], "error");
    let published: Vec<&str> = answer.body["postIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["platform"].as_str().unwrap())
        .collect();
    assert_eq!(published, ["bluesky"]);
    let codes: Vec<(&str, u64)> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["platform"].as_str().unwrap(), e["code"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            ("twitter", 272),
            ("facebook", 161),
            ("instagram", 435),
            ("linkedin", 156)
        ]
    );
    assert_eq!(answer.body["errors"][2]["details"]["retryAfter"], 3600);
    assert_eq!(answer.body["errors"][0]["action"], "post");
    // Other profiles are not affected.
    let other = post_as(&mock, "other", a_post("fine")).await;
    assert_eq!(other.body["status"], "success");
}

#[tokio::test]
async fn a_fault_stays_until_cleared() {
    let mock = Mock::new();
    set_fault(&mock, "team", "twitter", "expired_token").await;
    for _ in 0..2 {
        let answer = post_as(
            &mock,
            "team",
            json!({"post": "x", "platforms": ["twitter"]}),
        )
        .await;
        answer.assert_failed(StatusCode::BAD_REQUEST, 272);
    }
    let cleared = call(Method::DELETE, "/mock/profiles/team/faults/twitter")
        .send(&mock)
        .await;
    assert_eq!(cleared.body["faults"], json!({}));
    let answer = post_as(
        &mock,
        "team",
        json!({"post": "x", "platforms": ["twitter"]}),
    )
    .await;
    assert_eq!(answer.body["status"], "success", "{}", answer.text);
}

#[tokio::test]
async fn a_rate_limit_on_every_platform_answers_429() {
    let mock = Mock::new();
    set_fault(&mock, "team", "all", "rate_limited").await;
    let answer = post_as(&mock, "team", a_post("too often")).await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.text
    );
    assert_eq!(answer.body["postIds"], json!([]));
    assert_eq!(answer.body["errors"].as_array().unwrap().len(), 2);
    assert!(
        answer.body["id"].is_string(),
        "kept with its id, as failed posts are"
    );
}

#[tokio::test]
async fn a_suspended_account_refuses_the_whole_request_with_403_and_keeps_nothing() {
    let mock = Mock::new();
    set_fault(&mock, "team", "facebook", "suspended").await;
    let answer = post_as(&mock, "team", a_post("suspended")).await;
    answer.assert_error(StatusCode::FORBIDDEN, 403);
    assert!(answer.message().contains("Facebook"), "{}", answer.text);
    assert_eq!(mock.post_counts(), (0, 0));
    // Another network of the profile still works, and so do reads.
    let other = post_as(
        &mock,
        "team",
        json!({"post": "x", "platforms": ["twitter"]}),
    )
    .await;
    assert_eq!(other.body["status"], "success");
}

#[tokio::test]
async fn a_suspended_profile_is_refused_on_every_route_and_listed_as_suspended() {
    let mock = Mock::new();
    let created = call(Method::POST, "/api/profiles")
        .json(json!({"title": "Suspended team"}))
        .send(&mock)
        .await;
    let key = created.body["profileKey"].as_str().unwrap().to_owned();
    set_fault(&mock, &key, "all", "suspended").await;
    for path in ["/api/history", "/api/user"] {
        call(Method::GET, path)
            .header("Profile-Key", &key)
            .send(&mock)
            .await
            .assert_error(StatusCode::FORBIDDEN, 403);
    }
    let listed = mock.get("/api/profiles?title=Suspended%20team").await;
    assert_eq!(
        listed.body["profiles"][0]["status"], "suspended",
        "{}",
        listed.text
    );
    assert_eq!(mock.get("/api/history").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_fault_set_after_scheduling_applies_when_the_post_publishes() {
    let mock = Mock::new();
    let mut body = json!({"post": "later", "platforms": ["twitter", "linkedin"]});
    body["scheduleDate"] = json!(mock.in_seconds(60));
    let id = post_as(&mock, "team", body).await.id();
    set_fault(&mock, "team", "linkedin", "expired_token").await;
    mock.advance(61);
    let read = call(Method::GET, &format!("/api/post/{id}"))
        .header("Profile-Key", "team")
        .send(&mock)
        .await;
    assert_eq!(read.body["status"], "error");
    assert_eq!(read.body["errors"][0]["code"], 161);
    assert_eq!(read.body["postIds"][0]["platform"], "twitter");
}

#[tokio::test]
async fn unknown_faults_and_platforms_are_refused_and_the_settings_show_the_faults() {
    let mock = Mock::new();
    set_fault(&mock, "team", "twitter", "melted")
        .await
        .assert_error(StatusCode::BAD_REQUEST, 900);
    set_fault(&mock, "team", "x", "not_linked")
        .await
        .assert_error(StatusCode::BAD_REQUEST, 900);
    call(Method::PUT, "/mock/profiles/team/faults/twitter")
        .json(json!({}))
        .send(&mock)
        .await
        .assert_error(StatusCode::BAD_REQUEST, 900);
    call(Method::PUT, "/mock/profiles/team/faults/twitter")
        .without("Authorization")
        .json(json!({"fault": "not_linked"}))
        .send(&mock)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, 102);
    set_fault(&mock, "team", "tiktok", "not-linked").await;
    let settings = mock.get("/mock/profiles/team").await;
    assert_eq!(settings.body["faults"], json!({"tiktok": "not_linked"}));
}

#[tokio::test]
async fn a_not_linked_fault_hides_the_account_from_the_user_route() {
    let mock = Mock::new();
    set_fault(&mock, "team", "twitter", "not_linked").await;
    let user = call(Method::GET, "/api/user")
        .header("Profile-Key", "team")
        .send(&mock)
        .await;
    let active = user.body["activeSocialAccounts"].as_array().unwrap();
    assert_eq!(active.len(), 12, "{}", user.text);
    assert!(!active.contains(&json!("twitter")));
}
