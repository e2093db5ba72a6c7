//! Secret Manager's answers as this crate's errors: the HTTP status and
//! the `google.rpc.Status` body (`{"error": {"code": 403, "status":
//! "PERMISSION_DENIED", "message": "..."}}`) become an error kind, with the
//! status string as the [`code`](Error::code) and the HTTP status kept.
//! Transport failures (connect, timeout) are "unavailable".
//!
//! No error made here quotes a body: only the status string and, when the
//! message names one, the IAM permission that was missing (both checked to
//! look like what they are, since a proxy can put anything in a body).

use serde_json::Value;

use super::NAME;
use crate::error::Error;

/// What the `error` object of a body says: its status string and the
/// permission its message names, when they look like one.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct RpcStatus {
    pub(super) status: Option<String>,
    pub(super) permission: Option<String>,
}

impl RpcStatus {
    pub(super) fn parse(body: &[u8]) -> RpcStatus {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return RpcStatus::default();
        };
        let Some(error) = v.get("error") else {
            return RpcStatus::default();
        };
        let status = error
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= 32
                    && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            })
            .map(str::to_owned);
        // "Permission 'secretmanager.versions.access' denied for resource ..."
        let permission = error
            .get("message")
            .and_then(Value::as_str)
            .and_then(|m| m.split('\'').nth(1))
            .filter(|p| {
                p.starts_with("secretmanager.")
                    && p.len() <= 64
                    && p.bytes().all(|b| b.is_ascii_alphabetic() || b == b'.')
            })
            .map(str::to_owned);
        RpcStatus { status, permission }
    }
}

/// The error for an answer of HTTP status `code` with `body` about `what`
/// (`gcp secret db_password (version latest) in project my-proj`).
///
/// 404 (`NOT_FOUND`) is not found, and so is `FAILED_PRECONDITION` (a
/// disabled or destroyed version: there is nothing to read); 403
/// (`PERMISSION_DENIED`) and 401 (`UNAUTHENTICATED`) are access denied;
/// 429, 5xx and anything else are unavailable, which the chain retries and
/// counts in the provider's breaker.
pub(super) fn status_error(code: u16, body: &[u8], what: &str) -> Error {
    let rpc = RpcStatus::parse(body);
    let status = rpc.status.as_deref();
    let e = match (code, status) {
        (404, _) | (_, Some("NOT_FOUND")) => Error::not_found(format!("not found ({what})")),
        (400, Some("FAILED_PRECONDITION")) => Error::not_found(format!(
            "not found ({what}; the version is disabled or destroyed)"
        )),
        (401, _) | (_, Some("UNAUTHENTICATED")) => Error::access_denied(format!(
            "access denied ({what}; the credentials were not accepted)"
        )),
        (403, _) | (_, Some("PERMISSION_DENIED")) => match &rpc.permission {
            Some(p) => Error::access_denied(format!("access denied ({what}; missing {p})")),
            None => Error::access_denied(format!("access denied ({what})")),
        },
        (429, _) | (_, Some("RESOURCE_EXHAUSTED")) => {
            Error::unavailable(format!("unavailable ({what}; 429 quota exceeded)"))
        }
        _ => match status {
            Some(s) => Error::unavailable(format!("unavailable ({what}; {code} {s})")),
            None => Error::unavailable(format!("unavailable ({what}; HTTP {code})")),
        },
    };
    let e = e.with_provider(NAME).with_http_status(code);
    match rpc.status {
        Some(s) => e.with_code(s),
        None => e,
    }
}

/// A request that got no answer: timed out, could not connect, or failed
/// on the way, naming `target` (the host) and the timeouts.
pub(super) fn transport_error(
    e: reqwest::Error,
    what: &str,
    target: &str,
    timeouts: (std::time::Duration, std::time::Duration),
) -> Error {
    let (connect, request) = timeouts;
    let detail = if e.is_timeout() {
        format!(
            "unavailable ({what}: {target} timed out; connect timeout {} ms, request timeout {} ms)",
            connect.as_millis(),
            request.as_millis()
        )
    } else if e.is_connect() {
        format!("unavailable ({what}: cannot connect to {target})")
    } else {
        format!("unavailable ({what}: the request to {target} failed)")
    };
    Error::unavailable(detail)
        .with_provider(NAME)
        .with_source(e.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn body(code: u16, status: &str, message: &str) -> Vec<u8> {
        serde_json::json!({"error": {"code": code, "status": status, "message": message}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn statuses_map_to_kinds_and_keep_code_and_status() {
        let what = "gcp secret db (version latest) in project p";
        for (code, status, kind) in [
            (404, "NOT_FOUND", ErrorKind::NotFound),
            (400, "FAILED_PRECONDITION", ErrorKind::NotFound),
            (403, "PERMISSION_DENIED", ErrorKind::AccessDenied),
            (401, "UNAUTHENTICATED", ErrorKind::AccessDenied),
            (429, "RESOURCE_EXHAUSTED", ErrorKind::Unavailable),
            (500, "INTERNAL", ErrorKind::Unavailable),
            (503, "UNAVAILABLE", ErrorKind::Unavailable),
            (400, "INVALID_ARGUMENT", ErrorKind::Unavailable),
        ] {
            let e = status_error(code, &body(code, status, "m"), what);
            assert_eq!(e.kind(), kind, "{code} {status}");
            assert_eq!(e.code(), Some(status));
            assert_eq!(e.http_status(), Some(code));
            assert_eq!(e.provider(), Some("gcp"));
            assert!(e.to_string().contains(what), "{e}");
        }
        let e = status_error(502, b"<html>bad gateway</html>", "x");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.to_string(), "unavailable (x; HTTP 502)");
        assert_eq!(e.code(), None);
        assert_eq!(status_error(404, b"", "x").kind(), ErrorKind::NotFound);
    }

    #[test]
    fn a_denial_names_the_missing_permission_and_never_echoes_the_body() {
        let b = body(
            403,
            "PERMISSION_DENIED",
            "Permission 'secretmanager.versions.access' denied for resource 'projects/p/secrets/db/versions/latest' (or it may not exist).",
        );
        let e = status_error(403, &b, "gcp secret db");
        assert_eq!(
            e.to_string(),
            "access denied (gcp secret db; missing secretmanager.versions.access)"
        );
        // What a proxy might echo back: a value, a token.
        let b = body(
            403,
            "PERMISSION_DENIED s3cr3t",
            "token 'ya29.s3cr3t' rejected",
        );
        let e = status_error(403, &b, "gcp secret db");
        assert_eq!(e.to_string(), "access denied (gcp secret db)");
        assert_eq!(e.code(), None);
        assert!(!format!("{e:?}").contains("s3cr3t"));
    }
}
