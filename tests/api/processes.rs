//! The built binary around the reconciler and the webhook: a server killed while Ayrshare holds
//! its request leaves a record that settles after a restart, with nothing sent twice;
//! `webhooks register` registers the workspace's webhook at Ayrshare; and a starting server runs
//! its background sweeps.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use mosaic_social::mock_ayrshare::{self, MockConfig};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio::sync::Notify;
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::cli::{
    assert_fails_with_one_line, command, last_line_of_success, run, start_sandbox_with,
};
use crate::support::response_json;
use crate::support::{Backend, Database};

/// The shipped mock Ayrshare on a local port, as Ayrshare behaves: a request keeps being worked
/// when its client goes away (axum would drop the handler). Counts the `POST /api/post` it
/// receives and says when the first arrives.
struct CountingMock {
    base_url: String,
    posts: Arc<AtomicUsize>,
    first_post: Arc<Notify>,
}

async fn counting_mock() -> CountingMock {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mock = mock_ayrshare::router(MockConfig::default());
    let posts = Arc::new(AtomicUsize::new(0));
    let first_post = Arc::new(Notify::new());
    let (counted, notify) = (posts.clone(), first_post.clone());
    let app = axum::Router::new().fallback(move |request: Request<Body>| {
        let (mock, counted, notify) = (mock.clone(), counted.clone(), notify.clone());
        async move {
            if request.method() == "POST" && request.uri().path() == "/api/post" {
                counted.fetch_add(1, Ordering::SeqCst);
                notify.notify_one();
            }
            // A task of its own: dropping this future (the client hung up) does not stop it.
            let worked = tokio::spawn(mock.oneshot(request));
            match worked.await {
                Ok(Ok(response)) => response,
                _ => Response::builder().status(500).body(Body::empty()).unwrap(),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    CountingMock {
        base_url: format!("http://{addr}/api"),
        posts,
        first_post,
    }
}

/// `mosaic-social serve` against `ayrshare`, with `env`; returns it with its address.
pub(crate) async fn start_serve(
    dir: &Path,
    database_url: &str,
    ayrshare: &str,
    env: &[(&str, &str)],
) -> (Child, String, Lines<BufReader<ChildStdout>>) {
    let mut command = command(dir, Some(database_url));
    command
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("AYRSHARE_API_KEY", "ayr-crash-test")
        .env("AYRSHARE_BASE_URL", ayrshare)
        .envs(env.iter().copied())
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(address) = line.strip_prefix("mosaic-social listening on ") {
                return address.trim().to_owned();
            }
        }
        panic!("serve ended before listening");
    })
    .await
    .expect("serve started within a minute");
    (child, address, lines)
}

/// The one record's `tracked_status` and post id, straight from the database.
async fn the_record(database_url: &str) -> (String, Option<String>) {
    let sql = "select tracked_status, provider_post_id from scheduled_social_posts_v2";
    if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        sqlx::query_as(sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
        sqlx::query_as(sql).fetch_one(&mut conn).await.unwrap()
    }
}

async fn a_crash_while_ayrshare_holds_the_request_settles_after_a_restart(backend: Backend) {
    let Some(database) = Database::create(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = database.url().to_owned();
    let mock = counting_mock().await;
    let key =
        last_line_of_success(&run(dir.path(), Some(&url), "keys create --organization acme").await);

    // The first server waits for Ayrshare (30 s), so it is killed with the request in flight.
    let (mut first, address, _lines) = start_serve(
        dir.path(),
        &url,
        &mock.base_url,
        &[
            ("AYRSHARE_TIMEOUT_SECS", "30"),
            ("RECONCILE_INTERVAL_SECS", "0"),
        ],
    )
    .await;
    let request = reqwest::Client::new()
        .post(format!("{address}/social/post"))
        .bearer_auth(&key)
        .json(&json!({"post": "crash test [mock:slow:5000]", "platforms": ["linkedin", "x"]}))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::timeout(Duration::from_secs(30), mock.first_post.notified())
        .await
        .expect("the post reached the mock");
    first.kill().await.unwrap(); // SIGKILL: nothing is recorded, nothing is cleaned up.
    assert!(
        in_flight.await.unwrap().is_err(),
        "the client lost its connection"
    );
    assert_eq!(the_record(&url).await, ("pending".to_owned(), None));

    // Restarted with a 1 s Ayrshare timeout: the record is due 11 s after it was written
    // (AYRSHARE_TIMEOUT_SECS + 10), and the reconciler looks every second.
    let (mut second, _, _lines) = start_serve(
        dir.path(),
        &url,
        &mock.base_url,
        &[
            ("AYRSHARE_TIMEOUT_SECS", "1"),
            ("RECONCILE_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let settled = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            let record = the_record(&url).await;
            if record.0 != "pending" && record.0 != "unknown" {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the record settled");
    // The mock finished the post after the crash; the reconciler found it in the history.
    assert_eq!(settled.0, "posted", "{settled:?}");
    assert!(settled.1.is_some_and(|id| !id.is_empty()));
    assert_eq!(
        mock.posts.load(Ordering::SeqCst),
        1,
        "the post was sent exactly once"
    );
    second.kill().await.unwrap();
}

#[tokio::test]
async fn a_crash_while_ayrshare_holds_the_request_settles_after_a_restart_on_sqlite() {
    a_crash_while_ayrshare_holds_the_request_settles_after_a_restart(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_crash_while_ayrshare_holds_the_request_settles_after_a_restart_on_postgres() {
    a_crash_while_ayrshare_holds_the_request_settles_after_a_restart(Backend::Postgres).await;
}

#[tokio::test]
async fn webhooks_register_sends_the_workspace_profile_key_and_the_secret() {
    let database = Database::create(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = Some(database.url());
    let ayrshare = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/hook/webhook"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success", "action": "scheduled",
            "url": "https://social.example/webhooks/ayrshare", "refId": "ref-1"
        })))
        .expect(1)
        .mount(&ayrshare)
        .await;
    last_line_of_success(&run(dir.path(), url, "keys create --organization acme").await);
    let workspace = last_line_of_success(
        &run(
            dir.path(),
            url,
            "workspaces create --organization acme --name team --ayrshare-profile-key PK-TEAM",
        )
        .await,
    );
    let register = |secret: Option<&'static str>, base: String| {
        let mut command = command(dir.path(), url);
        command
            .env("AYRSHARE_API_KEY", "ayr-register-key")
            .env("AYRSHARE_BASE_URL", base)
            .args([
                "webhooks",
                "register",
                "--organization",
                "acme",
                "--workspace",
                &workspace,
                "--url",
                "https://social.example/webhooks/ayrshare",
            ]);
        if let Some(secret) = secret {
            command.env("AYRSHARE_WEBHOOK_SECRET", secret);
        }
        command
    };

    let output = register(Some("whsec-register-5d"), format!("{}/api", ayrshare.uri()))
        .output()
        .await
        .unwrap();
    assert_eq!(
        last_line_of_success(&output),
        "https://social.example/webhooks/ayrshare"
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains(&workspace), "{printed}");
    assert!(!printed.contains("whsec-register-5d"), "{printed}");
    let requests = ayrshare.received_requests().await.unwrap();
    let request = &requests[0];
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({"action": "scheduled", "url": "https://social.example/webhooks/ayrshare",
               "secret": "whsec-register-5d"})
    );
    assert_eq!(request.headers["profile-key"], "PK-TEAM");
    assert_eq!(request.headers["authorization"], "Bearer ayr-register-key");

    // Without a secret nothing is sent.
    let output = register(None, format!("{}/api", ayrshare.uri()))
        .output()
        .await
        .unwrap();
    assert_fails_with_one_line(&output, &["AYRSHARE_WEBHOOK_SECRET"]);

    // Ayrshare's refusal is one line.
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "code": 104, "message": "Webhook URL must be https"
        })))
        .mount(&refusing)
        .await;
    let output = register(Some("whsec-register-5d"), format!("{}/api", refusing.uri()))
        .output()
        .await
        .unwrap();
    assert_fails_with_one_line(&output, &["must be https", "400"]);
    assert_eq!(ayrshare.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn in_the_sandbox_a_scheduled_post_settles_by_itself_through_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    // The reconciler is off: only the simulator's webhook can settle the post.
    let mut sandbox = start_sandbox_with(
        dir.path(),
        &[("RECONCILE_INTERVAL_SECS", "0")],
        std::process::Stdio::null(),
    )
    .await;
    let key = sandbox.key.clone().expect("the demo key");
    let client = reqwest::Client::new();
    // Whole seconds (the service truncates), comfortably ahead.
    let due = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let response = client
        .post(format!("{}/social/post", sandbox.address))
        .bearer_auth(&key)
        .json(
            &json!({"post": "settles by itself", "platforms": ["x", "linkedin"],
                      "schedule_date": due}),
        )
        .send()
        .await
        .unwrap();
    let body = response_json(response).await;
    assert_eq!(body["tracked_status"], "scheduled", "{body}");
    let track = format!(
        "{}/social/post/track/{}",
        sandbox.address,
        body["tracking_id"].as_str().unwrap()
    );
    // Only the tracking record is read: it comes from the database, never from Ayrshare.
    let record = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let response = client.get(&track).bearer_auth(&key).send().await.unwrap();
            let record = response_json(response).await;
            if record["tracked_status"] != "scheduled" {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the record settled");
    assert_eq!(record["tracked_status"], "posted", "{record}");
    assert_eq!(record["links"].as_array().unwrap().len(), 2, "{record}");
    assert_eq!(record["results"][0]["platform"], "x");
    sandbox.child.kill().await.unwrap();
}

/// A webhook receiver on loopback that answers 204 and keeps each event it got: its URL, and
/// what it got so far.
async fn event_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let got: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
    let router = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(got): axum::extract::State<
                    std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
                >,
                 body: axum::body::Bytes| async move {
                    got.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                    axum::http::StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (hook, got)
}

#[tokio::test]
async fn in_the_sandbox_an_endpoint_hears_a_scheduled_post_go_out_with_nobody_polling() {
    // A receiver on loopback: the sandbox allows http and private targets, and says so.
    let (hook, got) = event_receiver().await;

    let dir = tempfile::tempdir().unwrap();
    let mut sandbox = start_sandbox_with(
        dir.path(),
        &[("RECONCILE_INTERVAL_SECS", "0")],
        std::process::Stdio::null(),
    )
    .await;
    let key = sandbox.key.clone().expect("the demo key");
    let client = reqwest::Client::new();
    let endpoint = client
        .post(format!("{}/webhooks/endpoints", sandbox.address))
        .bearer_auth(&key)
        .json(&json!({"url": hook}))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 201);
    let due = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let response = client
        .post(format!("{}/social/post", sandbox.address))
        .bearer_auth(&key)
        .json(&json!({"post": "heard by itself", "platforms": ["x"], "schedule_date": due}))
        .send()
        .await
        .unwrap();
    let body = response_json(response).await;
    let tracking_id = body["tracking_id"].as_str().unwrap().to_owned();
    // Nothing reads the post from here on: the events come by themselves.
    let events = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let events = got.lock().unwrap().clone();
            if events.len() >= 2 {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the endpoint heard both events");
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["post.scheduled", "post.posted"], "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e["data"]["tracking_id"] == tracking_id.as_str())
    );
    assert_eq!(events[1]["data"]["previous_tracked_status"], "scheduled");
    sandbox.child.kill().await.unwrap();
}

