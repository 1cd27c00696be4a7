//! `POST /social/post`: every row of the contract's outcome table, what Ayrshare receives, and
//! what the database holds afterwards.

use std::time::Duration;

use mosaic_social::ayrshare::MAX_ANSWER_BYTES;
use mosaic_social::domain::TrackedStatus;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::support::{AYRSHARE_KEY, Options, TestApp, expect_error, response_json};

pub fn success_body() -> Value {
    json!({
        "status": "success",
        "errors": [],
        "postIds": [
            {"status": "success", "id": "1901625213503277588", "platform": "twitter",
             "postUrl": "https://x.com/acme/status/1901625213503277588"},
            {"status": "success", "id": 7206185311_i64, "platform": "linkedin",
             "postUrl": "https://www.linkedin.com/feed/update/urn:li:share:7206185311", "usedQuota": 3}
        ],
        "id": "RhrbDtYh7hdSMc67zC8H",
        "refId": "b68bdcabb379be2cf1186c1e59544",
        "somethingNewFromAyrshare": {"nested": [1, 2]}
    })
}

pub async fn answer_post(app: &TestApp, template: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/api/post"))
        .respond_with(template)
        .expect(1)
        .mount(&app.ayrshare)
        .await;
}

/// The one request Ayrshare received, as JSON, with its headers.
pub async fn ayrshare_request(app: &TestApp) -> (Value, wiremock::Request) {
    let requests = app.ayrshare.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "expected exactly one Ayrshare call");
    let request = requests.into_iter().next().unwrap();
    (serde_json::from_slice(&request.body).unwrap(), request)
}

fn header<'a>(request: &'a wiremock::Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

