//! The `secret-chain` binary, run as a user runs it: in a temporary
//! directory, with a controlled environment, against the test servers
//! that `scripts/test` starts.

#[path = "../../../tests/support/mod.rs"]
mod support;

#[cfg(all(feature = "aws", feature = "vault"))]
mod agent;
mod audit;
mod bad_input;
mod breadth;
mod check;
mod exec;
mod exit_codes;
mod get;
mod gitleaks;
mod manifest;
mod migrate;
mod ops;
#[cfg(any(feature = "aws", feature = "vault"))]
mod rotate;
mod scan;
