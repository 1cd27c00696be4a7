//! The reconciler's bounds (docs/reconciler.md): a post found in a shared profile's history goes
//! to no record that cannot prove it is its own, the reconciler spends only its share of a
//! profile's Ayrshare rate limit, a busy profile's history is paged back to the record's time,
//! and expiring a crashed create does not wait behind other work.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Duration, Utc};
use mosaic_social::domain::TrackedStatus;
use mosaic_social::mock_ayrshare::{self, MockConfig};
use mosaic_social::store::{Inserted, NewTracking};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{any, body_partial_json, header, method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::backend_tests;
use crate::fixtures::new_tracking;
use crate::reconcile::{create, published};
use crate::support::{AYRSHARE_KEY, Options, TestApp, expect_error, response_json};

/// A record as a create writes it before calling Ayrshare, in `workspace` of `organization`,
/// whose answer was never recorded (a crash), created `age` ago.
async fn crashed_in(
    app: &TestApp,
    organization: Uuid,
    workspace: Uuid,
    text: &str,
    age: Duration,
) -> Uuid {
    let base = new_tracking(app, text).await;
    let api_key_id = app.store.list_api_keys(organization).await.unwrap()[0].id;
    let id = base.id;
    let inserted = app
        .store
        .insert_tracking(&NewTracking {
            organization_id: organization,
            workspace_id: workspace,
            api_key_id,
            platforms: vec!["x".into(), "linkedin".into()],
            // As a create derives it when the caller sends none.
            ayrshare_idempotency_key: Some(format!("mosaic-{id}")),
            timezone: None,
            ..base
        })
        .await
        .unwrap();
    assert!(matches!(inserted, Inserted::New(_)));
    app.set_time(id, "created_at", Utc::now() - age).await;
    id
}

/// A history item of `text` received a second after `created`.
fn item(created: chrono::DateTime<Utc>, id: &str, text: &str) -> Value {
    json!({
        "id": id, "post": text, "platforms": ["twitter", "linkedin"], "status": "success",
        "created": (created + Duration::seconds(1)).to_rfc3339(),
        "postIds": [published("twitter", "T1"), published("linkedin", "L1")],
        "errors": [], "type": "now"
    })
}

/// A record of another organization, read through that organization.
async fn record_of(
    app: &TestApp,
    organization: Uuid,
    id: Uuid,
) -> mosaic_social::store::TrackingRecord {
    app.store
        .find_tracking(organization, id)
        .await
        .unwrap()
        .expect("the record exists")
}

/// Ayrshare's per-profile rate limit scaled down to `max` requests: every answer carries
/// `x-ratelimit-max` and `x-ratelimit-count` (all routes counted), past `max` a 429. A read of
/// a post answers "still pending"; a create, published.
struct Quota {
    max: u64,
    count: AtomicU64,
}

impl Respond for Quota {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let count = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let answer = if count > self.max {
            ResponseTemplate::new(429).set_body_json(json!({"status": "error", "code": 429,
                "message": "Too many requests"}))
        } else if request.method.as_str() == "POST" {
            ResponseTemplate::new(200).set_body_json(json!({"status": "success", "id": "Q-NEW",
                "postIds": [published("twitter", "9"), published("linkedin", "8")], "errors": []}))
        } else {
            let id = request
                .url
                .path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            ResponseTemplate::new(200).set_body_json(json!({"id": id, "status": "pending",
                "postIds": [], "errors": [], "platforms": ["twitter", "linkedin"]}))
        };
        answer
            .insert_header("x-ratelimit-max", self.max.to_string())
            .insert_header("x-ratelimit-count", count.to_string())
    }
}

/// How many requests Ayrshare received for `verb` on paths starting with `prefix`.
async fn calls_to(app: &TestApp, verb: &str, prefix: &str) -> usize {
    app.ayrshare
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().starts_with(prefix))
        .count()
}

/// Starts the shipped simulator without its rate limit and points the app at it.
fn shipped_mock_unlimited() -> Options {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let config = MockConfig {
            api_key: Some(AYRSHARE_KEY.to_owned()),
            rate_limit_max: 0,
            ..MockConfig::default()
        };
        mock_ayrshare::serve(listener, config, std::future::pending())
            .await
            .unwrap();
    });
    Options {
        ayrshare_base_url: Some(format!("http://{addr}/api")),
        ..Options::default()
    }
}

