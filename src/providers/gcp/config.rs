//! Building a [`GcpProvider`] from the settings: the project, the
//! endpoint (and its plain-HTTP check), the id mapping, the timeouts and
//! the credentials.

use std::time::Duration;

use super::adc;
use super::auth::Auth;
use super::ids::{IdsError, SecretIds};
use super::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_ENDPOINT, DEFAULT_TIMEOUT, GcpProvider};
use crate::error::Error;
use crate::providers::endpoint::{is_loopback, parse_url};
use crate::settings::Settings;

impl GcpProvider {
    /// Builds the provider from the settings (see the [module docs](super)
    /// for the variables). No request is sent: the first read fetches a
    /// token and connects.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the variable
    /// when the project is missing or not a project id, the endpoint is not
    /// an `https://` URL (or `http://` on loopback), the separator or the
    /// prefix cannot be part of a secret id, a timeout is not a positive
    /// number of milliseconds, `SECRETS_GCP_AUTH` is unknown, or a
    /// credentials file cannot be read or used.
    pub fn from_settings(config: &Settings) -> Result<GcpProvider, Error> {
        let Some((project, project_var)) =
            config.first(&["SECRETS_GCP_PROJECT", "GOOGLE_CLOUD_PROJECT"])
        else {
            return Err(Error::config(
                "the 'gcp' provider needs a project: set SECRETS_GCP_PROJECT (or GOOGLE_CLOUD_PROJECT)",
            ));
        };
        check_project(project).map_err(|why| Error::config(format!("{project_var} {why}")))?;

        let (endpoint, endpoint_var) = config.first(&["SECRETS_GCP_ENDPOINT"]).map_or(
            (DEFAULT_ENDPOINT, "the default endpoint".into()),
            |(v, n)| (v, n),
        );
        let checked = parse_url(endpoint)
            .map_err(|why| Error::config(format!("{endpoint_var} is not a valid URL: {why}")))?;
        let loopback = is_loopback(&checked.host);
        if !checked.https && !loopback {
            return Err(Error::config(format!(
                "{endpoint_var} is plain http:// to a host that is not loopback: access tokens and \
                 secrets would cross the network unencrypted; use https:// (plain http:// is for a \
                 local emulator on 127.0.0.1 or localhost)"
            )));
        }

        let (separator, separator_var) = config
            .first(&["SECRETS_GCP_SEPARATOR"])
            .map_or(("_", "SECRETS_GCP_SEPARATOR".into()), |(v, n)| (v, n));
        let prefix = config.prefix_for(Some("SECRETS_GCP_PREFIX"));
        let ids = SecretIds::new(prefix, separator).map_err(|e| match e {
            IdsError::Separator(why) => Error::config(format!("{separator_var} is not usable: {why}")),
            IdsError::Prefix(why) => Error::config(format!(
                "the gcp prefix (SECRETS_GCP_PREFIX or SECRETS_PREFIX) is not usable in a secret id: {why}"
            )),
        })?;

        let connect_timeout = positive(
            config,
            "SECRETS_GCP_CONNECT_TIMEOUT_MS",
            DEFAULT_CONNECT_TIMEOUT,
        )?;
        let request_timeout = positive(config, "SECRETS_GCP_TIMEOUT_MS", DEFAULT_TIMEOUT)?;

        let source = adc::from_settings(config, !checked.https && loopback)?;

        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            // Secret Manager does not redirect; a redirect would carry the
            // token wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("secret-chain/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::config("cannot build the gcp HTTP client").with_source(e.without_url())
            })?;

        Ok(GcpProvider {
            client,
            base: endpoint.trim_end_matches('/').to_owned(),
            authority: checked.authority(),
            project: project.to_owned(),
            ids,
            auth: Auth::new(source),
            connect_timeout,
            request_timeout,
        })
    }
}

/// A duration setting in milliseconds that must not be zero.
fn positive(config: &Settings, name: &str, default: Duration) -> Result<Duration, Error> {
    let d = config.millis(name, default)?;
    if d.is_zero() {
        return Err(Error::config(format!("{name} must be greater than 0")));
    }
    Ok(d)
}

