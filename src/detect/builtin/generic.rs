//! Built-in rules: The catch-all `sk-`/`pk-` rule: any long, random enough key with one of
//! these prefixes (the CI gate exists for it). It runs with the lowest
//! priority, so a vendor rule names an overlapping finding.

use super::{Def, tok};

pub(super) const DEFS: &[Def] = &[
    // Generic sk-/pk- keys: long and random enough.
    Def {
        entropy: Some(3.5),
        entropy_skip: 3,
        mixed: true,
        ..tok(
            "generic-prefixed-key",
            &["sk-", "pk-"],
            r"[sp]k-[A-Za-z0-9_\-]{20,200}",
        )
    },
];
