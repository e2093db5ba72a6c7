//! `secret-chain list`: the names under a prefix, never a value.

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
    let names = manager.list_secrets(&args.prefix).await?;
    let mut out = std::io::stdout().lock();
    for name in names {
        writeln!(out, "{name}").map_err(stdout_error)?;
    }
    Ok(Exit::Ok)
}
