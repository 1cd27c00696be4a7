//! The command line of the mock: the flags, shared by the `mock-ayrshare` binary and any program
//! that embeds the mock as a subcommand (flatten [`MockArgs`]), and [`run`].

use std::future::Future;
use std::io::IsTerminal;
use std::net::SocketAddr;

use tracing_subscriber::EnvFilter;

use crate::webhook::{self, WebhookTarget};
use crate::{DEFAULT_MAX_POSTS, DEFAULT_RATE_LIMIT_MAX, MockConfig};

/// The flags of `mock-ayrshare`. Clones carry the API key: no `Debug`, so it is never printed.
#[derive(Clone, clap::Args)]
pub struct MockArgs {
    /// The address to listen on (`127.0.0.1:0` picks a free port; the printed line tells which).
    #[arg(long, env = "MOCK_AYRSHARE_BIND", default_value = "127.0.0.1:9090")]
    pub bind: SocketAddr,
    /// Accept only this bearer key (by default any non-empty key is accepted).
    #[arg(long, env = "MOCK_AYRSHARE_API_KEY")]
    pub api_key: Option<String>,
    /// How many posts to remember; past it the oldest settled ones are forgotten.
    #[arg(long, env = "MOCK_AYRSHARE_MAX_POSTS", default_value_t = DEFAULT_MAX_POSTS)]
    pub max_posts: usize,
    /// Answer posts sent with a Profile-Key in Ayrshare's wrapped form ({"status", "posts": [...]});
    /// a profile's own setting (PUT /mock/profiles/{profile_key}) wins.
    #[arg(long, env = "MOCK_AYRSHARE_WRAP_PROFILE_ANSWERS")]
    pub wrap_profile_answers: bool,
    /// Deliver the signed `scheduled` webhook here for profiles that registered none with
    /// POST /api/hook/webhook (http:// or https://).
    #[arg(long, env = "MOCK_AYRSHARE_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// Sign those deliveries with this secret (X-Authorization-Content-SHA256).
    #[arg(long, env = "MOCK_AYRSHARE_WEBHOOK_SECRET", requires = "webhook_url")]
    pub webhook_secret: Option<String>,
    /// Requests per profile per 5-minute window before a 429; 0 turns the limit and the
    /// x-ratelimit-* headers off.
    #[arg(long, env = "MOCK_AYRSHARE_RATE_LIMIT_MAX", default_value_t = DEFAULT_RATE_LIMIT_MAX)]
    pub rate_limit_max: u64,
    /// Benchmark mode: answer at once and remember nothing (no posts, no idempotency keys, no
    /// rate limit); reads of a post answer 404.
    #[arg(long, env = "MOCK_AYRSHARE_FORGET")]
    pub forget: bool,
    /// Accept only this privateKey in POST /api/profiles/generateJWT (by default any non-empty
    /// one is accepted).
    #[arg(long, env = "MOCK_AYRSHARE_LINK_PRIVATE_KEY")]
    pub link_private_key: Option<String>,
}

impl MockArgs {
    /// The simulator's settings these flags describe.
    pub fn config(&self) -> MockConfig {
        MockConfig {
            api_key: self.api_key.clone(),
            max_posts: self.max_posts,
            wrap_profile_answers: self.wrap_profile_answers,
            webhook: self.webhook_url.clone().map(|url| WebhookTarget {
                url,
                secret: self.webhook_secret.clone(),
            }),
            rate_limit_max: self.rate_limit_max,
            forget: self.forget,
            link_private_key: self.link_private_key.clone(),
        }
    }
}

/// The line printed on stdout once the mock listens: `mock ayrshare listening on
/// http://ADDR/api`, ADDR being the bound address (the port picked for `:0`). Scripts wait for
/// it and read the base URL from it; it is the only line ever printed on stdout.
pub fn start_line(addr: SocketAddr) -> String {
    format!("mock ayrshare listening on http://{addr}/api")
}

/// Listens on `args.bind`, prints [`start_line`] on stdout (scripts wait for that line), and
/// serves until `shutdown` completes.
pub async fn run(
    args: MockArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Some(url) = &args.webhook_url {
        webhook::check_url(url).map_err(|why| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("--webhook-url: {why}"),
            )
        })?;
    }
    let bind = args.bind;
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("--bind: cannot listen on {bind}: {e}"))
    })?;
    let addr = listener.local_addr()?;
    println!("{}", start_line(addr));
    crate::serve(listener, args.config(), shutdown).await
}

/// Asks the mock listening at `bind` whether it answers `GET /mock/health` (within 5 s); an
/// unspecified address (`0.0.0.0`, `::`) is asked on loopback.
pub async fn probe(bind: SocketAddr) -> Result<(), String> {
    let mut addr = bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("http://{addr}/mock/health");
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("{url} answered {}", response.status())),
        Err(e) => Err(format!("{url} did not answer: {e}")),
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`); a filter that does not parse is
/// refused with a one-line message. Does nothing if a subscriber is already installed.
pub fn init_logging() -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => EnvFilter::try_new(value.trim())
            .map_err(|e| format!("RUST_LOG: '{value}' is not a log filter: {e}"))?,
        _ => EnvFilter::new("info"),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. Shared: `mosaic-social` stops `serve` and its
/// `mock-ayrshare` command with it too, so the two programs stop on the same signals.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
