//! Role assumption (`SECRETS_AWS_ROLE_ARN`): the credentials of the AWS
//! config chain (or the static keys) call STS `AssumeRole` through
//! aws-config's [`AssumeRoleProvider`], and the temporary credentials it
//! returns sign the service's calls.
//!
//! STS has an endpoint of its own (`SECRETS_AWS_STS_ENDPOINT`,
//! `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`): the STS client is built
//! from an `SdkConfig` of its own, since an `SdkConfig`'s endpoint applies
//! to every client made from it and Secrets Manager's must not be used
//! for STS.
//!
//! Refreshing is the SDK's identity cache's job (the lazy cache every
//! client built from an `SdkConfig` uses): it keeps the assumed
//! credentials until [`REFRESH_AHEAD`] (less a random part of up to half
//! of it) before the `Expiration` STS gave, and the first call after that
//! assumes the role again. Nothing runs in the background; concurrent
//! calls share one `AssumeRole`.
//!
//! A failed `AssumeRole` reaches the service call as a credentials error;
//! [`RoleCredentials`] maps it first (the SDK error of the STS call as
//! this crate's error, naming the role and STS's endpoint) and the
//! service's error mapping finds it with [`role_failure`].

use std::fmt;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, future};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use super::ClientSettings;
use super::errors::{DENIED_CODES, Service, map_sdk_error_ref, said};
use crate::error::Error;
use crate::providers::endpoint::Endpoint;
use crate::settings::Settings;

/// Default of `SECRETS_AWS_ROLE_SESSION_NAME`.
pub(crate) const DEFAULT_SESSION_NAME: &str = "secret-chain";
/// The shortest session STS grants (`SECRETS_AWS_ROLE_DURATION_SECS`).
pub(crate) const MIN_ROLE_DURATION: Duration = Duration::from_secs(900);
/// The longest session STS grants (a role's own maximum may be lower).
pub(crate) const MAX_ROLE_DURATION: Duration = Duration::from_secs(43_200);
/// How long before the expiry of assumed credentials they are replaced
/// (the identity cache's buffer time; it takes a random 0 to 50 % of it
/// back, so a refresh happens 30 to 60 s ahead). The SDK's default is
/// 10 s; a minute leaves room for clock skew and for a call's retries,
/// each signed anew.
pub(crate) const REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// Where STS's endpoint is read from, the first that is set.
pub(crate) const STS_ENDPOINT_VARS: &[&str] = &[
    "SECRETS_AWS_STS_ENDPOINT",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL",
];

/// The settings that only mean something with a role.
const ROLE_ONLY: &[&str] = &[
    "SECRETS_AWS_ROLE_SESSION_NAME",
    "SECRETS_AWS_EXTERNAL_ID",
    "SECRETS_AWS_ROLE_DURATION_SECS",
];

/// STS, as errors name it.
const STS: Service = Service {
    name: "AWS STS",
    endpoint_var: "SECRETS_AWS_STS_ENDPOINT",
    classify: classify_sts_error,
};

/// The role to assume and how. `Debug` shows whether an external id is
/// set, never it: it is the shared secret of a cross-account trust.
#[derive(Clone)]
pub(crate) struct RoleSettings {
    pub(crate) arn: String,
    pub(crate) session_name: String,
    pub(crate) external_id: Option<String>,
    pub(crate) duration: Option<Duration>,
    pub(crate) sts_endpoint: Option<String>,
    /// STS's `host:port` when its endpoint is configured, which errors name.
    pub(crate) sts_endpoint_authority: Option<String>,
}

impl fmt::Debug for RoleSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleSettings")
            .field("arn", &self.arn)
            .field("session_name", &self.session_name)
            .field("external_id_set", &self.external_id.is_some())
            .field("duration", &self.duration)
            .field("sts_endpoint", &self.sts_endpoint)
            .finish()
    }
}

