//! The command line: `serve` (the default), `migrate`, `keys`, `workspaces` (create, list),
//! `endpoints` (create, list, delete), `webhooks`, `mock-ayrshare` and `healthcheck`.
//! Each command prints what a script needs alone on its last stdout line, and fails with one line
//! on stderr and a non-zero exit.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::app::{self, App, Mode};
use crate::config::{Config, is_header_safe};
use crate::domain::ApiKeySecret;
use crate::store::DynStore;
use crate::telemetry;
use mock_ayrshare::cli::{MockArgs, shutdown_signal};

/// What the one-shot commands log when `RUST_LOG` is unset: warnings, but not sqlx's notice of
/// a statement slower than a second (a migration on a busy machine), which would land between a
/// command's own lines and tell its user nothing to act on.
const COMMAND_LOG_FILTER: &str = "warn,sqlx::query=error";

/// Publish or schedule social posts through Ayrshare, exactly once, with a tracking record for
/// every request. Configuration comes from the environment and `.env`; see README.md.
// No `Debug` on the command types: they can carry an Ayrshare profile key or the mock's key.
#[derive(Parser)]
#[command(name = "mosaic-social", version)]
pub struct Cli {
    /// Sandbox: `serve` uses the built-in Ayrshare simulator (nothing leaves this machine), and
    /// every command uses the sandbox's own database (sandbox.db in the data directory), never
    /// DATABASE_URL, unless --database-url names one.
    #[arg(long, global = true)]
    sandbox: bool,
    /// The database to use instead of DATABASE_URL (postgres://..., sqlite://...). Prefer
    /// DATABASE_URL for a URL with a password: a command line is visible to other users.
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the API (the default command).
    Serve,
    /// Create the Postgres database if it does not exist, apply pending migrations, and exit.
    Migrate,
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create and list workspaces.
    #[command(subcommand)]
    Workspaces(WorkspacesCommand),
    /// Create, list and delete an organization's webhook endpoints (where its events are sent).
    #[command(subcommand)]
    Endpoints(EndpointsCommand),
    /// Keep the stored secrets (profile keys, endpoint secrets) encrypted under SECRETS_KEY.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Register this service's webhook at Ayrshare, or receive this service's own webhooks
    /// locally.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Run the Ayrshare simulator on its own, for integration tests (serves under /api); the
    /// same as the `mock-ayrshare` binary.
    MockAyrshare(MockArgs),
    /// Print the OpenAPI 3.1 document that `GET /openapi.json` serves (with `/metrics` on the
    /// main listener), for client generators and linters; needs no database or configuration.
    Openapi,
    /// Probe a URL and exit 0 when it answers 2xx: a container health check without curl.
    Healthcheck {
        /// The URL to probe [default: /readyz on BIND_ADDR, on loopback when BIND_ADDR binds every
        /// interface].
        url: Option<url::Url>,
        /// Count any HTTP answer as healthy (for a server whose routes all need a key, such as
        /// mock-ayrshare).
        #[arg(long)]
        any_status: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key (and the organization, with its primary workspace, if it is new); prints
    /// the key alone on the last line.
    Create {
        #[arg(long, value_parser = a_name)]
        organization: String,
        #[arg(long, value_parser = a_name)]
        label: Option<String>,
    },
    /// List an organization's keys: id, prefix, label, created_at, active or revoked.
    List {
        #[arg(long, value_parser = a_name)]
        organization: String,
    },
    /// Revoke a key by id or by prefix (`mk_` and 8 characters).
    Revoke {
        #[arg(value_name = "KEY_ID_OR_PREFIX")]
        key: String,
    },
}

#[derive(Subcommand)]
enum WorkspacesCommand {
    /// Create a workspace of an existing organization; prints its id alone on the last line.
    Create {
        #[arg(long, value_parser = a_name)]
        organization: String,
        #[arg(long, value_parser = a_name)]
        name: String,
        /// The Ayrshare Profile-Key this workspace posts with, or `-` to read it from standard
        /// input. Prefer `-` or --ayrshare-profile-key-file: a key written on the command line is
        /// visible to every user of the machine (`ps`, /proc/PID/cmdline) and stays in the
        /// shell's history.
        #[arg(long, value_name = "KEY", conflicts_with = "ayrshare_profile_key_file")]
        ayrshare_profile_key: Option<String>,
        /// Read the Ayrshare Profile-Key from this file (one line; a final line break is not
        /// part of the key), so that it never appears on a command line.
        #[arg(long, value_name = "PATH")]
        ayrshare_profile_key_file: Option<PathBuf>,
        /// Create the workspace's own Ayrshare User Profile (needs AYRSHARE_API_KEY) and keep
        /// its key, sealed, as `POST /workspaces` with `create_ayrshare_profile` does. Run
        /// again with the same name after a lost answer: it never makes a second profile.
        #[arg(long, conflicts_with_all = ["ayrshare_profile_key", "ayrshare_profile_key_file"])]
        create_ayrshare_profile: bool,
    },
    /// List an organization's workspaces: id, name, created_at, primary or secondary, and
    /// profile-key or no-profile-key (never the key).
    List {
        #[arg(long)]
        organization: String,
    },
}

/// A name (organization, workspace, key label) as typed: refused when blank, since a blank name
/// cannot be told apart in a listing, or when it holds control characters, which would break
/// the one-line, tab-separated output. Never trimmed or otherwise rewritten.
fn a_name(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("must not be blank".into());
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters (tabs, line breaks, ...)".into());
    }
    Ok(text.to_owned())
}

