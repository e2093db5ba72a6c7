//! The AWS Systems Manager Parameter Store provider (cargo feature `ssm`).
//!
//! A secret path maps to a parameter name by putting the prefix in front:
//! `SECRETS_SSM_PREFIX`, or `SECRETS_PREFIX` when that is unset. Parameter
//! Store's hierarchical names start with `/` and separate levels with `/`,
//! so the prefix is read as a folder: a `/` is added in front when it has
//! none and at its end when it has none (`app/prod`, `/app/prod` and
//! `/app/prod/` are all the folder `/app/prod/`), and `database/password`
//! reads `/app/prod/database/password` ([`SsmProvider::parameter_name`]).
//! Without a prefix a path with a `/` gets a leading one
//! (`database/password` reads `/database/password`), and a flat path is a
//! flat name (`dbpassword`). A path that starts with `/` is kept as it is
//! after the prefix, and a full ARN (`arn:aws:ssm:...:parameter/...`) is
//! used as it is.
//!
//! `SecureString` parameters are decrypted (`WithDecryption=true`),
//! `StringList` parameters come back as their text (`a,b,c`), and
//! `name#field` selects one field of a JSON value (the chain does that).
//!
//! [`Version::Id`] reads a version by number (`name:3`); an id that is not
//! a positive number is "not found" with an error that says so.
//! [`Version::Stage`] reads a label (`name:prod`, set with
//! `LabelParameterVersion`). A value's [`SecretMetadata`] holds the
//! parameter's ARN as its id, its `Version` as the version id, the label
//! that was asked for as its stage, its `LastModifiedDate` (when that
//! version was written) as its creation date and its type (`String`,
//! `StringList`, `SecureString`) as its [`value_type`](SecretMetadata::value_type).
//!
//! # Batches and listing
//!
//! [`Provider::fetch_many`] (what
//! [`SecretsManager::prefetch`](crate::SecretsManager::prefetch) calls)
//! reads with `GetParameters`, 10 names a call (Parameter Store's limit),
//! up to 4 calls in flight; each name of the answer's `InvalidParameters`
//! is "not found", and a name the answer left out is read alone. A failed
//! call (throttling, an outage) answers each of its names with that error.
//!
//! [`Provider::list`] calls `GetParametersByPath` recursively under the
//! prefix, following `NextToken`, and returns the names relative to the
//! prefix (what `fetch` takes). Only hierarchical names (starting with
//! `/`) can be listed; values are never decrypted for a listing.
//! [`Provider::health`] asks for one parameter under the prefix.
//!
//! IAM: `ssm:GetParameter` (and `kms:Decrypt` on the key of a
//! `SecureString`); `prefetch` needs `ssm:GetParameters`, `list` and
//! `secret-chain check` `ssm:GetParametersByPath`.
//!
//! # Settings
//!
//! The client settings are the `aws` provider's (region, profile,
//! credentials, `SECRETS_AWS_TIMEOUT_MS`, `SECRETS_AWS_CONNECT_TIMEOUT_MS`,
//! `SECRETS_AWS_MAX_ATTEMPTS`, `SECRETS_AWS_ALLOW_HTTP`: see
//! [`aws`](super::aws) when that feature is on, or the README), read
//! through the same code. Only the endpoint and the prefix are the
//! provider's own, since an endpoint serves one service:
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `SECRETS_SSM_PREFIX` | `SECRETS_PREFIX`, then none | the folder of the parameters (a leading and a trailing `/` are added) |
//! | `SECRETS_SSM_ENDPOINT` | `AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL`, then AWS | endpoint URL (moto, LocalStack, a VPC endpoint); `SECRETS_AWS_ENDPOINT` is Secrets Manager's and is not read |
//!
//! A named instance (`params=ssm` in `SECRETS_PROVIDERS`) reads each
//! setting with its name after `SECRETS_` first (`SECRETS_PARAMS_SSM_PREFIX`,
//! `SECRETS_PARAMS_PREFIX`, `SECRETS_PARAMS_AWS_REGION`, ...).
//!
//! # Errors
//!
//! The mapping is in `errors.rs`, on top of the one the AWS providers share.
//! `ParameterNotFound` and `ParameterVersionNotFound` (and a name Parameter
//! Store refuses, `ValidationException`) are
//! [`ErrorKind::NotFound`](crate::ErrorKind::NotFound); `AccessDenied`,
//! bad or expired credentials and the KMS errors of a `SecureString`
//! (`InvalidKeyId`, `KMSAccessDeniedException`, `KMSDisabledException`,
//! `KMSNotFoundException`, ...) are
//! [`ErrorKind::AccessDenied`](crate::ErrorKind::AccessDenied); timeouts,
//! unreachable endpoints, throttling and server errors are
//! [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable), which the
//! chain retries and counts in the provider's breaker. Errors name the
//! parameter (`not found (parameter /app/prod/db)`), keep AWS's code and
//! the HTTP status, and never hold a value: the SDK's error, whose raw
//! response can hold one, is never kept.
//!
//! # Example
//!
//! ```no_run
//! use secret_chain::SecretsManager;
//! use secret_chain::providers::ssm::SsmProvider;
//! use secret_chain::settings::Settings;
//!
//! let settings = Settings::from_vars([("SECRETS_AWS_REGION", "eu-west-1"), ("SECRETS_SSM_PREFIX", "/billing/prod")]);
//! let manager = SecretsManager::builder()
//!     .provider(SsmProvider::from_settings(&settings)?)
//!     .build()?;
//! # let _ = manager;
//! # Ok::<(), secret_chain::Error>(())
//! ```

