//! Bad input: a 400 naming every problem, and nothing written, nothing sent.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{TestApp, expect_error};

/// Sends `body`, expects a validation error on exactly `fields`, and checks nothing happened.
async fn refused(app: &TestApp, body: Value, fields: &[&str]) -> Value {
    let response = app.post(&body).send().await.unwrap();
    let error = expect_error(response, 400, "validation_error").await;
    let got: Vec<&str> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(got, fields, "{error}");
    assert!(
        app.records().await.is_empty(),
        "a refused request wrote a record"
    );
    assert!(
        app.ayrshare.received_requests().await.unwrap().is_empty(),
        "a refused request reached Ayrshare"
    );
    error
}

backend_tests! {
    async fn platforms_is_required(app) {
        refused(app, json!({"post": "hi"}), &["platforms"]).await;
        refused(app, json!({"post": "hi", "platforms": []}), &["platforms"]).await;
        refused(app, json!({"post": "hi", "platforms": null}), &["platforms"]).await;
    }

    async fn an_unknown_platform_is_named_with_the_allowed_list(app) {
        let error = refused(app, json!({"platforms": ["myspace"]}), &["platforms[0]"]).await;
        assert_eq!(
            error["detail"],
            "platforms[0]: 'myspace' is not one of x, linkedin, instagram, facebook, tiktok, youtube"
        );
    }

    async fn a_duplicate_platform_in_any_case_is_refused(app) {
        refused(app, json!({"platforms": ["x", "X"]}), &["platforms[1]"]).await;
    }

    async fn every_problem_is_reported_at_once(app) {
        refused(app, json!({
            "post": ["not", "text"],
            "platforms": ["x", "friendster"],
            "media_urls": ["/relative.png", "https://ok.example.com/a.png", 3],
            "schedule_date": "2020-01-01T00:00:00Z",
            "workspace_id": "not-a-uuid",
            "profileKey": "someone-elses"
        }), &["post", "platforms[1]", "media_urls[0]", "media_urls[2]", "schedule_date",
              "workspace_id", "profileKey"]).await;
    }

    async fn a_schedule_date_without_an_offset_is_refused(app) {
        let error = refused(app, json!({"platforms": ["x"], "schedule_date": "2031-03-10T16:00:00"}),
            &["schedule_date"]).await;
        assert!(error["detail"].as_str().unwrap().contains("offset"));
    }

    async fn a_schedule_date_in_the_past_is_refused(app) {
        refused(app, json!({"platforms": ["x"], "schedule_date": "2001-03-10T16:00:00+01:00"}),
            &["schedule_date"]).await;
    }

    async fn media_urls_must_be_http_urls(app) {
        refused(app, json!({"platforms": ["x"], "media_urls": ["ftp://files.example.com/a.png"]}),
            &["media_urls[0]"]).await;
        refused(app, json!({"platforms": ["x"], "media_urls": "https://a.example/x.png"}),
            &["media_urls"]).await;
    }

    async fn extras_that_would_override_fields_or_reach_another_profile_are_refused(app) {
        for key in ["mediaUrls", "scheduleDate", "profileKey", "profileKeys", "Profile-Key", "profile_key", "SCHEDULE-DATE"] {
            refused(app, json!({"platforms": ["x"], key: "x"}), &[key]).await;
        }
    }

    async fn nul_characters_are_refused_the_same_on_both_databases(app) {
        refused(app, json!({"platforms": ["x"], "post": "a\u{0}b"}), &["post"]).await;
        refused(app, json!({"platforms": ["x"], "notes": "n\u{0}"}), &["notes"]).await;
        let response = app.get("/social/post/a%00b").send().await.unwrap();
        expect_error(response, 404, "not_found").await;
    }

    async fn a_body_that_is_not_an_object_is_refused(app) {
        refused(app, json!(["x"]), &["body"]).await;
    }

    async fn a_workspace_id_that_does_not_exist_is_not_found(app) {
        let response = app.post(&json!({"platforms": ["x"],
            "workspace_id": "6f1c1f2e-8d7b-4a55-9d7e-2b1f0c3d4e5f"})).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        assert!(app.records().await.is_empty());
    }
}
