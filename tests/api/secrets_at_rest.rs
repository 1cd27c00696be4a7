//! Secrets at rest (issue 18, item 4): profile keys never reach the database in clear, the
//! plain keys of older databases are sealed at startup (by replicas starting at once too),
//! `secrets rotate` re-seals everything under a new key and the service then runs on it alone,
//! and without `SECRETS_KEY` a database holding sealed secrets refuses to start.

use secrecy::ExposeSecret;
use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use mosaic_social::app::{App, Mode};
use mosaic_social::secrets::Keyring;
use mosaic_social::secrets_upkeep;
use mosaic_social::store::Caller;

use crate::backend_tests;
use crate::support::{Database, TEST_SECRETS_KEY, TestApp};

/// The key a rotation moves to.
const NEW_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Runs one statement straight on the test database; the rows it changed.
async fn execute(app: &TestApp, sql: &str) -> u64 {
    match &app.database {
        Database::Sqlite { url, .. } => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        }
        Database::Postgres { url, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        }
    }
}

/// The stored value of a workspace's profile key column, as the table holds it.
async fn stored_profile_key(app: &TestApp, id: Uuid) -> Option<String> {
    let sql = format!("select ayrshare_profile_key from workspaces where id = '{id}'");
    match &app.database {
        Database::Sqlite { url, .. } => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap()
        }
        Database::Postgres { url, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap()
        }
    }
}

fn keyring(current: &str, previous: Option<&str>) -> Keyring {
    Keyring::from_base64(current, previous).unwrap()
}

async fn caller(app: &TestApp) -> Caller {
    let keys = app.store.list_api_keys(app.organization_id).await.unwrap();
    Caller {
        organization_id: app.organization_id,
        api_key_id: keys[0].id,
    }
}

