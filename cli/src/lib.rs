//! The engine behind the `secret-chain` command that is not part of the
//! library: the log [`scanner`] of `secret-chain scan` and `redact`
//! (directory walking, gzip, baselines, SARIF, user rules from TOML).
//!
//! It lives here, not in `secret-chain`, so that a service that only reads
//! secrets and masks its logs does not compile clap, flate2, toml or sha2.
//! The rules themselves are the library's
//! ([`secret_chain::detect`]), shared with the masking layer.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod scanner;
