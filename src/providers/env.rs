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
//! The `.env` file is parsed into a map with python-dotenv 1.2's grammar
//! (`super::dotenv`: `$$` and `$VAR` stay literal, `${VAR}` expands); the
//! process environment is never modified. A malformed line is reported with
//! the file name and the line number, never with the line's content (which
//! may hold a secret).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, ErrorKind};
use crate::providers::{BoxFuture, Provider, SecretData, SecretMetadata, SecretValue, Version};
use crate::settings::Settings;

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

    /// A provider over every variable of `settings`, plus the file that its
    /// `SECRETS_ENV_FILE` setting names, or `.env` in the working directory
    /// if that exists. For a named instance's view
    /// ([`Settings::for_instance`]) the file setting is the instance's own
    /// first (`SECRETS_LOCAL_ENV_FILE` for `local`); the secrets themselves
    /// are looked up under their plain names (`DATABASE_URL`) by every
    /// instance.
    ///
    /// # Errors
    ///
    /// As [`with_configured_file`](Self::with_configured_file), naming the
    /// variable that was read.
    pub fn from_settings(settings: &Settings) -> Result<EnvProvider, Error> {
        let provider = EnvProvider::from_vars(settings.raw_vars());
        match settings.first(&["SECRETS_ENV_FILE"]) {
            Some((path, var)) => provider.with_named_file(path, &var),
            None => provider.with_configured_file(None, Path::new(".")),
        }
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
            Some(path) => self.with_named_file(path, "SECRETS_ENV_FILE"),
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

    /// The file that the setting `var` names, which must exist.
    fn with_named_file(self, path: &str, var: &str) -> Result<Self, Error> {
        let p = Path::new(path);
        if !p.exists() {
            return Err(Error::config(format!(
                "{var} names '{}', which does not exist",
                p.display()
            )));
        }
        self.with_env_file(p)
    }

    /// Loads a `.env` file into the provider's map (process variables still
    /// win). The process environment is not modified.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] naming the file and line for a malformed line,
    /// [`ErrorKind::Io`] when it cannot be read.
    pub fn with_env_file(mut self, path: &Path) -> Result<Self, Error> {
        let vars = &self.vars;
        let env = |k: &str| vars.get(k).map(|v| v.expose_secret().to_owned());
        self.file = parse_env_file(path, &env)?;
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

/// The largest `.env` file read: it holds settings, not data, and a
/// mistaken `SECRETS_ENV_FILE=/dev/zero` must not fill memory.
pub const MAX_ENV_FILE_BYTES: u64 = 4 << 20;

/// Reads and parses a `.env` file (see [`super::dotenv`] for the grammar,
/// python-dotenv 1.2's); `env` looks up process variables for `${VAR}`.
/// An undefined `${VAR}` reads as empty and logs one warning naming the
/// file, the line and the variable, never a value.
///
/// # Errors
///
/// [`ErrorKind::Config`] with the file name and the line number of the first
/// malformed line, never the line's content, or when the file is larger than
/// [`MAX_ENV_FILE_BYTES`]; [`ErrorKind::Io`] when the file cannot be read or
/// is not UTF-8.
pub(crate) fn parse_env_file(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HashMap<String, SecretString>, Error> {
    use std::io::Read;
    let origin = path.display().to_string();
    let read_error = |e: std::io::Error| {
        Error::new(ErrorKind::Io, format!("cannot read env file '{origin}'")).with_source(e)
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut content = Vec::new();
    file.take(MAX_ENV_FILE_BYTES + 1)
        .read_to_end(&mut content)
        .map_err(read_error)?;
    if content.len() as u64 > MAX_ENV_FILE_BYTES {
        return Err(Error::config(format!(
            "env file '{origin}' is larger than {} MiB; a .env file holds settings, not data",
            MAX_ENV_FILE_BYTES >> 20
        )));
    }
    parse_env_bytes(&content, &origin, env)
}

/// Parses `.env` text as python-dotenv 1.2 reads it (see the module docs):
/// the values it defines, each key once (its last binding wins; a bare
/// `KEY` line removes it), in the order of those bindings. `env` looks up process variables for `${VAR}`;
/// `origin` names the text in errors and warnings.
///
/// ```
/// use secrecy::ExposeSecret;
/// let got = secret_chain::providers::env::parse_env_text(
///     "DB_PASS=pa$$w0rd\nURL=postgres://${DB_USER:-app}@db/app # comment\n",
///     ".env",
///     &|_| None,
/// )?;
/// assert_eq!(got[0].0, "DB_PASS");
/// assert_eq!(got[0].1.expose_secret(), "pa$$w0rd");
/// assert_eq!(got[1].1.expose_secret(), "postgres://app@db/app");
/// # Ok::<(), secret_chain::Error>(())
/// ```
///
/// # Errors
///
/// [`ErrorKind::Config`] naming `origin` and the line of the first
/// malformed binding, never its content.
pub fn parse_env_text(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, SecretString)>, Error> {
    Ok(
        super::dotenv::final_values(parse_bindings(text, origin, env)?)
            .into_iter()
            .map(|(k, v)| (k, SecretString::from(v)))
            .collect(),
    )
}

fn parse_bindings(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<super::dotenv::Binding>, Error> {
    let parsed = super::dotenv::parse(text, env).map_err(|e| {
        Error::config(format!(
            "malformed line {} in env file '{origin}': {} (the line is not shown because it may hold a secret)",
            e.line, e.what
        ))
    })?;
    for u in &parsed.undefined {
        tracing::warn!(
            file = origin,
            line = u.line,
            variable = %u.var,
            "${{{}}} in the env file is not defined: it reads as empty",
            u.var
        );
    }
    Ok(parsed.bindings)
}

/// Parses `.env` content; `origin` names it in errors and warnings.
pub(crate) fn parse_env_bytes(
    content: &[u8],
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HashMap<String, SecretString>, Error> {
    let text = std::str::from_utf8(content).map_err(|e| {
        let line = content[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        let what = format!("is not valid UTF-8 (line {line})");
        Error::new(ErrorKind::Io, format!("env file '{origin}' {what}"))
            .with_source(std::io::Error::new(std::io::ErrorKind::InvalidData, what))
    })?;
    Ok(
        super::dotenv::final_values(parse_bindings(text, origin, env)?)
            .into_iter()
            .map(|(k, v)| (k, SecretString::from(v)))
            .collect(),
    )
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
        let e = parse_env_bytes(content, "prod.env", &|_| None).unwrap_err();
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
        let e = parse_env_bytes(content, ".env", &|_| None).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn quotes_comments_and_export_are_parsed() {
        let content = b"export A=plain\nB='single # not comment'\nC=\"double\\nline\"\n# x=y\nD=val # trailing\n";
        let m = parse_env_bytes(content, ".env", &|_| None).unwrap();
        assert_eq!(m["A"].expose_secret(), "plain");
        assert_eq!(m["B"].expose_secret(), "single # not comment");
        assert_eq!(m["C"].expose_secret(), "double\nline");
        assert_eq!(m["D"].expose_secret(), "val");
        assert!(!m.contains_key("x"));
    }

    #[test]
    fn python_dotenv_values_read_the_same() {
        let content = "\u{feff}DB_PASS=pa$$w0rd-x\nQ=\"pa$w0rd-x\"\nC=$UNDEFINED\nAPI_CONFIG={\"key\":\"k-1\"}\nU=${HOST_NAME}-${NOPE:-d}\n";
        let env = |k: &str| (k == "HOST_NAME").then(|| "h1".to_owned());
        let m = parse_env_bytes(content.as_bytes(), ".env", &env).unwrap();
        assert_eq!(m["DB_PASS"].expose_secret(), "pa$$w0rd-x");
        assert_eq!(m["Q"].expose_secret(), "pa$w0rd-x");
        assert_eq!(m["C"].expose_secret(), "$UNDEFINED");
        assert_eq!(m["API_CONFIG"].expose_secret(), r#"{"key":"k-1"}"#);
        assert_eq!(m["U"].expose_secret(), "h1-d");
    }

    #[test]
    fn an_undefined_variable_warns_with_file_line_and_name_but_no_value() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let sub = tracing_subscriber::fmt()
            .with_writer({
                let b = buf.clone();
                move || b.clone()
            })
            .with_ansi(false)
            .finish();
        let m = tracing::subscriber::with_default(sub, || {
            parse_env_bytes(b"A=s3cr3t-val\nB=${A}-${NOT_SET}\n", "app.env", &|_| None).unwrap()
        });
        assert_eq!(m["B"].expose_secret(), "s3cr3t-val-");
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.contains("app.env") && out.contains("line=2") && out.contains("NOT_SET"),
            "{out}"
        );
        assert!(!out.contains("s3cr3t"), "{out}");
    }

    #[test]
    fn a_huge_env_file_is_refused_naming_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big.env");
        let line = "K=v\n".repeat((MAX_ENV_FILE_BYTES / 4 + 1) as usize);
        std::fs::write(&f, line).unwrap();
        let e = EnvProvider::from_vars(Vec::<(String, String)>::new())
            .with_env_file(&f)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.to_string().contains("larger than 4 MiB") && e.to_string().contains("big.env"),
            "{e}"
        );
    }

    #[test]
    fn invalid_utf8_file_is_a_clear_error() {
        let e = parse_env_bytes(b"A=\xff\xfe\n", "bin.env", &|_| None).unwrap_err();
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
