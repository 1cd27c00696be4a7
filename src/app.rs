//! The assembled application: the store, the Ayrshare client (or the in-process simulator), the
//! use cases and the router, built once from the configuration, for the CLI and the tests alike.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;

use crate::ayrshare::{AyrshareClient, AyrshareSettings};
use crate::config::Config;
use crate::http::rate_limit::KeyRateLimit;
use crate::http::{self, AppState};
use crate::publishing::idempotency::{PURGE_EVERY, run_purge};
use crate::publishing::{Publisher, PublishingSettings};
use crate::store::{self, DynStore};
use mock_ayrshare::MockConfig;

/// Why the application could not be built; its `Display` is the one line the CLI prints.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(String);

/// Where Ayrshare is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The configured Ayrshare (`AYRSHARE_BASE_URL`, `AYRSHARE_API_KEY` required).
    Ayrshare,
    /// The shipped simulator, in-process on a loopback port: nothing leaves this machine.
    Sandbox,
}

/// The whole service, ready to serve.
#[derive(Clone)]
pub struct App {
    state: AppState,
    /// Where Ayrshare is, for the startup line.
    pub ayrshare_base_url: Url,
}

impl App {
    /// Builds everything `config` describes: connects and migrates the database, builds the
    /// Ayrshare client, and in sandbox mode starts the simulator.
    pub async fn build(config: &Config, mode: Mode) -> Result<App, BuildError> {
        // Decide where Ayrshare is before touching the database: a missing key is the commonest
        // first-run mistake and deserves the first answer.
        let ayrshare = match mode {
            Mode::Sandbox => (start_simulator().await?, SecretString::from("sandbox")),
            Mode::Ayrshare => (
                config.ayrshare_base_url.clone(),
                config.ayrshare_api_key.clone().ok_or_else(|| {
                    BuildError(
                        "AYRSHARE_API_KEY is not set: set it to your Ayrshare API key, or run \
                         `mosaic-social serve --sandbox` to use the built-in Ayrshare simulator \
                         (nothing is published)"
                            .into(),
                    )
                })?,
            ),
        };
        let ayrshare = AyrshareSettings {
            connect_timeout: config.ayrshare_connect_timeout,
            x_credentials: config.x_credentials.clone(),
            rate_limit_window: config.ayrshare_rate_limit_window,
            ..AyrshareSettings::new(ayrshare.0, ayrshare.1, config.ayrshare_timeout)
        };
        let store = open_store(config).await?;
        let ayrshare_base_url = ayrshare.base_url.clone();
        let client = AyrshareClient::new(ayrshare)
            .map_err(|e| BuildError(format!("the HTTP client cannot start: {e}")))?;
        let publisher = Publisher {
            store,
            ayrshare: Arc::new(client),
            tasks: TaskTracker::new(),
            settings: Arc::new(PublishingSettings {
                ayrshare_timeout: config.ayrshare_timeout,
                idempotency_retention: config.idempotency_retention,
            }),
            lookups: Arc::default(),
        };
        Ok(App {
            state: AppState {
                publisher,
                sandbox: mode == Mode::Sandbox,
                key_rate_limit: Arc::new(KeyRateLimit::new(
                    config.rate_limit_per_minute,
                    config.rate_limit_burst,
                )),
            },
            ayrshare_base_url,
        })
    }

    /// The database.
    pub fn store(&self) -> &DynStore {
        &self.state.publisher.store
    }

    /// The use cases.
    pub fn publisher(&self) -> &Publisher {
        &self.state.publisher
    }

    /// The HTTP routes with their middleware.
    pub fn router(&self) -> Router {
        http::router(self.state.clone())
    }

    /// Serves on `listener`, with the background work (the idempotency purge), until `shutdown`
    /// completes; then lets requests in flight and their recording finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = CancellationToken::new();
        let purge = tokio::spawn(run_purge(
            self.state.publisher.clone(),
            PURGE_EVERY,
            stop.clone(),
        ));
        let served = http::serve(listener, self.state, shutdown).await;
        stop.cancel();
        let _ = purge.await;
        served
    }
}

/// Connects to the configured database and applies pending migrations.
pub async fn open_store(config: &Config) -> Result<DynStore, BuildError> {
    if let Some(dir) = config.default_database_dir() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| BuildError(format!("cannot create {}: {e}", dir.display())))?;
    }
    let store = store::connect(config.database_url.expose_secret(), config.pool)
        .await
        .map_err(|e| BuildError(format!("DATABASE_URL: {e}")))?;
    store
        .migrate()
        .await
        .map_err(|e| BuildError(format!("DATABASE_URL: {e}")))?;
    Ok(store)
}

/// Starts the shipped simulator on a loopback port and returns its base URL.
async fn start_simulator() -> Result<Url, BuildError> {
    let io = |e: std::io::Error| BuildError(format!("the sandbox's simulator cannot start: {e}"));
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    // Not on the task tracker: the simulator runs until the process ends, and shutdown must not
    // wait for it.
    tokio::spawn(async move {
        let never = std::future::pending::<()>();
        if let Err(e) = mock_ayrshare::serve(listener, MockConfig::default(), never).await {
            tracing::error!(error = %e, "the sandbox's ayrshare simulator stopped");
        }
    });
    Url::parse(&format!("http://{addr}/api")).map_err(|e| BuildError(e.to_string()))
}
