//! The command line: `serve` (the default), `migrate`, `keys`, `workspaces` (create, list),
//! `webhooks` and
//! `mock-ayrshare`.
//! Each command prints what a script needs alone on its last stdout line, and fails with one line
//! on stderr and a non-zero exit.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::app::{self, App, Mode};
use crate::config::{Config, is_header_safe};
use crate::domain::ApiKeySecret;
use crate::store::DynStore;
use crate::telemetry;
use mock_ayrshare::cli::MockArgs;

/// Publish or schedule social posts through Ayrshare, exactly once, with a tracking record for
/// every request. Configuration comes from the environment and `.env`; see README.md.
// No `Debug` on the command types: they can carry an Ayrshare profile key or the mock's key.
#[derive(Parser)]
#[command(name = "mosaic-social", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the API (the default command).
    Serve {
        /// Use the built-in Ayrshare simulator in-process: nothing leaves this machine.
        #[arg(long)]
        sandbox: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create and list workspaces.
    #[command(subcommand)]
    Workspaces(WorkspacesCommand),
    /// Register this service's webhook at Ayrshare.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Run the Ayrshare simulator on its own, for integration tests (serves under /api); the
    /// same as the `mock-ayrshare` binary.
    MockAyrshare(MockArgs),
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
        /// The Ayrshare Profile-Key this workspace posts with.
        #[arg(long)]
        ayrshare_profile_key: Option<String>,
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
            let rendered = e.to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            eprintln!("{first} (see mosaic-social --help)");
            return ExitCode::from(2);
        }
    };
    match execute(cli.command.unwrap_or(Command::Serve { sandbox: false })).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {}", message.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command) -> Result<(), Failure> {
    if let Command::MockAyrshare(args) = command {
        telemetry::init("info").map_err(Failure)?;
        mock_ayrshare::cli::run(args, shutdown_signal()).await?;
        return Ok(());
    }
    let config = Config::from_env()?;
    match command {
        Command::Serve { sandbox } => {
            telemetry::init("info,sqlx=warn").map_err(Failure)?;
            serve(config, sandbox).await
        }
        Command::Migrate => {
            telemetry::init("info,sqlx=warn").map_err(Failure)?;
            open_store(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys(keys) => {
            telemetry::init("warn").map_err(Failure)?;
            run_keys(open_store(&config).await?, keys).await
        }
        Command::Workspaces(WorkspacesCommand::List { organization }) => {
            telemetry::init("warn").map_err(Failure)?;
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
        }) => {
            telemetry::init("warn").map_err(Failure)?;
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
                    "--ayrshare-profile-key contains characters that cannot be sent in an HTTP \
                     header"
                        .into(),
                ));
            }
            let workspace = store
                .create_workspace(org.id, &name, ayrshare_profile_key.as_deref())
                .await?;
            println!("{}", workspace.id);
            Ok(())
        }
        Command::Webhooks(WebhooksCommand::Register {
            organization,
            workspace,
            url,
        }) => {
            telemetry::init("warn").map_err(Failure)?;
            register_webhook(&config, &organization, workspace, &url).await
        }
        Command::MockAyrshare(_) => unreachable!("handled above"),
    }
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
        announce_sandbox(app.store()).await?;
    }
    let listener = TcpListener::bind(config.bind_addr).await.map_err(|e| {
        Failure(format!(
            "BIND_ADDR: cannot listen on {}: {e}",
            config.bind_addr
        ))
    })?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        database = config.database_backend(),
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

/// Says loudly that nothing is published, and on an empty database creates a demo organization
/// and prints its key once, so the documentation's curl works right away.
async fn announce_sandbox(store: &DynStore) -> Result<(), Failure> {
    println!("SANDBOX MODE: Ayrshare is simulated in-process. Nothing is published.");
    tracing::warn!("sandbox mode: ayrshare is simulated in-process; nothing is published");
    if store.count_organizations().await? > 0 {
        println!(
            "sandbox: the database already has organizations; create a key with `mosaic-social keys create --organization NAME`"
        );
        return Ok(());
    }
    let organization = store.ensure_organization("demo").await?;
    let key = ApiKeySecret::generate();
    store
        .insert_api_key(
            organization.id,
            &key.hash(),
            &key.prefix(),
            Some("sandbox demo"),
        )
        .await?;
    println!("sandbox: created the organization 'demo'. Its API key, shown this once:");
    println!("demo API key: {}", key.expose());
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

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
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
}
