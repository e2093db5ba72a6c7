//! The environment provider: process environment variables and a `.env` file.
//!
//! A secret path maps to a variable name by turning `/`, `-` and `.` into
//! `_` and upper-casing: `database/url` is `DATABASE_URL`
//! ([`env_var_name`]). The process environment wins over the file.
//!
//! A value's metadata id says where it came from: the variable's name
//! (`DATABASE_URL`) for the environment, `{file}:{name}`
//! (`.env:DATABASE_URL`) for the `.env` file.
//!
//! The `.env` file is parsed with dotenvy into a map; the process
//! environment is never modified. A malformed line is reported with the file
//! name and the line number, never with the line's content (which may hold
//! a secret).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, ErrorKind};
use crate::providers::{BoxFuture, Provider, SecretData, SecretMetadata, SecretValue, Version};

/// The default `.env` file name, looked up in the working directory.
pub const DEFAULT_ENV_FILE: &str = ".env";

/// Maps a secret path to an environment variable name:
/// `/`, `-` and `.` become `_`, then everything is upper-cased.
///
/// ```
/// assert_eq!(secret_chain::providers::env::env_var_name("database/url"), "DATABASE_URL");
/// assert_eq!(secret_chain::providers::env::env_var_name("stripe.api-key"), "STRIPE_API_KEY");
/// ```
pub fn env_var_name(path: &str) -> String {
    path.chars()
        .map(|c| match c {
            '/' | '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// Reads secrets from environment variables and a `.env` file.
///
/// Build it with [`EnvProvider::from_vars`] (an injected environment, for
/// tests and for callers that manage their own) or
/// [`EnvProvider::from_process_env`], then add a file with
/// [`EnvProvider::with_env_file`].
pub struct EnvProvider {
    vars: HashMap<String, SecretString>,
    file: HashMap<String, SecretString>,
    file_path: Option<PathBuf>,
}

impl fmt::Debug for EnvProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvProvider")
            .field("vars", &self.vars.len())
            .field("file", &self.file_path)
            .field("file_vars", &self.file.len())
            .finish()
    }
}

impl EnvProvider {
    /// A provider over the given variables (name, value), with no file.
    pub fn from_vars<I, K, V>(vars: I) -> EnvProvider
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        EnvProvider {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), SecretString::from(v.into())))
                .collect(),
            file: HashMap::new(),
            file_path: None,
        }
    }

    /// A snapshot of the process environment (variables that are not valid
    /// UTF-8 are skipped), plus the `.env` file that `SECRETS_ENV_FILE`
    /// names, or `.env` in the working directory if it exists.
    ///
    /// # Errors
    ///
    /// A configuration error if `SECRETS_ENV_FILE` names a file that does not
    /// exist or if the file is malformed.
    pub fn from_process_env() -> Result<EnvProvider, Error> {
        let vars: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let file = vars.get("SECRETS_ENV_FILE").cloned();
        EnvProvider::from_vars(vars).with_configured_file(file.as_deref(), Path::new("."))
    }

    /// Adds the file named by a `SECRETS_ENV_FILE` setting (`configured`),
    /// or, when it is `None` or empty, `.env` in `dir` if that exists.
    ///
    /// # Errors
    ///
    /// A configuration error naming `SECRETS_ENV_FILE` when the named file
    /// does not exist; a configuration error with file and line number when
    /// the file is malformed.
    pub fn with_configured_file(self, configured: Option<&str>, dir: &Path) -> Result<Self, Error> {
        match configured.filter(|s| !s.trim().is_empty()) {
            Some(path) => {
                let p = Path::new(path);
                if !p.exists() {
                    return Err(Error::config(format!(
                        "SECRETS_ENV_FILE names '{}', which does not exist",
                        p.display()
                    )));
                }
                self.with_env_file(p)
            }
            None => {
                let default = dir.join(DEFAULT_ENV_FILE);
                if default.is_file() {
                    self.with_env_file(&default)
                } else {
                    Ok(self)
                }
            }
        }
    }

    /// Loads a `.env` file into the provider's map (process variables still
    /// win). The process environment is not modified.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] naming the file and line for a malformed line,
    /// [`ErrorKind::Io`] when it cannot be read.
    pub fn with_env_file(mut self, path: &Path) -> Result<Self, Error> {
        self.file = parse_env_file(path)?;
        self.file_path = Some(path.to_path_buf());
        Ok(self)
    }

    /// The `.env` file in use, if any.
    pub fn env_file(&self) -> Option<&Path> {
        self.file_path.as_deref()
    }

    /// The value of `var` and its metadata: the id is the variable's name,
    /// or `{file}:{name}` when the `.env` file answered.
    fn lookup(&self, var: &str) -> Option<(&SecretString, SecretMetadata)> {
        if let Some(v) = self.vars.get(var) {
            return Some((v, SecretMetadata::new().with_id(var)));
        }
        let v = self.file.get(var)?;
        let id = match &self.file_path {
            Some(file) => format!("{}:{var}", file.display()),
            None => var.to_owned(),
        };
        Some((v, SecretMetadata::new().with_id(id)))
    }

    async fn fetch_inner(&self, name: &str, version: &Version) -> Result<SecretValue, Error> {
        let var = env_var_name(name);
        if *version != Version::Current {
            return Err(Error::not_found(format!(
                "not found ({var}; the env provider has no {version})"
            )));
        }
        match self.lookup(&var) {
            Some((v, metadata)) => {
                let value = SecretString::from(v.expose_secret());
                Ok(SecretValue::new(SecretData::Text(value)).with_metadata(metadata))
            }
            None => Err(Error::not_found(format!("not found ({var})"))),
        }
    }

    fn list_inner(&self, prefix: &str) -> Vec<String> {
        let var_prefix = env_var_name(prefix);
        let to_path = |var: &str| -> String {
            let rest = &var[var_prefix.len()..];
            format!("{prefix}{}", rest.to_ascii_lowercase())
        };
        let mut names: Vec<String> = Vec::new();
        // The process environment is full of non-secrets (PATH, HOME...):
        // with an empty prefix only the .env file's names are listed.
        if !prefix.is_empty() {
            names.extend(
                self.vars
                    .keys()
                    .filter(|k| k.starts_with(&var_prefix) && k.len() > var_prefix.len())
                    .map(|k| to_path(k)),
            );
        }
        names.extend(
            self.file
                .keys()
                .filter(|k| k.starts_with(&var_prefix) && k.len() > var_prefix.len())
                .map(|k| to_path(k)),
        );
        names.sort();
        names.dedup();
        names
    }
}

