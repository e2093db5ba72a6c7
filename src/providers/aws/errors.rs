//! AWS errors as this crate's: service error codes and HTTP statuses to
//! error kinds (keeping the code and the status), timeouts naming their
//! setting, connection failures as one clause naming the endpoint. The
//! SDK's error is never kept: its raw response can hold the secret's value.

use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

use super::ClientSettings;
use crate::error::{Error, ErrorKind};

/// Error codes that mean "these credentials may not read this".
const DENIED_CODES: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "NotAuthorized",
    "DecryptionFailure",
];

/// Turns an SDK error into this crate's error, without keeping the SDK
/// error: its raw HTTP response may hold the secret's value.
pub(super) fn map_sdk_error<E>(
    err: SdkError<E, HttpResponse>,
    what: &str,
    settings: &ClientSettings,
    target: &str,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let e = match err.code() {
                Some(code) => {
                    classify_service_error(code, err.message().unwrap_or(""), what).with_code(code)
                }
                // An error body the SDK could not read (some emulators
                // answer the JSON protocol in XML): go by the status.
                None => classify_status(status, what),
            };
            e.with_http_status(status)
        }
        SdkError::TimeoutError(_) => timed_out(what, settings),
        SdkError::DispatchFailure(failure) => {
            if failure.is_timeout() {
                // The only timeout the connector enforces is the connect one.
                return Error::unavailable(match settings.connect_timeout {
                    Some(t) => format!(
                        "cannot connect to {target} ({what}) within {} ms (SECRETS_AWS_CONNECT_TIMEOUT_MS)",
                        t.as_millis()
                    ),
                    None => format!("cannot connect to {target} ({what}): timed out"),
                });
            }
            let Some(connector) = failure.as_connector_error() else {
                return Error::unavailable(format!(
                    "request failed ({what}): the request could not be sent to {target}"
                ));
            };
            // Credentials are resolved before the request is sent, and their
            // failures (which say what is missing) arrive here as "other"
            // errors; a network failure on the way to a credentials endpoint
            // must not read as one on the way to Secrets Manager.
            let cause = error_chain_text(connector);
            if !failure.is_io() && cause.to_ascii_lowercase().contains("credentials") {
                return Error::access_denied(format!(
                    "no usable AWS credentials ({what}): {cause}"
                ));
            }
            // Never the connector's own text: its Debug form (what
            // DisplayErrorContext adds) can run to the whole request.
            match connect_failure_reason(connector) {
                Some(reason) => {
                    Error::unavailable(format!("cannot connect to {target} ({what}): {reason}"))
                }
                None if failure.is_io() => Error::unavailable(format!(
                    "cannot connect to {target} ({what}): the connection failed"
                )),
                None => Error::unavailable(format!(
                    "request failed ({what}): the request could not be sent to {target}"
                )),
            }
        }
        SdkError::ResponseError(_) => Error::unavailable(format!(
            "unreadable response from AWS Secrets Manager ({what})"
        )),
        SdkError::ConstructionFailure(_) => Error::config(format!(
            "the AWS request could not be built ({what}): check SECRETS_AWS_REGION and SECRETS_AWS_ENDPOINT"
        )),
        _ => Error::unavailable(format!("request failed ({what})")),
    }
}

pub(super) fn classify_service_error(code: &str, message: &str, what: &str) -> Error {
    let said = if message.is_empty() {
        code.to_owned()
    } else {
        format!("{code}: {message}")
    };
    match code {
        "ResourceNotFoundException" => Error::not_found(format!("not found ({what})")),
        "InvalidRequestException" if message.contains("delet") => {
            Error::not_found(format!("not found ({what} is marked for deletion)"))
        }
        "InvalidRequestException" | "InvalidParameterException" => Error::not_found(format!(
            "not found ({what}; AWS refused the request: {said})"
        )),
        "DecryptionFailure" => Error::access_denied(format!(
            "access denied ({what}): the secret's KMS key cannot be used: {said}"
        )),
        c if DENIED_CODES.contains(&c) => {
            Error::access_denied(format!("access denied ({what}): {said}"))
        }
        _ => Error::new(
            ErrorKind::Unavailable,
            format!("AWS Secrets Manager failed ({what}): {said}"),
        ),
    }
}

