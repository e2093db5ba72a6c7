//! `secret-chain redact`: a copy of a file or stdin with every credential
//! masked; the work is done by [`secret_chain_cli::scanner`].

use std::io::{self, Write};
use std::path::PathBuf;

use secret_chain_cli::scanner::{self as scan, ConfigFormat, MASK};

use super::{fail, rules};
use crate::Exit;

/// Arguments of `secret-chain redact`.
#[derive(Debug, clap::Args)]
pub(crate) struct RedactArgs {
    /// The file to copy with secrets masked; stdin when absent or `-`.
    #[arg(value_name = "PATH")]
    path: Option<PathBuf>,
    /// Rules from a TOML file (ours or gitleaks', as `scan --config`).
    /// A gitleaks rule or allowlist with a `path` applies only to a file
    /// named here, never to stdin.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How --config is read: `auto`, `secret-chain` or `gitleaks` (as
    /// `scan --config-format`).
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "auto",
        requires = "config"
    )]
    config_format: ConfigFormat,
    /// What replaces each secret.
    #[arg(long, default_value = MASK, value_name = "TEXT")]
    mask: String,
}

/// Runs `secret-chain redact`.
pub(crate) fn run(args: RedactArgs) -> Exit {
    let rules = match rules(args.config.as_deref(), args.config_format) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let (name, result) = match args.path.as_ref().filter(|p| p.as_os_str() != "-") {
        None => (
            "<stdin>".to_owned(),
            scan::redact_stream(&rules, io::stdin().lock(), out, &args.mask),
        ),
        Some(path) => {
            let name = path.display().to_string();
            // Path rules and path allowlists apply as in `scan` of this file.
            let rules = rules.for_path(Some(&scan::display_path(path)));
            match std::fs::File::open(path) {
                Ok(f) => (name, scan::redact_stream(&rules, f, out, &args.mask)),
                Err(e) => {
                    eprintln!("secret-chain: cannot open '{name}': {}", reason(&e));
                    return Exit::Usage;
                }
            }
        }
    };
    match result {
        Ok(_) => Exit::Ok,
        // The reader of our output went away (`| head`): stop quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            eprintln!("secret-chain: redacting '{name}' failed: {}", reason(&e));
            let _ = io::stderr().flush();
            Exit::Usage
        }
    }
}

fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        k => k.to_string(),
    }
}