backend_tests! {
    async fn a_successful_post_answers_the_merged_response_and_records_posted(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        let response = app.post(&json!({"post": "New product update 🚀", "platforms": ["x", "LinkedIn"]}))
            .send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["post_id"], "RhrbDtYh7hdSMc67zC8H");
        assert_eq!(body["status"], "success");
        assert_eq!(body["error"], Value::Null);
        assert_eq!(body["tracked_status"], "posted");
        assert_eq!(body["links"], json!([
            {"platform": "x", "post_url": "https://x.com/acme/status/1901625213503277588"},
            {"platform": "linkedin", "post_url": "https://www.linkedin.com/feed/update/urn:li:share:7206185311"}
        ]));
        assert_eq!(body["results"][0], json!({"platform": "x", "status": "success",
            "post_id": "1901625213503277588",
            "post_url": "https://x.com/acme/status/1901625213503277588", "message": null}));
        // Ayrshare sent a number; we answer a string.
        assert_eq!(body["results"][1]["post_id"], "7206185311");

        let (mut sent, request) = ayrshare_request(app).await;
        // Every post carries an idempotencyKey derived from its record, so that nothing can
        // publish it twice; the record keeps which key was sent.
        let record = app.only_record().await;
        let sent_key = sent.as_object_mut().unwrap().remove("idempotencyKey");
        assert_eq!(sent_key, Some(json!(format!("mosaic-{}", record.id))));
        assert_eq!(record.ayrshare_idempotency_key, Some(format!("mosaic-{}", record.id)));
        assert_eq!(sent, json!({"post": "New product update 🚀", "platforms": ["twitter", "linkedin"]}));
        assert_eq!(header(&request, "authorization"), Some(format!("Bearer {AYRSHARE_KEY}").as_str()));
        assert_eq!(header(&request, "profile-key"), None);
        assert_eq!(header(&request, "x-twitter-oauth1-api-key"), None);

        assert_eq!(body["tracking_id"], record.id.to_string());
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        assert_eq!(record.provider_post_id.as_deref(), Some("RhrbDtYh7hdSMc67zC8H"));
        assert_eq!(record.provider_status.as_deref(), Some("success"));
        assert_eq!(record.platforms, ["x", "linkedin"]);
        assert_eq!(record.post, "New product update 🚀");
        assert_eq!(record.workspace_id, app.primary_workspace_id);
        assert_eq!(record.organization_id, app.organization_id);
        assert_eq!(record.results.len(), 2);
        assert_eq!(app.raw_answer(record.id).await, Some(success_body()));
        assert_eq!(record.error, None);
        assert!(record.updated_at >= record.created_at);
    }

    async fn a_scheduled_post_is_sent_in_utc_and_recorded_scheduled(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(json!({
            "status": "scheduled", "scheduleDate": "2031-03-10T16:00:00Z", "id": "SCHED123", "postIds": []
        }))).await;
        let response = app.post(&json!({
            "post": "later", "platforms": ["linkedin"],
            "media_urls": ["https://cdn.example.com/media/launch.mp4"],
            "schedule_date": "2031-03-10T18:00:00.750+02:00"
        })).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["status"], "scheduled");
        assert_eq!(body["tracked_status"], "scheduled");
        assert_eq!(body["links"], json!([]));
        assert_eq!(body["results"], json!([]));
        assert_eq!(body["post_id"], "SCHED123");

        let (sent, _) = ayrshare_request(app).await;
        assert_eq!(sent["scheduleDate"], "2031-03-10T16:00:00Z");
        assert_eq!(sent["mediaUrls"], json!(["https://cdn.example.com/media/launch.mp4"]));

        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Scheduled);
        assert_eq!(record.schedule_date.unwrap().to_rfc3339(), "2031-03-10T16:00:00+00:00");
        assert_eq!(record.media_urls, ["https://cdn.example.com/media/launch.mp4"]);
    }

    async fn a_partial_failure_answers_200_with_ayrshares_errors_and_records_partial(app) {
        answer_post(app, ResponseTemplate::new(400).set_body_json(json!({
            "status": "error",
            "errors": [{"action": "post", "status": "error", "code": 156,
                        "message": "Instagram is not linked.", "platform": "instagram"}],
            "postIds": [{"status": "success", "id": "1", "platform": "twitter", "postUrl": "https://x.com/a/1"}],
            "id": "PART1"
        }))).await;
        let response = app.post(&json!({"post": "p", "platforms": ["x", "instagram"],
            "media_urls": ["https://cdn.example.com/a.png"]})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["status"], "error");
        assert_eq!(body["tracked_status"], "partial");
        assert_eq!(body["error"]["errors"][0]["code"], 156);
        assert_eq!(body["results"][1]["message"], "Instagram is not linked. (code 156)");
        assert_eq!(body["links"].as_array().unwrap().len(), 1);
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Partial);
    }

    async fn a_total_rejection_is_provider_rejected_quoting_each_platform(app) {
        answer_post(app, ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "postIds": [], "id": "6APU4qqI7XO7JM3BOy6B",
            "errors": [
                {"action": "post", "status": "error", "code": 110, "message": "Status is a duplicate.",
                 "platform": "twitter"},
                {"action": "post", "status": "error", "code": 107,
                 "message": "Facebook Error: This status update is identical.", "platform": "facebook"}
            ]
        }))).await;
        let response = app.post(&json!({"post": "dup", "platforms": ["x", "facebook"]})).send().await.unwrap();
        let body = expect_error(response, 400, "provider_rejected").await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("x: Status is a duplicate. (code 110)"), "{detail}");
        assert!(detail.contains("facebook: Facebook Error: This status update is identical. (code 107)"), "{detail}");
        assert_eq!(body["tracked_status"], "failed");
        assert_eq!(body["post_id"], "6APU4qqI7XO7JM3BOy6B");
        assert_eq!(body["results"].as_array().unwrap().len(), 2);
        let record = app.only_record().await;
        assert_eq!(body["tracking_id"], record.id.to_string());
        assert_eq!(record.tracked_status, TrackedStatus::Failed);
        assert_eq!(record.error.unwrap()["errors"][0]["code"], 110);
    }

    async fn a_request_level_rejection_quotes_ayrshares_message(app) {
        answer_post(app, ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "code": 101,
            "message": "Missing or incorrect post parameter. Please verify a non-empty post field is sent."
        }))).await;
        let response = app.post(&json!({"platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 400, "provider_rejected").await;
        assert!(body["detail"].as_str().unwrap().contains("Missing or incorrect post parameter"));
        assert!(body["detail"].as_str().unwrap().contains("(code 101)"));
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Failed);
    }

    async fn ayrshare_refusing_our_credentials_is_a_provider_error_and_failed(app) {
        answer_post(app, ResponseTemplate::new(403).set_body_json(json!({
            "status": "error", "code": 102, "message": "API Key not valid."
        }))).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 502, "provider_error").await;
        assert_eq!(body["tracked_status"], "failed");
        assert!(body["tracking_id"].is_string());
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Failed);
    }

    async fn ayrshare_401_is_a_provider_error_not_the_callers_problem(app) {
        answer_post(app, ResponseTemplate::new(401).set_body_json(json!({"status": "error"}))).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 502, "provider_error").await;
        assert_eq!(body["tracked_status"], "failed");
    }

    async fn an_ayrshare_rate_limit_passes_retry_after_on(app) {
        answer_post(app, ResponseTemplate::new(429)
            .insert_header("retry-after", "17")
            .insert_header("x-ratelimit-max", "300")
            .set_body_json(json!({"status": "error", "message": "Too many requests"}))).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        assert_eq!(response.headers()["retry-after"], "17");
        let body = expect_error(response, 429, "rate_limit").await;
        assert_eq!(body["tracked_status"], "failed");
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Failed);
    }

    async fn a_rate_limit_without_retry_after_gets_a_default(app) {
        answer_post(app, ResponseTemplate::new(429).set_body_json(json!({"status": "error"}))).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        assert_eq!(response.headers()["retry-after"], "300");
        expect_error(response, 429, "rate_limit").await;
    }

    async fn an_ayrshare_server_error_leaves_the_outcome_unknown(app) {
        answer_post(app, ResponseTemplate::new(500).set_body_json(json!({"status": "error"}))).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 502, "provider_error").await;
        assert_eq!(body["tracked_status"], "unknown");
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Unknown);
    }

    async fn an_answer_that_is_not_json_leaves_the_outcome_unknown(app) {
        answer_post(app, ResponseTemplate::new(200)
            .set_body_raw("<html><body>Bad Gateway</body></html>", "text/html")).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 502, "provider_error").await;
        assert_eq!(body["tracked_status"], "unknown");
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Unknown);
        assert_eq!(app.raw_answer(record.id).await, Some(json!("<html><body>Bad Gateway</body></html>")));
    }

    async fn an_answer_larger_than_the_limit_is_not_read_and_leaves_the_outcome_unknown(app) {
        // A success, were it not longer than the limit: the rest is never read, so what was
        // published cannot be known.
        let mut answer = success_body();
        answer["padding"] = json!("x".repeat(MAX_ANSWER_BYTES));
        answer_post(app, ResponseTemplate::new(200).set_body_json(answer)).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 502, "provider_error").await;
        assert_eq!(body["tracked_status"], "unknown");
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Unknown);
        let kept = app.raw_answer(record.id).await.expect("the start of the answer is kept");
        let kept = kept.as_str().expect("as text");
        assert!(kept.starts_with('{'), "{kept}");
        assert!(kept.len() < 2048, "{} bytes kept", kept.len());
        assert!(kept.ends_with(&format!("... (cut: the answer was longer than {MAX_ANSWER_BYTES} bytes)")), "{kept}");
    }

    async fn an_answer_of_exactly_the_limit_is_read_whole(app) {
        let mut answer = success_body();
        answer["padding"] = json!("");
        let short = serde_json::to_vec(&answer).unwrap().len();
        answer["padding"] = json!("x".repeat(MAX_ANSWER_BYTES - short));
        assert_eq!(serde_json::to_vec(&answer).unwrap().len(), MAX_ANSWER_BYTES);
        answer_post(app, ResponseTemplate::new(200).set_body_json(answer)).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Posted);
    }

    async fn an_answer_holding_nul_characters_is_still_recorded(app) {
        answer_post(app, ResponseTemplate::new(500).set_body_raw("broken\u{0}gateway", "text/plain")).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 502, "provider_error").await;
        assert_eq!(body["tracked_status"], "unknown");
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Unknown);
        assert_eq!(app.raw_answer(record.id).await, Some(json!("broken\u{fffd}gateway")));
    }

    async fn a_success_answer_without_a_status_is_judged_from_post_ids(app) {
        let mut body = success_body();
        body.as_object_mut().unwrap().remove("status");
        answer_post(app, ResponseTemplate::new(200).set_body_json(body)).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x", "linkedin"]})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response_json(response).await["tracked_status"], "posted");
    }

    async fn a_refused_connection_is_provider_unavailable_and_failed(app) [Options {
        ayrshare_base_url: Some(format!("http://{}/api", closed_port())),
        ..Options::default()
    }] {
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 503, "provider_unavailable").await;
        assert_eq!(body["tracked_status"], "failed");
        assert!(body.get("post_id").is_none());
        assert_eq!(app.only_record().await.tracked_status, TrackedStatus::Failed);
    }

    async fn a_timeout_after_sending_is_provider_timeout_and_unknown(app) [Options {
        ayrshare_timeout: Duration::from_millis(500),
        ..Options::default()
    }] {
        answer_post(app, ResponseTemplate::new(200)
            .set_body_json(success_body())
            .set_delay(Duration::from_secs(3))).await;
        let response = app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 504, "provider_timeout").await;
        assert_eq!(body["tracked_status"], "unknown");
        let record = app.only_record().await;
        assert_eq!(record.tracked_status, TrackedStatus::Unknown);
        // Sent once: never retried after a timeout.
        assert_eq!(app.ayrshare.received_requests().await.unwrap().len(), 1);
    }

    async fn extra_keys_are_forwarded_unchanged_and_recorded(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        let extras = json!({
            "youTubeOptions": {"title": "Launch", "visibility": "unlisted"},
            "isVideo": true, "shortenLinks": false, "notes": "from CI",
            "requiresApproval": false, "idempotencyKey": "abc-123"
        });
        let mut body = json!({"post": "v", "platforms": ["youtube"],
            "media_urls": ["https://cdn.example.com/v.mp4"], "workspace_id": null});
        body.as_object_mut().unwrap().extend(extras.as_object().unwrap().clone());
        let response = app.post(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let (sent, _) = ayrshare_request(app).await;
        for (key, value) in extras.as_object().unwrap() {
            assert_eq!(&sent[key], value, "{key}");
        }
        assert!(sent.get("workspace_id").is_none());
        assert!(sent.get("media_urls").is_none());
        // The caller's own idempotencyKey is kept, and the record says it was the one sent.
        assert_eq!(app.only_record().await.ayrshare_idempotency_key.as_deref(), Some("abc-123"));
        assert_eq!(app.only_record().await.extra, extras);
    }

    async fn numbers_in_extras_are_forwarded_digit_for_digit(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        // Each of these would change through an f64; numbers past 64 bits are refused (see
        // hardening.rs).
        let body = r#"{"platforms": ["x"], "post": "n", "big": 9007199254740993,
            "max": 18446744073709551615, "min": -9223372036854775808, "money": 1.10,
            "small": 2.50e-7}"#;
        let response = app.client.post(app.url("/social/post")).bearer_auth(&app.api_key)
            .header("content-type", "application/json").body(body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let requests = app.ayrshare.received_requests().await.unwrap();
        let sent = String::from_utf8_lossy(&requests[0].body).into_owned();
        for number in ["9007199254740993", "18446744073709551615", "-9223372036854775808",
                       "1.10", "2.50e-7"] {
            assert!(sent.contains(number), "{number} not forwarded as is: {sent}");
        }
        let stored = app.only_record().await.extra.to_string();
        assert!(stored.contains("9007199254740993"), "{stored}");
        assert!(stored.contains("18446744073709551615"), "{stored}");
    }

    async fn the_workspaces_profile_key_is_sent_to_ayrshare(app) {
        answer_post(app, ResponseTemplate::new(200).set_body_json(success_body())).await;
        let workspace = app.store
            .create_workspace(app.organization_id, "brand-b", Some("PROFILE-KEY-B"))
            .await.unwrap();
        let response = app.post(&json!({"post": "b", "platforms": ["linkedin"],
            "workspace_id": workspace.id.to_string()})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let (_, request) = ayrshare_request(app).await;
        assert_eq!(header(&request, "profile-key"), Some("PROFILE-KEY-B"));
        assert_eq!(app.only_record().await.workspace_id, workspace.id);
    }

    async fn x_credentials_are_sent_when_x_is_a_target(app) [Options { x_credentials: true, ..Options::default() }] {
        Mock::given(method("POST")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(200).set_body_json(success_body()))
            .expect(2).mount(&app.ayrshare).await;
        app.post(&json!({"post": "a", "platforms": ["x"]})).send().await.unwrap();
        app.post(&json!({"post": "a", "platforms": ["linkedin"]})).send().await.unwrap();
        let requests = app.ayrshare.received_requests().await.unwrap();
        assert_eq!(header(&requests[0], "x-twitter-oauth1-api-key"), Some("x-app-key"));
        assert_eq!(header(&requests[0], "x-twitter-oauth1-api-secret"), Some("x-app-secret"));
        assert_eq!(header(&requests[1], "x-twitter-oauth1-api-key"), None);
    }

    async fn another_organizations_workspace_is_not_found_and_nothing_happens(app) {
        let (_, other_org) = app.other_organization("globex").await;
        let theirs = app.store.create_workspace(other_org, "secret", Some("THEIR-KEY")).await.unwrap();
        let response = app.post(&json!({"post": "a", "platforms": ["x"],
            "workspace_id": theirs.id.to_string()})).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        assert!(app.records().await.is_empty());
        assert!(app.ayrshare.received_requests().await.unwrap().is_empty());
    }
}

/// A loopback port with nothing listening on it. The socket is bound (so no other test can take
/// the port) but never listens, so connecting is refused; it is leaked for the test's lifetime.
fn closed_port() -> std::net::SocketAddr {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    Box::leak(Box::new(socket));
    addr
}