/// Why a connection failed, in a few words, from the kinds and texts of the
/// connector's error chain (DNS, TLS, refused, reset, timed out); `None`
/// when nothing in it is about the connection.
fn connect_failure_reason(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    use std::io::ErrorKind as Io;
    let mut io_kind = None;
    let (mut dns, mut certificate, mut tls) = (false, false, false);
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        let text = err.to_string().to_ascii_lowercase();
        dns |= text.contains("dns error")
            || text.contains("failed to lookup address")
            || text.contains("name or service not known")
            || text.contains("no such host");
        certificate |= text.contains("certificate");
        tls |= text.contains("tls") || text.contains("handshake");
        cur = err.source();
    }
    // The most definite first: a name that does not resolve, a refused or
    // unreachable address (TLS never started), an untrusted certificate.
    if dns {
        return Some("the host name does not resolve (DNS)");
    }
    match io_kind {
        Some(Io::ConnectionRefused) => return Some("connection refused"),
        Some(Io::AddrNotAvailable | Io::NetworkUnreachable | Io::HostUnreachable) => {
            return Some("the network or host is unreachable");
        }
        _ => {}
    }
    if certificate {
        return Some("its TLS certificate is not trusted");
    }
    if tls {
        return Some("the TLS handshake failed");
    }
    Some(match io_kind? {
        Io::ConnectionReset | Io::ConnectionAborted => "the connection was reset",
        Io::TimedOut => "timed out",
        Io::BrokenPipe | Io::UnexpectedEof | Io::NotConnected => "the connection was closed",
        _ => "the connection failed",
    })
}

/// The `Display` texts of an error chain, joined with `: ` and capped: no
/// `Debug` form, which for the SDK's errors can hold the request.
fn error_chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let t = err.to_string();
        if !parts.iter().any(|p| p.contains(t.as_str())) {
            parts.push(t);
        }
        cur = err.source();
    }
    let mut text = parts.join(": ");
    if text.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn classify_status(status: u16, what: &str) -> Error {
    match status {
        401 | 403 => Error::access_denied(format!("access denied ({what}): HTTP {status}")),
        404 => Error::not_found(format!("not found ({what})")),
        _ => Error::unavailable(format!(
            "AWS Secrets Manager failed ({what}): HTTP {status}"
        )),
    }
}

