//! The test harness: the real app on port 0, a fresh database per test (SQLite always, Postgres
//! when configured and always in CI), and a wiremock Ayrshare.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mosaic_social::app::{App, Mode};
use mosaic_social::config::Config;
use mosaic_social::domain::ApiKeySecret;
use mosaic_social::http::ConnectionLimits;
use mosaic_social::publishing::Publisher;
use mosaic_social::store::{DynStore, TrackingRecord};
use reqwest::{RequestBuilder, Response};
use serde_json::Value;
use sqlx::Connection;
use tokio::sync::oneshot;
use url::Url;
use uuid::Uuid;
use wiremock::MockServer;

/// The Ayrshare key the app is configured with.
pub const AYRSHARE_KEY: &str = "ayr-test-key-5f3a9c";

/// The `SECRETS_KEY` every app under test has unless the test says otherwise.
pub const TEST_SECRETS_KEY: &str = "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to build the app under test.
#[derive(Clone, Debug)]
pub struct Options {
    pub ayrshare_timeout: Duration,
    pub x_credentials: bool,
    /// Ayrshare's base URL when it is not the wiremock server (a closed port, the shipped mock).
    pub ayrshare_base_url: Option<String>,
    /// Further settings, as environment variables.
    pub env: Vec<(&'static str, String)>,
    /// Reach the database through this local port (a proxy the test controls) instead.
    pub database_port: Option<u16>,
    /// Query parameters added to the app's `DATABASE_URL`, such as `sslmode=disable`.
    pub database_query: Option<&'static str>,
    /// `RATE_LIMIT_PER_MINUTE` and `RATE_LIMIT_BURST`; off (0) unless a test is about it.
    pub rate_limit: (u32, u32),
    pub connection_limits: ConnectionLimits,
    /// Changes the configuration after it is read, for what the environment cannot express
    /// (sub-second polls and timeouts).
    pub configure: Option<fn(&mut Config)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ayrshare_timeout: Duration::from_secs(5),
            x_credentials: false,
            ayrshare_base_url: None,
            env: Vec::new(),
            database_port: None,
            database_query: None,
            rate_limit: (0, 60),
            connection_limits: ConnectionLimits::default(),
            configure: None,
        }
    }
}

/// A running app and what a test needs around it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub ayrshare: MockServer,
    pub store: DynStore,
    /// The app's use cases (to run a reconciler pass by hand).
    pub publisher: Publisher,
    /// A key of the organization `acme`.
    pub api_key: String,
    pub organization_id: Uuid,
    pub primary_workspace_id: Uuid,
    pub database: Database,
    /// The settings the app was built with, to build another on the same database.
    pub config: Config,
    shutdown: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    server: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A fresh, empty database for one test.
pub enum Database {
    Sqlite {
        url: String,
        dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        url: String,
        name: String,
    },
}

/// The admin URL of the test Postgres, or `None` when it may be skipped here.
///
/// `DATABASE_URL=postgres://...` selects it. Without it the Postgres half is skipped, except in CI
/// (`CI` set) or with `MOSAIC_REQUIRE_POSTGRES=1`, where a missing database fails the test.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Some(url),
        _ => {
            let required = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
                || std::env::var("MOSAIC_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "Postgres tests are required here (CI or MOSAIC_REQUIRE_POSTGRES=1), \
                 but DATABASE_URL does not name a postgres:// database"
            );
            // Once per run, and past libtest's output capture, so that `cargo test` shows it.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED the Postgres half of the tests: set DATABASE_URL=postgres://... to run it"
                );
            });
            None
        }
    }
}

impl Database {
    /// Creates it; `None` when that backend is skipped here.
    pub async fn create(backend: Backend) -> Option<Database> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}/test.db", dir.path().display());
                Some(Database::Sqlite { url, dir })
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url()?;
                let name = format!("mosaic_test_{}", Uuid::new_v4().simple());
                let mut admin = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .expect("connect to the test Postgres (DATABASE_URL)");
                // Postgres refuses a `create database` while another session uses the template
                // (other tests creating theirs at the same moment): try again briefly.
                let mut attempt = 0;
                while let Err(e) = sqlx::query(&format!("create database {name}"))
                    .execute(&mut admin)
                    .await
                {
                    attempt += 1;
                    assert!(attempt < 20, "create a test database: {e}");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                admin.close().await.ok();
                let mut url = Url::parse(&admin_url).expect("DATABASE_URL parses");
                url.set_path(&name);
                Some(Database::Postgres {
                    admin_url,
                    url: url.to_string(),
                    name,
                })
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Database::Sqlite { url, .. } | Database::Postgres { url, .. } => url,
        }
    }

    /// Moves `column` of every row of `table` back to `by` before now, straight in the
    /// database: as if each row had been written (or changed) then.
    pub async fn backdate(&self, table: &str, column: &str, by: chrono::Duration) {
        let sql = format!("update {table} set {column} = $1");
        let then = Utc::now() - by;
        match self {
            Database::Sqlite { url, .. } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query(&sql)
                    .bind(then)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            Database::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(&sql)
                    .bind(then)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
    }
}

