//! Keeping secrets out of logs.
//!
//! [`KnownSecrets`] is the registry of values the [`SecretsManager`](crate::SecretsManager)
//! has fetched, which the masking layer hides wherever they appear.
//! [`patterns`] is the credential rule engine (vendor formats, secret-named
//! keys, user rules).

mod known;
pub mod patterns;
pub mod scan;

pub use known::KnownSecrets;
