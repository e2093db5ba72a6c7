//! The integration suite, as one test binary (each binary would link the
//! AWS SDK again): the providers against the real moto, OpenBao and drongo servers
//! that `scripts/test` starts on loopback, the resilience behaviour under
//! faults, and the masking guarantees on captured output.
//!
//! Tests that need process-wide state of their own (the global manager, the
//! global subscriber) live in `tests/process.rs`, a binary of its own.

#[path = "../support/mod.rs"]
mod support;

mod aws;
mod aws_regions;
mod aws_role;
mod batch;
mod dotenv_compat;
mod files;
mod fuzz_smoke;
#[cfg(feature = "gcp")]
mod gcp;
mod layout;
mod masking_fuzz_smoke;
mod masking_leaks;
#[cfg(feature = "otel")]
mod masking_otel;
mod masking_outputs;
mod masking_props;
mod metadata;
mod named;
mod resilience;
mod servers;
#[cfg(feature = "ssm")]
mod ssm;
mod vault;
mod vault_auth;
mod vault_dynamic;
