//! `/webhooks/endpoints`: creating, reading, changing and deleting endpoints, the secret shown
//! once and stored sealed, its rotation, the bound per organization, the address rule on save,
//! hostile bodies, test events, redelivery and the log of attempts; another organization's
//! endpoint is a 404 on every route. Each checks the answer and the rows it left.

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::Connection;
use uuid::Uuid;

use crate::backend_tests;
use crate::fixtures::{answer_creates, published, scheduled};
use crate::support::{Database, Options, TestApp, expect_error, response_json};

/// A `SECRETS_KEY` (32 bytes of base64) for the tests: endpoints cannot be stored without one.
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn keyed() -> Options {
    with(&[])
}

fn with(env: &[(&'static str, &str)]) -> Options {
    let mut options = Options::default();
    options.env.push(("SECRETS_KEY", KEY.to_owned()));
    for (name, value) in env {
        options.env.push((name, (*value).to_owned()));
    }
    options
}

/// Runs `sql` straight on the test database.
async fn exec(app: &TestApp, sql: &str) {
    match &app.database {
        Database::Sqlite { url, .. } => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        Database::Postgres { url, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }
}

/// The text column of each row `sql` selects, straight from the test database (`cast(.. as
/// text)` reads the same on both backends).
async fn texts(app: &TestApp, sql: &str) -> Vec<Option<String>> {
    match &app.database {
        Database::Sqlite { url, .. } => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
        }
        Database::Postgres { url, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
        }
    }
}

async fn count(app: &TestApp, table: &str) -> usize {
    texts(app, &format!("select cast(count(*) as text) from {table}")).await[0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

fn post(app: &TestApp, path: &str, key: &str) -> reqwest::RequestBuilder {
    app.client.post(app.url(path)).bearer_auth(key)
}

/// Creates an endpoint with `body`, asserting a 201; its answer.
async fn create(app: &TestApp, body: Value) -> Value {
    let response = post(app, "/webhooks/endpoints", &app.api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{body}");
    response_json(response).await
}

async fn create_url(app: &TestApp, url: &str) -> Value {
    create(app, json!({"url": url})).await
}

/// The deliveries queued: `(endpoint, event_id, event_type, event_seq, payload)`.
async fn deliveries(app: &TestApp) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    for column in [
        "cast(endpoint_id as text)",
        "event_id",
        "event_type",
        "cast(event_seq as text)",
        "cast(payload as text)",
        "state",
    ] {
        let values = texts(
            app,
            &format!("select {column} from webhook_deliveries order by id"),
        )
        .await;
        for (i, value) in values.into_iter().enumerate() {
            if rows.len() <= i {
                rows.push(Vec::new());
            }
            rows[i].push(value);
        }
    }
    rows
}

backend_tests! {
    async fn an_endpoint_is_created_read_listed_changed_and_deleted(app) [keyed()] {
        let workspace = app.primary_workspace_id.to_string();
        let created = create(app, json!({
            "url": "https://hooks.example.com/mosaic",
            "event_types": ["post.posted", "post.failed"],
            "workspace_id": workspace,
            "description": "production",
        })).await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(created["url"], "https://hooks.example.com/mosaic");
        assert_eq!(created["event_types"], json!(["post.posted", "post.failed"]));
        assert_eq!(created["workspace_id"], workspace);
        assert_eq!(created["description"], "production");
        assert_eq!(created["disabled"], false);
        assert!(created["created_at"].is_string());
        assert!(created["secret"].as_str().unwrap().starts_with("whsec_"), "{created}");

        let read = response_json(app.get(&format!("/webhooks/endpoints/{id}")).send().await.unwrap()).await;
        let mut without_secret = created.clone();
        without_secret.as_object_mut().unwrap().remove("secret");
        assert_eq!(read, without_secret);
        let list = response_json(app.get("/webhooks/endpoints").send().await.unwrap()).await;
        assert_eq!(list["endpoints"], json!([without_secret]));
        assert_eq!(list["next_cursor"], Value::Null);

        let response = app.client.patch(app.url(&format!("/webhooks/endpoints/{id}")))
            .bearer_auth(&app.api_key)
            .json(&json!({"url": "https://other.example.com/h", "event_types": null,
                          "description": null, "disabled": true}))
            .send().await.unwrap();
        assert_eq!(response.status(), 200);
        let changed = response_json(response).await;
        assert_eq!(changed["url"], "https://other.example.com/h");
        assert_eq!(changed["event_types"], Value::Null);
        assert_eq!(changed["description"], Value::Null);
        assert_eq!(changed["disabled"], true);
        assert_eq!(changed["disabled_reason"], "disabled by the caller");
        assert_eq!(
            texts(app, "select url from webhook_endpoints").await,
            [Some("https://other.example.com/h".to_owned())]
        );
        // Enabling again clears the reason.
        let enabled = response_json(app.client.patch(app.url(&format!("/webhooks/endpoints/{id}")))
            .bearer_auth(&app.api_key).json(&json!({"disabled": false})).send().await.unwrap()).await;
        assert_eq!(enabled["disabled"], false);
        assert_eq!(enabled["disabled_reason"], Value::Null);

        let response = app.client.delete(app.url(&format!("/webhooks/endpoints/{id}")))
            .bearer_auth(&app.api_key).send().await.unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(count(app, "webhook_endpoints").await, 0);
        expect_error(app.get(&format!("/webhooks/endpoints/{id}")).send().await.unwrap(), 404, "not_found").await;
        let again = app.client.delete(app.url(&format!("/webhooks/endpoints/{id}")))
            .bearer_auth(&app.api_key).send().await.unwrap();
        expect_error(again, 404, "not_found").await;
    }

    async fn disabling_keeps_an_earlier_reason_and_enabling_clears_the_failing_streak(app) [keyed()] {
        let id = create_url(app, "https://hooks.example.com/").await["id"].as_str().unwrap().to_owned();
        // As the delivery worker leaves an endpoint that answered 410.
        exec(app, &format!(
            "update webhook_endpoints set disabled = true, disabled_reason = 'the endpoint answered 410 Gone', \
             failing_since = '2026-12-01T00:00:00Z' where id = '{id}'"
        )).await;
        let patch = |body: Value| app.client.patch(app.url(&format!("/webhooks/endpoints/{id}")))
            .bearer_auth(&app.api_key).json(&body).send();
        let again = response_json(patch(json!({"disabled": true})).await.unwrap()).await;
        assert_eq!(again["disabled_reason"], "the endpoint answered 410 Gone");
        let enabled = response_json(patch(json!({"disabled": false})).await.unwrap()).await;
        assert_eq!(enabled["disabled"], false);
        assert_eq!(enabled["disabled_reason"], Value::Null);
        assert_eq!(texts(app, "select failing_since from webhook_endpoints").await, [None]);
        // A change of something else leaves the state alone.
        let described = response_json(patch(json!({"description": "d"})).await.unwrap()).await;
        assert_eq!((described["disabled"].clone(), described["description"].clone()), (json!(false), json!("d")));
    }

    async fn every_route_needs_a_key(app) [keyed()] {
        let id = Uuid::new_v4();
        for (verb, path) in [
            ("POST", "/webhooks/endpoints".to_owned()),
            ("GET", "/webhooks/endpoints".to_owned()),
            ("GET", format!("/webhooks/endpoints/{id}")),
            ("PATCH", format!("/webhooks/endpoints/{id}")),
            ("DELETE", format!("/webhooks/endpoints/{id}")),
            ("POST", format!("/webhooks/endpoints/{id}/rotate-secret")),
            ("POST", format!("/webhooks/endpoints/{id}/test")),
            ("GET", format!("/webhooks/endpoints/{id}/deliveries")),
            ("POST", format!("/webhooks/endpoints/{id}/redeliver")),
        ] {
            let response = app.client.request(verb.parse().unwrap(), app.url(&path))
                .json(&json!({"url": "https://a.example.com/"})).send().await.unwrap();
            expect_error(response, 401, "invalid_api_key").await;
        }
        assert_eq!(count(app, "webhook_endpoints").await, 0);
    }

    async fn the_list_is_paged_oldest_first(app) [keyed()] {
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(create_url(app, &format!("https://h{i}.example.com/")).await["id"].clone());
        }
        let first = response_json(app.get("/webhooks/endpoints?limit=2").send().await.unwrap()).await;
        let page: Vec<Value> = first["endpoints"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
        assert_eq!(page, ids[..2]);
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = response_json(app.get(&format!("/webhooks/endpoints?limit=2&after={cursor}"))
            .send().await.unwrap()).await;
        assert_eq!(second["endpoints"].as_array().unwrap().len(), 1);
        assert_eq!(second["endpoints"][0]["id"], ids[2]);
        assert_eq!(second["next_cursor"], Value::Null);
        for query in ["?limit=0", "?after=abc", "?type=x"] {
            expect_error(app.get(&format!("/webhooks/endpoints{query}")).send().await.unwrap(),
                400, "validation_error").await;
        }
    }

    async fn the_secret_is_shown_once_and_stored_sealed_to_its_row(app) [keyed()] {
        let created = create_url(app, "https://hooks.example.com/").await;
        let secret = created["secret"].as_str().unwrap();
        let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
        let stored = texts(app, "select secret from webhook_endpoints").await;
        let sealed = stored[0].clone().unwrap();
        assert!(sealed.starts_with("enc:"), "{sealed}");
        assert!(!sealed.contains("whsec_") && !sealed.contains(&secret[6..]), "{sealed}");
        assert!(!app.dump_database().await.contains(&secret[6..]));
        let aad = mosaic_social::store::secret_aad(id);
        let opened = app.store.secrets().open(&sealed, &aad).unwrap();
        assert_eq!(opened.expose_secret(), secret);
        // Bound to its row: under another endpoint's associated data it does not open.
        assert!(app.store.secrets().open(&sealed, &mosaic_social::store::secret_aad(Uuid::new_v4())).is_err());
        // No other answer shows it.
        for path in [format!("/webhooks/endpoints/{id}"), "/webhooks/endpoints".to_owned()] {
            let text = app.get(&path).send().await.unwrap().text().await.unwrap();
            assert!(!text.contains("whsec_") && !text.contains("secret\":"), "{text}");
        }
    }

    async fn a_rotation_keeps_the_old_secret_signing_for_a_day(app) [keyed()] {
        let created = create_url(app, "https://hooks.example.com/").await;
        let id = created["id"].as_str().unwrap();
        let before = texts(app, "select secret from webhook_endpoints").await[0].clone().unwrap();
        let response = post(app, &format!("/webhooks/endpoints/{id}/rotate-secret"), &app.api_key)
            .send().await.unwrap();
        assert_eq!(response.status(), 200);
        let rotated = response_json(response).await;
        let new_secret = rotated["secret"].as_str().unwrap();
        assert!(new_secret.starts_with("whsec_"));
        assert_ne!(new_secret, created["secret"].as_str().unwrap());
        let until: chrono::DateTime<chrono::Utc> =
            rotated["previous_secret_expires_at"].as_str().unwrap().parse().unwrap();
        let left = until - chrono::Utc::now();
        assert!(left > chrono::Duration::hours(23) && left <= chrono::Duration::hours(24), "{left}");
        // The old envelope moved as it is, and both open under the row's associated data.
        let previous = texts(app, "select previous_secret from webhook_endpoints").await[0].clone().unwrap();
        assert_eq!(previous, before);
        let current = texts(app, "select secret from webhook_endpoints").await[0].clone().unwrap();
        let aad = mosaic_social::store::secret_aad(id.parse().unwrap());
        assert_eq!(app.store.secrets().open(&previous, &aad).unwrap().expose_secret(), created["secret"].as_str().unwrap());
        assert_eq!(app.store.secrets().open(&current, &aad).unwrap().expose_secret(), new_secret);
        let read = response_json(app.get(&format!("/webhooks/endpoints/{id}")).send().await.unwrap()).await;
        assert_eq!(read["previous_secret_expires_at"], rotated["previous_secret_expires_at"]);
    }

    async fn another_organizations_endpoint_is_not_found_on_every_route(app) [keyed()] {
        let created = create_url(app, "https://hooks.example.com/").await;
        let id = created["id"].as_str().unwrap();
        let (stranger, _) = app.other_organization("globex").await;
        let base = format!("/webhooks/endpoints/{id}");
        let routes = [
            ("GET", base.clone(), None),
            ("PATCH", base.clone(), Some(json!({"disabled": true}))),
            ("DELETE", base.clone(), None),
            ("POST", format!("{base}/rotate-secret"), None),
            ("POST", format!("{base}/test"), None),
            ("GET", format!("{base}/deliveries"), None),
            ("POST", format!("{base}/redeliver"), Some(json!({"since": "2020-01-01T00:00:00Z"}))),
        ];
        let row = "select url || secret || cast(disabled as text) || cast(updated_at as text) \
                   || coalesce(previous_secret, '-') from webhook_endpoints";
        let before = texts(app, row).await;
        for (verb, path, body) in routes.iter().cloned() {
            let mut request = app.client.request(verb.parse().unwrap(), app.url(&path)).bearer_auth(&stranger);
            if let Some(body) = body {
                request = request.json(&body);
            }
            expect_error(request.send().await.unwrap(), 404, "not_found").await;
        }
        // Nothing changed: the endpoint, its secret and no delivery.
        assert_eq!(texts(app, row).await, before);
        assert_eq!(count(app, "webhook_deliveries").await, 0);
        let list = response_json(app.client.get(app.url("/webhooks/endpoints")).bearer_auth(&stranger)
            .send().await.unwrap()).await;
        assert_eq!(list["endpoints"], json!([]));
        // A malformed id is not found either, on every route.
        for (verb, path, body) in routes {
            let path = path.replace(id, "not-a-uuid");
            let mut request = app.client.request(verb.parse().unwrap(), app.url(&path)).bearer_auth(&app.api_key);
            if let Some(body) = body {
                request = request.json(&body);
            }
            expect_error(request.send().await.unwrap(), 404, "not_found").await;
        }
        // Another organization's workspace is not found on create.
        let (_, other_org) = app.other_organization("initech").await;
        let theirs = app.store.find_workspace(other_org, None).await.unwrap().unwrap().id;
        let response = post(app, "/webhooks/endpoints", &app.api_key)
            .json(&json!({"url": "https://a.example.com/", "workspace_id": theirs})).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
        assert_eq!(count(app, "webhook_endpoints").await, 1);
    }

    async fn an_organization_has_at_most_max_endpoints_even_when_creates_race(app) [with(&[("WEBHOOK_MAX_ENDPOINTS", "3")])] {
        create_url(app, "https://first.example.com/").await;
        let creates = (0..6).map(|i| {
            post(app, "/webhooks/endpoints", &app.api_key)
                .json(&json!({"url": format!("https://h{i}.example.com/")}))
                .send()
        });
        let answers = futures_util::future::join_all(creates).await;
        let mut created = 0;
        for answer in answers {
            let answer = answer.unwrap();
            match answer.status().as_u16() {
                201 => created += 1,
                _ => {
                    let body = expect_error(answer, 409, "conflict").await;
                    assert!(body["detail"].as_str().unwrap().contains("WEBHOOK_MAX_ENDPOINTS"), "{body}");
                }
            }
        }
        assert_eq!(created, 2);
        assert_eq!(count(app, "webhook_endpoints").await, 3);
        // Another organization has its own bound.
        let (stranger, _) = app.other_organization("globex").await;
        let response = post(app, "/webhooks/endpoints", &stranger)
            .json(&json!({"url": "https://g.example.com/"})).send().await.unwrap();
        assert_eq!(response.status(), 201);
    }

    async fn internal_and_plain_http_urls_are_refused_on_save(app) [keyed()] {
        let created = create_url(app, "https://hooks.example.com/").await;
        let id = created["id"].as_str().unwrap();
        for url in [
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            // The same addresses spelt otherwise: the URL parser's reading is what is judged.
            "https://[::ffff:7f00:1]/hook",
            "https://2130706433/hook",
            "https://0x7f.1/hook",
            "https://[fd00:ec2::254]/",
            "http://hooks.example.com/hook",
            "https://user:pw@hooks.example.com/",
            "ftp://hooks.example.com/",
        ] {
            let response = post(app, "/webhooks/endpoints", &app.api_key)
                .json(&json!({"url": url})).send().await.unwrap();
            let body = expect_error(response, 400, "validation_error").await;
            assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
            let response = app.client.patch(app.url(&format!("/webhooks/endpoints/{id}")))
                .bearer_auth(&app.api_key).json(&json!({"url": url})).send().await.unwrap();
            expect_error(response, 400, "validation_error").await;
        }
        assert_eq!(texts(app, "select url from webhook_endpoints").await,
            [Some("https://hooks.example.com/".to_owned())]);
    }

    async fn internal_and_plain_http_urls_are_accepted_with_the_development_switches(app)
        [with(&[("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"), ("WEBHOOK_ALLOW_HTTP", "true")])]
    {
        for url in [
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "http://hooks.example.com/hook",
        ] {
            create_url(app, url).await;
        }
        assert_eq!(count(app, "webhook_endpoints").await, 6);
    }

    async fn hostile_bodies_are_refused_with_json_and_store_nothing(app) [keyed()] {
        let huge = format!("https://hooks.example.com/{}", "a".repeat(3000));
        for body in [
            json!({"url": huge}),
            json!({"url": "https://hooks.example.com/", "secret": "whsec_mine"}),
            json!({"url": "https://hooks.example.com/", "id": Uuid::new_v4()}),
            json!({"url": 7}),
            json!({"url": "https://hooks.example.com/", "event_types": "post.posted"}),
            json!({"url": "https://hooks.example.com/", "event_types": ["post.published"]}),
            json!({"url": "https://hooks.example.com/", "event_types": []}),
            json!({"url": "https://hooks.example.com/", "description": "x".repeat(300)}),
            json!({"url": "https://hooks.example.com/", "description": 1}),
            json!({"url": "https://hooks.example.com/", "workspace_id": "w1"}),
            json!({}),
            json!(["https://hooks.example.com/"]),
        ] {
            let response = post(app, "/webhooks/endpoints", &app.api_key).json(&body).send().await.unwrap();
            expect_error(response, 400, "validation_error").await;
        }
        let listing = post(app, "/webhooks/endpoints", &app.api_key)
            .json(&json!({"url": "https://hooks.example.com/", "event_types": ["nope"]})).send().await.unwrap();
        let body = expect_error(listing, 400, "validation_error").await;
        assert!(body["detail"].as_str().unwrap().contains("account.disconnected, webhook.test"), "{body}");
        // A duplicated key has two meanings: refused before anything is read.
        let duplicated = post(app, "/webhooks/endpoints", &app.api_key)
            .header("content-type", "application/json")
            .body(r#"{"url": "https://a.example.com/", "url": "https://127.0.0.1/"}"#)
            .send().await.unwrap();
        expect_error(duplicated, 400, "validation_error").await;
        let not_json = post(app, "/webhooks/endpoints", &app.api_key).body("url=x").send().await.unwrap();
        expect_error(not_json, 415, "unsupported_media_type").await;
        let ten_mb = format!(r#"{{"url": "https://a.example.com/", "description": "{}"}}"#, "x".repeat(10 << 20));
        let large = post(app, "/webhooks/endpoints", &app.api_key)
            .header("content-type", "application/json").body(ten_mb).send().await.unwrap();
        expect_error(large, 413, "payload_too_large").await;
        assert_eq!(count(app, "webhook_endpoints").await, 0);
        // The same rules on PATCH and redeliver.
        let id = create_url(app, "https://hooks.example.com/").await["id"].as_str().unwrap().to_owned();
        for body in [json!({}), json!({"workspace_id": null}), json!({"disabled": "yes"}), json!({"urls": "x"})] {
            let response = app.client.patch(app.url(&format!("/webhooks/endpoints/{id}")))
                .bearer_auth(&app.api_key).json(&body).send().await.unwrap();
            expect_error(response, 400, "validation_error").await;
        }
        for body in [json!({}), json!({"event_id": "evt_1", "since": "2026-01-01T00:00:00Z"}),
                     json!({"since": "yesterday"}), json!({"event_id": 1}), json!({"all": true})] {
            let response = post(app, &format!("/webhooks/endpoints/{id}/redeliver"), &app.api_key)
                .json(&body).send().await.unwrap();
            expect_error(response, 400, "validation_error").await;
        }
        assert_eq!(count(app, "webhook_deliveries").await, 0);
        let read = response_json(app.get(&format!("/webhooks/endpoints/{id}")).send().await.unwrap()).await;
        assert_eq!(read["disabled"], false);
        assert_eq!(read["event_types"], Value::Null);
    }

    async fn without_a_secrets_key_an_endpoint_cannot_be_stored(app) [with(&[("SECRETS_KEY", "")])] {
        let response = post(app, "/webhooks/endpoints", &app.api_key)
            .json(&json!({"url": "https://hooks.example.com/"})).send().await.unwrap();
        let body = expect_error(response, 503, "not_configured").await;
        assert!(body["detail"].as_str().unwrap().contains("SECRETS_KEY"), "{body}");
        assert_eq!(count(app, "webhook_endpoints").await, 0);
    }

    async fn a_test_queues_one_webhook_test_event_for_that_endpoint(app) [keyed()] {
        let id = create_url(app, "https://hooks.example.com/").await["id"].as_str().unwrap().to_owned();
        create_url(app, "https://other.example.com/").await;
        let response = post(app, &format!("/webhooks/endpoints/{id}/test"), &app.api_key).send().await.unwrap();
        assert_eq!(response.status(), 202);
        let queued = response_json(response).await;
        let event_id = queued["event_id"].as_str().unwrap();
        assert!(event_id.starts_with("evt_") && event_id.len() == 36, "{event_id}");
        let rows = deliveries(app).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0].as_deref(), Some(id.as_str()));
        assert_eq!(rows[0][1].as_deref(), Some(event_id));
        assert_eq!(rows[0][2].as_deref(), Some("webhook.test"));
        assert_eq!(rows[0][3], None);
        assert_eq!(rows[0][5].as_deref(), Some("pending"));
        let payload: Value = serde_json::from_str(rows[0][4].as_deref().unwrap()).unwrap();
        assert_eq!(payload["id"], event_id);
        assert_eq!(payload["type"], "webhook.test");
        assert_eq!(payload["data"]["endpoint_id"], id);
        assert!(payload["data"]["message"].is_string());
        assert!(payload["timestamp"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().is_ok());
        // A disabled endpoint is sent nothing: the test is refused, nothing queued.
        app.client.patch(app.url(&format!("/webhooks/endpoints/{id}")))
            .bearer_auth(&app.api_key).json(&json!({"disabled": true})).send().await.unwrap();
        let refused = post(app, &format!("/webhooks/endpoints/{id}/test"), &app.api_key).send().await.unwrap();
        expect_error(refused, 409, "conflict").await;
        assert_eq!(deliveries(app).await.len(), 1);
        // Deleting the endpoint takes its deliveries with it.
        app.client.delete(app.url(&format!("/webhooks/endpoints/{id}"))).bearer_auth(&app.api_key).send().await.unwrap();
        assert_eq!(count(app, "webhook_deliveries").await, 0);
    }

    async fn a_redelivery_queues_the_events_the_endpoint_receives(app) [keyed()] {
        answer_creates(app).await;
        let (_, posted) = published(app, json!(["x"])).await;
        let (_, later) = scheduled(app, json!(["linkedin"])).await;
        // Created after the events: the trigger queued nothing for it.
        let id = create(app, json!({"url": "https://hooks.example.com/", "event_types": ["post.posted"]}))
            .await["id"].as_str().unwrap().to_owned();
        assert_eq!(count(app, "webhook_deliveries").await, 0);
        let events = texts(app, "select event_id from social_post_events order by seq").await;
        let kinds = texts(app, "select type from social_post_events order by seq").await;
        assert_eq!(kinds, [Some("post.posted".to_owned()), Some("post.scheduled".to_owned())], "{posted} {later}");
        let posted_event = events[0].clone().unwrap();
        let scheduled_event = events[1].clone().unwrap();

        let redeliver = |body: Value| post(app, &format!("/webhooks/endpoints/{id}/redeliver"), &app.api_key).json(&body).send();
        let response = redeliver(json!({"event_id": posted_event})).await.unwrap();
        assert_eq!(response.status(), 202);
        assert_eq!(response_json(response).await, json!({"queued": 1, "more": false}));
        let rows = deliveries(app).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0].as_deref(), Some(id.as_str()));
        assert_eq!(rows[0][1].as_deref(), Some(posted_event.as_str()));
        assert_eq!(rows[0][2].as_deref(), Some("post.posted"));
        assert!(rows[0][3].is_some() && rows[0][4].is_none(), "{rows:?}");
        // An event the endpoint does not receive (its types), or none at all: not found.
        expect_error(redeliver(json!({"event_id": scheduled_event})).await.unwrap(), 404, "not_found").await;
        expect_error(redeliver(json!({"event_id": "evt_00000000000000000000000000000000"})).await.unwrap(), 404, "not_found").await;
        // Since a time: every event it receives, again (a new delivery each time).
        let response = redeliver(json!({"since": "2000-01-01T00:00:00Z"})).await.unwrap();
        assert_eq!(response_json(response).await, json!({"queued": 1, "more": false}));
        let response = redeliver(json!({"since": "2999-01-01T00:00:00Z"})).await.unwrap();
        assert_eq!(response_json(response).await, json!({"queued": 0, "more": false}));
        let rows = deliveries(app).await;
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r[1].as_deref() == Some(posted_event.as_str()) && r[5].as_deref() == Some("pending")));
        // Every type once the filter is lifted: both events.
        app.client.patch(app.url(&format!("/webhooks/endpoints/{id}")))
            .bearer_auth(&app.api_key).json(&json!({"event_types": null})).send().await.unwrap();
        let response = redeliver(json!({"since": "2000-01-01T00:00:00Z"})).await.unwrap();
        assert_eq!(response_json(response).await, json!({"queued": 2, "more": false}));
        // An endpoint of another workspace receives none of the primary workspace's events.
        let other = app.store.create_workspace(app.organization_id, "team-b", None).await.unwrap().id;
        let theirs = create(app, json!({"url": "https://b.example.com/", "workspace_id": other}))
            .await["id"].as_str().unwrap().to_owned();
        let response = post(app, &format!("/webhooks/endpoints/{theirs}/redeliver"), &app.api_key)
            .json(&json!({"since": "2000-01-01T00:00:00Z"})).send().await.unwrap();
        assert_eq!(response_json(response).await, json!({"queued": 0, "more": false}));
        assert_eq!(count(app, "webhook_deliveries").await, 4);
    }

    async fn the_deliveries_log_is_paged_newest_first(app) [keyed()] {
        let id = create_url(app, "https://hooks.example.com/").await["id"].as_str().unwrap().to_owned();
        let empty = response_json(app.get(&format!("/webhooks/endpoints/{id}/deliveries")).send().await.unwrap()).await;
        assert_eq!(empty, json!({"deliveries": [], "next_cursor": null}));
        post(app, &format!("/webhooks/endpoints/{id}/test"), &app.api_key).send().await.unwrap();
        for (attempt, status) in [(1, "500"), (2, "null"), (3, "200")] {
            exec(app, &format!(
                "insert into webhook_attempts (delivery_id, endpoint_id, event_id, event_type, attempt, \
                 started_at, duration_ms, http_status, error, response_excerpt) \
                 select id, endpoint_id, event_id, event_type, {attempt}, '2026-12-02T10:00:0{attempt}Z', \
                 {attempt}0, {status}, case when {attempt} = 2 then 'connection refused' end, 'ok' \
                 from webhook_deliveries"
            )).await;
        }
        let first = response_json(app.get(&format!("/webhooks/endpoints/{id}/deliveries?limit=2")).send().await.unwrap()).await;
        let page = first["deliveries"].as_array().unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(page[0]["attempt"], 3);
        assert_eq!(page[0]["http_status"], 200);
        assert_eq!(page[0]["type"], "webhook.test");
        assert_eq!(page[0]["duration_ms"], 30);
        assert_eq!(page[0]["response_excerpt"], "ok");
        assert_eq!(page[1]["attempt"], 2);
        assert_eq!(page[1]["http_status"], Value::Null);
        assert_eq!(page[1]["error"], "connection refused");
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = response_json(app.get(&format!("/webhooks/endpoints/{id}/deliveries?limit=2&after={cursor}"))
            .send().await.unwrap()).await;
        assert_eq!(second["deliveries"].as_array().unwrap().len(), 1);
        assert_eq!(second["deliveries"][0]["attempt"], 1);
        assert_eq!(second["deliveries"][0]["http_status"], 500);
        assert_eq!(second["next_cursor"], Value::Null);
        expect_error(app.get(&format!("/webhooks/endpoints/{id}/deliveries?after=x")).send().await.unwrap(),
            400, "validation_error").await;
    }
}
