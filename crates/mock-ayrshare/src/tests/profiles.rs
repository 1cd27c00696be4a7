//! User Profiles: creating and listing them, linked accounts, linking pages, unlinking, dropped
//! tokens and the `social` webhook.

use super::webhooks::{header, hmac_hex, receiver, register};
use super::*;

async fn create_profile(mock: &Mock, title: &str) -> Answer {
    call(Method::POST, "/api/profiles")
        .json(json!({"title": title}))
        .send(mock)
        .await
}

fn key_of(created: &Answer) -> String {
    created.body["profileKey"].as_str().unwrap().to_owned()
}

async fn user(mock: &Mock, key: &str) -> Answer {
    call(Method::GET, "/api/user")
        .header("Profile-Key", key)
        .send(mock)
        .await
}

/// A linking URL for `key` (with `extra` fields in the body) and its path on the mock.
async fn linking_path(mock: &Mock, key: &str, extra: Value) -> (Answer, String) {
    let mut body = json!({"domain": "acme", "privateKey": "pk", "profileKey": key});
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    let answer = call(Method::POST, "/api/profiles/generateJWT")
        .header("Host", "mock.test:9090")
        .json(body)
        .send(mock)
        .await;
    let url = answer.body["url"].as_str().unwrap_or("").to_owned();
    let path = url.trim_start_matches("http://mock.test:9090").to_owned();
    (answer, path)
}

