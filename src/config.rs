//! Configuration from the environment (a real variable wins over `.env`), checked at startup so
//! that a bad value stops the process with one line naming it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::ayrshare::XCredentials;
use crate::http::ConnectionLimits;
use crate::store::PoolSettings;

/// Ayrshare's production API.
pub const DEFAULT_AYRSHARE_BASE_URL: &str = "https://api.ayrshare.com/api";
/// Where the service listens by default: loopback only, so nothing is exposed by accident.
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";
/// The default bound on one Ayrshare call.
pub const DEFAULT_AYRSHARE_TIMEOUT_SECS: u64 = 30;
/// The default bound on connecting to Ayrshare.
pub const DEFAULT_AYRSHARE_CONNECT_TIMEOUT_SECS: u64 = 5;
/// The default hold of a profile after Ayrshare's 429 without `Retry-After`: its 5-minute window.
pub const DEFAULT_AYRSHARE_RATE_LIMIT_WINDOW_SECS: u64 = 300;
/// The default sustained rate of requests per API key.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 300;
/// The default burst of requests per API key.
pub const DEFAULT_RATE_LIMIT_BURST: u32 = 60;
/// The default pause between two reconciler passes.
pub const DEFAULT_RECONCILE_INTERVAL_SECS: u64 = 15;
/// The default bound on Ayrshare calls in one reconciler pass.
pub const DEFAULT_RECONCILE_MAX_CALLS_PER_PASS: u64 = 20;
/// The default share of each profile's Ayrshare rate limit the reconciler may use, in percent.
pub const DEFAULT_RECONCILE_PROFILE_SHARE_PERCENT: u64 = 20;
/// The default time past its schedule date after which an unpublished post is overdue.
pub const DEFAULT_RECONCILE_OVERDUE_GRACE_SECS: u64 = 600;
/// The default window around now in which a webhook's timestamp is accepted, either way.
pub const DEFAULT_WEBHOOK_TOLERANCE_SECS: u64 = 300;
/// The embedded database's file when `DATABASE_URL` is unset, in [`data_dir`].
pub const DEFAULT_SQLITE_FILE: &str = "mosaic-social.db";
/// The sandbox's own embedded database, in [`data_dir`]: `serve --sandbox` never uses
/// `DATABASE_URL`, so that simulated posts never land in a production table by accident.
pub const SANDBOX_SQLITE_FILE: &str = "sandbox.db";
/// The sandbox's own `SECRETS_KEY`, in [`data_dir`] beside its database, when none is set.
pub const SANDBOX_SECRETS_KEY_FILE: &str = "sandbox-secrets.key";

/// Where the embedded databases live, whatever the working directory: the user's data directory
/// (`$XDG_DATA_HOME/mosaic-social`, by default `~/.local/share/mosaic-social` on Linux,
/// `~/Library/Application Support/mosaic-social` on macOS), or `./mosaic-data` when the system
/// names none.
pub fn data_dir() -> PathBuf {
    dirs::data_dir()
        .map(|dir| dir.join("mosaic-social"))
        .unwrap_or_else(|| PathBuf::from("mosaic-data"))
}

/// The URL of an embedded database file in [`data_dir`].
fn embedded_url(file: &str) -> String {
    format!("sqlite://{}", data_dir().join(file).display())
}

