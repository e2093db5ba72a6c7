//! The AWS Secrets Manager provider.
//!
//! A secret path maps to a secret id by putting `SECRETS_PREFIX` in front,
//! joined with `/` unless the prefix already ends with one: with
//! `SECRETS_PREFIX=/app`, `database/url` is the secret `/app/database/url`
//! ([`AwsProvider::secret_id`]); a full ARN is used as it is.
//! `SecretString` secrets come back as text, `SecretBinary` secrets as
//! bytes; `name#field` selects one field of a JSON secret (the chain does
//! that).
//!
//! Reading needs `secretsmanager:GetSecretValue` (and `kms:Decrypt` for a
//! customer-managed key); [`Provider::list`] and [`Provider::health`] call
//! `ListSecrets`, so they need `secretsmanager:ListSecrets`.
//!
//! # Batches
//!
//! [`Provider::fetch_many`] (what
//! [`SecretsManager::prefetch`](crate::SecretsManager::prefetch) calls)
//! reads with `BatchGetSecretValue`, 20 secret ids a call (AWS's limit for
//! `SecretIdList`), up to 4 calls in flight. Each returned secret comes
//! with its metadata as a single read's does; each entry of the answer's
//! `Errors` list is mapped as a single read's error (a
//! `ResourceNotFoundException` is "not found", with that code). This needs
//! `secretsmanager:BatchGetSecretValue` besides `GetSecretValue` on each
//! secret (AWS checks both). When AWS refuses the batch call itself
//! (`AccessDeniedException`: the permission is missing; or an endpoint that
//! does not know the call), the provider says so once in a warning and
//! reads one by one with `GetSecretValue` from then on. An id the batch
//! did not answer (an id list AWS refused as a whole, a repeated name) is
//! read alone too; a failed call (throttling, an outage) answers each of
//! its ids with that error.
//!
//! [`Version::Current`] reads `AWSCURRENT`, [`Version::Stage`] a staging
//! label (`AWSPREVIOUS`, `AWSPENDING`, a custom one) and [`Version::Id`] a
//! version id.
//!
//! A value's [`SecretMetadata`] comes from the `GetSecretValue` answer: the
//! secret's ARN as its id, the `VersionId`, the `VersionStages` and the
//! `CreatedDate`.
//!
//! # Settings
//!
//! [`AwsProvider::from_settings`] reads these variables from the
//! [`Settings`]; the AWS SDK's own chains fill in what is not set (region and
//! credentials from `~/.aws/config` and `~/.aws/credentials`, SSO, web
//! identity, ECS and EC2 instance metadata). A named instance (`dr=aws` in
//! `SECRETS_PROVIDERS`) reads each of them with its name after `SECRETS_`
//! first: `SECRETS_DR_AWS_REGION`, then these
//! ([`Settings::for_instance`]); what the SDK reads by itself is not scoped.
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `SECRETS_AWS_REGION` | `AWS_REGION`, `AWS_DEFAULT_REGION`, then the SDK chain | region |
//! | `SECRETS_AWS_ENDPOINT` | `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`, then AWS | endpoint URL (moto, LocalStack, a VPC endpoint); `REGION=URL,...` with `SECRETS_AWS_REGIONS` |
//! | `SECRETS_AWS_REGIONS` | none | replica regions, read in order: the next one only when one is unavailable (`regions.rs`) |
//! | `SECRETS_AWS_ALLOW_HTTP` | `false` | allow a plain `http://` endpoint on a host that is not loopback when `DEPLOYMENT_ENV` is not local |
//! | `SECRETS_AWS_PROFILE` | `AWS_PROFILE`, then `default` | profile in the shared config files |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | unset: the SDK credential chain | static credentials |
//! | `SECRETS_AWS_TIMEOUT_MS` | `3000` | time limit of one attempt |
//! | `SECRETS_AWS_CONNECT_TIMEOUT_MS` | `1000` | time limit to open a connection |
//! | `SECRETS_AWS_MAX_ATTEMPTS` | `1` | the SDK's attempts per call (1 = the SDK does not retry), at most 10 |
//! | `SECRETS_AWS_ROLE_ARN` | none | a role to assume with STS `AssumeRole`: the credentials above only call STS, the role's temporary ones sign the calls |
//! | `SECRETS_AWS_ROLE_SESSION_NAME` | `secret-chain` | the role session's name |
//! | `SECRETS_AWS_EXTERNAL_ID` | none | the external id the role's trust policy asks for (never shown) |
//! | `SECRETS_AWS_ROLE_DURATION_SECS` | STS's, 3600 | session length, 900 to 43200 |
//! | `SECRETS_AWS_STS_ENDPOINT` | `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, then AWS | STS's endpoint (a client of its own: `SECRETS_AWS_ENDPOINT` is never used for STS) |
//!
//! Assumed credentials are kept by the SDK's identity cache and replaced
//! on the first call within 30 to 60 s of their expiry. A refused
//! `AssumeRole` is [`ErrorKind::AccessDenied`](crate::ErrorKind::AccessDenied)
//! naming the role, an unreachable STS
//! [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable) naming STS's
//! endpoint.
//!
//! Retrying is the chain's job (`SECRETS_RETRIES`, with a time budget and a
//! circuit breaker), so the SDK's own retries are off by default: two layers
//! of retries would multiply. A call that cannot be answered gives up after
//! about `SECRETS_AWS_MAX_ATTEMPTS` × `SECRETS_AWS_TIMEOUT_MS` (plus the
//! SDK's back-off between attempts) and reports
//! [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable).
//!
//! # Errors
//!
//! The mapping is in `errors.rs` (the batch reads in `batch.rs`).
//! `ResourceNotFoundException` (and a secret marked for deletion, or a
//! name AWS refuses) is [`ErrorKind::NotFound`](crate::ErrorKind::NotFound);
//! access denied, invalid or missing credentials and KMS decryption
//! failures are [`ErrorKind::AccessDenied`](crate::ErrorKind::AccessDenied);
//! timeouts, unreachable endpoints, throttling and server errors are
//! [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable). Each error
//! keeps AWS's error code and the HTTP status of the answer
//! ([`Error::code`], [`Error::http_status`]), so that throttling
//! (`ThrottlingException`) can be told from denial. A connection that
//! fails is one clause naming the endpoint's `host:port`
//! (`cannot connect to AWS Secrets Manager at 127.0.0.1:4566 (secret id
//! db): connection refused`; also DNS, TLS, reset and timed out), and the
//! endpoint itself is checked when the provider is built (scheme, host,
//! port 1-65535, no spaces, control characters or credentials). The SDK's
//! error is never kept as the source: its raw response can hold the
//! secret's value.
//!
//! # Example
//!
//! ```no_run
//! use secret_chain::SecretsManager;
//! use secret_chain::providers::aws::AwsProvider;
//! use secret_chain::settings::Settings;
//!
//! let settings = Settings::from_vars([("SECRETS_AWS_REGION", "eu-west-1"), ("SECRETS_PREFIX", "/billing")]);
//! let manager = SecretsManager::builder()
//!     .provider(AwsProvider::from_settings(&settings)?)
//!     .build()?;
//! # let _ = manager;
//! # Ok::<(), secret_chain::Error>(())
//! ```

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use secrecy::{SecretSlice, SecretString};
use tokio::sync::OnceCell;
use zeroize::Zeroize;

