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
use crate::events::delivery::Deliverer;
use crate::events::{Events, RETENTION_EVERY, run_retention};
use crate::http::rate_limit::KeyRateLimit;
use crate::http::{self, AppState, ConnectionLimits};
use crate::publishing::idempotency::{PURGE_EVERY, run_purge};
use crate::publishing::reconcile::run_reconciler;
use crate::publishing::{Publisher, PublishingSettings, ReconcileSettings, WebhookSettings};
use crate::secrets::{Keyring, Secrets, SecretsKey};
use crate::store::{self, DynStore};
use crate::telemetry::metrics;
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
    /// What a connection may cost.
    connection_limits: ConnectionLimits,
    /// The webhook delivery worker, unless `WEBHOOK_DELIVERY=false`.
    deliverer: Option<Deliverer>,
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
            background_share_percent: config.reconcile_profile_share_percent,
            ..AyrshareSettings::new(ayrshare.0, ayrshare.1, config.ayrshare_timeout)
        };
        // Before anything is counted; once per process, however many apps it builds.
        metrics::install();
        let store = open_store(config).await?;
        let ayrshare_base_url = ayrshare.base_url.clone();
        let client = AyrshareClient::new(ayrshare)
            .map_err(|e| BuildError(format!("the HTTP client cannot start: {e}")))?;
        let publisher = Publisher {
            store,
            ayrshare: Arc::new(client),
            tasks: TaskTracker::new(),
            grace_over: CancellationToken::new(),
            settings: Arc::new(PublishingSettings {
                ayrshare_timeout: config.ayrshare_timeout,
                idempotency_retention: config.idempotency_retention,
                reconcile: ReconcileSettings {
                    interval: config.reconcile_interval,
                    max_calls_per_pass: config.reconcile_max_calls_per_pass,
                    overdue_grace: config.reconcile_overdue_grace,
                },
                webhook: WebhookSettings {
                    secrets: webhook_secrets(config, mode),
                    tolerance: config.webhook_tolerance,
                },
            }),
            key_usage: Arc::default(),
            lookups: Arc::default(),
        };
        let events = event_settings(config, mode);
        if mode == Mode::Sandbox {
            tracing::warn!(
                "sandbox mode: webhook endpoints may use http:// and reach loopback and private \
                 addresses (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE_TARGETS), for local receivers"
            );
        }
        let deliverer = if events.webhooks.deliver {
            Some(
                Deliverer::new(publisher.store.clone(), &events.webhooks)
                    .map_err(|e| BuildError(e.to_string()))?,
            )
        } else {
            None
        };
        let connections = crate::connections::Connections::new(
            publisher.store.clone(),
            publisher.ayrshare.clone(),
            publisher.tasks.clone(),
            connection_settings(config, mode),
        );
        Ok(App {
            deliverer,
            state: AppState {
                connections,
                events: Events::new(publisher.store.clone(), events),
                publisher,
                sandbox: mode == Mode::Sandbox,
                key_rate_limit: Arc::new(KeyRateLimit::new(
                    config.rate_limit_per_minute,
                    config.rate_limit_burst,
                )),
                metrics_on_main: config.metrics_bind_addr.is_none(),
            },
            ayrshare_base_url,
            connection_limits: config.connection_limits,
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

    /// The connections use cases.
    pub fn connections(&self) -> &crate::connections::Connections {
        &self.state.connections
    }

    /// The HTTP routes with their middleware.
    pub fn router(&self) -> Router {
        http::router(self.state.clone())
    }

    /// `GET /metrics` alone, for the listener `METRICS_BIND_ADDR` names.
    pub fn metrics_router(&self) -> Router {
        http::metrics_router(self.state.clone())
    }

    /// Serves on `listener`, with the background work (the idempotency purge, the reconciler
    /// and the webhook delivery unless they are turned off), until `shutdown` completes; then lets requests in flight and
    /// their recording finish.
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
        let retention = tokio::spawn(run_retention(
            self.state.events.clone(),
            RETENTION_EVERY,
            stop.clone(),
        ));
        let reconciler = self
            .state
            .publisher
            .settings
            .reconcile
            .interval
            .map(|every| {
                tokio::spawn(run_reconciler(
                    self.state.publisher.clone(),
                    every,
                    stop.clone(),
                ))
            });
        let delivery = self
            .deliverer
            .clone()
            .map(|deliverer| tokio::spawn(deliverer.run(stop.clone())));
        // The background work stops with the signal, not after the requests have drained: a
        // reconciler pass finishes the record it is on and claims no more. Once the grace has
        // passed, the database holds nothing up: the calls still waiting on it are given up,
        // and recordings still retrying are logged and left to the reconciler.
        let grace = self.connection_limits.shutdown_grace;
        let grace_over = self.state.publisher.grace_over.clone();
        let store = self.state.publisher.store.clone();
        let stopping = stop.clone();
        let shutdown = async move {
            shutdown.await;
            stopping.cancel();
            let grace_over = grace_over.clone();
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                grace_over.cancel();
                store.give_up_waiting();
            });
        };
        if self.state.sandbox {
            self.wire_sandbox_webhook(&listener).await;
        }
        let upkeep = tokio::spawn(run_metrics_upkeep(stop.clone()));
        let grace_over = self.state.publisher.grace_over.clone();
        let served = http::serve(listener, self.state, self.connection_limits, shutdown).await;
        stop.cancel();
        let _ = upkeep.await;
        // Each purge call is bounded by the database's deadline, and given up with the grace.
        let _ = purge.await;
        let _ = retention.await;
        if let Some(mut delivery) = delivery {
            // Attempts in flight get the grace period; one cut short is attempted again once
            // its lease runs out (here or on another replica), with the same webhook-id.
            tokio::select! {
                biased;
                _ = &mut delivery => {}
                () = grace_over.cancelled() => {
                    delivery.abort();
                    tracing::info!("webhook delivery stopped mid-attempt; attempted again after its lease");
                }
            }
        }
        if let Some(mut reconciler) = reconciler {
            // A check in flight may wait for Ayrshare; giving it up is safe (its lease runs out
            // and any replica checks the record again), so it gets the grace period at most.
            tokio::select! {
                biased;
                _ = &mut reconciler => {}
                () = grace_over.cancelled() => {
                    reconciler.abort();
                    tracing::info!("reconciler stopped mid-check; the record is checked again later");
                }
            }
        }
        served
    }
}