backend_tests! {
    async fn another_organizations_post_on_the_shared_primary_profile_is_never_taken(app) {
        // Neither workspace has a profile key: both organizations post through Ayrshare's
        // primary profile, so each sees the other's posts in the history.
        let (key_b, org_b) = app.other_organization("globex").await;
        Mock::given(method("POST")).and(path("/api/post"))
            .and(body_partial_json(json!({"post": "same words"})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success",
                "id": "P-A", "errors": [],
                "postIds": [published("twitter", "1"), published("linkedin", "2")]})))
            .up_to_n_times(1).expect(1).mount(&app.ayrshare).await;
        Mock::given(method("POST")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(500).set_body_string("upstream broke"))
            .expect(1).mount(&app.ayrshare).await;
        let body = json!({"post": "same words", "platforms": ["x", "linkedin"]});
        let a = app.post(&body).send().await.unwrap();
        assert_eq!(a.status(), 200);
        let a: Uuid = response_json(a).await["tracking_id"].as_str().unwrap().parse().unwrap();
        let b = app.client.post(app.url("/social/post")).bearer_auth(&key_b).json(&body)
            .send().await.unwrap();
        assert_eq!(b.status(), 502);
        let b: Uuid = response_json(b).await["tracking_id"].as_str().unwrap().parse().unwrap();
        let b_record = app.store.find_tracking(org_b, b).await.unwrap().expect("B's record");
        assert_eq!((b_record.tracked_status, b_record.provider_post_id.as_deref()), (TrackedStatus::Unknown, None));
        Mock::given(method("GET")).and(path("/api/history"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"history": [
                item(b_record.created_at, "P-A", "same words")]})))
            .mount(&app.ayrshare).await;

        app.publisher.reconcile_pass().await.unwrap();

        // A's post stays A's: B's record learns nothing it cannot prove.
        let b_after = record_of(app, org_b, b_record.id).await;
        assert_eq!((b_after.tracked_status, b_after.provider_post_id.as_deref()), (TrackedStatus::Unknown, None));
        let a_record = app.record(a).await;
        assert_eq!((a_record.tracked_status, a_record.provider_post_id.as_deref()), (TrackedStatus::Posted, Some("P-A")));
        // So B can neither read nor delete it.
        let read = app.client.get(app.url("/social/post/P-A")).bearer_auth(&key_b).send().await.unwrap();
        expect_error(read, 404, "not_found").await;
        let delete = app.client.delete(app.url("/social/post/P-A")).bearer_auth(&key_b).send().await.unwrap();
        expect_error(delete, 404, "not_found").await;
        assert_eq!(calls_to(app, "DELETE", "/api/post").await, 0);
        assert_eq!(app.record(a).await.tracked_status, TrackedStatus::Posted);
    }

    async fn a_post_two_records_of_any_organizations_could_own_goes_to_neither(app) {
        let (_, org_b) = app.other_organization("globex").await;
        let b_primary = app.store.find_workspace(org_b, None).await.unwrap().unwrap().id;
        let b_keyed = app.store.create_workspace(org_b, "own profile", Some("PK-GLOBEX")).await.unwrap().id;
        let age = Duration::minutes(2);
        // Both on the primary profile, the same text in overlapping windows: one post, two
        // records that could own it.
        let a = crashed_in(app, app.organization_id, app.primary_workspace_id, "twice", age).await;
        let b = crashed_in(app, org_b, b_primary, "twice", age).await;
        // The same text on a profile of its own: the primary profile's records cannot own its
        // post, nor it theirs.
        let k = crashed_in(app, org_b, b_keyed, "twice", age).await;
        let created = app.record(a).await.created_at;
        Mock::given(method("GET")).and(path("/api/history")).and(header("profile-key", "PK-GLOBEX"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"history": [
                item(created, "P-KEYED", "twice")]})))
            .with_priority(1).mount(&app.ayrshare).await;
        Mock::given(method("GET")).and(path("/api/history"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"history": [
                item(created, "P-PRIMARY", "twice")]})))
            .mount(&app.ayrshare).await;

        app.publisher.reconcile_pass().await.unwrap();

        for (organization, id) in [(app.organization_id, a), (org_b, b)] {
            let record = record_of(app, organization, id).await;
            assert_eq!((record.tracked_status, record.provider_post_id.as_deref()),
                (TrackedStatus::Unknown, None), "{id}");
        }
        let keyed = record_of(app, org_b, k).await;
        assert_eq!((keyed.tracked_status, keyed.provider_post_id.as_deref()), (TrackedStatus::Posted, Some("P-KEYED")));
    }

    async fn a_history_item_with_the_records_idempotency_key_is_its_post(app) {
        let age = Duration::minutes(2);
        let id = crashed_in(app, app.organization_id, app.primary_workspace_id, "keyed", age).await;
        let created = app.record(id).await.created_at;
        let mut ours = item(created, "P-OURS", "keyed");
        ours["idempotencyKey"] = json!(format!("mosaic-{id}"));
        let mut theirs = item(created, "P-THEIRS", "keyed");
        theirs["idempotencyKey"] = json!("someone-else");
        // A key the caller chose is no proof (another organization may use it too): its
        // record is matched by what its post is, and Ayrshare rewrote this one's text.
        let chosen = new_tracking(app, "chosen").await;
        let chosen_id = chosen.id;
        app.store.insert_tracking(&NewTracking {
            platforms: vec!["x".into(), "linkedin".into()],
            ayrshare_idempotency_key: Some("order-42".into()),
            timezone: None,
            ..chosen
        }).await.unwrap();
        app.set_time(chosen_id, "created_at", created).await;
        let mut rewritten = item(created, "P-CHOSEN", "chosen #rewritten");
        rewritten["idempotencyKey"] = json!("order-42");
        // Without keys `theirs` and `ours` would be ambiguous; with them, one is ours.
        Mock::given(method("GET")).and(path("/api/history"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"history": [theirs, ours, rewritten]})))
            .mount(&app.ayrshare).await;
        app.publisher.reconcile_pass().await.unwrap();
        let record = app.record(id).await;
        assert_eq!((record.tracked_status, record.provider_post_id.as_deref()), (TrackedStatus::Posted, Some("P-OURS")));
        let record = app.record(chosen_id).await;
        assert_eq!((record.tracked_status, record.provider_post_id.as_deref()), (TrackedStatus::Unknown, None));
    }

    async fn the_reconciler_spends_only_its_share_of_a_profiles_rate_limit(app) {
        let mut due = Vec::new();
        for n in 0..40 {
            let id = create(app, &format!("quota {n}"), true,
                json!({"status": "scheduled", "id": format!("Q{n}"), "scheduleDate": "2031-01-01T00:00:00Z"})).await;
            app.set_time(id, "schedule_date", Utc::now() - Duration::minutes(1)).await;
            due.push(id);
        }
        // From here on Ayrshare counts every request of the (primary) profile against 30.
        Mock::given(any()).respond_with(Quota { max: 30, count: AtomicU64::new(0) })
            .with_priority(1).mount(&app.ayrshare).await;
        let before = calls_to(app, "GET", "/api/post/").await;
        for _ in 0..5 {
            app.publisher.reconcile_pass().await.unwrap();
        }
        // 20% of the 30 Ayrshare reports: 6 calls, wherever the records are.
        let reconciler = calls_to(app, "GET", "/api/post/").await - before;
        assert_eq!(reconciler, 6, "the reconciler's calls in the window");
        // The users' own requests still go through.
        let response = app.post(&json!({"post": "a user's post", "platforms": ["x", "linkedin"]})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        // Another replica knows nothing of this one's calls, but it reads Ayrshare's count: with
        // the profile past half its limit it makes one call, sees that, and stops.
        for n in 0..10 {
            let read = app.get(&format!("/social/post/Q{n}")).send().await.unwrap();
            assert_eq!(read.status(), 200);
        }
        // Due again (this replica put them off until its share frees).
        for id in &due {
            app.set_time(*id, "next_check_at", Utc::now() - Duration::seconds(1)).await;
        }
        let replica = app.replica().await;
        let before = calls_to(app, "GET", "/api/post/").await;
        for _ in 0..3 {
            replica.reconcile_pass().await.unwrap();
        }
        assert_eq!(calls_to(app, "GET", "/api/post/").await - before, 1);
        let response = app.post(&json!({"post": "another user's post", "platforms": ["x", "linkedin"]})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        for id in due {
            assert_eq!(app.record(id).await.tracked_status, TrackedStatus::Scheduled);
        }
    }

    async fn more_than_250_crash_victims_of_a_busy_profile_all_settle(app) [shipped_mock_unlimited()] {
        let base = app.ayrshare_base_url();
        let client = reqwest::Client::new();
        let send = |text: String, key: String| {
            let client = client.clone();
            let url = format!("{base}/post");
            async move {
                let answer: Value = client.post(url).bearer_auth(AYRSHARE_KEY)
                    .json(&json!({"post": text, "platforms": ["linkedin"], "idempotencyKey": key}))
                    .send().await.unwrap().json().await.unwrap();
                // At most some 250 posts a second, as a busy profile sends them (Ayrshare
                // lists whole seconds: a page must end within a second's posts).
                tokio::time::sleep(std::time::Duration::from_millis(4)).await;
                answer["id"].as_str().expect("a post id").to_owned()
            }
        };
        // Posts of other requests before and after the victims, in the same profile.
        for n in 0..150 {
            send(format!("noise before {n}"), format!("nb-{n}")).await;
        }
        let mut victims = Vec::new();
        for n in 0..300 {
            let text = format!("victim {n}");
            let base = new_tracking(app, &text).await;
            let id = base.id;
            let inserted = app.store.insert_tracking(&NewTracking {
                platforms: vec!["linkedin".into()],
                ayrshare_idempotency_key: Some(id.to_string()),
                timezone: None,
                ..base
            }).await.unwrap();
            assert!(matches!(inserted, Inserted::New(_)));
            // The create reached Ayrshare; the process died before it recorded the answer.
            let post_id = send(text, id.to_string()).await;
            victims.push((id, post_id));
        }
        for n in 0..150 {
            send(format!("noise after {n}"), format!("na-{n}")).await;
        }
        for (id, _) in &victims {
            app.set_time(*id, "created_at", Utc::now() - Duration::seconds(30)).await;
        }
        let (mut passes, mut calls) = (0, 0);
        loop {
            let report = app.publisher.reconcile_pass().await.unwrap();
            passes += 1;
            calls += report.calls;
            if report.claimed == 0 || passes == 20 {
                break;
            }
        }
        let mut settled = 0;
        for (id, post_id) in &victims {
            let record = app.record(*id).await;
            if record.tracked_status == TrackedStatus::Posted && record.provider_post_id.as_deref() == Some(post_id) {
                settled += 1;
            }
        }
        assert_eq!(settled, victims.len(), "victims settled (in {passes} passes)");
        // The 600 posts are two pages; a pass's read serves every record it claims (80).
        assert!(calls <= 2 * 4, "{calls} history calls in {passes} passes");
    }

    async fn expiry_does_not_wait_behind_due_scheduled_posts(app) [Options {
        env: vec![("RECONCILE_MAX_CALLS_PER_PASS", "2".into())],
        ..Options::default()
    }] {
        for n in 0..6 {
            let post_id = format!("E{n}");
            let id = create(app, &format!("older {n}"), true,
                json!({"status": "scheduled", "id": post_id, "scheduleDate": "2031-01-01T00:00:00Z"})).await;
            app.set_time(id, "schedule_date", Utc::now() - Duration::minutes(1)).await;
            app.set_time(id, "created_at", Utc::now() - Duration::days(1)).await;
            Mock::given(method("GET")).and(path(format!("/api/post/{post_id}")))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": post_id,
                    "status": "pending", "postIds": [], "errors": []})))
                .mount(&app.ayrshare).await;
        }
        Mock::given(method("GET")).and(path("/api/history"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"history": []})))
            .mount(&app.ayrshare).await;
        let lost = crashed_in(app, app.organization_id, app.primary_workspace_id, "lost", Duration::minutes(1)).await;
        let report = app.publisher.reconcile_pass().await.unwrap();
        assert_eq!(report.expired, 1, "{report:?}");
        assert_eq!(app.record(lost).await.tracked_status, TrackedStatus::Unknown);
    }
}
