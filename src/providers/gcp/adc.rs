//! Finding Application Default Credentials, in Google's order:
//!
//! 1. the JSON file named by `GOOGLE_APPLICATION_CREDENTIALS`: a
//!    service-account key (`"type": "service_account"`) or a user's
//!    refresh token (`"type": "authorized_user"`);
//! 2. the file `gcloud auth application-default login` writes:
//!    `$CLOUDSDK_CONFIG/application_default_credentials.json`, else
//!    `$HOME/.config/gcloud/...` (`%APPDATA%\gcloud\...` on Windows);
//! 3. the metadata server of GCE, GKE and Cloud Run
//!    (`metadata.google.internal`, or `GCE_METADATA_HOST`).
//!
//! `SECRETS_GCP_AUTH` chooses: `auto` (the default) uses none for a plain
//! `http://` loopback endpoint (an emulator) and the order above
//! otherwise; `adc` uses the order above whatever the endpoint; `none`
//! sends no credentials (a proxy that adds them).
//!
//! Other credential types (`external_account` for workload identity
//! federation, `impersonated_service_account`) are refused with an error
//! that says so. Files are read when the provider is built; their contents
//! never appear in an error.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::jwt::ServiceAccount;
use crate::error::{Error, describe_json_error};
use crate::providers::endpoint::{is_loopback, parse_url};
use crate::settings::Settings;

/// Google's OAuth token endpoint, for key files that do not name one.
pub(super) const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The metadata server's host on GCP.
const METADATA_HOST: &str = "metadata.google.internal";
/// The largest credentials file read (a key file is about 2.3 KiB).
const MAX_FILE_BYTES: u64 = 64 << 10;

/// Where access tokens come from.
pub(super) enum Credentials {
    /// No token is sent.
    None,
    /// A service-account key: signed JWTs exchanged at `token_uri`.
    ServiceAccount {
        /// Boxed: the key pair is large next to the other variants.
        account: Box<ServiceAccount>,
        token_uri: String,
    },
    /// A user's refresh token (`gcloud auth application-default login`).
    AuthorizedUser {
        client_id: String,
        client_secret: SecretString,
        refresh_token: SecretString,
        token_uri: String,
    },
    /// The metadata server at `base` (`http://host[:port]`).
    Metadata { base: String },
}

/// The credentials and where they were found (for `Debug` and errors:
/// `service account app@p.iam.gserviceaccount.com from
/// GOOGLE_APPLICATION_CREDENTIALS`).
pub(super) struct Source {
    pub(super) credentials: Credentials,
    pub(super) origin: String,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

/// The fields of a credentials file that this crate reads. Secrets are
/// read straight into [`SecretString`]s.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<SecretString>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    refresh_token: Option<SecretString>,
}

/// The credentials the settings ask for; `emulator` is whether the
/// endpoint is plain `http://` on loopback.
///
/// # Errors
///
/// A configuration error naming the setting or the file when
/// `SECRETS_GCP_AUTH` is not `auto`, `adc` or `none`, or a credentials
/// file cannot be read, is not valid JSON, lacks a field, holds a key that
/// cannot be used, or is of a type this crate does not support.
pub(super) fn from_settings(config: &Settings, emulator: bool) -> Result<Source, Error> {
    let mode = config
        .var("SECRETS_GCP_AUTH")
        .map_or_else(|| "auto".to_owned(), str::to_ascii_lowercase);
    match mode.as_str() {
        "none" => {
            return Ok(Source {
                credentials: Credentials::None,
                origin: "none (SECRETS_GCP_AUTH=none)".to_owned(),
            });
        }
        "auto" if emulator => {
            return Ok(Source {
                credentials: Credentials::None,
                origin: "none (a loopback emulator)".to_owned(),
            });
        }
        "auto" | "adc" => {}
        _ => {
            return Err(Error::config("SECRETS_GCP_AUTH must be auto, adc or none"));
        }
    }
    if let Some((path, var)) = config.first(&["GOOGLE_APPLICATION_CREDENTIALS"]) {
        return read_file(Path::new(path), &format!("{var} ('{path}')"));
    }
    if let Some(path) = gcloud_file(config)
        && path.is_file()
    {
        let label = format!("the gcloud ADC file '{}'", path.display());
        return read_file(&path, &label);
    }
    let host = config
        .var("GCE_METADATA_HOST")
        .unwrap_or(METADATA_HOST)
        .to_owned();
    let base = format!("http://{host}");
    parse_url(&base).map_err(|why| {
        Error::config(format!(
            "GCE_METADATA_HOST is not a host or host:port: {why}"
        ))
    })?;
    Ok(Source {
        credentials: Credentials::Metadata { base },
        origin: format!("the metadata server at {host}"),
    })
}

