//! The `secret-chain` command: parses the arguments, dispatches to one
//! module per subcommand ([`commands`]) and maps errors to exit codes; the
//! work is done by the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod agent;
mod commands;
mod exec;
mod manifest;
mod ops;
use secret_chain::{Error, ErrorKind};

/// What `--help` says about exit codes: the same table for every command,
/// kept next to [`Exit`] (a unit test checks that they agree) and copied in
/// the README's "Command line" section.
const EXIT_CODES: &str = "\
Exit codes (the same for every command):
  0  ok
  1  the answer is no: get: not found in any provider; check --manifest:
     a required secret missing; scan: credentials found; migrate: an
     overwrite refused or a required secret missing at the source;
     rotate: the check failed (rolled back), the secret is missing, or a
     pending version or AWS rotation refused it; audit: a secret overdue
  2  usage, configuration or a bad file: bad arguments, a bad SECRETS_*
     value or .env file, an unreadable path, a bad --config, --baseline
     or --manifest, a provider that cannot be written or audited
  3  a backend unavailable or access denied: get: a provider failed and
     no other one had the secret; list: a provider cannot list (the
     others' names are printed); check: any provider does not answer;
     migrate, rotate, audit: a read or write failed (migrate names what
     was written and what was not)
  A 2 or 3 wins over a 1 (scan: an unreadable path and a finding exit 2).
  exec is the exception and follows env(1): the command's own status,
  125 secret-chain itself failed (bad arguments, configuration or
  manifest, a secret that does not resolve: nothing was run), 126 the
  command cannot be run, 127 not found, 128+N killed by signal N.
  agent: 0 after a clean shutdown (SIGTERM, SIGINT), 2 a bad config
  file, token, chain setting or manifest, 3 cannot bind or its AWS
  credentials fail validation.";

/// The exit status of every command except `exec`: one table,
/// printed by `--help` ([`EXIT_CODES`]) and listed in the README.
///
/// The order is the precedence: when a command has several answers (scan
/// over several paths), the greatest wins, so a 2 or 3 is never hidden
/// behind a 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Exit {
    /// The command did what was asked.
    Ok = 0,
    /// The answer is no: not found, credentials found.
    No = 1,
    /// Usage, configuration or a bad file: retrying will not help.
    Usage = 2,
    /// A backend unavailable or access denied: the answer is unknown.
    Unavailable = 3,
}

impl Exit {
    /// The status of a command that failed with `e`.
    ///
    /// A "not found" is a clean no only when every provider said so. The
    /// library calls a lookup "not found" as soon as one provider said so,
    /// but when another one was unavailable or refused access the secret
    /// may well be there: that is a 3, so that a script does not conclude
    /// "missing" from a backend outage. Any other kind is the error's own:
    /// it is what stopped the chain.
    fn of(e: &Error) -> Exit {
        let own = Exit::of_kind(e.kind());
        if own != Exit::No {
            return own;
        }
        e.outcomes()
            .iter()
            .map(|o| Exit::of_kind(o.kind))
            .fold(own, Exit::max)
    }

