//! `timezone` on the create and on PATCH's reschedule: a local `schedule_date` read in an IANA
//! zone reaches Ayrshare in UTC, the record and the track answer keep the zone, an offset wins,
//! and a zone that is unknown, a time in a gap or in a fold are 400s with nothing sent.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::fixtures::{answer_creates, create, received, record};
use crate::support::{TestApp, expect_error, response_json};

/// The one `schedule_date` problem of a refused create, after checking that nothing was sent
/// and nothing written.
async fn refused(app: &TestApp, body: Value, field: &str) -> String {
    let response = app.post(&body).send().await.unwrap();
    let error = expect_error(response, 400, "validation_error").await;
    assert_eq!(error["errors"].as_array().unwrap().len(), 1, "{error}");
    assert_eq!(error["errors"][0]["field"], field, "{error}");
    assert!(received(app, "POST", "/api/post").await.is_empty());
    assert!(app.records().await.is_empty());
    error["errors"][0]["message"].as_str().unwrap().to_owned()
}

fn patch(app: &TestApp, post_id: &str, body: Value) -> reqwest::RequestBuilder {
    app.client
        .patch(app.url(&format!("/social/post/{post_id}")))
        .bearer_auth(&app.api_key)
        .json(&body)
}

backend_tests! {
    async fn a_naive_time_in_europe_berlin_reaches_ayrshare_in_utc_and_the_record_keeps_the_zone(app) {
        answer_creates(app).await;
        // Winter (UTC+1) and summer (UTC+2) time.
        let winter = create(app, json!({"post": "at four", "platforms": ["x"],
            "schedule_date": "2031-03-10T16:00:00", "timezone": "Europe/Berlin"})).await;
        let summer = create(app, json!({"post": "at four", "platforms": ["linkedin"],
            "schedule_date": "2031-07-10T16:00", "timezone": "Europe/Berlin"})).await;

        let sent = received(app, "POST", "/api/post").await;
        assert_eq!(sent[0].0, json!({"post": "at four", "platforms": ["twitter"],
            "scheduleDate": "2031-03-10T15:00:00Z",
            "idempotencyKey": format!("mosaic-{}", winter["tracking_id"].as_str().unwrap())}));
        assert_eq!(sent[1].0["scheduleDate"], "2031-07-10T14:00:00Z");
        assert!(sent.iter().all(|(body, _)| body.get("timezone").is_none()));

        let stored = record(app, winter["tracking_id"].as_str().unwrap()).await;
        assert_eq!(stored.schedule_date.unwrap().to_rfc3339(), "2031-03-10T15:00:00+00:00");
        assert_eq!(stored.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(stored.extra, json!({}));
        let track = app.get(&format!("/social/post/track/{}", summer["tracking_id"].as_str().unwrap()))
            .send().await.unwrap();
        let track = response_json(track).await;
        assert_eq!(track["timezone"], "Europe/Berlin");
        assert_eq!(track["schedule_date"], "2031-07-10T14:00:00Z");
    }

    async fn an_offset_wins_over_the_timezone_which_is_only_recorded(app) {
        answer_creates(app).await;
        let created = create(app, json!({"post": "p", "platforms": ["x"],
            "schedule_date": "2031-03-10T16:00:00+05:00", "timezone": "America/New_York"})).await;
        let sent = received(app, "POST", "/api/post").await;
        assert_eq!(sent[0].0["scheduleDate"], "2031-03-10T11:00:00Z");
        let stored = record(app, created["tracking_id"].as_str().unwrap()).await;
        assert_eq!(stored.timezone.as_deref(), Some("America/New_York"));
        // Without a zone, the record says none.
        let plain = create(app, json!({"post": "q", "platforms": ["x"],
            "schedule_date": "2031-03-10T16:00:00Z"})).await;
        let track = response_json(app.get(&format!("/social/post/track/{}",
            plain["tracking_id"].as_str().unwrap())).send().await.unwrap()).await;
        assert_eq!(track["timezone"], Value::Null);
    }

    async fn a_time_in_the_timezones_spring_gap_is_refused(app) {
        answer_creates(app).await;
        let message = refused(app, json!({"platforms": ["x"], "schedule_date": "2027-03-14T02:30:00",
            "timezone": "America/New_York"}), "schedule_date").await;
        assert_eq!(message, "'2027-03-14T02:30:00' does not exist in America/New_York: the clocks \
                             skip it when daylight saving time begins");
    }

    async fn a_time_in_the_timezones_autumn_fold_is_refused_with_both_instants(app) {
        answer_creates(app).await;
        let message = refused(app, json!({"platforms": ["x"], "schedule_date": "2027-11-07T01:30:00",
            "timezone": "America/New_York"}), "schedule_date").await;
        assert!(message.contains("happens twice in America/New_York"), "{message}");
        assert!(message.contains("2027-11-07T05:30:00Z"), "{message}");
        assert!(message.contains("2027-11-07T06:30:00Z"), "{message}");
        assert!(message.contains("2027-11-07T01:30:00-04:00 or 2027-11-07T01:30:00-05:00"), "{message}");
    }

    async fn an_unknown_timezone_is_refused_and_quoted_briefly(app) {
        answer_creates(app).await;
        let message = refused(app, json!({"platforms": ["x"], "schedule_date": "2031-03-10T16:00:00",
            "timezone": "Mars/Olympus"}), "timezone").await;
        assert_eq!(message, "'Mars/Olympus' is not an IANA time zone name, such as Europe/Berlin");
        // Beside an offset too: the zone would be recorded, so it must be one.
        refused(app, json!({"platforms": ["x"], "schedule_date": "2031-03-10T16:00:00Z",
            "timezone": "europe/berlin"}), "timezone").await;
        let huge = "Z".repeat(100_000);
        let message = refused(app, json!({"platforms": ["x"], "timezone": huge}), "timezone").await;
        assert!(message.starts_with(&format!("'{}…' is not", "Z".repeat(64))), "{message}");
        for odd in [json!(5), json!(["Europe/Berlin"]), json!({"name": "UTC"}), json!(true)] {
            let message = refused(app, json!({"platforms": ["x"], "schedule_date": "2031-03-10T16:00:00",
                "timezone": odd}), "timezone").await;
            assert!(message.starts_with("must be a string"), "{message}");
        }
        // A misspelt field is refused, not forwarded to Ayrshare.
        refused(app, json!({"platforms": ["x"], "timeZone": "Europe/Berlin"}), "timeZone").await;
    }

    async fn a_naive_time_without_a_timezone_is_the_same_400_as_before(app) {
        answer_creates(app).await;
        let message = refused(app, json!({"platforms": ["x"], "schedule_date": "2031-03-10T16:00:00"}),
            "schedule_date").await;
        assert_eq!(message, "'2031-03-10T16:00:00' is not an RFC 3339 timestamp with an offset \
                             (Z or +hh:mm), such as 2026-03-10T16:00:00Z");
        // With a zone, a date of another shape says what is accepted.
        let message = refused(app, json!({"platforms": ["x"], "schedule_date": "next tuesday",
            "timezone": "Europe/Berlin"}), "schedule_date").await;
        assert!(message.contains("nor a local time"), "{message}");
    }

    async fn a_retry_with_the_same_key_and_another_timezone_is_a_mismatch(app) {
        answer_creates(app).await;
        let body = |zone: &str| json!({"post": "p", "platforms": ["x"],
            "schedule_date": "2031-03-10T16:00:00Z", "timezone": zone});
        let first = app.post(&body("Europe/Berlin")).header("Idempotency-Key", "tz-1").send().await.unwrap();
        assert_eq!(first.status(), 200);
        let other = app.post(&body("Europe/Paris")).header("Idempotency-Key", "tz-1").send().await.unwrap();
        expect_error(other, 422, "idempotency_key_mismatch").await;
        let same = app.post(&body("Europe/Berlin")).header("Idempotency-Key", "tz-1").send().await.unwrap();
        assert_eq!(same.status(), 200);
        assert_eq!(same.headers()["idempotent-replayed"], "true");
        assert_eq!(received(app, "POST", "/api/post").await.len(), 1);
    }

    async fn a_reschedule_with_a_timezone_is_sent_in_utc_and_recorded(app) {
        answer_creates(app).await;
        Mock::given(method("PATCH")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success"})))
            .mount(&app.ayrshare).await;
        let created = create(app, json!({"post": "later", "platforms": ["x"],
            "schedule_date": "2031-01-01T00:00:00Z"})).await;
        let (post_id, tracking_id) = (created["post_id"].as_str().unwrap(), created["tracking_id"].as_str().unwrap());

        let response = patch(app, post_id, json!({"schedule_date": "2032-02-02T10:00",
            "timezone": "Europe/Berlin"})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response_json(response).await;
        assert_eq!(body["schedule_date"], "2032-02-02T09:00:00Z");
        assert_eq!(body["timezone"], "Europe/Berlin");
        let sent = received(app, "PATCH", "/api/post").await;
        assert_eq!(sent[0].0, json!({"id": post_id, "scheduleDate": "2032-02-02T09:00:00Z"}));
        let stored = record(app, tracking_id).await;
        assert_eq!(stored.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(stored.schedule_date.unwrap().to_rfc3339(), "2032-02-02T09:00:00+00:00");

        // A zone alone names no new time; a gap is refused; neither is sent.
        let alone = patch(app, post_id, json!({"timezone": "Europe/Berlin"})).send().await.unwrap();
        let error = expect_error(alone, 400, "validation_error").await;
        assert_eq!(error["errors"][0]["field"], "timezone");
        let gap = patch(app, post_id, json!({"schedule_date": "2032-03-14T02:30:00",
            "timezone": "America/New_York"})).send().await.unwrap();
        let error = expect_error(gap, 400, "validation_error").await;
        assert!(error["errors"][0]["message"].as_str().unwrap().contains("does not exist"), "{error}");
        assert_eq!(received(app, "PATCH", "/api/post").await.len(), 1);

        // A pause keeps the zone; a reschedule without one records none.
        patch(app, post_id, json!({"scheduled_pause": true})).send().await.unwrap();
        assert_eq!(record(app, tracking_id).await.timezone.as_deref(), Some("Europe/Berlin"));
        let moved = patch(app, post_id, json!({"schedule_date": "2032-05-01T00:00:00Z"})).send().await.unwrap();
        assert_eq!(response_json(moved).await["timezone"], Value::Null);
        assert_eq!(record(app, tracking_id).await.timezone, None);
    }
}
