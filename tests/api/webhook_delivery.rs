//! Webhook delivery: each event reaches the endpoints that want it, signed as Standard Webhooks
//! says (checked with the official `standardwebhooks` crate), retried on the schedule, honouring
//! `Retry-After`, disabling on 410 and after failing long enough; a frozen endpoint never delays
//! another; internal addresses are refused at connect time; leases left by a dead worker are
//! taken over; two workers on one Postgres deliver each event once.
//!
//! The receivers are small axum servers on 127.0.0.1. Endpoints are written straight into the
//! table (the routes that manage them are the other half of issue 17), their secrets sealed with
//! the app's own keyring as the routes will.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use mosaic_social::config::Config;
use mosaic_social::domain::standard_webhooks::WebhookSecret;
use mosaic_social::events::delivery::{Deliverer, EXCERPT_BYTES};
use mosaic_social::secrets::{Keyring, Secrets};
use mosaic_social::store::{ClaimQuery, Finished, secret_aad};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::backend_tests;
use crate::fixtures::{answer_creates, published};
use crate::support::{Backend, Database, Options, TestApp, response_json};

/// A key for the app's keyring (32 bytes of base64), so that endpoint secrets can be sealed.
const SECRETS_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// How long a test waits for something that should happen within a second or two.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The receiver