/// The service's settings. `Debug` shows no secret.
#[derive(Clone, Debug)]
pub struct Config {
    /// `DATABASE_URL`: `postgres://...` or `sqlite://...`; may hold a password, hence secret.
    pub database_url: SecretString,
    /// Whether the database is an embedded SQLite file in [`data_dir`] (the default, or the
    /// sandbox's), whose folder is created before it is opened.
    pub database_is_default: bool,
    /// `AYRSHARE_API_KEY`; required to serve, unless in sandbox mode.
    pub ayrshare_api_key: Option<SecretString>,
    /// `AYRSHARE_BASE_URL`.
    pub ayrshare_base_url: Url,
    /// `AYRSHARE_TIMEOUT_SECS`: the bound on one Ayrshare call, retries included.
    pub ayrshare_timeout: Duration,
    /// `AYRSHARE_CONNECT_TIMEOUT_SECS`: the bound on connecting to Ayrshare (each attempt).
    pub ayrshare_connect_timeout: Duration,
    /// `AYRSHARE_RATE_LIMIT_WINDOW_SECS`: how long a profile is held after Ayrshare's 429 when
    /// the answer does not say.
    pub ayrshare_rate_limit_window: Duration,
    /// `RATE_LIMIT_PER_MINUTE`: requests per minute per API key, sustained; 0 turns it off.
    pub rate_limit_per_minute: u32,
    /// `RATE_LIMIT_BURST`: requests an API key may send at once on top of the sustained rate.
    pub rate_limit_burst: u32,
    /// `AYRSHARE_X_API_KEY` and `AYRSHARE_X_API_SECRET`, both or neither.
    pub x_credentials: Option<XCredentials>,
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `METRICS_BIND_ADDR`: where `GET /metrics` is served instead of on `BIND_ADDR`, so that it
    /// need not be public; unset, it is on the main listener.
    pub metrics_bind_addr: Option<SocketAddr>,
    /// `DATABASE_MAX_CONNECTIONS`, `DATABASE_ACQUIRE_TIMEOUT_SECS` and
    /// `DATABASE_STATEMENT_TIMEOUT_SECS`.
    pub pool: PoolSettings,
    /// `IDEMPOTENCY_RETENTION_HOURS`: how long an `Idempotency-Key` and its answer are kept
    /// (at least 24 hours, Stripe's promise).
    pub idempotency_retention: Duration,
    /// `HTTP_HEADER_READ_TIMEOUT_SECS`, `HTTP_FIRST_REQUEST_TIMEOUT_SECS`,
    /// `HTTP_IDLE_TIMEOUT_SECS`, `HTTP_MAX_CONNECTIONS`, `HTTP_MIN_BODY_BYTES_PER_SEC` and
    /// `SHUTDOWN_GRACE_SECS`.
    pub connection_limits: ConnectionLimits,
    /// `RECONCILE_INTERVAL_SECS`: the pause between reconciler passes; `None` (0) turns it off.
    pub reconcile_interval: Option<Duration>,
    /// `RECONCILE_MAX_CALLS_PER_PASS`: the most Ayrshare calls one pass makes.
    pub reconcile_max_calls_per_pass: u32,
    /// `RECONCILE_OVERDUE_GRACE_SECS`: how long past its schedule date a post may stay
    /// unpublished before it is flagged overdue.
    pub reconcile_overdue_grace: Duration,
    /// `RECONCILE_PROFILE_SHARE_PERCENT`: the share of each Ayrshare profile's rate limit the
    /// reconciler may use per window on this replica (1 to 50).
    pub reconcile_profile_share_percent: u32,
    /// `AYRSHARE_WEBHOOK_SECRET`, then `AYRSHARE_WEBHOOK_SECRET_PREVIOUS` during a rotation;
    /// empty when webhooks are off.
    pub webhook_secrets: Vec<SecretString>,
    /// `WEBHOOK_TOLERANCE_SECS`: how far a webhook's timestamp may be from now, either way.
    pub webhook_tolerance: Duration,
    /// `SECRETS_KEY` and `SECRETS_KEY_PREVIOUS`: the key every stored secret is encrypted under
    /// (`crate::secrets`); `None` when unset (the sandbox then makes and keeps its own).
    pub secrets_key: Option<crate::secrets::Keyring>,
    /// Where the sandbox keeps its own secrets key when `SECRETS_KEY` is unset: made on first
    /// use, read on every later one, so that its stored secrets stay readable across restarts.
    pub sandbox_secrets_key_file: Option<PathBuf>,
    /// The events family's settings (`EVENT_RETENTION_DAYS`).
    pub events: crate::events::EventSettings,
    /// The connections family's settings (`AYRSHARE_DOMAIN`, `AYRSHARE_PRIVATE_KEY` or
    /// `AYRSHARE_PRIVATE_KEY_FILE`).
    pub connections: crate::connections::ConnectionSettings,
}

/// A setting that is missing or malformed; its `Display` is the one line printed at startup.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl ConfigError {
    /// A problem with the setting `name`.
    pub fn new(name: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            name,
            problem: problem.into(),
        }
    }
}

