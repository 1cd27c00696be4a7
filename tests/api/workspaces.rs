//! `/workspaces` (issue 18, item 1): create, list (paged) and read, scoped to the organization.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{TestApp, expect_error, response_json};

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
                     json!(["name"]),
                     // Not in this version yet: refused rather than ignored.
                     json!({"name": "a", "create_ayrshare_profile": true})] {
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
}
