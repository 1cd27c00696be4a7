//! The `mock-ayrshare` binary: a mock Ayrshare server on a socket, for integration tests.
//! See docs/mock-ayrshare.md.

use std::process::ExitCode;

use clap::Parser;
use mock_ayrshare::cli::{self, MockArgs};

/// A mock Ayrshare server: simulates Ayrshare's post API under /api so that clients can be
/// tested without Ayrshare. Stops on Ctrl-C or SIGTERM.
#[derive(Parser)]
#[command(name = "mock-ayrshare", version)]
struct Cli {
    #[command(flatten)]
    args: MockArgs,
    /// Serve nothing: ask the mock listening at --bind (0.0.0.0 and :: are asked on loopback)
    /// whether it answers GET /mock/health, and exit 0 if it does, 1 if not (for container
    /// healthchecks; the image has no curl).
    #[arg(long)]
    healthcheck: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
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
            eprintln!("{first} (see mock-ayrshare --help)");
            return ExitCode::from(2);
        }
    };
    if cli.healthcheck {
        return match cli::probe(cli.args.bind).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("mock-ayrshare healthcheck: {message}");
                ExitCode::FAILURE
            }
        };
    }
    let result = match cli::init_logging() {
        Ok(()) => cli::run(cli.args, cli::shutdown_signal())
            .await
            .map_err(|e| e.to_string()),
        Err(message) => Err(message),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {}", message.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
