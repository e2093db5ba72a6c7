//! The agent's configuration file: every key of the AWS Secrets Manager
//! Agent's TOML (version 2.1.0) with its range and default, and ours on
//! top (`providers`, `unix_socket`, `prefetch`, `manifest`).
//!
//! A file the AWS agent accepts starts ours unchanged. Like the AWS agent
//! (which reads it through the `config` crate), numbers may be written as
//! TOML integers or strings (`http_port = 2773` or `"2773"`) and booleans
//! as booleans or the strings `"true"` / `"false"`. Any other key is
//! refused, naming it and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secret_chain::Error;
use toml::Value;

use crate::manifest::line_of;

/// The AWS agent's log levels (`log_level`, any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    None,
}

/// The agent's settings, defaults applied and ranges checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AgentConfig {
    pub(crate) log_level: LogLevel,
    pub(crate) log_to_file: bool,
    pub(crate) http_port: u16,
    pub(crate) region: Option<String>,
    /// `ttl_seconds`; zero: no cache.
    pub(crate) ttl: Duration,
    pub(crate) cache_size: usize,
    pub(crate) max_conn: usize,
    pub(crate) path_prefix: String,
    pub(crate) ssrf_headers: Vec<String>,
    pub(crate) ssrf_env_variables: Vec<String>,
    pub(crate) validate_credentials: bool,
    pub(crate) ignore_transient_errors: bool,
    pub(crate) credentials_file_path: Option<PathBuf>,
    /// Ours: the chain, as `SECRETS_PROVIDERS` entries (`aws`, `dr=vault`).
    pub(crate) providers: Option<Vec<String>>,
    /// Ours: a Unix socket to serve on (mode 0600).
    pub(crate) unix_socket: Option<PathBuf>,
    /// Ours: `false` serves the Unix socket alone (default: TCP too).
    pub(crate) http: bool,
    /// Ours: paths read into the cache at start.
    pub(crate) prefetch: Vec<String>,
    /// Ours: a manifest whose paths are read into the cache at start.
    pub(crate) manifest: Option<PathBuf>,
    /// Whether `ttl_seconds` / `ignore_transient_errors` were written in
    /// the file (otherwise `SECRETS_CACHE_TTL` / `SECRETS_MAX_STALE` may set them).
    pub(crate) ttl_set: bool,
    pub(crate) ignore_transient_set: bool,
}

pub(crate) const DEFAULT_PORT: u16 = 2773;

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            log_level: LogLevel::Info,
            log_to_file: true,
            http_port: DEFAULT_PORT,
            region: None,
            ttl: Duration::from_secs(300),
            cache_size: 1000,
            max_conn: 800,
            path_prefix: "/v1/".into(),
            ssrf_headers: vec![
                "X-Aws-Parameters-Secrets-Token".into(),
                "X-Vault-Token".into(),
            ],
            ssrf_env_variables: vec![
                "AWS_TOKEN".into(),
                "AWS_SESSION_TOKEN".into(),
                "AWS_CONTAINER_AUTHORIZATION_TOKEN".into(),
            ],
            validate_credentials: true,
            ignore_transient_errors: true,
            credentials_file_path: None,
            providers: None,
            unix_socket: None,
            http: true,
            prefetch: Vec::new(),
            manifest: None,
            ttl_set: false,
            ignore_transient_set: false,
        }
    }
}

