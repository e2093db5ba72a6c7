//! The agent's own logs, through the masking layer (every value the chain
//! has fetched, the SSRF token and the credential patterns are masked):
//! `log_level` as the AWS agent reads it (`NONE`: nothing), to
//! `./logs/secret_chain_agent.log` when `log_to_file` (the AWS agent's
//! default; the file is rotated to `.1` past 10 MB at start), to stderr
//! otherwise. Stdout carries only the `listening on` line.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;

use secret_chain::Error;
use secret_chain::masking::{KnownSecrets, MaskingLayer};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::config::LogLevel;

/// Where the log file goes, relative to the working directory (as the AWS
/// agent's `./logs/secrets_manager_agent.log`).
pub(crate) const LOG_FILE: &str = "logs/secret_chain_agent.log";
const ROTATE_AT: u64 = 10 * 1024 * 1024;

/// Installs the agent's subscriber.
///
/// # Errors
///
/// The log file cannot be opened (naming it).
pub(crate) fn install(
    level: LogLevel,
    to_file: bool,
    known: Arc<KnownSecrets>,
) -> Result<(), Error> {
    let filter = match level {
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::None => LevelFilter::OFF,
    };
    if level == LogLevel::None {
        // Nothing is logged: no subscriber, no masking rules built.
        return Ok(());
    }
    let writer = if to_file {
        let file = open_log(Path::new(LOG_FILE))?;
        BoxMakeWriter::new(Arc::new(file))
    } else {
        BoxMakeWriter::new(std::io::stderr)
    };
    let layer = MaskingLayer::builder()
        .known(known)
        .ansi(false)
        .writer(writer)
        .build()?;
    // A subscriber may already be set (a test harness); the agent's then
    // stays off rather than failing.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
    Ok(())
}

fn open_log(path: &Path) -> Result<std::fs::File, Error> {
    let fail = |e: std::io::Error| {
        Error::config(format!(
            "cannot open the agent's log file {}: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > ROTATE_AT) {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        std::fs::rename(path, old).map_err(fail)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(fail)
}