/// Two `serve` processes on one Postgres, like two replicas behind a load balancer: the same
/// `Idempotency-Key` sent to both at the same moment publishes once and writes one record.
#[tokio::test]
async fn two_servers_on_one_postgres_publish_a_key_once() {
    let Some(database) = Database::create(Backend::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = database.url().to_owned();
    let key =
        last_line_of_success(&run(dir.path(), Some(&url), "keys create --organization acme").await);
    let mock = counting_mock().await;
    // Slow enough that both requests are in flight together.
    let env = [
        ("RECONCILE_INTERVAL_SECS", "0"),
        ("RATE_LIMIT_PER_MINUTE", "0"),
    ];
    let (mut first, first_address, _first_out) =
        start_serve(dir.path(), &url, &mock.base_url, &env).await;
    let (mut second, second_address, _second_out) =
        start_serve(dir.path(), &url, &mock.base_url, &env).await;
    let client = reqwest::Client::new();
    let send = |address: String| {
        client
            .post(format!("{address}/social/post"))
            .bearer_auth(&key)
            .header("idempotency-key", "replicas-1")
            .json(&json!({"post": "once [mock:slow:1500]", "platforms": ["linkedin"]}))
            .send()
    };
    let (a, b) =
        futures_util::future::join(send(first_address.clone()), send(second_address)).await;
    let mut statuses = vec![a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    // One published; the other was told the key is in flight (or, arriving late, replayed).
    assert!(
        statuses == [200, 409] || statuses == [200, 200],
        "{statuses:?}"
    );
    assert_eq!(mock.posts.load(Ordering::SeqCst), 1, "published once");
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let rows: Vec<(String,)> =
        sqlx::query_as("select tracked_status from scheduled_social_posts_v2")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(rows, vec![("posted".to_owned(),)], "one record");
    // Once done, either server replays the one answer.
    let replay = send(first_address).await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(mock.posts.load(Ordering::SeqCst), 1);
    for child in [&mut first, &mut second] {
        child.kill().await.unwrap();
    }
}

/// Two `serve` processes on one Postgres, both delivering: every event reaches the endpoint, and
/// none twice (every attempt is answered 204, so nothing is attempted again).
#[tokio::test]
async fn two_servers_on_one_postgres_deliver_every_event_once() {
    let Some(database) = Database::create(Backend::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = database.url().to_owned();
    let key =
        last_line_of_success(&run(dir.path(), Some(&url), "keys create --organization acme").await);
    let mock = counting_mock().await;
    let env = [
        ("RECONCILE_INTERVAL_SECS", "0"),
        ("RATE_LIMIT_PER_MINUTE", "0"),
        (
            "SECRETS_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
        ("WEBHOOK_DELIVERY", "true"),
        ("WEBHOOK_ALLOW_HTTP", "true"),
        ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
    ];
    let (mut first, first_address, _first_out) =
        start_serve(dir.path(), &url, &mock.base_url, &env).await;
    let (mut second, second_address, _second_out) =
        start_serve(dir.path(), &url, &mock.base_url, &env).await;
    let (hook, got) = event_receiver().await;
    let client = reqwest::Client::new();
    let endpoint = client
        .post(format!("{first_address}/webhooks/endpoints"))
        .bearer_auth(&key)
        .json(&json!({"url": hook}))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 201);
    const POSTS: usize = 20;
    for n in 0..POSTS {
        let address = if n % 2 == 0 {
            &first_address
        } else {
            &second_address
        };
        let response = client
            .post(format!("{address}/social/post"))
            .bearer_auth(&key)
            .json(&json!({"post": format!("replica post {n}"), "platforms": ["linkedin"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        while got.lock().unwrap().len() < POSTS {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("every event delivered");
    // A while longer, for a second copy to show up if one were coming.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = got.lock().unwrap().clone();
    let ids: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(events.len(), POSTS, "{events:?}");
    assert_eq!(ids.len(), POSTS, "each event once");
    assert!(events.iter().all(|e| e["type"] == "post.posted"));
    for child in [&mut first, &mut second] {
        child.kill().await.unwrap();
    }
}

/// One number from the test database.
async fn count(database_url: &str, sql: &str) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect(database_url).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

#[tokio::test]
async fn a_starting_server_sweeps_expired_idempotency_keys_and_events_at_once() {
    let database = Database::create(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = database.url().to_owned();
    let mock = counting_mock().await;
    let key =
        last_line_of_success(&run(dir.path(), Some(&url), "keys create --organization acme").await);
    let retention = [
        ("EVENT_RETENTION_DAYS", "1"),
        ("RECONCILE_INTERVAL_SECS", "0"),
    ];
    let (mut first, address, _lines) =
        start_serve(dir.path(), &url, &mock.base_url, &retention).await;
    let posted = reqwest::Client::new()
        .post(format!("{address}/social/post"))
        .bearer_auth(&key)
        .header("idempotency-key", "sweep-me")
        .json(&json!({"post": "swept", "platforms": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    first.kill().await.unwrap();
    let claims =
        "select count(*) from scheduled_social_posts_v2 where idempotency_claim is not null";
    let events = "select count(*) from social_post_events";
    assert_eq!(
        (count(&url, claims).await, count(&url, events).await),
        (1, 1)
    );

    // Two days later, as far as the rows can tell: past both retentions (24 hours; 1 day).
    let two_days = chrono::Duration::days(2);
    database
        .backdate("scheduled_social_posts_v2", "created_at", two_days)
        .await;
    database
        .backdate("social_post_events", "updated_at", two_days)
        .await;
    // Both sweeps run as the server starts, then every 10 minutes and every hour.
    let (mut second, _, _lines) = start_serve(dir.path(), &url, &mock.base_url, &retention).await;
    let swept = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let left = (count(&url, claims).await, count(&url, events).await);
            if left == (0, 0) {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    second.kill().await.unwrap();
    assert_eq!(swept, Ok((0, 0)), "the key and the event were swept");
    assert_eq!(
        count(&url, "select count(*) from scheduled_social_posts_v2").await,
        1,
        "the record stays"
    );
}