impl Provider for EnvProvider {
    fn name(&self) -> &str {
        "env"
    }

    fn fetch<'a>(
        &'a self,
        name: &'a str,
        version: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>> {
        Box::pin(self.fetch_inner(name, version))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async move { Ok(self.list_inner(prefix)) })
    }

    fn health(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// Parses a `.env` file into a map with dotenvy.
///
/// # Errors
///
/// [`ErrorKind::Config`] with the file name and the line number of the first
/// malformed line, never the line's content; [`ErrorKind::Io`] when the file
/// cannot be read.
pub fn parse_env_file(path: &Path) -> Result<HashMap<String, SecretString>, Error> {
    let content = std::fs::read(path).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot read env file '{}'", path.display()),
        )
        .with_source(e)
    })?;
    parse_env_bytes(&content, &path.display().to_string())
}

/// Parses `.env` content; `origin` names it in errors.
pub(crate) fn parse_env_bytes(
    content: &[u8],
    origin: &str,
) -> Result<HashMap<String, SecretString>, Error> {
    let mut map = HashMap::new();
    for item in dotenvy::from_read_iter(content) {
        match item {
            Ok((k, v)) => {
                map.insert(k, SecretString::from(v));
            }
            Err(dotenvy::Error::LineParse(line, _)) => {
                let line_no = line_number_of(content, &line);
                // dotenvy's error holds the whole line: never let it escape.
                drop(line);
                let at = match line_no {
                    Some(n) => format!("line {n}"),
                    None => "a line".to_owned(),
                };
                return Err(Error::config(format!(
                    "malformed {at} in env file '{origin}' (expected KEY=VALUE; the line is not shown because it may hold a secret)"
                )));
            }
            Err(dotenvy::Error::Io(e)) => {
                let what = if e.kind() == std::io::ErrorKind::InvalidData {
                    "is not valid UTF-8"
                } else {
                    "cannot be read"
                };
                return Err(
                    Error::new(ErrorKind::Io, format!("env file '{origin}' {what}"))
                        .with_source(std::io::Error::new(e.kind(), what)),
                );
            }
            Err(_) => {
                return Err(Error::config(format!(
                    "env file '{origin}' could not be parsed (a substitution failed)"
                )));
            }
        }
    }
    Ok(map)
}