/// A project id (`my-project-123`, lowercase letters, digits and `-`), a
/// project number, or an old domain-scoped id (`example.com:my-project`).
fn check_project(project: &str) -> Result<(), &'static str> {
    let ok = !project.is_empty()
        && project.len() <= 100
        && project.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b':')
        });
    if ok {
        Ok(())
    } else {
        Err(
            "is not a Google Cloud project id (lowercase letters, digits and '-'; or a project number)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn build(pairs: &[(&str, &str)]) -> Result<GcpProvider, Error> {
        GcpProvider::from_settings(&Settings::from_vars(pairs.iter().copied()))
    }

    const EMULATOR: (&str, &str) = ("SECRETS_GCP_ENDPOINT", "http://127.0.0.1:9090");

    #[test]
    fn the_project_is_required_and_google_cloud_project_is_the_fallback() {
        let e = build(&[EMULATOR]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.to_string()
                .contains("SECRETS_GCP_PROJECT (or GOOGLE_CLOUD_PROJECT)"),
            "{e}"
        );
        let p = build(&[EMULATOR, ("GOOGLE_CLOUD_PROJECT", "fallback-1")]).unwrap();
        assert_eq!(p.project, "fallback-1");
        let p = build(&[
            EMULATOR,
            ("GOOGLE_CLOUD_PROJECT", "fallback-1"),
            ("SECRETS_GCP_PROJECT", "own-2"),
        ])
        .unwrap();
        assert_eq!(p.project, "own-2");
        let e = build(&[EMULATOR, ("SECRETS_GCP_PROJECT", "My Project/../x")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("SECRETS_GCP_PROJECT is not a Google Cloud project id"),
            "{e}"
        );
    }

    #[test]
    fn plain_http_is_only_for_loopback_and_bad_urls_are_refused() {
        let p = build(&[
            ("SECRETS_GCP_PROJECT", "p"),
            ("SECRETS_GCP_ENDPOINT", "http://localhost:9090/"),
        ])
        .unwrap();
        assert_eq!(p.base, "http://localhost:9090");
        assert!(format!("{:?}", p.auth).contains("emulator"), "{:?}", p.auth);
        let e = build(&[
            ("SECRETS_GCP_PROJECT", "p"),
            ("SECRETS_GCP_ENDPOINT", "http://gcp.example:80"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("plain http://"), "{e}");
        let e = build(&[
            ("SECRETS_GCP_PROJECT", "p"),
            ("SECRETS_GCP_ENDPOINT", "http://127.0.0.1:99999"),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("SECRETS_GCP_ENDPOINT is not a valid URL"),
            "{e}"
        );
        let p = build(&[("SECRETS_GCP_PROJECT", "p"), ("SECRETS_GCP_AUTH", "none")]).unwrap();
        assert_eq!(p.base, DEFAULT_ENDPOINT);
    }

    #[test]
    fn separator_prefix_and_timeouts_are_checked_naming_the_variable() {
        let p = build(&[
            EMULATOR,
            ("SECRETS_GCP_PROJECT", "p"),
            ("SECRETS_PREFIX", "app"),
        ])
        .unwrap();
        assert_eq!(p.secret_id("db/pw").unwrap(), "app_db_pw");
        let p = build(&[
            EMULATOR,
            ("SECRETS_GCP_PROJECT", "p"),
            ("SECRETS_PREFIX", "common"),
            ("SECRETS_GCP_PREFIX", "own"),
            ("SECRETS_GCP_SEPARATOR", "--"),
        ])
        .unwrap();
        assert_eq!(p.secret_id("db/pw").unwrap(), "own--db--pw");
        let e = build(&[
            EMULATOR,
            ("SECRETS_GCP_PROJECT", "p"),
            ("SECRETS_GCP_SEPARATOR", "."),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("SECRETS_GCP_SEPARATOR is not usable"),
            "{e}"
        );
        let e = build(&[
            EMULATOR,
            ("SECRETS_GCP_PROJECT", "p"),
            ("SECRETS_GCP_PREFIX", "my.app"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("SECRETS_GCP_PREFIX"), "{e}");
        let e = build(&[
            EMULATOR,
            ("SECRETS_GCP_PROJECT", "p"),
            ("SECRETS_GCP_TIMEOUT_MS", "0"),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("SECRETS_GCP_TIMEOUT_MS must be greater than 0"),
            "{e}"
        );
        let e = build(&[
            EMULATOR,
            ("SECRETS_GCP_PROJECT", "p"),
            ("SECRETS_GCP_CONNECT_TIMEOUT_MS", "x"),
        ])
        .unwrap_err();
        assert!(
            e.to_string().contains("SECRETS_GCP_CONNECT_TIMEOUT_MS"),
            "{e}"
        );
    }

    #[test]
    fn a_named_instance_reads_its_own_settings_first() {
        let s = Settings::from_vars([
            EMULATOR,
            ("SECRETS_GCP_PROJECT", "main-proj"),
            ("SECRETS_DR_GCP_PROJECT", "dr-proj"),
            ("SECRETS_DR_GCP_PREFIX", "dr"),
        ]);
        let dr = GcpProvider::from_settings(&s.for_instance("dr", "gcp")).unwrap();
        assert_eq!(dr.project, "dr-proj");
        assert_eq!(dr.secret_id("db").unwrap(), "dr_db");
        let main = GcpProvider::from_settings(&s.for_instance("gcp", "gcp")).unwrap();
        assert_eq!(main.project, "main-proj");
    }
}
