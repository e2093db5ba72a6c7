//! Built-in rules: Key formats that belong to no vendor: age, JWTs, PEM private keys.

use super::{Def, tok};

pub(super) const DEFS: &[Def] = &[
    // age
    Def {
        exact_case: true,
        ..tok(
            "age-secret-key",
            &["AGE-SECRET-KEY-1"],
            r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        )
    },
    // JWT
    Def {
        fwd: 8192,
        exact_case: true,
        needs: Some(r"\.eyJ[A-Za-z0-9_\-]{8,}\."),
        ..tok(
            "jwt",
            &["eyJ"],
            r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.(?:[A-Za-z0-9_\-+/]{8,}={0,2})?",
        )
    },
    // PEM private keys: the body between the BEGIN and END lines.
    Def {
        fwd: 65536,
        group: 1,
        word_start: false,
        exact_case: true,
        needs: Some(r"-----END[ A-Z0-9_\-]{0,64}PRIVATE KEY(?: BLOCK)?-----"),
        ..tok(
            "private-key",
            &["-----BEGIN"],
            r"-----BEGIN[ A-Z0-9_\-]{0,64}PRIVATE KEY(?: BLOCK)?-----((?s:.)+?)-----END[ A-Z0-9_\-]{0,64}PRIVATE KEY(?: BLOCK)?-----",
        )
    },
    // A truncated PEM block (no END line in reach): the base64 run after the header.
    Def {
        fwd: 65536,
        group: 1,
        word_start: false,
        exact_case: true,
        split: Some((
            r"-----BEGIN[ A-Z0-9_\-]{0,64}PRIVATE KEY(?: BLOCK)?-----",
            r"(?:\\+[nr]|[\r\n\t ]|[A-Za-z0-9+/=:,.]|-[A-Za-z0-9])+",
        )),
        ..tok(
            "private-key",
            &["-----BEGIN"],
            r"-----BEGIN[ A-Z0-9_\-]{0,64}PRIVATE KEY(?: BLOCK)?-----((?:\\+[nr]|[\r\n\t ]|[A-Za-z0-9+/=:,.]|-[A-Za-z0-9])+)",
        )
    },
];