impl AgentConfig {
    /// Reads and checks `file`.
    ///
    /// # Errors
    ///
    /// A configuration error naming the file, the line and the key.
    pub(crate) fn read(file: &Path) -> Result<AgentConfig, Error> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Error::config(format!(
                "cannot read the agent config {}: {e}",
                file.display()
            ))
        })?;
        AgentConfig::parse(file, &text)
    }

    /// Parses `text`; `file` names it in errors.
    pub(crate) fn parse(file: &Path, text: &str) -> Result<AgentConfig, Error> {
        let table: toml::Spanned<BTreeMap<toml::Spanned<String>, toml::Spanned<Value>>> =
            toml::from_str(text).map_err(|e| {
                let line = e.span().map(|s| line_of(text, s.start));
                let place = match line {
                    Some(l) => format!("{}:{l}", file.display()),
                    None => file.display().to_string(),
                };
                Error::config(format!("{place}: {}", e.message().trim()))
            })?;
        let mut c = AgentConfig::default();
        for (key, value) in table.into_inner() {
            let line = line_of(text, key.span().start);
            let key = key.into_inner();
            let at = Place {
                file,
                line,
                key: &key,
            };
            let value = value.into_inner();
            match key.as_str() {
                "log_level" => c.log_level = log_level(&at, &value)?,
                "log_to_file" => c.log_to_file = boolean(&at, &value)?,
                "http_port" => {
                    let port = number(&at, &value, 1024, 65535, "an HTTP port from 1024 to 65535")?;
                    c.http_port = port as u16;
                }
                "region" => c.region = Some(string(&at, &value)?),
                "ttl_seconds" => {
                    let ttl = number(&at, &value, 0, 3600, "a TTL from 0 to 3600 seconds")?;
                    c.ttl = Duration::from_secs(ttl);
                    c.ttl_set = true;
                }
                "cache_size" => {
                    c.cache_size =
                        number(&at, &value, 1, 1000, "a cache size from 1 to 1000")? as usize;
                }
                "max_conn" => {
                    c.max_conn =
                        number(&at, &value, 1, 1000, "a connection limit from 1 to 1000")? as usize;
                }
                "path_prefix" => {
                    let prefix = string(&at, &value)?;
                    if !prefix.starts_with('/') {
                        return Err(at.bad("must begin with /"));
                    }
                    c.path_prefix = prefix;
                }
                "ssrf_headers" => c.ssrf_headers = nonempty_strings(&at, &value)?,
                "ssrf_env_variables" => c.ssrf_env_variables = nonempty_strings(&at, &value)?,
                "validate_credentials" => c.validate_credentials = boolean(&at, &value)?,
                "ignore_transient_errors" => {
                    c.ignore_transient_errors = boolean(&at, &value)?;
                    c.ignore_transient_set = true;
                }
                "credentials_file_path" => {
                    c.credentials_file_path = Some(PathBuf::from(string(&at, &value)?));
                }
                "providers" => c.providers = Some(nonempty_strings(&at, &value)?),
                "unix_socket" => c.unix_socket = Some(PathBuf::from(string(&at, &value)?)),
                "http" => c.http = boolean(&at, &value)?,
                "prefetch" => c.prefetch = strings(&at, &value)?,
                "manifest" => c.manifest = Some(PathBuf::from(string(&at, &value)?)),
                _ => {
                    return Err(Error::config(format!(
                        "{}:{line}: unknown key `{key}` (the agent reads the AWS agent's keys: {}; and its own: {})",
                        file.display(),
                        AWS_KEYS.join(", "),
                        OWN_KEYS.join(", ")
                    )));
                }
            }
        }
        if !c.http && c.unix_socket.is_none() {
            return Err(Error::config(format!(
                "{}: `http = false` needs a `unix_socket` to serve on",
                file.display()
            )));
        }
        // Relative paths of ours are relative to the config file.
        let base = file.parent().unwrap_or(Path::new(""));
        if let Some(m) = &c.manifest
            && m.is_relative()
        {
            c.manifest = Some(base.join(m));
        }
        Ok(c)
    }
}

const AWS_KEYS: &[&str] = &[
    "log_level",
    "log_to_file",
    "http_port",
    "region",
    "ttl_seconds",
    "cache_size",
    "max_conn",
    "path_prefix",
    "ssrf_headers",
    "ssrf_env_variables",
    "validate_credentials",
    "ignore_transient_errors",
    "credentials_file_path",
];
const OWN_KEYS: &[&str] = &["providers", "unix_socket", "http", "prefetch", "manifest"];

/// Where a value was read: what its errors name (never the value).
struct Place<'a> {
    file: &'a Path,
    line: usize,
    key: &'a str,
}

impl Place<'_> {
    fn bad(&self, what: &str) -> Error {
        Error::config(format!(
            "{}:{}: key `{}` {what}",
            self.file.display(),
            self.line,
            self.key
        ))
    }
}

fn string(at: &Place<'_>, v: &Value) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(at.bad("must be a string")),
    }
}

fn boolean(at: &Place<'_>, v: &Value) -> Result<bool, Error> {
    match v {
        Value::Boolean(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(at.bad("must be true or false")),
    }
}

fn number(at: &Place<'_>, v: &Value, min: u64, max: u64, what: &str) -> Result<u64, Error> {
    let n = match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(at.bad(&format!("must be {what}"))),
    }
}

fn log_level(at: &Place<'_>, v: &Value) -> Result<LogLevel, Error> {
    let s = string(at, v)?;
    Ok(match s.to_ascii_lowercase().as_str() {
        "debug" => LogLevel::Debug,
        "info" => LogLevel::Info,
        "warn" => LogLevel::Warn,
        "error" => LogLevel::Error,
        "none" => LogLevel::None,
        _ => return Err(at.bad("must be DEBUG, INFO, WARN, ERROR or NONE")),
    })
}

fn strings(at: &Place<'_>, v: &Value) -> Result<Vec<String>, Error> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                _ => Err(at.bad("must be a list of strings")),
            })
            .collect(),
        _ => Err(at.bad("must be a list of strings")),
    }
}

