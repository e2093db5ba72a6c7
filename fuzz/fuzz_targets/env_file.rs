//! Fuzz target for the `.env` reader and `#field` selection: no panic on
//! any input, and the invariants of `env_check` hold.
//!
//! Run with `cargo +nightly fuzz run env_file` from the repository root.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "env_check.rs"]
mod env_check;

fuzz_target!(|data: &[u8]| {
    env_check::check(data);
});