backend_tests! {
    async fn a_profile_key_never_reaches_the_database_in_clear(app) {
        let workspace = app.store
            .create_workspace(app.organization_id, "brand", Some("PK-NEVER-IN-CLEAR-7731"))
            .await.unwrap();
        assert_eq!(workspace.ayrshare_profile_key.as_ref().unwrap().expose_secret(),
                   "PK-NEVER-IN-CLEAR-7731");
        let stored = stored_profile_key(app, workspace.id).await.unwrap();
        assert!(stored.starts_with("enc:v1:"), "{stored}");
        let dump = app.dump_database().await;
        assert!(!dump.contains("PK-NEVER-IN-CLEAR-7731"), "the key is in the dump");
        assert!(dump.contains(&stored), "the dump holds the envelope");
        // Read back through the store, opened.
        let read = app.store.find_workspace(app.organization_id, Some(workspace.id))
            .await.unwrap().unwrap();
        assert_eq!(read.ayrshare_profile_key.unwrap().expose_secret(), "PK-NEVER-IN-CLEAR-7731");
    }

    async fn an_envelope_moved_to_another_workspace_does_not_open(app) {
        let a = app.store.create_workspace(app.organization_id, "a", Some("PK-A")).await.unwrap();
        let b = app.store.create_workspace(app.organization_id, "b", Some("PK-B")).await.unwrap();
        let sealed_a = stored_profile_key(app, a.id).await.unwrap();
        execute(app, &format!("update workspaces set ayrshare_profile_key = '{sealed_a}' \
                               where id = '{}'", b.id)).await;
        let error = app.store.find_workspace(app.organization_id, Some(b.id)).await.unwrap_err();
        assert!(error.to_string().contains("does not decrypt"), "{error}");
        assert!(!error.to_string().contains("PK-A"), "{error}");
    }

    async fn plain_profile_keys_are_sealed_at_startup_once_by_replicas_starting_together(app) {
        // As an older version left them: in clear.
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        for (i, id) in ids.iter().enumerate() {
            execute(app, &format!(
                "insert into workspaces (id, organization_id, name, is_primary, \
                 ayrshare_profile_key, created_at) values ('{id}', '{}', 'old-{i}', false, \
                 'PK-PLAIN-{i}', '2026-01-01T00:00:00Z')",
                app.organization_id)).await;
        }
        assert!(app.dump_database().await.contains("PK-PLAIN-0"));
        // Two replicas start at once on the same database.
        let (one, two) = tokio::join!(App::build(&app.config, Mode::Ayrshare),
                                      App::build(&app.config, Mode::Ayrshare));
        one.unwrap();
        two.unwrap();
        for (i, id) in ids.iter().enumerate() {
            let stored = stored_profile_key(app, *id).await.unwrap();
            assert!(stored.starts_with("enc:v1:"), "{stored}");
            let workspace = app.store.find_workspace(app.organization_id, Some(*id))
                .await.unwrap().unwrap();
            assert_eq!(workspace.ayrshare_profile_key.unwrap().expose_secret(),
                       format!("PK-PLAIN-{i}"));
        }
        let dump = app.dump_database().await;
        assert!(!dump.contains("PK-PLAIN-"), "a plain key is left in the dump");
        // Again: nothing left to do.
        let report = secrets_upkeep::at_startup(&app.store, Some(&keyring(TEST_SECRETS_KEY, None)))
            .await.unwrap();
        assert_eq!(report.sealed, 0);
    }

    async fn after_a_rotation_the_service_runs_on_the_new_key_alone(app) {
        Mock::given(method("POST")).and(path("/api/post"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "status": "success", "errors": [], "id": "POST-1",
                "postIds": [{"status": "success", "id": "1", "platform": "linkedin"}]})))
            .mount(&app.ayrshare).await;
        let workspace = app.store
            .create_workspace(app.organization_id, "brand", Some("PK-ROTATED-42"))
            .await.unwrap();
        let endpoint = app.client.post(format!("{}/webhooks/endpoints", app.address))
            .bearer_auth(&app.api_key)
            .json(&json!({"url": "https://hooks.example.com/mosaic"}))
            .send().await.unwrap();
        assert_eq!(endpoint.status(), 201);
        let old_envelope = stored_profile_key(app, workspace.id).await.unwrap();

        // The rotation: the new key current, the old one previous.
        let mut rotating = app.config.clone();
        rotating.secrets_key = Some(keyring(NEW_KEY, Some(TEST_SECRETS_KEY)));
        let store = mosaic_social::app::open_store(&rotating).await.unwrap();
        let report = secrets_upkeep::rotate(&store, rotating.secrets_key.as_ref().unwrap())
            .await.unwrap();
        assert_eq!(report.sealed, 2, "{report:?}");
        assert!(report.failed.is_empty(), "{report:?}");
        let again = secrets_upkeep::rotate(&store, rotating.secrets_key.as_ref().unwrap())
            .await.unwrap();
        assert_eq!((again.sealed, again.unchanged), (0, 2), "{again:?}");
        let new_envelope = stored_profile_key(app, workspace.id).await.unwrap();
        assert_ne!(new_envelope, old_envelope);
        assert!(!app.dump_database().await.contains("PK-ROTATED-42"));

        // A restart with only the new key: the profile key is still usable.
        let mut renewed = app.config.clone();
        renewed.secrets_key = Some(keyring(NEW_KEY, None));
        let restarted = App::build(&renewed, Mode::Ayrshare).await.unwrap();
        let answer = restarted.publisher()
            .create(caller(app).await,
                    json!({"post": "after the rotation", "platforms": ["linkedin"],
                           "workspace_id": workspace.id.to_string()}), None)
            .await.unwrap();
        assert!(answer.result.is_ok(), "{:?}", answer.result);
        let requests = app.ayrshare.received_requests().await.unwrap();
        let post = requests.iter().find(|r| r.url.path() == "/api/post").unwrap();
        assert_eq!(post.headers.get("profile-key").unwrap().to_str().unwrap(), "PK-ROTATED-42");

        // The old key alone no longer opens it.
        let mut stale = app.config.clone();
        stale.secrets_key = Some(keyring(TEST_SECRETS_KEY, None));
        let old = App::build(&stale, Mode::Ayrshare).await.unwrap();
        let error = old.store().find_workspace(app.organization_id, Some(workspace.id))
            .await.unwrap_err();
        assert!(error.to_string().contains("neither the current nor the previous key"), "{error}");
    }

    async fn without_a_secrets_key_a_database_with_sealed_secrets_refuses_to_start(app) {
        app.store.create_workspace(app.organization_id, "brand", Some("PK-SEALED")).await.unwrap();
        let mut keyless = app.config.clone();
        keyless.secrets_key = None;
        let error = App::build(&keyless, Mode::Ayrshare).await.err().expect("refused").to_string();
        assert!(!error.contains('\n'), "{error}");
        assert!(error.starts_with("SECRETS_KEY is not set"), "{error}");
        assert!(error.contains("workspaces.ayrshare_profile_key"), "{error}");
    }

    async fn without_a_secrets_key_plain_profile_keys_keep_working_until_one_is_set(app) {
        execute(app, &format!("update workspaces set ayrshare_profile_key = 'PK-STILL-PLAIN' \
                               where id = '{}'", app.primary_workspace_id)).await;
        let mut keyless = app.config.clone();
        keyless.secrets_key = None;
        let built = App::build(&keyless, Mode::Ayrshare).await.unwrap();
        let workspace = built.store().find_workspace(app.organization_id, None).await.unwrap().unwrap();
        assert_eq!(workspace.ayrshare_profile_key.unwrap().expose_secret(), "PK-STILL-PLAIN");
        assert_eq!(stored_profile_key(app, app.primary_workspace_id).await.unwrap(), "PK-STILL-PLAIN");
        // A new key needs SECRETS_KEY, though: it is never stored in clear.
        let error = built.store().create_workspace(app.organization_id, "new", Some("PK-NEW"))
            .await.unwrap_err();
        assert!(error.to_string().contains("SECRETS_KEY is not set"), "{error}");
    }
}
