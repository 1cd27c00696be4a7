//! `GET /social/post/{post_id}/analytics`: each platform's numbers under our names, `x` not
//! `twitter`, Ayrshare's object kept whole, and Ayrshare's errors mapped as on the create.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::fixtures::{answer_creates, published, received, record};
use crate::support::{TestApp, expect_error, response_json};

async fn answer_analytics(app: &TestApp, template: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/api/analytics/post"))
        .respond_with(template)
        .mount(&app.ayrshare)
        .await;
}

fn twitter() -> Value {
    json!({"id": "1901625213503277588", "postUrl": "https://x.com/acme/status/1901625213503277588",
        "analytics": {"publicMetrics": {"impressionCount": 5210, "likeCount": 87, "retweetCount": 12,
                      "replyCount": 9, "quoteCount": 4, "bookmarkCount": 3}},
        "lastUpdated": "2026-11-28T10:00:00Z", "nextUpdate": "2026-11-28T10:10:00Z"})
}

fn linkedin() -> Value {
    json!({"id": 7206185311_i64, "postUrl": "https://www.linkedin.com/feed/update/urn:li:share:7206185311",
        "analytics": {"impressionCount": 1840, "uniqueImpressionsCount": 1200, "likeCount": 41,
                      "commentCount": 6, "shareCount": 2, "clickCount": 30}})
}

fn analytics(app: &TestApp, post_id: &str, query: &str) -> reqwest::RequestBuilder {
    app.get(&format!("/social/post/{post_id}/analytics{query}"))
}

