//! What the AWS providers share (Secrets Manager, `aws`; Parameter Store,
//! `ssm`): the client settings read from the environment, the endpoint
//! checks, the lazy loading of the SDK configuration, and the mapping of
//! SDK errors to this crate's (`errors.rs`).
//!
//! Both providers read the same variables (`SECRETS_AWS_REGION`,
//! `SECRETS_AWS_PROFILE`, `AWS_ACCESS_KEY_ID`..., `SECRETS_AWS_TIMEOUT_MS`,
//! `SECRETS_AWS_CONNECT_TIMEOUT_MS`, `SECRETS_AWS_MAX_ATTEMPTS`,
//! `SECRETS_AWS_ALLOW_HTTP`); only the endpoint variables differ, since an
//! endpoint serves one service ([`ClientSettings::from_settings`] takes
//! them). A role to assume (`SECRETS_AWS_ROLE_ARN`, with STS's own
//! endpoint) is read here too, so both providers can assume one
//! (`role.rs`).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::error::Error;
use crate::providers::endpoint::{Endpoint, is_loopback, parse_url};
use crate::settings::Settings;

pub(crate) mod errors;
pub(crate) mod role;

use role::{REFRESH_AHEAD, RoleSettings};

/// Default of `SECRETS_AWS_TIMEOUT_MS`: the time limit of one attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(3000);
/// Default of `SECRETS_AWS_CONNECT_TIMEOUT_MS`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Default of `SECRETS_AWS_MAX_ATTEMPTS`.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 1;
/// The largest `SECRETS_AWS_MAX_ATTEMPTS` accepted.
pub const MAX_ATTEMPTS_LIMIT: u32 = 10;

/// What a provider read from the settings; used to build its client lazily
/// (loading the AWS configuration is asynchronous). Never printed whole:
/// the providers' `Debug` shows whether static credentials are set, never
/// them.
#[derive(Clone, Default)]
pub(crate) struct ClientSettings {
    pub(crate) region: Option<String>,
    pub(crate) endpoint: Option<String>,
    /// The endpoint's `host:port`, which errors name.
    pub(crate) endpoint_authority: Option<String>,
    pub(crate) profile: Option<String>,
    /// `SECRETS_AWS_CREDENTIALS_FILE`: the shared credentials file to read
    /// instead of `~/.aws/credentials`.
    pub(crate) credentials_file: Option<PathBuf>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) max_attempts: Option<u32>,
    /// The role whose temporary credentials sign the calls, if any.
    pub(crate) role: Option<RoleSettings>,
}

