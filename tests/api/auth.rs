//! Authentication: a bearer `mk_` key, refused with `invalid_api_key` in every other case.

use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::create_post::success_body;
use crate::support::{TestApp, expect_error};

async fn refused_with(app: &TestApp, authorization: Option<&str>) {
    let mut request = app
        .client
        .post(app.url("/social/post"))
        .json(&json!({"platforms": ["x"]}));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    expect_error(response, 401, "invalid_api_key").await;
    assert!(app.records().await.is_empty());
    assert!(app.ayrshare.received_requests().await.unwrap().is_empty());
}

backend_tests! {
    async fn a_missing_authorization_header_is_refused(app) {
        refused_with(app, None).await;
    }

    async fn a_scheme_other_than_bearer_is_refused(app) {
        refused_with(app, Some(&format!("Basic {}", app.api_key))).await;
        refused_with(app, Some(&app.api_key.clone())).await;
    }

    async fn an_unknown_or_malformed_key_is_refused(app) {
        refused_with(app, Some("Bearer mk_0000000000000000000000000000000000000000000")).await;
        refused_with(app, Some("Bearer mk_short")).await;
        refused_with(app, Some("Bearer ")).await;
    }

    async fn a_revoked_key_is_refused_at_once(app) {
        let prefix: String = app.api_key.chars().take(11).collect();
        app.store.revoke_api_key(&prefix).await.unwrap();
        refused_with(app, Some(&format!("Bearer {}", app.api_key))).await;
    }

    async fn a_key_revoked_after_use_is_refused_within_the_revocation_window(app) {
        // Used first, so that this server has the key's answer cached.
        let track = app.url(&format!("/social/post/track/{}", uuid::Uuid::new_v4()));
        let response = app.client.get(&track).bearer_auth(&app.api_key).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        let prefix: String = app.api_key.chars().take(11).collect();
        app.store.revoke_api_key(&prefix).await.unwrap();
        // Refused within LOOKUP_TTL (under the contract's 5 seconds); the bound here is only
        // there to end the test if it never is.
        let bound = mosaic_social::publishing::LOOKUP_TTL + std::time::Duration::from_secs(10);
        tokio::time::timeout(bound, async {
            loop {
                let response = app.client.get(&track).bearer_auth(&app.api_key).send().await.unwrap();
                if response.status() == 401 {
                    expect_error(response, 401, "invalid_api_key").await;
                    break;
                }
                expect_error(response, 404, "not_found").await;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
        .await
        .expect("the revoked key is refused");
        refused_with(app, Some(&format!("Bearer {}", app.api_key))).await;
    }

    async fn the_scheme_word_is_case_insensitive(app) {
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_json(success_body()))
            .expect(1).mount(&app.ayrshare).await;
        let response = app.client.post(app.url("/social/post"))
            .header("authorization", format!("bEaReR {}", app.api_key))
            .json(&json!({"platforms": ["x"]})).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }

    async fn the_reads_need_a_key_too(app) {
        let response = app.client.get(app.url("/social/post/abc")).send().await.unwrap();
        expect_error(response, 401, "invalid_api_key").await;
        let response = app.client
            .get(app.url("/social/post/track/6f1c1f2e-8d7b-4a55-9d7e-2b1f0c3d4e5f"))
            .send().await.unwrap();
        expect_error(response, 401, "invalid_api_key").await;
    }
}
