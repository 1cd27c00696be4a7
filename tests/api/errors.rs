//! Errors outside the handlers' own logic: unknown routes, wrong methods, oversized and
//! malformed bodies. Every one is JSON; none changes anything.

use crate::backend_tests;
use crate::support::{expect_error, response_json};

backend_tests! {
    async fn an_unknown_route_is_a_json_404(app) {
        let response = app.get("/nope").send().await.unwrap();
        expect_error(response, 404, "not_found").await;
    }

    async fn a_wrong_method_is_a_json_405(app) {
        let response = app.client.delete(app.url("/social/post")).bearer_auth(&app.api_key)
            .send().await.unwrap();
        expect_error(response, 405, "method_not_allowed").await;
        let response = app.client.put(app.url("/healthz")).send().await.unwrap();
        expect_error(response, 405, "method_not_allowed").await;
    }

    async fn a_body_over_one_mebibyte_is_refused_before_anything_else(app) {
        let big = format!("{{\"platforms\":[\"x\"],\"post\":\"{}\"}}", "a".repeat(1024 * 1024));
        // No key at all: the size is checked first.
        let response = app.client.post(app.url("/social/post"))
            .header("content-type", "application/json").body(big.clone()).send().await.unwrap();
        expect_error(response, 413, "payload_too_large").await;
        // Without a Content-Length (chunked), at most the limit is read, still before the key.
        let response = app.client.post(app.url("/social/post"))
            .header("content-type", "application/json").body(futures_stream(big.clone()))
            .send().await.unwrap();
        expect_error(response, 413, "payload_too_large").await;
        // A chunked body under the limit goes through as usual.
        let small = futures_stream(r#"{"platforms": ["myspace"]}"#.to_owned());
        let response = app.client.post(app.url("/social/post")).bearer_auth(&app.api_key)
            .header("content-type", "application/json").body(small).send().await.unwrap();
        expect_error(response, 400, "validation_error").await;
        assert!(app.records().await.is_empty());
    }

    async fn a_body_without_a_json_content_type_is_415(app) {
        let response = app.client.post(app.url("/social/post")).bearer_auth(&app.api_key)
            .body(r#"{"platforms":["x"]}"#).send().await.unwrap();
        expect_error(response, 415, "unsupported_media_type").await;
        let response = app.client.post(app.url("/social/post")).bearer_auth(&app.api_key)
            .header("content-type", "text/plain").body(r#"{"platforms":["x"]}"#).send().await.unwrap();
        expect_error(response, 415, "unsupported_media_type").await;
        assert!(app.records().await.is_empty());
    }

    async fn malformed_json_is_a_validation_error(app) {
        let response = app.client.post(app.url("/social/post")).bearer_auth(&app.api_key)
            .header("content-type", "application/json").body(r#"{"platforms": ["x"]"#)
            .send().await.unwrap();
        let body = expect_error(response, 400, "validation_error").await;
        assert_eq!(body["errors"][0]["field"], "body");
        assert!(app.records().await.is_empty());
        assert!(app.ayrshare.received_requests().await.unwrap().is_empty());
    }

    async fn a_request_id_is_echoed_or_generated(app) {
        let response = app.client.get(app.url("/healthz")).header("x-request-id", "trace-me-42")
            .send().await.unwrap();
        assert_eq!(response.headers()["x-request-id"], "trace-me-42");
        let response = app.get("/nope").send().await.unwrap();
        let generated = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(generated.len(), 36, "{generated}");
    }

    async fn health_needs_no_key(app) {
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response_json(response).await["status"], "ok");
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response_json(response).await["status"], "ready");
    }
}

/// A body reqwest sends in chunks, without a Content-Length.
fn futures_stream(text: String) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = text
        .into_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}