use crate::error::Error;
use crate::providers::aws_common::ClientSettings;
use crate::providers::{BoxFuture, Provider, SecretData, SecretMetadata, SecretValue, Version};
use crate::settings::Settings;

mod batch;
mod errors;
mod regions;

use errors::{SECRETS_MANAGER, map_sdk_error};
use regions::Replicas;

/// Where the endpoint is read from, the first that is set.
const ENDPOINT_VARS: &[&str] = &[
    "SECRETS_AWS_ENDPOINT",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL",
];

pub use crate::providers::aws_common::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT, MAX_ATTEMPTS_LIMIT,
};

/// Reads secrets from AWS Secrets Manager, one by one or in batches (see
/// the [module docs](self#batches)).
///
/// Build it with [`AwsProvider::from_settings`] (settings from the
/// environment; the SDK client is created on first use, because loading
/// the AWS configuration is asynchronous) or [`AwsProvider::from_client`]
/// (a client you configured yourself).
pub struct AwsProvider {
    client: OnceCell<Client>,
    settings: ClientSettings,
    prefix: String,
    /// Set once AWS refused `BatchGetSecretValue` (no permission, or an
    /// endpoint that does not know it): batches are then read one by one.
    batch_refused: AtomicBool,
    /// The replica regions (`SECRETS_AWS_REGIONS`), each with its client:
    /// `client` and `settings` are then unused.
    replicas: Option<Replicas>,
}