fn nonempty_strings(at: &Place<'_>, v: &Value) -> Result<Vec<String>, Error> {
    let list = strings(at, v)?;
    if list.is_empty() {
        return Err(at.bad("must not be empty"));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AgentConfig, Error> {
        AgentConfig::parse(Path::new("/etc/agent.toml"), text)
    }

    #[test]
    fn an_empty_file_gives_the_aws_agents_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, AgentConfig::default());
        assert_eq!(c.http_port, 2773);
        assert_eq!(c.ttl, Duration::from_secs(300));
        assert_eq!(c.cache_size, 1000);
        assert_eq!(c.max_conn, 800);
        assert_eq!(c.path_prefix, "/v1/");
        assert!(c.log_to_file && c.validate_credentials && c.ignore_transient_errors);
    }

    #[test]
    fn numbers_and_booleans_may_be_strings_as_the_aws_agent_reads_them() {
        let c = parse(
            "log_level = \"debug\"\nhttp_port = \"2775\"\nttl_seconds = 0\ncache_size = \"10\"\nmax_conn = 5\nlog_to_file = \"false\"\nvalidate_credentials = false\nregion = \"eu-west-1\"\npath_prefix = \"/secrets/\"\nssrf_headers = [\"X-Token\"]\nssrf_env_variables = [\"MY_TOKEN\"]\n",
        )
        .unwrap();
        assert_eq!(c.log_level, LogLevel::Debug);
        assert_eq!(c.http_port, 2775);
        assert_eq!(c.ttl, Duration::ZERO);
        assert!(c.ttl_set);
        assert_eq!((c.cache_size, c.max_conn), (10, 5));
        assert!(!c.log_to_file && !c.validate_credentials);
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.ssrf_headers, ["X-Token"]);
        assert_eq!(c.ssrf_env_variables, ["MY_TOKEN"]);
    }

    #[test]
    fn out_of_range_values_name_the_file_line_and_key() {
        for (text, key) in [
            ("http_port = 80", "http_port"),
            ("http_port = 70000", "http_port"),
            ("ttl_seconds = 3601", "ttl_seconds"),
            ("cache_size = 0", "cache_size"),
            ("cache_size = 1001", "cache_size"),
            ("max_conn = 0", "max_conn"),
            ("\nmax_conn = \"many\"", "max_conn"),
            ("log_level = \"TRACE\"", "log_level"),
            ("path_prefix = \"v1\"", "path_prefix"),
            ("ssrf_headers = []", "ssrf_headers"),
            ("ssrf_env_variables = []", "ssrf_env_variables"),
            ("log_to_file = 1", "log_to_file"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains("/etc/agent.toml:"), "{e}");
            assert!(e.contains(&format!("`{key}`")), "{text}: {e}");
        }
        let e = parse("\nmax_conn = \"many\"").unwrap_err().to_string();
        assert!(e.contains("agent.toml:2"), "{e}");
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let e = parse("http_port = 2773\nttl = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("agent.toml:2: unknown key `ttl`"), "{e}");
    }

    #[test]
    fn our_own_keys_come_on_top() {
        let c = parse(
            "providers = [\"aws\", \"dr=vault\", \"env\"]\nunix_socket = \"/run/a.sock\"\nprefetch = [\"db/url\"]\nmanifest = \"secrets.toml\"\n",
        )
        .unwrap();
        assert_eq!(c.providers.unwrap(), ["aws", "dr=vault", "env"]);
        assert_eq!(c.unix_socket.unwrap(), Path::new("/run/a.sock"));
        assert_eq!(c.prefetch, ["db/url"]);
        assert_eq!(c.manifest.unwrap(), Path::new("/etc/secrets.toml"));
        let e = parse("http = false").unwrap_err().to_string();
        assert!(e.contains("unix_socket"), "{e}");
    }

    #[test]
    fn the_kubernetes_sidecars_config_file_is_valid() {
        let yaml = include_str!("../../../deploy/kubernetes/agent-sidecar.yaml");
        let block: String = yaml
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("agent.toml: |"))
            .skip(1)
            .take_while(|l| l.starts_with("    "))
            .map(|l| format!("{}\n", l.trim_start()))
            .collect();
        let c = parse(&block).unwrap();
        assert_eq!(c.providers.unwrap(), ["aws", "dr=vault"]);
        assert_eq!(c.ssrf_env_variables, ["AWS_TOKEN"]);
        assert!(c.unix_socket.is_some());
    }

    #[test]
    fn broken_toml_names_the_line_and_not_the_text() {
        let e = parse("http_port = 2773\ntoken = \"hunter2-secret\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("agent.toml:2"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }
}
