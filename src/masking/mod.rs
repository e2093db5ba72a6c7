//! Keeping secrets out of logs.
//!
//! [`KnownSecrets`] is the registry of values the [`SecretsManager`](crate::SecretsManager)
//! has fetched, which the masking layer hides wherever they appear.

mod known;
pub mod scan;

pub use known::KnownSecrets;
