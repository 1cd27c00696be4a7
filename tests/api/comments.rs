//! The comment routes against the shipped mock (`crates/mock-ayrshare`): each route, each of
//! Ayrshare's answer forms (a platform missing, an empty list, replies, refusals), a lost answer
//! (`unknown`, never sent again), an `Idempotency-Key` replayed with one Ayrshare call, another
//! organization's post (404) and a platform the post is not on (400).

use serde_json::{Value, json};

use crate::backend_tests;
use crate::shipped_mock::shipped_mock;
use crate::support::{AYRSHARE_KEY, TestApp, expect_error, response_json};

/// Publishes a post on `platforms` through the mock; its Ayrshare post id.
async fn published(app: &TestApp, platforms: &[&str]) -> String {
    let response = app
        .post(&json!({"post": "comment on me", "platforms": platforms}))
        .send()
        .await
        .unwrap();
    let body = response_json(response).await;
    assert_eq!(body["tracked_status"], "posted", "{body}");
    body["post_id"].as_str().unwrap().to_owned()
}

fn mock_url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.ayrshare_base_url().trim_end_matches("/api"))
}

/// A comment from the audience, seeded at the mock; its id.
async fn seed(app: &TestApp, post_id: &str, body: Value) -> String {
    let response = app
        .client
        .post(mock_url(app, &format!("/mock/comments/{post_id}")))
        .bearer_auth(AYRSHARE_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let body = response_json(response).await;
    body["commentId"].as_str().unwrap().to_owned()
}

/// The mock's journal of the calls under `/api/comments`.
async fn comment_calls(app: &TestApp) -> Vec<Value> {
    let response = app
        .client
        .get(mock_url(
            app,
            "/mock/requests?path=/api/comments&limit=1000",
        ))
        .bearer_auth(AYRSHARE_KEY)
        .send()
        .await
        .unwrap();
    let body = response_json(response).await;
    body["requests"].as_array().unwrap().clone()
}

fn writes(calls: &[Value]) -> Vec<&Value> {
    calls.iter().filter(|c| c["method"] != "GET").collect()
}

fn comments_url(app: &TestApp, post_id: &str) -> String {
    app.url(&format!("/social/post/{post_id}/comments"))
}

async fn comment(
    app: &TestApp,
    post_id: &str,
    body: Value,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(comments_url(app, post_id))
        .bearer_auth(&app.api_key)
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

async fn list(app: &TestApp, post_id: &str, query: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{query}", comments_url(app, post_id)))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap()
}

/// The `comment_writes` rows: (operation, status).
async fn write_rows(app: &TestApp) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for record in app.records().await {
        for write in app
            .store
            .list_comment_writes(record.organization_id, record.id, 100)
            .await
            .unwrap()
        {
            rows.push((
                write.operation.as_str().to_owned(),
                write.status.as_str().to_owned(),
            ));
        }
    }
    rows
}

backend_tests! {
    async fn comments_are_listed_in_one_shape_newest_first_with_replies(app) [shipped_mock()] {
        let post_id = published(app, &["x", "instagram"]).await;
        // An empty list: published, nobody commented yet.
        let empty = response_json(list(app, &post_id, "").await).await;
        assert_eq!(empty["comments"], json!([]), "{empty}");
        assert_eq!(empty["next_cursor"], Value::Null);
        assert_eq!(empty["post_id"], post_id.as_str());

        let first = seed(app, &post_id, json!({"platform": "twitter", "comment": "first", "username": "ann", "like_count": 4})).await;
        let second = seed(app, &post_id, json!({"platform": "instagram", "comment": "second"})).await;
        let reply = seed(app, &post_id, json!({"platform": "twitter", "comment": "re", "reply_to": first})).await;
        let response = list(app, &post_id, "").await;
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        let comments = body["comments"].as_array().unwrap();
        assert_eq!(comments.len(), 2, "{body}");
        let x = comments.iter().find(|c| c["comment_id"] == first.as_str()).unwrap();
        assert_eq!(x["platform"], "x");
        assert_eq!(x["text"], "first");
        assert_eq!(x["author"]["username"], "ann");
        assert_eq!(x["like_count"], 4);
        assert_eq!(x["hidden"], false);
        assert_eq!(x["replies"][0]["comment_id"], reply.as_str());
        assert_eq!(x["replies"][0]["text"], "re");
        assert_eq!(x["replies_omitted"], 0);
        assert_eq!(body["replies_limit"], 20);
        assert!(comments.iter().any(|c| c["comment_id"] == second.as_str()));

        // Paged one at a time, then filtered by platform.
        let page = response_json(list(app, &post_id, "?limit=1").await).await;
        assert_eq!(page["comments"].as_array().unwrap().len(), 1);
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        let next = response_json(list(app, &post_id, &format!("?limit=1&cursor={cursor}")).await).await;
        assert_eq!(next["comments"].as_array().unwrap().len(), 1);
        assert_ne!(next["comments"][0]["comment_id"], page["comments"][0]["comment_id"]);
        assert_eq!(next["next_cursor"], Value::Null);
        let only = response_json(list(app, &post_id, "?platform=instagram").await).await;
        assert_eq!(only["comments"].as_array().unwrap().len(), 1);
        assert_eq!(only["comments"][0]["platform"], "instagram");

        for bad in ["?limit=0", "?limit=101", "?platform=myspace", "?cursor=nope", "?sort=new"] {
            expect_error(list(app, &post_id, bad).await, 400, "validation_error").await;
        }
    }

    async fn a_comment_a_reply_and_a_delete_each_reach_ayrshare_once_and_are_recorded(app) [shipped_mock()] {
        let post_id = published(app, &["x", "facebook"]).await;
        let response = comment(app, &post_id, json!({"comment": "thanks all"}), None).await;
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["write_status"], "done", "{body}");
        assert_eq!(body["operation"], "comment");
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert!(results.iter().all(|r| r["status"] == "success"));
        let ours = results.iter().find(|r| r["platform"] == "x").unwrap()["comment_id"].as_str().unwrap().to_owned();
        let calls = comment_calls(app).await;
        let sent = writes(&calls);
        assert_eq!(sent.len(), 1);
        let sent_body: Value = serde_json::from_str(sent[0]["body"].as_str().unwrap()).unwrap();
        assert_eq!(sent_body, json!({"id": post_id, "comment": "thanks all", "platforms": ["twitter", "facebook"]}));

        // A reply to an audience comment.
        let theirs = seed(app, &post_id, json!({"platform": "twitter", "comment": "nice"})).await;
        let reply = app.client.post(app.url(&format!("/social/post/{post_id}/comments/{theirs}/replies")))
            .bearer_auth(&app.api_key).json(&json!({"comment": "ty", "platform": "x"})).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        let reply = response_json(reply).await;
        assert_eq!(reply["write_status"], "done", "{reply}");
        assert_eq!(reply["comment_id"], theirs.as_str());
        let listed = response_json(list(app, &post_id, "?platform=x").await).await;
        let parent = listed["comments"].as_array().unwrap().iter().find(|c| c["comment_id"] == theirs.as_str()).unwrap();
        assert_eq!(parent["replies"][0]["text"], "ty");

        // Deleting ours; an audience comment is not ours to delete.
        let delete = app.client.delete(app.url(&format!("/social/post/{post_id}/comments/{ours}")))
            .bearer_auth(&app.api_key).send().await.unwrap();
        assert_eq!(delete.status(), 200);
        let delete = response_json(delete).await;
        assert_eq!(delete["write_status"], "done", "{delete}");
        assert_eq!(delete["results"][0]["comment_id"], ours.as_str());
        let not_ours = app.client.delete(app.url(&format!("/social/post/{post_id}/comments/{theirs}")))
            .bearer_auth(&app.api_key).send().await.unwrap();
        expect_error(not_ours, 404, "not_found").await;
        assert_eq!(writes(&comment_calls(app).await).len(), 3);
        let mut rows = write_rows(app).await;
        rows.sort();
        assert_eq!(rows, [("comment".into(), "done".into()), ("delete".into(), "done".into()), ("reply".into(), "done".into())]);
    }

    async fn platforms_the_post_is_not_on_or_without_media_are_refused_before_ayrshare(app) [shipped_mock()] {
        let post_id = published(app, &["x", "instagram"]).await;
        let refused = comment(app, &post_id, json!({"comment": "hi", "platforms": ["youtube"]}), None).await;
        let body = expect_error(refused, 400, "validation_error").await;
        assert!(body["detail"].as_str().unwrap().contains("youtube"), "{body}");
        let media = comment(app, &post_id, json!({"comment": "hi", "platforms": ["instagram"],
            "media_urls": ["https://cdn.example.com/a.png"]}), None).await;
        let body = expect_error(media, 400, "validation_error").await;
        assert!(body["detail"].as_str().unwrap().contains("instagram"), "{body}");
        expect_error(comment(app, &post_id, json!({"comment": ""}), None).await, 400, "validation_error").await;
        assert!(writes(&comment_calls(app).await).is_empty());
        assert!(write_rows(app).await.is_empty());
    }

    async fn ayrshares_refusals_leave_the_write_failed_and_map_to_our_errors(app) [shipped_mock()] {
        let post_id = published(app, &["x", "instagram"]).await;
        let theirs = seed(app, &post_id, json!({"platform": "twitter", "comment": "nice"})).await;
        let reply = |comment_id: String, platform: &'static str| {
            app.client.post(app.url(&format!("/social/post/{post_id}/comments/{comment_id}/replies")))
                .bearer_auth(&app.api_key).json(&json!({"comment": "ty", "platform": platform})).send()
        };
        // The comment is on X, not Instagram: Ayrshare refuses the whole request.
        let body = expect_error(reply(theirs, "instagram").await.unwrap(), 400, "provider_rejected").await;
        assert_eq!(body["write_status"], "failed", "{body}");
        assert!(body["detail"].as_str().unwrap().contains("Incorrect platforms"), "{body}");
        // A comment Ayrshare does not know: its 404 (code 114).
        let body = expect_error(reply("1234567890123456789".into(), "x").await.unwrap(), 404, "not_found").await;
        assert_eq!(body["write_status"], "failed", "{body}");
        assert_eq!(write_rows(app).await, [("reply".into(), "failed".into()), ("reply".into(), "failed".into())]);
        assert_eq!(writes(&comment_calls(app).await).len(), 2);
    }

    async fn a_lost_answer_leaves_the_write_unknown_and_it_is_never_sent_again(app) [shipped_mock()] {
        let post_id = published(app, &["x"]).await;
        let text = json!({"comment": "maybe [mock:lost]"});
        let lost = comment(app, &post_id, text.clone(), Some("lost-1")).await;
        let body = expect_error(lost, 504, "provider_timeout").await;
        assert_eq!(body["write_status"], "unknown", "{body}");
        assert_eq!(write_rows(app).await, [("comment".into(), "unknown".into())]);
        // The retry with the same key replays; Ayrshare got one call.
        let again = comment(app, &post_id, text, Some("lost-1")).await;
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        let again = expect_error(again, 504, "provider_timeout").await;
        assert_eq!(again["write_id"], body["write_id"]);
        assert_eq!(writes(&comment_calls(app).await).len(), 1);
    }

    async fn the_same_idempotency_key_replays_the_answer_with_one_ayrshare_call(app) [shipped_mock()] {
        let post_id = published(app, &["x"]).await;
        let first = comment(app, &post_id, json!({"comment": "once"}), Some("k-1")).await;
        assert_eq!(first.status(), 200);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let first = response_json(first).await;
        let second = comment(app, &post_id, json!({"comment": "once"}), Some("k-1")).await;
        assert_eq!(second.status(), 200);
        assert_eq!(second.headers()["idempotent-replayed"], "true");
        assert_eq!(response_json(second).await, first);
        let other = comment(app, &post_id, json!({"comment": "twice"}), Some("k-1")).await;
        let mismatch = expect_error(other, 422, "idempotency_key_mismatch").await;
        assert_eq!(mismatch["write_id"], first["write_id"]);
        assert_eq!(writes(&comment_calls(app).await).len(), 1);
        assert_eq!(write_rows(app).await.len(), 1);
    }

    async fn the_purge_releases_expired_post_and_comment_keys_and_a_released_key_is_a_new_request(app) [shipped_mock()] {
        let post_id = published(app, &["x"]).await;
        let keyed = app.post(&json!({"post": "keyed", "platforms": ["x"]}))
            .header("idempotency-key", "p-1").send().await.unwrap();
        assert_eq!(keyed.status(), 200);
        for key in ["k-1", "k-2"] {
            assert_eq!(comment(app, &post_id, json!({"comment": key}), Some(key)).await.status(), 200);
        }
        // Nothing is past the retention (24 hours) yet.
        assert_eq!(app.publisher.purge_expired_claims().await.unwrap(), 0);
        app.backdate("scheduled_social_posts_v2", chrono::Duration::hours(25)).await;
        app.backdate("comment_writes", chrono::Duration::hours(25)).await;
        // The post's key and both comments' keys; then nothing is left to release.
        assert_eq!(app.publisher.purge_expired_claims().await.unwrap(), 3);
        assert_eq!(app.publisher.purge_expired_claims().await.unwrap(), 0);
        // A released key no longer replays: the same request is written and sent again.
        let again = comment(app, &post_id, json!({"comment": "k-1"}), Some("k-1")).await;
        assert_eq!(again.status(), 200);
        assert!(again.headers().get("idempotent-replayed").is_none());
        assert_eq!(writes(&comment_calls(app).await).len(), 3);
        assert_eq!(write_rows(app).await.len(), 3);
    }

    async fn another_organizations_post_is_not_found_on_every_route(app) [shipped_mock()] {
        let post_id = published(app, &["x"]).await;
        let (other_key, _) = app.other_organization("other").await;
        let base = format!("/social/post/{post_id}/comments");
        let requests = [
            app.client.get(app.url(&base)),
            app.client.post(app.url(&base)).json(&json!({"comment": "hi"})),
            app.client.post(app.url(&format!("{base}/c1/replies"))).json(&json!({"comment": "hi", "platform": "x"})),
            app.client.delete(app.url(&format!("{base}/c1"))),
        ];
        for request in requests {
            expect_error(request.bearer_auth(&other_key).send().await.unwrap(), 404, "not_found").await;
        }
        assert!(comment_calls(app).await.is_empty());
    }

    async fn a_failed_post_is_retried_once_through_the_shipped_mock(app) [shipped_mock()] {
        let response = app.post(&json!({"post": "fails [mock:duplicate]", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 400, "provider_rejected").await;
        let post_id = body["post_id"].as_str().unwrap().to_owned();
        let retry = |app: &TestApp| app.client.post(app.url(&format!("/social/post/{post_id}/retry"))).bearer_auth(&app.api_key).send();
        let first = retry(app).await.unwrap();
        let status = first.status();
        let first = response_json(first).await;
        assert_eq!(status, 202, "{first}");
        assert_eq!(first["tracked_status"], "pending");
        let second = retry(app).await.unwrap();
        expect_error(second, 409, "conflict").await;
    }
}