impl RoleSettings {
    /// The role settings, `None` when `SECRETS_AWS_ROLE_ARN` is unset.
    /// `check_endpoint` is the shared endpoint check (scheme, host, plain
    /// `http://` only to loopback unless allowed).
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable read when a role-only
    /// setting is set without a role, when the duration is not a number
    /// of seconds from 900 to 43200, when the session name is not what
    /// STS accepts, or when the STS endpoint fails the endpoint checks.
    pub(crate) fn from_settings(
        config: &Settings,
        check_endpoint: impl Fn(&str, &str) -> Result<Endpoint, Error>,
    ) -> Result<Option<RoleSettings>, Error> {
        let Some((arn, _)) = config.first(&["SECRETS_AWS_ROLE_ARN"]) else {
            if let Some((_, read)) = config.first(ROLE_ONLY) {
                return Err(Error::config(format!(
                    "{read} is set but SECRETS_AWS_ROLE_ARN is not: it only applies to a role to assume"
                )));
            }
            return Ok(None);
        };
        let session_name = match config.first(&["SECRETS_AWS_ROLE_SESSION_NAME"]) {
            Some((name, read)) => {
                check_session_name(name, &read)?;
                name.to_owned()
            }
            None => DEFAULT_SESSION_NAME.to_owned(),
        };
        let duration = match config.first(&["SECRETS_AWS_ROLE_DURATION_SECS"]) {
            Some((_, read)) => {
                let secs = config.u64(
                    "SECRETS_AWS_ROLE_DURATION_SECS",
                    0,
                    "a whole number of seconds",
                )?;
                let d = Duration::from_secs(secs);
                if !(MIN_ROLE_DURATION..=MAX_ROLE_DURATION).contains(&d) {
                    return Err(Error::config(format!(
                        "{read} must be between {} and {} seconds (what STS grants)",
                        MIN_ROLE_DURATION.as_secs(),
                        MAX_ROLE_DURATION.as_secs()
                    )));
                }
                Some(d)
            }
            None => None,
        };
        let (sts_endpoint, sts_endpoint_authority) = match config.first(STS_ENDPOINT_VARS) {
            Some((url, read)) => {
                let checked = check_endpoint(url, &read)?;
                (Some(url.to_owned()), Some(checked.authority()))
            }
            None => (None, None),
        };
        Ok(Some(RoleSettings {
            arn: arn.to_owned(),
            session_name,
            external_id: config
                .first(&["SECRETS_AWS_EXTERNAL_ID"])
                .map(|(v, _)| v.to_owned()),
            duration,
            sts_endpoint,
            sts_endpoint_authority,
        }))
    }

    /// The credentials provider that assumes the role, calling STS with
    /// `sts_config` (its endpoint, region, base credentials, timeouts and
    /// attempts). `settings` names the timeouts in errors.
    pub(crate) async fn credentials(
        &self,
        sts_config: &SdkConfig,
        settings: &ClientSettings,
    ) -> RoleCredentials {
        let mut builder = AssumeRoleProvider::builder(self.arn.clone())
            .configure(sts_config)
            .session_name(self.session_name.clone());
        if let Some(id) = &self.external_id {
            builder = builder.external_id(id.clone());
        }
        if let Some(d) = self.duration {
            builder = builder.session_length(d);
        }
        let region = sts_config.region().map(|r| r.as_ref().to_owned());
        RoleCredentials {
            inner: builder.build().await,
            what: format!("assuming role {}", self.arn),
            target: self.target(region.as_deref()),
            settings: settings.clone(),
        }
    }

    /// STS as errors name it: `AWS STS at host:port` for a configured
    /// endpoint, else `AWS STS in {region}`.
    fn target(&self, region: Option<&str>) -> String {
        match (&self.sts_endpoint_authority, region) {
            (Some(authority), _) => format!("{} at {authority}", STS.name),
            (None, Some(region)) => format!("{} in {region}", STS.name),
            (None, None) => STS.name.to_owned(),
        }
    }
}

/// STS accepts 2 to 64 of `[A-Za-z0-9+=,.@_-]`; checked up front so that
/// a typo is a configuration error, not a refused role on every read.
fn check_session_name(name: &str, read: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if (2..=64).contains(&name.len()) && name.chars().all(allowed) {
        return Ok(());
    }
    Err(Error::config(format!(
        "{read} must be 2 to 64 letters, digits or + = , . @ _ - (what STS accepts)"
    )))
}

/// [`AssumeRoleProvider`] with its failures mapped to this crate's error.
/// `Debug` names the role and STS, never the provider inside (its `Debug`
/// shows the whole `AssumeRole` request, the external id with it).
pub(crate) struct RoleCredentials {
    inner: AssumeRoleProvider,
    /// `assuming role arn:...`, for errors.
    what: String,
    /// STS, as errors name it.
    target: String,
    settings: ClientSettings,
}

impl fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("what", &self.what)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl RoleCredentials {
    async fn assume(&self) -> provider::Result {
        self.inner
            .provide_credentials()
            .await
            .map_err(|e| CredentialsError::provider_error(AssumeRoleFailed(self.map_error(&e))))
    }