/// How the receiver answers one request.
#[derive(Clone, Debug)]
enum Reply {
    /// This status, these headers, this body.
    Answer(u16, Vec<(&'static str, String)>, String),
    /// 200 with a body that never ends.
    Endless,
    /// No answer until the test releases it (then 503).
    Frozen,
}

fn status(code: u16) -> Reply {
    Reply::Answer(code, Vec::new(), String::new())
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct Shared {
    got: Arc<Mutex<Vec<Received>>>,
    /// Answers for the next requests, in order; then `otherwise`.
    replies: Arc<Mutex<VecDeque<Reply>>>,
    otherwise: Reply,
    release: CancellationToken,
    /// Bytes of endless bodies handed to the connection so far.
    streamed: Arc<std::sync::atomic::AtomicUsize>,
}

/// A webhook receiver on 127.0.0.1.
struct Receiver {
    port: u16,
    shared: Shared,
}

impl Receiver {
    async fn start(replies: Vec<Reply>, otherwise: Reply) -> Receiver {
        let shared = Shared {
            got: Arc::default(),
            replies: Arc::new(Mutex::new(replies.into())),
            otherwise,
            release: CancellationToken::new(),
            streamed: Arc::default(),
        };
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Receiver { port, shared }
    }

    /// Answers 204 to everything.
    async fn accepting() -> Receiver {
        Receiver::start(Vec::new(), status(204)).await
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn got(&self) -> Vec<Received> {
        self.shared.got.lock().unwrap().clone()
    }

    /// The requests once there are at least `n`.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} requests, not {n}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Frozen requests answer now, so that the app's shutdown does not wait for them.
        self.shared.release.cancel();
    }
}

async fn hook(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    shared.got.lock().unwrap().push(Received {
        headers,
        body,
        at: Instant::now(),
    });
    let reply = shared
        .replies
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| shared.otherwise.clone());
    match reply {
        Reply::Answer(code, headers, body) => {
            let mut response = Response::builder().status(code);
            for (name, value) in headers {
                response = response.header(name, value);
            }
            response.body(Body::from(body)).unwrap()
        }
        Reply::Endless => {
            let streamed = shared.streamed.clone();
            let chunks = futures_util::stream::repeat_with(move || {
                streamed.fetch_add(64 * 1024, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, Infallible>(Bytes::from(vec![b'a'; 64 * 1024]))
            });
            Response::new(Body::from_stream(chunks))
        }
        Reply::Frozen => {
            shared.release.cancelled().await;
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The app, endpoints and rows

/// The app delivering, with private targets and http allowed (the receivers are on loopback),
/// retries after about a second, and a quick poll.
fn delivering() -> Options {
    delivering_with(&[])
}

fn delivering_with(extra: &[(&'static str, &str)]) -> Options {
    let mut env: Vec<(&'static str, String)> = vec![
        ("SECRETS_KEY", SECRETS_KEY.into()),
        ("WEBHOOK_DELIVERY", "true".into()),
        ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true".into()),
        ("WEBHOOK_ALLOW_HTTP", "true".into()),
        ("WEBHOOK_RETRY_SCHEDULE", "1,1".into()),
    ];
    for (name, value) in extra {
        env.retain(|(n, _)| n != name);
        env.push((name, (*value).to_owned()));
    }
    Options {
        env,
        configure: Some(quick_poll),
        ..Options::default()
    }
}

fn quick_poll(config: &mut Config) {
    config.events.webhooks.poll_every = Duration::from_millis(100);
}

/// Time as sqlx writes it on SQLite (and Postgres reads as a literal).
fn at(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// An endpoint of `acme` for every event, as the routes will write it.
struct Endpoint {
    id: Uuid,
    secret: WebhookSecret,
}

async fn add_endpoint(app: &TestApp, url: &str) -> Endpoint {
    add_endpoint_with(app, url, None, None).await
}

/// An endpoint with, optionally, a previous secret still signing until `until`, and failing
/// since `failing_since`.
async fn add_endpoint_with(
    app: &TestApp,
    url: &str,
    previous: Option<(&WebhookSecret, DateTime<Utc>)>,
    failing_since: Option<DateTime<Utc>>,
) -> Endpoint {
    let (database, secrets) = (&app.database, app.store.secrets());
    insert_endpoint(
        database,
        secrets,
        app.organization_id,
        url,
        previous,
        failing_since,
    )
    .await
}

/// An endpoint of `organization` written into `database`, its secrets sealed with `secrets`.
async fn insert_endpoint(
    database: &Database,
    secrets: &Secrets,
    organization: Uuid,
    url: &str,
    previous: Option<(&WebhookSecret, DateTime<Utc>)>,
    failing_since: Option<DateTime<Utc>>,
) -> Endpoint {
    let id = Uuid::new_v4();
    let secret = WebhookSecret::generate();
    let aad = secret_aad(id);
    let seal =
        |secret: &WebhookSecret| secrets.seal(secret.reveal().expose_secret(), &aad).unwrap();
    let literal = |text: Option<String>| text.map_or("null".to_owned(), |t| format!("'{t}'"));
    let now = at(Utc::now());
    execute_on(
        database,
        &format!(
            "insert into webhook_endpoints (id, organization_id, url, secret, previous_secret, \
             previous_secret_until, failing_since, created_at, updated_at) \
             values ('{id}', '{organization}', '{url}', '{secret}', {previous}, {until}, \
             {failing}, '{now}', '{now}')",
            secret = seal(&secret),
            previous = literal(previous.map(|(s, _)| seal(s))),
            until = literal(previous.map(|(_, until)| at(until))),
            failing = literal(failing_since.map(at)),
        ),
    )
    .await;
    Endpoint { id, secret }
}

async fn execute(app: &TestApp, sql: &str) {
    execute_on(&app.database, sql).await;
}

async fn execute_on(database: &Database, sql: &str) {
    match database {
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

/// Every row of `sql`, each column read as text (write `cast(... as text)` for the others).
async fn rows(app: &TestApp, sql: &str) -> Vec<Vec<Option<String>>> {
    rows_on(&app.database, sql).await
}

async fn rows_on(database: &Database, sql: &str) -> Vec<Vec<Option<String>>> {
    match database {
        Database::Sqlite { url, .. } => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            let rows = sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.try_get(i).unwrap()).collect())
                .collect()
        }
        Database::Postgres { url, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let rows = sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.try_get(i).unwrap()).collect())
                .collect()
        }
    }
}

/// `(state, attempts, last_error)` of each delivery to the endpoint, oldest first.
async fn deliveries(app: &TestApp, endpoint: Uuid) -> Vec<(String, String, Option<String>)> {
    rows(
        app,
        &format!(
            "select state, cast(attempts as text), last_error from webhook_deliveries \
             where endpoint_id = '{endpoint}' order by id"
        ),
    )
    .await
    .into_iter()
    .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap(), r[2].clone()))
    .collect()
}

/// The deliveries once they are as `done` says (waiting for the attempt to be recorded).
async fn deliveries_when(
    app: &TestApp,
    endpoint: Uuid,
    done: impl Fn(&[(String, String, Option<String>)]) -> bool,
) -> Vec<(String, String, Option<String>)> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = deliveries(app, endpoint).await;
        if done(&found) {
            return found;
        }
        assert!(Instant::now() < deadline, "deliveries: {found:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `(attempt, http_status, error, response_excerpt)` of each attempt to the endpoint, oldest
/// first.
async fn attempts(app: &TestApp, endpoint: Uuid) -> Vec<Vec<Option<String>>> {
    rows(
        app,
        &format!(
            "select cast(attempt as text), cast(http_status as text), error, response_excerpt, \
             event_id from webhook_attempts where endpoint_id = '{endpoint}' order by id"
        ),
    )
    .await
}

/// `(disabled 0/1, disabled_reason, failing_since is set 0/1)` of the endpoint.
async fn endpoint_state(app: &TestApp, endpoint: Uuid) -> (String, Option<String>, String) {
    let row = rows(
        app,
        &format!(
            "select cast(case when disabled then 1 else 0 end as text), disabled_reason, \
             cast(case when failing_since is null then 0 else 1 end as text) \
             from webhook_endpoints where id = '{endpoint}'"
        ),
    )
    .await
    .remove(0);
    (
        row[0].clone().unwrap(),
        row[1].clone(),
        row[2].clone().unwrap(),
    )
}

/// The organization's events from the feed, once there are `n`.
async fn feed(app: &TestApp, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let page = response_json(app.get("/events").send().await.unwrap()).await;
        let events = page["events"].as_array().unwrap().clone();
        if events.len() >= n {
            return events;
        }
        assert!(Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks a request as a receiver would, with the official library.
fn verifies(request: &Received, secret: &WebhookSecret) -> bool {
    let oracle = standardwebhooks::Webhook::new(secret.reveal().expose_secret()).unwrap();
    oracle.verify(&request.body, &request.headers).is_ok()
}

/// Creates a post published at once (one `post.posted` event); its tracking id.
async fn post_now(app: &TestApp) -> String {
    published(app, json!(["x"])).await.1
}

// ---------------------------------------------------------------------------------------------
// The tests

backend_tests! {

    async fn an_endpoint_made_through_the_api_gets_the_test_event_and_then_the_posts_events(app) [delivering()] {
        answer_creates(app).await;
        let receiver = Receiver::accepting().await;
        let created = app.client.post(app.url("/webhooks/endpoints")).bearer_auth(&app.api_key)
            .json(&json!({"url": receiver.url(), "event_types": ["post.posted", "webhook.test"]}))
            .send().await.unwrap();
        assert_eq!(created.status(), 201);
        let created = response_json(created).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let secret = WebhookSecret::parse(created["secret"].as_str().unwrap()).unwrap();

        // The test event, signed with the secret the create showed.
        let test = app.client.post(app.url(&format!("/webhooks/endpoints/{id}/test")))
            .bearer_auth(&app.api_key).send().await.unwrap();
        assert_eq!(test.status(), 202);
        let got = receiver.wait_for(1).await;
        assert_eq!(got[0].json()["type"], "webhook.test");
        assert!(verifies(&got[0], &secret));

        // A post's event, signed by both secrets once the secret is rotated.
        let rotated = app.client.post(app.url(&format!("/webhooks/endpoints/{id}/rotate-secret")))
            .bearer_auth(&app.api_key).send().await.unwrap();
        let rotated = response_json(rotated).await;
        let new_secret = WebhookSecret::parse(rotated["secret"].as_str().unwrap()).unwrap();
        let tracking_id = post_now(app).await;
        let got = receiver.wait_for(2).await;
        assert_eq!(got[1].json()["type"], "post.posted");
        assert_eq!(got[1].json()["data"]["tracking_id"], tracking_id);
        assert!(verifies(&got[1], &secret), "the old secret still signs for a day");
        assert!(verifies(&got[1], &new_secret));

        // The deliveries log shows both attempts, newest first, answered 204.
        let deadline = Instant::now() + PATIENCE;
        let log = loop {
            let log = response_json(app.get(&format!("/webhooks/endpoints/{id}/deliveries"))
                .send().await.unwrap()).await;
            if log["deliveries"].as_array().is_some_and(|d| d.len() == 2) || Instant::now() > deadline {
                break log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let entries = log["deliveries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{log}");
        assert_eq!(entries[0]["type"], "post.posted");
        assert_eq!(entries[1]["type"], "webhook.test");
        assert!(entries.iter().all(|e| e["http_status"] == 204), "{log}");
        assert_eq!(entries[0]["event_id"], got[1].header("webhook-id"));
    }
    async fn a_change_reaches_the_endpoint_as_the_feeds_event_signed_by_standard_webhooks(app) [delivering()] {
        answer_creates(app).await;
        let receiver = Receiver::start(Vec::new(), Reply::Answer(200, Vec::new(), "thanks".into())).await;
        let endpoint = add_endpoint(app, &receiver.url()).await;
        let tracking_id = post_now(app).await;

        let got = receiver.wait_for(1).await;
        let request = &got[0];
        let event = feed(app, 1).await.remove(0);
        assert_eq!(request.json(), event, "the body is the feed's event");
        assert_eq!(event["type"], "post.posted");
        assert_eq!(event["data"]["tracking_id"], tracking_id);
        assert_eq!(request.header("webhook-id"), event["id"].as_str().unwrap());
        assert_eq!(request.header("content-type"), "application/json");
        let sent_at: i64 = request.header("webhook-timestamp").parse().unwrap();
        assert!((Utc::now().timestamp() - sent_at).abs() < 60, "{sent_at}");
        let signature = request.header("webhook-signature");
        assert_eq!(signature.split(' ').count(), 1, "{signature}");
        assert!(verifies(request, &endpoint.secret), "the official library accepts it");
        assert!(!verifies(request, &WebhookSecret::generate()), "and another secret does not");

        let done = deliveries_when(app, endpoint.id, |d| d.iter().all(|d| d.0 != "pending")).await;
        assert_eq!(done, vec![("delivered".into(), "1".into(), None)]);
        let logged = attempts(app, endpoint.id).await;
        assert_eq!(logged.len(), 1);
        assert_eq!(logged[0][0].as_deref(), Some("1"));
        assert_eq!(logged[0][1].as_deref(), Some("200"));
        assert_eq!(logged[0][2], None);
        assert_eq!(logged[0][3].as_deref(), Some("thanks"));
        assert_eq!(logged[0][4].as_deref(), event["id"].as_str());
        assert_eq!(endpoint_state(app, endpoint.id).await, ("0".into(), None, "0".into()));
        // Delivered once: nothing more comes.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(receiver.got().len(), 1);

        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"mosaic_webhook_deliveries_total{outcome="delivered"}"#), "{metrics}");
        assert!(metrics.contains("mosaic_webhook_queue_depth"), "{metrics}");
        assert!(metrics.contains("mosaic_webhook_oldest_pending_seconds"), "{metrics}");
    }

    async fn during_a_rotation_both_secrets_sign_and_an_expired_previous_one_does_not(app) [delivering()] {
        answer_creates(app).await;
        let (rotating, expired) = (Receiver::accepting().await, Receiver::accepting().await);
        let old = WebhookSecret::generate();
        let in_rotation = add_endpoint_with(app, &rotating.url(), Some((&old, Utc::now() + chrono::Duration::hours(24))), None).await;
        let stale = WebhookSecret::generate();
        let after_rotation = add_endpoint_with(app, &expired.url(), Some((&stale, Utc::now() - chrono::Duration::seconds(1))), None).await;
        post_now(app).await;

        let request = rotating.wait_for(1).await.remove(0);
        assert_eq!(request.header("webhook-signature").split(' ').count(), 2);
        assert!(verifies(&request, &in_rotation.secret), "the new secret verifies");
        assert!(verifies(&request, &old), "the old secret verifies");
        let request = expired.wait_for(1).await.remove(0);
        assert_eq!(request.header("webhook-signature").split(' ').count(), 1);
        assert!(verifies(&request, &after_rotation.secret));
        assert!(!verifies(&request, &stale), "the previous secret stopped signing");
    }

    async fn a_failed_attempt_is_retried_with_the_same_id_until_it_succeeds(app) [delivering()] {
        answer_creates(app).await;
        let receiver = Receiver::start(vec![status(500), Reply::Answer(302, vec![("location", "http://127.0.0.1:9/elsewhere".into())], String::new())], status(204)).await;
        let endpoint = add_endpoint(app, &receiver.url()).await;
        post_now(app).await;

        let got = receiver.wait_for(3).await;
        let ids: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
        assert!(ids.iter().all(|id| *id == ids[0] && id.starts_with("evt_")), "{ids:?}");
        assert_eq!(got[0].body, got[2].body, "the same body on every attempt");
        for request in &got {
            assert!(verifies(request, &endpoint.secret));
        }
        // The schedule's waits (one second, less a tenth at most) lie between the attempts.
        for pair in got.windows(2) {
            assert!(pair[1].at - pair[0].at >= Duration::from_millis(850), "{:?}", pair[1].at - pair[0].at);
        }
        let done = deliveries_when(app, endpoint.id, |d| d.iter().all(|d| d.0 != "pending")).await;
        assert_eq!(done, vec![("delivered".into(), "3".into(), None)]);
        let logged = attempts(app, endpoint.id).await;
        let statuses: Vec<_> = logged.iter().map(|a| (a[0].clone().unwrap(), a[1].clone().unwrap())).collect();
        assert_eq!(statuses, [("1", "500"), ("2", "302"), ("3", "204")].map(|(a, s)| (a.to_owned(), s.to_owned())));
        // The redirect was not followed (its target is a closed port, and a followed redirect
        // would have been logged as no answer).
        assert_eq!(endpoint_state(app, endpoint.id).await, ("0".into(), None, "0".into()));
    }

    async fn a_delivery_fails_once_the_schedule_is_used_up(app) [delivering()] {
        answer_creates(app).await;
        let receiver = Receiver::start(Vec::new(), status(500)).await;
        let endpoint = add_endpoint(app, &receiver.url()).await;
        post_now(app).await;

        let done = deliveries_when(app, endpoint.id, |d| d.iter().all(|d| d.0 != "pending")).await;
        assert_eq!(done, vec![("failed".into(), "3".into(), Some("the endpoint answered 500".into()))]);
        assert_eq!(receiver.got().len(), 3, "one attempt and the schedule's two retries");
        // Failing, not yet for long enough to be disabled.
        assert_eq!(endpoint_state(app, endpoint.id).await, ("0".into(), None, "1".into()));
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"mosaic_webhook_deliveries_total{outcome="retrying"}"#), "{metrics}");
        assert!(metrics.contains(r#"mosaic_webhook_deliveries_total{outcome="failed"}"#), "{metrics}");
    }

    async fn retry_after_on_429_is_waited_before_the_next_attempt(app) [delivering()] {
        answer_creates(app).await;
        let receiver = Receiver::start(vec![Reply::Answer(429, vec![("retry-after", "3".into())], String::new())], status(204)).await;
        let endpoint = add_endpoint(app, &receiver.url()).await;
        post_now(app).await;

        let got = receiver.wait_for(2).await;
        let waited = got[1].at - got[0].at;
        // Three seconds, not the schedule's one.
        assert!(waited >= Duration::from_millis(2950), "{waited:?}");
        let done = deliveries_when(app, endpoint.id, |d| d.iter().all(|d| d.0 != "pending")).await;
        assert_eq!(done, vec![("delivered".into(), "2".into(), None)]);
    }

    async fn gone_disables_the_endpoint_and_no_further_event_is_queued_for_it(app) [delivering()] {
        answer_creates(app).await;
        let receiver = Receiver::start(Vec::new(), status(410)).await;
        let endpoint = add_endpoint(app, &receiver.url()).await;
        post_now(app).await;

        let done = deliveries_when(app, endpoint.id, |d| d.iter().all(|d| d.0 != "pending")).await;
        assert_eq!(done, vec![("failed".into(), "1".into(), Some("the endpoint answered 410".into()))]);
        let (disabled, reason, _) = endpoint_state(app, endpoint.id).await;
        assert_eq!((disabled.as_str(), reason.as_deref()), ("1", Some("the endpoint answered 410 Gone")));
        post_now(app).await;
        feed(app, 2).await;
        assert_eq!(deliveries(app, endpoint.id).await.len(), 1, "nothing queued for a disabled endpoint");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(receiver.got().len(), 1);
    }

    async fn an_endpoint_failing_for_the_disable_after_period_is_disabled(app) [delivering_with(&[("WEBHOOK_DISABLE_AFTER_HOURS", "1")])] {
        answer_creates(app).await;
        let receiver = Receiver::start(Vec::new(), status(500)).await;
        let endpoint = add_endpoint_with(app, &receiver.url(), None, Some(Utc::now() - chrono::Duration::minutes(61))).await;
        let fresh_receiver = Receiver::start(Vec::new(), status(500)).await;
        let fresh = add_endpoint(app, &fresh_receiver.url()).await;
        post_now(app).await;

        let done = deliveries_when(app, endpoint.id, |d| d.iter().all(|d| d.0 != "pending")).await;
        assert_eq!(done, vec![("failed".into(), "1".into(), Some("the endpoint answered 500".into()))]);
        let (disabled, reason, failing) = endpoint_state(app, endpoint.id).await;
        assert_eq!((disabled.as_str(), failing.as_str()), ("1", "1"));
        assert_eq!(reason.as_deref(), Some("every attempt failed for 1 hour"));
        // One failing only since now is not disabled by the same failures.
        fresh_receiver.wait_for(1).await;
        assert_eq!(endpoint_state(app, fresh.id).await.0, "0");
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"mosaic_webhook_deliveries_total{outcome="endpoint_disabled"}"#), "{metrics}");
    }

    async fn a_frozen_endpoint_holds_its_own_slots_and_never_delays_another(app) [delivering_with(&[("WEBHOOK_CONCURRENCY", "4"), ("WEBHOOK_CONCURRENCY_PER_ENDPOINT", "2")])] {
        answer_creates(app).await;
        let frozen = Receiver::start(Vec::new(), Reply::Frozen).await;
        let fast = Receiver::accepting().await;
        add_endpoint(app, &frozen.url()).await;
        let quick = add_endpoint(app, &fast.url()).await;
        for _ in 0..5 {
            post_now(app).await;
        }
        // Every event reaches the answering endpoint while the frozen one holds its two.
        let got = fast.wait_for(5).await;
        let ids: std::collections::HashSet<String> = got.iter().map(|r| r.header("webhook-id")).collect();
        assert_eq!(ids.len(), 5);
        deliveries_when(app, quick.id, |d| d.len() == 5 && d.iter().all(|d| d.0 == "delivered")).await;
        assert_eq!(frozen.got().len(), 2, "the per-endpoint bound");
        // A dead endpoint is no reason for the service to look unready.
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
    }

    async fn a_huge_answer_is_cut_at_1_kib_without_reading_it_to_its_end(app) [delivering()] {
        answer_creates(app).await;
        let receiver = Receiver::start(Vec::new(), Reply::Endless).await;
        let endpoint = add_endpoint(app, &receiver.url()).await;
        post_now(app).await;

        // An endless body: had it been read to its end, the attempt would never be recorded as
        // answered (the timeout would end it as no answer).
        let done = deliveries_when(app, endpoint.id, |d| d.iter().all(|d| d.0 != "pending")).await;
        assert_eq!(done, vec![("delivered".into(), "1".into(), None)]);
        let logged = attempts(app, endpoint.id).await;
        assert_eq!(logged[0][1].as_deref(), Some("200"));
        assert_eq!(logged[0][3].as_deref(), Some("a".repeat(EXCERPT_BYTES).as_str()));
    }

    async fn a_name_resolving_to_loopback_is_refused_at_connect_time(app) [delivering_with(&[("WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")])] {
        answer_creates(app).await;
        let receiver = Receiver::accepting().await;
        let by_name = add_endpoint(app, &format!("http://localhost:{}/hook", receiver.port)).await;
        let by_address = add_endpoint(app, &receiver.url()).await;
        post_now(app).await;

        let logged = loop {
            let (a, b) = (attempts(app, by_name.id).await, attempts(app, by_address.id).await);
            if !a.is_empty() && !b.is_empty() {
                break (a, b);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let error = logged.0[0][2].clone().unwrap();
        assert!(error.starts_with("refused: localhost resolves to "), "{error}");
        assert_eq!(logged.0[0][1], None, "no status: nothing was sent");
        let error = logged.1[0][2].clone().unwrap();
        assert!(error.starts_with("refused: the url points to 127.0.0.1"), "{error}");
        assert_eq!(deliveries(app, by_name.id).await[0].0, "pending", "retried on the schedule");
        assert!(receiver.got().is_empty(), "nothing reached the receiver");
    }

    async fn a_lease_left_by_a_dead_worker_is_attempted_again_with_the_same_id(app) [delivering_with(&[("WEBHOOK_DELIVERY", "false")])] {
        answer_creates(app).await;
        let receiver = Receiver::accepting().await;
        let endpoint = add_endpoint(app, &receiver.url()).await;
        post_now(app).await;
        deliveries_when(app, endpoint.id, |d| d.len() == 1).await;

        // A worker claims it with a short lease, then dies before recording anything.
        let claim = |lease: chrono::Duration| {
            let now = Utc::now();
            ClaimQuery { now, lease_until: now + lease, lease_token: Uuid::new_v4(), limit: 10, per_endpoint: 4, busy: Vec::new() }
        };
        let dead = app.store.claim_deliveries(&claim(chrono::Duration::seconds(2))).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert!(app.store.claim_deliveries(&claim(chrono::Duration::seconds(2))).await.unwrap().is_empty(), "leased");

        let stop = CancellationToken::new();
        let worker = Deliverer::new(app.store.clone(), &app.config.events.webhooks).unwrap();
        let running = tokio::spawn(worker.run(stop.clone()));
        let got = receiver.wait_for(1).await;
        assert_eq!(got[0].header("webhook-id"), dead[0].event_id);
        assert!(verifies(&got[0], &endpoint.secret));
        let done = deliveries_when(app, endpoint.id, |d| d.iter().all(|d| d.0 != "pending")).await;
        assert_eq!(done, vec![("delivered".into(), "1".into(), None)]);
        stop.cancel();
        running.await.unwrap();

        // The dead worker's late word is logged, and changes nothing.
        let late = mosaic_social::store::FinishedAttempt {
            delivery_id: dead[0].id,
            endpoint_id: endpoint.id,
            lease_token: dead[0].lease_token,
            event_id: dead[0].event_id.clone(),
            event_type: dead[0].event_type.clone(),
            attempt: 1,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            duration_ms: 1,
            http_status: Some(500),
            error: None,
            response_excerpt: None,
            next: mosaic_social::domain::delivery_policy::DeliveryNext::Failed,
            reason: Some("late".into()),
            endpoint: mosaic_social::domain::delivery_policy::EndpointChange::Unchanged,
        };
        assert_eq!(
            app.store.finish_deliveries(&[late]).await.unwrap(),
            vec![Finished::LeaseLost]
        );
        assert_eq!(deliveries(app, endpoint.id).await, vec![("delivered".into(), "1".into(), None)]);
        assert_eq!(attempts(app, endpoint.id).await.len(), 2);
    }

    async fn a_batch_of_attempts_is_recorded_each_by_its_own_lease(app) [delivering_with(&[("WEBHOOK_DELIVERY", "false")])] {
        use mosaic_social::domain::delivery_policy::{DeliveryNext, EndpointChange};
        answer_creates(app).await;
        let endpoint = add_endpoint(app, "https://example.com/hook").await;
        post_now(app).await;
        post_now(app).await;
        deliveries_when(app, endpoint.id, |d| d.len() == 2).await;
        let now = Utc::now();
        let claimed = app.store.claim_deliveries(&ClaimQuery {
            now, lease_until: now + chrono::Duration::seconds(60), lease_token: Uuid::new_v4(),
            limit: 10, per_endpoint: 4, busy: Vec::new(),
        }).await.unwrap();
        assert_eq!(claimed.len(), 2);
        let finished = |delivery: &mosaic_social::store::ClaimedDelivery, token: Uuid, next, endpoint| {
            mosaic_social::store::FinishedAttempt {
                delivery_id: delivery.id,
                endpoint_id: delivery.endpoint_id,
                lease_token: token,
                event_id: delivery.event_id.clone(),
                event_type: delivery.event_type.clone(),
                attempt: 1,
                started_at: now,
                finished_at: now,
                duration_ms: 3,
                http_status: Some(204),
                error: None,
                response_excerpt: Some(String::new()),
                next,
                reason: None,
                endpoint,
            }
        };
        let since = at(now);
        let batch = [
            // Delivered, under its lease; the endpoint is not failing.
            finished(&claimed[0], claimed[0].lease_token, DeliveryNext::Delivered, EndpointChange::Succeeded),
            // Another worker's stale word about the second: logged, not applied; its endpoint
            // change is (the endpoint did answer so), after the success before it.
            finished(&claimed[1], Uuid::new_v4(), DeliveryNext::Failed, EndpointChange::Failing { since: now }),
        ];
        assert_eq!(
            app.store.finish_deliveries(&batch).await.unwrap(),
            vec![Finished::Recorded, Finished::LeaseLost]
        );
        let states: Vec<(String, String, Option<String>)> = deliveries(app, endpoint.id).await;
        let by_id = |id: i64| format!(
            "select state, cast(attempts as text), \
             cast(case when lease_token is null then 0 else 1 end as text) \
             from webhook_deliveries where id = {id}"
        );
        assert_eq!(rows(app, &by_id(claimed[0].id)).await, vec![vec![Some("delivered".into()), Some("1".into()), Some("0".into())]]);
        assert_eq!(rows(app, &by_id(claimed[1].id)).await, vec![vec![Some("pending".into()), Some("0".into()), Some("1".into())]], "{states:?}");
        let logged = attempts(app, endpoint.id).await;
        assert_eq!(logged.len(), 2, "both attempts are logged");
        assert_eq!(endpoint_state(app, endpoint.id).await, ("0".into(), None, "1".into()), "failing since {since}");
    }

    async fn a_test_delivery_sends_its_stored_payload_signed(app) [delivering()] {
        let receiver = Receiver::accepting().await;
        let endpoint = add_endpoint(app, &receiver.url()).await;
        let payload = json!({
            "id": "evt_00000000000000000000000000000001",
            "type": "webhook.test",
            "timestamp": "2026-12-02T12:00:00Z",
            "data": {"endpoint_id": endpoint.id, "message": "hello"},
        });
        let now = at(Utc::now());
        execute(app, &format!(
            "insert into webhook_deliveries (endpoint_id, event_id, event_type, payload, \
             next_attempt_at, created_at) values ('{}', '{}', 'webhook.test', '{payload}', '{now}', '{now}')",
            endpoint.id, payload["id"].as_str().unwrap(),
        )).await;

        let request = receiver.wait_for(1).await.remove(0);
        assert_eq!(request.json(), payload);
        assert_eq!(request.header("webhook-id"), payload["id"].as_str().unwrap());
        assert!(verifies(&request, &endpoint.secret));
        deliveries_when(app, endpoint.id, |d| d == [("delivered".to_owned(), "1".to_owned(), None)]).await;
    }

    async fn webhooks_listen_verifies_and_prints_what_the_worker_sends(app) [delivering()] {
        answer_creates(app).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let endpoint = add_endpoint(app, &format!("http://127.0.0.1:{port}/anything")).await;
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let kept = lines.clone();
        let router = mosaic_social::events::listen::router(
            endpoint.secret.clone(),
            Arc::new(move |line| kept.lock().unwrap().push(line)),
        );
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        post_now(app).await;

        let done = deliveries_when(app, endpoint.id, |d| d.iter().all(|d| d.0 != "pending") && !d.is_empty()).await;
        assert_eq!(done, vec![("delivered".into(), "1".into(), None)]);
        assert_eq!(attempts(app, endpoint.id).await[0][1].as_deref(), Some("204"));
        let event = feed(app, 1).await.remove(0);
        let lines = lines.lock().unwrap().clone();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let expected = format!("verified {} post.posted {{", event["id"].as_str().unwrap());
        assert!(lines[0].starts_with(&expected), "{lines:?}");
    }

    async fn one_endpoints_backlog_cannot_take_every_slot_of_a_claim(app) [delivering_with(&[("WEBHOOK_DELIVERY", "false")])] {
        answer_creates(app).await;
        let receiver = Receiver::accepting().await;
        let backlogged = add_endpoint(app, &receiver.url()).await;
        for _ in 0..6 {
            post_now(app).await;
        }
        // The other endpoint's one delivery is younger than all six of the first's.
        let other = add_endpoint(app, &receiver.url()).await;
        post_now(app).await;
        deliveries_when(app, other.id, |d| d.len() == 1).await;
        let claim = |limit: u32, busy: Vec<(Uuid, u32)>| {
            let now = Utc::now() + chrono::Duration::seconds(1);
            ClaimQuery { now, lease_until: now + chrono::Duration::seconds(30), lease_token: Uuid::new_v4(), limit, per_endpoint: 4, busy }
        };
        let per_endpoint = |claimed: &[mosaic_social::store::ClaimedDelivery]| {
            let mut counts: HashMap<Uuid, usize> = HashMap::new();
            for d in claimed {
                *counts.entry(d.endpoint_id).or_default() += 1;
            }
            (counts.get(&backlogged.id).copied().unwrap_or(0), counts.get(&other.id).copied().unwrap_or(0))
        };
        let first = app.store.claim_deliveries(&claim(6, Vec::new())).await.unwrap();
        assert_eq!(per_endpoint(&first), (4, 1), "four of the backlog, and the other's one");
        // Oldest due first within an endpoint: the backlog's four oldest.
        let mut claimed: Vec<String> = first
            .iter()
            .filter(|d| d.endpoint_id == backlogged.id)
            .map(|d| d.event_id.clone())
            .collect();
        claimed.sort();
        let oldest = rows(app, &format!(
            "select event_id from webhook_deliveries where endpoint_id = '{}' order by id limit 4",
            backlogged.id
        )).await;
        let mut oldest: Vec<String> = oldest.into_iter().map(|r| r[0].clone().unwrap()).collect();
        oldest.sort();
        assert_eq!(claimed, oldest);
        // What the claiming process has in flight counts against the endpoint's share.
        let second = app.store.claim_deliveries(&claim(6, vec![(backlogged.id, 3)])).await.unwrap();
        assert_eq!(per_endpoint(&second), (1, 0));
        let third = app.store.claim_deliveries(&claim(6, vec![(backlogged.id, 4)])).await.unwrap();
        assert_eq!(per_endpoint(&third), (0, 0));
        assert!(first.iter().chain(&second).all(|d| d.secret.starts_with("enc:v1:")), "sealed, as stored");
    }

    async fn a_secret_this_keyring_cannot_open_sends_nothing_and_blames_no_endpoint(app) [delivering()] {
        answer_creates(app).await;
        let receiver = Receiver::accepting().await;
        let stranger = Secrets::new(Some(Keyring::new(mosaic_social::secrets::SecretsKey::generate())));
        let endpoint = insert_endpoint(&app.database, &stranger, app.organization_id, &receiver.url(), None, None).await;
        post_now(app).await;

        let deadline = Instant::now() + PATIENCE;
        let logged = loop {
            let logged = attempts(app, endpoint.id).await;
            if !logged.is_empty() {
                break logged;
            }
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let error = logged[0][2].clone().unwrap();
        assert!(error.starts_with("not sent: the endpoint's secret could not be opened"), "{error}");
        assert!(!error.contains("whsec_"), "{error}");
        assert_eq!(logged[0][1], None);
        assert!(receiver.got().is_empty(), "nothing unsigned or wrongly signed goes out");
        assert_eq!(endpoint_state(app, endpoint.id).await, ("0".into(), None, "0".into()));
    }

    async fn a_delivery_whose_event_was_purged_fails_with_its_reason(app) [delivering_with(&[("WEBHOOK_DELIVERY", "false")])] {
        answer_creates(app).await;
        let receiver = Receiver::accepting().await;
        let endpoint = add_endpoint(app, &receiver.url()).await;
        post_now(app).await;
        deliveries_when(app, endpoint.id, |d| d.len() == 1).await;
        execute(app, "delete from social_post_events").await;

        let stop = CancellationToken::new();
        let worker = Deliverer::new(app.store.clone(), &app.config.events.webhooks).unwrap();
        let running = tokio::spawn(worker.run(stop.clone()));
        let done = deliveries_when(app, endpoint.id, |d| d.iter().all(|d| d.0 != "pending")).await;
        stop.cancel();
        running.await.unwrap();
        assert_eq!(done[0].0, "failed");
        assert!(done[0].2.as_deref().unwrap().contains("no longer kept"), "{done:?}");
        assert!(receiver.got().is_empty());
        // Not the endpoint's fault.
        assert_eq!(endpoint_state(app, endpoint.id).await, ("0".into(), None, "0".into()));
        // Retention takes finished deliveries with their attempts, and only those finished before.
        assert_eq!(attempts(app, endpoint.id).await.len(), 1);
        let hour_ago = Utc::now() - chrono::Duration::hours(1);
        assert_eq!(app.store.purge_deliveries(hour_ago, 100).await.unwrap(), 0);
        let later = Utc::now() + chrono::Duration::seconds(1);
        assert_eq!(app.store.purge_deliveries(later, 100).await.unwrap(), 1);
        assert!(deliveries(app, endpoint.id).await.is_empty());
        assert!(attempts(app, endpoint.id).await.is_empty());
    }
}

/// A frozen endpoint is given up after the attempt's timeout, and retried.
mod a_receiver_that_never_answers_is_given_up_after_the_timeout {
    use super::*;

    fn short_timeout(config: &mut Config) {
        quick_poll(config);
        config.events.webhooks.timeout = Duration::from_secs(1);
    }

    #[tokio::test]
    async fn sqlite() {
        let options = Options {
            configure: Some(short_timeout),
            ..delivering()
        };
        let app = TestApp::spawn_with(Backend::Sqlite, options).await.unwrap();
        answer_creates(&app).await;
        let receiver = Receiver::start(Vec::new(), Reply::Frozen).await;
        let endpoint = add_endpoint(&app, &receiver.url()).await;
        post_now(&app).await;
        let deadline = Instant::now() + PATIENCE;
        let logged = loop {
            let logged = attempts(&app, endpoint.id).await;
            if !logged.is_empty() {
                break logged;
            }
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let error = logged[0][2].clone().unwrap();
        assert!(error.starts_with("timed out"), "{error}");
        assert_eq!(logged[0][1], None);
        drop(receiver);
        app.finish().await;
    }
}

/// Two serving processes on one Postgres: every event is delivered, each once (with answers of
/// success, a second delivery would only follow a failed or unanswered attempt).
#[tokio::test]
async fn two_workers_on_one_postgres_deliver_every_event_once() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, delivering()).await else {
        return;
    };
    answer_creates(&app).await;
    let receiver = Receiver::accepting().await;
    let endpoint = add_endpoint(&app, &receiver.url()).await;
    let replica = app.replica().await;
    let stop = CancellationToken::new();
    let second = Deliverer::new(replica.store.clone(), &app.config.events.webhooks).unwrap();
    let running = tokio::spawn(second.run(stop.clone()));

    const EVENTS: usize = 12;
    for _ in 0..EVENTS {
        post_now(&app).await;
    }
    deliveries_when(&app, endpoint.id, |d| {
        d.len() == EVENTS && d.iter().all(|d| d.0 == "delivered")
    })
    .await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for request in receiver.got() {
        *counts.entry(request.header("webhook-id")).or_default() += 1;
    }
    assert_eq!(counts.len(), EVENTS, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    assert_eq!(attempts(&app, endpoint.id).await.len(), EVENTS);
    stop.cancel();
    running.await.unwrap();
    drop(receiver);
    app.finish().await;
}

/// The built binary killed (SIGKILL) while its attempt waits for the endpoint: after a restart,
/// once the lease runs out, the delivery is attempted again with the same `webhook-id`, and
/// delivered.
async fn a_server_killed_mid_delivery_delivers_after_a_restart(backend: Backend) {
    let Some(database) = Database::create(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = database.url().to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ayrshare = format!("http://{}/api", listener.local_addr().unwrap());
    let mock =
        mosaic_social::mock_ayrshare::router(mosaic_social::mock_ayrshare::MockConfig::default());
    tokio::spawn(async move { axum::serve(listener, mock).await.unwrap() });
    let key = crate::cli::last_line_of_success(
        &crate::cli::run(dir.path(), Some(&url), "keys create --organization acme").await,
    );
    let organization: Uuid = rows_on(&database, "select cast(id as text) from organizations").await
        [0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    let secrets = Secrets::new(Some(Keyring::from_base64(SECRETS_KEY, None).unwrap()));
    let receiver = Receiver::start(vec![Reply::Frozen], status(204)).await;
    let endpoint = insert_endpoint(
        &database,
        &secrets,
        organization,
        &receiver.url(),
        None,
        None,
    )
    .await;
    let env = [
        ("SECRETS_KEY", SECRETS_KEY),
        ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
        ("WEBHOOK_ALLOW_HTTP", "true"),
        ("WEBHOOK_LEASE_SECONDS", "16"),
        ("RECONCILE_INTERVAL_SECS", "0"),
    ];

    let (mut first, address, _lines) =
        crate::processes::start_serve(dir.path(), &url, &ayrshare, &env).await;
    let created = reqwest::Client::new()
        .post(format!("{address}/social/post"))
        .bearer_auth(&key)
        .json(&json!({"post": "killed mid-delivery", "platforms": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let frozen = receiver.wait_for(1).await.remove(0);
    first.kill().await.unwrap(); // SIGKILL: the attempt is never recorded.
    let pending = "select state, cast(attempts as text) from webhook_deliveries";
    assert_eq!(
        rows_on(&database, pending).await,
        vec![vec![Some("pending".to_owned()), Some("0".to_owned())]]
    );

    let (mut second, _, _lines) =
        crate::processes::start_serve(dir.path(), &url, &ayrshare, &env).await;
    let again = tokio::time::timeout(Duration::from_secs(60), receiver.wait_for(2))
        .await
        .expect("attempted again once the lease ran out")
        .remove(1);
    assert_eq!(again.header("webhook-id"), frozen.header("webhook-id"));
    assert_eq!(again.body, frozen.body);
    assert!(verifies(&again, &endpoint.secret));
    let deadline = Instant::now() + PATIENCE;
    while rows_on(&database, pending).await[0][0].as_deref() != Some("delivered") {
        assert!(Instant::now() < deadline, "not recorded as delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().await.unwrap();
    drop(receiver);
}

#[tokio::test]
async fn a_server_killed_mid_delivery_delivers_after_a_restart_on_sqlite() {
    a_server_killed_mid_delivery_delivers_after_a_restart(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_server_killed_mid_delivery_delivers_after_a_restart_on_postgres() {
    a_server_killed_mid_delivery_delivers_after_a_restart(Backend::Postgres).await;
}

/// Real deliveries, one signed by a single secret and one during a rotation, written to the file
/// `WEBHOOK_VECTORS_OUT` names (nothing without it): `.ci/webhook-smoke` has the official Python
/// and Node libraries verify them, with each secret, within their five-minute window.
#[tokio::test]
async fn deliveries_for_the_official_python_and_node_libraries() {
    let Ok(out) = std::env::var("WEBHOOK_VECTORS_OUT") else {
        return;
    };
    let app = TestApp::spawn_with(Backend::Sqlite, delivering())
        .await
        .unwrap();
    answer_creates(&app).await;
    let (single, rotating) = (Receiver::accepting().await, Receiver::accepting().await);
    let plain = add_endpoint(&app, &single.url()).await;
    let old = WebhookSecret::generate();
    let until = Utc::now() + chrono::Duration::hours(24);
    let rotated = add_endpoint_with(&app, &rotating.url(), Some((&old, until)), None).await;
    post_now(&app).await;
    let vector = |request: Received, secrets: Vec<&WebhookSecret>| {
        json!({
            "secrets": secrets.iter().map(|s| s.reveal().expose_secret().to_owned()).collect::<Vec<_>>(),
            "headers": {
                "webhook-id": request.header("webhook-id"),
                "webhook-timestamp": request.header("webhook-timestamp"),
                "webhook-signature": request.header("webhook-signature"),
            },
            "body": String::from_utf8(request.body.to_vec()).unwrap(),
        })
    };
    let vectors = json!([
        vector(single.wait_for(1).await.remove(0), vec![&plain.secret]),
        vector(
            rotating.wait_for(1).await.remove(0),
            vec![&rotated.secret, &old]
        ),
    ]);
    std::fs::write(&out, serde_json::to_string_pretty(&vectors).unwrap()).unwrap();
    app.finish().await;
}
