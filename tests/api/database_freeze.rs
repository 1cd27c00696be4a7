//! The database freezes (its connections stay open and nothing comes back) or is cut: every
//! request still answers within its bound, `/readyz` says 503 in time, a reconciler pass gives
//! up, a post that went out is recorded once the database is back (and never sent twice),
//! SIGTERM stops the process within `SHUTDOWN_GRACE_SECS`, and the pool reconnects with backoff.
//! Postgres through the proxy of `db_proxy`; SQLite's freeze is a locked database file.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::cli::{last_line_of_success, run};
use crate::create_post::success_body;
use crate::db_proxy::Proxy;
use crate::processes::start_serve;
use crate::support::{
    Backend, Database, Options, TestApp, expect_error, postgres_admin_url, response_json,
};

/// `DATABASE_STATEMENT_TIMEOUT_SECS` and `DATABASE_ACQUIRE_TIMEOUT_SECS` in these tests: a
/// database call gives up after their sum.
const STATEMENT_SECS: u64 = 1;
const ACQUIRE_SECS: u64 = 1;
const CALL_DEADLINE: Duration = Duration::from_secs(STATEMENT_SECS + ACQUIRE_SECS);
/// What a loaded test machine may add to a bound.
const SLACK: Duration = Duration::from_millis(1500);
/// How long a test waits for an answer that must come, before calling it a hang.
const HANG: Duration = Duration::from_secs(30);

fn bounded_env() -> Vec<(&'static str, String)> {
    vec![
        (
            "DATABASE_STATEMENT_TIMEOUT_SECS",
            STATEMENT_SECS.to_string(),
        ),
        ("DATABASE_ACQUIRE_TIMEOUT_SECS", ACQUIRE_SECS.to_string()),
    ]
}

/// The app on Postgres through a proxy, with one create already done (the key and workspace
/// lookups are then kept for a moment, so the next create goes straight to the insert).
async fn app_behind_proxy() -> Option<(TestApp, Proxy)> {
    let admin_url = postgres_admin_url()?;
    let proxy = Proxy::start(&admin_url).await;
    let options = Options {
        database_port: Some(proxy.port),
        env: bounded_env(),
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Postgres, options).await?;
    Mock::given(method("POST"))
        .and(path("/api/post"))
        .respond_with(ResponseTemplate::new(200).set_body_json(success_body()))
        .mount(&app.ayrshare)
        .await;
    let warm = app.post(&json!({"post": "warm", "platforms": ["x"]}));
    assert_eq!(warm.send().await.unwrap().status(), 200);
    Some((app, proxy))
}

/// Sends `request` and returns its answer and how long it took; a hang fails the test.
async fn timed(request: reqwest::RequestBuilder) -> (reqwest::Response, Duration) {
    let started = Instant::now();
    let response = tokio::time::timeout(HANG, request.send())
        .await
        .expect("an answer, not a hang")
        .unwrap();
    (response, started.elapsed())
}