    /// The STS call's error (inside the credentials error) as this crate's;
    /// without one (the SDK failed before calling STS), unavailable.
    fn map_error(&self, e: &CredentialsError) -> Error {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(sdk) = err.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>() {
                return map_sdk_error_ref(sdk, &self.what, &STS, &self.settings, &self.target);
            }
            cur = err.source();
        }
        Error::unavailable(format!("{} failed ({})", self.target, self.what))
    }
}

impl ProvideCredentials for RoleCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

/// A failed role assumption, carried through the SDK's credentials error
/// to the service call's error mapping ([`role_failure`]).
#[derive(Debug)]
struct AssumeRoleFailed(Error);

impl fmt::Display for AssumeRoleFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for AssumeRoleFailed {}

/// The role assumption failure somewhere in `e`'s source chain, if any.
pub(crate) fn role_failure<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(AssumeRoleFailed(inner)) = err.downcast_ref::<AssumeRoleFailed>() {
            return Some(inner);
        }
        cur = err.source();
    }
    None
}

/// STS's error codes: throttling and STS's own trouble are unavailable
/// (the chain retries them); anything else is a refusal of this role to
/// these credentials (`AccessDenied`, a malformed ARN's `ValidationError`,
/// an expired base token, a region where STS is disabled).
fn classify_sts_error(code: &str, message: &str, what: &str) -> Error {
    let said = said(code, message);
    match code {
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "IDPCommunicationError"
        | "ServiceUnavailable"
        | "InternalFailure" => Error::unavailable(format!("AWS STS failed ({what}): {said}")),
        c if DENIED_CODES.contains(&c) => {
            Error::access_denied(format!("access denied ({what}): {said}"))
        }
        _ => Error::access_denied(format!("AWS STS refused the role ({what}): {said}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn role(pairs: &[(&str, &str)]) -> Result<Option<RoleSettings>, Error> {
        let s = Settings::from_vars(pairs.iter().copied());
        ClientSettings::from_settings(&s, &["SECRETS_AWS_ENDPOINT"]).map(|c| c.role)
    }

    const ARN: (&str, &str) = ("SECRETS_AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/x");

    #[test]
    fn no_role_arn_means_no_role_and_role_only_settings_without_one_are_errors() {
        assert!(role(&[]).unwrap().is_none());
        for var in ROLE_ONLY {
            let e = role(&[(*var, "3600")]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(e.to_string().starts_with(var), "{e}");
            assert!(e.to_string().contains("SECRETS_AWS_ROLE_ARN"), "{e}");
        }
    }

    #[test]
    fn defaults_are_the_session_name_and_no_duration_or_sts_endpoint() {
        let r = role(&[ARN]).unwrap().unwrap();
        assert_eq!(r.arn, ARN.1);
        assert_eq!(r.session_name, DEFAULT_SESSION_NAME);
        assert_eq!(
            (r.duration, r.sts_endpoint, r.external_id),
            (None, None, None)
        );
    }

    #[test]
    fn the_duration_must_be_what_sts_grants_and_errors_name_the_variable() {
        for ok in ["900", "3600", "43200"] {
            let r = role(&[ARN, ("SECRETS_AWS_ROLE_DURATION_SECS", ok)]).unwrap();
            assert_eq!(
                r.unwrap().duration,
                Some(Duration::from_secs(ok.parse().unwrap()))
            );
        }
        for bad in ["899", "0", "43201", "1h", "-900"] {
            let e = role(&[ARN, ("SECRETS_AWS_ROLE_DURATION_SECS", bad)]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
            assert!(
                e.to_string().starts_with("SECRETS_AWS_ROLE_DURATION_SECS "),
                "{e}"
            );
        }
        let s = Settings::from_vars([
            ("SECRETS_DR_AWS_ROLE_ARN", ARN.1),
            ("SECRETS_DR_AWS_ROLE_DURATION_SECS", "60"),
        ]);
        let Err(e) = ClientSettings::from_settings(&s.for_instance("dr", "aws"), &[]) else {
            panic!("a 60 s session is refused");
        };
        assert!(
            e.to_string()
                .starts_with("SECRETS_DR_AWS_ROLE_DURATION_SECS must be between 900 and 43200"),
            "{e}"
        );
    }

    #[test]
    fn a_session_name_sts_would_refuse_is_a_config_error() {
        let r = role(&[ARN, ("SECRETS_AWS_ROLE_SESSION_NAME", "billing@prod")]).unwrap();
        assert_eq!(r.unwrap().session_name, "billing@prod");
        let long = "n".repeat(65);
        for bad in ["x", "has space", "slash/no", long.as_str()] {
            let e = role(&[ARN, ("SECRETS_AWS_ROLE_SESSION_NAME", bad)]).unwrap_err();
            assert!(
                e.to_string().starts_with("SECRETS_AWS_ROLE_SESSION_NAME "),
                "{e}"
            );
        }
    }

    #[test]
    fn a_named_instance_reads_its_own_role() {
        let s = Settings::from_vars([
            ARN,
            (
                "SECRETS_DR_AWS_ROLE_ARN",
                "arn:aws:iam::210987654321:role/dr",
            ),
            ("SECRETS_DR_AWS_EXTERNAL_ID", "dr-ext"),
        ]);
        let dr = ClientSettings::from_settings(&s.for_instance("dr", "aws"), &[]).unwrap();
        let dr = dr.role.unwrap();
        assert_eq!(dr.arn, "arn:aws:iam::210987654321:role/dr");
        assert_eq!(dr.external_id.as_deref(), Some("dr-ext"));
        let plain = ClientSettings::from_settings(&s.for_instance("aws", "aws"), &[]).unwrap();
        assert_eq!(plain.role.unwrap().external_id, None);
    }

    #[test]
    fn the_sts_endpoint_is_its_own_with_the_aws_fallbacks_and_the_same_checks() {
        let sts = |pairs: &[(&str, &str)]| role(&[&[ARN][..], pairs].concat()).map(|r| r.unwrap());
        let r = sts(&[("SECRETS_AWS_ENDPOINT", "http://127.0.0.1:1")]).unwrap();
        assert_eq!(
            r.sts_endpoint, None,
            "Secrets Manager's endpoint is not STS's"
        );
        let r = sts(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:3"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2"),
        ])
        .unwrap();
        assert_eq!(r.sts_endpoint.as_deref(), Some("http://127.0.0.1:2"));
        assert_eq!(r.target(Some("us-east-1")), "AWS STS at 127.0.0.1:2");
        let r = sts(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:3")]).unwrap();
        assert_eq!(r.sts_endpoint.as_deref(), Some("http://127.0.0.1:3"));
        let r = sts(&[
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2"),
            ("SECRETS_AWS_STS_ENDPOINT", "https://sts.example"),
        ])
        .unwrap();
        assert_eq!(r.sts_endpoint.as_deref(), Some("https://sts.example"));
        assert_eq!(
            sts(&[]).unwrap().target(Some("eu-west-1")),
            "AWS STS in eu-west-1"
        );

        let e = sts(&[
            ("DEPLOYMENT_ENV", "production"),
            ("SECRETS_AWS_STS_ENDPOINT", "http://sts.internal:4566"),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("SECRETS_AWS_STS_ENDPOINT is plain http://"),
            "{e}"
        );
        let e = sts(&[("SECRETS_AWS_STS_ENDPOINT", "http://127.0.0.1:99999")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("SECRETS_AWS_STS_ENDPOINT is not a valid"),
            "{e}"
        );
    }

    #[test]
    fn debug_shows_whether_an_external_id_is_set_never_it() {
        let r = role(&[ARN, ("SECRETS_AWS_EXTERNAL_ID", "ext-s3cr3t-id")])
            .unwrap()
            .unwrap();
        let d = format!("{r:?}");
        assert!(d.contains("external_id_set: true"), "{d}");
        assert!(!d.contains("s3cr3t"), "{d}");
    }

    #[test]
    fn sts_refusals_are_access_denied_and_throttling_is_unavailable() {
        for code in [
            "AccessDenied",
            "ValidationError",
            "RegionDisabledException",
            "ExpiredToken",
        ] {
            let e = classify_sts_error(code, "no", "assuming role arn:x");
            assert_eq!(e.kind(), ErrorKind::AccessDenied, "{code}");
            assert!(e.to_string().contains("assuming role arn:x"), "{e}");
        }
        for code in ["Throttling", "IDPCommunicationError"] {
            let e = classify_sts_error(code, "", "assuming role arn:x");
            assert_eq!(e.kind(), ErrorKind::Unavailable, "{code}");
        }
    }

    #[test]
    fn a_role_failure_is_found_through_the_sdks_wrapping() {
        let failed = CredentialsError::provider_error(AssumeRoleFailed(Error::access_denied(
            "access denied (assuming role arn:x): AccessDenied",
        )));
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(failed);
        let found = role_failure(boxed.as_ref()).expect("found");
        assert_eq!(found.kind(), ErrorKind::AccessDenied);
        assert!(role_failure(&Error::unavailable("x")).is_none());
    }
}