use std::fmt;
use std::time::SystemTime;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::types::Parameter;
use secrecy::SecretString;
use tokio::sync::OnceCell;
use zeroize::Zeroize;

use crate::error::Error;
use crate::providers::aws_common::ClientSettings;
use crate::providers::aws_common::errors::map_sdk_error;
use crate::providers::{BoxFuture, Provider, SecretData, SecretMetadata, SecretValue, Version};
use crate::settings::Settings;

mod batch;
mod errors;

use errors::PARAMETER_STORE;

/// The client's defaults, the `aws` provider's (`SECRETS_AWS_TIMEOUT_MS`,
/// `SECRETS_AWS_CONNECT_TIMEOUT_MS`, `SECRETS_AWS_MAX_ATTEMPTS`).
pub use crate::providers::aws_common::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT, MAX_ATTEMPTS_LIMIT,
};

/// The provider's name (its kind in `SECRETS_PROVIDERS`).
const NAME: &str = "ssm";

/// Where the endpoint is read from, the first that is set.
const ENDPOINT_VARS: &[&str] = &[
    "SECRETS_SSM_ENDPOINT",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL",
];

/// The most results `GetParametersByPath` gives in one page.
const LIST_PAGE_SIZE: i32 = 10;

/// Reads parameters from AWS Systems Manager Parameter Store (see the
/// [module docs](self)).
///
/// Build it with [`SsmProvider::from_settings`] (settings from the
/// environment; the SDK client is created on first use, because loading
/// the AWS configuration is asynchronous) or [`SsmProvider::from_client`]
/// (a client you configured yourself).
pub struct SsmProvider {
    client: OnceCell<Client>,
    settings: ClientSettings,
    /// The folder names are read under: empty, or starting and ending
    /// with `/`.
    prefix: String,
}

impl fmt::Debug for SsmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SsmProvider");
        d.field("prefix", &self.prefix);
        self.settings
            .debug_fields(&mut d)
            .field("client_ready", &self.client.initialized())
            .finish()
    }
}

