//! `GET /events`: an event for every committed change of a record's status and for its overdue
//! flag, none for a change refused or rolled back, in the order the changes committed, scoped to
//! the organization, and trimmed by retention.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::backend_tests;
use crate::fixtures::{answer_creates, published, scheduled};
use crate::support::{Database, TestApp, expect_error, response_json};

/// `GET /events` with this query, after checking it is a 200.
async fn events(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/events{query}")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{query}");
    response_json(response).await
}

/// `(type, tracking id)` of each event of a page.
fn kinds(page: &Value) -> Vec<(String, String)> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"]["tracking_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, id)| ((*k).to_owned(), (*id).to_owned()))
        .collect()
}

/// The page once it shows `expected`. On Postgres an event is listed once every write
/// transaction older than it has ended on the whole server (other tests' writes can hold it back
/// for a moment, never lose it), so a test waits, up to a minute (a frozen-connection test beside it holds a write open for
/// seconds).
async fn events_showing(app: &TestApp, query: &str, expected: &[(&str, &str)]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = events(app, query).await;
        if kinds(&page) == pairs(expected) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: {:?}, not {expected:?}",
            kinds(&page)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn track(app: &TestApp, id: &str) -> Value {
    response_json(
        app.get(&format!("/social/post/track/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// An event's `data` without the two fields the track answer lacks.
fn as_track(event: &Value) -> Value {
    let mut data = event["data"].clone();
    let object = data.as_object_mut().unwrap();
    object.remove("previous_tracked_status");
    object.remove("organization_id");
    data
}

backend_tests! {
    async fn each_change_of_status_is_one_event_with_the_record_as_it_left_it(app) {
        answer_creates(app).await;
        Mock::given(method("DELETE")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success", "id": "x"})))
            .mount(&app.ayrshare).await;
        let (_, now) = published(app, json!(["x"])).await;
        let now_track = track(app, &now).await;
        let (later_post, later) = scheduled(app, json!(["linkedin"])).await;
        let later_track = track(app, &later).await;

        let page = events_showing(app, "", &[("post.posted", &now), ("post.scheduled", &later)]).await;
        let list = page["events"].as_array().unwrap();
        // The record as the change left it: exactly the track answer read right after.
        assert_eq!(as_track(&list[0]), now_track);
        assert_eq!(as_track(&list[1]), later_track);
        assert_eq!(list[0]["data"]["previous_tracked_status"], "pending");
        assert_eq!(list[0]["data"]["organization_id"], app.organization_id.to_string());
        assert_eq!(list[0]["timestamp"], now_track["updated_at"]);
        let id = list[0]["id"].as_str().unwrap();
        assert!(id.starts_with("evt_") && id.len() == 36, "{id}");
        assert_ne!(list[0]["id"], list[1]["id"]);
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();

        // Flagged overdue (twice: the second flag changes nothing), then cancelled.
        let later_id: Uuid = later.parse().unwrap();
        assert!(app.store.mark_overdue(later_id, Utc::now()).await.unwrap());
        assert!(!app.store.mark_overdue(later_id, Utc::now()).await.unwrap());
        let response = app.client.delete(app.url(&format!("/social/post/{later_post}")))
            .bearer_auth(&app.api_key).send().await.unwrap();
        assert_eq!(response.status(), 200);
        // A second DELETE changes nothing: no event.
        let again = app.client.delete(app.url(&format!("/social/post/{later_post}")))
            .bearer_auth(&app.api_key).send().await.unwrap();
        assert_eq!(again.status(), 200);
        let page = events_showing(app, &format!("?after={cursor}"),
            &[("post.overdue", &later), ("post.cancelled", &later)]).await;
        let list = page["events"].as_array().unwrap();
        assert_eq!(list[0]["data"]["previous_tracked_status"], "scheduled");
        assert_eq!(list[0]["data"]["tracked_status"], "scheduled");
        assert!(list[0]["data"]["overdue_at"].is_string());
        assert_eq!(list[1]["data"]["previous_tracked_status"], "scheduled");
        assert_eq!(as_track(&list[1]), track(app, &later).await);

        // The ids and timestamps of events never change: the first page reads the same again.
        let first = events(app, "?limit=2").await;
        assert_eq!(first["events"][0]["id"], id);
        assert_eq!(first["events"][0], events(app, "?limit=2").await["events"][0]);
    }

    async fn a_refused_create_is_a_failed_event_and_a_pending_record_none(app) {
        Mock::given(method("POST")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "status": "error", "postIds": [], "id": "6APU4qqI7XO7JM3BOy6B",
                "errors": [{"action": "post", "status": "error", "code": 110,
                            "message": "Status is a duplicate.", "platform": "twitter"}]})))
            .mount(&app.ayrshare).await;
        let response = app.post(&json!({"post": "dup", "platforms": ["x"]})).send().await.unwrap();
        let body = expect_error(response, 400, "provider_rejected").await;
        let id = body["tracking_id"].as_str().unwrap().to_owned();
        let page = events_showing(app, "", &[("post.failed", &id)]).await;
        assert_eq!(page["events"][0]["data"]["results"][0]["message"], "Status is a duplicate. (code 110)");
        assert_eq!(as_track(&page["events"][0]), track(app, &id).await);
        // A record written but not yet answered (pending) has no event.
        let pending = crate::fixtures::new_tracking(app, "waiting").await;
        app.store.insert_tracking(&pending).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(kinds(&events(app, "").await), pairs(&[("post.failed", &id)]));
    }

    async fn a_change_rolled_back_leaves_no_event(app) {
        answer_creates(app).await;
        let (_, id) = scheduled(app, json!(["x"])).await;
        events_showing(app, "", &[("post.scheduled", &id)]).await;
        let uuid: Uuid = id.parse().unwrap();
        match &app.database {
            Database::Postgres { url, .. } => {
                use sqlx::{Connection, PgConnection};
                let mut conn = PgConnection::connect(url).await.unwrap();
                let mut tx = conn.begin().await.unwrap();
                sqlx::query("update scheduled_social_posts_v2 set tracked_status = 'posted' where id = $1")
                    .bind(uuid).execute(&mut *tx).await.unwrap();
                tx.rollback().await.unwrap();
            }
            Database::Sqlite { url, .. } => {
                use sqlx::{Connection, SqliteConnection};
                let mut conn = SqliteConnection::connect(url).await.unwrap();
                let mut tx = conn.begin().await.unwrap();
                sqlx::query("update scheduled_social_posts_v2 set tracked_status = 'posted' where id = $1")
                    .bind(uuid.hyphenated().to_string()).execute(&mut *tx).await.unwrap();
                tx.rollback().await.unwrap();
            }
        }
        // A later change shows the feed has moved past where the rolled-back one would be.
        let (_, next) = published(app, json!(["x"])).await;
        events_showing(app, "", &[("post.scheduled", &id), ("post.posted", &next)]).await;
    }

    async fn pages_filters_and_scope(app) {
        answer_creates(app).await;
        let brand = app.store.create_workspace(app.organization_id, "brand", None).await.unwrap();
        // Another organization's events first: once ours show, theirs have committed.
        let (other_key, _) = app.other_organization("globex").await;
        let theirs = app.client.post(app.url("/social/post")).bearer_auth(&other_key)
            .json(&json!({"post": "theirs", "platforms": ["x"]})).send().await.unwrap();
        assert_eq!(theirs.status(), 200);
        let (_, a) = published(app, json!(["x"])).await;
        let (_, b) = scheduled(app, json!(["x"])).await;
        let c = crate::fixtures::create(app, json!({"post": "c", "platforms": ["x"],
            "workspace_id": brand.id})).await["tracking_id"].as_str().unwrap().to_owned();
        events_showing(app, "", &[("post.posted", &a), ("post.scheduled", &b), ("post.posted", &c)]).await;

        // One at a time, then an empty page that keeps the cursor.
        let mut seen = Vec::new();
        let mut after = String::new();
        for _ in 0..3 {
            let page = events(app, &format!("?limit=1{after}")).await;
            seen.extend(kinds(&page));
            after = format!("&after={}", page["next_cursor"].as_str().unwrap());
        }
        assert_eq!(seen, pairs(&[("post.posted", &a), ("post.scheduled", &b), ("post.posted", &c)]));
        let end = events(app, &format!("?limit=1{after}")).await;
        assert_eq!(kinds(&end), pairs(&[]));
        assert_eq!(format!("&after={}", end["next_cursor"].as_str().unwrap()), after);

        assert_eq!(kinds(&events(app, "?type=post.scheduled").await), pairs(&[("post.scheduled", &b)]));
        assert_eq!(kinds(&events(app, "?type=post.posted,post.scheduled").await).len(), 3);
        assert_eq!(kinds(&events(app, &format!("?workspace_id={}", brand.id)).await),
            pairs(&[("post.posted", &c)]));

        // The other organization sees only its own; our workspace is not found for it.
        let response = app.client.get(app.url("/events")).bearer_auth(&other_key).send().await.unwrap();
        let body = response_json(response).await;
        assert_eq!(body["events"].as_array().unwrap().len(), 1);
        assert_eq!(body["events"][0]["data"]["post"], "theirs");
        let response = app.client.get(app.url(&format!("/events?workspace_id={}", brand.id)))
            .bearer_auth(&other_key).send().await.unwrap();
        expect_error(response, 404, "not_found").await;

        // Bad input is one 400 naming every parameter.
        let response = app.get("/events?after=abc&type=post.published&limit=0&since=1").send().await.unwrap();
        let body = expect_error(response, 400, "validation_error").await;
        let fields: Vec<&str> = body["errors"].as_array().unwrap().iter()
            .map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["after", "type", "limit", "since"]);
        // A cursor of the changes feed is not one of this feed.
        let changes = response_json(app.get("/social/posts?updated_after=2020-01-01T00:00:00Z").send().await.unwrap()).await;
        let foreign = changes["next_cursor"].as_str().unwrap();
        expect_error(app.get(&format!("/events?after={foreign}")).send().await.unwrap(), 400, "validation_error").await;
        // Without a key: 401.
        let response = app.client.get(app.url("/events")).send().await.unwrap();
        expect_error(response, 401, "invalid_api_key").await;
    }

    async fn events_past_their_retention_are_deleted(app) {
        answer_creates(app).await;
        let (_, id) = published(app, json!(["x"])).await;
        events_showing(app, "", &[("post.posted", &id)]).await;
        let events_of = mosaic_social::events::Events::new(
            app.store.clone(), mosaic_social::events::EventSettings { retention: Duration::from_secs(3600), webhooks: Default::default() });
        // An hour from now the event is not yet past an hour's retention...
        assert_eq!(events_of.purge_expired(Utc::now() + chrono::Duration::minutes(59)).await.unwrap(), 0);
        assert_eq!(kinds(&events(app, "").await).len(), 1);
        // ...and past it, it is gone, with a thousand copies of it (more than one statement's
        // batch: the sweep goes on until none is left), while the record stays.
        copy_events(app, 1000).await;
        assert_eq!(events_of.purge_expired(Utc::now() + chrono::Duration::minutes(61)).await.unwrap(), 1001);
        assert_eq!(kinds(&events(app, "").await), pairs(&[]));
        assert_eq!(track(app, &id).await["tracked_status"], "posted");
    }
}

/// Copies each event `times` times, straight in the table (as if that many changes had been made).
async fn copy_events(app: &TestApp, times: u32) {
    const COLUMNS: &str = "type, previous_tracked_status, id, organization_id, workspace_id, \
        api_key_id, post, platforms, media_urls, schedule_date, provider_post_id, provider_status, \
        tracked_status, results, error, idempotency_key, ayrshare_idempotency_key, paused, \
        overdue_at, created_at, updated_at";
    match &app.database {
        Database::Postgres { url, .. } => {
            use sqlx::{Connection, PgConnection};
            let mut conn = PgConnection::connect(url).await.unwrap();
            sqlx::query(&format!(
                "insert into social_post_events (event_id, {COLUMNS}) \
                 select 'evt_copy' || g, {COLUMNS} from social_post_events, generate_series(1, $1) g"
            ))
            .bind(times as i32).execute(&mut conn).await.unwrap();
        }
        Database::Sqlite { url, .. } => {
            use sqlx::{Connection, SqliteConnection};
            let mut conn = SqliteConnection::connect(url).await.unwrap();
            sqlx::query(&format!(
                "with recursive n(g) as (select 1 union all select g + 1 from n where g < $1) \
                 insert into social_post_events (event_id, {COLUMNS}) \
                 select 'evt_copy' || g, {COLUMNS} from social_post_events, n"
            ))
            .bind(times)
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
}

/// An event whose transaction commits late is not skipped: it holds back the ones after it until
/// it commits (as the changes feed does; see tests/api/changes_feed.rs).
#[tokio::test]
async fn on_postgres_an_event_committing_late_holds_back_the_later_ones() {
    use sqlx::{Connection, PgConnection};
    let Some(app) =
        TestApp::spawn_with(crate::support::Backend::Postgres, Default::default()).await
    else {
        return;
    };
    answer_creates(&app).await;
    let (_, held) = scheduled(&app, json!(["x"])).await;
    let first = events_showing(&app, "", &[("post.scheduled", &held)]).await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let Database::Postgres { url, .. } = &app.database else {
        unreachable!("a Postgres app")
    };
    let mut conn = PgConnection::connect(url).await.unwrap();
    let mut change = conn.begin().await.unwrap();
    sqlx::query("update scheduled_social_posts_v2 set overdue_at = now() where id = $1")
        .bind(held.parse::<Uuid>().unwrap())
        .execute(&mut *change)
        .await
        .unwrap();
    let (_, later) = published(&app, json!(["x"])).await;
    let page = events(&app, &format!("?after={cursor}")).await;
    assert_eq!(
        kinds(&page),
        pairs(&[]),
        "listed past an event still uncommitted"
    );
    change.commit().await.unwrap();
    events_showing(
        &app,
        &format!("?after={cursor}"),
        &[("post.overdue", &held), ("post.posted", &later)],
    )
    .await;
    app.finish().await;
}
