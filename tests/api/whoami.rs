//! `GET /whoami`: the organization, the calling key and the workspaces, a page at a time; never a
//! key or a profile key; `last_used_at` kept roughly current with at most one write per key per
//! interval.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::json;

use crate::backend_tests;
use crate::support::{TestApp, expect_error, response_json};

/// The key's `last_used_at` as the database has it, once the write that is on its way landed.
async fn stored_last_use(app: &TestApp) -> chrono::DateTime<Utc> {
    for _ in 0..100 {
        let keys = app.store.list_api_keys(app.organization_id).await.unwrap();
        if let Some(at) = keys[0].last_used_at {
            return at;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("last_used_at was never written");
}

backend_tests! {
    async fn whoami_names_the_organization_the_key_and_the_workspaces_without_secrets(app) {
        let brand = app.store.create_workspace(app.organization_id, "brand", Some("PK-SECRET-BRAND")).await.unwrap();
        let started = Utc::now();
        let response = app.get("/whoami").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(!text.contains("PK-SECRET-BRAND"), "{text}");
        assert!(!text.contains(&app.api_key[11..]), "{text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();

        assert_eq!(body["organization"], json!({"id": app.organization_id, "name": "acme"}));
        let key = &app.store.list_api_keys(app.organization_id).await.unwrap()[0];
        assert_eq!(body["api_key"]["id"], key.id.to_string());
        assert_eq!(body["api_key"]["prefix"], &app.api_key[..11]);
        assert_eq!(body["api_key"]["label"], "test");
        assert!(body["api_key"]["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(body["api_key"].as_object().unwrap().len(), 5, "{body}");
        // This very request counts.
        let last_used: chrono::DateTime<Utc> = body["api_key"]["last_used_at"].as_str().unwrap().parse().unwrap();
        assert!(last_used >= started - TimeDelta::seconds(1), "{last_used} {started}");
        assert_eq!(body["workspaces"], json!([
            {"id": app.primary_workspace_id, "name": "primary", "is_primary": true, "has_profile_key": false},
            {"id": brand.id, "name": "brand", "is_primary": false, "has_profile_key": true}
        ]));
        // And the database has it.
        assert_eq!(stored_last_use(app).await, last_used);
    }

    async fn the_key_in_use_is_written_at_most_once_per_minute(app) {
        response_json(app.get("/whoami").send().await.unwrap()).await;
        let first = stored_last_use(app).await;
        for _ in 0..3 {
            let body = response_json(app.get("/whoami").send().await.unwrap()).await;
            assert_eq!(body["api_key"]["last_used_at"], json!(first));
        }
        // The write is conditional too, for replicas sharing the database.
        let key = app.store.list_api_keys(app.organization_id).await.unwrap()[0].id;
        let soon = first + TimeDelta::seconds(30);
        app.store.touch_api_key(key, soon, soon - TimeDelta::seconds(60)).await.unwrap();
        assert_eq!(stored_last_use(app).await, first);
        let later = first + TimeDelta::seconds(61);
        app.store.touch_api_key(key, later, later - TimeDelta::seconds(60)).await.unwrap();
        assert_eq!(stored_last_use(app).await, later);
    }

    async fn another_organization_sees_only_its_own(app) {
        let (their_key, their_org) = app.other_organization("globex").await;
        let response = app.client.get(app.url("/whoami")).bearer_auth(&their_key).send().await.unwrap();
        let body = response_json(response).await;
        assert_eq!(body["organization"]["id"], their_org.to_string());
        assert_eq!(body["organization"]["name"], "globex");
        assert_eq!(body["api_key"]["prefix"], &their_key[..11]);
        assert_eq!(body["workspaces"].as_array().unwrap().len(), 1);
        assert_ne!(body["workspaces"][0]["id"], app.primary_workspace_id.to_string());
        let response = app.client.get(app.url("/whoami")).send().await.unwrap();
        expect_error(response, 401, "invalid_api_key").await;
    }

    async fn many_workspaces_are_listed_a_page_at_a_time_each_once(app) {
        for i in 0..250 {
            app.store.create_workspace(app.organization_id, &format!("brand-{i:03}"), None).await.unwrap();
        }
        // Primary first, then oldest first: the order the CLI lists them in.
        let expected: Vec<String> = app.store.list_workspaces(app.organization_id).await.unwrap()
            .iter().map(|w| w.id.to_string()).collect();
        assert_eq!(expected.len(), 251);
        let mut pages = Vec::new();
        let mut path = "/whoami".to_owned();
        loop {
            let body = response_json(app.get(&path).send().await.unwrap()).await;
            assert_eq!(body["organization"]["name"], "acme");
            let ids: Vec<String> = body["workspaces"].as_array().unwrap().iter()
                .map(|w| w["id"].as_str().unwrap().to_owned()).collect();
            pages.push(ids);
            match body["workspaces_next_cursor"].as_str() {
                Some(cursor) => path = format!("/whoami?workspaces_cursor={cursor}"),
                None => break,
            }
            assert!(pages.len() < 10, "the pages never end");
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 51]);
        assert_eq!(pages.concat(), expected);

        // A cursor this service did not issue, or a parameter whoami does not know, is refused.
        let first = response_json(app.get("/whoami").send().await.unwrap()).await;
        let cursor = first["workspaces_next_cursor"].as_str().unwrap();
        for query in [format!("workspaces_cursor={}", &cursor[1..]), "workspaces_cursor=x".into(),
                      "limit=5".into(), format!("workspaces_cursor={cursor}&workspaces_cursor={cursor}")] {
            let response = app.get(&format!("/whoami?{query}")).send().await.unwrap();
            let body = expect_error(response, 400, "validation_error").await;
            assert!(["workspaces_cursor", "limit"].contains(&body["errors"][0]["field"].as_str().unwrap()), "{body}");
        }
        // Our cursor positions only the caller's own list: another organization sees its own.
        let (their_key, _) = app.other_organization("globex").await;
        let theirs = response_json(app.client.get(app.url(&format!("/whoami?workspaces_cursor={cursor}")))
            .bearer_auth(&their_key).send().await.unwrap()).await;
        assert_eq!(theirs["workspaces"], json!([]));
        assert_eq!(theirs["workspaces_next_cursor"], serde_json::Value::Null);
    }

    async fn exactly_a_page_of_workspaces_comes_whole_and_without_a_cursor(app) {
        let body = response_json(app.get("/whoami").send().await.unwrap()).await;
        assert_eq!(body["workspaces"].as_array().unwrap().len(), 1);
        assert_eq!(body["workspaces_next_cursor"], serde_json::Value::Null);
        for i in 0..99 {
            app.store.create_workspace(app.organization_id, &format!("brand-{i:02}"), None).await.unwrap();
        }
        let body = response_json(app.get("/whoami").send().await.unwrap()).await;
        assert_eq!(body["workspaces"].as_array().unwrap().len(), 100);
        assert_eq!(body["workspaces_next_cursor"], serde_json::Value::Null);
    }
}