impl SsmProvider {
    /// Builds the provider from the configuration (see the module docs for
    /// the variables). No network call is made here: the AWS configuration
    /// is loaded, and a missing region reported, on the first call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the variable
    /// when a timeout or attempt count is not a number or out of range,
    /// when the endpoint is not an `http://` or `https://` URL, when it is
    /// plain `http://` to a host that is not loopback while
    /// `DEPLOYMENT_ENV` is not local (unless `SECRETS_AWS_ALLOW_HTTP=true`),
    /// or when only one of `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
    /// is set.
    pub fn from_settings(config: &Settings) -> Result<SsmProvider, Error> {
        Ok(SsmProvider {
            client: OnceCell::new(),
            settings: ClientSettings::from_settings(config, ENDPOINT_VARS)?,
            prefix: folder(config.prefix_for(Some("SECRETS_SSM_PREFIX"))),
        })
    }

    /// A provider over a client you built yourself (your own region,
    /// credentials, retry and timeout settings), with no prefix.
    pub fn from_client(client: Client) -> SsmProvider {
        SsmProvider {
            client: OnceCell::new_with(Some(client)),
            settings: ClientSettings::default(),
            prefix: String::new(),
        }
    }

    /// Reads every name under the folder `prefix`, as `SECRETS_SSM_PREFIX`
    /// does (a leading and a trailing `/` are added when missing).
    pub fn with_prefix(mut self, prefix: impl AsRef<str>) -> SsmProvider {
        self.prefix = folder(prefix.as_ref());
        self
    }

    /// The parameter name that `path` is read from (see the
    /// [module docs](self)).
    ///
    /// ```
    /// # use secret_chain::providers::ssm::SsmProvider;
    /// # let client = aws_sdk_ssm::Client::from_conf(
    /// #     aws_sdk_ssm::Config::builder().behavior_version_latest().build());
    /// let p = SsmProvider::from_client(client);
    /// assert_eq!(p.parameter_name("database/password"), "/database/password");
    /// let p = p.with_prefix("app/prod");
    /// assert_eq!(p.parameter_name("database/password"), "/app/prod/database/password");
    /// ```
    pub fn parameter_name(&self, path: &str) -> String {
        join_name(&self.prefix, path)
    }

    /// The SDK client, created from the settings on first use.
    async fn client(&self) -> Result<&Client, Error> {
        self.client
            .get_or_try_init(|| async {
                Ok::<_, Error>(Client::new(&self.settings.load(NAME).await?))
            })
            .await
    }

