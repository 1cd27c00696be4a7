//! Group commit on Postgres: writes that queue while a batch is in flight share the next one;
//! each still gets its own answer, and one bad write fails alone. Postgres only (SQLite writes
//! one at a time). A transaction the test holds open keeps the one batch slot busy (a pool of 4
//! allows one batch of each kind at a time), so that what follows queues up as one batch.
//! The pools of the last tests are larger: a pool of at least 8 keeps the connections of lone
//! writes between them (`store/postgres/held.rs`).

use std::time::Duration;

use mosaic_social::domain::{ApiKeySecret, Outcome, TrackedStatus, Transition, Verdict};
use mosaic_social::store::{self, DynStore, Inserted, NewTracking, PoolSettings};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::support::{Backend, Database, create_key};

struct Setup {
    database: Database,
    store: DynStore,
    organization_id: Uuid,
    workspace_id: Uuid,
    api_key_id: Uuid,
}

async fn setup() -> Option<Setup> {
    setup_with_pool(4).await
}

/// A store of its own on a fresh database, with a pool of `max_connections`.
async fn setup_with_pool(max_connections: u32) -> Option<Setup> {
    let database = Database::create(Backend::Postgres).await?;
    let pool = PoolSettings {
        max_connections,
        acquire_timeout: Duration::from_secs(10),
        ..PoolSettings::default()
    };
    let store = store::connect(database.url(), pool, Default::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let (key, organization_id) = create_key(&store, "acme").await;
    let caller = store
        .authenticate(&ApiKeySecret::from_presented(&key).hash())
        .await
        .unwrap()
        .unwrap();
    let workspace = store
        .find_workspace(organization_id, None)
        .await
        .unwrap()
        .unwrap();
    Some(Setup {
        database,
        store,
        organization_id,
        workspace_id: workspace.id,
        api_key_id: caller.api_key_id,
    })
}

impl Setup {
    fn record(&self, text: &str, key: Option<&str>) -> NewTracking {
        NewTracking {
            id: Uuid::new_v4(),
            organization_id: self.organization_id,
            workspace_id: self.workspace_id,
            api_key_id: self.api_key_id,
            post: text.into(),
            platforms: vec!["x".into()],
            media_urls: Vec::new(),
            schedule_date: None,
            extra: json!({}),
            idempotency_key: key.map(str::to_owned),
            request_fingerprint: key.map(|_| "f".to_owned()),
            ayrshare_idempotency_key: None,
            timezone: None,
        }
    }

    fn insert(
        &self,
        record: NewTracking,
    ) -> tokio::task::JoinHandle<(Uuid, Result<Inserted, String>)> {
        let store = self.store.clone();
        tokio::spawn(async move {
            let answer = store.insert_tracking(&record).await;
            (
                record.id,
                answer.map_err(|e| format!("{e} unavailable={}", e.is_unavailable())),
            )
        })
    }

    /// Writes `n` pending records, one at a time; their ids.
    async fn pending_records(&self, n: usize) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for i in 0..n {
            let record = self.record(&format!("r{i}"), None);
            match self.store.insert_tracking(&record).await.unwrap() {
                Inserted::New(record) => ids.push(record.id),
                other => panic!("{other:?}"),
            }
        }
        ids
    }

    /// Locks the record in a transaction the test holds open: its next update waits for it.
    async fn lock_record(&self, id: Uuid) -> PgConnection {
        let mut locker = self.connection().await;
        sqlx::query("begin").execute(&mut locker).await.unwrap();
        sqlx::query("select 1 from scheduled_social_posts_v2 where id = $1 for update")
            .bind(id)
            .execute(&mut locker)
            .await
            .unwrap();
        locker
    }

    async fn connection(&self) -> PgConnection {
        PgConnection::connect(self.database.url()).await.unwrap()
    }

    async fn count(&self) -> i64 {
        sqlx::query_scalar("select count(*) from scheduled_social_posts_v2")
            .fetch_one(&mut self.connection().await)
            .await
            .unwrap()
    }

    /// Waits until some statement of the store waits on a lock the test holds.
    async fn until_blocked(&self) {
        let mut conn = self.connection().await;
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let waiting: i64 = sqlx::query_scalar(
                    "select count(*) from pg_stat_activity \
                     where datname = current_database() and wait_event_type = 'Lock'",
                )
                .fetch_one(&mut conn)
                .await
                .unwrap();
                if waiting > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the store's write waits on the test's lock");
    }
}

