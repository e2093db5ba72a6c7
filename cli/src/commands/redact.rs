//! `secret-chain redact`: a copy of a file or stdin with every credential
//! masked; the work is done by [`secret_chain_cli::scanner`].

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use secret_chain_cli::scanner::{self as scan, MASK};

use super::{fail, rules};

pub(crate) const REDACT_EXIT_CODES: &str = "\
Exit codes:
  0  the whole input was copied (secrets masked)
  2  error: unreadable input, bad --config file, bad arguments";

/// Arguments of `secret-chain redact`.
#[derive(Debug, clap::Args)]
pub(crate) struct RedactArgs {
    /// The file to copy with secrets masked; stdin when absent or `-`.
    #[arg(value_name = "PATH")]
    path: Option<PathBuf>,
    /// Extra rules from a TOML file (same format as `scan --config`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// What replaces each secret.
    #[arg(long, default_value = MASK, value_name = "TEXT")]
    mask: String,
}

/// Runs `secret-chain redact`.
pub(crate) fn run(args: RedactArgs) -> ExitCode {
    let rules = match rules(args.config.as_deref()) {
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
            match std::fs::File::open(path) {
                Ok(f) => (name, scan::redact_stream(&rules, f, out, &args.mask)),
                Err(e) => {
                    eprintln!("secret-chain: cannot open '{name}': {}", reason(&e));
                    return ExitCode::from(2);
                }
            }
        }
    };
    match result {
        Ok(_) => ExitCode::SUCCESS,
        // The reader of our output went away (`| head`): stop quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("secret-chain: redacting '{name}' failed: {}", reason(&e));
            let _ = io::stderr().flush();
            ExitCode::from(2)
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
