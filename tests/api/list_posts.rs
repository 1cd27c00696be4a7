//! `GET /social/posts`: newest first, each filter, keyset pages that neither skip nor repeat
//! while posts keep arriving, a tampered cursor, and organization scoping.

use mosaic_social::domain::post_list::PAGE_BYTES;
use mosaic_social::store::NewTracking;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::fixtures::{answer_creates, create, new_tracking, published, scheduled};
use crate::support::{TestApp, expect_error, response_json};

/// `GET /social/posts` with this query; the answer after checking it is a 200.
async fn list(app: &TestApp, query: &str) -> Value {
    let response = app
        .get(&format!("/social/posts{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    response_json(response).await
}

/// The tracking ids of a page, in its order.
fn tracking_ids(page: &Value) -> Vec<String> {
    page["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["tracking_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page from the first, following `next_cursor`, with `between` run after each page.
async fn every_page(
    app: &TestApp,
    limit: u32,
    mut between: impl AsyncFnMut(usize),
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit={limit}&cursor={c}"),
            None => format!("?limit={limit}"),
        };
        let page = list(app, &query).await;
        pages.push(tracking_ids(&page));
        between(pages.len()).await;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 20, "the pages never end");
    }
}

/// Writes a record with this text straight into the database (no body limit there): its id.
async fn record_with_text(app: &TestApp, text: String) -> String {
    let record = NewTracking {
        post: text,
        ..new_tracking(app, "").await
    };
    app.store.insert_tracking(&record).await.unwrap();
    record.id.to_string()
}

/// Asserts that the list with `query` holds exactly `expected`, in that order.
async fn only(app: &TestApp, query: &str, expected: &[&String]) {
    let page = list(app, query).await;
    let expected: Vec<String> = expected.iter().map(|s| (*s).clone()).collect();
    assert_eq!(tracking_ids(&page), expected, "{query}");
}

backend_tests! {
    async fn posts_are_listed_newest_first_in_the_track_answers_shape(app) {
        answer_creates(app).await;
        for text in ["one", "two", "three"] {
            create(app, json!({"post": text, "platforms": ["x"]})).await;
        }
        let page = list(app, "").await;
        assert_eq!(page["next_cursor"], Value::Null);
        let texts: Vec<&str> = page["posts"].as_array().unwrap().iter()
            .map(|p| p["post"].as_str().unwrap()).collect();
        assert_eq!(texts, ["three", "two", "one"]);
        // The same order as the database's, and each item exactly the track answer.
        let mut records = app.records().await;
        records.reverse();
        let expected: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        assert_eq!(tracking_ids(&page), expected);
        for item in page["posts"].as_array().unwrap() {
            let id = item["tracking_id"].as_str().unwrap();
            let track = response_json(app.get(&format!("/social/post/track/{id}")).send().await.unwrap()).await;
            assert_eq!(item, &track);
        }
        assert_eq!(page["posts"][0]["platforms"], json!(["x"]));
        assert_eq!(page["posts"][0]["tracked_status"], "posted");
        assert_eq!(page["posts"][0]["paused"], false);
    }

    async fn each_filter_narrows_the_list(app) {
        answer_creates(app).await;
        let brand = app.store.create_workspace(app.organization_id, "brand", None).await.unwrap();
        let (_, x_posted) = published(app, json!(["x"])).await;
        let (_, li_scheduled) = scheduled(app, json!(["linkedin"])).await;
        let both = create(app, json!({"post": "b", "platforms": ["linkedin", "x"],
            "workspace_id": brand.id})).await["tracking_id"].as_str().unwrap().to_owned();

        only(app, "?tracked_status=scheduled", &[&li_scheduled]).await;
        only(app, "?tracked_status=posted", &[&both, &x_posted]).await;
        only(app, "?tracked_status=cancelled", &[]).await;
        only(app, "?platform=X", &[&both, &x_posted]).await;
        only(app, "?platform=linkedin", &[&both, &li_scheduled]).await;
        only(app, "?platform=youtube", &[]).await;
        only(app, &format!("?workspace_id={}", brand.id), &[&both]).await;
        only(app, &format!("?workspace_id={}&platform=x", app.primary_workspace_id), &[&x_posted]).await;

        // Strictly after and strictly before the middle record's own time.
        let middle = crate::fixtures::record(app, &li_scheduled).await.created_at;
        let at = middle.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        only(app, &format!("?created_after={at}"), &[&both]).await;
        only(app, &format!("?created_before={at}"), &[&x_posted]).await;
        // An offset other than Z, percent-encoded as a query needs.
        let local = middle.with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, false).replace('+', "%2B");
        only(app, &format!("?created_after={local}&tracked_status=posted"), &[&both]).await;
    }

    async fn pages_neither_skip_nor_repeat_while_new_posts_arrive(app) {
        answer_creates(app).await;
        for i in 0..7 {
            create(app, json!({"post": format!("old {i}"), "platforms": ["x"]})).await;
        }
        let mut before = app.records().await;
        before.reverse();
        let expected: Vec<String> = before.iter().map(|r| r.id.to_string()).collect();

        let pages = every_page(app, 3, async |_| {
            // Posts keep arriving while the caller pages through.
            create(app, json!({"post": "new", "platforms": ["x"]})).await;
        }).await;
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
        assert_eq!(pages.concat(), expected);
        // The newcomers are at the top of a fresh first page.
        let first = list(app, "?limit=3").await;
        assert_eq!(first["posts"][0]["post"], "new");
        assert_eq!(app.records().await.len(), 10);

        // Exactly a page's worth: the last page is full and has no next cursor.
        let all = list(app, "?limit=10").await;
        assert_eq!(all["posts"].as_array().unwrap().len(), 10);
        assert_eq!(all["next_cursor"], Value::Null);
        let default = list(app, "").await;
        assert_eq!(default["posts"].as_array().unwrap().len(), 10);
    }

    async fn a_tampered_cursor_or_a_bad_filter_is_a_validation_error(app) {
        answer_creates(app).await;
        for _ in 0..3 {
            create(app, json!({"post": "p", "platforms": ["x"]})).await;
        }
        let page = list(app, "?limit=1").await;
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        let mut tampered: Vec<char> = cursor.chars().collect();
        tampered[5] = if tampered[5] == 'A' { 'B' } else { 'A' };
        let tampered: String = tampered.into_iter().collect();
        for bad in [tampered.as_str(), "not-a-cursor", "%00", &cursor[..cursor.len() - 2]] {
            let response = app.get(&format!("/social/posts?cursor={bad}")).send().await.unwrap();
            let body = expect_error(response, 400, "validation_error").await;
            assert_eq!(body["errors"][0]["field"], "cursor", "{bad}");
        }
        let response = app.get("/social/posts?limit=101&tracked_status=posting&platform=twitter\
            &created_before=yesterday&workspace_id=w&sort=asc").send().await.unwrap();
        let body = expect_error(response, 400, "validation_error").await;
        let fields: Vec<&str> = body["errors"].as_array().unwrap().iter()
            .map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["limit", "tracked_status", "platform", "created_before", "workspace_id", "sort"]);
        for limit in ["0", "-1", "1.5"] {
            let response = app.get(&format!("/social/posts?limit={limit}")).send().await.unwrap();
            expect_error(response, 400, "validation_error").await;
        }
        // The cursor itself still works.
        let next = list(app, &format!("?limit=1&cursor={cursor}")).await;
        assert_eq!(next["posts"].as_array().unwrap().len(), 1);
    }

    async fn only_the_callers_organization_is_listed(app) {
        answer_creates(app).await;
        let (_, ours) = published(app, json!(["x"])).await;
        let (their_key, their_org) = app.other_organization("globex").await;
        let response = app.client.post(app.url("/social/post")).bearer_auth(&their_key)
            .json(&json!({"post": "theirs", "platforms": ["x"]})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        only(app, "", &[&ours]).await;
        let theirs = response_json(app.client.get(app.url("/social/posts"))
            .bearer_auth(&their_key).send().await.unwrap()).await;
        assert_eq!(theirs["posts"].as_array().unwrap().len(), 1);
        assert_eq!(theirs["posts"][0]["post"], "theirs");
        // Their workspace is not found, as everywhere else; so is a workspace that does not exist.
        let their_workspace = app.store.find_workspace(their_org, None).await.unwrap().unwrap();
        let response = app.get(&format!("/social/posts?workspace_id={}", their_workspace.id)).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        // Their cursor positions our list too, and shows nothing of theirs.
        let cursor = theirs["next_cursor"].clone();
        assert_eq!(cursor, Value::Null);
        let response = app.get("/social/posts").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let response = app.client.get(app.url("/social/posts")).send().await.unwrap();
        expect_error(response, 401, "invalid_api_key").await;
    }

    async fn large_records_make_shorter_pages_within_the_byte_budget_and_each_comes_once(app) {
        // Oldest first: six of 300 kB, one larger than the whole budget, one that is 200 kB in
        // the database but 1.2 MB as JSON (each control character is written \u0001), two more.
        let mut ids = Vec::new();
        for i in 0..6 {
            ids.push(record_with_text(app, format!("{i}").repeat(300_000)).await);
        }
        ids.push(record_with_text(app, "b".repeat(PAGE_BYTES as usize + 100_000)).await);
        ids.push(record_with_text(app, "\u{1}".repeat(200_000)).await);
        ids.push(record_with_text(app, "c".repeat(300_000)).await);
        ids.push(record_with_text(app, "d".repeat(300_000)).await);
        ids.reverse();

        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(c) => format!("/social/posts?limit=100&cursor={c}"),
                None => "/social/posts?limit=100".to_owned(),
            };
            let response = app.get(&query).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let text = response.text().await.unwrap();
            let page: Value = serde_json::from_str(&text).unwrap();
            let posts = page["posts"].as_array().unwrap();
            // Within the budget (and its envelope), unless one record alone is larger.
            assert!(
                posts.len() == 1 || text.len() as u64 <= PAGE_BYTES + 200,
                "{} records in {} bytes", posts.len(), text.len()
            );
            pages.push(tracking_ids(&page));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(pages.len() < 20, "the pages never end");
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1, 1, 3, 3]);
        // Every record exactly once, newest first.
        assert_eq!(pages.concat(), ids);
        // A small page size still wins over the budget.
        let first = list(app, "?limit=1").await;
        assert_eq!(tracking_ids(&first), [ids[0].clone()]);
        assert!(first["next_cursor"].is_string());
    }
}