/// Folds recorded histogram samples into their buckets every few seconds, so that memory stays
/// bounded however rarely `/metrics` is scraped.
async fn run_metrics_upkeep(stop: CancellationToken) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => metrics::upkeep(),
        }
    }
}

impl App {
    /// Registers this server's own webhook route with the in-process simulator (as
    /// `webhooks register` does with Ayrshare), for the Primary Profile, which covers every
    /// profile: the simulator then reports each scheduled post it publishes, and the record
    /// settles with nobody reading it.
    async fn wire_sandbox_webhook(&self, listener: &TcpListener) {
        let publisher = &self.state.publisher;
        let (Ok(addr), Some(secret)) = (
            listener.local_addr(),
            publisher.settings.webhook.secrets.first(),
        ) else {
            return;
        };
        // A server on every interface is reached on loopback.
        let host = match addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "[::1]".to_owned(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let url = format!("http://{host}:{}/webhooks/ayrshare", addr.port());
        // `scheduled` settles posts; `social` keeps the connections true as accounts are
        // linked and unlinked on the simulator's page.
        for action in ["scheduled", "social"] {
            let body = serde_json::json!({
                "action": action,
                "url": url,
                "secret": secret.expose_secret(),
            });
            match publisher
                .ayrshare
                .register_webhook(crate::ayrshare::CallScope::default(), &body)
                .await
            {
                Ok(answer) if answer.http_status == 200 => {
                    tracing::info!(%url, action, "sandbox: the simulator delivers signed webhooks to this server");
                }
                Ok(answer) => tracing::warn!(
                    status = answer.http_status,
                    action,
                    "sandbox: the simulator refused the webhook; the reconciler and the status route catch up instead"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, action, "sandbox: the webhook could not be registered; the reconciler and the status route catch up instead")
                }
            }
        }
    }
}

/// The events family's settings; the sandbox lets endpoints be `http://` and on loopback or
/// private addresses, since its receivers are local (`webhooks listen`, a test server).
fn event_settings(config: &Config, mode: Mode) -> crate::events::EventSettings {
    let mut events = config.events.clone();
    if mode == Mode::Sandbox {
        events.webhooks.allow_http = true;
        events.webhooks.allow_private_targets = true;
    }
    events
}

/// The connections family's settings; the sandbox's simulator takes any domain and private key,
/// so it gets its own when none is configured and linking works out of the box.
fn connection_settings(config: &Config, mode: Mode) -> crate::connections::ConnectionSettings {
    let mut settings = config.connections.clone();
    if mode == Mode::Sandbox {
        settings.domain.get_or_insert_with(|| "sandbox".to_owned());
        settings
            .private_key
            .get_or_insert_with(|| SecretString::from("sandbox-private-key"));
    }
    settings
}