fn posted(n: usize) -> Outcome {
    Outcome {
        tracked_status: Some(TrackedStatus::Posted),
        open: None,
        provider_post_id: Some(format!("P-{n}")),
        provider_status: Some("success".into()),
        results: Vec::new(),
        error: None,
        provider_response: Some(json!({"status": "success", "id": format!("P-{n}")})),
        verdict: Verdict::Accepted,
    }
}

/// Holds the claim `key` in an open transaction: an insert claiming it waits until the end.
async fn hold_claim(setup: &Setup, conn: &mut PgConnection, key: &str) {
    sqlx::query("begin").execute(&mut *conn).await.unwrap();
    sqlx::query(
        "insert into scheduled_social_posts_v2 (id, organization_id, workspace_id, api_key_id, \
         post, platforms, tracked_status, idempotency_key, idempotency_claim) \
         values ($1, $2, $3, $4, 'held', '{x}', 'pending', $5, $5)",
    )
    .bind(Uuid::new_v4())
    .bind(setup.organization_id)
    .bind(setup.workspace_id)
    .bind(setup.api_key_id)
    .bind(key)
    .execute(&mut *conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_bad_write_in_a_batch_fails_alone_and_every_other_gets_its_own_record() {
    let Some(setup) = setup().await else {
        return;
    };
    let mut holder = setup.connection().await;
    hold_claim(&setup, &mut holder, "busy").await;
    let first = setup.insert(setup.record("first", Some("busy")));
    setup.until_blocked().await;

    // These queue behind it, as one batch; the orphan (no such organization) spoils it.
    let mut orphan = setup.record("orphan", None);
    orphan.organization_id = Uuid::new_v4();
    let orphan = setup.insert(orphan);
    let good: Vec<_> = (0..5)
        .map(|n| setup.insert(setup.record(&format!("good {n}"), None)))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query("rollback").execute(&mut holder).await.unwrap();

    let (id, answer) = first.await.unwrap();
    match answer.unwrap() {
        Inserted::New(record) => assert_eq!(record.id, id),
        other => panic!("{other:?}"),
    }
    for task in good {
        let (id, answer) = task.await.unwrap();
        match answer.unwrap() {
            Inserted::New(record) => {
                assert_eq!(record.id, id);
                assert_eq!(record.tracked_status, TrackedStatus::Pending);
            }
            other => panic!("{other:?}"),
        }
    }
    let (_, refused) = orphan.await.unwrap();
    let error = refused.unwrap_err();
    assert!(error.contains("unavailable=false"), "{error}");
    assert_eq!(setup.count().await, 6);
}

#[tokio::test]
async fn one_key_claimed_by_a_whole_batch_has_one_holder() {
    let Some(setup) = setup().await else {
        return;
    };
    let mut holder = setup.connection().await;
    hold_claim(&setup, &mut holder, "busy").await;
    let first = setup.insert(setup.record("first", Some("busy")));
    setup.until_blocked().await;
    let same: Vec<_> = (0..5)
        .map(|n| setup.insert(setup.record(&format!("same {n}"), Some("k"))))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query("rollback").execute(&mut holder).await.unwrap();
    assert!(matches!(first.await.unwrap().1, Ok(Inserted::New(_))));

    let mut new = Vec::new();
    let mut claimed = Vec::new();
    for task in same {
        let (id, answer) = task.await.unwrap();
        match answer.unwrap() {
            Inserted::New(record) => {
                assert_eq!(record.id, id);
                new.push(record.id);
            }
            Inserted::Claimed(holder) => claimed.push(holder.id),
        }
    }
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(claimed, vec![new[0]; 4]);
    assert_eq!(setup.count().await, 2);
}

#[tokio::test]
async fn outcomes_recorded_together_each_land_on_their_own_record() {
    let Some(setup) = setup().await else {
        return;
    };
    let ids = setup.pending_records(6).await;
    // The last one is already posted: its outcome's move is not allowed, and it says so.
    setup
        .store
        .record_outcome(ids[5], Transition::CreateOutcome, &posted(99), None)
        .await
        .unwrap();

    // Lock the first record, so that its update holds the one batch slot.
    let mut locker = setup.lock_record(ids[0]).await;
    let update = |n: usize| {
        let store = setup.store.clone();
        let id = ids[n];
        tokio::spawn(async move {
            store
                .record_outcome(id, Transition::CreateOutcome, &posted(n), None)
                .await
        })
    };
    let first = update(0);
    setup.until_blocked().await;
    let rest: Vec<_> = (1..6).map(update).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query("commit").execute(&mut locker).await.unwrap();

    let record = first.await.unwrap().unwrap();
    assert_eq!(record.provider_post_id.as_deref(), Some("P-0"));
    for (n, task) in (1..6).zip(rest) {
        let record = task.await.unwrap().unwrap();
        assert_eq!(record.id, ids[n]);
        assert_eq!(record.tracked_status, TrackedStatus::Posted);
        let expected = if n == 5 {
            "P-99".to_owned()
        } else {
            format!("P-{n}")
        };
        assert_eq!(record.provider_post_id, Some(expected));
    }
}

/// Every column a lone insert writes, a set-based batch writes the same, from the same record.
#[tokio::test]
async fn a_batch_writes_every_column_as_a_lone_write_does() {
    let Some(setup) = setup().await else {
        return;
    };
    let full = |n: usize| NewTracking {
        platforms: vec!["x".into(), "linkedin".into()],
        media_urls: vec![
            format!("https://example.com/a,{n}.png"),
            "https://e.com/b".into(),
        ],
        schedule_date: Some("2027-01-02T03:04:05Z".parse().unwrap()),
        extra: json!({"shortenLinks": true, "nested": {"n": n, "big": 12345678901234567890u64}}),
        ayrshare_idempotency_key: Some(format!("ayr-{n}")),
        timezone: Some("Europe/Paris".into()),
        ..setup.record(
            &format!("text \"{n}\" ünï \\ \n"),
            Some(&format!("key-{n}")),
        )
    };
    let lone = match setup.store.insert_tracking(&full(0)).await.unwrap() {
        Inserted::New(record) => record,
        other => panic!("{other:?}"),
    };

    let mut holder = setup.connection().await;
    hold_claim(&setup, &mut holder, "busy").await;
    let first = setup.insert(setup.record("first", Some("busy")));
    setup.until_blocked().await;
    let batch: Vec<_> = (1..4).map(|n| setup.insert(full(n))).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query("rollback").execute(&mut holder).await.unwrap();
    assert!(matches!(first.await.unwrap().1, Ok(Inserted::New(_))));

    for (n, task) in (1..4).zip(batch) {
        let (id, answer) = task.await.unwrap();
        let Ok(Inserted::New(record)) = answer else {
            panic!("{answer:?}");
        };
        assert_eq!(record.id, id);
        let stored = setup
            .store
            .find_tracking(setup.organization_id, id)
            .await
            .unwrap();
        assert_eq!(stored.as_ref(), Some(&record));
        let expected = full(n);
        assert_eq!(record.post, expected.post);
        assert_eq!(record.media_urls, expected.media_urls);
        assert_eq!(record.extra, expected.extra);
        assert_eq!(record.idempotency_key, expected.idempotency_key);
        assert_eq!(
            record.ayrshare_idempotency_key,
            expected.ayrshare_idempotency_key
        );
        // Apart from what differs by design, the same as the lone write of the same record.
        let same = |r: &mosaic_social::store::TrackingRecord| {
            (
                r.platforms.clone(),
                r.schedule_date,
                r.tracked_status,
                r.timezone.clone(),
                r.request_fingerprint.clone(),
                r.workspace_id,
                r.api_key_id,
            )
        };
        assert_eq!(same(&record), same(&lone));
    }
}

/// Outcomes for one record in one batch apply in the order they came, each seeing the one
/// before (the second here refused by the state machine, the third allowed after the first).
#[tokio::test]
async fn two_outcomes_for_one_record_in_one_batch_apply_in_order() {
    let Some(setup) = setup().await else {
        return;
    };
    let ids = setup.pending_records(3).await;
    let mut locker = setup.lock_record(ids[0]).await;
    let update = |id: Uuid, transition: Transition, outcome: Outcome, answer: Option<&str>| {
        let store = setup.store.clone();
        let answer = answer.map(|a| {
            let value: serde_json::Value = serde_json::from_str(a).unwrap();
            mosaic_social::store::StoredAnswerJson::of(&value).unwrap()
        });
        tokio::spawn(async move {
            store
                .record_outcome(id, transition, &outcome, answer.as_ref())
                .await
        })
    };
    let create = Transition::CreateOutcome;
    let blocked = update(ids[0], create, posted(0), None);
    setup.until_blocked().await;
    // Queued behind it, in this order, as one batch: three writes for ids[1] among others.
    let first = update(ids[1], create, posted(1), Some(r#"{"kept": 1}"#));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let other = update(ids[2], create, posted(2), None);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = update(ids[1], create, posted(11), Some(r#"{"kept": 2}"#));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let deleted = Outcome {
        tracked_status: Some(TrackedStatus::Deleted),
        ..posted(1)
    };
    let third = update(ids[1], Transition::Refresh, deleted, None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query("commit").execute(&mut locker).await.unwrap();

    assert_eq!(
        blocked.await.unwrap().unwrap().provider_post_id.as_deref(),
        Some("P-0")
    );
    assert_eq!(
        other.await.unwrap().unwrap().provider_post_id.as_deref(),
        Some("P-2")
    );
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.tracked_status, TrackedStatus::Posted);
    assert_eq!(first.provider_post_id.as_deref(), Some("P-1"));
    // The second found the record posted already: refused, it answers the record as it is
    // (which by then may be the third's: read after the whole batch).
    let second = second.await.unwrap().unwrap();
    assert_ne!(second.provider_post_id.as_deref(), Some("P-11"));
    let kept = second
        .stored_answer
        .expect("the first outcome's answer is kept");
    assert_eq!(kept.get(), r#"{"kept": 1}"#);
    // The third saw the first's `posted`, from which a reading may move to `deleted`.
    let third = third.await.unwrap().unwrap();
    assert_eq!(third.tracked_status, TrackedStatus::Deleted);
    assert_eq!(third.provider_post_id.as_deref(), Some("P-1"));
    let types: Vec<String> =
        sqlx::query_scalar("select type from social_post_events where id = $1 order by seq")
            .bind(ids[1])
            .fetch_all(&mut setup.connection().await)
            .await
            .unwrap();
    assert_eq!(
        types,
        ["post.posted", "post.deleted"],
        "one event per transition"
    );
}

/// Connections in use (taken from the pool, kept or not), once they stop changing: the pool
/// takes each one back in a task of its own, after a round trip.
async fn in_use(setup: &Setup) -> u32 {
    let mut last = u32::MAX;
    for _ in 0..50 {
        let stats = setup.store.pool_stats();
        let now = stats.size - stats.idle;
        if now == last {
            return now;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

#[tokio::test]
async fn a_lone_write_keeps_its_connection_until_it_has_been_idle_for_a_while() {
    let Some(setup) = setup_with_pool(10).await else {
        return;
    };
    assert_eq!(in_use(&setup).await, 0);
    let [id] = setup.pending_records(1).await[..] else {
        unreachable!()
    };
    // The insert's connection is kept for the next insert.
    assert_eq!(in_use(&setup).await, 1);
    let recorded = setup
        .store
        .record_outcome(id, Transition::CreateOutcome, &posted(1), None)
        .await
        .unwrap();
    assert_eq!(recorded.tracked_status, TrackedStatus::Posted);
    // And the update's for the next update.
    assert_eq!(in_use(&setup).await, 2);
    // Idle past the ping threshold, both go back to the pool, with no write to take them.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(in_use(&setup).await, 0);
}

#[tokio::test]
async fn a_lone_write_that_failed_gives_its_connection_back() {
    let Some(setup) = setup_with_pool(10).await else {
        return;
    };
    let mut orphan = setup.record("orphan", None);
    orphan.organization_id = Uuid::new_v4();
    let refused = setup.store.insert_tracking(&orphan).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(in_use(&setup).await, 0);
    assert_eq!(setup.count().await, 0);
}

#[tokio::test]
async fn a_kept_connection_the_database_closed_is_not_used_once_idle() {
    let Some(setup) = setup_with_pool(10).await else {
        return;
    };
    setup.pending_records(1).await;
    assert_eq!(in_use(&setup).await, 1);
    // The server ends every session of the store (as a restart would).
    let ended: i64 = sqlx::query_scalar(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity \
         where datname = current_database() and pid <> pg_backend_pid()) t",
    )
    .fetch_one(&mut setup.connection().await)
    .await
    .unwrap();
    assert!(ended >= 1, "{ended}");
    // Idle past the threshold: the next write takes a checked connection, not the dead one.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let ids = setup.pending_records(2).await;
    assert_eq!(ids.len(), 2);
    assert_eq!(setup.count().await, 3);
}

#[tokio::test]
async fn only_a_pool_of_eight_or_more_keeps_connections() {
    for (size, kept) in [(7, 0), (8, 1)] {
        let Some(setup) = setup_with_pool(size).await else {
            return;
        };
        setup.pending_records(1).await;
        assert_eq!(in_use(&setup).await, kept, "a pool of {size}");
    }
}
