//! Built-in rules: stub.

use super::Def;

pub(super) const DEFS: &[Def] = &[];