/// Where gcloud keeps the ADC file, from `CLOUDSDK_CONFIG`, `APPDATA`
/// (Windows) or `HOME`.
fn gcloud_file(config: &Settings) -> Option<PathBuf> {
    const FILE: &str = "application_default_credentials.json";
    if let Some(dir) = config.var("CLOUDSDK_CONFIG") {
        return Some(Path::new(dir).join(FILE));
    }
    if cfg!(windows) {
        return config
            .var("APPDATA")
            .map(|d| Path::new(d).join("gcloud").join(FILE));
    }
    config
        .var("HOME")
        .map(|h| Path::new(h).join(".config").join("gcloud").join(FILE))
}

/// Reads the credentials file at `path` (`label` names it in errors).
fn read_file(path: &Path, label: &str) -> Result<Source, Error> {
    let io = |e: std::io::Error| {
        Error::config(format!("cannot read the Google credentials file {label}")).with_source(e)
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Error::config(format!(
            "the Google credentials file {label} is larger than {} KiB; it is not a key file",
            MAX_FILE_BYTES >> 10
        )));
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(io)?);
    let file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| {
        Error::config(format!(
            "the Google credentials file {label} is not a credentials file: {}",
            describe_json_error(&e)
        ))
    })?;
    parse_key_file(file, label)
}

fn parse_key_file(file: KeyFile, label: &str) -> Result<Source, Error> {
    let missing = |field: &str| {
        Error::config(format!(
            "the Google credentials file {label} has no '{field}'"
        ))
    };
    let token_uri = match file.token_uri {
        Some(uri) => {
            check_token_uri(&uri, label)?;
            uri
        }
        None => DEFAULT_TOKEN_URI.to_owned(),
    };
    match file.kind.as_deref() {
        Some("service_account") => {
            let email = file.client_email.ok_or_else(|| missing("client_email"))?;
            let key = file.private_key.ok_or_else(|| missing("private_key"))?;
            let account = ServiceAccount::new(email, file.private_key_id, &key).map_err(|why| {
                Error::config(format!("the Google credentials file {label}: {why}"))
            })?;
            let origin = format!("service account {} from {label}", account.email);
            let account = Box::new(account);
            Ok(Source {
                credentials: Credentials::ServiceAccount { account, token_uri },
                origin,
            })
        }
        Some("authorized_user") => Ok(Source {
            credentials: Credentials::AuthorizedUser {
                client_id: file.client_id.ok_or_else(|| missing("client_id"))?,
                client_secret: file.client_secret.ok_or_else(|| missing("client_secret"))?,
                refresh_token: file.refresh_token.ok_or_else(|| missing("refresh_token"))?,
                token_uri,
            },
            origin: format!("the user credentials of {label}"),
        }),
        Some(
            other @ ("external_account"
            | "impersonated_service_account"
            | "external_account_authorized_user"),
        ) => Err(Error::config(format!(
            "the Google credentials file {label} is of type '{other}', which secret-chain does not support \
                 (use a service-account key, gcloud user credentials or the metadata server)"
        ))),
        Some(_) => Err(Error::config(format!(
            "the Google credentials file {label} is of a type secret-chain does not know \
             (expected service_account or authorized_user)"
        ))),
        None => Err(missing("type")),
    }
}

