//! Built-in rules: Key formats that belong to no vendor: age, JWTs, PEM private keys.
//!
//! A JWT is only a finding when its header decodes (base64url) to a JSON
//! object naming an `alg` or a `typ`, and its payload to a JSON object:
//! `eyJ` runs that are not tokens (a truncated value, base64 of other
//! JSON) are left alone. See [`jwt_decodes`]. A PEM body must be base64
//! (with RFC 1421 headers such as `Proc-Type:`), holding a run of 16
//! base64 characters or more: `<redacted>`, `...` or a sentence between
//! the BEGIN and END lines is not a key. See [`pem_body_is_base64`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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

/// Whether `token` (`header.payload.signature`, the signature optional) is
/// a JWT: the header decodes to a JSON object with `alg` or `typ`, the
/// payload to a JSON object.
pub(super) fn jwt_decodes(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return false;
    };
    let object = |part: &str| -> Option<serde_json::Map<String, serde_json::Value>> {
        let raw = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&raw).ok()
    };
    object(header).is_some_and(|h| h.contains_key("alg") || h.contains_key("typ"))
        && object(payload).is_some()
}

/// Whether a PEM body (between the BEGIN and END lines, framing line
/// breaks trimmed) is base64: words split on blanks and line breaks (real
/// or `\n`-escaped) are base64 (`.`, `,`, `-` allowed, for a cut-off body
/// and header values) or a header name (`DEK-Info:`), and one of them is
/// 16 base64 characters or more.
pub(super) fn pem_body_is_base64(body: &str) -> bool {
    let is_b64 = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=');
    let mut long = false;
    for word in body.split(|c: char| c.is_ascii_whitespace()) {
        // `\n`, `\\n`, `\r\n`: escaped line breaks split words too.
        for (k, word) in word.split('\\').enumerate() {
            let w = word.as_bytes();
            let w = match w.first() {
                Some(b'n' | b'r') if k > 0 => &w[1..],
                _ => w,
            };
            if w.is_empty() {
                continue;
            }
            let header = w.len() > 1
                && w[w.len() - 1] == b':'
                && w[..w.len() - 1]
                    .iter()
                    .all(|c| c.is_ascii_alphabetic() || *c == b'-');
            if header {
                continue;
            }
            if !w
                .iter()
                .all(|&c| is_b64(c) || matches!(c, b'.' | b',' | b'-'))
            {
                return false;
            }
            long |= w.split(|&c| !is_b64(c)).any(|run| run.len() >= 16);
        }
    }
    long
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use crate::detect::testing::spans;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    /// A JWT with this header and payload JSON and a made-up signature.
    fn jwt(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.{}",
            b64(header),
            b64(payload),
            "Xq3vH8kLr2Wm9TzB5nYc0dFs7gJp4aQe1uKo6iMx_Rw"
        )
    }

    #[test]
    fn a_jwt_is_found_with_its_exact_span_wherever_it_is() {
        let t = jwt(
            r#"{"alg":"RS256","typ":"JWT","kid":"k7"}"#,
            r#"{"sub":"u-4821","iat":1709291083,"scope":"read"}"#,
        );
        let unsigned = format!(
            "{}.{}.",
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"sub":"u-77","exp":1709299999}"#)
        );
        for (line, want) in [
            (format!("2025-03-01 INFO verified {t} for user"), &t),
            (format!(r#"{{"level":"debug","id_token":"{t}"}}"#), &t),
            (format!("jwt: {t}"), &t),
            (format!("GET /cb?code=1&state={t}&x=1 HTTP/1.1"), &t),
            (format!("Authorization: Bearer {t}"), &t),
            (format!("x-forwarded-jwt={t}"), &t),
            (format!("token {unsigned} accepted"), &unsigned),
        ] {
            let found = spans(&line);
            assert!(found.iter().any(|(_, s)| s == want), "{line}: {found:?}");
        }
        let found = spans(&format!("verified {t} ok"));
        assert_eq!(found, vec![("jwt".to_string(), t.clone())]);
    }

    #[test]
    fn eyj_runs_that_do_not_decode_as_a_jwt_are_not_findings() {
        let payload = b64(r#"{"sub":"u-4821","iat":1709291083}"#);
        let sig = "Xq3vH8kLr2Wm9TzB5nYc0dFs7gJp4aQe1uKo6iMx_Rw";
        for line in [
            // Header without alg or typ.
            format!("msg {}.{payload}.{sig} end", b64(r#"{"kid":"k7","x":1}"#)),
            // Header is a JSON array, not an object.
            format!("msg {}.{payload}.{sig} end", b64(r#"["alg","typ"]"#)),
            // Random base64url after eyJ: not JSON.
            format!("msg eyJq8Zk2LmW0xPv7RtY3nB.{payload}.{sig} end"),
            // Payload does not decode.
            format!(
                "msg {}.eyJzdWIiOiJ1LTQ4Mj.{sig} end",
                b64(r#"{"alg":"HS256"}"#)
            ),
            // Payload is not an object.
            format!(
                "msg {}.{}.{sig} end",
                b64(r#"{"alg":"HS256"}"#),
                b64(r#"{"sub""#)
            ),
        ] {
            assert!(spans(&line).is_empty(), "{line}: {:?}", spans(&line));
        }
    }

    #[test]
    fn the_jwt_check_reads_header_and_payload() {
        assert!(super::jwt_decodes(&format!(
            "{}.{}.sig",
            b64(r#"{"typ":"JWT"}"#),
            b64("{}")
        )));
        assert!(!super::jwt_decodes("eyJ.eyJ.x"));
        assert!(!super::jwt_decodes("eyJhbGciOiJIUzI1NiJ9"));
    }

    #[test]
    fn a_pem_body_is_base64_with_optional_headers() {
        let line = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        for body in [
            line.to_string(),
            format!("{line}\\n{line}\\nAB=="),
            format!("{line}\\\\n{line}"),
            format!("{line}\n{line}\r\nAB=="),
            format!("{line} {line}"),
            format!("Proc-Type: 4,ENCRYPTED\\nDEK-Info: AES-128-CBC,3F2A9C\\n\\n{line}"),
            format!("{line}..."),
            "nXq3vH8kLr2Wm9TzB5nYc0".to_string(),
        ] {
            assert!(super::pem_body_is_base64(&body), "{body}");
        }
        for body in [
            "<redacted>",
            "...",
            "see vault for the key",
            "this key was rotated, ask ops",
            "MIIEvQIB",
            "key-rotated-by-the-platform-team",
        ] {
            assert!(!super::pem_body_is_base64(body), "{body}");
        }
    }
}
