//! `secret-chain get`: one secret's value to stdout, for scripts.

use std::io::Write;

use secret_chain::{Error, ErrorKind, ExposeSecret, SecretsManager};

use super::stdout_error;
use crate::Exit;

/// Arguments of `secret-chain get`.
#[derive(Debug, clap::Args)]
pub(crate) struct GetArgs {
    /// Secret path, e.g. `database/url` or `database/creds#password`.
    path: String,
    /// Pretty-print the value as JSON (it must be JSON).
    #[arg(long)]
    json: bool,
}

/// Runs `secret-chain get`: the only command that prints a secret value,
/// and only to stdout.
pub(crate) async fn run(args: GetArgs) -> Result<Exit, Error> {
    let GetArgs { path, json } = args;
    let manager = SecretsManager::from_env()?;
    let value = manager.get_secret(&path).await?;
    let mut out = std::io::stdout().lock();
    let written = if json {
        // serde_json's error quotes the input, which is the secret: say
        // only that it is not JSON.
        let parsed: serde_json::Value =
            serde_json::from_str(value.expose_secret()).map_err(|_| {
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
    written.map_err(stdout_error)?;
    Ok(Exit::Ok)
}
