//! The changes feed (`GET /social/posts?updated_after=`), several statuses in one filter, and the
//! track answer's `overdue_at`: what a poller that syncs its own copy of the records relies on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::join_all;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::backend_tests;
use crate::fixtures::{answer_creates, create, published, scheduled};
use crate::support::{TestApp, response_json};

/// The feed's page with `query` after `updated_after=since`; the answer after checking it is a
/// 200.
async fn feed(app: &TestApp, since: &str, query: &str) -> Value {
    let response = app
        .get(&format!("/social/posts?updated_after={since}{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    response_json(response).await
}

/// The feed's page once it shows `expected`. On Postgres a committed change is listed once every
/// write transaction older than it has ended, on the whole server: other tests' writes running
/// beside this one can hold it back for a moment (never lose it), so a test waits, up to a minute (a frozen-connection test beside it holds a write open for
/// seconds).
async fn feed_showing(app: &TestApp, since: &str, query: &str, expected: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = feed(app, since, query).await;
        if ids(&page) == expected {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: the feed shows {:?}, not {expected:?}",
            ids(&page)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["tracking_id"].as_str().unwrap().to_owned())
        .collect()
}

/// A time well before any record of the test.
const LONG_AGO: &str = "2020-01-01T00:00:00Z";

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A time of an answer, read back.
fn time_of(value: &Value) -> DateTime<Utc> {
    value.as_str().expect("a time").parse().expect("RFC 3339")
}

/// Asserts that `value` is `expected` as the database keeps it (to the microsecond).
fn assert_time(value: &Value, expected: DateTime<Utc>) {
    let gap = (time_of(value) - expected)
        .num_microseconds()
        .unwrap()
        .abs();
    assert!(gap < 1, "{value} is not {expected}");
}

backend_tests! {
    async fn the_feed_lists_records_in_the_order_they_changed_and_always_says_where_to_go_on(app) {
        answer_creates(app).await;
        let (_, a) = published(app, json!(["x"])).await;
        let (_, b) = scheduled(app, json!(["linkedin"])).await;
        let (_, c) = published(app, json!(["x"])).await;

        // Oldest change first: the creates, in the order they finished.
        let page = feed_showing(app, LONG_AGO, "", &[&a, &b, &c]).await;
        let cursor = page["next_cursor"].as_str().expect("the feed's last page has a cursor").to_owned();
        // Nothing changed since: an empty page, and the same cursor back.
        let empty = feed(app, LONG_AGO, &format!("&cursor={cursor}")).await;
        assert_eq!(ids(&empty), Vec::<String>::new());
        assert_eq!(empty["next_cursor"], cursor.as_str());

        // B changes (the reconciler flags it overdue): it comes after the cursor, and only it,
        // in its new state.
        let at = Utc::now();
        let b_id: Uuid = b.parse().unwrap();
        assert!(app.store.mark_overdue(b_id, at).await.unwrap());
        let page = feed_showing(app, LONG_AGO, &format!("&cursor={cursor}"), &[&b]).await;
        assert_time(&page["posts"][0]["overdue_at"], at);
        let next = page["next_cursor"].as_str().unwrap();
        assert_ne!(next, cursor);
        assert_eq!(ids(&feed(app, LONG_AGO, &format!("&cursor={next}")).await), Vec::<String>::new());

        // From the start, B has moved to the end; pages of one follow the same order.
        feed_showing(app, LONG_AGO, "", &[&a, &c, &b]).await;
        let mut seen = Vec::new();
        let mut cursor = String::new();
        for _ in 0..5 {
            let page = feed(app, LONG_AGO, &format!("&limit=1{cursor}")).await;
            seen.extend(ids(&page));
            cursor = format!("&cursor={}", page["next_cursor"].as_str().unwrap());
        }
        assert_eq!(seen, [a.clone(), c.clone(), b.clone()]);

        // updated_after is exclusive, and the other filters narrow the feed.
        let a_updated = crate::fixtures::record(app, &a).await.updated_at;
        assert_eq!(ids(&feed(app, &rfc3339(a_updated), "").await), [c.clone(), b.clone()]);
        assert_eq!(ids(&feed(app, LONG_AGO, "&tracked_status=posted").await), [a.clone(), c.clone()]);
        assert_eq!(ids(&feed(app, LONG_AGO, "&platform=linkedin").await), [b.as_str()]);
        let future = feed(app, "2100-01-01T00:00:00Z", "").await;
        assert_eq!(ids(&future), Vec::<String>::new());
        assert_eq!(future["next_cursor"], Value::Null);
    }

    async fn the_feed_is_the_callers_organization_only(app) {
        answer_creates(app).await;
        // Theirs first: once the feed shows mine, theirs has committed too.
        let (other_key, _) = app.other_organization("globex").await;
        let response = app.client.post(app.url("/social/post")).bearer_auth(&other_key)
            .json(&json!({"post": "theirs", "platforms": ["x"]})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let (_, mine) = published(app, json!(["x"])).await;
        feed_showing(app, LONG_AGO, "", &[&mine]).await;
        let theirs = app.client.get(app.url(&format!("/social/posts?updated_after={LONG_AGO}")))
            .bearer_auth(&other_key).send().await.unwrap();
        let theirs = response_json(theirs).await;
        assert_eq!(theirs["posts"].as_array().unwrap().len(), 1);
        assert_eq!(theirs["posts"][0]["post"], "theirs");
    }

    async fn several_statuses_are_listed_together(app) {
        answer_creates(app).await;
        let (_, posted) = published(app, json!(["x"])).await;
        let (_, later) = scheduled(app, json!(["x"])).await;
        let page = response_json(app.get("/social/posts?tracked_status=posted,scheduled").send().await.unwrap()).await;
        assert_eq!(ids(&page), [later.clone(), posted.clone()]);
        let page = response_json(app.get("/social/posts?tracked_status=scheduled,cancelled").send().await.unwrap()).await;
        assert_eq!(ids(&page), [later]);
        let refused = app.get("/social/posts?tracked_status=posted,posting").send().await.unwrap();
        assert_eq!(refused.status(), 400);
        let body = response_json(refused).await;
        assert_eq!(body["error"], "validation_error");
        assert!(body["detail"].as_str().unwrap().contains("'posting' is not one of"), "{body}");
    }

    async fn the_track_answer_shows_overdue_at_and_paused(app) {
        answer_creates(app).await;
        let (_, id) = scheduled(app, json!(["x"])).await;
        let track = |app: &TestApp| {
            let path = format!("/social/post/track/{id}");
            let request = app.get(&path);
            async move { response_json(request.send().await.unwrap()).await }
        };
        let before = track(app).await;
        assert_eq!(before["overdue_at"], Value::Null);
        assert_eq!(before["paused"], false);
        let at = Utc::now();
        app.store.mark_overdue(id.parse().unwrap(), at).await.unwrap();
        let after = track(app).await;
        assert_time(&after["overdue_at"], at);
        // Flagging it moved updated_at: a poller of the feed learns of it.
        assert_ne!(after["updated_at"], before["updated_at"]);
    }

    async fn a_poller_never_misses_a_change_committed_while_it_pages(app) {
        answer_creates(app).await;
        let done = AtomicBool::new(false);
        // Four writers at once: each create is two changes (the write-ahead insert, then the
        // outcome), committed in whatever order the database takes them.
        let writers = async {
            join_all((0..4).map(|w| async move {
                for i in 0..12 {
                    create(app, json!({"post": format!("w{w} {i}"), "platforms": ["x"]})).await;
                }
            }))
            .await;
            done.store(true, Ordering::SeqCst);
        };
        let poller = async {
            // What the poller knows of each record: its last seen `updated_at`.
            let mut seen: HashMap<String, DateTime<Utc>> = HashMap::new();
            let mut cursor = String::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = feed(app, LONG_AGO, &format!("&limit=5{cursor}")).await;
                for post in page["posts"].as_array().unwrap() {
                    seen.insert(post["tracking_id"].as_str().unwrap().to_owned(),
                        time_of(&post["updated_at"]));
                }
                if let Some(next) = page["next_cursor"].as_str() {
                    cursor = format!("&cursor={next}");
                }
                if finished && page["posts"].as_array().unwrap().is_empty() {
                    // Up to date by the feed: it must agree with the database, or wait for a
                    // change another transaction still holds back (never for a lost one).
                    let records = app.records().await;
                    let truth: HashMap<String, DateTime<Utc>> = records.iter()
                        .map(|r| (r.id.to_string(), r.updated_at)).collect();
                    if truth == seen {
                        return seen.len();
                    }
                    assert!(Instant::now() < deadline,
                        "the feed missed changes: {} records, {} seen in their last state",
                        truth.len(), truth.iter().filter(|(k, v)| seen.get(*k) == Some(v)).count());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                } else {
                    tokio::task::yield_now().await;
                }
            }
        };
        let ((), synced) = tokio::join!(writers, poller);
        assert_eq!(synced, 48);
    }
}

/// The race the feed's order is built against, made to happen: a change whose transaction
/// started first commits last. On Postgres the held change keeps every later one out of the
/// feed until it commits, then both come, the held one first; a feed that listed the later
/// change at once would have put its cursor past the held one, which would never be seen.
/// (SQLite cannot have the race: its writers take turns, so a held write holds back the
/// others' commits as well.)
#[tokio::test]
async fn on_postgres_a_change_still_uncommitted_holds_back_the_ones_after_it() {
    use sqlx::{Connection, PgConnection};
    let Some(app) =
        TestApp::spawn_with(crate::support::Backend::Postgres, Default::default()).await
    else {
        return;
    };
    answer_creates(&app).await;
    let (_, held) = published(&app, json!(["x"])).await;
    let first = feed_showing(&app, LONG_AGO, "", &[&held]).await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();

    let crate::support::Database::Postgres { url, .. } = &app.database else {
        unreachable!("a Postgres app")
    };
    let mut conn = PgConnection::connect(url).await.unwrap();
    let mut change = conn.begin().await.unwrap();
    sqlx::query("update scheduled_social_posts_v2 set updated_at = now() where id = $1")
        .bind(held.parse::<Uuid>().unwrap())
        .execute(&mut *change)
        .await
        .unwrap();
    // A later change commits while the first is still open.
    let (_, later) = published(&app, json!(["x"])).await;
    let page = feed(&app, LONG_AGO, &format!("&cursor={cursor}")).await;
    assert_eq!(
        ids(&page),
        Vec::<String>::new(),
        "listed past a change still open"
    );
    assert_eq!(page["next_cursor"], cursor.as_str());

    change.commit().await.unwrap();
    let page = feed_showing(
        &app,
        LONG_AGO,
        &format!("&cursor={cursor}"),
        &[&held, &later],
    )
    .await;
    let next = page["next_cursor"].as_str().unwrap();
    assert_eq!(
        ids(&feed(&app, LONG_AGO, &format!("&cursor={next}")).await),
        Vec::<String>::new()
    );
    app.finish().await;
}
