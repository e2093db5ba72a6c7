//! `secret-chain check`: whether each configured provider answers.

use std::io::Write;

use secret_chain::{BreakerState, Error, SecretsManager};

use super::stdout_error;
use crate::Exit;

/// Runs `secret-chain check`: one line per provider, in chain order.
///
/// Exits 3 when any provider does not answer, not only when none does: a
/// chain that works only through its fallback is a backend outage to the
/// one who runs `check`. Every provider's line is printed first.
pub(crate) async fn run() -> Result<Exit, Error> {
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
