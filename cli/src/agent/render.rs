//! What the agent answers, in the AWS agent's shapes: a secret as
//! `GetSecretValue`'s JSON (`ARN`, `Name`, `VersionId`, `SecretString` or
//! `SecretBinary`, `VersionStages`, `CreatedDate`), an error as
//! `{"__type": code, "message": text}` with AWS's status.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use secret_chain::{Error, ErrorKind, ExposeSecret, Snapshot, SnapshotValue};
use zeroize::Zeroizing;

/// `snapshot` as `GetSecretValue` answers it. `Name` is AWS's name when
/// AWS answered (from the ARN), the requested path otherwise; `ARN` is
/// null unless AWS answered.
pub(crate) fn secret_json(path: &str, snapshot: &Snapshot) -> Zeroizing<Vec<u8>> {
    let m = snapshot.metadata();
    let arn = m.id().filter(|id| id.starts_with("arn:"));
    let name = arn.and_then(name_of_arn).unwrap_or(path);
    let value_len = match snapshot.value() {
        SnapshotValue::Text(s) => s.expose_secret().len(),
        SnapshotValue::Bytes(b) => b.expose_secret().len() * 4 / 3 + 4,
    };
    // Sized up front: a growing buffer would leave copies of the value
    // in freed memory; this one is zeroed when dropped.
    let mut out = Zeroizing::new(Vec::with_capacity(2 * value_len + 512));
    out.extend_from_slice(b"{\"ARN\":");
    json_opt(&mut out, arn);
    out.extend_from_slice(b",\"Name\":");
    json_str(&mut out, name);
    out.extend_from_slice(b",\"VersionId\":");
    json_opt(&mut out, m.version_id());
    match snapshot.value() {
        SnapshotValue::Text(s) => {
            out.extend_from_slice(b",\"SecretString\":");
            json_str(&mut out, s.expose_secret());
        }
        SnapshotValue::Bytes(b) => {
            out.extend_from_slice(b",\"SecretBinary\":\"");
            let encoded =
                Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(b.expose_secret()));
            out.extend_from_slice(encoded.as_bytes());
            out.push(b'"');
        }
    }
    if !m.stages().is_empty() {
        out.extend_from_slice(b",\"VersionStages\":[");
        for (i, stage) in m.stages().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str(&mut out, stage);
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"CreatedDate\":");
    match m.created().map(created_date) {
        Some(d) => json_str(&mut out, &d),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    out
}

/// A secret's name from its ARN
/// (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf`): AWS adds a
/// dash and six random characters to the name.
fn name_of_arn(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":secret:")?;
    let (name, suffix) = rest.rsplit_once('-')?;
    (suffix.len() == 6 && !name.is_empty()).then_some(name)
}

/// `CreatedDate` as the AWS agent writes it: seconds since the epoch with
/// their fraction, as a string (`"1700000000.123"`).
fn created_date(t: SystemTime) -> String {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => format!("{}", d.as_secs_f64()),
        Err(before) => format!("{}", -before.duration().as_secs_f64()),
    }
}

fn json_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping, written straight into `out` (no copy).
    let _ = serde_json::to_writer(&mut *out, s);
}

