//! The `secret-chain` command: argument parsing and printing only; the
//! work is done by the library.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
use secret_chain::{BreakerState, Error, ErrorKind, ExposeSecret, SecretsManager};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  not found (get: the secret does not exist in any provider)
  2  usage or configuration error
  3  every provider unavailable or denied access";

/// Load secrets through the provider chain, and keep them out of logs.
///
/// Configuration comes from the environment: SECRETS_PROVIDERS (aws, vault,
/// env; default env), SECRETS_PREFIX, SECRETS_CACHE_TTL, SECRETS_ENV_FILE,
/// DEPLOYMENT_ENV, SECRETS_ALLOW_ENV_FALLBACK and the providers' own
/// variables (see the README).
#[derive(Debug, Parser)]
#[command(name = "secret-chain", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Print a secret's value and a newline to stdout (for scripts).
    #[command(after_help = EXIT_CODES)]
    Get {
        /// Secret path, e.g. `database/url` or `database/creds#password`.
        path: String,
        /// Pretty-print the value as JSON (it must be JSON).
        #[arg(long)]
        json: bool,
    },
    /// Print the names of the secrets under PREFIX, one a line.
    #[command(after_help = EXIT_CODES)]
    List {
        /// Only names under this prefix, e.g. `database/`.
        #[arg(default_value = "")]
        prefix: String,
    },
    /// Print each configured provider and whether it answers; never a value.
    #[command(after_help = EXIT_CODES)]
    Check,
    /// Scan logs and files for credentials (CI gate); the secret is never printed.
    #[command(after_help = commands::scan::SCAN_EXIT_CODES)]
    Scan(commands::scan::ScanArgs),
    /// Copy a file or stdin to stdout with every credential masked.
    #[command(after_help = commands::scan::REDACT_EXIT_CODES)]
    Redact(commands::scan::RedactArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // scan and redact are synchronous (threads, no runtime).
    let command = match cli.command {
        Commands::Scan(args) => return commands::scan::run_scan(args),
        Commands::Redact(args) => return commands::scan::run_redact(args),
        other => other,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("secret-chain: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("secret-chain: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

async fn run(command: Commands) -> Result<ExitCode, Error> {
    match command {
        Commands::Get { path, json } => {
            let manager = SecretsManager::from_env()?;
            let value = manager.get_secret(&path).await?;
            let mut out = std::io::stdout().lock();
            let written = if json {
                let parsed: serde_json::Value = serde_json::from_str(value.expose_secret())
                    .map_err(|_| {
                        Error::new(
                            ErrorKind::InvalidJson,
                            format!("secret '{path}' is not JSON; drop --json to print it as text"),
                        )
                    })?;
                let pretty = serde_json::to_string_pretty(&parsed)
                    .map_err(|e| Error::new(ErrorKind::InvalidJson, e.to_string()))?;
                writeln!(out, "{pretty}")
            } else {
                writeln!(out, "{}", value.expose_secret())
            };
            written.map_err(io_error)?;
            Ok(ExitCode::SUCCESS)
        }
        Commands::List { prefix } => {
            let manager = SecretsManager::from_env()?;
            let names = manager.list_secrets(&prefix).await?;
            let mut out = std::io::stdout().lock();
            for name in names {
                writeln!(out, "{name}").map_err(io_error)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Commands::Check => {
            let manager = SecretsManager::from_env()?;
            let mut out = std::io::stdout().lock();
            let mut healthy = 0;
            let report = manager.health().await;
            for h in &report {
                let breaker = match h.breaker {
                    BreakerState::Closed => String::new(),
                    other => format!(" [circuit {other}]"),
                };
                match &h.result {
                    Ok(rtt) => {
                        healthy += 1;
                        writeln!(out, "{}: ok ({} ms){breaker}", h.provider, rtt.as_millis())
                    }
                    Err(e) => writeln!(out, "{}: {e}{breaker}", h.provider),
                }
                .map_err(io_error)?;
            }
            if healthy == 0 {
                eprintln!("secret-chain: no provider answers");
                return Ok(ExitCode::from(3));
            }
            Ok(ExitCode::SUCCESS)
        }
        Commands::Scan(args) => Ok(commands::scan::run_scan(args)),
        Commands::Redact(args) => Ok(commands::scan::run_redact(args)),
    }
}

fn io_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, "cannot write to stdout").with_source(e)
}

/// Maps an error to the documented exit code.
fn exit_code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::NotFound => 1,
        ErrorKind::Unavailable | ErrorKind::AccessDenied => 3,
        _ => 2,
    }
}