/// The variables one family of settings reads from: each family (the events, the connections,
/// ...) has its own `read(&Vars)` in its own module, and [`Config::from_lookup`] assembles them,
/// so that no one function carries every setting. An empty value counts as unset, as in most
/// shells' `VAR= command`.
pub struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Vars<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Vars<'a> {
        Vars { lookup }
    }

    /// The value of `name`, unless unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// A whole number within `range`, `default` when unset.
    pub fn number(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        number(&|n: &str| self.get(n), name, default, range)
    }

    /// A whole number of seconds from `min` to 3600, `default` when unset.
    pub fn seconds(
        &self,
        name: &'static str,
        default: Duration,
        min: u64,
    ) -> Result<Duration, ConfigError> {
        seconds(&|n: &str| self.get(n), name, default, min)
    }

    /// `true` or `false` (also `1`/`0`, `yes`/`no`, any case), `default` when unset.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(ConfigError::new(
                    name,
                    format!("'{text}' is not true or false"),
                )),
            },
        }
    }
}

impl Config {
    /// Reads `.env` if present (without overriding real variables), then the environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            // dotenvy's message quotes the whole line, which may hold a secret: name only the
            // variable and the position.
            Err(dotenvy::Error::LineParse(line, index)) => {
                let name = line.split('=').next().unwrap_or("").trim();
                return Err(ConfigError::new(
                    ".env",
                    format!("the line setting {name} cannot be parsed (at character {index})"),
                ));
            }
            Err(e) => return Err(ConfigError::new(".env", e.to_string())),
        }
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any source of variables (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let vars = Vars::new(&lookup);
        let get = |name: &str| vars.get(name);

        let (database_url, database_is_default) = match get("DATABASE_URL") {
            Some(url) => {
                if !["postgres://", "postgresql://", "sqlite:"]
                    .iter()
                    .any(|p| url.starts_with(p))
                {
                    return Err(ConfigError::new(
                        "DATABASE_URL",
                        "must start with postgres://, postgresql:// or sqlite://",
                    ));
                }
                (url, false)
            }
            None => (embedded_url(DEFAULT_SQLITE_FILE), true),
        };

        let ayrshare_base_url = match get("AYRSHARE_BASE_URL") {
            None => Url::parse(DEFAULT_AYRSHARE_BASE_URL).expect("the default URL parses"),
            Some(text) => match Url::parse(&text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => url,
                _ => {
                    return Err(ConfigError::new(
                        "AYRSHARE_BASE_URL",
                        format!("'{text}' is not an absolute http or https URL"),
                    ));
                }
            },
        };

        let whole = |name: &'static str, min: u64, max: u64, default: u64| match get(name) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ConfigError::new(
                    name,
                    format!("'{text}' is not a whole number from {min} to {max}"),
                )),
            },
        };
        let ayrshare_timeout = Duration::from_secs(whole(
            "AYRSHARE_TIMEOUT_SECS",
            1,
            600,
            DEFAULT_AYRSHARE_TIMEOUT_SECS,
        )?);
        let ayrshare_connect_timeout = Duration::from_secs(whole(
            "AYRSHARE_CONNECT_TIMEOUT_SECS",
            1,
            600,
            DEFAULT_AYRSHARE_CONNECT_TIMEOUT_SECS,
        )?);
        let ayrshare_rate_limit_window = Duration::from_secs(whole(
            "AYRSHARE_RATE_LIMIT_WINDOW_SECS",
            1,
            3600,
            DEFAULT_AYRSHARE_RATE_LIMIT_WINDOW_SECS,
        )?);
        let rate_limit_per_minute = whole(
            "RATE_LIMIT_PER_MINUTE",
            0,
            1_000_000,
            DEFAULT_RATE_LIMIT_PER_MINUTE.into(),
        )? as u32;
        let rate_limit_burst = whole(
            "RATE_LIMIT_BURST",
            1,
            1_000_000,
            DEFAULT_RATE_LIMIT_BURST.into(),
        )? as u32;

        // Credentials travel in HTTP headers: one that cannot be a header value (a stray
        // carriage return from a `.env`, say) would fail every call, so it stops startup instead.
        for name in [
            "AYRSHARE_API_KEY",
            "AYRSHARE_X_API_KEY",
            "AYRSHARE_X_API_SECRET",
        ] {
            if get(name).is_some_and(|value| !is_header_safe(&value)) {
                return Err(ConfigError::new(
                    name,
                    "contains characters that cannot be sent in an HTTP header",
                ));
            }
        }

        let x_credentials = match (get("AYRSHARE_X_API_KEY"), get("AYRSHARE_X_API_SECRET")) {
            (Some(key), Some(secret)) => Some(XCredentials {
                api_key: SecretString::from(key),
                api_secret: SecretString::from(secret),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "AYRSHARE_X_API_SECRET",
                    "is not set, but AYRSHARE_X_API_KEY is: set both or neither",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "AYRSHARE_X_API_KEY",
                    "is not set, but AYRSHARE_X_API_SECRET is: set both or neither",
                ));
            }
        };

        let bind_text = get("BIND_ADDR").unwrap_or_else(|| DEFAULT_BIND_ADDR.to_owned());
        let bind_addr = bind_text.trim().parse().map_err(|_| {
            ConfigError::new(
                "BIND_ADDR",
                format!("'{bind_text}' is not an address and port such as 127.0.0.1:8080"),
            )
        })?;

        let metrics_bind_addr = match get("METRICS_BIND_ADDR") {
            None => None,
            Some(text) => Some(text.trim().parse().map_err(|_| {
                ConfigError::new(
                    "METRICS_BIND_ADDR",
                    format!("'{text}' is not an address and port such as 127.0.0.1:9100"),
                )
            })?),
        };

        let pool = PoolSettings {
            max_connections: number(&get, "DATABASE_MAX_CONNECTIONS", 10, 1..=1000)? as u32,
            acquire_timeout: Duration::from_secs(number(
                &get,
                "DATABASE_ACQUIRE_TIMEOUT_SECS",
                3,
                1..=120,
            )?),
            statement_timeout: Duration::from_secs(number(
                &get,
                "DATABASE_STATEMENT_TIMEOUT_SECS",
                5,
                1..=300,
            )?),
        };
        let idempotency_retention = Duration::from_secs(
            3600 * number(&get, "IDEMPOTENCY_RETENTION_HOURS", 24, 24..=24 * 365)?,
        );
        let defaults = ConnectionLimits::default();
        let connection_limits = ConnectionLimits {
            header_read_timeout: seconds(
                &get,
                "HTTP_HEADER_READ_TIMEOUT_SECS",
                defaults.header_read_timeout,
                1,
            )?,
            first_request_timeout: seconds(
                &get,
                "HTTP_FIRST_REQUEST_TIMEOUT_SECS",
                defaults.first_request_timeout,
                1,
            )?,
            idle_timeout: seconds(&get, "HTTP_IDLE_TIMEOUT_SECS", defaults.idle_timeout, 1)?,
            max_connections: number(
                &get,
                "HTTP_MAX_CONNECTIONS",
                defaults.max_connections as u64,
                1..=100_000,
            )? as usize,
            min_body_rate: number(
                &get,
                "HTTP_MIN_BODY_BYTES_PER_SEC",
                defaults.min_body_rate,
                0..=1024 * 1024 * 1024,
            )?,
            shutdown_grace: seconds(&get, "SHUTDOWN_GRACE_SECS", defaults.shutdown_grace, 0)?,
        };

        let reconcile_interval = match number(
            &get,
            "RECONCILE_INTERVAL_SECS",
            DEFAULT_RECONCILE_INTERVAL_SECS,
            0..=3600,
        )? {
            0 => None,
            secs => Some(Duration::from_secs(secs)),
        };
        let reconcile_max_calls_per_pass = number(
            &get,
            "RECONCILE_MAX_CALLS_PER_PASS",
            DEFAULT_RECONCILE_MAX_CALLS_PER_PASS,
            1..=1000,
        )? as u32;
        let reconcile_overdue_grace = Duration::from_secs(number(
            &get,
            "RECONCILE_OVERDUE_GRACE_SECS",
            DEFAULT_RECONCILE_OVERDUE_GRACE_SECS,
            0..=7 * 86_400,
        )?);
        let reconcile_profile_share_percent = number(
            &get,
            "RECONCILE_PROFILE_SHARE_PERCENT",
            DEFAULT_RECONCILE_PROFILE_SHARE_PERCENT,
            1..=u64::from(crate::ayrshare::share::MAX_SHARE_PERCENT),
        )? as u32;
        let webhook_secrets = match (
            get("AYRSHARE_WEBHOOK_SECRET"),
            get("AYRSHARE_WEBHOOK_SECRET_PREVIOUS"),
        ) {
            (Some(current), previous) => std::iter::once(current)
                .chain(previous)
                .map(SecretString::from)
                .collect(),
            (None, None) => Vec::new(),
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "AYRSHARE_WEBHOOK_SECRET",
                    "is not set, but AYRSHARE_WEBHOOK_SECRET_PREVIOUS is: the previous secret is \
                     only accepted beside a current one",
                ));
            }
        };
        let webhook_tolerance = Duration::from_secs(number(
            &get,
            "WEBHOOK_TOLERANCE_SECS",
            DEFAULT_WEBHOOK_TOLERANCE_SECS,
            1..=86_400,
        )?);

        Ok(Config {
            database_url: SecretString::from(database_url),
            database_is_default,
            ayrshare_api_key: get("AYRSHARE_API_KEY").map(SecretString::from),
            ayrshare_base_url,
            ayrshare_timeout,
            ayrshare_connect_timeout,
            ayrshare_rate_limit_window,
            rate_limit_per_minute,
            rate_limit_burst,
            x_credentials,
            bind_addr,
            metrics_bind_addr,
            pool,
            idempotency_retention,
            connection_limits,
            reconcile_interval,
            reconcile_max_calls_per_pass,
            reconcile_overdue_grace,
            reconcile_profile_share_percent,
            webhook_secrets,
            webhook_tolerance,
            secrets_key: crate::secrets::read_settings(&vars)?,
            sandbox_secrets_key_file: None,
            events: crate::events::EventSettings::read(&vars)?,
            connections: crate::connections::ConnectionSettings::read(&vars)?,
        })
    }

    /// The folder of the embedded SQLite file, to create before opening it.
    pub fn default_database_dir(&self) -> Option<PathBuf> {
        self.database_is_default.then(data_dir)
    }

    /// Uses `url` (from `--database-url`) instead of `DATABASE_URL`.
    pub fn use_database_url(&mut self, url: &str) -> Result<(), ConfigError> {
        let mut chosen =
            Config::from_lookup(|name| (name == "DATABASE_URL").then(|| url.to_owned()))
                .map_err(|e| ConfigError::new("--database-url", e.problem))?;
        self.database_url = std::mem::replace(&mut chosen.database_url, SecretString::from(""));
        self.database_is_default = false;
        Ok(())
    }

    /// Uses the sandbox's own embedded database instead of `DATABASE_URL`.
    pub fn use_sandbox_database(&mut self) {
        self.database_url = SecretString::from(embedded_url(SANDBOX_SQLITE_FILE));
        self.database_is_default = true;
        if self.secrets_key.is_none() {
            self.sandbox_secrets_key_file = Some(data_dir().join(SANDBOX_SECRETS_KEY_FILE));
        }
    }

    /// The database in use, to print: a SQLite file by its absolute path, a Postgres URL without
    /// its password (and without its query, which may carry one).
    pub fn database_display(&self) -> String {
        display_database_url(self.database_url.expose_secret())
    }

    /// `postgres` or `sqlite`, for the startup line (never the URL: it may hold a password).
    pub fn database_backend(&self) -> &'static str {
        if self.database_url.expose_secret().starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }
}