/// An error answer: status and body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// The AWS agent's answer for `e`. When every provider said "not found":
/// AWS's code and status when AWS was asked (400 from AWS), else 400
/// `ResourceNotFoundException`; otherwise the first provider that could
/// not answer decides: its AWS code and status when AWS gave them, 400
/// `AccessDeniedException` for a denial, 504 `TimeoutError` for a timeout,
/// 502 `ConnectionError` for any other outage. A bad path or a missing
/// `#field` is a 400 `InvalidParameterException`, anything else 500
/// `InternalFailure`. The message is ours: it names the path and each
/// provider's answer, never a value.
pub(crate) fn failure(e: &Error) -> Failure {
    let message = e.to_string();
    let outcomes = e.outcomes();
    // AWS's own answer, where AWS gave one: its code and status pass on.
    let aws = |kinds: &[ErrorKind]| {
        outcomes
            .iter()
            .find_map(|o| match (o.code.as_deref(), o.http_status) {
                (Some(code), Some(status)) if kinds.contains(&o.kind) && is_aws_code(code) => {
                    Some((status, code))
                }
                _ => None,
            })
    };
    let missing_everywhere =
        e.kind() == ErrorKind::NotFound && outcomes.iter().all(|o| o.kind == ErrorKind::NotFound);
    if missing_everywhere {
        let (status, code) =
            aws(&[ErrorKind::NotFound]).unwrap_or((400, "ResourceNotFoundException"));
        return error_body(status, code, &message);
    }
    // Otherwise the first provider that could not answer decides.
    let deciding = outcomes
        .iter()
        .find(|o| o.kind != ErrorKind::NotFound)
        .map(|o| (o.kind, o.code.as_deref(), o.http_status))
        .unwrap_or((e.kind(), e.code(), e.http_status()));
    let (status, code) = match deciding {
        (_, Some("TimeoutError"), _) => (504, "TimeoutError"),
        (ErrorKind::AccessDenied | ErrorKind::Unavailable, Some(code), Some(status))
            if is_aws_code(code) =>
        {
            (status, code)
        }
        (ErrorKind::AccessDenied, _, _) => (400, "AccessDeniedException"),
        (ErrorKind::Unavailable, _, _) => (502, "ConnectionError"),
        (ErrorKind::InvalidPath | ErrorKind::InvalidJson | ErrorKind::InvalidValue, _, _) => {
            (400, "InvalidParameterException")
        }
        (ErrorKind::NotFound, _, _) => (400, "ResourceNotFoundException"),
        _ => {
            return Failure {
                status: 500,
                body: br#"{"__type":"InternalFailure"}"#.to_vec(),
            };
        }
    };
    error_body(status, code, &message)
}

/// An AWS error code (`ThrottlingException`, `InternalServiceError`):
/// Vault's and GCP's codes are not AWS's and are not passed on as if.
fn is_aws_code(code: &str) -> bool {
    code.ends_with("Exception") || code.ends_with("Error") || code.ends_with("Fault")
}

pub(crate) fn error_body(status: u16, code: &str, message: &str) -> Failure {
    let mut body = Vec::with_capacity(message.len() + code.len() + 32);
    body.extend_from_slice(b"{\"__type\":");
    json_str(&mut body, code);
    body.extend_from_slice(b", \"message\":");
    json_str(&mut body, message);
    body.push(b'}');
    Failure { status, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_arns_without_the_random_suffix() {
        assert_eq!(
            name_of_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:db/main-AbCdEf"),
            Some("db/main")
        );
        assert_eq!(
            name_of_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:a-b-c-XyZ123"),
            Some("a-b-c")
        );
        assert_eq!(name_of_arn("arn:aws:ssm:us-east-1:1:parameter/x"), None);
    }

    #[test]
    fn created_dates_are_seconds_with_their_fraction() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        assert_eq!(created_date(t), "1700000000.123");
        assert_eq!(
            created_date(UNIX_EPOCH + std::time::Duration::from_secs(5)),
            "5"
        );
    }

    #[test]
    fn errors_map_to_the_aws_agents_statuses() {
        let nf = Error::not_found("not found (db)");
        let f = failure(&nf);
        assert_eq!(f.status, 400, "not found, and no AWS answer");
        let body: serde_json::Value = serde_json::from_slice(&f.body).unwrap();
        assert_eq!(body["__type"], "ResourceNotFoundException");
        assert!(body["message"].as_str().unwrap().contains("not found"));
        let denied = Error::access_denied("denied (db)");
        assert_eq!(failure(&denied).status, 400);
        let timeout = Error::unavailable("timed out").with_code("TimeoutError");
        assert_eq!(failure(&timeout).status, 504);
        let down = Error::unavailable("cannot connect");
        let f = failure(&down);
        assert_eq!(f.status, 502);
        assert!(String::from_utf8_lossy(&f.body).contains("ConnectionError"));
        let throttled = Error::unavailable("throttled")
            .with_code("ThrottlingException")
            .with_http_status(400);
        let f = failure(&throttled);
        assert_eq!(f.status, 400);
        assert!(String::from_utf8_lossy(&f.body).contains("ThrottlingException"));
        let config = Error::config("bad");
        assert_eq!(failure(&config).status, 500);
    }
}