/// A Postgres test database is dropped when its handle is, also when the test failed: from a
/// thread of its own, since `Drop` cannot await and may run inside the test's runtime.
impl Drop for Database {
    fn drop(&mut self) {
        let Database::Postgres {
            admin_url, name, ..
        } = self
        else {
            return;
        };
        let (admin_url, database) = (admin_url.clone(), name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!("drop database if exists {database} with (force)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {name}: {dropped:?}");
        }
    }
}

impl TestApp {
    /// Starts the app on `backend`; `None` when that backend is skipped here.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        TestApp::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, options: Options) -> Option<TestApp> {
        let database = Database::create(backend).await?;
        let ayrshare = MockServer::start().await;
        let base_url = options
            .ayrshare_base_url
            .clone()
            .unwrap_or_else(|| format!("{}/api", ayrshare.uri()));
        // The app as the CLI builds it, from settings as a user writes them.
        let mut vars: std::collections::HashMap<&str, String> = [
            (
                "DATABASE_URL",
                database_url(&database, options.database_port, options.database_query),
            ),
            ("AYRSHARE_BASE_URL", base_url),
            ("AYRSHARE_API_KEY", AYRSHARE_KEY.to_owned()),
        ]
        .into_iter()
        .collect();
        if options.x_credentials {
            vars.insert("AYRSHARE_X_API_KEY", "x-app-key".into());
            vars.insert("AYRSHARE_X_API_SECRET", "x-app-secret".into());
        }
        // A loaded test machine can be slow to hand out a connection; the tests about a dead
        // database set their own, shorter, bound.
        vars.insert("DATABASE_ACQUIRE_TIMEOUT_SECS", "15".into());
        vars.insert("RATE_LIMIT_PER_MINUTE", options.rate_limit.0.to_string());
        vars.insert("RATE_LIMIT_BURST", options.rate_limit.1.to_string());
        // The reconciler runs only in the tests about it (passes by hand, or a short interval).
        vars.insert("RECONCILE_INTERVAL_SECS", "0".into());
        // Webhook delivery too (tests/api/webhook_delivery.rs turns it on): its claims would
        // otherwise count in the tests about a dead or frozen database.
        vars.insert("WEBHOOK_DELIVERY", "false".into());
        // Profile keys are stored encrypted, so the app under test has a key (a test about
        // running without one sets SECRETS_KEY to "").
        vars.insert("SECRETS_KEY", TEST_SECRETS_KEY.into());
        for (name, value) in &options.env {
            vars.insert(name, value.clone());
        }
        let mut config = Config::from_lookup(|name| vars.get(name).cloned()).expect("config");
        // Sub-second timeouts, which the environment cannot express, keep the tests quick.
        config.ayrshare_timeout = options.ayrshare_timeout;
        config.connection_limits = options.connection_limits;
        if let Some(configure) = options.configure {
            configure(&mut config);
        }
        let app = App::build(&config, Mode::Ayrshare)
            .await
            .expect("the app builds");
        let store = app.store().clone();
        let publisher = app.publisher().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let built_with = config.clone();
        let server = tokio::spawn(async move {
            app.serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs");
        });

