//! The reconciler: open records settle with nobody reading them. Passes are run by hand
//! (`Publisher::reconcile_pass`), except in the test of the background task; records are made
//! due by moving their times into the past in the database.

use chrono::{Duration, Utc};
use mosaic_social::domain::TrackedStatus;
use mosaic_social::store::{Inserted, NewTracking};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::fixtures::new_tracking;
use crate::support::{Options, TestApp, response_json};

/// Creates a post through the API; Ayrshare answers its create with `answer`. Returns the
/// tracking id.
pub async fn create(app: &TestApp, text: &str, scheduled: bool, answer: Value) -> Uuid {
    create_as(app, &app.api_key, text, scheduled, answer).await
}

/// The same with another API key (of another organization).
pub async fn create_as(
    app: &TestApp,
    api_key: &str,
    text: &str,
    scheduled: bool,
    answer: Value,
) -> Uuid {
    Mock::given(method("POST"))
        .and(path("/api/post"))
        .and(body_partial_json(json!({"post": text})))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(1)
        .mount(&app.ayrshare)
        .await;
    let mut body = json!({"post": text, "platforms": ["x", "linkedin"]});
    if scheduled {
        body["schedule_date"] = json!("2031-01-01T00:00:00Z");
    }
    let response = app
        .client
        .post(app.url("/social/post"))
        .bearer_auth(api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let response = response_json(response).await;
    Uuid::parse_str(response["tracking_id"].as_str().expect("a tracking id")).unwrap()
}

/// A scheduled post with Ayrshare's post id `post_id`, made due a minute ago.
async fn due_scheduled(app: &TestApp, post_id: &str) -> Uuid {
    due_scheduled_since(app, post_id, Duration::minutes(1)).await
}

async fn due_scheduled_since(app: &TestApp, post_id: &str, ago: Duration) -> Uuid {
    let id = create(
        app,
        &format!("post {post_id}"),
        true,
        json!({"status": "scheduled", "id": post_id, "scheduleDate": "2031-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(
        app.record(id).await.tracked_status,
        TrackedStatus::Scheduled
    );
    app.set_time(id, "schedule_date", Utc::now() - ago).await;
    id
}

/// Ayrshare's answer to `GET /post/{post_id}`.
async fn ayrshare_reads(app: &TestApp, post_id: &str, template: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/api/post/{post_id}")))
        .respond_with(template)
        .mount(&app.ayrshare)
        .await;
}

fn reading(post_id: &str, status: &str, post_ids: Value, errors: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": post_id, "status": status, "postIds": post_ids, "errors": errors,
        "platforms": ["twitter", "linkedin"], "type": "scheduled"
    }))
}

pub fn published(platform: &str, id: &str) -> Value {
    json!({"status": "success", "platform": platform, "id": id,
           "postUrl": format!("https://{platform}.example/{id}")})
}

pub fn failure(platform: &str) -> Value {
    json!({"action": "post", "status": "error", "code": 156, "platform": platform,
           "message": "account is not linked"})
}

/// How many requests Ayrshare received for `method` on `path`.
async fn calls(app: &TestApp, method: &str, path: &str) -> usize {
    app.ayrshare
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == method && r.url.path() == path)
        .count()
}

/// A `pending` record written as a create writes it, whose create never recorded an answer
/// (the process died), created `age` ago.
async fn crashed_create(
    app: &TestApp,
    text: &str,
    schedule: Option<chrono::DateTime<Utc>>,
    age: Duration,
) -> Uuid {
    let base = new_tracking(app, text).await;
    let id = base.id;
    let inserted = app
        .store
        .insert_tracking(&NewTracking {
            platforms: vec!["x".into(), "linkedin".into()],
            schedule_date: schedule,
            ayrshare_idempotency_key: Some(id.to_string()),
            timezone: None,
            ..base
        })
        .await
        .unwrap();
    assert!(matches!(inserted, Inserted::New(_)));
    app.set_time(id, "created_at", Utc::now() - age).await;
    id
}

/// Ayrshare's history of the profile.
async fn ayrshare_history(app: &TestApp, items: Value) {
    Mock::given(method("GET"))
        .and(path("/api/history"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items))
        .mount(&app.ayrshare)
        .await;
}

