//! Migrations applied to a database that already holds records: `20261128000002_deleted_status`
//! widens the `tracked_status` check (on SQLite by rebuilding the table), and must keep every row,
//! index and foreign key.

use std::path::Path;

use mosaic_social::domain::{Outcome, TrackedStatus, Transition, Verdict};
use mosaic_social::store::{self, NewTracking, PoolSettings, Readiness};
use serde_json::json;
use sqlx::Connection;
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::support::{Backend, Database, create_key};

/// The first migration, the schema before `deleted` existed.
const INITIAL: i64 = 20261128000001;
/// The migration under test.
const DELETED_STATUS: i64 = 20261128000002;

/// Applies the backend's migrations up to and including `last`.
async fn migrate_up_to(backend: Backend, database: &Database, last: i64) {
    let dir = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    let mut migrator = Migrator::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .await
        .unwrap();
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= last)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(database.url())
                .await
                .unwrap();
            migrator.run(&mut conn).await.unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(database.url()).await.unwrap();
            migrator.run(&mut conn).await.unwrap();
        }
    }
}

/// An outcome that moves a record to `status`.
fn outcome(status: TrackedStatus) -> Outcome {
    Outcome {
        tracked_status: Some(status),
        open: None,
        provider_post_id: Some(format!("P-{status}")),
        provider_status: Some("success".into()),
        results: Vec::new(),
        error: Some(json!({"message": format!("was {status}")})),
        provider_response: Some(json!({"status": "success", "nested": [1, "two"]})),
        verdict: Verdict::Accepted,
    }
}

/// Runs one statement on the test database, whichever backend it is.
async fn execute(backend: Backend, database: &Database, sql: &str) {
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(database.url())
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(database.url()).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }
}

/// One record in each state the first schema allows, written with the first schema's columns
/// (the store of today writes columns that later migrations add).
async fn records_in_every_old_state(backend: Backend, database: &Database) -> Vec<Uuid> {
    // The organization, its workspace and key too: the store of today reads key columns that
    // later migrations add.
    let (organization_id, workspace_id, key) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for statement in [
        format!(
            "insert into organizations (id, name, created_at) \
             values ('{organization_id}', 'acme', '2026-11-28 09:00:00+00:00')"
        ),
        format!(
            "insert into workspaces (id, organization_id, name, is_primary, created_at) \
             values ('{workspace_id}', '{organization_id}', 'primary', true, \
                     '2026-11-28 09:00:00+00:00')"
        ),
        format!(
            "insert into api_keys (id, organization_id, key_hash, prefix, label, created_at) \
             values ('{key}', '{organization_id}', 'hash-{key}', 'mk_oldkey00', 'old', \
                     '2026-11-28 09:00:00+00:00')"
        ),
    ] {
        execute(backend, database, &statement).await;
    }
    let mut ids = Vec::new();
    for status in TrackedStatus::ALL {
        if matches!(status, TrackedStatus::Deleted) {
            continue;
        }
        let id = Uuid::new_v4();
        let (platforms, media) = match backend {
            Backend::Sqlite => (
                "'[\"x\",\"linkedin\"]'",
                "'[\"https://cdn.example.com/a.png\"]'",
            ),
            Backend::Postgres => (
                "array['x','linkedin']",
                "array['https://cdn.example.com/a.png']",
            ),
        };
        execute(backend, database, &format!(
            "insert into scheduled_social_posts_v2 (id, organization_id, workspace_id, api_key_id, \
                 post, platforms, media_urls, extra, provider_post_id, provider_status, \
                 tracked_status, results, error, provider_response, created_at, updated_at) \
             values ('{id}', '{organization_id}', '{}', '{key}', 'a {status} post ✓', {platforms}, \
                 {media}, '{{\"notes\": \"{status}\"}}', 'P-{status}', 'success', '{status}', \
                 '[]', '{{\"message\": \"was {status}\"}}', \
                 '{{\"status\": \"success\", \"nested\": [1, \"two\"]}}', \
                 '2026-11-28 10:00:00+00:00', '2026-11-28 10:00:00+00:00')",
            workspace_id
        )).await;
        ids.push(id);
    }
    ids
}

/// Every row of the table, each column as text, in id order.
async fn rows(backend: Backend, database: &Database) -> Vec<String> {
    let columns = "id, organization_id, workspace_id, api_key_id, post, platforms, media_urls, \
        schedule_date, extra, provider_post_id, provider_status, tracked_status, results, error, \
        provider_response, created_at, updated_at";
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(database.url())
                .await
                .unwrap();
            sqlx::query_scalar(&format!(
                "select json_array({columns}) from scheduled_social_posts_v2 order by id"
            ))
            .fetch_all(&mut conn)
            .await
            .unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(database.url()).await.unwrap();
            sqlx::query_scalar(&format!(
                "select row({columns})::text from scheduled_social_posts_v2 order by id"
            ))
            .fetch_all(&mut conn)
            .await
            .unwrap()
        }
    }
}

