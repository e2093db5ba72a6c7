//! `secret-chain check`: whether each configured provider answers, or
//! (`--manifest FILE`) whether each secret of a manifest resolves.

use std::io::Write;
use std::path::PathBuf;

use secret_chain::{BreakerState, Error, SecretsManager};

use super::stdout_error;
use crate::Exit;
use crate::manifest::{self, Manifest, Outcome};

/// Arguments of `secret-chain check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// Check the secrets of this manifest (secrets.toml) instead of the
    /// providers: one line per secret (name, path, the provider that
    /// answered or why it failed), never a value.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

/// Runs `secret-chain check`.
pub(crate) async fn run(args: CheckArgs) -> Result<Exit, Error> {
    match args.manifest {
        Some(file) => run_manifest(&file).await,
        None => run_providers().await,
    }
}

/// `check --manifest FILE`: one line per secret, in the manifest's order,
/// `NAME PATH: ok (PROVIDER)` or `NAME PATH: STATUS: REASON`.
///
/// Exits 0 when every required secret resolves (an optional one may be
/// missing), 1 when a required one is missing, 2 for a bad manifest or
/// configuration (or a bad path or field), 3 when a backend is
/// unavailable or denied access: the greatest wins, and every line is
/// printed first.
async fn run_manifest(file: &std::path::Path) -> Result<Exit, Error> {
    let manifest = Manifest::read(file)?;
    let manager = SecretsManager::from_env()?;
    let outcomes = manifest::resolve(&manager, &manifest.entries).await;
    let mut out = std::io::stdout().lock();
    let mut exit = Exit::Ok;
    let mut failed = Vec::new();
    for (entry, outcome) in manifest.entries.iter().zip(&outcomes) {
        let (status, this) = match outcome {
            Outcome::Found(_, provider) => (
                format!("ok ({})", provider.as_deref().unwrap_or("?")),
                Exit::Ok,
            ),
            Outcome::Missing(e) if !entry.required => (
                format!("missing (optional): {}", manifest::reason(e)),
                Exit::Ok,
            ),
            Outcome::Missing(e) => (
                format!("missing (required): {}", manifest::reason(e)),
                Exit::No,
            ),
            Outcome::Failed(e) => (
                format!("{}: {}", e.kind(), manifest::reason(e)),
                Exit::of(e),
            ),
        };
        if this != Exit::Ok {
            failed.push(entry.name.as_str());
        }
        exit = exit.max(this);
        writeln!(out, "{} {}: {status}", entry.name, entry.path).map_err(stdout_error)?;
    }
    if !failed.is_empty() {
        eprintln!(
            "secret-chain: {} of {} secrets do not resolve: {}",
            failed.len(),
            manifest.entries.len(),
            failed.join(", ")
        );
    }
    Ok(exit)
}

/// Plain `check`: one line per provider, in chain order.
///
/// Exits 3 when any provider does not answer, not only when none does: a
/// chain that works only through its fallback is a backend outage to the
/// one who runs `check`. Every provider's line is printed first.
async fn run_providers() -> Result<Exit, Error> {
    let manager = SecretsManager::from_env()?;
    let mut out = std::io::stdout().lock();
    let report = manager.health().await;
    let mut silent = Vec::new();
    for h in &report {
        let breaker = match h.breaker {
            BreakerState::Closed => String::new(),
            other => format!(" [circuit {other}]"),
        };
        match &h.result {
            Ok(rtt) => writeln!(out, "{}: ok ({} ms){breaker}", h.provider, rtt.as_millis()),
            Err(e) => {
                silent.push(h.provider.as_str());
                writeln!(out, "{}: {e}{breaker}", h.provider)
            }
        }
        .map_err(stdout_error)?;
    }
    if silent.is_empty() {
        return Ok(Exit::Ok);
    }
    if silent.len() == report.len() {
        eprintln!("secret-chain: no provider answers");
    } else {
        eprintln!(
            "secret-chain: {} of {} providers do not answer: {}",
            silent.len(),
            report.len(),
            silent.join(", ")
        );
    }
    Ok(Exit::Unavailable)
}