fn timed_out(what: &str, settings: &ClientSettings) -> Error {
    match settings.timeout {
        Some(t) => Error::unavailable(format!(
            "timed out ({what}) after {} ms per attempt (SECRETS_AWS_TIMEOUT_MS)",
            t.as_millis()
        )),
        None => Error::unavailable(format!("timed out ({what})")),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::time::Duration;

    use super::*;
    use crate::providers::aws::testing::{TARGET, raw, service_error};
    use aws_sdk_secretsmanager::error::ErrorMetadata;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

    #[test]
    fn connection_failures_are_one_readable_clause_naming_the_endpoint() {
        use aws_sdk_secretsmanager::error::ConnectorError;
        let dispatch = |c: ConnectorError| -> SdkError<GetSecretValueError, HttpResponse> {
            SdkError::dispatch_failure(c)
        };
        let io = |kind: std::io::ErrorKind| {
            ConnectorError::io(Box::new(std::io::Error::new(kind, "tcp connect error")))
        };
        #[derive(Debug)]
        struct Text(&'static str);
        impl fmt::Display for Text {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Text {}
        let other = |text: &'static str| ConnectorError::other(Box::new(Text(text)), None);
        for (c, reason) in [
            (
                io(std::io::ErrorKind::ConnectionRefused),
                "connection refused",
            ),
            (
                io(std::io::ErrorKind::ConnectionReset),
                "the connection was reset",
            ),
            (io(std::io::ErrorKind::TimedOut), "timed out"),
            (
                other("dns error: failed to lookup address information"),
                "the host name does not resolve (DNS)",
            ),
            (
                other("invalid peer certificate: UnknownIssuer"),
                "its TLS certificate is not trusted",
            ),
            (io(std::io::ErrorKind::Other), "the connection failed"),
        ] {
            let e = map_sdk_error(
                dispatch(c),
                "secret id db",
                &ClientSettings::default(),
                TARGET,
            );
            assert_eq!(e.kind(), ErrorKind::Unavailable);
            assert_eq!(
                e.to_string(),
                format!(
                    "cannot connect to AWS Secrets Manager at 127.0.0.1:4566 (secret id db): {reason}"
                )
            );
            assert!(!format!("{e:?}").contains("ConnectorError"), "{e:?}");
        }
        let e = map_sdk_error(
            dispatch(other("an interceptor failed")),
            "secret id db",
            &ClientSettings::default(),
            TARGET,
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(!e.to_string().contains("ConnectorError"), "{e}");
        let e = map_sdk_error(
            dispatch(other("no providers in chain provided credentials")),
            "secret id db",
            &ClientSettings::default(),
            TARGET,
        );
        assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
        assert!(e.to_string().contains("no providers in chain"), "{e}");
        // The credentials endpoint did not resolve: still a credentials
        // problem, not Secrets Manager's host.
        let e = map_sdk_error(
            dispatch(other(
                "failed to load credentials: dns error: failed to lookup address information",
            )),
            "secret id db",
            &ClientSettings::default(),
            TARGET,
        );
        assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
        assert!(
            e.to_string().starts_with("no usable AWS credentials"),
            "{e}"
        );
    }

    #[test]
    fn resource_not_found_is_not_found_naming_the_secret_id() {
        let e = map_sdk_error(
            service_error(
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret.",
            ),
            "secret id /app/db",
            &ClientSettings::default(),
            TARGET,
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "not found (secret id /app/db)");
        assert_eq!(e.code(), Some("ResourceNotFoundException"));
        assert_eq!(e.http_status(), Some(400));
    }

    #[test]
    fn denied_and_bad_credentials_and_kms_failures_are_access_denied() {
        for code in [
            "AccessDeniedException",
            "UnrecognizedClientException",
            "ExpiredTokenException",
            "DecryptionFailure",
        ] {
            let e = map_sdk_error(
                service_error(code, "nope"),
                "secret id x",
                &ClientSettings::default(),
                TARGET,
            );
            assert_eq!(e.kind(), ErrorKind::AccessDenied, "{code}");
            assert!(e.to_string().contains(code), "{e}");
        }
    }

    #[test]
    fn deleted_and_refused_names_are_not_found() {
        let e = map_sdk_error(
            service_error(
                "InvalidRequestException",
                "You can't perform this operation on the secret because it was marked for deletion.",
            ),
            "secret id x",
            &ClientSettings::default(),
            TARGET,
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("marked for deletion"), "{e}");
        let e = map_sdk_error(
            service_error("InvalidParameterException", "Invalid name"),
            "secret id x",
            &ClientSettings::default(),
            TARGET,
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn throttling_and_server_errors_are_unavailable() {
        for code in [
            "ThrottlingException",
            "InternalServiceError",
            "ServiceUnavailable",
        ] {
            let e = map_sdk_error(
                service_error(code, ""),
                "secret id x",
                &ClientSettings::default(),
                TARGET,
            );
            assert_eq!(e.kind(), ErrorKind::Unavailable, "{code}");
            assert_eq!(
                e.code(),
                Some(code),
                "operators tell throttling from denial"
            );
        }
    }

    #[test]
    fn errors_without_a_code_are_classified_by_status() {
        let no_code = |status| {
            let meta = ErrorMetadata::builder().build();
            SdkError::service_error(
                GetSecretValueError::generic(meta),
                raw(status, "<ErrorResponse/>"),
            )
        };
        let kind = |status| {
            map_sdk_error(
                no_code(status),
                "secret id x",
                &ClientSettings::default(),
                TARGET,
            )
            .kind()
        };
        assert_eq!(kind(403), ErrorKind::AccessDenied);
        assert_eq!(kind(401), ErrorKind::AccessDenied);
        assert_eq!(kind(404), ErrorKind::NotFound);
        assert_eq!(kind(500), ErrorKind::Unavailable);
        assert_eq!(kind(429), ErrorKind::Unavailable);
    }

    #[test]
    fn timeouts_are_unavailable_and_name_the_setting() {
        let settings = ClientSettings {
            timeout: Some(Duration::from_millis(250)),
            ..ClientSettings::default()
        };
        let err: SdkError<GetSecretValueError, HttpResponse> =
            SdkError::timeout_error("attempt timeout");
        let e = map_sdk_error(err, "secret id x", &settings, TARGET);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(
            e.to_string().contains("250 ms") && e.to_string().contains("SECRETS_AWS_TIMEOUT_MS"),
            "{e}"
        );
    }

    #[test]
    fn mapped_errors_keep_no_raw_response() {
        let e = map_sdk_error(
            service_error("ThrottlingException", "slow down"),
            "secret id x",
            &ClientSettings::default(),
            TARGET,
        );
        assert!(std::error::Error::source(&e).is_none());
        assert!(!format!("{e:?}").contains("s3cr3t-body"), "{e:?}");
        let err: SdkError<GetSecretValueError, HttpResponse> =
            SdkError::response_error("bad json", raw(200, "{\"SecretString\":\"s3cr3t-body\""));
        let e = map_sdk_error(err, "secret id x", &ClientSettings::default(), TARGET);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(!format!("{e:?}").contains("s3cr3t-body"), "{e:?}");
    }
}