fn line_number_of(content: &[u8], logical_line: &str) -> Option<usize> {
    let needle = logical_line.trim_end_matches(['\n', '\r']);
    let needle = needle.lines().next().unwrap_or(needle);
    if needle.is_empty() {
        return None;
    }
    let hay = std::str::from_utf8(content).ok()?;
    let pos = hay.find(needle)?;
    Some(hay[..pos].bytes().filter(|&b| b == b'\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn text(v: SecretValue) -> String {
        match v.data() {
            SecretData::Text(s) => s.expose_secret().to_owned(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn path_mapping_replaces_separators_and_uppercases() {
        assert_eq!(env_var_name("database/url"), "DATABASE_URL");
        assert_eq!(env_var_name("my-app/db.password"), "MY_APP_DB_PASSWORD");
        assert_eq!(env_var_name("already_UPPER"), "ALREADY_UPPER");
    }

    #[test]
    fn process_environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(".env");
        std::fs::write(&f, "DATABASE_URL=from-file\nONLY_FILE=file-value\n").unwrap();
        let p = EnvProvider::from_vars([("DATABASE_URL", "from-process")])
            .with_env_file(&f)
            .unwrap();
        run(async {
            assert_eq!(
                text(p.fetch("database/url", &Version::Current).await.unwrap()),
                "from-process"
            );
            assert_eq!(
                text(p.fetch("only/file", &Version::Current).await.unwrap()),
                "file-value"
            );
        });
    }

    #[test]
    fn metadata_id_names_the_variable_and_the_file_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("prod.env");
        std::fs::write(&f, "DATABASE_URL=from-file\nONLY_FILE=file-value\n").unwrap();
        let p = EnvProvider::from_vars([("DATABASE_URL", "from-process")])
            .with_env_file(&f)
            .unwrap();
        let id = |name| {
            let v = run(p.fetch(name, &Version::Current)).unwrap();
            v.metadata().id().map(str::to_owned)
        };
        assert_eq!(id("database/url").as_deref(), Some("DATABASE_URL"));
        assert_eq!(id("only/file"), Some(format!("{}:ONLY_FILE", f.display())));
    }

    #[test]
    fn missing_variable_is_not_found_and_names_the_variable() {
        let p = EnvProvider::from_vars([("A", "b")]);
        let e = run(p.fetch("database/url", &Version::Current)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "not found (DATABASE_URL)");
    }

    #[test]
    fn malformed_line_names_file_and_line_but_not_content() {
        let content = b"GOOD=1\n# comment\nOTHER=two\nthis is not valid s3cr3t-P4ss\nLATER=x\n";
        let e = parse_env_bytes(content, "prod.env").unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(msg.contains("line 4"), "{msg}");
        assert!(msg.contains("prod.env"), "{msg}");
        assert!(!msg.contains("s3cr3t"), "{msg}");
        assert!(!format!("{e:?}").contains("s3cr3t"));
    }

    #[test]
    fn unterminated_quote_is_an_error_without_content() {
        let content = b"A=1\nB=\"unterminated hunter2-value\n";
        let e = parse_env_bytes(content, ".env").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn quotes_comments_and_export_are_parsed() {
        let content = b"export A=plain\nB='single # not comment'\nC=\"double\\nline\"\n# x=y\nD=val # trailing\n";
        let m = parse_env_bytes(content, ".env").unwrap();
        assert_eq!(m["A"].expose_secret(), "plain");
        assert_eq!(m["B"].expose_secret(), "single # not comment");
        assert_eq!(m["C"].expose_secret(), "double\nline");
        assert_eq!(m["D"].expose_secret(), "val");
        assert!(!m.contains_key("x"));
    }

    #[test]
    fn invalid_utf8_file_is_a_clear_error() {
        let e = parse_env_bytes(b"A=\xff\xfe\n", "bin.env").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().contains("bin.env"));
    }

    #[test]
    fn named_file_must_exist_but_default_may_be_missing() {
        let dir = tempfile::tempdir().unwrap();
        let ok = EnvProvider::from_vars(Vec::<(String, String)>::new())
            .with_configured_file(None, dir.path())
            .unwrap();
        assert!(ok.env_file().is_none());
        let missing = dir.path().join("nope.env");
        let e = EnvProvider::from_vars(Vec::<(String, String)>::new())
            .with_configured_file(Some(missing.to_str().unwrap()), dir.path())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("SECRETS_ENV_FILE"), "{e}");
    }

    #[test]
    fn list_maps_names_back_to_paths() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(".env");
        std::fs::write(&f, "DATABASE_URL=x\nDATABASE_USER=y\nSTRIPE_KEY=z\n").unwrap();
        let p = EnvProvider::from_vars([("DATABASE_HOST", "h"), ("PATH", "/bin")])
            .with_env_file(&f)
            .unwrap();
        assert_eq!(
            p.list_inner("database/"),
            vec!["database/host", "database/url", "database/user"]
        );
        assert_eq!(
            p.list_inner(""),
            vec!["database_url", "database_user", "stripe_key"]
        );
    }

    #[test]
    fn versions_other_than_current_are_not_found() {
        let p = EnvProvider::from_vars([("A_B", "v")]);
        let e = run(p.fetch("a/b", &Version::Stage("AWSPREVIOUS".into()))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
}
