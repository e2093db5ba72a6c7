//! Parameter Store's error codes as this crate's error kinds; the rest of
//! the mapping (statuses, timeouts, connection failures) is shared with the
//! other AWS providers (`aws_common/errors.rs`).

use crate::error::{Error, ErrorKind};
use crate::providers::aws_common::errors::{DENIED_CODES, Service, said};

/// Parameter Store, as errors name it.
pub(super) const PARAMETER_STORE: Service = Service {
    name: "AWS SSM Parameter Store",
    endpoint_var: "SECRETS_SSM_ENDPOINT",
    classify: classify_service_error,
};

/// Codes of a `SecureString` whose KMS key cannot be used by the caller
/// (or at all): the parameter exists, reading it is refused.
const KMS_CODES: &[&str] = &[
    "InvalidKeyId",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSNotFoundException",
    "KMSInvalidStateException",
    "KMSOptInRequired",
];

/// What Parameter Store's error `code` about `what` (`parameter /app/db`)
/// means: not found, access denied, or unavailable (throttling, server
/// errors and anything unknown, which the chain retries).
pub(super) fn classify_service_error(code: &str, message: &str, what: &str) -> Error {
    let said = said(code, message);
    match code {
        "ParameterNotFound" | "ParameterVersionNotFound" => {
            Error::not_found(format!("not found ({what})"))
        }
        // A name Parameter Store does not accept cannot exist.
        "ValidationException" | "InvalidParameterException" => Error::not_found(format!(
            "not found ({what}; AWS refused the request: {said})"
        )),
        c if KMS_CODES.contains(&c) => Error::access_denied(format!(
            "access denied ({what}): the parameter's KMS key cannot be used: {said}"
        )),
        c if DENIED_CODES.contains(&c) => {
            Error::access_denied(format!("access denied ({what}): {said}"))
        }
        _ => Error::new(
            ErrorKind::Unavailable,
            format!("{} failed ({what}): {said}", PARAMETER_STORE.name),
        ),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ssm::config::http::HttpResponse;
    use aws_sdk_ssm::error::{ErrorMetadata, SdkError};
    use aws_sdk_ssm::operation::get_parameter::GetParameterError;
    use aws_sdk_ssm::types::error::{ParameterNotFound, ParameterVersionNotFound};
    use aws_smithy_types::body::SdkBody;

    use super::*;
    use crate::providers::aws_common::ClientSettings;
    use crate::providers::aws_common::errors::map_sdk_error;

    const TARGET: &str = "AWS SSM Parameter Store at 127.0.0.1:4566";

    fn raw(status: u16) -> HttpResponse {
        HttpResponse::new(
            status.try_into().unwrap(),
            SdkBody::from(r#"{"Value":"s3cr3t-body"}"#),
        )
    }

    fn mapped(err: GetParameterError, status: u16) -> Error {
        map_sdk_error(
            SdkError::service_error(err, raw(status)),
            "parameter /app/db",
            &PARAMETER_STORE,
            &ClientSettings::default(),
            TARGET,
        )
    }

    fn generic(code: &str, status: u16) -> Error {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("refused")
            .build();
        mapped(GetParameterError::generic(meta), status)
    }

    #[test]
    fn the_sdks_not_found_errors_are_not_found_naming_the_parameter() {
        let meta = ErrorMetadata::builder().code("ParameterNotFound").build();
        let e = mapped(
            GetParameterError::ParameterNotFound(ParameterNotFound::builder().meta(meta).build()),
            400,
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "not found (parameter /app/db)");
        assert_eq!(
            (e.code(), e.http_status()),
            (Some("ParameterNotFound"), Some(400))
        );
        let meta = ErrorMetadata::builder()
            .code("ParameterVersionNotFound")
            .build();
        let e = mapped(
            GetParameterError::ParameterVersionNotFound(
                ParameterVersionNotFound::builder().meta(meta).build(),
            ),
            400,
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.code(), Some("ParameterVersionNotFound"));
    }

    #[test]
    fn denied_credentials_and_kms_failures_are_access_denied() {
        for code in [
            "AccessDeniedException",
            "UnrecognizedClientException",
            "ExpiredTokenException",
            "InvalidKeyId",
            "KMSAccessDeniedException",
            "KMSDisabledException",
            "KMSNotFoundException",
            "KMSInvalidStateException",
        ] {
            let e = generic(code, 400);
            assert_eq!(e.kind(), ErrorKind::AccessDenied, "{code}");
            assert!(e.to_string().contains(code), "{e}");
            assert!(e.to_string().contains("parameter /app/db"), "{e}");
        }
        assert!(
            generic("KMSDisabledException", 400)
                .to_string()
                .contains("KMS key cannot be used")
        );
    }

    #[test]
    fn throttling_and_server_errors_are_unavailable_with_their_code() {
        for (code, status) in [
            ("ThrottlingException", 400),
            ("InternalServerError", 500),
            ("ServiceUnavailable", 503),
        ] {
            let e = generic(code, status);
            assert_eq!(e.kind(), ErrorKind::Unavailable, "{code}");
            assert_eq!((e.code(), e.http_status()), (Some(code), Some(status)));
            assert!(
                e.to_string().starts_with("AWS SSM Parameter Store failed"),
                "{e}"
            );
        }
        // No code the SDK could read: the status decides.
        let no_code = |status| {
            mapped(
                GetParameterError::generic(ErrorMetadata::builder().build()),
                status,
            )
            .kind()
        };
        assert_eq!(no_code(403), ErrorKind::AccessDenied);
        assert_eq!(no_code(502), ErrorKind::Unavailable);
    }

    #[test]
    fn a_refused_name_is_not_found_and_no_error_keeps_the_raw_response() {
        let e = generic("ValidationException", 400);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("AWS refused the request"), "{e}");
        for e in [e, generic("ThrottlingException", 400)] {
            assert!(std::error::Error::source(&e).is_none());
            assert!(!format!("{e} {e:?}").contains("s3cr3t"), "{e:?}");
        }
    }
}
