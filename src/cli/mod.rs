//! Subcommands of the `secret-chain` binary that need more than a few lines
//! of printing: argument structs and the glue between them and the library.

pub(crate) mod scan;