impl fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AwsProvider");
        d.field("prefix", &self.prefix);
        self.settings
            .debug_fields(&mut d)
            .field("client_ready", &self.client.initialized())
            .field("batch_refused", &self.batch_refused.load(Ordering::Relaxed))
            .field("replicas", &self.replicas)
            .finish()
    }
}

impl AwsProvider {
    /// Builds the provider from the configuration (see the module docs for
    /// the variables). No network call is made here: the AWS configuration
    /// is loaded, and a missing region reported, on the first call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the variable when a timeout or attempt
    /// count is not a number or out of range, when the endpoint is not an
    /// `http://` or `https://` URL, when it is plain `http://` to a host that
    /// is not loopback while `DEPLOYMENT_ENV` is not local (unless
    /// `SECRETS_AWS_ALLOW_HTTP=true`), or when only one of
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` is set.
    pub fn from_settings(config: &Settings) -> Result<AwsProvider, Error> {
        // `REGION=URL,...` is one endpoint per replica region, checked
        // there; the shared settings then have no endpoint of their own.
        let endpoints = match config.first(ENDPOINT_VARS) {
            Some((value, read)) => {
                regions::per_region_endpoints(value, &read)?.map(|map| (map, read.into_owned()))
            }
            None => None,
        };
        let endpoint_vars = if endpoints.is_some() {
            &[]
        } else {
            ENDPOINT_VARS
        };
        let settings = ClientSettings::from_settings(config, endpoint_vars)?;
        let replicas = Replicas::from_settings(config, &settings, endpoints)?;
        Ok(AwsProvider {
            client: OnceCell::new(),
            settings,
            prefix: config.prefix().to_owned(),
            batch_refused: AtomicBool::new(false),
            replicas,
        })
    }

    /// A provider over a client you built yourself (your own region,
    /// credentials, retry and timeout settings), with no prefix.
    pub fn from_client(client: Client) -> AwsProvider {
        AwsProvider {
            client: OnceCell::new_with(Some(client)),
            settings: ClientSettings::default(),
            prefix: String::new(),
            batch_refused: AtomicBool::new(false),
            replicas: None,
        }
    }

    /// Puts `prefix` in front of every secret name (joined with `/` unless
    /// it ends with one), as `SECRETS_PREFIX` does.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> AwsProvider {
        self.prefix = prefix.into().trim().to_owned();
        self
    }

    /// The secret id that `name` is read from: the prefix, a `/` unless the
    /// prefix ends with one, and the name. A full ARN (`arn:...`) is used as
    /// it is.
    ///
    /// ```
    /// # use secret_chain::providers::aws::AwsProvider;
    /// # let client = aws_sdk_secretsmanager::Client::from_conf(
    /// #     aws_sdk_secretsmanager::Config::builder().behavior_version_latest().build());
    /// let p = AwsProvider::from_client(client).with_prefix("/app");
    /// assert_eq!(p.secret_id("database/url"), "/app/database/url");
    /// ```
    pub fn secret_id(&self, name: &str) -> String {
        join_prefix(&self.prefix, name)
    }