    /// An SDK error as this crate's error, naming where the request went.
    fn sdk_error<E>(&self, err: SdkError<E, HttpResponse>, what: &str) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let region = self.client.get().and_then(|c| c.config().region());
        let target = self
            .settings
            .target(PARAMETER_STORE.name, region.map(|r| r.as_ref()));
        map_sdk_error(err, what, &PARAMETER_STORE, &self.settings, &target)
    }

    async fn fetch_inner(&self, path: &str, version: &Version) -> Result<SecretValue, Error> {
        let name = self.parameter_name(path);
        // Only built when something goes wrong.
        let what = || match version {
            Version::Current => format!("parameter {name}"),
            v => format!("parameter {name}, {v}"),
        };
        let request_name = with_selector(&name, version, what)?;
        let client = self.client().await?;
        let out = client
            .get_parameter()
            .name(request_name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| self.sdk_error(e, &what()))?;
        let mut value = match out.parameter {
            Some(parameter) => parameter_value(parameter, what)?,
            None => return Err(Error::not_found(format!("not found ({})", what()))),
        };
        // The label asked for, when the answer does not echo it in its
        // `Selector` (emulators leave it out).
        if let Version::Stage(label) = version
            && value.metadata().stages().is_empty()
        {
            let m = std::mem::take(value.metadata_mut());
            *value.metadata_mut() = m.with_stages([label.trim()]);
        }
        Ok(value)
    }

    /// The folder `GetParametersByPath` is asked for, and the full-name
    /// prefix the names must start with, for a listing of `prefix`.
    fn list_scope(&self, prefix: &str) -> (String, String) {
        let wanted = format!(
            "{}{}",
            if self.prefix.is_empty() {
                "/"
            } else {
                &self.prefix
            },
            prefix.trim_start_matches('/')
        );
        let folder = &wanted[..wanted.rfind('/').unwrap_or(0)];
        let path = if folder.is_empty() { "/" } else { folder };
        (path.to_owned(), wanted)
    }

    /// A full name as the path [`fetch`](Provider::fetch) takes: without
    /// the prefix (or the leading `/` when there is none).
    fn chain_path<'n>(&self, name: &'n str) -> Option<&'n str> {
        let base = if self.prefix.is_empty() {
            "/"
        } else {
            &self.prefix
        };
        name.strip_prefix(base).filter(|p| !p.is_empty())
    }

    async fn list_inner(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let (path, wanted) = self.list_scope(prefix);
        let client = self.client().await?;
        let mut names = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let page = client
                .get_parameters_by_path()
                .path(&path)
                .recursive(true)
                .with_decryption(false)
                .max_results(LIST_PAGE_SIZE)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| self.sdk_error(e, &format!("listing parameters under {path}")))?;
            for mut parameter in page.parameters.unwrap_or_default() {
                // A listing never needs a value: wipe what came with it.
                if let Some(mut value) = parameter.value.take() {
                    value.zeroize();
                }
                if let Some(name) = parameter.name.as_deref()
                    && name.starts_with(&wanted)
                    && let Some(path) = self.chain_path(name)
                {
                    names.push(path.to_owned());
                }
            }
            match page.next_token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => break,
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn health_inner(&self) -> Result<(), Error> {
        let (path, _) = self.list_scope("");
        let client = self.client().await?;
        let page = client
            .get_parameters_by_path()
            .path(&path)
            .max_results(1)
            .send()
            .await
            .map_err(|e| self.sdk_error(e, &format!("health check under {path}")))?;
        for mut parameter in page.parameters.unwrap_or_default() {
            if let Some(mut value) = parameter.value.take() {
                value.zeroize();
            }
        }
        Ok(())
    }
}

impl Provider for SsmProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn fetch<'a>(
        &'a self,
        name: &'a str,
        version: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>> {
        Box::pin(self.fetch_inner(name, version))
    }

    /// `GetParameters`, 10 names a call (see the [module docs](self#batches-and-listing)).
    fn fetch_many<'a>(
        &'a self,
        names: &'a [&'a str],
    ) -> BoxFuture<'a, Vec<Result<SecretValue, Error>>> {
        Box::pin(self.fetch_many_inner(names))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(self.list_inner(prefix))
    }

    fn health(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.health_inner())
    }
}

/// A prefix as a folder: empty, or with a leading and a trailing `/`.
fn folder(prefix: &str) -> String {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(prefix.len() + 2);
    if !prefix.starts_with('/') {
        out.push('/');
    }
    out.push_str(prefix);
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// The parameter name of `path` under `folder` (see [`folder`]).
fn join_name(folder: &str, path: &str) -> String {
    if path.starts_with("arn:") {
        // A full ARN names one parameter exactly: no prefix.
        return path.to_owned();
    }
    if !folder.is_empty() {
        format!("{folder}{}", path.trim_start_matches('/'))
    } else if path.contains('/') && !path.starts_with('/') {
        // Hierarchical names start with `/`.
        format!("/{path}")
    } else {
        path.to_owned()
    }
}

/// The name `GetParameter` is asked for: `name`, `name:3` for a version,
/// `name:label` for a label. A version id that is not a positive number,
/// a label that could not be one, or a name that already holds a `:`
/// (outside an ARN: names never do) is "not found", saying why.
fn with_selector(
    name: &str,
    version: &Version,
    what: impl Fn() -> String,
) -> Result<String, Error> {
    let refused = |why: String| Err(Error::not_found(format!("not found ({}; {why})", what())));
    let plain = name.strip_prefix("arn:").map_or(name, |rest| {
        // `arn:aws:ssm:region:account:parameter/name`: the name is after
        // the fifth `:`.
        rest.splitn(5, ':').nth(4).unwrap_or("")
    });
    if plain.contains(':') {
        return refused(
            "a parameter name cannot hold ':'; ask for a version with Version::Id or Version::Stage"
                .to_owned(),
        );
    }
    match version {
        Version::Current => Ok(name.to_owned()),
        Version::Id(id) => {
            let id = id.trim();
            match id.parse::<u64>() {
                Ok(n) if n > 0 && id.bytes().all(|b| b.is_ascii_digit()) => {
                    Ok(format!("{name}:{n}"))
                }
                _ => refused(format!(
                    "SSM parameter versions are positive numbers, {} is not one",
                    shown(id)
                )),
            }
        }
        Version::Stage(label) => {
            let label = label.trim();
            let ok = !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
            if ok {
                Ok(format!("{name}:{label}"))
            } else {
                refused(format!(
                    "SSM labels hold letters, digits, '.', '-' and '_', {} does not",
                    shown(label)
                ))
            }
        }
    }
}

/// A version id or label as an error shows it: quoted, at most 24
/// characters (they are not secrets, but may be anything).
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(24).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    format!("'{out}'")
}

