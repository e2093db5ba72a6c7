//! Fuzz target for the redactor: no panic on any input, and the output
//! invariants of `check` hold.
//!
//! Run with `cargo +nightly fuzz run redactor` from the repository root.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "check.rs"]
mod check;

fuzz_target!(|data: &[u8]| {
    check::check(data);
});