    /// The SDK client, created from the settings on first use.
    async fn client(&self) -> Result<&Client, Error> {
        self.client
            .get_or_try_init(|| async {
                Ok::<_, Error>(Client::new(&self.settings.load("aws").await?))
            })
            .await
    }

    /// An SDK error as this crate's error, naming where the request went.
    fn sdk_error<E>(&self, err: SdkError<E, HttpResponse>, what: &str) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        map_sdk_error(err, what, &self.settings, &self.target())
    }

    /// `call` with the one client, or through the replica regions
    /// (`SECRETS_AWS_REGIONS`; an ARN's own region only).
    async fn with_client<'a, T>(
        &'a self,
        id: Option<&str>,
        what: &(dyn Fn() -> String + Sync),
        call: impl Fn(&'a Client, &'a ClientSettings) -> BoxFuture<'a, Result<T, Error>>,
    ) -> Result<T, Error> {
        match &self.replicas {
            Some(replicas) => {
                replicas
                    .call(id.and_then(regions::arn_region), what, call)
                    .await
            }
            None => call(self.client().await?, &self.settings).await,
        }
    }

    /// Where requests go, as errors name it: the configured endpoint's
    /// `host:port`, or the region when the SDK picks the endpoint (it may
    /// take one from the shared config files, so no host is claimed then).
    fn target(&self) -> String {
        let region = self.client.get().and_then(|c| c.config().region());
        self.settings
            .target(SECRETS_MANAGER.name, region.map(|r| r.as_ref()))
    }

    /// The client that the operator commands (`crate::admin`) write
    /// with: the one client, or with `SECRETS_AWS_REGIONS` the first
    /// region's (the primary; replicas are read-only).
    pub(crate) async fn admin_client(&self) -> Result<AdminClient<'_>, Error> {
        let (client, settings) = match &self.replicas {
            Some(replicas) => replicas.primary().await?,
            None => (self.client().await?, &self.settings),
        };
        Ok(AdminClient { client, settings })
    }

    /// The prefix secret ids start with (`SECRETS_PREFIX`).
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn fetch_inner(&self, name: &str, version: &Version) -> Result<SecretValue, Error> {
        let id = self.secret_id(name);
        self.with_client(
            Some(&id),
            &|| format!("secret id {id}"),
            |client, settings| Box::pin(get_with(client, settings, &id, version)),
        )
        .await
    }

    async fn list_inner(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.with_client(None, &|| "listing secrets".into(), |client, settings| {
            Box::pin(self.list_with(client, settings, prefix))
        })
        .await
    }

    async fn health_inner(&self) -> Result<(), Error> {
        self.with_client(None, &|| "health check".into(), |client, settings| {
            Box::pin(health_with(client, settings))
        })
        .await
    }

    async fn list_with(
        &self,
        client: &Client,
        settings: &ClientSettings,
        prefix: &str,
    ) -> Result<Vec<String>, Error> {
        let base = join_prefix(&self.prefix, "");
        let wanted = join_prefix(&self.prefix, prefix);
        let mut names = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let mut request = client
                .list_secrets()
                .max_results(100)
                .set_next_token(next_token.take());
            if !wanted.is_empty() {
                // The server filter narrows the listing; the exact prefix
                // test below decides.
                request = request.filters(
                    Filter::builder()
                        .key(FilterNameStringType::Name)
                        .values(wanted.clone())
                        .build(),
                );
            }
            let page = request
                .send()
                .await
                .map_err(|e| sdk_error_of(e, "listing secrets", settings, client))?;
            for entry in page.secret_list.unwrap_or_default() {
                if let Some(name) = entry.name.as_deref()
                    && name.starts_with(&wanted)
                    && name.len() > base.len()
                {
                    names.push(name[base.len()..].to_owned());
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
}

/// A client of the operator commands, with what its errors need.
pub(crate) struct AdminClient<'a> {
    pub(crate) client: &'a Client,
    settings: &'a ClientSettings,
}

impl AdminClient<'_> {
    /// An SDK error as this crate's error, mapped as the provider's are
    /// (`what`: `secret id /app/db`); never keeps the raw response.
    pub(crate) fn error<E>(&self, err: SdkError<E, HttpResponse>, what: &str) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        sdk_error_of(err, what, self.settings, self.client)
    }
}