async fn submit(mock: &Mock, path: &str, form: &str) -> (StatusCode, HeaderMap, String) {
    let request = Request::post(path)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let response = mock.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn a_created_profile_shows_its_key_once_and_its_title_must_be_unique() {
    let mock = Mock::new();
    let created = create_profile(&mock, "acme: workspace 1").await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    assert_eq!(created.body["status"], "success");
    assert_eq!(created.body["title"], "acme: workspace 1");
    let key = key_of(&created);
    assert_eq!(key.len(), 31, "four groups of seven: {key}");
    assert_eq!(created.body["refId"], Profile::keyed(&key).ref_id());

    let taken = create_profile(&mock, "acme: workspace 1").await;
    taken.assert_error(StatusCode::BAD_REQUEST, 146);
    for body in [json!({}), json!({"title": "  "}), json!({"title": 3})] {
        call(Method::POST, "/api/profiles")
            .json(body)
            .send(&mock)
            .await
            .assert_error(StatusCode::BAD_REQUEST, 101);
    }
    // The SDKs' paths create profiles too.
    for path in ["/api/profiles/profile", "/api/profiles/create-profile"] {
        let answer = call(Method::POST, path)
            .json(json!({"title": path}))
            .send(&mock)
            .await;
        assert_eq!(answer.body["status"], "success", "{}", answer.text);
    }
    // Its title shows in post answers.
    let posted = call(Method::POST, "/api/post")
        .header("Profile-Key", &key)
        .json(json!({"post": "x", "platforms": ["twitter"]}))
        .send(&mock)
        .await;
    assert_eq!(posted.body["profileTitle"], "acme: workspace 1");
}

#[tokio::test]
async fn listing_profiles_filters_and_pages_and_never_shows_a_key() {
    let mock = Mock::new();
    let mut keys = Vec::new();
    for title in ["one", "two", "three"] {
        keys.push(key_of(&create_profile(&mock, title).await));
    }
    let all = mock.get("/api/profiles").await;
    assert_eq!(all.body["count"], 3);
    for key in &keys {
        assert!(!all.text.contains(key.as_str()), "{}", all.text);
    }
    let titles: Vec<&str> = all.body["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["one", "two", "three"]);
    assert_eq!(all.body["profiles"][0]["activeSocialAccounts"], json!([]));
    assert_eq!(all.body["profiles"][0]["status"], "active");

    let by_title = mock.get("/api/profiles?title=two").await;
    assert_eq!(by_title.body["profiles"].as_array().unwrap().len(), 1);
    let ref_id = Profile::keyed(&keys[2]).ref_id();
    let by_ref = mock.get(&format!("/api/profiles?refId={ref_id}")).await;
    assert_eq!(by_ref.body["profiles"][0]["title"], "three");

    let page = mock.get("/api/profiles?limit=2").await;
    assert_eq!(page.body["profiles"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["pagination"]["hasMore"], true);
    let cursor = page.body["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = mock
        .get(&format!("/api/profiles?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(next.body["profiles"][0]["title"], "three");
    assert_eq!(next.body["pagination"]["hasMore"], false);
    mock.get("/api/profiles?cursor=abc")
        .await
        .assert_error(StatusCode::BAD_REQUEST, 101);
}

#[tokio::test]
async fn a_created_profile_has_nothing_linked_so_its_posts_fail_as_not_linked() {
    let mock = Mock::new();
    let key = key_of(&create_profile(&mock, "new").await);
    let linked = user(&mock, &key).await;
    assert_eq!(linked.body["activeSocialAccounts"], json!([]));
    let posted = call(Method::POST, "/api/post")
        .header("Profile-Key", &key)
        .json(json!({"post": "x", "platforms": ["twitter"]}))
        .send(&mock)
        .await;
    posted.assert_failed(StatusCode::BAD_REQUEST, 156);
}

#[tokio::test]
async fn any_other_profile_starts_with_a_demo_account_on_every_network() {
    let mock = Mock::new();
    let answer = user(&mock, "undeclared").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body["activeSocialAccounts"]
            .as_array()
            .unwrap()
            .len(),
        13
    );
    let twitter = &answer.body["displayNames"][0];
    assert_eq!(twitter["platform"], "twitter");
    for field in [
        "username",
        "displayName",
        "profileUrl",
        "userImage",
        "created",
        "id",
    ] {
        assert!(twitter[field].is_string(), "{field} in {twitter}");
    }
    assert!(
        twitter["profileUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://twitter.com/")
    );
    assert_eq!(user(&mock, "undeclared").await.body, answer.body, "stable");
}

#[tokio::test]
async fn unlinking_removes_the_account_and_sends_the_signed_social_webhook_once() {
    let mut hook = receiver(0).await;
    let mock = Mock::new();
    register(
        &mock,
        Some("team"),
        json!({"action": "social", "url": hook.url, "secret": "s"}),
    )
    .await;
    let unlink = || {
        call(Method::DELETE, "/api/profiles/social")
            .header("Profile-Key", "team")
            .json(json!({"platform": "linkedin", "profileKey": "ignored"}))
    };
    let answer = unlink().send(&mock).await;
    assert_eq!(
        answer.body,
        json!({"status": "success", "platform": "linkedin", "refId": Profile::keyed("team").ref_id()})
    );
    let (headers, raw, body) = hook.next().await;
    assert_eq!(body["action"], "social");
    assert_eq!(body["type"], "unlink");
    assert_eq!(body["platform"], "linkedin");
    assert_eq!(body["source"], "user");
    assert_eq!(body["refId"], Profile::keyed("team").ref_id());
    assert_eq!(body["hookId"].as_str().unwrap().len(), 20);
    assert_eq!(
        header(&headers, "x-authorization-content-sha256"),
        Some(hmac_hex("s", &raw).as_str())
    );
    assert!(header(&headers, "x-authorization-timestamp").is_some());
    let accounts = user(&mock, "team").await.body["activeSocialAccounts"].clone();
    assert!(!accounts.as_array().unwrap().contains(&json!("linkedin")));
    let posted = call(Method::POST, "/api/post")
        .header("Profile-Key", "team")
        .json(json!({"post": "x", "platforms": ["linkedin"]}))
        .send(&mock)
        .await;
    posted.assert_failed(StatusCode::BAD_REQUEST, 156);

    // Nothing linked any more: still 200, and no webhook.
    assert_eq!(unlink().send(&mock).await.status, StatusCode::OK);
    hook.assert_nothing_more().await;
}

#[tokio::test]
async fn unlinking_without_a_profile_key_unlinks_the_primary_profiles_account() {
    let mock = Mock::new();
    let answer = call(Method::DELETE, "/api/profiles/social")
        .json(json!({"platform": "twitter"}))
        .send(&mock)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let primary = mock.get("/api/user").await;
    assert!(
        !primary.body["activeSocialAccounts"]
            .as_array()
            .unwrap()
            .contains(&json!("twitter"))
    );
    assert_eq!(
        user(&mock, "team").await.body["activeSocialAccounts"][0],
        "twitter"
    );
    for body in [json!({}), json!({"platform": "x"})] {
        call(Method::DELETE, "/api/profiles/social")
            .json(body)
            .send(&mock)
            .await
            .assert_error(StatusCode::BAD_REQUEST, 101);
    }
}

#[tokio::test]
async fn a_linking_url_opens_a_page_that_links_a_demo_account_then_redirects() {
    let mut hook = receiver(0).await;
    let mock = Mock::new();
    register(&mock, None, json!({"action": "social", "url": hook.url})).await;
    let key = key_of(&create_profile(&mock, "<b>Acme</b>").await);
    let (answer, path) = linking_path(
        &mock,
        &key,
        json!({"redirect": "https://app.test/linked", "expiresIn": 10}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["expiresIn"], 10);
    assert_eq!(answer.body["token"].as_str().unwrap().len(), 40);
    assert!(path.starts_with("/link/"), "{}", answer.text);

    let page = mock.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.text.contains("id=\"link-form\""));
    assert!(page.text.contains("id=\"link-twitter\""));
    assert!(
        page.text.contains("&lt;b&gt;Acme&lt;/b&gt;"),
        "escaped: {}",
        page.text
    );
    assert!(!page.text.contains("<b>Acme"));

    let (status, headers, _) = submit(&mock, &path, "link=twitter").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "https://app.test/linked");
    let (_, _, body) = hook.next().await;
    assert_eq!(body["type"], "link");
    assert_eq!(body["platform"], "twitter");
    assert_eq!(body["source"], "user");
    assert_eq!(body["refId"], Profile::keyed(&key).ref_id());
    let linked = user(&mock, &key).await;
    assert_eq!(linked.body["activeSocialAccounts"], json!(["twitter"]));
    let again = mock.get(&path).await;
    assert!(
        again.text.contains("id=\"unlink-twitter\""),
        "{}",
        again.text
    );

    let (status, _, _) = submit(&mock, &path, "unlink=twitter").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(hook.next().await.2["type"], "unlink");
    let (status, _, text) = submit(&mock, &path, "link=myspace").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("id=\"link-error\""));
}

#[tokio::test]
async fn without_a_redirect_the_page_confirms_the_link() {
    let mock = Mock::new();
    let (_, path) = linking_path(&mock, "team", json!({})).await;
    let (status, _, text) = submit(&mock, &path, "link=bluesky").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("id=\"link-done\""), "{text}");
}

#[tokio::test]
async fn an_expired_or_unknown_link_shows_an_error_page() {
    let mock = Mock::new();
    let (answer, path) = linking_path(&mock, "team", json!({})).await;
    assert_eq!(answer.body["expiresIn"], 5, "five minutes by default");
    mock.advance(299);
    assert_eq!(mock.get(&path).await.status, StatusCode::OK);
    mock.advance(1);
    let expired = mock.get(&path).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.text.contains("id=\"link-error\""));
    let (status, _, _) = submit(&mock, &path, "link=twitter").await;
    assert_eq!(status, StatusCode::GONE);
    let unknown = mock.get("/link/nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text.contains("id=\"link-error\""));
}