        let (api_key, organization_id) = create_key(&store, "acme").await;
        let primary_workspace_id = store
            .find_workspace(organization_id, None)
            .await
            .unwrap()
            .expect("a primary workspace")
            .id;
        Some(TestApp {
            address: format!("http://{addr}"),
            client: reqwest::Client::new(),
            ayrshare,
            store,
            publisher,
            api_key,
            organization_id,
            primary_workspace_id,
            database,
            config: built_with,
            shutdown: std::sync::Mutex::new(Some(shutdown)),
            server: tokio::sync::Mutex::new(Some(server)),
        })
    }

    /// Stops the server (letting requests finish) and drops a Postgres test database.
    pub async fn finish(self) {
        self.stop().await;
        // The database goes with `self` (see `Drop for Database`).
    }

    /// Sends the server its shutdown signal, as SIGTERM would.
    pub fn begin_shutdown(&self) {
        if let Some(shutdown) = self.shutdown.lock().unwrap().take() {
            let _ = shutdown.send(());
        }
    }

    /// Sends the shutdown signal and waits until the server has returned.
    pub async fn stop(&self) {
        self.begin_shutdown();
        if let Some(server) = self.server.lock().await.take() {
            let _ = server.await;
        }
    }

    /// Another instance of the app on the same database and Ayrshare (a second replica), not
    /// serving: its use cases only.
    pub async fn replica(&self) -> Publisher {
        App::build(&self.config, Mode::Ayrshare)
            .await
            .expect("a second app builds")
            .publisher()
            .clone()
    }

    /// Sets a timestamp column of a record (to make it due, or old), straight in the database.
    pub async fn set_time(&self, id: Uuid, column: &str, at: DateTime<Utc>) {
        let sql = format!("update scheduled_social_posts_v2 set {column} = $1 where id = $2");
        match &self.database {
            Database::Sqlite { url, .. } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                let done = sqlx::query(&sql)
                    .bind(at)
                    .bind(id.hyphenated().to_string())
                    .execute(&mut conn)
                    .await
                    .unwrap();
                assert_eq!(done.rows_affected(), 1);
            }
            Database::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                let done = sqlx::query(&sql)
                    .bind(at)
                    .bind(id)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                assert_eq!(done.rows_affected(), 1);
            }
        }
    }

    /// The reconciler's bookkeeping on a record: `next_check_at`, `check_attempts`, `overdue_at`.
    pub async fn reconciler_columns(
        &self,
        id: Uuid,
    ) -> (Option<DateTime<Utc>>, i64, Option<DateTime<Utc>>) {
        let sql = "select next_check_at, check_attempts, overdue_at \
                   from scheduled_social_posts_v2 where id = $1";
        match &self.database {
            Database::Sqlite { url, .. } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query_as(sql)
                    .bind(id.hyphenated().to_string())
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
            Database::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                let (next, attempts, overdue): (Option<DateTime<Utc>>, i32, Option<DateTime<Utc>>) =
                    sqlx::query_as(sql)
                        .bind(id)
                        .fetch_one(&mut conn)
                        .await
                        .unwrap();
                (next, i64::from(attempts), overdue)
            }
        }
    }

    /// Waits until the background work in flight (webhook payloads being applied) is done.
    pub async fn background_done(&self) {
        let tasks = &self.publisher.tasks;
        tasks.close();
        tasks.wait().await;
        tasks.reopen();
    }

    /// The record of `acme` with this tracking id.
    pub async fn record(&self, id: Uuid) -> TrackingRecord {
        self.store
            .find_tracking(self.organization_id, id)
            .await
            .unwrap()
            .expect("the record exists")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The database's own URL (not through a proxy).
    pub fn database_url(&self) -> &str {
        self.database.url()
    }

    /// The Ayrshare base URL the app calls (wiremock's, or the shipped mock's), without a
    /// trailing slash.
    pub fn ayrshare_base_url(&self) -> String {
        self.config
            .ayrshare_base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// `POST /social/post` with the test key.
    pub fn post(&self, body: &Value) -> RequestBuilder {
        self.client
            .post(self.url("/social/post"))
            .bearer_auth(&self.api_key)
            .json(body)
    }

    /// A GET with the test key.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&self.api_key)
    }

    /// Another organization and one of its keys.
    pub async fn other_organization(&self, name: &str) -> (String, Uuid) {
        create_key(&self.store, name).await
    }

    /// The first column of every row `sql` selects (as text: `sqlite`'s form on SQLite,
    /// `postgres`'s on Postgres), straight from the test database.
    async fn texts(&self, sqlite: &str, postgres: &str) -> Vec<Option<String>> {
        match &self.database {
            Database::Sqlite { url, .. } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sqlite)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
            }
            Database::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query_scalar(postgres)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
            }
        }
    }

    /// Every tracking record, oldest first, straight from the database.
    pub async fn records(&self) -> Vec<TrackingRecord> {
        let ids = self
            .texts(
                "select id from scheduled_social_posts_v2 order by created_at, id",
                "select id::text from scheduled_social_posts_v2 order by created_at, id",
            )
            .await;
        let mut records = Vec::new();
        for id in ids {
            let id = Uuid::parse_str(&id.expect("an id")).unwrap();
            // Records of other organizations are found through their own organization.
            let record = match self
                .store
                .find_tracking(self.organization_id, id)
                .await
                .unwrap()
            {
                Some(r) => r,
                None => panic!("record {id} belongs to another organization"),
            };
            records.push(record);
        }
        records
    }

    /// Moves every row of `table` back to `by` before now (its `created_at`): as if it had been
    /// written then.
    pub async fn backdate(&self, table: &str, by: chrono::Duration) {
        self.database.backdate(table, "created_at", by).await;
    }

    /// Ayrshare's raw answer as the record `id` keeps it (`provider_response`, which the
    /// service writes for operators and never reads back), straight from the database.
    pub async fn raw_answer(&self, id: Uuid) -> Option<Value> {
        let column = "from scheduled_social_posts_v2 where id";
        let text = self
            .texts(
                &format!("select provider_response {column} = '{id}'"),
                &format!("select provider_response::text {column} = '{id}'"),
            )
            .await
            .pop()
            .expect("the record");
        text.map(|text| serde_json::from_str(&text).unwrap())
    }

    /// The one tracking record there must be.
    pub async fn only_record(&self) -> TrackingRecord {
        let mut records = self.records().await;
        assert_eq!(records.len(), 1, "expected exactly one tracking record");
        records.remove(0)
    }

    /// Everything the database holds, as text: to look for what must never be stored.
    pub async fn dump_database(&self) -> String {
        match &self.database {
            Database::Sqlite { dir, .. } => {
                let mut text = String::new();
                for entry in std::fs::read_dir(dir.path()).unwrap() {
                    let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
                text
            }
            Database::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                let mut text = String::new();
                for table in [
                    "organizations",
                    "workspaces",
                    "api_keys",
                    "scheduled_social_posts_v2",
                    "webhook_endpoints",
                ] {
                    let rows: Vec<String> =
                        sqlx::query_scalar(&format!("select t::text from {table} t"))
                            .fetch_all(&mut conn)
                            .await
                            .unwrap();
                    text.push_str(&rows.join("\n"));
                }
                text
            }
        }
    }
}