/// An SDK error as this crate's error, naming where the request went
/// (`client`'s region when no endpoint is configured).
fn sdk_error_of<E>(
    err: SdkError<E, HttpResponse>,
    what: &str,
    settings: &ClientSettings,
    client: &Client,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let region = client.config().region().map(|r| r.as_ref().to_owned());
    let target = settings.target(SECRETS_MANAGER.name, region.as_deref());
    map_sdk_error(err, what, settings, &target)
}

/// `GetSecretValue` of `id` with `client`.
async fn get_with(
    client: &Client,
    settings: &ClientSettings,
    id: &str,
    version: &Version,
) -> Result<SecretValue, Error> {
    // Only built when something goes wrong.
    let what = || match version {
        Version::Current => format!("secret id {id}"),
        v => format!("secret id {id}, {v}"),
    };
    let request = client.get_secret_value().secret_id(id);
    let request = match version {
        Version::Current => request,
        Version::Stage(stage) => request.version_stage(stage),
        Version::Id(version_id) => request.version_id(version_id),
    };
    let mut out = request
        .send()
        .await
        .map_err(|e| sdk_error_of(e, &what(), settings, client))?;
    let metadata = metadata_of(&mut out);
    secret_value(out.secret_string, out.secret_binary, metadata, what)
}

/// `ListSecrets` of one secret: the endpoint answers.
async fn health_with(client: &Client, settings: &ClientSettings) -> Result<(), Error> {
    client
        .list_secrets()
        .max_results(1)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk_error_of(e, "health check with ListSecrets", settings, client))
}

impl Provider for AwsProvider {
    fn name(&self) -> &str {
        "aws"
    }

    /// `BatchGetSecretValue`, 20 ids a call, falling back to single reads
    /// (see the [module docs](self#batches)).
    fn fetch_many<'a>(
        &'a self,
        names: &'a [&'a str],
    ) -> BoxFuture<'a, Vec<Result<SecretValue, Error>>> {
        Box::pin(self.fetch_many_inner(names))
    }

    fn fetch<'a>(
        &'a self,
        name: &'a str,
        version: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>> {
        Box::pin(self.fetch_inner(name, version))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(self.list_inner(prefix))
    }

    fn health(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.health_inner())
    }
}

/// What `GetSecretValue` says about the version it returned: the ARN, the
/// version id, its stages and its creation date (moved out of the answer,
/// which holds the value too).
fn metadata_of(out: &mut GetSecretValueOutput) -> SecretMetadata {
    metadata_from(
        out.arn.take(),
        out.version_id.take(),
        out.version_stages.take(),
        out.created_date.take(),
    )
}

/// Metadata from the fields AWS reports beside a value. A date outside
/// `SystemTime`'s range stays empty: it must not fail a read whose value
/// is good.
fn metadata_from(
    arn: Option<String>,
    version_id: Option<String>,
    stages: Option<Vec<String>>,
    created: Option<aws_smithy_types::DateTime>,
) -> SecretMetadata {
    let mut m = SecretMetadata::new().with_stages(stages.unwrap_or_default());
    if let Some(arn) = arn {
        m = m.with_id(arn);
    }
    if let Some(version_id) = version_id {
        m = m.with_version_id(version_id);
    }
    if let Some(created) = created.and_then(|d| SystemTime::try_from(d).ok()) {
        m = m.with_created(created);
    }
    m
}

