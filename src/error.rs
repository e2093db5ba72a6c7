//! The one public error type of the crate.
//!
//! Every error names what went wrong (its [`ErrorKind`]), the secret path and
//! the provider where that applies, and never a secret value or a raw input
//! line. When every provider of a chain misses, the error lists each
//! provider's answer in order ([`Error::outcomes`]).

use std::fmt;
use std::sync::Arc;

/// What kind of failure an [`Error`] is.
///
/// The kind drives the fallback policy of the chain: [`ErrorKind::NotFound`]
/// and [`ErrorKind::Unavailable`] move on to the next provider,
/// [`ErrorKind::AccessDenied`] moves on unless the chain is configured to
/// stop on it, and every other kind stops the chain at once.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The secret does not exist in the provider (or in any provider).
    NotFound,
    /// The provider refused access (bad credentials, missing permission).
    AccessDenied,
    /// The provider could not be reached or failed (timeout, 5xx, sealed).
    Unavailable,
    /// The value is not JSON, or the JSON lacks the requested field or type.
    InvalidJson,
    /// The value exists but cannot be returned in the requested form
    /// (for example a binary secret that is not UTF-8, read as a string).
    InvalidValue,
    /// A secret path is malformed (empty, empty field after `#`).
    InvalidPath,
    /// A configuration value or setting is wrong or missing.
    Config,
    /// The global manager or the global subscriber was already initialised.
    AlreadyInitialized,
    /// A blocking method was called from inside an async runtime.
    BlockingInRuntime,
    /// Reading a file or stream failed.
    Io,
}

impl ErrorKind {
    /// A short lowercase description of the kind, used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::InvalidJson => "invalid json",
            ErrorKind::InvalidValue => "invalid value",
            ErrorKind::InvalidPath => "invalid path",
            ErrorKind::Config => "configuration error",
            ErrorKind::AlreadyInitialized => "already initialised",
            ErrorKind::BlockingInRuntime => "blocking call inside an async runtime",
            ErrorKind::Io => "i/o error",
        }
    }

    /// Whether a chain moves on to the next provider after this kind.
    pub(crate) fn falls_through(self) -> bool {
        matches!(
            self,
            ErrorKind::NotFound | ErrorKind::Unavailable | ErrorKind::AccessDenied
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One provider's answer for one secret, kept in a chain error.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOutcome {
    /// The provider's name in the chain: its own (`aws`, `vault`, `env`, or a
    /// custom provider's) or the instance name it was added under (`dr`).
    pub provider: String,
    /// What the provider answered.
    pub kind: ErrorKind,
    /// The provider's own description, for example `not found (DATABASE_URL)`.
    /// Never holds a secret value.
    pub detail: String,
    /// The backend's own error code, where it gave one
    /// (`ResourceNotFoundException`, `AccessDeniedException`,
    /// `ThrottlingException` from AWS): what tells throttling from denial.
    pub code: Option<String>,
    /// The HTTP status of the backend's answer, where there was one (403
    /// from Vault, 503 from a sealed Vault, 400 from AWS).
    pub http_status: Option<u16>,
}

impl fmt::Display for ProviderOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.provider, self.detail)
    }
}

type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The error type of every fallible operation in this crate.
///
/// `Display` is one short lowercase clause; the underlying cause, where
/// there is one, is available through [`std::error::Error::source`].
/// Neither ever holds a secret value.
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    provider: Option<String>,
    code: Option<String>,
    http_status: Option<u16>,
    path: Option<String>,
    outcomes: Vec<ProviderOutcome>,
    failures: Vec<Error>,
    source: Option<Source>,
}

