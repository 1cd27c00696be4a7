//! Hostile and clumsy input: every request at a bounded cost, one meaning per request, and the
//! caller's bytes forwarded unchanged or refused. Each case checks the answer, that nothing was
//! written, that Ayrshare was not called, and that the service still answers `/healthz`.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::create_post::{answer_post, ayrshare_request, success_body};
use crate::support::{TestApp, expect_error, response_json};
use wiremock::ResponseTemplate;

/// Sends `body` as written (not re-serialized), with the test key.
async fn send_raw(app: &TestApp, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client
        .post(app.url("/social/post"))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A 400 `validation_error`; nothing written, nothing sent, and the service still healthy.
async fn refused(app: &TestApp, response: reqwest::Response) -> Value {
    let error = expect_error(response, 400, "validation_error").await;
    nothing_happened(app).await;
    error
}

async fn nothing_happened(app: &TestApp) {
    assert!(
        app.records().await.is_empty(),
        "a refused request wrote a record"
    );
    assert!(
        app.ayrshare.received_requests().await.unwrap().is_empty(),
        "a refused request reached Ayrshare"
    );
    still_healthy(app).await;
}

async fn still_healthy(app: &TestApp) {
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response_json(response).await["status"], "ok");
}

fn fields(error: &Value) -> Vec<&str> {
    error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

backend_tests! {
    async fn numbers_beyond_64_bits_are_refused_the_same_on_both_stores(app) {
        // Once a 500 on Postgres (numeric out of range) and a 200 on SQLite.
        for (number, field) in [
            ("1e400", "huge"),
            ("123456789012345678901234567890", "huge"),
            ("1e-400", "huge"),
            ("-1e99999", "huge"),
        ] {
            let body = format!(r#"{{"platforms": ["x"], "huge": {number}}}"#);
            let error = refused(app, send_raw(app, body).await).await;
            assert_eq!(fields(&error), [field], "{number}: {error}");
        }
        let nested = r#"{"platforms": ["x"], "opts": {"list": [1, {"n": 2e308}]}}"#;
        let error = refused(app, send_raw(app, nested).await).await;
        assert_eq!(fields(&error), ["opts.list[1].n"]);
    }

    async fn many_huge_exponents_cost_nothing_and_are_refused(app) {
        // About 90 KB of numbers that Postgres would have expanded to gigabytes.
        let numbers = vec!["9e999999999"; 7_000].join(",");
        let body = format!(r#"{{"platforms": ["x"], "n": [{numbers}]}}"#);
        let response = send_raw(app, body).await;
        let error = refused(app, response).await;
        assert_eq!(error["errors"].as_array().unwrap().len(), 50);
        assert_eq!(error["errors_not_listed"], 6_950);
    }

    async fn the_largest_accepted_numbers_are_stored_and_forwarded_on_both_stores(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        let body = r#"{"platforms": ["x"], "a": 1.7976931348623157e308, "b": 5e-324,
            "c": -9223372036854775808, "d": 18446744073709551615}"#;
        let response = send_raw(app, body).await;
        assert_eq!(response.status(), 200);
        let (sent, _) = ayrshare_request(app).await;
        assert_eq!(sent["c"].to_string(), "-9223372036854775808");
        assert_eq!(sent["d"].to_string(), "18446744073709551615");
        assert_eq!(app.only_record().await.extra["d"].to_string(), "18446744073709551615");
    }

    async fn the_error_list_is_capped_and_says_how_many_more(app) {
        // Half a megabyte of invalid items: the answer stays small.
        let items = vec![format!("ftp://{}.example/a.png", "h".repeat(40)); 9_000];
        let body = json!({"platforms": ["x"], "media_urls": items}).to_string();
        assert!(body.len() > 500_000);
        let response = send_raw(app, body).await;
        let text_length = response.content_length();
        let error = refused(app, response).await;
        assert_eq!(error["errors"].as_array().unwrap().len(), 50);
        assert_eq!(error["errors_not_listed"], 8_950);
        assert!(error["detail"].as_str().unwrap().ends_with("and 8950 more problems not listed"));
        let size = error.to_string().len();
        assert!(size < 32 * 1024, "{size} bytes");
        assert!(text_length.is_none_or(|n| n < 32 * 1024));
        // A short list has no count.
        let few = refused(app, app.post(&json!({"platforms": ["myspace"]})).send().await.unwrap()).await;
        assert!(few.get("errors_not_listed").is_none(), "{few}");
    }

    async fn too_many_values_or_too_deep_a_nesting_is_refused_early(app) {
        let many = format!(r#"{{"platforms": ["x"], "n": [{}]}}"#, vec!["0"; 20_000].join(","));
        let error = refused(app, send_raw(app, many).await).await;
        assert_eq!(fields(&error), ["body"]);
        assert!(error["detail"].as_str().unwrap().contains("10000"), "{error}");

        let deep = format!(r#"{{"platforms": ["x"], "n": {}1{}}}"#, "[".repeat(40), "]".repeat(40));
        let error = refused(app, send_raw(app, deep).await).await;
        assert!(fields(&error)[0].starts_with("n[0][0]"), "{error}");
        let deeper = format!(r#"{{"n": {}"#, "[".repeat(500_000));
        refused(app, send_raw(app, deeper).await).await;
    }

    async fn a_duplicated_key_anywhere_is_refused_naming_it(app) {
        let top = r#"{"platforms": ["x"], "post": "one", "post": "two"}"#;
        let error = refused(app, send_raw(app, top).await).await;
        assert_eq!(fields(&error), ["post"]);
        assert!(error["detail"].as_str().unwrap().contains("more than once"), "{error}");

        let nested = r#"{"platforms": ["x"], "youTubeOptions": {"title": "a", "title": "b"}}"#;
        let error = refused(app, send_raw(app, nested).await).await;
        assert_eq!(fields(&error), ["youTubeOptions.title"]);

        // The same key written with an escape is the same key.
        let escaped = r#"{"platforms": ["x"], "platforms": ["linkedin"]}"#;
        assert_eq!(fields(&refused(app, send_raw(app, escaped).await).await), ["platforms"]);
        let escaped = r#"{"platforms": ["x"], "pl\u0061tforms": ["linkedin"]}"#;
        assert_eq!(fields(&refused(app, send_raw(app, escaped).await).await), ["platforms"]);

        let smuggled = r#"{"platforms": ["x"], "n": {"$serde_json::private::Number": "1"}}"#;
        assert_eq!(fields(&refused(app, send_raw(app, smuggled).await).await), ["n"]);
    }

    async fn two_authorization_headers_are_refused(app) {
        let response = app.client.post(app.url("/social/post"))
            .header("authorization", format!("Bearer {}", app.api_key))
            .header("authorization", "Bearer mk_someone_elses_key_0000000000000000000")
            .json(&json!({"platforms": ["x"]}))
            .send().await.unwrap();
        expect_error(response, 401, "invalid_api_key").await;
        // Even twice the same valid key.
        let response = app.client.get(app.url("/social/post/track/00000000-0000-0000-0000-000000000000"))
            .header("authorization", format!("Bearer {}", app.api_key))
            .header("authorization", format!("Bearer {}", app.api_key))
            .send().await.unwrap();
        expect_error(response, 401, "invalid_api_key").await;
        nothing_happened(app).await;
    }

    async fn media_urls_are_forwarded_byte_for_byte(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        let written = ["HTTPS://CDN.Example.COM:443/a/../b.png?x=1#frag",
                       "https://%63dn.example.com/caf%C3%A9.mp4"];
        let response = app.post(&json!({"platforms": ["x"], "media_urls": written}))
            .send().await.unwrap();
        assert_eq!(response.status(), 200);
        let (sent, _) = ayrshare_request(app).await;
        assert_eq!(sent["mediaUrls"], json!(written));
        assert_eq!(app.only_record().await.media_urls, written);
    }

    async fn media_urls_a_parser_would_rewrite_or_with_credentials_are_refused(app) {
        let bad = ["https://user:secret@cdn.example.com/a.png",
                   "https:cdn.example.com/a.png",
                   " https://cdn.example.com/a.png",
                   "https://cdn.example.com/a.png\u{0}",
                   "https:///cdn.example.com/a.png",
                   "https://cdn.example.com\\a.png"];
        let error = refused(app, app.post(&json!({"platforms": ["x"], "media_urls": bad}))
            .send().await.unwrap()).await;
        assert_eq!(fields(&error), ["media_urls[0]", "media_urls[1]", "media_urls[2]",
                                    "media_urls[3]", "media_urls[4]", "media_urls[5]"]);
        assert!(error["errors"][0]["message"].as_str().unwrap().contains("credentials"));
    }

    async fn an_unsafe_request_id_is_replaced(app) {
        for bad in ["x".repeat(129), "has space".to_owned(), "a\"b".to_owned(), "<i>".to_owned()] {
            let response = app.client.get(app.url("/healthz")).header("x-request-id", &bad)
                .send().await.unwrap();
            let echoed = response.headers()["x-request-id"].to_str().unwrap().to_owned();
            assert_ne!(echoed, bad);
            assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{echoed}");
        }
        let response = app.client.get(app.url("/healthz")).header("x-request-id", "x".repeat(128))
            .send().await.unwrap();
        assert_eq!(response.headers()["x-request-id"], "x".repeat(128).as_str());
    }
}
