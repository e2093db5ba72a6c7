//! The `secret-chain` command: parses the arguments, dispatches to one
//! module per subcommand ([`commands`]) and maps errors to exit codes; the
//! work is done by the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
use secret_chain::{Error, ErrorKind};

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
    Get(commands::get::GetArgs),
    /// Print the names of the secrets under PREFIX, one a line.
    #[command(after_help = EXIT_CODES)]
    List(commands::list::ListArgs),
    /// Print each configured provider and whether it answers; never a value.
    #[command(after_help = EXIT_CODES)]
    Check,
    /// Scan logs and files for credentials (CI gate); the secret is never printed.
    #[command(after_help = commands::scan::SCAN_EXIT_CODES)]
    Scan(commands::scan::ScanArgs),
    /// Copy a file or stdin to stdout with every credential masked.
    #[command(after_help = commands::redact::REDACT_EXIT_CODES)]
    Redact(commands::redact::RedactArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Commands::Get(args) => block_on(commands::get::run(args)),
        Commands::List(args) => block_on(commands::list::run(args)),
        Commands::Check => block_on(commands::check::run()),
        // scan and redact are synchronous (threads, no runtime).
        Commands::Scan(args) => commands::scan::run(args),
        Commands::Redact(args) => commands::redact::run(args),
    }
}

/// Runs a command that talks to the providers on a one-thread runtime and
/// maps its error to the documented exit code.
fn block_on(command: impl Future<Output = Result<ExitCode, Error>>) -> ExitCode {
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
    match runtime.block_on(command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("secret-chain: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Maps an error to the documented exit code.
fn exit_code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::NotFound => 1,
        ErrorKind::Unavailable | ErrorKind::AccessDenied => 3,
        _ => 2,
    }
}