impl Error {
    /// A new error of `kind` with a message. The message must not hold a
    /// secret value: name the path, the setting or the provider instead.
    /// Control characters in it (from a path, a file name or an argument
    /// echoed back) are escaped (`\u{1b}`, `\n`), so an error stays one
    /// line and cannot drive the terminal it is printed on.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind,
                message: escape_controls(message.into()),
                provider: None,
                code: None,
                http_status: None,
                path: None,
                outcomes: Vec::new(),
                failures: Vec::new(),
                source: None,
            }),
        }
    }

    /// A "not found" answer of a provider, e.g. `Error::not_found("not found (DATABASE_URL)")`.
    pub fn not_found(detail: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, detail)
    }

    /// An "access denied" answer of a provider.
    pub fn access_denied(detail: impl Into<String>) -> Error {
        Error::new(ErrorKind::AccessDenied, detail)
    }

    /// An "unavailable" answer of a provider (unreachable, timeout, 5xx).
    pub fn unavailable(detail: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unavailable, detail)
    }

    /// A configuration error naming the setting.
    pub fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    /// Attaches the underlying cause. The cause's own `Display` must not
    /// hold a secret value either: wrap foreign errors that echo input.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.inner_mut().source = Some(Arc::new(source));
        self
    }

    /// Records which provider produced this error.
    pub fn with_provider(mut self, provider: impl Into<String>) -> Error {
        self.inner_mut().provider = Some(provider.into());
        self
    }

    /// Records the backend's own error code (`ResourceNotFoundException`,
    /// `ThrottlingException`), so that callers can tell throttling from
    /// denial without parsing the message.
    ///
    /// A code is a name: one that is longer than 64 characters, does not
    /// start with a letter or holds anything but ASCII letters, digits and
    /// `.` `_` `-` `:` `#` is dropped, since a misbehaving proxy can put
    /// anything (a token, a value) where a code belongs.
    pub fn with_code(mut self, code: impl Into<String>) -> Error {
        let code = code.into();
        if is_plain_code(&code) {
            self.inner_mut().code = Some(code);
        }
        self
    }

    /// Records the HTTP status of the backend's answer (403, 503, ...).
    pub fn with_http_status(mut self, status: u16) -> Error {
        self.inner_mut().http_status = Some(status);
        self
    }

    /// Copies the backend's code and HTTP status from `other`, when it has
    /// them (a chain error stopped by one provider carries its answer).
    pub(crate) fn with_backend_answer_of(mut self, other: &Error) -> Error {
        if other.code().is_some() || other.http_status().is_some() {
            let inner = self.inner_mut();
            inner.code = other.inner.code.clone();
            inner.http_status = other.inner.http_status;
        }
        self
    }

    pub(crate) fn with_outcomes(mut self, outcomes: Vec<ProviderOutcome>) -> Error {
        self.inner_mut().outcomes = outcomes;
        self
    }

    pub(crate) fn with_failures(mut self, failures: Vec<Error>) -> Error {
        self.inner_mut().failures = failures;
        self
    }

    /// Records the secret path the error is about (the chain does).
    pub(crate) fn with_path(mut self, path: &str) -> Error {
        self.inner_mut().path = Some(escape_controls(path.to_owned()));
        self
    }

    /// Puts `context` in front of the message (`provider 'dr': `), keeping
    /// the kind and the source.
    pub(crate) fn with_context(mut self, context: &str) -> Error {
        let message = &mut self.inner_mut().message;
        message.insert_str(0, context);
        self
    }

    fn inner_mut(&mut self) -> &mut Inner {
        // Errors are built before they are shared; make_mut is not available
        // for a non-Clone Inner, so rebuild when (rarely) shared.
        if Arc::get_mut(&mut self.inner).is_none() {
            let old = &self.inner;
            self.inner = Arc::new(Inner {
                kind: old.kind,
                message: old.message.clone(),
                provider: old.provider.clone(),
                code: old.code.clone(),
                http_status: old.http_status,
                path: old.path.clone(),
                outcomes: old.outcomes.clone(),
                failures: old.failures.clone(),
                source: old.source.clone(),
            });
        }
        Arc::get_mut(&mut self.inner).expect("freshly built error is unique")
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The provider that produced the error, if one did.
    pub fn provider(&self) -> Option<&str> {
        self.inner.provider.as_deref()
    }

    /// The backend's own error code, where it gave one
    /// (`ResourceNotFoundException`, `AccessDeniedException`,
    /// `ThrottlingException`). For a chain error, the code of the provider
    /// that stopped the chain; each provider's code is in its
    /// [outcome](Error::outcomes).
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }

    /// The HTTP status of the backend's answer, where there was one. For a
    /// chain error, as [`code`](Error::code).
    pub fn http_status(&self) -> Option<u16> {
        self.inner.http_status
    }

    /// For an error of the chain: the secret path it is about.
    pub fn path(&self) -> Option<&str> {
        self.inner.path.as_deref()
    }

    /// For an error of the chain: each provider's answer, in chain order.
    /// Empty for errors that did not come from a chain lookup.
    pub fn outcomes(&self) -> &[ProviderOutcome] {
        &self.inner.outcomes
    }

    /// For an error of [`SecretsManager::prefetch`](crate::SecretsManager::prefetch):
    /// one error per path that failed, in the order the paths were given,
    /// each with its [`path`](Error::path) and [`outcomes`](Error::outcomes).
    /// Empty for every other error.
    pub fn failures(&self) -> &[Error] {
        &self.inner.failures
    }

    /// The message without the kind prefix, as given to [`Error::new`].
    pub fn message(&self) -> &str {
        &self.inner.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(p) = &self.inner.provider {
            d.field("provider", p);
        }
        if let Some(c) = &self.inner.code {
            d.field("code", c);
        }
        if let Some(s) = &self.inner.http_status {
            d.field("http_status", s);
        }
        if let Some(p) = &self.inner.path {
            d.field("path", p);
        }
        if !self.inner.outcomes.is_empty() {
            d.field("outcomes", &self.inner.outcomes);
        }
        if !self.inner.failures.is_empty() {
            d.field("failures", &self.inner.failures);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", &format_args!("{s}"));
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `s` with every control character escaped as Rust writes it (`\n`,
/// `\u{1b}`); unchanged (not copied) when it has none.
pub(crate) fn escape_controls(s: String) -> String {
    if !s.chars().any(char::is_control) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `code` looks like an error code (a name), not like data.
fn is_plain_code(code: &str) -> bool {
    code.len() <= 64
        && code.starts_with(|c: char| c.is_ascii_alphabetic())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'#'))
}

/// Describes a serde_json error without its message, which can quote input.
pub(crate) fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "it could not be read",
        Category::Syntax => "it is not valid JSON",
        Category::Data => "it does not have the expected shape or types",
        Category::Eof => "it ends early",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_message_and_source_is_kept() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::new(ErrorKind::Io, "cannot read '.env'").with_source(io);
        assert_eq!(e.to_string(), "cannot read '.env'");
        assert_eq!(e.kind(), ErrorKind::Io);
        let src = std::error::Error::source(&e).expect("source kept");
        assert_eq!(src.to_string(), "disk on fire");
    }

    #[test]
    fn builders_work_on_shared_errors() {
        let e = Error::not_found("not found (X)");
        let shared = e.clone();
        let tagged = shared.with_provider("env");
        assert_eq!(tagged.provider(), Some("env"));
        assert_eq!(e.provider(), None);
    }

    #[test]
    fn code_and_status_are_kept_and_a_code_that_looks_like_data_is_dropped() {
        let e = Error::not_found("not found (secret id x)")
            .with_code("ResourceNotFoundException")
            .with_http_status(400);
        assert_eq!(e.code(), Some("ResourceNotFoundException"));
        assert_eq!(e.http_status(), Some(400));
        let d = format!("{e:?}");
        assert!(
            d.contains("ResourceNotFoundException") && d.contains("400"),
            "{d}"
        );
        for bad in ["pw s3cr3t", "", "1abc", "a\nb", &"A".repeat(65), "tok=abc"] {
            assert_eq!(
                Error::unavailable("x").with_code(bad).code(),
                None,
                "{bad:?}"
            );
        }
        let copied = Error::unavailable("chain").with_backend_answer_of(&e);
        assert_eq!((copied.code(), copied.http_status()), (e.code(), Some(400)));
        assert_eq!(Error::unavailable("plain").code(), None);
    }

    #[test]
    fn only_lookup_misses_fall_through() {
        assert!(ErrorKind::NotFound.falls_through());
        assert!(ErrorKind::Unavailable.falls_through());
        assert!(ErrorKind::AccessDenied.falls_through());
        assert!(!ErrorKind::InvalidJson.falls_through());
        assert!(!ErrorKind::Config.falls_through());
    }

    #[test]
    fn control_characters_in_a_message_are_escaped() {
        let e = Error::not_found("not found (x\u{1b}[31mRED\nforged line)");
        assert_eq!(e.to_string(), "not found (x\\u{1b}[31mRED\\nforged line)");
        assert!(!format!("{e:?}").contains('\u{1b}'));
        assert_eq!(e.message().lines().count(), 1);
    }

    #[test]
    fn json_error_description_does_not_quote_input() {
        let e = serde_json::from_str::<u16>("\"hunter2\"").unwrap_err();
        assert!(e.to_string().contains("hunter2"));
        assert!(!describe_json_error(&e).contains("hunter2"));
    }
}