#[tokio::test]
async fn the_clock_control_expires_links_too() {
    let mock = Mock::new();
    let (_, path) = linking_path(&mock, "team", json!({"expiresIn": 1})).await;
    call(Method::POST, "/mock/clock")
        .json(json!({"advance_secs": 60}))
        .send(&mock)
        .await;
    assert_eq!(mock.get(&path).await.status, StatusCode::GONE);
}

#[tokio::test]
async fn generate_jwt_checks_its_fields_and_a_configured_private_key() {
    let mock = Mock::with_config(MockConfig {
        link_private_key: Some("the-key".to_owned()),
        ..MockConfig::default()
    });
    let (wrong, _) = linking_path(&mock, "team", json!({})).await;
    wrong.assert_error(StatusCode::BAD_REQUEST, 101);
    assert!(wrong.message().contains("privateKey"));
    let (right, _) = linking_path(&mock, "team", json!({"privateKey": "the-key"})).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
    for extra in [
        json!({"privateKey": "the-key", "domain": ""}),
        json!({"privateKey": "the-key", "profileKey": null}),
        json!({"privateKey": "the-key", "redirect": "javascript:alert(1)"}),
        json!({"privateKey": "the-key", "expiresIn": 0}),
        json!({"privateKey": "the-key", "expiresIn": "5"}),
    ] {
        let (answer, _) = linking_path(&mock, "team", extra.clone()).await;
        answer.assert_error(StatusCode::BAD_REQUEST, 101);
    }
    assert!(!format!("{:?}", mock.state.config).contains("the-key"));
}

#[tokio::test]
async fn dropping_a_token_unlinks_the_account_with_a_system_social_webhook() {
    let mut hook = receiver(0).await;
    let mock = Mock::new();
    register(
        &mock,
        Some("team"),
        json!({"action": "social", "url": hook.url}),
    )
    .await;
    let dropped = call(Method::POST, "/mock/profiles/team/drop/twitter")
        .send(&mock)
        .await;
    assert_eq!(dropped.body["was_linked"], true, "{}", dropped.text);
    let (_, _, body) = hook.next().await;
    assert_eq!(body["type"], "unlink");
    assert_eq!(body["source"], "system");
    assert_eq!(body["details"]["code"], 272);
    let again = call(Method::POST, "/mock/profiles/team/drop/twitter")
        .send(&mock)
        .await;
    assert_eq!(again.body["was_linked"], false);
    hook.assert_nothing_more().await;
    call(Method::POST, "/mock/profiles/team/drop/x")
        .send(&mock)
        .await
        .assert_error(StatusCode::BAD_REQUEST, 900);
}

#[tokio::test]
async fn social_and_scheduled_webhooks_are_registered_and_listed_apart() {
    let mock = Mock::new();
    register(
        &mock,
        None,
        json!({"action": "social", "url": "https://a.test/social"}),
    )
    .await;
    register(
        &mock,
        None,
        json!({"action": "scheduled", "url": "https://a.test/scheduled"}),
    )
    .await;
    let listed = mock.get("/api/hook/webhook").await;
    assert_eq!(
        listed.body["webhooks"],
        json!([{"action": "scheduled", "url": "https://a.test/scheduled", "signed": false},
               {"action": "social", "url": "https://a.test/social", "signed": false}])
    );
    mock.delete("/api/hook/webhook", json!({"action": "social"}))
        .await;
    assert_eq!(
        mock.get("/api/hook/webhook").await.body["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_host_that_is_no_host_name_is_not_put_in_the_linking_url() {
    let mock = Mock::new();
    let answer = call(Method::POST, "/api/profiles/generateJWT")
        .header("Host", "\"><script>x")
        .json(json!({"domain": "d", "privateKey": "p", "profileKey": "k"}))
        .send(&mock)
        .await;
    let url = answer.body["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1/link/"), "{url}");
}