/// The URL the app is given: the test database's, through `port` when a proxy stands between.
fn database_url(database: &Database, port: Option<u16>, query: Option<&str>) -> String {
    if port.is_none() && query.is_none() {
        return database.url().to_owned();
    }
    let mut url = Url::parse(database.url()).expect("the database URL parses");
    if let Some(port) = port {
        url.set_port(Some(port)).expect("a port can be set");
    }
    if let Some(query) = query {
        url.set_query(Some(query));
    }
    url.to_string()
}

/// Creates (or reuses) an organization and a fresh key for it, as `keys create` does.
pub async fn create_key(store: &DynStore, organization: &str) -> (String, Uuid) {
    let org = store.ensure_organization(organization).await.unwrap();
    let key = ApiKeySecret::generate();
    store
        .insert_api_key(org.id, &key.hash(), &key.prefix(), Some("test"))
        .await
        .unwrap();
    (key.expose().to_owned(), org.id)
}

/// The JSON body of a response, after checking that it is labelled JSON.
pub async fn response_json(response: Response) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "status {status}: content-type {content_type:?}, body {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts the contract's error shape and returns the body.
pub async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let body = response_json(response).await;
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

/// Declares each test once per backend: `name::sqlite` and `name::postgres`. The Postgres one
/// returns early (and says so) where Postgres is not configured and not required.
#[macro_export]
macro_rules! backend_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($app:ident) $([$options:expr])? $body:block )*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &$crate::support::TestApp) $body

            fn options() -> $crate::support::Options {
                #[allow(unused_variables)]
                let options = $crate::support::Options::default();
                $( let options = $options; )?
                options
            }

            #[tokio::test]
            async fn sqlite() {
                let app = $crate::support::TestApp::spawn_with($crate::support::Backend::Sqlite, options())
                    .await
                    .unwrap();
                run(&app).await;
                app.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(app) = $crate::support::TestApp::spawn_with($crate::support::Backend::Postgres, options()).await else { return };
                run(&app).await;
                app.finish().await;
            }
        }
    )*};
}