/// The value AWS returned, as text or bytes, copied into a secret buffer
/// at its exact size; the SDK's buffer is wiped instead of left to the
/// allocator.
fn secret_value(
    text: Option<String>,
    binary: Option<Blob>,
    metadata: SecretMetadata,
    what: impl FnOnce() -> String,
) -> Result<SecretValue, Error> {
    match (text, binary) {
        (Some(mut text), blob) => {
            let value = SecretString::from(text.as_str());
            text.zeroize();
            if let Some(blob) = blob {
                blob.into_inner().zeroize();
            }
            Ok(SecretValue::new(SecretData::Text(value)).with_metadata(metadata))
        }
        (None, Some(blob)) => {
            let mut bytes = blob.into_inner();
            let value = SecretSlice::from(bytes.as_slice().to_vec());
            bytes.zeroize();
            Ok(SecretValue::new(SecretData::Binary(value)).with_metadata(metadata))
        }
        (None, None) => Err(Error::not_found(format!(
            "not found ({} has no value)",
            what()
        ))),
    }
}

pub(crate) fn join_prefix(prefix: &str, name: &str) -> String {
    if name.starts_with("arn:") {
        // A full ARN names one secret exactly: no prefix.
        return name.to_owned();
    }
    if prefix.is_empty() {
        name.to_owned()
    } else if prefix.ends_with('/') {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}/{name}")
    }
}

/// What the tests of the AWS modules share.
#[cfg(test)]
mod testing {
    use aws_sdk_secretsmanager::config::http::HttpResponse;
    use aws_sdk_secretsmanager::error::{ErrorMetadata, SdkError};
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
    use aws_smithy_types::body::SdkBody;

    /// Where the tests' requests would go, as errors name it.
    pub(super) const TARGET: &str = "AWS Secrets Manager at 127.0.0.1:4566";

