//! `secret-chain list`: the names under a prefix, never a value. When some
//! providers cannot list, the others' names are printed, each failure is
//! named on stderr, and the exit code is 3: an incomplete listing must
//! not pass for a complete one in a script.

use std::io::Write;

use secret_chain::{Error, SecretsManager};

use super::stdout_error;
use crate::Exit;

/// Arguments of `secret-chain list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// Only names under this prefix, e.g. `database/`.
    #[arg(default_value = "")]
    prefix: String,
}

/// Runs `secret-chain list`.
pub(crate) async fn run(args: ListArgs) -> Result<Exit, Error> {
    let manager = SecretsManager::from_env()?;
    let listing = manager.list_secrets_report(&args.prefix).await?;
    let mut out = std::io::stdout().lock();
    for name in &listing.names {
        writeln!(out, "{name}").map_err(stdout_error)?;
    }
    if listing.failures.is_empty() {
        return Ok(Exit::Ok);
    }
    for failure in &listing.failures {
        eprintln!("secret-chain: list is incomplete: {failure}");
    }
    Ok(Exit::Unavailable)
}
