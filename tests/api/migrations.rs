//! Migrations applied to a database that already holds records: `20261128000002_deleted_status`
//! widens the `tracked_status` check (on SQLite by rebuilding the table), and must keep every row,
//! index and foreign key.

use std::path::Path;

use mosaic_social::domain::{Outcome, TrackedStatus, Transition, Verdict};
use mosaic_social::store::{self, DynStore, NewTracking, TrackingRecord};
use serde_json::json;
use sqlx::Connection;
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::support::{Backend, Database, create_key};

/// The first migration, the schema before `deleted` existed.
const INITIAL: i64 = 20261128000001;

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

/// One record in each state the first schema allows.
async fn records_in_every_old_state(store: &DynStore) -> Vec<TrackingRecord> {
    let (_, organization_id) = create_key(store, "acme").await;
    let workspace = store
        .find_workspace(organization_id, None)
        .await
        .unwrap()
        .unwrap();
    let key = store.list_api_keys(organization_id).await.unwrap()[0].id;
    let mut records = Vec::new();
    for status in TrackedStatus::ALL {
        if status == TrackedStatus::Deleted {
            continue;
        }
        let record = store
            .insert_tracking(&NewTracking {
                id: Uuid::new_v4(),
                organization_id,
                workspace_id: workspace.id,
                api_key_id: key,
                post: format!("a {status} post ✓"),
                platforms: vec!["x".into(), "linkedin".into()],
                media_urls: vec!["https://cdn.example.com/a.png".into()],
                schedule_date: None,
                extra: json!({"notes": status.as_str()}),
            })
            .await
            .unwrap();
        let record = match status {
            TrackedStatus::Pending => record,
            TrackedStatus::Cancelled => {
                let scheduled = outcome(TrackedStatus::Scheduled);
                store
                    .record_outcome(record.id, Transition::CreateOutcome, &scheduled)
                    .await
                    .unwrap();
                store
                    .record_outcome(record.id, Transition::Cancel, &outcome(status))
                    .await
                    .unwrap()
            }
            _ => store
                .record_outcome(record.id, Transition::CreateOutcome, &outcome(status))
                .await
                .unwrap(),
        };
        assert_eq!(record.tracked_status, status);
        records.push(record);
    }
    records
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
    let store = store::connect(database.url(), 2).await.unwrap();
    migrate_up_to(backend, &database, INITIAL).await;
    let before = records_in_every_old_state(&store).await;
    let schema_before = schema(backend, &database).await;
    assert_eq!(
        schema_before.len(),
        if backend == Backend::Sqlite { 7 } else { 8 },
        "{schema_before:#?}"
    );
    // The old check refuses `deleted`.
    assert!(!force_status(backend, &database, before[2].id, "deleted").await);

    store.migrate().await.unwrap();

    // Every row reads back exactly as it was.
    for record in &before {
        let after = store
            .find_tracking(record.organization_id, record.id)
            .await
            .unwrap();
        assert_eq!(after.as_ref(), Some(record));
    }
    assert_eq!(schema(backend, &database).await, schema_before);
    // `deleted` is accepted, through the state machine and directly; anything else is not.
    let posted = &before[2];
    assert_eq!(posted.tracked_status, TrackedStatus::Posted);
    let deleted = store
        .record_outcome(
            posted.id,
            Transition::Delete,
            &outcome(TrackedStatus::Deleted),
        )
        .await
        .unwrap();
    assert_eq!(deleted.tracked_status, TrackedStatus::Deleted);
    assert!(!force_status(backend, &database, posted.id, "gone").await);
    // Foreign keys still hold: a record of an organization that does not exist is refused.
    let orphan = NewTracking {
        id: Uuid::new_v4(),
        organization_id: Uuid::new_v4(),
        ..NewTracking {
            id: posted.id,
            organization_id: posted.organization_id,
            workspace_id: posted.workspace_id,
            api_key_id: posted.api_key_id,
            post: "orphan".into(),
            platforms: vec!["x".into()],
            media_urls: Vec::new(),
            schedule_date: None,
            extra: json!({}),
        }
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