    pub(super) fn raw(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_owned()))
    }

    /// A service error whose raw response holds what looks like a value.
    pub(super) fn service_error(
        code: &str,
        message: &str,
    ) -> SdkError<GetSecretValueError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(
            GetSecretValueError::generic(meta),
            raw(400, "raw response s3cr3t-body"),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::ErrorKind;

    fn config(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_vars(pairs.iter().copied())
    }

    #[test]
    fn metadata_is_taken_from_the_answer_and_a_missing_field_stays_empty() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
        let mut out = GetSecretValueOutput::builder()
            .arn(arn)
            .version_id("v-2")
            .version_stages("AWSCURRENT")
            .created_date(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .secret_string("s3cr3t-value")
            .build();
        let m = metadata_of(&mut out);
        assert_eq!(m.id(), Some(arn));
        assert_eq!(m.version_id(), Some("v-2"));
        assert_eq!(m.stages(), ["AWSCURRENT"]);
        assert_eq!(
            m.created(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert!(!format!("{m:?}").contains("s3cr3t"));
        assert_eq!(
            metadata_of(&mut GetSecretValueOutput::builder().build()),
            SecretMetadata::new()
        );
    }

    #[test]
    fn prefix_is_joined_with_one_slash() {
        assert_eq!(join_prefix("", "db/url"), "db/url");
        assert_eq!(join_prefix("/app", "db/url"), "/app/db/url");
        assert_eq!(join_prefix("/app/", "db/url"), "/app/db/url");
        assert_eq!(join_prefix("prod", ""), "prod/");
    }

    #[test]
    fn settings_are_read_from_the_config_with_aws_fallbacks() {
        let p = AwsProvider::from_settings(&config(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("SECRETS_PREFIX", "/app"),
            ("SECRETS_AWS_TIMEOUT_MS", "750"),
        ]))
        .unwrap();
        assert_eq!(p.settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            p.settings.endpoint.as_deref(),
            Some("http://127.0.0.1:4566")
        );
        assert_eq!(p.settings.timeout, Some(Duration::from_millis(750)));
        assert_eq!(p.settings.connect_timeout, Some(DEFAULT_CONNECT_TIMEOUT));
        assert_eq!(p.settings.max_attempts, Some(DEFAULT_MAX_ATTEMPTS));
        assert_eq!(p.secret_id("db"), "/app/db");

        let p = AwsProvider::from_settings(&config(&[
            ("AWS_REGION", "eu-west-1"),
            ("SECRETS_AWS_REGION", "us-east-2"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("SECRETS_AWS_ENDPOINT", "https://vpce.example"),
        ]))
        .unwrap();
        assert_eq!(p.settings.region.as_deref(), Some("us-east-2"));
        assert_eq!(p.settings.endpoint.as_deref(), Some("https://vpce.example"));
    }

    #[test]
    fn bad_numbers_are_errors_naming_the_variable() {
        for (var, value) in [
            ("SECRETS_AWS_TIMEOUT_MS", "3s"),
            ("SECRETS_AWS_TIMEOUT_MS", "0"),
            ("SECRETS_AWS_CONNECT_TIMEOUT_MS", "-1"),
            ("SECRETS_AWS_MAX_ATTEMPTS", "0"),
            ("SECRETS_AWS_MAX_ATTEMPTS", "11"),
            ("SECRETS_AWS_MAX_ATTEMPTS", "many"),
        ] {
            let e = AwsProvider::from_settings(&config(&[(var, value)])).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{var}={value}");
            assert!(e.to_string().contains(var), "{var}={value}: {e}");
        }
    }

    #[test]
    fn a_named_instance_reads_its_own_settings_first_and_errors_name_them() {
        let s = config(&[
            ("AWS_REGION", "eu-west-1"),
            ("SECRETS_DR_AWS_REGION", "eu-central-1"),
            ("SECRETS_PREFIX", "/app"),
            ("SECRETS_DR_PREFIX", "/app-dr"),
            ("SECRETS_AWS_TIMEOUT_MS", "750"),
        ]);
        let p = AwsProvider::from_settings(&s.for_instance("dr", "aws")).unwrap();
        assert_eq!(p.settings.region.as_deref(), Some("eu-central-1"));
        assert_eq!(p.secret_id("db"), "/app-dr/db");
        assert_eq!(p.settings.timeout, Some(Duration::from_millis(750)));
        let p = AwsProvider::from_settings(&s.for_instance("aws", "aws")).unwrap();
        assert_eq!(p.settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(p.secret_id("db"), "/app/db");

        for (var, value) in [
            ("SECRETS_DR_AWS_TIMEOUT_MS", "0"),
            ("SECRETS_DR_AWS_MAX_ATTEMPTS", "11"),
        ] {
            let s = config(&[(var, value)]);
            let e = AwsProvider::from_settings(&s.for_instance("dr", "aws")).unwrap_err();
            assert!(e.to_string().starts_with(var), "{var}={value}: {e}");
        }
    }

    #[test]
    fn endpoint_must_be_an_http_url_and_is_not_echoed() {
        let e = AwsProvider::from_settings(&config(&[(
            "SECRETS_AWS_ENDPOINT",
            "localhost:4566-s3cr3t",
        )]))
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("SECRETS_AWS_ENDPOINT"), "{e}");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
    }

    #[test]
    fn endpoints_are_validated_up_front_naming_the_variable_read() {
        for (url, why) in [
            ("http://127.0.0.1:99999", "between 1 and 65535"),
            ("http://127.0.0.1:0", "between 1 and 65535"),
            ("http://local host:4566", "space"),
            ("http://127.0.0.1:4566/x\u{7f}", "control"),
            ("http://s3cr3t:pw@127.0.0.1:4566", "credentials"),
            ("http://127.0.0.1:abc", "not a number"),
            ("mailto:s3cr3t", "http:// or https://"),
        ] {
            for var in [
                "SECRETS_AWS_ENDPOINT",
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                "AWS_ENDPOINT_URL",
            ] {
                let e = AwsProvider::from_settings(&config(&[(var, url)])).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Config, "{var}={url}");
                let shown = format!("{e} {e:?}");
                assert!(shown.starts_with(var), "{var}={url}: {e}");
                assert!(shown.contains(why), "{var}={url}: {e}");
                assert!(
                    !shown.contains("s3cr3t") && !shown.contains("127.0.0.1"),
                    "{shown}"
                );
                // Far from the ~900 characters of SDK request it used to be.
                assert!(e.to_string().len() < 160, "{e}");
            }
        }
        let s = config(&[("SECRETS_DR_AWS_ENDPOINT", "http://127.0.0.1:70000")]);
        let e = AwsProvider::from_settings(&s.for_instance("dr", "aws")).unwrap_err();
        assert!(e.to_string().starts_with("SECRETS_DR_AWS_ENDPOINT "), "{e}");
        let p = AwsProvider::from_settings(&config(&[(
            "SECRETS_AWS_ENDPOINT",
            "http://127.0.0.1:4566",
        )]))
        .unwrap();
        assert_eq!(p.target(), "AWS Secrets Manager at 127.0.0.1:4566");
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused_outside_local_deployments() {
        let prod = |endpoint: &str, allow: Option<&str>| {
            let mut pairs = vec![
                ("DEPLOYMENT_ENV", "production"),
                ("SECRETS_PROVIDERS", "aws"),
                ("SECRETS_AWS_ENDPOINT", endpoint),
            ];
            if let Some(a) = allow {
                pairs.push(("SECRETS_AWS_ALLOW_HTTP", a));
            }
            AwsProvider::from_settings(&config(&pairs))
        };
        let e = prod("http://secrets.internal:4566", None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("SECRETS_AWS_ALLOW_HTTP"), "{e}");
        assert!(prod("http://secrets.internal:4566", Some("true")).is_ok());
        assert!(prod("https://secrets.internal", None).is_ok());
        for local in [
            "http://127.0.0.1:4566",
            "http://localhost:4566/",
            "http://[::1]:4566",
        ] {
            assert!(prod(local, None).is_ok(), "{local}");
        }
        assert!(
            AwsProvider::from_settings(&config(&[(
                "SECRETS_AWS_ENDPOINT",
                "http://moto.internal:5000"
            )]))
            .is_ok(),
            "local deployments may use plain http"
        );
        let e = prod("http://user:pw@127.0.0.1:4566", None).unwrap_err();
        assert!(!e.to_string().contains("pw@"), "{e}");
    }

    #[test]
    fn a_full_arn_is_used_as_is() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf";
        assert_eq!(join_prefix("/app", arn), arn);
    }

    #[test]
    fn half_set_static_credentials_are_an_error_without_the_key() {
        let e =
            AwsProvider::from_settings(&config(&[("AWS_SECRET_ACCESS_KEY", "wJalr-s3cr3t-key")]))
                .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("AWS_ACCESS_KEY_ID"), "{e}");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert!(AwsProvider::from_settings(&config(&[("AWS_ACCESS_KEY_ID", "AKIA")])).is_err());
    }

    #[test]
    fn debug_shows_no_credentials() {
        let p = AwsProvider::from_settings(&config(&[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID"),
            ("AWS_SECRET_ACCESS_KEY", "wJalr-s3cr3t-key"),
            ("AWS_SESSION_TOKEN", "session-s3cr3t-token"),
        ]))
        .unwrap();
        let d = format!("{p:?}");
        assert!(d.contains("static_credentials: true"), "{d}");
        assert!(
            !d.contains("s3cr3t") && !d.contains("AKIAEXAMPLEKEYID"),
            "{d}"
        );
    }
}