/// The most bytes of a profile key read from standard input or a file: Ayrshare's keys are
/// short, and a wrong file (or `/dev/zero`) must not be read without end.
const MAX_PROFILE_KEY_BYTES: u64 = 1024;

/// A profile key from `source` (named `what` in errors): its one line, without the final line
/// break. Never shown in an error.
fn read_profile_key(source: impl Read, what: &str) -> Result<String, Failure> {
    let mut bytes = Vec::new();
    source
        .take(MAX_PROFILE_KEY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure(format!("cannot read the profile key from {what}: {e}")))?;
    if bytes.len() as u64 > MAX_PROFILE_KEY_BYTES {
        return Err(Failure(format!(
            "the profile key from {what} is longer than {MAX_PROFILE_KEY_BYTES} bytes"
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure(format!("the profile key from {what} is not UTF-8 text")))?;
    let key = text
        .strip_suffix('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .unwrap_or(&text);
    if key.trim().is_empty() {
        return Err(Failure(format!("the profile key from {what} is empty")));
    }
    if key.contains(['\n', '\r']) {
        return Err(Failure(format!(
            "the profile key from {what} has more than one line"
        )));
    }
    Ok(key.to_owned())
}

#[derive(Subcommand)]
enum EndpointsCommand {
    /// Create a webhook endpoint with the API's rules (the address rule, the bound per
    /// organization); prints its id on stderr and its signing secret, shown only now, alone on
    /// the last line.
    Create {
        #[arg(long, value_parser = a_name)]
        organization: String,
        /// Where events are sent: https (http only with WEBHOOK_ALLOW_HTTP).
        #[arg(long)]
        url: String,
        /// Only these event types, separated by commas; every type by default.
        #[arg(long, value_name = "TYPES", value_delimiter = ',')]
        event_types: Option<Vec<String>>,
        /// Only this workspace (its id); every workspace by default.
        #[arg(long)]
        workspace: Option<uuid::Uuid>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List an organization's endpoints: id, url, event types (`*`: every type), workspace
    /// (`*`: every workspace), enabled or disabled (never a secret).
    List {
        #[arg(long, value_parser = a_name)]
        organization: String,
    },
    /// Delete an endpoint of the organization, with its pending deliveries and its log.
    Delete {
        #[arg(long, value_parser = a_name)]
        organization: String,
        #[arg(value_name = "ENDPOINT_ID")]
        id: String,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Re-encrypt every stored secret (Ayrshare profile keys, webhook endpoint secrets) under
    /// SECRETS_KEY, reading the old ones with SECRETS_KEY_PREVIOUS; prints what it did. Safe to
    /// run while servers are up and to run again; see docs/secrets.md.
    Rotate,
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Register URL as the `scheduled` webhook of a workspace's Ayrshare profile, signed with
    /// AYRSHARE_WEBHOOK_SECRET; prints what was registered, the URL alone on the last line.
    Register {
        #[arg(long)]
        organization: String,
        /// The workspace (its id); by default the organization's primary workspace.
        #[arg(long)]
        workspace: Option<uuid::Uuid>,
        /// This service's webhook route as Ayrshare reaches it, e.g.
        /// https://social.example.com/webhooks/ayrshare (Ayrshare wants https).
        #[arg(long)]
        url: url::Url,
    },
    /// Receive this service's webhooks locally for development: verifies each delivery with
    /// the endpoint's secret, prints it, and answers 204 (400 when the signature does not hold).
    Listen {
        /// The endpoint's secret (whsec_...), as its create or rotation answer showed it.
        #[arg(long, env = "WEBHOOK_LISTEN_SECRET", hide_env_values = true)]
        secret: String,
        /// Where to listen; `127.0.0.1:0` picks a free port.
        #[arg(long, default_value = "127.0.0.1:8788")]
        bind: SocketAddr,
    },
}

/// A failed command: its one-line message.
#[derive(Debug)]
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure(error.to_string())
    }
}

/// Runs the command line and returns the process's exit code.
pub async fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!(
                "{} (see mosaic-social --help)",
                usage_error_line(&e.to_string())
            );
            return ExitCode::from(2);
        }
    };
    let options = Options {
        sandbox: cli.sandbox,
        database_url: cli.database_url,
    };
    match execute(cli.command.unwrap_or(Command::Serve), options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {}", message.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// clap's message on one line, with what it names (a missing argument, a bad value) and without
/// the usage block and the pointer to --help that follow it.
fn usage_error_line(rendered: &str) -> String {
    let message = rendered
        .split("\n\nUsage:")
        .next()
        .unwrap_or(rendered)
        .split("\n\nFor more information")
        .next()
        .unwrap_or(rendered);
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        "error: invalid arguments".into()
    } else {
        line
    }
}

/// The options every command takes.
struct Options {
    sandbox: bool,
    database_url: Option<String>,
}

/// The configuration with the database the options choose: `--database-url`, else (sandbox) the
/// sandbox's own file, else `DATABASE_URL` or the default file.
fn configure(options: &Options) -> Result<(Config, Vec<String>), Failure> {
    let mut config = Config::from_env()?;
    let mut notes = Vec::new();
    if let Some(url) = &options.database_url {
        config.use_database_url(url)?;
    } else if options.sandbox {
        if !config.database_is_default {
            notes.push(
                "sandbox: DATABASE_URL is not used; the sandbox has its own database \
                 (--database-url chooses another)"
                    .to_owned(),
            );
        }
        config.use_sandbox_database();
    }
    notes.push(format!("database: {}", config.database_display()));
    Ok((config, notes))
}

async fn execute(command: Command, options: Options) -> Result<(), Failure> {
    if let Command::MockAyrshare(args) = command {
        telemetry::init("info").map_err(Failure)?;
        mock_ayrshare::cli::run(args, shutdown_signal()).await?;
        return Ok(());
    }
    if let Command::Openapi = command {
        let (_routes, document) = crate::http::api_routes(true);
        let text = serde_json::to_string_pretty(&document)
            .map_err(|e| Failure(format!("the OpenAPI document could not be written: {e}")))?;
        println!("{text}");
        return Ok(());
    }
    if let Command::Healthcheck { url, any_status } = command {
        let url = match url {
            Some(url) => url,
            None => readyz_url(Config::from_env()?.bind_addr)?,
        };
        return healthcheck(url, any_status).await;
    }
    if let Command::Webhooks(WebhooksCommand::Listen { secret, bind }) = command {
        return listen(&secret, bind).await;
    }
    let (config, database_lines) = configure(&options)?;
    // Every command says which database it uses. On stderr, so that stdout stays for scripts;
    // `serve` says it on stdout with its other startup lines, as its stderr may be JSON logs.
    let say_database = |on_stdout: bool| {
        for line in &database_lines {
            if on_stdout {
                println!("{line}");
            } else {
                eprintln!("{line}");
            }
        }
    };
    match command {
        Command::Serve => {
            telemetry::init("info,sqlx=warn").map_err(Failure)?;
            say_database(true);
            serve(config, options.sandbox).await
        }
        Command::Migrate => {
            telemetry::init("info,sqlx=warn").map_err(Failure)?;
            say_database(false);
            if app::create_database_if_missing(&config).await? {
                eprintln!("created the database {}", config.database_display());
            }
            open_store(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys(keys) => {
            telemetry::init(COMMAND_LOG_FILTER).map_err(Failure)?;
            say_database(false);
            run_keys(open_store(&config).await?, keys).await
        }
        Command::Workspaces(WorkspacesCommand::List { organization }) => {
            telemetry::init(COMMAND_LOG_FILTER).map_err(Failure)?;
            // Like every other command that opens the database (docs/cli.md's run caught
            // this one saying nothing).
            say_database(false);
            let store = open_store(&config).await?;
            let org = store
                .find_organization(&organization)
                .await?
                .ok_or_else(|| Failure(format!("no organization named {organization}")))?;
            for workspace in store.list_workspaces(org.id).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    workspace.id,
                    workspace.name,
                    workspace
                        .created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    if workspace.is_primary {
                        "primary"
                    } else {
                        "secondary"
                    },
                    if workspace.has_profile_key {
                        "profile-key"
                    } else {
                        "no-profile-key"
                    }
                );
            }
            Ok(())
        }
        Command::Workspaces(WorkspacesCommand::Create {
            organization,
            name,
            ayrshare_profile_key,
            ayrshare_profile_key_file,
            create_ayrshare_profile,
        }) => {
            telemetry::init(COMMAND_LOG_FILTER).map_err(Failure)?;
            say_database(false);
            if create_ayrshare_profile {
                return create_workspace_with_profile(&config, &organization, &name).await;
            }
            let ayrshare_profile_key = match (ayrshare_profile_key, ayrshare_profile_key_file) {
                (Some(key), _) if key == "-" => Some(read_profile_key(
                    std::io::stdin().lock(),
                    "standard input (--ayrshare-profile-key -)",
                )?),
                (Some(key), _) => Some(key),
                (None, Some(path)) => {
                    let file = std::fs::File::open(&path).map_err(|e| {
                        Failure(format!(
                            "--ayrshare-profile-key-file: cannot open {}: {e}",
                            path.display()
                        ))
                    })?;
                    Some(read_profile_key(
                        file,
                        &format!("{} (--ayrshare-profile-key-file)", path.display()),
                    )?)
                }
                (None, None) => None,
            };
            let store = open_store(&config).await?;
            let org = store
                .find_organization(&organization)
                .await?
                .ok_or_else(|| Failure(format!("no organization named {organization}")))?;
            if ayrshare_profile_key
                .as_deref()
                .is_some_and(|k| !is_header_safe(k))
            {
                return Err(Failure(
                    "the profile key contains characters that cannot be sent in an HTTP header"
                        .into(),
                ));
            }
            let workspace = store
                .create_workspace(org.id, &name, ayrshare_profile_key.as_deref())
                .await?;
            println!("{}", workspace.id);
            Ok(())
        }
        Command::Endpoints(command) => {
            telemetry::init(COMMAND_LOG_FILTER).map_err(Failure)?;
            say_database(false);
            let store = open_store(&config).await?;
            run_endpoints(store, config.events.clone(), command).await
        }
        Command::Secrets(SecretsCommand::Rotate) => {
            telemetry::init(COMMAND_LOG_FILTER).map_err(Failure)?;
            say_database(false);
            rotate_secrets(&config).await
        }
        Command::Webhooks(WebhooksCommand::Register {
            organization,
            workspace,
            url,
        }) => {
            telemetry::init(COMMAND_LOG_FILTER).map_err(Failure)?;
            register_webhook(&config, &organization, workspace, &url).await
        }
        Command::MockAyrshare(_)
        | Command::Healthcheck { .. }
        | Command::Openapi
        | Command::Webhooks(WebhooksCommand::Listen { .. }) => {
            unreachable!("handled above")
        }
    }
}

/// `secrets rotate`: needs `SECRETS_KEY` (the new key) and, for the values still under the old
/// one, `SECRETS_KEY_PREVIOUS`. Fails (non-zero) when a value could not be opened.
async fn rotate_secrets(config: &Config) -> Result<(), Failure> {
    let Some(keyring) = config.secrets_key.clone() else {
        return Err(Failure(
            "SECRETS_KEY is not set: set it to the new key, and SECRETS_KEY_PREVIOUS to the old \
             one (see docs/secrets.md)"
                .into(),
        ));
    };
    let store = open_store(config).await?;
    let report = crate::secrets_upkeep::rotate(&store, &keyring).await?;
    for failure in &report.failed {
        eprintln!("not re-encrypted: {failure}");
    }
    if !report.failed.is_empty() {
        return Err(Failure(format!(
            "{} stored secrets could not be opened with SECRETS_KEY or SECRETS_KEY_PREVIOUS; \
             the other {} are under key {}",
            report.failed.len(),
            report.sealed + report.unchanged,
            keyring.current.id()
        )));
    }
    println!(
        "re-encrypted {} stored secrets under key {} ({} already were)",
        report.sealed,
        keyring.current.id(),
        report.unchanged
    );
    Ok(())
}

/// `webhooks listen`: needs no database; prints where it listens, then a line per delivery.
async fn listen(secret: &str, bind: SocketAddr) -> Result<(), Failure> {
    let secret = crate::domain::standard_webhooks::WebhookSecret::parse(secret)
        .map_err(|e| Failure(format!("--secret: {e}")))?;
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| Failure(format!("--bind: cannot listen on {bind}: {e}")))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}/ (any path); each delivery is verified and printed");
    let print: crate::events::listen::Printer = std::sync::Arc::new(|line| println!("{line}"));
    let router = crate::events::listen::router(secret, print);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Connects to the configured database and applies pending migrations.
async fn open_store(config: &Config) -> Result<DynStore, Failure> {
    Ok(app::open_store(config).await?)
}

async fn serve(config: Config, sandbox: bool) -> Result<(), Failure> {
    let mode = if sandbox {
        Mode::Sandbox
    } else {
        Mode::Ayrshare
    };
    let app = App::build(&config, mode).await?;
    if sandbox {
        announce_sandbox(&app, config.bind_addr).await?;
    }
    let listener = TcpListener::bind(config.bind_addr).await.map_err(|e| {
        Failure(format!(
            "BIND_ADDR: cannot listen on {}: {e}",
            config.bind_addr
        ))
    })?;
    let addr = listener.local_addr()?;
    if let Some(metrics_addr) = config.metrics_bind_addr {
        let metrics_listener = TcpListener::bind(metrics_addr).await.map_err(|e| {
            Failure(format!(
                "METRICS_BIND_ADDR: cannot listen on {metrics_addr}: {e}"
            ))
        })?;
        let metrics_addr = metrics_listener.local_addr()?;
        let router = app.metrics_router();
        // Not waited for at shutdown: a scrape has nothing to finish.
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics_listener, router).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
        println!("metrics on http://{metrics_addr}/metrics");
    }
    tracing::info!(
        %addr,
        database = %config.database_display(),
        ayrshare = %app.ayrshare_base_url,
        sandbox,
        "serving"
    );
    println!("mosaic-social listening on http://{addr}");
    app.serve(listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn register_webhook(
    config: &Config,
    organization: &str,
    workspace: Option<uuid::Uuid>,
    url: &url::Url,
) -> Result<(), Failure> {
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(Failure(format!(
            "--url: '{url}' is not an absolute http or https URL"
        )));
    }
    if config.webhook_secrets.is_empty() {
        return Err(Failure(
            crate::publishing::RegisterError::NoSecret.to_string(),
        ));
    }
    let app = App::build(config, Mode::Ayrshare).await?;
    let org = app
        .store()
        .find_organization(organization)
        .await?
        .ok_or_else(|| Failure(format!("no organization named {organization}")))?;
    let registered = app
        .publisher()
        .register_webhook(org.id, workspace, url)
        .await?;
    println!(
        "registered the ayrshare 'scheduled' webhook for workspace {} of {} ({}); ayrshare \
         answered {}",
        registered.workspace_id,
        org.name,
        if registered.profile_key {
            "its Ayrshare user profile"
        } else {
            "the primary Ayrshare profile"
        },
        registered.answer
    );
    println!("{}", registered.url);
    Ok(())
}

/// `workspaces create --create-ayrshare-profile`: the API's use case, so the write-ahead and
/// the orphan check are the same.
async fn create_workspace_with_profile(
    config: &Config,
    organization: &str,
    name: &str,
) -> Result<(), Failure> {
    let app = App::build(config, Mode::Ayrshare).await?;
    let org = app
        .store()
        .find_organization(organization)
        .await?
        .ok_or_else(|| Failure(format!("no organization named {organization}")))?;
    let publisher = app.publisher();
    let workspaces = crate::workspaces::Workspaces::new(
        publisher.store.clone(),
        publisher.ayrshare.clone(),
        publisher.settings.answer_deadline(),
        publisher.tasks.clone(),
    );
    let created = workspaces
        .create(
            org.id,
            serde_json::json!({"name": name, "create_ayrshare_profile": true}),
            None,
        )
        .await
        .map_err(|e| Failure(crate::workspaces::profile_create::describe(&e)))?;
    println!(
        "created workspace {name} of {} with its own Ayrshare profile",
        org.name
    );
    println!("{}", created.workspace.id);
    Ok(())
}

/// Says loudly that nothing is published, and on an empty database creates a demo organization
/// and prints its key once, so the documentation's curl works right away.
async fn announce_sandbox(app: &App, bind_addr: SocketAddr) -> Result<(), Failure> {
    let store = app.store();
    println!("SANDBOX MODE: Ayrshare is simulated in-process. Nothing is published.");
    tracing::warn!("sandbox mode: ayrshare is simulated in-process; nothing is published");
    if store.count_organizations().await? > 0 {
        println!(
            "sandbox: the database already has organizations; create a key with `mosaic-social keys create --sandbox --organization NAME`"
        );
        return Ok(());
    }
    let organization = store.ensure_organization("demo").await?;
    let key = ApiKeySecret::generate();
    let info = store
        .insert_api_key(
            organization.id,
            &key.hash(),
            &key.prefix(),
            Some("sandbox demo"),
        )
        .await?;
    println!("sandbox: created the organization 'demo'. Its API key, shown this once:");
    println!("demo API key: {}", key.expose());
    let caller = crate::store::Caller {
        organization_id: organization.id,
        api_key_id: info.id,
    };
    match app
        .connections()
        .create_demo_workspace(store, caller, &app.ayrshare_base_url)
        .await
    {
        Ok(demo) => {
            println!(
                "sandbox: created the workspace '{}' with its own Ayrshare profile and X linked \
                 (account {})",
                crate::connections::demo::DEMO_WORKSPACE,
                demo.linked
            );
            println!("demo workspace id: {}", demo.workspace_id);
            println!(
                "sandbox: link another account: curl -s -X POST http://{bind_addr}/social/linkedin/connect \
                 -H \"Authorization: Bearer $KEY\" -H 'content-type: application/json' \
                 -d '{{\"workspace_id\": \"{}\"}}', then open its connect_url (docs/connections.md)",
                demo.workspace_id
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "sandbox: the demo workspace could not be made");
            println!("sandbox: the demo workspace could not be made: {e}");
        }
    }
    Ok(())
}

async fn run_keys(store: DynStore, command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::Create {
            organization,
            label,
        } => {
            let org = store.ensure_organization(&organization).await?;
            let key = ApiKeySecret::generate();
            let info = store
                .insert_api_key(org.id, &key.hash(), &key.prefix(), label.as_deref())
                .await?;
            eprintln!(
                "created API key {} ({}) for organization {}; it is shown only now:",
                info.id, info.prefix, org.name
            );
            println!("{}", key.expose());
        }
        KeysCommand::List { organization } => {
            let org = store
                .find_organization(&organization)
                .await?
                .ok_or_else(|| Failure(format!("no organization named {organization}")))?;
            for key in store.list_api_keys(org.id).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    key.id,
                    key.prefix,
                    key.label.as_deref().unwrap_or(""),
                    key.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    if key.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
        KeysCommand::Revoke { key } => {
            let info = store.revoke_api_key(&key).await?;
            println!("revoked {}\t{}", info.id, info.prefix);
        }
    }
    Ok(())
}

/// The endpoint verbs, through the same use cases as the API (`events::endpoints`).
async fn run_endpoints(
    store: DynStore,
    settings: crate::events::EventSettings,
    command: EndpointsCommand,
) -> Result<(), Failure> {
    let organization_of = |name: String| {
        let store = store.clone();
        async move {
            store
                .find_organization(&name)
                .await?
                .ok_or_else(|| Failure(format!("no organization named {name}")))
        }
    };
    let events = crate::events::Events::new(store.clone(), settings);
    match command {
        EndpointsCommand::Create {
            organization,
            url,
            event_types,
            workspace,
            description,
        } => {
            let org = organization_of(organization).await?;
            let body = serde_json::json!({
                "url": url,
                "event_types": event_types,
                "workspace_id": workspace,
                "description": description,
            });
            let created = events.create_endpoint(org.id, body).await?;
            eprintln!(
                "created webhook endpoint {} for organization {}; its signing secret is shown \
                 only now:",
                created.endpoint.id, org.name
            );
            println!("{}", created.secret);
        }
        EndpointsCommand::List { organization } => {
            let org = organization_of(organization).await?;
            let mut after: Vec<(String, String)> = Vec::new();
            loop {
                let page = events.list_endpoints(org.id, &after).await?;
                for endpoint in &page.endpoints {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        endpoint.id,
                        endpoint.url,
                        endpoint
                            .event_types
                            .as_ref()
                            .map_or("*".to_owned(), |t| t.join(",")),
                        endpoint
                            .workspace_id
                            .map_or("*".to_owned(), |w| w.to_string()),
                        if endpoint.disabled {
                            "disabled"
                        } else {
                            "enabled"
                        }
                    );
                }
                match page.next_cursor {
                    Some(cursor) => after = vec![("after".to_owned(), cursor)],
                    None => break,
                }
            }
        }
        EndpointsCommand::Delete { organization, id } => {
            let org = organization_of(organization).await?;
            events.delete_endpoint(org.id, &id).await?;
            println!("deleted {id}");
        }
    }
    Ok(())
}