/// A parameter of an answer as a value with its metadata. Its text is
/// copied into a secret buffer and the SDK's copy wiped.
fn parameter_value(
    mut parameter: Parameter,
    what: impl FnOnce() -> String,
) -> Result<SecretValue, Error> {
    let metadata = metadata_of(&mut parameter);
    match parameter.value.take() {
        Some(mut text) => {
            let value = SecretString::from(text.as_str());
            text.zeroize();
            Ok(SecretValue::new(SecretData::Text(value)).with_metadata(metadata))
        }
        None => Err(Error::not_found(format!(
            "not found ({} has no value)",
            what()
        ))),
    }
}

/// What Parameter Store says about the version it returned: the ARN (the
/// name when there is none) as the id, the version number, the label asked
/// for (`Selector` `:label`) as the stage, the last-modified date (when the
/// version was written) and the type. A field that is missing or does not
/// convert stays empty.
fn metadata_of(parameter: &mut Parameter) -> SecretMetadata {
    let mut m = SecretMetadata::new();
    if let Some(id) = parameter.arn.take().or_else(|| parameter.name.clone()) {
        m = m.with_id(id);
    }
    if parameter.version > 0 {
        m = m.with_version_id(parameter.version.to_string());
    }
    if let Some(label) = parameter
        .selector
        .as_deref()
        .and_then(|s| s.strip_prefix(':'))
        .filter(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()))
    {
        m = m.with_stages([label]);
    }
    if let Some(date) = parameter
        .last_modified_date
        .take()
        .and_then(|d| SystemTime::try_from(d).ok())
    {
        m = m.with_created(date);
    }
    if let Some(kind) = parameter.r#type.take() {
        m = m.with_value_type(kind.as_str());
    }
    m
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_ssm::types::ParameterType;
    use secrecy::ExposeSecret;

    use super::*;
    use crate::error::ErrorKind;

    fn config(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_vars(pairs.iter().copied())
    }

    fn what() -> String {
        "parameter /app/db".to_owned()
    }

    #[test]
    fn a_prefix_is_a_folder_with_a_leading_and_a_trailing_slash() {
        for prefix in [
            "app/prod",
            "/app/prod",
            "/app/prod/",
            "app/prod/",
            " /app/prod ",
        ] {
            assert_eq!(folder(prefix), "/app/prod/", "{prefix:?}");
            assert_eq!(
                join_name(&folder(prefix), "database/password"),
                "/app/prod/database/password",
                "{prefix:?}"
            );
        }
        assert_eq!(folder(""), "");
        assert_eq!(folder("/"), "/");
        assert_eq!(join_name("/", "db/url"), "/db/url");
        assert_eq!(join_name("/app/", "/db/url"), "/app/db/url");
    }

    #[test]
    fn without_a_prefix_hierarchical_paths_get_a_leading_slash() {
        assert_eq!(join_name("", "database/password"), "/database/password");
        assert_eq!(join_name("", "/database/password"), "/database/password");
        assert_eq!(join_name("", "dbpassword"), "dbpassword");
        let arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db";
        assert_eq!(join_name("/other/", arn), arn);
    }

    #[test]
    fn the_ssm_prefix_wins_over_the_common_one_per_instance_too() {
        let p = SsmProvider::from_settings(&config(&[("SECRETS_PREFIX", "myapp")])).unwrap();
        assert_eq!(p.parameter_name("db"), "/myapp/db");
        let s = config(&[
            ("SECRETS_PREFIX", "/common/"),
            ("SECRETS_SSM_PREFIX", "/app/prod/"),
            ("SECRETS_DR_SSM_PREFIX", "/app/dr"),
        ]);
        let p = SsmProvider::from_settings(&s).unwrap();
        assert_eq!(
            p.parameter_name("database/password"),
            "/app/prod/database/password"
        );
        let dr = SsmProvider::from_settings(&s.for_instance("dr", "ssm")).unwrap();
        assert_eq!(dr.parameter_name("db"), "/app/dr/db");
    }

    #[test]
    fn versions_are_selectors_and_bad_ids_are_refused_saying_why() {
        let name = "/app/db";
        assert_eq!(
            with_selector(name, &Version::Current, what).unwrap(),
            "/app/db"
        );
        assert_eq!(
            with_selector(name, &Version::Id(" 3 ".into()), what).unwrap(),
            "/app/db:3"
        );
        assert_eq!(
            with_selector(name, &Version::Stage("prod".into()), what).unwrap(),
            "/app/db:prod"
        );
        for id in ["abc", "0", "-1", "+3", "3.0", "", "v3"] {
            let e = with_selector(name, &Version::Id(id.into()), what).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotFound, "{id}");
            assert!(
                e.to_string()
                    .contains("SSM parameter versions are positive numbers"),
                "{e}"
            );
            assert!(e.to_string().contains("parameter /app/db"), "{e}");
        }
        for label in ["", "a:b", "a/b", "a b"] {
            let e = with_selector(name, &Version::Stage(label.into()), what).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotFound, "{label}");
            assert!(e.to_string().contains("SSM labels"), "{e}");
        }
        let e = with_selector("/app/db:3", &Version::Current, what).unwrap_err();
        assert!(e.to_string().contains("cannot hold ':'"), "{e}");
        let arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db";
        assert_eq!(
            with_selector(arn, &Version::Id("2".into()), what).unwrap(),
            format!("{arn}:2")
        );
        let long = "9".repeat(40);
        let e = with_selector(name, &Version::Stage(format!("{long}!")), what).unwrap_err();
        assert!(!e.to_string().contains(&long), "cut to 24: {e}");
    }

    #[test]
    fn the_provider_answers_a_bad_version_id_without_a_call() {
        // No endpoint, no region: only a call would fail differently.
        let p = SsmProvider::from_settings(&config(&[])).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt
            .block_on(p.fetch("db", &Version::Id("latest".into())))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "not found (parameter db, version latest; SSM parameter versions are positive numbers, 'latest' is not one)"
        );
    }

    #[test]
    fn metadata_is_taken_from_the_answer_and_the_value_kept_out_of_debug() {
        let arn = "arn:aws:ssm:us-east-1:123456789012:parameter/app/db";
        let parameter = Parameter::builder()
            .name("/app/db")
            .arn(arn)
            .r#type(ParameterType::SecureString)
            .value("s3cr3t-value")
            .version(4)
            .selector(":prod")
            .last_modified_date(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .build();
        let v = parameter_value(parameter, what).unwrap();
        let m = v.metadata();
        assert_eq!(m.id(), Some(arn));
        assert_eq!(m.version_id(), Some("4"));
        assert_eq!(m.stages(), ["prod"]);
        assert_eq!(m.value_type(), Some("SecureString"));
        assert_eq!(
            m.created(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert!(matches!(v.data(), SecretData::Text(s) if s.expose_secret() == "s3cr3t-value"));
        assert!(!format!("{v:?}").contains("s3cr3t"));

        let by_number = Parameter::builder()
            .name("/app/db")
            .value("x")
            .selector(":4")
            .build();
        let m = parameter_value(by_number, what).unwrap().metadata().clone();
        assert_eq!(m.id(), Some("/app/db"), "the name when there is no ARN");
        assert!(m.stages().is_empty() && m.version_id().is_none());

        let e = parameter_value(Parameter::builder().name("/app/db").build(), what).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn listing_asks_for_the_folder_and_strips_the_prefix() {
        let client = aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::Config::builder()
                .behavior_version_latest()
                .build(),
        );
        let p = SsmProvider::from_client(client).with_prefix("/app/prod");
        assert_eq!(
            p.list_scope(""),
            ("/app/prod".to_owned(), "/app/prod/".to_owned())
        );
        assert_eq!(
            p.list_scope("svc/key-0"),
            ("/app/prod/svc".to_owned(), "/app/prod/svc/key-0".to_owned())
        );
        assert_eq!(p.chain_path("/app/prod/svc/a"), Some("svc/a"));
        assert_eq!(p.chain_path("/app/prodx/a"), None);
        let p = p.with_prefix("");
        assert_eq!(p.list_scope(""), ("/".to_owned(), "/".to_owned()));
        assert_eq!(p.list_scope("db"), ("/".to_owned(), "/db".to_owned()));
        assert_eq!(p.chain_path("/db/url"), Some("db/url"));
        assert_eq!(p.parameter_name("db/url"), "/db/url", "round trip");
    }

    #[test]
    fn settings_are_the_aws_ones_with_an_endpoint_of_its_own() {
        let p = SsmProvider::from_settings(&config(&[
            ("AWS_REGION", "eu-west-1"),
            ("SECRETS_AWS_ENDPOINT", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("SECRETS_AWS_TIMEOUT_MS", "750"),
        ]))
        .unwrap();
        assert_eq!(p.settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            p.settings.endpoint.as_deref(),
            Some("http://127.0.0.1:4566"),
            "SECRETS_AWS_ENDPOINT is Secrets Manager's"
        );
        assert_eq!(p.settings.timeout, Some(Duration::from_millis(750)));
        let p = SsmProvider::from_settings(&config(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:4567"),
            ("SECRETS_SSM_ENDPOINT", "https://ssm.vpce.example"),
        ]))
        .unwrap();
        assert_eq!(
            p.settings.endpoint.as_deref(),
            Some("https://ssm.vpce.example")
        );
        let e = SsmProvider::from_settings(&config(&[(
            "SECRETS_SSM_ENDPOINT",
            "http://127.0.0.1:99999",
        )]))
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().starts_with("SECRETS_SSM_ENDPOINT "), "{e}");
        let e =
            SsmProvider::from_settings(&config(&[("SECRETS_AWS_MAX_ATTEMPTS", "0")])).unwrap_err();
        assert!(e.to_string().contains("SECRETS_AWS_MAX_ATTEMPTS"), "{e}");
    }

    #[test]
    fn debug_shows_no_credentials() {
        let p = SsmProvider::from_settings(&config(&[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID"),
            ("AWS_SECRET_ACCESS_KEY", "wJalr-s3cr3t-key"),
            ("SECRETS_SSM_PREFIX", "/app"),
        ]))
        .unwrap();
        let d = format!("{p:?}");
        assert!(d.contains("static_credentials: true"), "{d}");
        assert!(d.contains("\"/app/\""), "{d}");
        assert!(
            !d.contains("s3cr3t") && !d.contains("AKIAEXAMPLEKEYID"),
            "{d}"
        );
    }
}