/// A token endpoint must be `https://`, or `http://` on loopback (a test
/// double): a refresh token or a signed assertion must not cross the
/// network unencrypted.
fn check_token_uri(uri: &str, label: &str) -> Result<(), Error> {
    let endpoint = parse_url(uri).map_err(|why| {
        Error::config(format!(
            "the token_uri of the Google credentials file {label} is not a URL: {why}"
        ))
    })?;
    if !endpoint.https && !is_loopback(&endpoint.host) {
        return Err(Error::config(format!(
            "the token_uri of the Google credentials file {label} is plain http:// to a host that is not loopback"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::error::ErrorKind;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_vars(pairs.iter().copied())
    }

    fn file_with(json: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(json.as_bytes()).unwrap();
        f
    }

    #[test]
    fn an_emulator_needs_no_credentials_unless_asked() {
        let s = settings(&[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")]);
        let src = from_settings(&s, true).unwrap();
        assert!(matches!(src.credentials, Credentials::None));
        let s = settings(&[("SECRETS_GCP_AUTH", "adc"), ("HOME", "/nonexistent")]);
        let src = from_settings(&s, true).unwrap();
        assert!(
            matches!(src.credentials, Credentials::Metadata { ref base } if base == "http://metadata.google.internal")
        );
        let s = settings(&[("SECRETS_GCP_AUTH", "none")]);
        assert!(matches!(
            from_settings(&s, false).unwrap().credentials,
            Credentials::None
        ));
        let e = from_settings(&settings(&[("SECRETS_GCP_AUTH", "s3cr3t")]), false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
    }

    #[test]
    fn the_metadata_host_can_be_moved_and_the_gcloud_file_is_found() {
        let s = settings(&[
            ("GCE_METADATA_HOST", "127.0.0.1:8099"),
            ("HOME", "/nonexistent"),
        ]);
        let src = from_settings(&s, false).unwrap();
        assert!(
            matches!(src.credentials, Credentials::Metadata { ref base } if base == "http://127.0.0.1:8099")
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("application_default_credentials.json"),
            r#"{"type":"authorized_user","client_id":"cid","client_secret":"cs-s3cr3t","refresh_token":"rt-s3cr3t"}"#,
        )
        .unwrap();
        let s = settings(&[("CLOUDSDK_CONFIG", dir.path().to_str().unwrap())]);
        let src = from_settings(&s, false).unwrap();
        assert!(
            matches!(src.credentials, Credentials::AuthorizedUser { ref token_uri, .. } if token_uri == DEFAULT_TOKEN_URI)
        );
        assert!(src.origin.contains("gcloud ADC file"), "{}", src.origin);
        assert!(!format!("{src:?}").contains("s3cr3t"));
    }

    #[test]
    fn bad_credentials_files_are_config_errors_that_never_quote_them() {
        for (json, why) in [
            (
                r#"{"type":"authorized_user","client_id":"c","client_secret":"s3cr3t"}"#,
                "no 'refresh_token'",
            ),
            (
                r#"{"type":"service_account","client_email":"a@b","private_key":"s3cr3t"}"#,
                "not a PEM",
            ),
            (
                r#"{"type":"service_account","private_key":"s3cr3t"}"#,
                "no 'client_email'",
            ),
            (
                r#"{"type":"external_account","audience":"s3cr3t"}"#,
                "does not support",
            ),
            (r#"{"type":"s3cr3t"}"#, "does not know"),
            (r#"{"private_key":"s3cr3t"}"#, "no 'type'"),
            (
                r#"{"type":"authorized_user","refresh_token":"s3cr3t""#,
                "ends early",
            ),
            (r#"{"type":["s3cr3t"]}"#, "expected shape"),
            (
                r#"{"type":"authorized_user","client_id":"c","client_secret":"x","refresh_token":"s3cr3t","token_uri":"http://tokens.example/t"}"#,
                "plain http://",
            ),
        ] {
            let f = file_with(json);
            let s = settings(&[("GOOGLE_APPLICATION_CREDENTIALS", f.path().to_str().unwrap())]);
            let e = from_settings(&s, false).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{json}");
            let shown = format!("{e} {e:?}");
            assert!(shown.contains(why), "{json}: {e}");
            assert!(shown.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{e}");
            assert!(!shown.contains("s3cr3t"), "{shown}");
        }
        let s = settings(&[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")]);
        let e = from_settings(&s, false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read the Google credentials file"),
            "{e}"
        );
    }
}