impl ClientSettings {
    /// Reads the shared AWS variables, and the endpoint from the first of
    /// `endpoint_vars` that is set (`SECRETS_AWS_ENDPOINT`,
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL` for Secrets
    /// Manager).
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable when a timeout or attempt
    /// count is not a number or out of range, when the endpoint is not an
    /// `http://` or `https://` URL, when it is plain `http://` to a host that
    /// is not loopback while `DEPLOYMENT_ENV` is not local (unless
    /// `SECRETS_AWS_ALLOW_HTTP=true`), when only one of
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` is set, or when the
    /// role settings are not valid ([`RoleSettings::from_settings`]).
    pub(crate) fn from_settings(
        config: &Settings,
        endpoint_vars: &[&'static str],
    ) -> Result<ClientSettings, Error> {
        let first = |names: &[&'static str]| config.first(names).map(|(v, _)| v.to_owned());

        let (endpoint, endpoint_authority) = match config.first(endpoint_vars) {
            Some((url, read)) => {
                let checked = check_endpoint(url, &read, config)?;
                (Some(url.to_owned()), Some(checked.authority()))
            }
            None => (None, None),
        };

        let credentials = match (
            config.var("AWS_ACCESS_KEY_ID"),
            config.var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(id), Some(secret)) => Some(Credentials::new(
                id.trim(),
                secret.trim(),
                config.var("AWS_SESSION_TOKEN").map(|t| t.trim().to_owned()),
                None,
                "secret-chain-config",
            )),
            (None, None) => None,
            (Some(_), None) => {
                return Err(Error::config(
                    "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither to use the AWS credential chain",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both, or neither to use the AWS credential chain",
                ));
            }
        };

        let timeout = millis_setting(config, "SECRETS_AWS_TIMEOUT_MS", DEFAULT_TIMEOUT)?;
        let connect_timeout = millis_setting(
            config,
            "SECRETS_AWS_CONNECT_TIMEOUT_MS",
            DEFAULT_CONNECT_TIMEOUT,
        )?;
        let attempts = config.u64(
            "SECRETS_AWS_MAX_ATTEMPTS",
            u64::from(DEFAULT_MAX_ATTEMPTS),
            "a whole number of attempts",
        )?;
        if !(1..=u64::from(MAX_ATTEMPTS_LIMIT)).contains(&attempts) {
            let read = config
                .first(&["SECRETS_AWS_MAX_ATTEMPTS"])
                .map_or("SECRETS_AWS_MAX_ATTEMPTS".into(), |(_, read)| read);
            return Err(Error::config(format!(
                "{read} must be between 1 and {MAX_ATTEMPTS_LIMIT}"
            )));
        }

        let role =
            RoleSettings::from_settings(config, |url, read| check_endpoint(url, read, config))?;

        Ok(ClientSettings {
            region: first(&["SECRETS_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"]),
            endpoint,
            endpoint_authority,
            profile: first(&["SECRETS_AWS_PROFILE", "AWS_PROFILE"]),
            credentials_file: first(&["SECRETS_AWS_CREDENTIALS_FILE"]).map(PathBuf::from),
            credentials,
            timeout: Some(timeout),
            connect_timeout: Some(connect_timeout),
            max_attempts: Some(attempts as u32),
            role,
        })
    }

    /// Loads the SDK configuration these settings describe (the SDK's own
    /// chains fill in what is not set). `provider` names the provider in
    /// the error.
    ///
    /// # Errors
    ///
    /// A configuration error when no region is configured anywhere.
    pub(crate) async fn load(&self, provider: &str) -> Result<SdkConfig, Error> {
        let mut loader = self.loader(self.endpoint.as_deref());
        if let Some(role) = &self.role {
            // STS gets a configuration of its own: an SdkConfig's endpoint
            // applies to every client built from it.
            let sts_config = self.loader(role.sts_endpoint.as_deref()).load().await;
            let credentials = role.credentials(&sts_config, self).await;
            loader = loader.credentials_provider(credentials).identity_cache(
                aws_config::identity::IdentityCache::lazy()
                    .buffer_time(REFRESH_AHEAD)
                    .build(),
            );
        }
        let sdk_config = loader.load().await;
        if sdk_config.region().is_none() {
            return Err(Error::config(
                "no AWS region is configured: set SECRETS_AWS_REGION (or AWS_REGION), or a region in the AWS profile",
            )
            .with_provider(provider));
        }
        Ok(sdk_config)
    }

    /// A loader of these settings with `endpoint`: the region, profile,
    /// static credentials, timeouts and attempts.
    fn loader(&self, endpoint: Option<&str>) -> aws_config::ConfigLoader {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint.to_owned());
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile.clone());
        }
        if let Some(file) = &self.credentials_file {
            use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
            loader = loader.profile_files(
                EnvConfigFiles::builder()
                    .include_default_config_file(true)
                    .with_file(EnvConfigFileKind::Credentials, file)
                    .build(),
            );
        }
        if let Some(credentials) = &self.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let mut timeouts = TimeoutConfig::builder();
        if let Some(t) = self.timeout {
            timeouts = timeouts.operation_attempt_timeout(t);
        }
        if let Some(t) = self.connect_timeout {
            timeouts = timeouts.connect_timeout(t);
        }
        loader = loader.timeout_config(timeouts.build());
        if let Some(n) = self.max_attempts {
            loader = loader.retry_config(RetryConfig::standard().with_max_attempts(n));
        }
        loader
    }

    /// Adds what these settings say to a provider's `Debug`: whether static
    /// credentials are set, never them.
    pub(crate) fn debug_fields<'d, 'a, 'b>(
        &self,
        d: &'d mut fmt::DebugStruct<'a, 'b>,
    ) -> &'d mut fmt::DebugStruct<'a, 'b> {
        d.field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("profile", &self.profile)
            .field("static_credentials", &self.credentials.is_some())
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("role", &self.role)
    }

    /// Where requests go, as errors name it: `{service} at host:port` for
    /// a configured endpoint, `{service} in {region}` when the SDK picks
    /// the endpoint (it may take one from the shared config files, so no
    /// host is claimed then), else the service alone.
    pub(crate) fn target(&self, service: &str, region: Option<&str>) -> String {
        if let Some(authority) = &self.endpoint_authority {
            return format!("{service} at {authority}");
        }
        match region {
            Some(region) => format!("{service} in {region}"),
            None => service.to_owned(),
        }
    }
}

fn millis_setting(config: &Settings, name: &str, default: Duration) -> Result<Duration, Error> {
    let d = config.millis(name, default)?;
    if d.is_zero() {
        // The variable that was read: a named instance's own, when set.
        let read = config.first(&[name]).map_or(name.into(), |(_, read)| read);
        return Err(Error::config(format!(
            "{read} must be at least 1 millisecond"
        )));
    }
    Ok(d)
}

/// Parses the endpoint up front ([`parse_url`]: scheme, host, port 1-65535,
/// no spaces, control characters or credentials) and refuses plain
/// `http://` to a host that is not loopback outside local deployments: the
/// secrets would cross the network unencrypted. Errors name `read`, the
/// variable the URL came from, and never echo the URL.
pub(crate) fn check_endpoint(url: &str, read: &str, config: &Settings) -> Result<Endpoint, Error> {
    let endpoint = parse_url(url)
        .map_err(|why| Error::config(format!("{read} is not a valid endpoint URL: {why}")))?;
    let allow_http = config.bool("SECRETS_AWS_ALLOW_HTTP", false)?;
    if !endpoint.https
        && !is_loopback(&endpoint.host)
        && !config.is_local_deployment()
        && !allow_http
    {
        return Err(Error::config(format!(
            "{read} is plain http:// to a host that is not loopback, and DEPLOYMENT_ENV is '{}': \
             the secrets would cross the network unencrypted; use https://, \
             or set SECRETS_AWS_ALLOW_HTTP=true to allow it",
            config.deployment_env()
        )));
    }
    Ok(endpoint)
}
