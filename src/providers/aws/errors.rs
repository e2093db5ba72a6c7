//! Secrets Manager's error codes as this crate's error kinds; the rest of
//! the mapping (statuses, timeouts, connection failures) is shared with the
//! other AWS providers (`aws_common/errors.rs`).

use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

use crate::error::{Error, ErrorKind};
use crate::providers::aws_common::ClientSettings;
use crate::providers::aws_common::errors::{DENIED_CODES, Service, said};

/// Secrets Manager, as errors name it.
pub(super) const SECRETS_MANAGER: Service = Service {
    name: "AWS Secrets Manager",
    endpoint_var: "SECRETS_AWS_ENDPOINT",
    classify: classify_service_error,
};

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
    crate::providers::aws_common::errors::map_sdk_error(
        err,
        what,
        &SECRETS_MANAGER,
        settings,
        target,
    )
}

pub(super) fn classify_service_error(code: &str, message: &str, what: &str) -> Error {
    let said = said(code, message);
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
        assert_eq!(
            e.code(),
            Some("TimeoutError"),
            "the agent answers 504 for it"
        );
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
