//! One module per subcommand: arguments, the call into the library, printing.

pub(crate) mod scan;