backend_tests! {
    async fn each_platforms_numbers_map_to_ours_with_x_not_twitter(app) {
        answer_creates(app).await;
        answer_analytics(app, ResponseTemplate::new(200).set_body_json(json!({
            "status": "success", "errors": [], "twitter": twitter(), "linkedin": linkedin(),
            "instagram": {"id": "1787", "postUrl": "https://www.instagram.com/p/C1/",
                "analytics": {"likeCount": 120, "commentsCount": 14, "viewsCount": 3400,
                              "reachCount": 2100, "savedCount": 8, "sharesCount": 5}},
            "tiktok": {"id": "73", "analytics": {"videoViews": 15000, "likeCount": 900,
                       "commentsCount": 40, "shareCount": 25}},
            "youtube": {"id": "yt1", "analytics": {"views": 700, "likes": 50, "comments": 7}}
        }))).await;
        let brand = app.store.create_workspace(app.organization_id, "brand", Some("PK-ANALYTICS")).await.unwrap();
        let created = crate::fixtures::create(app, json!({"post": "p", "workspace_id": brand.id,
            "platforms": ["x", "linkedin", "instagram", "tiktok", "youtube"],
            "media_urls": ["https://cdn.example.com/v.mp4"]})).await;
        let (post_id, tracking_id) = (created["post_id"].as_str().unwrap(), created["tracking_id"].as_str().unwrap());
        let before = record(app, tracking_id).await;

        let response = analytics(app, post_id, "").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["post_id"], post_id);
        assert_eq!(body["tracking_id"], tracking_id);
        assert_eq!(body["errors"], json!([]));
        let names: Vec<&str> = body["platforms"].as_array().unwrap().iter()
            .map(|p| p["platform"].as_str().unwrap()).collect();
        assert_eq!(names, ["x", "linkedin", "instagram", "tiktok", "youtube"]);
        assert_eq!(body["platforms"][0], json!({"platform": "x", "post_id": "1901625213503277588",
            "post_url": "https://x.com/acme/status/1901625213503277588",
            "metrics": {"likes": 87, "comments": 9, "shares": 12, "impressions": 5210, "views": null,
                        "reach": null, "clicks": null, "saves": 3},
            "raw": twitter()}));
        assert_eq!(body["platforms"][1]["post_id"], "7206185311");
        assert_eq!(body["platforms"][1]["metrics"], json!({"likes": 41, "comments": 6, "shares": 2,
            "impressions": 1840, "views": null, "reach": 1200, "clicks": 30, "saves": null}));
        assert_eq!(body["platforms"][1]["raw"], linkedin());
        assert_eq!(body["platforms"][2]["metrics"], json!({"likes": 120, "comments": 14, "shares": 5,
            "impressions": null, "views": 3400, "reach": 2100, "clicks": null, "saves": 8}));
        assert_eq!(body["platforms"][3]["metrics"]["views"], 15000);
        assert_eq!(body["platforms"][3]["metrics"]["likes"], 900);
        assert_eq!(body["platforms"][4]["metrics"]["likes"], 50);
        assert_eq!(body["platforms"][4]["post_url"], Value::Null);

        let sent = received(app, "POST", "/api/analytics/post").await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, json!({"id": post_id}));
        assert_eq!(sent[0].1.headers.get("profile-key").unwrap(), "PK-ANALYTICS");
        // A read: the record is untouched.
        assert_eq!(record(app, tracking_id).await, before);
    }

    async fn the_platforms_asked_for_go_to_ayrshare_by_its_names(app) {
        answer_creates(app).await;
        answer_analytics(app, ResponseTemplate::new(200).set_body_json(json!({
            "status": "partial", "linkedin": linkedin(),
            "errors": [{"action": "analytics", "status": "error", "code": 386,
                        "message": "No analytics for X: the post was not published there.", "platform": "twitter"}]
        }))).await;
        let (post_id, _) = published(app, json!(["linkedin", "x"])).await;
        let body = response_json(analytics(app, &post_id, "?platforms=X,linkedin").send().await.unwrap()).await;
        assert_eq!(body["platforms"].as_array().unwrap().len(), 1);
        assert_eq!(body["errors"], json!([{"platform": "x",
            "message": "No analytics for X: the post was not published there. (code 386)"}]));
        let sent = received(app, "POST", "/api/analytics/post").await;
        assert_eq!(sent[0].0, json!({"id": post_id, "platforms": ["twitter", "linkedin"]}));

        let response = analytics(app, &post_id, "?platforms=twitter").send().await.unwrap();
        let error = expect_error(response, 400, "validation_error").await;
        assert_eq!(error["errors"][0]["field"], "platforms[0]");
        assert_eq!(received(app, "POST", "/api/analytics/post").await.len(), 1);
    }

    async fn ayrshare_errors_map_as_on_the_create(app) {
        answer_creates(app).await;
        let (post_id, tracking_id) = published(app, json!(["x"])).await;
        let cases = [
            (ResponseTemplate::new(400).set_body_json(json!({"status": "error", "code": 386,
                "errors": [{"platform": "twitter", "message": "No analytics yet", "code": 386}]})),
             400, "provider_rejected"),
            (ResponseTemplate::new(401).set_body_json(json!({"status": "error", "code": 102})), 502, "provider_error"),
            (ResponseTemplate::new(500).set_body_string("boom"), 502, "provider_error"),
            (ResponseTemplate::new(200).set_body_string("<html>"), 502, "provider_error"),
            (ResponseTemplate::new(404).set_body_json(json!({"status": "error", "code": 114})), 404, "not_found"),
            // Last: a 429 holds the profile.
            (ResponseTemplate::new(429).insert_header("retry-after", "30"), 429, "rate_limit"),
        ];
        for (template, status, code) in cases {
            app.ayrshare.reset().await;
            answer_analytics(app, template).await;
            let response = analytics(app, &post_id, "").send().await.unwrap();
            let body = expect_error(response, status, code).await;
            assert_eq!(body["tracking_id"], tracking_id.as_str(), "{code}");
            if code == "provider_rejected" {
                assert_eq!(body["detail"], "ayrshare refused the analytics request: x: No analytics yet (code 386)");
            }
        }
        // The 429 held the profile: the service answers for it without calling Ayrshare.
        app.ayrshare.reset().await;
        let response = analytics(app, &post_id, "").send().await.unwrap();
        assert_eq!(response.status(), 429);
        assert!(received(app, "POST", "/api/analytics/post").await.is_empty());
    }

    async fn another_organizations_post_is_not_found(app) {
        answer_creates(app).await;
        let (post_id, _) = published(app, json!(["x"])).await;
        let (their_key, _) = app.other_organization("globex").await;
        let response = app.client.get(app.url(&format!("/social/post/{post_id}/analytics")))
            .bearer_auth(&their_key).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        assert!(received(app, "POST", "/api/analytics/post").await.is_empty());
    }
}