/// The table's indexes and foreign keys as the database describes them.
async fn schema(backend: Backend, database: &Database) -> Vec<String> {
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(database.url())
                .await
                .unwrap();
            let mut schema: Vec<String> = sqlx::query_scalar(
                "select name || ': ' || coalesce(sql, '') from sqlite_master \
                 where type = 'index' and tbl_name = 'scheduled_social_posts_v2' order by name",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            let keys: Vec<(String, String, String)> = sqlx::query_as(
                "select \"table\", \"from\", \"to\" from pragma_foreign_key_list('scheduled_social_posts_v2') \
                 order by \"from\"",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            schema.extend(keys.into_iter().map(|k| format!("{k:?}")));
            schema
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(database.url()).await.unwrap();
            let mut schema: Vec<String> = sqlx::query_scalar(
                "select indexdef from pg_indexes where tablename = 'scheduled_social_posts_v2' \
                 order by indexname",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            let constraints: Vec<String> = sqlx::query_scalar(
                "select conname || ': ' || pg_get_constraintdef(oid) from pg_constraint \
                 where conrelid = 'scheduled_social_posts_v2'::regclass and contype <> 'c' \
                 order by conname",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            schema.extend(constraints);
            schema
        }
    }
}

/// Sets a record's status behind the store's back, as a buggy writer would.
async fn force_status(backend: Backend, database: &Database, id: Uuid, status: &str) -> bool {
    let sql = "update scheduled_social_posts_v2 set tracked_status = $1 where id = $2";
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(database.url())
                .await
                .unwrap();
            sqlx::query(sql)
                .bind(status)
                .bind(id.hyphenated().to_string())
                .execute(&mut conn)
                .await
                .is_ok()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(database.url()).await.unwrap();
            sqlx::query(sql)
                .bind(status)
                .bind(id)
                .execute(&mut conn)
                .await
                .is_ok()
        }
    }
}

async fn the_deleted_status_migration_keeps_rows_indexes_and_foreign_keys(backend: Backend) {
    let Some(database) = Database::create(backend).await else {
        return;
    };
    // Connecting creates the SQLite file.
    let store = store::connect(database.url(), PoolSettings::default(), Default::default())
        .await
        .unwrap();
    migrate_up_to(backend, &database, INITIAL).await;
    let ids = records_in_every_old_state(backend, &database).await;
    let rows_before = rows(backend, &database).await;
    assert_eq!(rows_before.len(), ids.len());
    let schema_before = schema(backend, &database).await;
    assert_eq!(
        schema_before.len(),
        if backend == Backend::Sqlite { 7 } else { 8 },
        "{schema_before:#?}"
    );
    // The old check refuses `deleted`.
    assert!(!force_status(backend, &database, ids[2], "deleted").await);

    migrate_up_to(backend, &database, DELETED_STATUS).await;

    // Every row reads back exactly as it was, and so do the indexes and foreign keys.
    assert_eq!(rows(backend, &database).await, rows_before);
    assert_eq!(schema(backend, &database).await, schema_before);

    // The later migrations, and the store of today on top.
    store.migrate().await.unwrap();
    let (_, organization_id) = create_key(&store, "acme").await;
    let posted = store
        .find_tracking(organization_id, ids[2])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(posted.tracked_status, TrackedStatus::Posted);
    assert_eq!(posted.post, "a posted post ✓");
    assert_eq!(
        posted.media_urls,
        vec!["https://cdn.example.com/a.png".to_owned()]
    );
    // `deleted` is accepted, through the state machine and directly; anything else is not.
    let deleted = store
        .record_outcome(
            posted.id,
            Transition::Delete,
            &outcome(TrackedStatus::Deleted),
            None,
        )
        .await
        .unwrap();
    assert_eq!(deleted.tracked_status, TrackedStatus::Deleted);
    assert!(!force_status(backend, &database, posted.id, "gone").await);
    // Foreign keys still hold: a record of an organization that does not exist is refused.
    let orphan = NewTracking {
        id: Uuid::new_v4(),
        organization_id: Uuid::new_v4(),
        workspace_id: posted.workspace_id,
        api_key_id: posted.api_key_id,
        post: "orphan".into(),
        platforms: vec!["x".into()],
        media_urls: Vec::new(),
        schedule_date: None,
        extra: json!({}),
        idempotency_key: None,
        request_fingerprint: None,
        ayrshare_idempotency_key: None,
        timezone: None,
    };
    assert!(store.insert_tracking(&orphan).await.is_err());
    if backend == Backend::Sqlite {
        let mut conn = sqlx::SqliteConnection::connect(database.url())
            .await
            .unwrap();
        let problems: Vec<String> =
            sqlx::query_scalar("select \"table\" from pragma_foreign_key_check")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let integrity: String = sqlx::query_scalar("pragma integrity_check")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(integrity, "ok");
    }
}

mod the_deleted_status_migration_keeps_rows_indexes_and_foreign_keys {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        the_deleted_status_migration_keeps_rows_indexes_and_foreign_keys(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        the_deleted_status_migration_keeps_rows_indexes_and_foreign_keys(Backend::Postgres).await;
    }
}

/// `Store::readiness` (behind `GET /readyz`) names the migrations a database still lacks.
async fn readiness_names_the_migrations_still_missing(backend: Backend) {
    let Some(database) = Database::create(backend).await else {
        return;
    };
    let store = store::connect(database.url(), PoolSettings::default(), Default::default())
        .await
        .unwrap();
    let Readiness::MissingMigrations(all) = store.readiness().await.unwrap() else {
        panic!("an empty database is not ready");
    };
    assert!(
        all.contains(&INITIAL) && all.contains(&DELETED_STATUS),
        "{all:?}"
    );

    migrate_up_to(backend, &database, INITIAL).await;
    let Readiness::MissingMigrations(rest) = store.readiness().await.unwrap() else {
        panic!("a partly migrated database is not ready");
    };
    assert!(!rest.contains(&INITIAL), "{rest:?}");
    assert!(rest.contains(&DELETED_STATUS), "{rest:?}");

    store.migrate().await.unwrap();
    assert_eq!(store.readiness().await.unwrap(), Readiness::Ready);
}

mod readiness_names_the_migrations_still_missing {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        readiness_names_the_migrations_still_missing(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        readiness_names_the_migrations_still_missing(Backend::Postgres).await;
    }
}