/// A history item as Ayrshare lists it, received `after` the record was created.
fn history_item(
    app_record_created: chrono::DateTime<Utc>,
    id: &str,
    text: &str,
    status: &str,
) -> Value {
    json!({
        "id": id, "post": text, "platforms": ["twitter", "linkedin"], "status": status,
        "created": (app_record_created + Duration::seconds(1)).to_rfc3339(),
        "postIds": if status == "success" {
            json!([published("twitter", "T1"), published("linkedin", "L1")])
        } else { json!([]) },
        "errors": [], "type": "now"
    })
}

fn with_max_calls(max: u32) -> Options {
    Options {
        env: vec![("RECONCILE_MAX_CALLS_PER_PASS", max.to_string())],
        ..Options::default()
    }
}

backend_tests! {
    async fn due_scheduled_posts_settle_with_nobody_reading_them(app) {
        let posted = due_scheduled(app, "S-POSTED").await;
        let partial = due_scheduled(app, "S-PARTIAL").await;
        let failed = due_scheduled(app, "S-FAILED").await;
        // Not due yet: its date is still in 2031.
        let later = create(app, "later", true, json!({"status": "scheduled", "id": "S-LATER"})).await;
        ayrshare_reads(app, "S-POSTED", reading("S-POSTED", "success",
            json!([published("twitter", "1"), published("linkedin", "2")]), json!([]))).await;
        ayrshare_reads(app, "S-PARTIAL", reading("S-PARTIAL", "error",
            json!([published("twitter", "3")]), json!([failure("linkedin")]))).await;
        ayrshare_reads(app, "S-FAILED", reading("S-FAILED", "error",
            json!([]), json!([failure("twitter"), failure("linkedin")]))).await;

        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.claimed, report.calls, report.settled), (3, 3, 3), "{report:?}");

        let record = app.record(posted).await;
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        assert_eq!(record.results.len(), 2);
        assert_eq!(record.results[0].platform, "x");
        assert_eq!(record.results[0].post_url.as_deref(), Some("https://twitter.example/1"));
        assert_eq!(record.error, None);
        let record = app.record(partial).await;
        assert_eq!(record.tracked_status, TrackedStatus::Partial);
        assert_eq!(record.results.len(), 2);
        assert!(record.error.is_some());
        let record = app.record(failed).await;
        assert_eq!(record.tracked_status, TrackedStatus::Failed);
        assert!(record.error.unwrap().to_string().contains("not linked"));
        assert_eq!(app.record(later).await.tracked_status, TrackedStatus::Scheduled);

        // Each due post was asked about once; the one not due never.
        for post_id in ["S-POSTED", "S-PARTIAL", "S-FAILED"] {
            assert_eq!(calls(app, "GET", &format!("/api/post/{post_id}")).await, 1, "{post_id}");
        }
        assert_eq!(calls(app, "GET", "/api/post/S-LATER").await, 0);
        // Settled records are not asked about again.
        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.claimed, report.calls), (0, 0), "{report:?}");
    }

    async fn a_post_unpublished_well_after_its_time_is_flagged_overdue_once(app) {
        let overdue = due_scheduled_since(app, "S-OVERDUE", Duration::minutes(20)).await;
        let recent = due_scheduled(app, "S-RECENT").await;
        // Paused at Ayrshare: late on purpose, never overdue.
        let paused = due_scheduled_since(app, "S-PAUSED", Duration::minutes(20)).await;
        for post_id in ["S-OVERDUE", "S-RECENT"] {
            ayrshare_reads(app, post_id, reading(post_id, "pending", json!([]), json!([]))).await;
        }
        ayrshare_reads(app, "S-PAUSED", reading("S-PAUSED", "paused", json!([]), json!([]))).await;
        let before = Utc::now();
        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.calls, report.still_open, report.overdue), (3, 3, 1), "{report:?}");
        assert_eq!(app.reconciler_columns(paused).await.2, None);

        let (next_check, attempts, flagged) = app.reconciler_columns(overdue).await;
        let flagged = flagged.expect("flagged overdue");
        assert!(flagged >= before - Duration::seconds(1), "{flagged}");
        assert_eq!(attempts, 1);
        assert!(next_check.unwrap() > Utc::now(), "backed off");
        assert_eq!(app.record(overdue).await.tracked_status, TrackedStatus::Scheduled);
        let (_, _, not_flagged) = app.reconciler_columns(recent).await;
        assert_eq!(not_flagged, None);

        // Backed off: the next pass leaves both alone.
        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.claimed, report.calls), (0, 0), "{report:?}");
        // Due again: asked again, still overdue, flagged only once.
        app.set_time(overdue, "next_check_at", Utc::now() - Duration::seconds(1)).await;
        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.calls, report.overdue), (1, 0), "{report:?}");
        let (_, attempts, again) = app.reconciler_columns(overdue).await;
        assert_eq!((attempts, again), (2, Some(flagged)));
        assert_eq!(calls(app, "GET", "/api/post/S-OVERDUE").await, 2);
    }

    async fn a_pending_record_past_its_deadline_becomes_unknown_and_is_never_resent(app) {
        // The tests' deadline is the Ayrshare timeout (5 s) plus 10 s.
        let old = crashed_create(app, "lost answer", None, Duration::minutes(1)).await;
        let fresh = crashed_create(app, "still answering", None, Duration::seconds(0)).await;
        let created = app.record(old).await.created_at;
        ayrshare_history(app, json!([history_item(created, "OTHER", "another post", "success")])).await;

        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.claimed, report.calls, report.expired, report.found), (1, 1, 1, 0), "{report:?}");
        let record = app.record(old).await;
        assert_eq!(record.tracked_status, TrackedStatus::Unknown);
        assert_eq!(record.provider_post_id, None);
        assert!(record.error.unwrap()["message"].as_str().unwrap().contains("never recorded"));
        assert_eq!(app.record(fresh).await.tracked_status, TrackedStatus::Pending);
        // Keep it out of the count below, however slowly this test runs.
        app.set_time(fresh, "created_at", Utc::now() + Duration::hours(1)).await;
        // Looked up, never sent again.
        assert_eq!(calls(app, "GET", "/api/history").await, 1);
        assert_eq!(calls(app, "POST", "/api/post").await, 0);
        let (next_check, attempts, _) = app.reconciler_columns(old).await;
        assert_eq!(attempts, 1);
        assert!(next_check.unwrap() > Utc::now());

        // Looked up again after its backoff, a bounded number of times in all.
        for _ in 0..10 {
            app.set_time(old, "next_check_at", Utc::now() - Duration::seconds(1)).await;
            app.publisher.reconcile_pass().await.unwrap();
        }
        assert_eq!(calls(app, "GET", "/api/history").await, 5);
        assert_eq!(app.record(old).await.tracked_status, TrackedStatus::Unknown);
        assert_eq!(calls(app, "POST", "/api/post").await, 0);
    }

    async fn a_pending_record_is_found_in_the_history_and_settled(app) {
        let age = Duration::minutes(2);
        let published = crashed_create(app, "found and published", None, age).await;
        let date = chrono::DateTime::parse_from_rfc3339("2031-05-01T09:00:00Z").unwrap().to_utc();
        let waiting = crashed_create(app, "found and waiting", Some(date), age).await;
        let twice = crashed_create(app, "sent twice", None, age).await;
        let created = app.record(published).await.created_at;
        let mut scheduled_item = history_item(created, "H-WAITING", "found and waiting", "pending");
        scheduled_item["scheduleDate"] = json!("2031-05-01T09:00:00Z");
        ayrshare_history(app, json!({"history": [
            history_item(created, "H-PUBLISHED", "found and published", "success"),
            history_item(created, "H-OTHER", "found and published!", "success"),
            scheduled_item,
            history_item(created, "H-TWICE-1", "sent twice", "success"),
            history_item(created, "H-TWICE-2", "sent twice", "success"),
        ]})).await;

        let report = app.publisher.reconcile_pass().await.unwrap();
        // One read of the history serves the two records sent at once; the scheduled one is
        // read by its date.
        assert_eq!((report.calls, report.found, report.settled), (2, 2, 1), "{report:?}");

        let record = app.record(published).await;
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        assert_eq!(record.provider_post_id.as_deref(), Some("H-PUBLISHED"));
        assert_eq!(record.results.len(), 2);
        assert_eq!(record.results[0].platform, "x");
        let record = app.record(waiting).await;
        assert_eq!(record.tracked_status, TrackedStatus::Scheduled);
        assert_eq!(record.provider_post_id.as_deref(), Some("H-WAITING"));
        // Two candidates: none is taken.
        let record = app.record(twice).await;
        assert_eq!(record.tracked_status, TrackedStatus::Unknown);
        assert_eq!(record.provider_post_id, None);
        assert_eq!(calls(app, "POST", "/api/post").await, 0);
    }

    async fn an_unknown_record_with_a_post_id_is_read_until_it_settles(app) {
        // A success naming no published platform (an approval flow) is not proof: unknown.
        let id = create(app, "awaiting", false,
            json!({"status": "success", "id": "U1", "postIds": [], "errors": []})).await;
        let record = app.record(id).await;
        assert_eq!((record.tracked_status, record.provider_post_id.as_deref()), (TrackedStatus::Unknown, Some("U1")));
        ayrshare_reads(app, "U1", reading("U1", "success",
            json!([published("twitter", "1"), published("linkedin", "2")]), json!([]))).await;
        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.calls, report.settled), (1, 1), "{report:?}");
        assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Posted);
    }

    async fn a_pass_makes_at_most_the_configured_number_of_calls(app) [with_max_calls(2)] {
        let ids = [
            due_scheduled(app, "B1").await,
            due_scheduled(app, "B2").await,
            due_scheduled(app, "B3").await,
        ];
        for post_id in ["B1", "B2", "B3"] {
            ayrshare_reads(app, post_id, reading(post_id, "success",
                json!([published("twitter", "1"), published("linkedin", "2")]), json!([]))).await;
        }
        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.claimed, report.calls), (2, 2), "{report:?}");
        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.claimed, report.calls), (1, 1), "{report:?}");
        for id in ids {
            assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Posted);
        }
    }

    async fn a_profile_ayrshare_rate_limits_is_skipped(app) {
        let first = due_scheduled(app, "R1").await;
        let second = due_scheduled(app, "R2").await;
        ayrshare_reads(app, "R1", ResponseTemplate::new(429).insert_header("retry-after", "120")
            .set_body_json(json!({"status": "error", "code": 429, "message": "Too many requests"}))).await;
        ayrshare_reads(app, "R2", reading("R2", "success", json!([published("twitter", "1")]), json!([]))).await;
        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.calls, report.failed, report.held_off), (1, 1, 1), "{report:?}");
        assert_eq!(calls(app, "GET", "/api/post/R2").await, 0);
        for id in [first, second] {
            assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Scheduled);
            let (next_check, attempts, _) = app.reconciler_columns(id).await;
            assert!(next_check.unwrap() > Utc::now() + Duration::seconds(60), "waits for the window");
            assert_eq!(attempts, 0, "a rate limit is not the record's fault");
        }
        // A crashed create in the held profile still leaves `pending` on time, without a call.
        let lost = crashed_create(app, "lost while held", None, Duration::minutes(1)).await;
        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!((report.calls, report.expired, report.held_off), (0, 1, 1), "{report:?}");
        assert_eq!(app.record(lost).await.tracked_status, TrackedStatus::Unknown);
        assert_eq!(calls(app, "GET", "/api/history").await, 0);
    }

    async fn two_reconcilers_never_work_one_record_at_once(app) {
        let replica = app.replica().await;
        let mut post_ids = Vec::new();
        for n in 0..8 {
            let post_id = format!("C{n}");
            due_scheduled(app, &post_id).await;
            // Slow answers, so that the two passes overlap.
            ayrshare_reads(app, &post_id, reading(&post_id, "success",
                json!([published("twitter", "1"), published("linkedin", "2")]), json!([]))
                .set_delay(std::time::Duration::from_millis(150))).await;
            post_ids.push(post_id);
        }
        let (a, b) = tokio::join!(app.publisher.reconcile_pass(), replica.reconcile_pass());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.claimed + b.claimed, 8, "{a:?} {b:?}");
        assert!(a.claimed > 0 && b.claimed > 0, "both worked: {a:?} {b:?}");
        for post_id in &post_ids {
            assert_eq!(calls(app, "GET", &format!("/api/post/{post_id}")).await, 1, "{post_id}");
        }
        for record in app.records().await {
            assert_eq!(record.tracked_status, TrackedStatus::Posted);
        }
    }

    async fn the_reconciler_runs_inside_serve(app) [Options {
        env: vec![("RECONCILE_INTERVAL_SECS", "1".into())],
        ..Options::default()
    }] {
        let id = due_scheduled(app, "BG1").await;
        ayrshare_reads(app, "BG1", reading("BG1", "success",
            json!([published("twitter", "1"), published("linkedin", "2")]), json!([]))).await;
        let mut status = TrackedStatus::Scheduled;
        for _ in 0..100 {
            status = app.record(id).await.tracked_status;
            if status != TrackedStatus::Scheduled {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(status, TrackedStatus::Posted);
    }
}
