//! One module per subcommand: arguments, the call into the library, printing.

use std::path::Path;

use secret_chain::detect::RuleSet;
use secret_chain::{Error, ErrorKind};
use secret_chain_cli::scanner;

use crate::Exit;

pub(crate) mod check;
pub(crate) mod exec;
pub(crate) mod get;
pub(crate) mod list;
pub(crate) mod redact;
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

/// The built-in rules plus the user rules of `--config`, shared by `scan`
/// and `redact` so that both find the same secrets.
fn rules(config: Option<&Path>) -> Result<RuleSet, Error> {
    let rules = RuleSet::builtin();
    match config {
        Some(path) => {
            let (user, warnings) = scanner::load_rules_file_with_warnings(path)?;
            for w in warnings {
                eprintln!("secret-chain: warning: {w}");
            }
            rules.with_user_rules(user)
        }
        None => Ok(rules),
    }
}
