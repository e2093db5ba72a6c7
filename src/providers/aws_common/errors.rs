//! SDK errors as this crate's, for every AWS provider: service error codes
//! and HTTP statuses to error kinds (keeping the code and the status),
//! timeouts naming their setting, connection failures as one clause naming
//! the endpoint. The SDK's error is never kept: its raw response can hold
//! the value that was asked for.
//!
//! What a service's own error codes mean (`ResourceNotFoundException`,
//! `ParameterNotFound`) is the provider's: it passes its
//! [`Service::classify`].

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::ClientSettings;
use super::role::role_failure;
use crate::error::Error;

/// An AWS service as errors name it, and what its error codes mean.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Service {
    /// The service in words: `AWS Secrets Manager`.
    pub(crate) name: &'static str,
    /// The variable errors point at when a request cannot be built.
    pub(crate) endpoint_var: &'static str,
    /// Maps an error code and message about `what` to an error (without
    /// the code and the status, which the caller adds).
    pub(crate) classify: fn(code: &str, message: &str, what: &str) -> Error,
}

/// Error codes that mean "these credentials may not read this".
pub(crate) const DENIED_CODES: &[&str] = &[
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

/// What AWS said, for an error message: `Code: message`, or the code.
pub(crate) fn said(code: &str, message: &str) -> String {
    if message.is_empty() {
        code.to_owned()
    } else {
        format!("{code}: {message}")
    }
}

/// The answer to a whole batch call (`shared`), as the error of one of
/// the names it asked for (`what`), keeping the code and the status.
pub(crate) fn for_secret(shared: &Error, what: &str) -> Error {
    Error::new(shared.kind(), format!("{shared} ({what})")).with_backend_answer_of(shared)
}

/// Turns an SDK error into this crate's error, without keeping the SDK
/// error: its raw HTTP response may hold the secret's value.
pub(crate) fn map_sdk_error<E>(
    err: SdkError<E, HttpResponse>,
    what: &str,
    service: &Service,
    settings: &ClientSettings,
    target: &str,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    map_sdk_error_ref(&err, what, service, settings, target)
}

/// [`map_sdk_error`] of an error that is not ours to take (the STS error
/// inside a credentials error).
pub(crate) fn map_sdk_error_ref<E>(
    err: &SdkError<E, HttpResponse>,
    what: &str,
    service: &Service,
    settings: &ClientSettings,
    target: &str,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // A failed role assumption, already mapped (naming the role and STS's
    // endpoint), comes wrapped in the SDK's credentials errors.
    if let Some(role) = role_failure(err) {
        return for_secret(role, what);
    }
    match err {
        SdkError::ServiceError(failed) => {
            let status = failed.raw().status().as_u16();
            let e = match err.code() {
                Some(code) => {
                    (service.classify)(code, err.message().unwrap_or(""), what).with_code(code)
                }
                // An error body the SDK could not read (some emulators
                // answer the JSON protocol in XML): go by the status.
                None => classify_status(status, what, service.name),
            };
            e.with_http_status(status)
        }
        SdkError::TimeoutError(_) => timed_out(what, settings).with_code(TIMEOUT_CODE),
        SdkError::DispatchFailure(failure) => {
            if failure.is_timeout() {
                // The only timeout the connector enforces is the connect one.
                return Error::unavailable(match settings.connect_timeout {
                    Some(t) => format!(
                        "cannot connect to {target} ({what}) within {} ms (SECRETS_AWS_CONNECT_TIMEOUT_MS)",
                        t.as_millis()
                    ),
                    None => format!("cannot connect to {target} ({what}): timed out"),
                })
                .with_code(TIMEOUT_CODE);
            }
            let Some(connector) = failure.as_connector_error() else {
                return Error::unavailable(format!(
                    "request failed ({what}): the request could not be sent to {target}"
                ));
            };
            // Credentials are resolved before the request is sent, and their
            // failures (which say what is missing) arrive here as "other"
            // errors; a network failure on the way to a credentials endpoint
            // must not read as one on the way to the service.
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
            "unreadable response from {} ({what})",
            service.name
        )),
        SdkError::ConstructionFailure(_) => Error::config(format!(
            "the AWS request could not be built ({what}): check SECRETS_AWS_REGION and {}",
            service.endpoint_var
        )),
        _ => Error::unavailable(format!("request failed ({what})")),
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

fn classify_status(status: u16, what: &str, service: &str) -> Error {
    match status {
        401 | 403 => Error::access_denied(format!("access denied ({what}): HTTP {status}")),
        404 => Error::not_found(format!("not found ({what})")),
        _ => Error::unavailable(format!("{service} failed ({what}): HTTP {status}")),
    }
}

/// The code of a request that timed out, as AWS's own agent names it: what
/// tells a timeout (HTTP 504 from `secret-chain agent`) from a failed
/// connection (502).
pub(crate) const TIMEOUT_CODE: &str = "TimeoutError";

fn timed_out(what: &str, settings: &ClientSettings) -> Error {
    match settings.timeout {
        Some(t) => Error::unavailable(format!(
            "timed out ({what}) after {} ms per attempt (SECRETS_AWS_TIMEOUT_MS)",
            t.as_millis()
        )),
        None => Error::unavailable(format!("timed out ({what})")),
    }
}
