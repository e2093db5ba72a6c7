//! What the operator commands (`migrate`, `rotate`, `audit`) share that
//! is not the library's: random values (`generate.rs`) and ages
//! (`age.rs`). Writing to a backend is the library's
//! ([`secret_chain::admin`]).

pub(crate) mod age;
pub(crate) mod generate;
