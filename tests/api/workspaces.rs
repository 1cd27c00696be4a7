//! `/workspaces` (issue 18, item 1): create, list (paged) and read, scoped to the organization.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::shipped_mock::shipped_mock;
use crate::support::{AYRSHARE_KEY, TestApp, expect_error, response_json};

async fn create_keyed(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/workspaces", app.address))
        .bearer_auth(&app.api_key)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A path on the shipped mock (the app's Ayrshare base without its `/api`).
fn mock(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.ayrshare_base_url().trim_end_matches("/api"))
}

/// The profiles the mock holds under this title.
async fn mock_profiles(app: &TestApp, title: &str) -> Vec<Value> {
    let response = app
        .client
        .get(mock(app, "/api/profiles"))
        .query(&[("title", title)])
        .bearer_auth(AYRSHARE_KEY)
        .send()
        .await
        .unwrap();
    response_json(response).await["profiles"]
        .as_array()
        .unwrap()
        .clone()
}

/// The mock's journal of `POST /api/profiles`.
async fn profile_creates(app: &TestApp) -> Vec<Value> {
    let response = app
        .client
        .get(mock(app, "/mock/requests?path=/api/profiles&limit=1000"))
        .bearer_auth(AYRSHARE_KEY)
        .send()
        .await
        .unwrap();
    response_json(response).await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST")
        .cloned()
        .collect()
}

async fn create(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/workspaces", app.address))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn workspace_count(app: &TestApp) -> usize {
    app.store
        .list_workspaces(app.organization_id)
        .await
        .unwrap()
        .len()
}

backend_tests! {
    async fn a_workspace_is_created_and_read_back_without_a_profile_key(app) {
        let response = create(app, &app.api_key, json!({"name": "acme-brand"})).await;
        assert_eq!(response.status(), 201);
        let body = response_json(response).await;
        assert_eq!(body["name"], "acme-brand");
        assert_eq!(body["is_primary"], false);
        assert_eq!(body["has_profile_key"], false);
        assert!(body["created_at"].as_str().unwrap().ends_with('Z'), "{body}");
        let id = body["id"].as_str().unwrap();
        let read = response_json(app.get(&format!("/workspaces/{id}")).send().await.unwrap()).await;
        assert_eq!(read, body);
        // The row, as the store keeps it.
        let stored = app.store.find_workspace(app.organization_id, Some(id.parse().unwrap()))
            .await.unwrap().unwrap();
        assert_eq!(stored.name, "acme-brand");
        assert!(stored.ayrshare_profile_key.is_none());
        // The same name again: refused, nothing more written.
        let again = create(app, &app.api_key, json!({"name": "acme-brand"})).await;
        expect_error(again, 409, "conflict").await;
        assert_eq!(workspace_count(app).await, 2);
    }

    async fn bad_bodies_are_refused_and_change_nothing(app) {
        for body in [json!({}), json!({"name": ""}), json!({"name": "  "}), json!({"name": 7}),
                     json!({"name": "a\tb"}), json!({"name": "x".repeat(201)}),
                     json!({"name": "a", "extra": 1}), json!({"name": "a", "create_ayrshare_profile": "yes"}),
                     json!(["name"])] {
            let response = create(app, &app.api_key, body.clone()).await;
            let error = expect_error(response, 400, "validation_error").await;
            assert!(error["detail"].is_string(), "{body}: {error}");
        }
        assert_eq!(workspace_count(app).await, 1);
        let ok = create(app, &app.api_key, json!({"name": "b", "create_ayrshare_profile": false})).await;
        assert_eq!(ok.status(), 201);
    }

    async fn another_organizations_workspace_is_not_found(app) {
        let (their_key, their_org) = app.other_organization("globex").await;
        let theirs = app.store.create_workspace(their_org, "secret", Some("THEIR-KEY")).await.unwrap();
        let response = app.get(&format!("/workspaces/{}", theirs.id)).send().await.unwrap();
        let body = expect_error(response, 404, "not_found").await;
        assert!(!body.to_string().contains("secret"), "{body}");
        for id in ["nope", "00000000-0000-0000-0000-000000000000"] {
            expect_error(app.get(&format!("/workspaces/{id}")).send().await.unwrap(), 404, "not_found").await;
        }
        let listed = response_json(app.get("/workspaces").send().await.unwrap()).await;
        assert_eq!(listed["workspaces"].as_array().unwrap().len(), 1);
        // They see their own, and never the key.
        let response = app.client.get(format!("{}/workspaces/{}", app.address, theirs.id))
            .bearer_auth(&their_key).send().await.unwrap();
        let body = response_json(response).await;
        assert_eq!(body["has_profile_key"], true);
        assert!(!body.to_string().contains("THEIR-KEY"), "{body}");
    }

    async fn the_list_pages_primary_first_then_oldest_first(app) {
        for i in 0..4 {
            assert_eq!(create(app, &app.api_key, json!({"name": format!("w{i}")})).await.status(), 201);
        }
        let mut names = Vec::new();
        let mut path = "/workspaces?limit=2".to_owned();
        loop {
            let page = response_json(app.get(&path).send().await.unwrap()).await;
            let items = page["workspaces"].as_array().unwrap();
            assert!(items.len() <= 2, "{page}");
            names.extend(items.iter().map(|w| w["name"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/workspaces?limit=2&after={cursor}"),
                None => break,
            }
        }
        assert_eq!(names, ["primary", "w0", "w1", "w2", "w3"]);
        for query in ["limit=0", "limit=101", "limit=x", "after=nope", "cursor=1", "limit=1&limit=2"] {
            let response = app.get(&format!("/workspaces?{query}")).send().await.unwrap();
            expect_error(response, 400, "validation_error").await;
        }
    }

    async fn the_workspace_routes_need_a_key(app) {
        let response = app.client.get(format!("{}/workspaces", app.address)).send().await.unwrap();
        expect_error(response, 401, "invalid_api_key").await;
        let response = create(app, "mk_not_a_real_key_0000000000000000000000", json!({"name": "x"})).await;
        expect_error(response, 401, "invalid_api_key").await;
        assert_eq!(workspace_count(app).await, 1);
    }

    async fn a_workspace_with_its_own_profile_posts_with_that_profile(app) [shipped_mock()] {
        let response = create_keyed(app, "ws-1", json!({"name": "acme", "create_ayrshare_profile": true})).await;
        assert_eq!(response.status(), 201);
        let body = response_json(response).await;
        assert_eq!(body["has_profile_key"], true, "{body}");
        assert!(body.get("profile_state").is_none(), "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        // One profile at the mock, titled with the workspace's id and name.
        let title = format!("mosaic-social workspace {id}: acme");
        let profiles = mock_profiles(app, &title).await;
        assert_eq!(profiles.len(), 1, "{profiles:?}");
        let ref_id = profiles[0]["refId"].as_str().unwrap().to_owned();
        // The stored key opens to the one the mock issued: Ayrshare knows it as that profile.
        let stored = app.store.find_workspace(app.organization_id, Some(id.parse().unwrap()))
            .await.unwrap().unwrap();
        let key = secrecy::ExposeSecret::expose_secret(stored.ayrshare_profile_key.as_ref().unwrap()).to_owned();
        let user = app.client.get(mock(app, "/api/user")).bearer_auth(AYRSHARE_KEY)
            .header("Profile-Key", &key).send().await.unwrap();
        assert_eq!(response_json(user).await["refId"], ref_id);
        // A post in that workspace reaches the mock on that profile (new, so nothing linked yet:
        // the primary profile would have published it).
        let post = app.post(&json!({"post": "hi", "platforms": ["x"], "workspace_id": id}))
            .send().await.unwrap();
        let error = expect_error(post, 400, "provider_rejected").await;
        assert!(error["detail"].as_str().unwrap().contains("not linked"), "{error}");
        let response = app.client.get(mock(app, "/mock/requests?path=/api/post&limit=100"))
            .bearer_auth(AYRSHARE_KEY).send().await.unwrap();
        let posts = response_json(response).await["requests"].as_array().unwrap().clone();
        assert_eq!(posts.last().unwrap()["ref_id"], ref_id, "{posts:?}");
        // The same key again: replayed, no second profile.
        let again = create_keyed(app, "ws-1", json!({"name": "acme", "create_ayrshare_profile": true})).await;
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(response_json(again).await["id"], id.as_str());
        assert_eq!(profile_creates(app).await.len(), 1);
        // The same key for another request: refused.
        let other = create_keyed(app, "ws-1", json!({"name": "other", "create_ayrshare_profile": true})).await;
        expect_error(other, 409, "conflict").await;
        assert_eq!(profile_creates(app).await.len(), 1);
    }

    async fn a_lost_profile_answer_is_reported_and_never_creates_a_second_profile(app) [shipped_mock()] {
        let body = json!({"name": "lost [mock:lost:50]", "create_ayrshare_profile": true});
        let first = create_keyed(app, "ws-lost", body.clone()).await;
        let error = expect_error(first, 504, "provider_timeout").await;
        assert!(error["detail"].as_str().unwrap().contains("same Idempotency-Key"), "{error}");
        // The row was written first and says so.
        let listed = response_json(app.get("/workspaces").send().await.unwrap()).await;
        let row = listed["workspaces"].as_array().unwrap().iter()
            .find(|w| w["name"] == "lost [mock:lost:50]").unwrap().clone();
        assert_eq!(row["profile_state"], "creating", "{row}");
        assert_eq!(row["has_profile_key"], false);
        let id = row["id"].as_str().unwrap().to_owned();
        let title = format!("mosaic-social workspace {id}: lost [mock:lost:50]");
        assert_eq!(mock_profiles(app, &title).await.len(), 1);
        assert_eq!(profile_creates(app).await.len(), 1);
        // The retry looks the title up, finds the profile, and reports the orphan.
        let retry = create_keyed(app, "ws-lost", body.clone()).await;
        let error = expect_error(retry, 409, "conflict").await;
        let detail = error["detail"].as_str().unwrap();
        let ref_id = mock_profiles(app, &title).await[0]["refId"].as_str().unwrap().to_owned();
        assert!(detail.contains(&title) && detail.contains(&ref_id) && detail.contains("dashboard"), "{detail}");
        assert_eq!(profile_creates(app).await.len(), 1, "no second POST /profiles");
        assert_eq!(mock_profiles(app, &title).await.len(), 1);
        let read = response_json(app.get(&format!("/workspaces/{id}")).send().await.unwrap()).await;
        assert_eq!(read["profile_state"], "orphaned", "{read}");
        assert_eq!(read["has_profile_key"], false);
        // A post for it is refused before anything is written or sent: without the key it
        // would go out on the primary profile.
        let post = app.post(&json!({"post": "hi", "platforms": ["x"], "workspace_id": id}))
            .send().await.unwrap();
        let error = expect_error(post, 409, "conflict").await;
        assert!(error["detail"].as_str().unwrap().contains("orphaned"), "{error}");
        let response = app.client.get(mock(app, "/mock/requests?path=/api/post&limit=100"))
            .bearer_auth(AYRSHARE_KEY).send().await.unwrap();
        assert!(response_json(response).await["requests"].as_array().unwrap().is_empty());
        // Without the key, the same name resumes too, and still makes nothing new.
        let plain = create(app, &app.api_key, body).await;
        expect_error(plain, 409, "conflict").await;
        assert_eq!(profile_creates(app).await.len(), 1);
        // Another organization sees none of it.
        let (their_key, _) = app.other_organization("globex").await;
        let theirs = app.client.get(format!("{}/workspaces/{id}", app.address))
            .bearer_auth(&their_key).send().await.unwrap();
        let body = expect_error(theirs, 404, "not_found").await;
        assert!(!body.to_string().contains("lost"), "{body}");
        let listed = app.client.get(format!("{}/workspaces", app.address))
            .bearer_auth(&their_key).send().await.unwrap();
        assert_eq!(response_json(listed).await["workspaces"].as_array().unwrap().len(), 1);
    }

    async fn a_create_that_stopped_before_ayrshare_is_sent_again_once_its_claim_has_passed(app) [shipped_mock()] {
        // A replica wrote the row and stopped before Ayrshare made anything: still claimed.
        let id = uuid::Uuid::new_v4();
        let title = format!("mosaic-social workspace {id}: crashed");
        let soon = chrono::Utc::now() + chrono::Duration::seconds(60);
        assert!(app.store.insert_workspace(app.organization_id, id, "crashed", Some(&title),
            Some("ws-crash"), soon).await.unwrap());
        let body = json!({"name": "crashed", "create_ayrshare_profile": true});
        let busy = create_keyed(app, "ws-crash", body.clone()).await;
        let error = expect_error(busy, 409, "conflict").await;
        assert!(error["detail"].as_str().unwrap().contains("earlier request"), "{error}");
        assert!(profile_creates(app).await.is_empty(), "nothing sent while claimed");
        // While held, no one else takes it; a minute on (the replica is gone) it is free: taken
        // here with an end already past, so the retry may take it in turn.
        let past = chrono::Utc::now() - chrono::Duration::seconds(1);
        assert!(!app.store.claim_profile_create(app.organization_id, id, chrono::Utc::now(), past)
            .await.unwrap());
        let later = soon + chrono::Duration::seconds(1);
        assert!(app.store.claim_profile_create(app.organization_id, id, later, past)
            .await.unwrap());
        // The retry finds no profile under the title and makes one.
        let retry = create_keyed(app, "ws-crash", body).await;
        assert_eq!(retry.status(), 201);
        let read = response_json(retry).await;
        assert_eq!(read["id"], id.to_string());
        assert_eq!(read["has_profile_key"], true, "{read}");
        assert!(read.get("profile_state").is_none(), "{read}");
        assert_eq!(profile_creates(app).await.len(), 1);
        assert_eq!(mock_profiles(app, &title).await.len(), 1);
    }
}
