//! Social account connections (`/social/{platform}/connect|status|remove`, `/social/connections`)
//! against the shipped mock Ayrshare: linking through its page, the `social` webhook (link,
//! unlink, a dead token dropped), a post refused as not linked, and the account events each
//! change writes; against wiremock where what matters is that Ayrshare is *not* called.

use std::time::Duration;

use mosaic_social::mock_ayrshare::{self, MockConfig};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::backend_tests;
use crate::support::{AYRSHARE_KEY, Database, Options, TestApp, expect_error, response_json};

const WEBHOOK_SECRET: &str = "social-webhook-secret-4c1d";
const SECRETS_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The shipped mock (accepting only the app's key), with linking configured.
fn shipped_mock() -> Options {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let config = MockConfig {
            api_key: Some(AYRSHARE_KEY.to_owned()),
            link_private_key: Some("the-private-key".to_owned()),
            ..MockConfig::default()
        };
        mock_ayrshare::serve(listener, config, std::future::pending())
            .await
            .unwrap();
    });
    Options {
        ayrshare_base_url: Some(format!("http://{addr}/api")),
        env: vec![
            ("AYRSHARE_DOMAIN", "acme-test".into()),
            ("AYRSHARE_PRIVATE_KEY", "the-private-key".into()),
            ("AYRSHARE_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
            ("SECRETS_KEY", SECRETS_KEY.into()),
        ],
        ..Options::default()
    }
}

/// Linking configured, Ayrshare is wiremock (which records every request).
fn linking_on_wiremock() -> Options {
    Options {
        env: vec![
            ("AYRSHARE_DOMAIN", "acme-test".into()),
            ("AYRSHARE_PRIVATE_KEY", "the-private-key".into()),
        ],
        ..Options::default()
    }
}

/// The mock's own address (its base URL without `/api`).
fn mock_url(app: &TestApp) -> String {
    app.ayrshare_base_url().trim_end_matches("/api").to_owned()
}