/// `/readyz` on the address `serve` listens on, reached over loopback when it listens on every
/// interface.
fn readyz_url(bind: SocketAddr) -> Result<url::Url, Failure> {
    let mut addr = bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(url::Url::parse(&format!("http://{addr}/readyz"))?)
}

/// One GET with a short timeout; healthy on 2xx (or on any answer with `any_status`).
async fn healthcheck(url: url::Url, any_status: bool) -> Result<(), Failure> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| Failure(format!("{url}: no answer: {e}")))?;
    let status = response.status();
    if status.is_success() || any_status {
        println!("{url}: {status}");
        Ok(())
    } else {
        Err(Failure(format!("{url}: {status}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_names_and_control_characters_are_refused_as_typed() {
        for bad in ["", " ", "\t", " \u{a0} ", "a\tb", "a\nb"] {
            assert!(a_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(a_name(" acme ").unwrap(), " acme ");
        assert_eq!(a_name("Acme Corp").unwrap(), "Acme Corp");
    }

    #[test]
    fn a_blank_organization_stops_the_command_line() {
        for args in [
            &["mosaic-social", "keys", "create", "--organization", "  "][..],
            &[
                "mosaic-social",
                "keys",
                "create",
                "--organization",
                "a",
                "--label",
                "",
            ],
            &["mosaic-social", "keys", "list", "--organization", ""],
            &[
                "mosaic-social",
                "workspaces",
                "create",
                "--organization",
                "a",
                "--name",
                " ",
            ],
        ] {
            let error = Cli::try_parse_from(args).err().expect("refused");
            assert!(
                error.to_string().contains("must not be blank"),
                "{args:?}: {error}"
            );
        }
    }

    fn usage_error(args: &[&str]) -> String {
        match Cli::try_parse_from(args) {
            Ok(_) => panic!("{args:?} parsed"),
            Err(e) => usage_error_line(&e.to_string()),
        }
    }

    #[test]
    fn a_usage_error_names_what_is_missing_on_one_line() {
        let line = usage_error(&["mosaic-social", "keys", "create"]);
        assert!(line.contains("--organization"), "{line}");
        assert!(!line.contains('\n') && !line.contains("Usage"), "{line}");
        let line = usage_error(&[
            "mosaic-social",
            "workspaces",
            "create",
            "--organization",
            "a",
        ]);
        assert!(line.contains("--name"), "{line}");
    }
}