    fn of_kind(kind: ErrorKind) -> Exit {
        match kind {
            ErrorKind::NotFound => Exit::No,
            ErrorKind::Unavailable | ErrorKind::AccessDenied => Exit::Unavailable,
            // Bad values, paths, JSON, I/O, and kinds added later: the
            // command cannot succeed as asked.
            _ => Exit::Usage,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

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
    /// Print each configured provider and whether it answers (or, with
    /// --manifest, whether each secret of a manifest resolves); never a value.
    #[command(after_help = EXIT_CODES)]
    Check(commands::check::CheckArgs),
    /// Scan logs and files for credentials (CI gate); the secret is never printed.
    #[command(after_help = EXIT_CODES)]
    Scan(commands::scan::ScanArgs),
    /// Copy a file or stdin to stdout with every credential masked.
    #[command(after_help = EXIT_CODES)]
    Redact(commands::redact::RedactArgs),
    /// Run a command with the secrets of a manifest in its environment and
    /// every secret masked in its output (pipes, not a terminal).
    #[command(after_help = EXIT_CODES)]
    Exec(commands::exec::ExecArgs),
    /// Serve secrets over loopback HTTP as the AWS Secrets Manager Agent
    /// does (same config file, endpoints, token and answers), through the
    /// whole chain, with masked logs.
    #[command(after_help = EXIT_CODES)]
    Agent(agent::AgentArgs),
    /// Copy the secrets of a manifest from one provider to another (aws or
    /// vault); prints the plan and what was done, never a value.
    #[command(after_help = EXIT_CODES)]
    Migrate(commands::migrate::MigrateArgs),
    /// Put a new value in a secret (generated or from stdin), check it with a
    /// command, then promote it or roll back; never prints the value.
    #[command(after_help = EXIT_CODES)]
    Rotate(commands::rotate::RotateArgs),
    /// Report each secret's current version, its age and whether it is
    /// overdue for rotation; reads metadata only, never a value.
    #[command(after_help = EXIT_CODES)]
    Audit(commands::audit::AuditArgs),
}

fn main() -> ExitCode {
    // A usage error is reported by clap, which exits 2 (our `Exit::Usage`),
    // or 125 for exec (env(1)'s "exec itself failed"); --help and
    // --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && is_exec(std::env::args_os()) => {
            let _ = e.print();
            return ExitCode::from(exec::FAILED);
        }
        Err(e) => e.exit(),
    };
    let exit = match cli.command {
        Commands::Exec(args) => return ExitCode::from(commands::exec::run(args)),
        Commands::Get(args) => block_on(commands::get::run(args)),
        Commands::List(args) => block_on(commands::list::run(args)),
        Commands::Check(args) => block_on(commands::check::run(args)),
        // scan and redact are synchronous (threads, no runtime).
        Commands::Scan(args) => commands::scan::run(args),
        Commands::Redact(args) => commands::redact::run(args),
        Commands::Agent(args) => agent::run(args),
        Commands::Migrate(args) => block_on(commands::migrate::run(args)),
        Commands::Rotate(args) => block_on(commands::rotate::run(args)),
        Commands::Audit(args) => block_on(commands::audit::run(args)),
    };
    exit.into()
}

/// Whether the command line asks for `exec` (its first argument).
fn is_exec(mut args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.nth(1).is_some_and(|a| a == "exec")
}

/// Runs a command that talks to the providers on a one-thread runtime,
/// and prints its error, if any, as one line on stderr.
fn block_on(command: impl Future<Output = Result<Exit, Error>>) -> Exit {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("secret-chain: cannot start the async runtime: {e}");
            return Exit::Usage;
        }
    };
    runtime.block_on(command).unwrap_or_else(|e| {
        eprintln!("secret-chain: {e}");
        Exit::of(&e)
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use secret_chain::{Error, ErrorKind};

    use super::{Cli, EXIT_CODES, Exit};

    #[test]
    fn help_lists_every_exit_status() {
        for exit in [Exit::Ok, Exit::No, Exit::Usage, Exit::Unavailable] {
            let line = format!("\n  {}  ", exit as u8);
            assert!(
                EXIT_CODES.contains(&line),
                "{exit:?} missing from EXIT_CODES"
            );
        }
    }

    #[test]
    fn every_command_prints_the_same_table() {
        let mut cli = Cli::command();
        cli.build();
        for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
            let after = sub.get_after_help().map(|h| h.to_string());
            assert_eq!(after.as_deref(), Some(EXIT_CODES), "{}", sub.get_name());
        }
    }

    #[test]
    fn a_2_or_3_wins_over_a_1() {
        assert!(Exit::Usage > Exit::No && Exit::Unavailable > Exit::No);
        assert_eq!(Exit::No.max(Exit::Usage), Exit::Usage);
    }

    #[test]
    fn kinds_map_to_the_table() {
        let of = |kind| Exit::of(&Error::new(kind, "x"));
        assert_eq!(of(ErrorKind::NotFound), Exit::No);
        assert_eq!(of(ErrorKind::Unavailable), Exit::Unavailable);
        assert_eq!(of(ErrorKind::AccessDenied), Exit::Unavailable);
        for kind in [
            ErrorKind::Config,
            ErrorKind::InvalidJson,
            ErrorKind::InvalidPath,
            ErrorKind::InvalidValue,
            ErrorKind::Io,
        ] {
            assert_eq!(of(kind), Exit::Usage, "{kind:?}");
        }
    }
}
