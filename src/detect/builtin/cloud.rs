//! Built-in rules: Cloud platforms: AWS, Google Cloud, DigitalOcean, Databricks.

use super::{Def, tok};
use crate::detect::placeholder::has;

pub(super) const DEFS: &[Def] = &[
    // AWS
    Def {
        exact_case: true,
        ..tok(
            "aws-access-key-id",
            &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
            r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        )
    },
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        pre: Some(aws_name_has_secret),
        needs: Some(
            r#"(?i)(?:secret|sk)[\w.\-]{0,24}(?:\\*["'])?\s*(?::|=>|:=|=)\s*(?:\\*["'])?[A-Za-z0-9/+]{40}"#,
        ),
        ..tok(
            "aws-secret-access-key",
            &["aws"],
            r#"(?i)aws[\w.\-]{0,32}?(?:secret|sk)[\w.\-]{0,24}(?:\\*["'])?\s*(?::|=>|:=|=)\s*(?:\\*["'])?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)"#,
        )
    },
    // Google
    Def {
        exact_case: true,
        ..tok("gcp-api-key", &["AIza"], r"AIza[0-9A-Za-z_\-]{35}\b")
    },
    // DigitalOcean
    tok(
        "digitalocean-token",
        &["dop_v1_", "doo_v1_", "dor_v1_"],
        r"do[opr]_v1_[a-f0-9]{64}\b",
    ),
    // Databricks
    tok(
        "databricks-token",
        &["dapi"],
        r"dapi[a-f0-9]{32}(?:-[0-9])?\b",
    ),
];

/// The `aws-secret-access-key` regex needs `secret` or `sk` in the name
/// run (`[\w.\-]`) right after an `aws` in its window (the hit's `aws` or
/// a later one up to 163 bytes on): `amazonaws.com`, `aws-region` and
/// prose are rejected before the regex runs. Non-ASCII bytes count as name
/// bytes (`\w` is Unicode), so this never rejects a match.
fn aws_name_has_secret(b: &[u8], hs: usize) -> bool {
    let we = (hs + 3 + 160).min(b.len());
    let mut p = hs;
    while p + 3 <= we {
        if b[p..p + 3].eq_ignore_ascii_case(b"aws") {
            let from = p + 3;
            let mut end = from;
            while end < we
                && (b[end].is_ascii_alphanumeric()
                    || matches!(b[end], b'_' | b'.' | b'-')
                    || b[end] >= 0x80)
            {
                end += 1;
            }
            let run = &b[from..end];
            if has(run, b"sk", true) || has(run, b"secret", true) {
                return true;
            }
            p = end.max(p + 1);
        } else {
            p += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::secret;

    #[test]
    fn aws_secret_keys_are_found_and_aws_hostnames_skip_the_regex() {
        let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzKEYq8Zw3B";
        for line in [
            format!("aws_secret_access_key = {key}"),
            format!("AWS_SECRET_ACCESS_KEY=\"{key}\""),
            format!("aws region asiaws_secret_access_key={key}"),
            format!("awsSecretKey: {key}"),
        ] {
            assert_eq!(secret(&line), vec![key.to_string()], "{line}");
        }
        let host = "GET https://s3.amazonaws.com/bucket/aws-region=us-east-1 key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzKEYq8Zw3B";
        assert!(!aws_name_has_secret(
            host.as_bytes(),
            host.find("aws").unwrap()
        ));
        assert!(aws_name_has_secret(b"x aws_sk: y", 2));
    }
}