/// A database URL as it may be shown: see [`Config::database_display`].
pub fn display_database_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path.starts_with(":memory:") {
            return "sqlite::memory:".into();
        }
        let absolute = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
        return format!("sqlite://{}", absolute.display());
    }
    match Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => "postgres (an unreadable URL)".into(),
    }
}

/// A whole number setting within `range`, `default` when unset.
pub fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(text) = get(name) else {
        return Ok(default);
    };
    match text.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError::new(
            name,
            format!(
                "'{text}' is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// A whole number of seconds from `min` to 3600, or `default` when unset.
fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
    min: u64,
) -> Result<Duration, ConfigError> {
    number(get, name, default.as_secs(), min..=3600).map(Duration::from_secs)
}

/// Whether `value` can be sent as an HTTP header value: visible ASCII and spaces, as Ayrshare's
/// keys are.
pub fn is_header_safe(value: &str) -> bool {
    value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_nothing() {
        let c = config(&[]).unwrap();
        assert!(c.database_is_default);
        assert_eq!(c.database_backend(), "sqlite");
        assert_eq!(c.ayrshare_base_url.as_str(), DEFAULT_AYRSHARE_BASE_URL);
        assert_eq!(c.bind_addr.to_string(), DEFAULT_BIND_ADDR);
        assert_eq!(c.metrics_bind_addr, None);
        assert_eq!(c.ayrshare_timeout, Duration::from_secs(30));
        assert_eq!(c.ayrshare_connect_timeout, Duration::from_secs(5));
        assert_eq!(c.ayrshare_rate_limit_window, Duration::from_secs(300));
        assert_eq!((c.rate_limit_per_minute, c.rate_limit_burst), (300, 60));
        assert!(c.ayrshare_api_key.is_none());
        assert!(c.x_credentials.is_none());
        assert_eq!(c.connection_limits, ConnectionLimits::default());
        assert_eq!(c.pool, PoolSettings::default());
        assert_eq!(c.idempotency_retention, Duration::from_secs(24 * 3600));
        assert_eq!(c.reconcile_interval, Some(Duration::from_secs(15)));
        assert_eq!(c.reconcile_max_calls_per_pass, 20);
        assert_eq!(c.reconcile_overdue_grace, Duration::from_secs(600));
        assert_eq!(c.reconcile_profile_share_percent, 20);
        assert!(c.webhook_secrets.is_empty());
        assert_eq!(c.webhook_tolerance, Duration::from_secs(300));
    }

    #[test]
    fn reconciler_and_webhook_settings_are_read() {
        let c = config(&[
            ("RECONCILE_INTERVAL_SECS", "0"),
            ("RECONCILE_MAX_CALLS_PER_PASS", "3"),
            ("RECONCILE_OVERDUE_GRACE_SECS", "60"),
            ("RECONCILE_PROFILE_SHARE_PERCENT", "50"),
            ("AYRSHARE_WEBHOOK_SECRET", "current"),
            ("AYRSHARE_WEBHOOK_SECRET_PREVIOUS", "previous"),
            ("WEBHOOK_TOLERANCE_SECS", "30"),
        ])
        .unwrap();
        assert_eq!(c.reconcile_interval, None);
        assert_eq!(c.reconcile_max_calls_per_pass, 3);
        assert_eq!(c.reconcile_overdue_grace, Duration::from_secs(60));
        assert_eq!(c.reconcile_profile_share_percent, 50);
        let secrets: Vec<&str> = c
            .webhook_secrets
            .iter()
            .map(|s| s.expose_secret())
            .collect();
        assert_eq!(secrets, ["current", "previous"]);
        assert_eq!(c.webhook_tolerance, Duration::from_secs(30));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("current") && !shown.contains("previous"),
            "{shown}"
        );
        let c = config(&[("AYRSHARE_WEBHOOK_SECRET", "only")]).unwrap();
        assert_eq!(c.webhook_secrets.len(), 1);
    }

    #[test]
    fn the_database_is_shown_without_its_password() {
        assert_eq!(
            display_database_url("postgres://app:s3cret@db.internal:5432/social?password=x"),
            "postgres://app@db.internal:5432/social"
        );
        let shown = display_database_url("sqlite://rel/dir/x.db?mode=rwc");
        assert!(
            shown.starts_with("sqlite:///") && shown.ends_with("rel/dir/x.db"),
            "{shown}"
        );
        let c = config(&[]).unwrap();
        assert!(
            c.database_display()
                .ends_with("mosaic-social/mosaic-social.db")
        );
        let mut sandbox = config(&[("DATABASE_URL", "postgres://u:p@prod/db")]).unwrap();
        sandbox.use_sandbox_database();
        assert!(
            sandbox
                .database_display()
                .ends_with("mosaic-social/sandbox.db")
        );
        assert!(sandbox.database_is_default);
        sandbox
            .use_database_url("postgres://u:p@staging/db")
            .unwrap();
        assert_eq!(sandbox.database_display(), "postgres://u@staging/db");
        assert_eq!(
            sandbox.use_database_url("mysql://x").unwrap_err().name,
            "--database-url"
        );
    }

    #[test]
    fn pool_and_retention_settings_are_read() {
        let c = config(&[
            ("DATABASE_MAX_CONNECTIONS", "32"),
            ("DATABASE_ACQUIRE_TIMEOUT_SECS", "7"),
            ("DATABASE_STATEMENT_TIMEOUT_SECS", "12"),
            ("IDEMPOTENCY_RETENTION_HOURS", "48"),
        ])
        .unwrap();
        assert_eq!(c.pool.max_connections, 32);
        assert_eq!(c.pool.acquire_timeout, Duration::from_secs(7));
        assert_eq!(c.pool.statement_timeout, Duration::from_secs(12));
        assert_eq!(c.pool.call_deadline(), Duration::from_secs(19));
        assert_eq!(c.idempotency_retention, Duration::from_secs(48 * 3600));
    }

    #[test]
    fn connection_limits_are_read_and_checked() {
        let c = config(&[
            ("HTTP_HEADER_READ_TIMEOUT_SECS", "3"),
            ("HTTP_FIRST_REQUEST_TIMEOUT_SECS", "2"),
            ("HTTP_IDLE_TIMEOUT_SECS", " 30 "),
            ("HTTP_MAX_CONNECTIONS", "64"),
            ("HTTP_MIN_BODY_BYTES_PER_SEC", "0"),
            ("SHUTDOWN_GRACE_SECS", "0"),
        ])
        .unwrap();
        assert_eq!(
            c.connection_limits,
            ConnectionLimits {
                header_read_timeout: Duration::from_secs(3),
                first_request_timeout: Duration::from_secs(2),
                idle_timeout: Duration::from_secs(30),
                max_connections: 64,
                min_body_rate: 0,
                shutdown_grace: Duration::ZERO,
            }
        );
        for (name, value) in [
            ("HTTP_HEADER_READ_TIMEOUT_SECS", "0"),
            ("HTTP_HEADER_READ_TIMEOUT_SECS", "3601"),
            ("HTTP_FIRST_REQUEST_TIMEOUT_SECS", "0"),
            ("HTTP_FIRST_REQUEST_TIMEOUT_SECS", "3601"),
            ("HTTP_IDLE_TIMEOUT_SECS", "0"),
            ("HTTP_IDLE_TIMEOUT_SECS", "soon"),
            ("HTTP_MIN_BODY_BYTES_PER_SEC", "-1"),
            ("HTTP_MIN_BODY_BYTES_PER_SEC", "1073741825"),
            ("HTTP_MIN_BODY_BYTES_PER_SEC", "1k"),
            ("HTTP_MAX_CONNECTIONS", "0"),
            ("HTTP_MAX_CONNECTIONS", "100001"),
            ("HTTP_MAX_CONNECTIONS", "-1"),
            ("SHUTDOWN_GRACE_SECS", "-1"),
            ("SHUTDOWN_GRACE_SECS", "1.5"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{value}");
        }
        let c = config(&[
            ("SHUTDOWN_GRACE_SECS", "3600"),
            ("HTTP_MAX_CONNECTIONS", "1"),
        ])
        .unwrap();
        assert_eq!(
            c.connection_limits.shutdown_grace,
            Duration::from_secs(3600)
        );
        assert_eq!(c.connection_limits.max_connections, 1);
    }

    #[test]
    fn each_malformed_value_is_named() {
        for (name, value) in [
            ("DATABASE_URL", "mysql://x"),
            ("AYRSHARE_BASE_URL", "not a url"),
            ("AYRSHARE_TIMEOUT_SECS", "0"),
            ("AYRSHARE_TIMEOUT_SECS", "soon"),
            ("AYRSHARE_CONNECT_TIMEOUT_SECS", "0"),
            ("AYRSHARE_RATE_LIMIT_WINDOW_SECS", "86400"),
            ("RATE_LIMIT_PER_MINUTE", "-1"),
            ("RATE_LIMIT_BURST", "0"),
            ("BIND_ADDR", "localhost"),
            ("METRICS_BIND_ADDR", "9100"),
            ("AYRSHARE_X_API_KEY", "only-one"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("DATABASE_ACQUIRE_TIMEOUT_SECS", "x"),
            ("DATABASE_STATEMENT_TIMEOUT_SECS", "0"),
            ("DATABASE_STATEMENT_TIMEOUT_SECS", "301"),
            ("IDEMPOTENCY_RETENTION_HOURS", "23"),
            ("RECONCILE_INTERVAL_SECS", "3601"),
            ("RECONCILE_MAX_CALLS_PER_PASS", "0"),
            ("RECONCILE_OVERDUE_GRACE_SECS", "x"),
            ("RECONCILE_PROFILE_SHARE_PERCENT", "0"),
            ("RECONCILE_PROFILE_SHARE_PERCENT", "51"),
            ("AYRSHARE_WEBHOOK_SECRET_PREVIOUS", "old"),
            ("WEBHOOK_TOLERANCE_SECS", "0"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            let line = err.to_string();
            assert!(
                line.contains(name)
                    || name == "AYRSHARE_X_API_KEY"
                    || name == "AYRSHARE_WEBHOOK_SECRET_PREVIOUS",
                "{line}"
            );
            assert!(!line.contains('\n'));
        }
        assert_eq!(
            config(&[("AYRSHARE_X_API_KEY", "k")]).unwrap_err().name,
            "AYRSHARE_X_API_SECRET"
        );
    }

    #[test]
    fn the_secrets_key_is_read_and_each_problem_names_its_setting() {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let old = "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=";
        assert!(config(&[]).unwrap().secrets_key.is_none());
        let read = config(&[("SECRETS_KEY", key), ("SECRETS_KEY_PREVIOUS", old)])
            .unwrap()
            .secrets_key
            .expect("a keyring");
        assert!(read.previous.is_some());
        for (vars, named) in [
            (vec![("SECRETS_KEY", "c2hvcnQ=")], "SECRETS_KEY"),
            (vec![("SECRETS_KEY", "not base64!")], "SECRETS_KEY"),
            (vec![("SECRETS_KEY_PREVIOUS", old)], "SECRETS_KEY"),
            (
                vec![("SECRETS_KEY", key), ("SECRETS_KEY_PREVIOUS", "c2hvcnQ=")],
                "SECRETS_KEY_PREVIOUS",
            ),
        ] {
            let error = config(&vars).unwrap_err();
            assert_eq!(error.name, named, "{error}");
            let line = error.to_string();
            assert!(line.starts_with(&format!("{named}: ")), "{line}");
            assert!(
                !line.contains(&format!("{named}: {named}")),
                "named once: {line}"
            );
            assert!(!line.contains(key) && !line.contains(old), "{line}");
        }
    }

    #[test]
    fn a_flag_reads_true_or_false_and_refuses_anything_else() {
        let lookup = |name: &str| match name {
            "ON" => Some("Yes".to_owned()),
            "OFF" => Some("0".to_owned()),
            "BAD" => Some("maybe".to_owned()),
            _ => None,
        };
        let vars = Vars::new(&lookup);
        assert!(vars.flag("ON", false).unwrap());
        assert!(!vars.flag("OFF", true).unwrap());
        assert!(vars.flag("UNSET", true).unwrap());
        assert_eq!(vars.flag("BAD", true).unwrap_err().name, "BAD");
    }

    #[test]
    fn the_per_key_limit_can_be_turned_off() {
        let c = config(&[("RATE_LIMIT_PER_MINUTE", "0"), ("RATE_LIMIT_BURST", "5")]).unwrap();
        assert_eq!((c.rate_limit_per_minute, c.rate_limit_burst), (0, 5));
    }

    #[test]
    fn credentials_that_cannot_be_headers_stop_startup() {
        let err = config(&[("AYRSHARE_API_KEY", "abc\r")]).unwrap_err();
        assert_eq!(err.name, "AYRSHARE_API_KEY");
        assert!(!err.to_string().contains("abc"));
        assert!(config(&[("AYRSHARE_API_KEY", "A1-b_2.c")]).is_ok());
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let c = config(&[
            ("DATABASE_URL", "postgres://user:dbpassword@localhost/db"),
            ("AYRSHARE_API_KEY", "AYR-SECRET-KEY"),
            ("AYRSHARE_X_API_KEY", "x-key-secret"),
            ("AYRSHARE_X_API_SECRET", "x-secret-secret"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        for secret in [
            "dbpassword",
            "AYR-SECRET-KEY",
            "x-key-secret",
            "x-secret-secret",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert_eq!(c.database_backend(), "postgres");
    }
}
