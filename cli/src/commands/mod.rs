//! One module per subcommand: arguments, the call into the library, printing.

use std::path::Path;

use secret_chain::detect::RuleSet;
use secret_chain::{Error, ErrorKind};
use secret_chain_cli::scanner::{self, ConfigFormat};

use crate::Exit;

pub(crate) mod audit;
pub(crate) mod check;
pub(crate) mod exec;
pub(crate) mod get;
pub(crate) mod list;
pub(crate) mod migrate;
pub(crate) mod redact;
pub(crate) mod rotate;
pub(crate) mod scan;

/// A failed write to stdout, as the library's error (no value in it).
fn stdout_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, "cannot write to stdout").with_source(e)
}

/// Prints an error of `scan` or `redact` and returns their error status.
/// Every error of theirs is about their input (an unreadable path, a bad
/// `--config` or `--baseline`), which is a 2 whatever its kind.
fn fail(e: &Error) -> Exit {
    eprintln!("secret-chain: {e}");
    Exit::Usage
}

/// The rules of `scan` and `redact`: the built-in rules, or what the
/// `--config` file declares (ours: built-in plus its rules; gitleaks': its
/// rules, plus the built-in ones with `useDefault`), read as `format`
/// says; shared so that both commands find the same secrets.
fn rules(config: Option<&Path>, format: ConfigFormat) -> Result<RuleSet, Error> {
    match config {
        Some(path) => {
            let (rules, warnings) = scanner::load_rule_set(path, format)?;
            for w in warnings {
                eprintln!("secret-chain: warning: {w}");
            }
            Ok(rules)
        }
        None => Ok(RuleSet::builtin()),
    }
}
