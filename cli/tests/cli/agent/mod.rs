//! `secret-chain agent` against moto and OpenBao: the AWS agent's contract
//! (`endpoints.rs`), the chain behind it (`chain.rs`), start and stop
//! (`lifecycle.rs`); `harness.rs` runs one agent per test.

mod chain;
mod endpoints;
mod harness;
mod lifecycle;
