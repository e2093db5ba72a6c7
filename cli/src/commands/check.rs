//! `secret-chain check`: whether each configured provider answers.

use std::io::Write;
use std::process::ExitCode;

use secret_chain::{BreakerState, Error, SecretsManager};

use super::stdout_error;

/// Runs `secret-chain check`: one line per provider, in chain order.
pub(crate) async fn run() -> Result<ExitCode, Error> {
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
        .map_err(stdout_error)?;
    }
    if healthy == 0 {
        eprintln!("secret-chain: no provider answers");
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}