/// The webhook secrets: the configured ones; in sandbox mode a fresh random one when none is
/// configured, so that the simulator's deliveries are signed and checked like Ayrshare's.
fn webhook_secrets(config: &Config, mode: Mode) -> Vec<SecretString> {
    if mode == Mode::Sandbox && config.webhook_secrets.is_empty() {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        return vec![SecretString::from(hex::encode(bytes))];
    }
    config.webhook_secrets.clone()
}

/// The keyring stored secrets are sealed with: `SECRETS_KEY`, or in the sandbox its own key,
/// made on first start and kept (owner-only) beside its database.
fn secrets_of(config: &Config) -> Result<Secrets, BuildError> {
    if let Some(keyring) = &config.secrets_key {
        return Ok(Secrets::new(Some(keyring.clone())));
    }
    let Some(file) = &config.sandbox_secrets_key_file else {
        return Ok(Secrets::new(None));
    };
    let failed = |e: std::io::Error| {
        BuildError(format!("the sandbox's secrets key {}: {e}", file.display()))
    };
    let key = match std::fs::read_to_string(file) {
        Ok(text) => SecretsKey::from_base64(text.trim()).map_err(|e| {
            BuildError(format!("the sandbox's secrets key {}: {e}", file.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (key, text) = SecretsKey::generate_with_text();
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).map_err(failed)?;
            }
            write_owner_only(file, text.expose_secret()).map_err(failed)?;
            key
        }
        Err(e) => return Err(failed(e)),
    };
    Ok(Secrets::new(Some(Keyring::new(key))))
}

/// Writes a new file only its owner may read (on Unix), failing if it exists.
fn write_owner_only(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// Connects to the configured database and applies pending migrations.
pub async fn open_store(config: &Config) -> Result<DynStore, BuildError> {
    if let Some(dir) = config.default_database_dir() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| BuildError(format!("cannot create {}: {e}", dir.display())))?;
    }
    let secrets = secrets_of(config)?;
    let store = store::connect(config.database_url.expose_secret(), config.pool, secrets)
        .await
        .map_err(|e| {
            if e.is_missing_database() {
                BuildError(format!(
                    "DATABASE_URL: the database {} does not exist; `mosaic-social migrate` \
                     creates it",
                    config.database_display()
                ))
            } else {
                BuildError(format!("DATABASE_URL: {e}"))
            }
        })?;
    store
        .migrate()
        .await
        .map_err(|e| BuildError(format!("DATABASE_URL: {e}")))?;
    // After the SQL migrations: sealing the plain profile keys needs the key, which SQL has not.
    let keyring = store.secrets().keyring().cloned();
    crate::secrets_upkeep::at_startup(&store, keyring.as_ref())
        .await
        .map_err(|e| BuildError(e.to_string()))?;
    Ok(store)
}

/// Creates the configured Postgres database when it does not exist yet, as `sqlx database
/// create` does (SQLite files are created when opened); returns whether it created one.
pub async fn create_database_if_missing(config: &Config) -> Result<bool, BuildError> {
    use sqlx::migrate::MigrateDatabase;
    let url = config.database_url.expose_secret();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok(false);
    }
    let failed = |e: sqlx::Error| {
        BuildError(format!(
            "DATABASE_URL: cannot create the database {}: {e}",
            config.database_display()
        ))
    };
    if sqlx::Postgres::database_exists(url).await.map_err(failed)? {
        return Ok(false);
    }
    sqlx::Postgres::create_database(url).await.map_err(failed)?;
    Ok(true)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_allows_local_webhook_endpoints_and_production_does_not() {
        let config = Config::from_lookup(|_| None).unwrap();
        let production = event_settings(&config, Mode::Ayrshare).webhooks;
        assert!(!production.allow_http && !production.allow_private_targets);
        let sandbox = event_settings(&config, Mode::Sandbox).webhooks;
        assert!(sandbox.allow_http && sandbox.allow_private_targets);
        assert_eq!(sandbox.retry_schedule, production.retry_schedule);
    }

    #[test]
    fn the_sandbox_makes_its_secrets_key_once_owner_only_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::from_lookup(|_| None).unwrap();
        config.sandbox_secrets_key_file = Some(dir.path().join("deeper").join("key"));
        let first = secrets_of(&config).unwrap();
        let sealed = first.seal("profile-key", b"workspaces:1").unwrap();
        let again = secrets_of(&config).unwrap();
        assert_eq!(
            again
                .open(&sealed, b"workspaces:1")
                .unwrap()
                .expose_secret(),
            "profile-key"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = config.sandbox_secrets_key_file.as_ref().unwrap();
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        config.sandbox_secrets_key_file = None;
        assert!(!secrets_of(&config).unwrap().is_configured());
    }
}