/// A workspace of `acme` with its own profile, created at the mock: its id and profile key.
async fn customer(app: &TestApp, title: &str) -> (Uuid, String) {
    let created: Value = app
        .client
        .post(format!("{}/api/profiles", mock_url(app)))
        .bearer_auth(AYRSHARE_KEY)
        .json(&json!({"title": title}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["profileKey"]
        .as_str()
        .expect("a profile key")
        .to_owned();
    let workspace = app
        .store
        .create_workspace(app.organization_id, title, Some(&key))
        .await
        .unwrap();
    (workspace.id, key)
}

/// Has the mock send `social` webhooks (of every profile) to the app, signed.
async fn route_social_webhooks(app: &TestApp) {
    let response = app
        .client
        .post(format!("{}/api/hook/webhook", mock_url(app)))
        .bearer_auth(AYRSHARE_KEY)
        .json(
            &json!({"action": "social", "url": app.url("/webhooks/ayrshare"),
                      "secret": WEBHOOK_SECRET}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Connects `platform` for `workspace`: the connect URL, opened and its link button pressed,
/// as a person would; the redirect the page answered with.
async fn link_through_the_page(app: &TestApp, workspace: Uuid, ayrshare_platform: &str) -> String {
    let response = app
        .client
        .post(app.url("/social/x/connect"))
        .bearer_auth(&app.api_key)
        .json(&json!({"workspace_id": workspace, "redirect_url": "https://app.example.com/linked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response_json(response).await;
    let url = body["connect_url"].as_str().unwrap().to_owned();
    let page = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("id=\"link-{ayrshare_platform}\"")),
        "{page}"
    );
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let pressed = no_redirects
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("link={ayrshare_platform}"))
        .send()
        .await
        .unwrap();
    assert_eq!(pressed.status(), 303);
    pressed.headers()["location"].to_str().unwrap().to_owned()
}

/// The account events of the feed, oldest first: (type, platform, reason, workspace).
async fn account_events(app: &TestApp) -> Vec<(String, String, String, String)> {
    let feed = response_json(
        app.get("/events?type=account.connected,account.disconnected")
            .send()
            .await
            .unwrap(),
    )
    .await;
    feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"]["platform"].as_str().unwrap().to_owned(),
                e["data"]["reason"].as_str().unwrap().to_owned(),
                e["data"]["workspace_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Waits (a safety net of 15 s) until the account events number `n`.
async fn wait_for_events(app: &TestApp, n: usize) -> Vec<(String, String, String, String)> {
    for _ in 0..150 {
        let events = account_events(app).await;
        if events.len() >= n {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    account_events(app).await
}

/// A count straight from the database.
async fn count(app: &TestApp, sql: &str) -> i64 {
    use sqlx::Connection;
    match &app.database {
        Database::Sqlite { url, .. } => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
        Database::Postgres { url, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
    }
}

backend_tests! {
    async fn connect_link_status_list_and_remove_through_the_shipped_mock(app) [shipped_mock()] {
        let (workspace, _) = customer(app, "customer one").await;
        let back = link_through_the_page(app, workspace, "twitter").await;
        assert_eq!(back, "https://app.example.com/linked");

        let status = response_json(app.get(&format!("/social/x/status?workspace_id={workspace}"))
            .send().await.unwrap()).await;
        assert_eq!(status["connected"], true, "{status}");
        assert_eq!(status["platform"], "x");
        let username = status["account"]["username"].as_str().unwrap().to_owned();
        assert!(username.starts_with("mock_twitter_"), "{status}");
        let other = response_json(app.get(&format!("/social/linkedin/status?workspace_id={workspace}"))
            .send().await.unwrap()).await;
        assert_eq!(other["connected"], false);
        assert!(other.get("account").is_none());

        let list = response_json(app.get("/social/connections").send().await.unwrap()).await;
        let accounts = list["connected_accounts"].as_array().unwrap();
        assert_eq!(accounts.len(), 1, "{list}");
        assert_eq!(accounts[0]["platform"], "x");
        assert_eq!(accounts[0]["workspace_id"], workspace.to_string());
        assert_eq!(accounts[0]["account_username"], username.as_str());
        assert!(accounts[0]["connected_at"].is_string());
        let filtered = response_json(app.get("/social/connections?platform=linkedin")
            .send().await.unwrap()).await;
        assert_eq!(filtered["connected_accounts"], json!([]));
        // The workspace's own read lists what is linked, from the same stored state.
        let read = response_json(app.get(&format!("/workspaces/{workspace}")).send().await.unwrap()).await;
        assert_eq!(read["platforms"], json!(["x"]), "{read}");

        let removed = app.client.delete(app.url(&format!("/social/x/remove?workspace_id={workspace}")))
            .bearer_auth(&app.api_key).send().await.unwrap();
        assert_eq!(removed.status(), 200);
        let removed = response_json(removed).await;
        assert_eq!(removed["success"], true);
        assert_eq!(removed["platform"], "x");
        // The mock no longer has it linked, and the table says so without a status read.
        let list = response_json(app.get("/social/connections").send().await.unwrap()).await;
        assert_eq!(list["connected_accounts"], json!([]));
        let read = response_json(app.get(&format!("/workspaces/{workspace}")).send().await.unwrap()).await;
        assert_eq!(read["platforms"], json!([]), "{read}");
        let status = response_json(app.get(&format!("/social/x/status?workspace_id={workspace}"))
            .send().await.unwrap()).await;
        assert_eq!(status["connected"], false);

        let events = wait_for_events(app, 2).await;
        let ws = workspace.to_string();
        assert_eq!(events, vec![
            ("account.connected".into(), "x".into(), "status_check".into(), ws.clone()),
            ("account.disconnected".into(), "x".into(), "removed".into(), ws),
        ]);
    }

    async fn the_social_webhook_links_unlinks_and_reports_a_dropped_token(app) [shipped_mock()] {
        route_social_webhooks(app).await;
        let (workspace, key) = customer(app, "customer two").await;
        // Connect learns the profile's refId, so that the webhook finds the workspace.
        link_through_the_page(app, workspace, "twitter").await;
        let events = wait_for_events(app, 1).await;
        assert_eq!(events[0].0, "account.connected");
        assert_eq!(events[0].2, "linked");
        let stored = app.store.find_connection(workspace, mosaic_social::domain::Platform::X)
            .await.unwrap().unwrap();
        assert!(stored.state.connected);
        // Completed from GET /user: the webhook names only a display name.
        assert!(stored.state.account.username.as_deref().unwrap().starts_with("mock_twitter_"));

        // Ayrshare drops a dead token: `source: system`.
        let dropped = app.client
            .post(format!("{}/mock/profiles/{key}/drop/twitter", mock_url(app)))
            .bearer_auth(AYRSHARE_KEY).send().await.unwrap();
        assert_eq!(dropped.status(), 200);
        let events = wait_for_events(app, 2).await;
        assert_eq!(events[1].0, "account.disconnected");
        assert_eq!(events[1].2, "token_revoked");
        let stored = app.store.find_connection(workspace, mosaic_social::domain::Platform::X)
            .await.unwrap().unwrap();
        assert!(!stored.state.connected);
        assert!(stored.state.unlinked_at.is_some());

        // Linked again, then unlinked by the user at Ayrshare.
        link_through_the_page(app, workspace, "tiktok").await;
        assert_eq!(wait_for_events(app, 3).await.len(), 3);
        let unlinked = app.client
            .delete(format!("{}/api/profiles/social", mock_url(app)))
            .bearer_auth(AYRSHARE_KEY).header("Profile-Key", &key)
            .json(&json!({"platform": "tiktok"})).send().await.unwrap();
        assert_eq!(unlinked.status(), 200);
        let events = wait_for_events(app, 4).await;
        let kinds: Vec<(&str, &str, &str)> = events.iter()
            .map(|(t, p, r, _)| (t.as_str(), p.as_str(), r.as_str())).collect();
        assert_eq!(kinds, vec![
            ("account.connected", "x", "linked"),
            ("account.disconnected", "x", "token_revoked"),
            ("account.connected", "tiktok", "linked"),
            ("account.disconnected", "tiktok", "unlinked"),
        ]);
        // A repeated delivery changes nothing: no fifth event.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(account_events(app).await.len(), 4);
        assert_eq!(count(app, "select count(*) from account_events").await, 4);
    }

    async fn a_post_refused_as_not_linked_disconnects_and_events_reach_endpoints(app) [shipped_mock()] {
        let (workspace, key) = customer(app, "customer three").await;
        // An endpoint that wants account events: each event is queued for it in its transaction.
        let endpoint = app.client.post(app.url("/webhooks/endpoints")).bearer_auth(&app.api_key)
            .json(&json!({"url": "https://hooks.example.com/mosaic",
                          "event_types": ["account.connected", "account.disconnected"]}))
            .send().await.unwrap();
        assert_eq!(endpoint.status(), 201, "{}", endpoint.text().await.unwrap());
        link_through_the_page(app, workspace, "twitter").await;
        let status = response_json(app.get(&format!("/social/x/status?workspace_id={workspace}"))
            .send().await.unwrap()).await;
        assert_eq!(status["connected"], true);
        // Ayrshare no longer has it linked, and said nothing (no webhook).
        let fault = app.client
            .put(format!("{}/mock/profiles/{key}/faults/twitter", mock_url(app)))
            .bearer_auth(AYRSHARE_KEY).json(&json!({"fault": "not_linked"})).send().await.unwrap();
        assert_eq!(fault.status(), 200);
        let post = app.post(&json!({"post": "hello", "platforms": ["x"], "workspace_id": workspace}))
            .send().await.unwrap();
        let body = response_json(post).await;
        assert_eq!(body["tracked_status"], "failed", "{body}");
        let events = wait_for_events(app, 2).await;
        assert_eq!(events[1].0, "account.disconnected");
        assert_eq!(events[1].2, "post_refused");
        let stored = app.store.find_connection(workspace, mosaic_social::domain::Platform::X)
            .await.unwrap().unwrap();
        assert!(!stored.state.connected);
        assert_eq!(
            count(app, "select count(*) from webhook_deliveries where event_type like 'account.%'").await,
            2
        );
    }

    async fn another_organizations_workspace_is_not_found_on_every_route(app) [shipped_mock()] {
        let (_, other_org) = app.other_organization("globex").await;
        let theirs = app.store.create_workspace(other_org, "theirs", Some("THEIR-KEY")).await.unwrap().id;
        let connect = app.client.post(app.url("/social/x/connect")).bearer_auth(&app.api_key)
            .json(&json!({"workspace_id": theirs})).send().await.unwrap();
        expect_error(connect, 404, "not_found").await;
        let status = app.get(&format!("/social/x/status?workspace_id={theirs}")).send().await.unwrap();
        expect_error(status, 404, "not_found").await;
        let remove = app.client.delete(app.url(&format!("/social/x/remove?workspace_id={theirs}")))
            .bearer_auth(&app.api_key).send().await.unwrap();
        expect_error(remove, 404, "not_found").await;
        let list = app.get(&format!("/social/connections?workspace_id={theirs}")).send().await.unwrap();
        expect_error(list, 404, "not_found").await;
    }

    async fn an_unknown_platform_is_a_400_listing_ours(app) [shipped_mock()] {
        for response in [
            app.client.post(app.url("/social/myspace/connect")).bearer_auth(&app.api_key).send().await.unwrap(),
            app.get("/social/twitter/status").send().await.unwrap(),
            app.client.delete(app.url("/social/myspace/remove")).bearer_auth(&app.api_key).send().await.unwrap(),
            app.get("/social/connections?platform=myspace").send().await.unwrap(),
        ] {
            let body = expect_error(response, 400, "validation_error").await;
            assert!(body["detail"].as_str().unwrap()
                .contains("x, linkedin, instagram, facebook, tiktok, youtube"), "{body}");
        }
    }

    async fn connect_without_the_linking_settings_is_503_naming_them(app) {
        let (workspace, _) = (app.store.create_workspace(app.organization_id, "c", Some("KEY-1")).await.unwrap().id, ());
        let response = app.client.post(app.url("/social/x/connect")).bearer_auth(&app.api_key)
            .json(&json!({"workspace_id": workspace})).send().await.unwrap();
        let body = expect_error(response, 503, "not_configured").await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("AYRSHARE_DOMAIN") && detail.contains("AYRSHARE_PRIVATE_KEY"), "{body}");
        assert!(app.ayrshare.received_requests().await.unwrap().is_empty());
    }

    async fn without_a_profile_key_connect_and_remove_are_409_and_ayrshare_is_not_called(app) [linking_on_wiremock()] {
        for response in [
            app.client.post(app.url("/social/x/connect")).bearer_auth(&app.api_key).send().await.unwrap(),
            app.client.delete(app.url("/social/x/remove")).bearer_auth(&app.api_key).send().await.unwrap(),
        ] {
            let body = expect_error(response, 409, "conflict").await;
            assert!(body["detail"].as_str().unwrap().contains("own profile"), "{body}");
        }
        assert_eq!(app.ayrshare.received_requests().await.unwrap().len(), 0);
    }

    async fn hostile_bodies_and_queries_are_refused_and_change_nothing(app) [linking_on_wiremock()] {
        let workspace = app.store.create_workspace(app.organization_id, "c", Some("KEY-2")).await.unwrap().id;
        for body in [
            json!({"workspace_id": workspace, "redirect_url": "javascript:alert(1)"}),
            json!({"workspace_id": workspace, "extra": true}),
            json!({"workspace_id": 7}),
            json!([1]),
        ] {
            let response = app.client.post(app.url("/social/x/connect")).bearer_auth(&app.api_key)
                .json(&body).send().await.unwrap();
            expect_error(response, 400, "validation_error").await;
        }
        for path in ["/social/connections?limit=0", "/social/connections?after=forged",
                     "/social/connections?other=1", "/social/x/status?workspace_id=nope"] {
            expect_error(app.get(path).send().await.unwrap(), 400, "validation_error").await;
        }
        assert_eq!(app.ayrshare.received_requests().await.unwrap().len(), 0);
        assert_eq!(count(app, "select count(*) from social_connections").await, 0);
    }
}

backend_tests! {
    async fn post_and_account_events_share_one_feed_order_and_cursor(app) [shipped_mock()] {
        let (workspace, _) = customer(app, "customer four").await;
        let first = response_json(app.post(&json!({"post": "one", "platforms": ["x"]}))
            .send().await.unwrap()).await;
        assert_eq!(first["tracked_status"], "posted", "{first}");
        link_through_the_page(app, workspace, "youtube").await;
        let status = response_json(app.get(&format!("/social/youtube/status?workspace_id={workspace}"))
            .send().await.unwrap()).await;
        assert_eq!(status["connected"], true);
        let second = response_json(app.post(&json!({"post": "two", "platforms": ["x"]}))
            .send().await.unwrap()).await;
        assert_eq!(second["tracked_status"], "posted", "{second}");

        // One event a page, following the cursor: each once, in the order they committed.
        // The feed shows nothing at or above a transaction still running (the social webhook's,
        // say, which the mock sends after the link): an empty page is "not yet", so the walk
        // waits for more rather than ending there.
        let mut seen = Vec::new();
        let mut path = "/events?limit=1".to_owned();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while seen.len() < 3 && std::time::Instant::now() < deadline {
            let page = response_json(app.get(&path).send().await.unwrap()).await;
            let events = page["events"].as_array().unwrap();
            if events.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            assert_eq!(events.len(), 1, "{page}");
            seen.push(events[0]["type"].as_str().unwrap().to_owned());
            path = format!("/events?limit=1&after={}", page["next_cursor"].as_str().unwrap());
        }
        // Nothing after the three.
        let page = response_json(app.get(&path).send().await.unwrap()).await;
        assert_eq!(page["events"], json!([]), "{page}");
        assert_eq!(seen, ["post.posted", "account.connected", "post.posted"]);
        // Distinct positions across both outboxes.
        assert_eq!(count(app, "select count(*) from account_events a \
            join social_post_events p on p.seq = a.seq").await, 0);
    }
}