#[tokio::test]
async fn during_a_freeze_a_create_answers_503_within_the_call_deadline_without_calling_ayrshare() {
    let Some((app, proxy)) = app_behind_proxy().await else {
        return;
    };
    proxy.freeze();
    for _ in 0..2 {
        let (response, took) = timed(app.post(&json!({"post": "p", "platforms": ["x"]}))).await;
        eprintln!("a create during the freeze answered after {took:?}");
        assert!(took <= CALL_DEADLINE + SLACK, "answered after {took:?}");
        assert_eq!(response.headers()["retry-after"], "5");
        expect_error(response, 503, "service_unavailable").await;
    }
    assert_eq!(
        app.ayrshare.received_requests().await.unwrap().len(),
        1,
        "no call without a record"
    );

    proxy.thaw();
    let recovered = tokio::time::timeout(HANG, async {
        loop {
            let response = app
                .post(&json!({"post": "after", "platforms": ["x"]}))
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                return response_json(response).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the service recovers by itself");
    assert_eq!(recovered["tracked_status"], "posted");
    app.finish().await;
}

#[tokio::test]
async fn a_connection_whose_call_was_cut_short_by_a_freeze_is_closed_not_kept_in_the_pool() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let proxy = Proxy::start(&admin_url).await;
    // Plain TCP: sqlx cannot close a TLS connection whose peer stays silent (its TLS flush
    // waits to read), see docs/operations.md.
    let options = Options {
        database_port: Some(proxy.port),
        database_query: Some("sslmode=disable"),
        env: bounded_env(),
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Postgres, options)
        .await
        .unwrap();
    // Nothing in flight on the pool when the database freezes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.freeze();
    let (response, _) = timed(app.post(&json!({"post": "p", "platforms": ["x"]}))).await;
    expect_error(response, 503, "service_unavailable").await;
    let stuck = app.store.pool_stats();
    assert_eq!(stuck.in_use(), 1, "the insert's connection: {stuck:?}");
    // It is stuck mid-statement: checked within the statement timeout on its way back to the
    // pool, and closed, while the database is still frozen.
    let closed = tokio::time::timeout(Duration::from_secs(STATEMENT_SECS) + SLACK, async {
        while app.store.pool_stats().in_use() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let after = app.store.pool_stats();
    assert!(closed.is_ok(), "{after:?}");
    assert_eq!(after.size, stuck.size - 1, "{after:?}");
    proxy.thaw();
    app.finish().await;
}

#[tokio::test]
async fn during_a_freeze_readyz_answers_503_within_two_seconds() {
    let Some((app, proxy)) = app_behind_proxy().await else {
        return;
    };
    proxy.freeze();
    for _ in 0..2 {
        let (response, took) = timed(app.client.get(app.url("/readyz"))).await;
        eprintln!("/readyz during the freeze answered after {took:?}");
        assert!(
            took <= Duration::from_secs(2) + SLACK,
            "answered after {took:?}"
        );
        assert_eq!(response.headers()["retry-after"], "5");
        let error = expect_error(response, 503, "service_unavailable").await;
        assert!(
            !error["detail"].as_str().unwrap().contains("127.0.0.1"),
            "{error}"
        );
    }
    proxy.thaw();
    let ready = tokio::time::timeout(HANG, async {
        loop {
            let response = app.client.get(app.url("/readyz")).send().await.unwrap();
            if response.status() == 200 {
                return response_json(response).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("ready again once the database answers");
    assert_eq!(ready["status"], "ready");
    app.finish().await;
}

#[tokio::test]
async fn during_a_freeze_a_reconciler_pass_gives_up_within_the_call_deadline() {
    let Some((app, proxy)) = app_behind_proxy().await else {
        return;
    };
    proxy.freeze();
    let started = Instant::now();
    let pass = tokio::time::timeout(HANG, app.publisher.reconcile_pass())
        .await
        .expect("the pass returns, not hangs");
    let took = started.elapsed();
    eprintln!("a reconciler pass during the freeze gave up after {took:?}");
    assert!(took <= CALL_DEADLINE + SLACK, "gave up after {took:?}");
    let error = pass.expect_err("nothing can be claimed from a frozen database");
    assert!(error.to_string().contains("database"), "{error}");
    proxy.thaw();
    app.finish().await;
}

#[tokio::test]
async fn a_post_that_went_out_as_the_database_froze_is_recorded_once_it_is_back_and_sent_once() {
    let Some((app, proxy)) = app_behind_proxy().await else {
        return;
    };
    app.ayrshare.reset().await;
    Mock::given(method("POST"))
        .and(path("/api/post"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(success_body())
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&app.ayrshare)
        .await;
    let request = app.post(&json!({"post": "went out", "platforms": ["x"]}));
    let answer = tokio::spawn(timed(request));
    // The record is written before Ayrshare is called: freeze once the call is under way.
    tokio::time::timeout(HANG, async {
        while app.ayrshare.received_requests().await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the create reaches Ayrshare");
    proxy.freeze();

    // The answer still comes within the create's bound (AYRSHARE_TIMEOUT_SECS + 10 s) and says
    // what Ayrshare answered; the record cannot say it yet.
    let (response, took) = answer.await.unwrap();
    assert!(took <= Duration::from_secs(15), "answered after {took:?}");
    let body = expect_error(response, 500, "internal_server_error").await;
    assert_eq!(body["tracked_status"], "pending", "{body}");
    assert_eq!(body["post_id"], success_body()["id"], "{body}");

    // The database then restarts: its frozen connections are cut, and it is away a while
    // (longer than any number of quick retries would last).
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.down();
    tokio::time::sleep(Duration::from_secs(6)).await;
    proxy.up().await;

    let id: Uuid = body["tracking_id"].as_str().unwrap().parse().unwrap();
    let record = tokio::time::timeout(HANG, async {
        loop {
            // Through the app's own store: while its breaker still waits out the outage a read
            // fails fast, and is simply tried again.
            if let Ok(Some(record)) = app.store.find_tracking(app.organization_id, id).await {
                if record.tracked_status.as_str() != "pending" {
                    return record;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the recording is retried until it lands");
    assert_eq!(record.tracked_status.as_str(), "posted");
    assert_eq!(
        record.provider_post_id.as_deref(),
        success_body()["id"].as_str()
    );
    assert_eq!(
        app.ayrshare.received_requests().await.unwrap().len(),
        1,
        "the post was sent once"
    );
    app.finish().await;
}

#[tokio::test]
async fn while_the_database_is_cut_the_pool_reconnects_with_backoff_not_in_a_storm() {
    let Some((app, proxy)) = app_behind_proxy().await else {
        return;
    };
    proxy.cut();
    let before = proxy.connects();
    // Eight callers keep asking for five seconds, as a load balancer's probes and retrying
    // clients would.
    let until = Instant::now() + Duration::from_secs(5);
    let callers: Vec<_> = (0..8)
        .map(|n| {
            let readyz = app.client.get(app.url("/readyz"));
            let create = app.post(&json!({"post": format!("storm {n}"), "platforms": ["x"]}));
            tokio::spawn(async move {
                let mut answers = 0;
                while Instant::now() < until {
                    for request in [readyz.try_clone().unwrap(), create.try_clone().unwrap()] {
                        let response = tokio::time::timeout(HANG, request.send())
                            .await
                            .expect("an answer, not a hang")
                            .unwrap();
                        assert_eq!(response.status(), 503);
                        answers += 1;
                    }
                }
                answers
            })
        })
        .collect();
    let mut answers = 0;
    for caller in callers {
        answers += caller.await.unwrap();
    }
    let attempts = proxy.connects() - before;
    eprintln!("{attempts} connection attempts in 5 s while cut, for {answers} answers");
    assert!(attempts <= 20, "{attempts} connection attempts in 5 s");

    proxy.thaw();
    tokio::time::timeout(HANG, async {
        loop {
            let response = app.client.get(app.url("/readyz")).send().await.unwrap();
            if response.status() == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the pool reconnects once the database is back");
    app.finish().await;
}

#[tokio::test]
async fn sigterm_during_a_freeze_stops_the_process_within_the_shutdown_grace() {
    let Some(database) = Database::create(Backend::Postgres).await else {
        return;
    };
    let url = database.url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let key =
        last_line_of_success(&run(dir.path(), Some(&url), "keys create --organization acme").await);
    let proxy = Proxy::start(&url).await;
    let mut proxied = url::Url::parse(&url).unwrap();
    proxied.set_port(Some(proxy.port)).unwrap();
    let ayrshare = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/post"))
        .respond_with(ResponseTemplate::new(200).set_body_json(success_body()))
        .mount(&ayrshare)
        .await;
    // The default statement timeout and acquire timeout (a call's deadline, 8 s) are longer
    // than the grace: the grace must bound the shutdown by itself.
    let (mut server, address, _lines) = start_serve(
        dir.path(),
        proxied.as_str(),
        &format!("{}/api", ayrshare.uri()),
        &[
            ("SHUTDOWN_GRACE_SECS", "2"),
            ("RECONCILE_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let create = || {
        client
            .post(format!("{address}/social/post"))
            .bearer_auth(&key)
            .json(&json!({"post": "p", "platforms": ["x"]}))
    };
    assert_eq!(create().send().await.unwrap().status(), 200);

    proxy.freeze();
    // Requests waiting on the frozen database when the signal comes.
    let waiting: Vec<_> = [
        create(),
        client
            .get(format!("{address}/social/post"))
            .bearer_auth(&key),
        client.get(format!("{address}/readyz")),
    ]
    .into_iter()
    .map(|request| tokio::spawn(request.send()))
    .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.id().unwrap().to_string();
    let signalled = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exited = tokio::time::timeout(Duration::from_secs(20), server.wait()).await;
    let took = signalled.elapsed();
    if exited.is_err() {
        server.kill().await.unwrap();
    }
    let status = exited.expect("the process exits").unwrap();
    eprintln!("exited {took:?} after SIGTERM");
    assert!(
        took <= Duration::from_secs(2) + SLACK,
        "exited {took:?} after SIGTERM"
    );
    assert!(status.success(), "{status:?}");
    for request in waiting {
        // Each got an answer or lost its connection; none is left hanging.
        let _ = tokio::time::timeout(Duration::from_secs(1), request)
            .await
            .expect("no request outlives the process");
    }
    proxy.thaw();
}

#[tokio::test]
async fn a_locked_sqlite_file_answers_a_create_503_within_the_call_deadline() {
    let options = Options {
        env: bounded_env(),
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await.unwrap();
    Mock::given(method("POST"))
        .and(path("/api/post"))
        .respond_with(ResponseTemplate::new(200).set_body_json(success_body()))
        .mount(&app.ayrshare)
        .await;
    assert_eq!(
        app.post(&json!({"post": "warm", "platforms": ["x"]}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Another process holds the write lock (a long migration, a backup, a stuck tool).
    let mut holder = sqlx::SqliteConnection::connect(app.database_url())
        .await
        .unwrap();
    sqlx::query("begin exclusive")
        .execute(&mut holder)
        .await
        .unwrap();
    let (response, took) = timed(app.post(&json!({"post": "p", "platforms": ["x"]}))).await;
    eprintln!("a create on the locked file answered after {took:?}");
    assert!(took <= CALL_DEADLINE + SLACK, "answered after {took:?}");
    expect_error(response, 503, "service_unavailable").await;
    assert_eq!(app.ayrshare.received_requests().await.unwrap().len(), 1);

    sqlx::query("rollback").execute(&mut holder).await.unwrap();
    // Back within the breaker's wait.
    let recovered = tokio::time::timeout(HANG, async {
        loop {
            let response = app
                .post(&json!({"post": "after", "platforms": ["x"]}))
                .send()
                .await
                .unwrap();
            if response.status() != 503 {
                return response;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("writes go through once the lock is released");
    assert_eq!(recovered.status(), 200);
    app.finish().await;
}
