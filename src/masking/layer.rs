//! The tracing integration: redact where the text is produced.
//!
//! A tracing `Layer` cannot change what another layer prints, so masking
//! happens at two places of the `fmt` layer:
//!
//! - [`MaskingFields`], a [`FormatFields`] that formats every field (the
//!   message, event fields, span fields including `#[instrument]`
//!   arguments, `%`/`?` values and errors) with the [`Redactor`]; a field
//!   whose *name* is secret-named (`password`, `api_key`, ...) has its whole
//!   value masked.
//! - [`MaskingMakeWriter`], a [`MakeWriter`] that redacts the final bytes of
//!   every event as a last pass. The JSON formatter writes event fields
//!   without going through `FormatFields`, so this pass is what masks JSON
//!   output; it decodes each JSON string, masks, and re-encodes, so the
//!   output stays valid JSON.
//!
//! [`MaskingLayer::builder`] puts both together; [`install`] sets it up as
//! the global subscriber.

use std::fmt::{self, Write as _};
use std::io;

use tracing::field::{Field, Visit};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

use crate::error::{Error, ErrorKind};
use crate::masking::known::KnownSecrets;
use crate::masking::patterns::{RuleSet, RuleSpec, is_secret_name};
use crate::masking::redactor::Redactor;

/// A [`FormatFields`] that masks every field value; see the module docs.
///
/// Output has the shape of tracing-subscriber's `DefaultFields`: the message
/// first, then `name=value` pairs separated by spaces.
#[derive(Debug, Clone)]
pub struct MaskingFields {
    redactor: Redactor,
    values: bool,
}

impl MaskingFields {
    /// Field formatting that masks with `redactor`: secret-named fields
    /// whole, every other value through the redactor.
    pub fn new(redactor: Redactor) -> MaskingFields {
        MaskingFields { redactor, values: true }
    }

    /// Field formatting that masks only the values of secret-named fields,
    /// for use together with a [`MaskingMakeWriter`] over the same
    /// redactor, which then masks the rest of each event in one pass (one
    /// pass over the line is cheaper than one per field). This is what
    /// [`MaskingLayer`] does.
    pub fn names_only(redactor: Redactor) -> MaskingFields {
        MaskingFields { redactor, values: false }
    }
}

impl<'writer> FormatFields<'writer> for MaskingFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        let ansi = writer.has_ansi_escapes();
        let mut v = MaskingVisitor {
            writer: writer.by_ref(),
            redactor: &self.redactor,
            values: self.values,
            first: true,
            ansi,
            buf: String::new(),
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

struct MaskingVisitor<'a, 'w> {
    writer: Writer<'w>,
    redactor: &'a Redactor,
    values: bool,
    first: bool,
    ansi: bool,
    buf: String,
    result: fmt::Result,
}

impl MaskingVisitor<'_, '_> {
    fn pad(&mut self) -> fmt::Result {
        if self.first {
            self.first = false;
            Ok(())
        } else {
            self.writer.write_char(' ')
        }
    }

    fn name(&mut self, name: &str) -> fmt::Result {
        let name = name.strip_prefix("r#").unwrap_or(name);
        if self.ansi {
            write!(self.writer, "\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m")
        } else {
            write!(self.writer, "{name}=")
        }
    }

    /// Writes field `field` whose formatted text is in `self.buf`.
    fn emit(&mut self, field: &Field, quoted_str: Option<&str>) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        self.result = (|| {
            self.pad()?;
            let (redactor, values) = (self.redactor, self.values);
            let redact = |t| maybe_redact(redactor, values, t);
            if name == "message" {
                let text = quoted_str.unwrap_or(&self.buf);
                return self.writer.write_str(&redact(text));
            }
            self.name(name)?;
            if is_secret_name(name) {
                return self.writer.write_str(self.redactor.mask());
            }
            match quoted_str {
                Some(s) => write!(self.writer, "{:?}", &*redact(s)),
                None => self.writer.write_str(&redact(&self.buf)),
            }
        })();
    }
}

fn maybe_redact<'t>(redactor: &Redactor, on: bool, text: &'t str) -> std::borrow::Cow<'t, str> {
    if on { redactor.redact(text) } else { std::borrow::Cow::Borrowed(text) }
}

impl Visit for MaskingVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.emit(field, Some(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.buf.clear();
        let _ = write!(self.buf, "{value}");
        let mut source = value.source();
        if source.is_some() {
            let _ = write!(self.buf, " {}.sources=[", field.name());
            let mut first = true;
            while let Some(s) = source {
                let _ = write!(self.buf, "{}{s}", if first { "" } else { ", " });
                first = false;
                source = s.source();
            }
            self.buf.push(']');
        }
        self.emit(field, None);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.buf.clear();
        let _ = write!(self.buf, "{value:?}");
        self.emit(field, None);
    }
}

/// A [`MakeWriter`] that redacts everything written through it; see the
/// module docs. Each `write` call is redacted as a whole (the `fmt` layer
/// writes one event per call); lines that are JSON objects are masked
/// string by string so they stay valid JSON.
#[derive(Debug, Clone)]
pub struct MaskingMakeWriter<M> {
    inner: M,
    redactor: Redactor,
}

impl<M> MaskingMakeWriter<M> {
    /// Wraps `inner`, masking with `redactor`.
    pub fn new(inner: M, redactor: Redactor) -> MaskingMakeWriter<M> {
        MaskingMakeWriter { inner, redactor }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for MaskingMakeWriter<M> {
    type Writer = MaskingWriter<'a, M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskingWriter { inner: self.inner.make_writer(), redactor: &self.redactor }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        MaskingWriter { inner: self.inner.make_writer_for(meta), redactor: &self.redactor }
    }
}

/// The writer of [`MaskingMakeWriter`].
#[derive(Debug)]
pub struct MaskingWriter<'a, W> {
    inner: W,
    redactor: &'a Redactor,
}

impl<W: io::Write> io::Write for MaskingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => {
                let red = self.redactor.redact_lines(text);
                self.inner.write_all(red.as_bytes())?;
            }
            Err(_) => {
                let text = String::from_utf8_lossy(buf);
                let red = self.redactor.redact_lines(&text);
                self.inner.write_all(red.as_bytes())?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The masking `fmt` layer; build one with [`MaskingLayer::builder`].
#[derive(Debug)]
pub struct MaskingLayer {
    _private: (),
}

type BoxMakeWriter = tracing_subscriber::fmt::writer::BoxMakeWriter;

/// Builds the masking `fmt` layer: output format, writer, known values,
/// extra secrets and patterns.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use secret_chain::masking::{KnownSecrets, MaskingLayer};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let known = Arc::new(KnownSecrets::new());
/// let layer = MaskingLayer::builder()
///     .known(known.clone())
///     .extra_secret("my-static-token")
///     .json(false)
///     .writer(std::io::stderr)
///     .build()?;
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(password = "hunter22", "login with my-static-token");
///     // stderr: ... login with **** password=****
/// });
/// # Ok::<(), secret_chain::Error>(())
/// ```
pub struct MaskingLayerBuilder {
    redactor: crate::masking::redactor::RedactorBuilder,
    json: bool,
    ansi: bool,
    target: bool,
    writer: BoxMakeWriter,
}

impl fmt::Debug for MaskingLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskingLayerBuilder")
            .field("redactor", &self.redactor)
            .field("json", &self.json)
            .field("ansi", &self.ansi)
            .finish()
    }
}

impl MaskingLayer {
    /// A builder: text output to stdout, built-in patterns, no known values.
    pub fn builder() -> MaskingLayerBuilder {
        MaskingLayerBuilder {
            redactor: Redactor::builder(),
            json: false,
            ansi: false,
            target: true,
            writer: BoxMakeWriter::new(io::stdout),
        }
    }
}

impl MaskingLayerBuilder {
    /// Masks the values of this registry (for example
    /// `manager.known_secrets().clone()`), live.
    pub fn known(mut self, known: std::sync::Arc<KnownSecrets>) -> Self {
        self.redactor = self.redactor.known(known);
        self
    }

    /// Masks this literal value too.
    pub fn extra_secret(mut self, value: impl Into<String>) -> Self {
        self.redactor = self.redactor.extra_secret(value);
        self
    }

    /// Masks whatever matches this regex too.
    pub fn pattern(mut self, regex: impl Into<String>) -> Self {
        self.redactor = self.redactor.pattern(regex);
        self
    }

    /// Adds a user rule (keywords, secret group, entropy).
    pub fn rule(mut self, rule: RuleSpec) -> Self {
        self.redactor = self.redactor.rule(rule);
        self
    }

    /// Replaces the built-in rule set.
    pub fn rules(mut self, rules: RuleSet) -> Self {
        self.redactor = self.redactor.rules(rules);
        self
    }

    /// The mask text (default `****`).
    pub fn mask(mut self, mask: impl Into<String>) -> Self {
        self.redactor = self.redactor.mask(mask);
        self
    }

    /// JSON lines instead of text (default: text).
    pub fn json(mut self, json: bool) -> Self {
        self.json = json;
        self
    }

    /// ANSI colours in text output (default: off).
    pub fn ansi(mut self, ansi: bool) -> Self {
        self.ansi = ansi;
        self
    }

    /// Whether to print the event's target (default: on).
    pub fn with_target(mut self, target: bool) -> Self {
        self.target = target;
        self
    }

    /// Where the output goes (default: stdout).
    pub fn writer<M>(mut self, make_writer: M) -> Self
    where
        M: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        self.writer = BoxMakeWriter::new(make_writer);
        self
    }

    /// The redactor this builder would use (for the same masking elsewhere).
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    pub fn redactor(&self) -> Result<Redactor, Error> {
        clone_builder(&self.redactor).build()
    }

    /// Builds the layer; add it to a subscriber with
    /// `tracing_subscriber::registry().with(layer)` (and a filter).
    ///
    /// # Errors
    ///
    /// A [`Config`](crate::ErrorKind::Config) error when a pattern does not
    /// compile.
    pub fn build<S>(self) -> Result<Box<dyn Layer<S> + Send + Sync + 'static>, Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let redactor = self.redactor.build()?;
        let writer = MaskingMakeWriter::new(self.writer, redactor.clone());
        let layer: Box<dyn Layer<S> + Send + Sync> = if self.json {
            Box::new(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_target(self.target)
                    .with_current_span(true)
                    .with_span_list(true)
                    .with_writer(writer),
            )
        } else {
            Box::new(
                tracing_subscriber::fmt::layer()
                    .with_ansi(self.ansi)
                    .with_target(self.target)
                    .fmt_fields(MaskingFields::names_only(redactor))
                    .with_writer(writer),
            )
        };
        Ok(layer)
    }
}

fn clone_builder(b: &crate::masking::redactor::RedactorBuilder) -> crate::masking::redactor::RedactorBuilder {
    b.clone()
}

/// Installs the global subscriber: `fmt` output to stdout with every
/// secret masked, `RUST_LOG` filtering (default `info`), JSON lines when
/// `LOG_FORMAT=json`, `log` crate records captured. Known values come from
/// the global [`SecretsManager`](crate::SecretsManager)
/// ([`crate::global`]); if it cannot be built, masking still runs with the
/// built-in patterns and a warning says why.
///
/// Call [`crate::init`] with your own manager *before* `install` if you
/// build one; `install` otherwise builds the global manager from the
/// environment.
///
/// # Errors
///
/// [`ErrorKind::AlreadyInitialized`] when a global subscriber is already
/// set; [`ErrorKind::Config`] when `RUST_LOG` is not a valid filter.
pub fn install() -> Result<(), Error> {
    let (known, manager_error) = match crate::global() {
        Ok(m) => (Some(m.known_secrets().clone()), None),
        Err(e) => (None, Some(e)),
    };
    let json = std::env::var("LOG_FORMAT").map(|v| v.eq_ignore_ascii_case("json")).unwrap_or(false);
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v)
            .map_err(|e| Error::config("RUST_LOG is not a valid log filter").with_source(e))?,
        _ => EnvFilter::new("info"),
    };
    let mut builder = MaskingLayer::builder().json(json);
    if let Some(k) = known {
        builder = builder.known(k);
    }
    let layer = builder.build()?;
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(filter));
    tracing::subscriber::set_global_default(subscriber).map_err(|e| {
        Error::new(ErrorKind::AlreadyInitialized, "a global tracing subscriber is already set").with_source(e)
    })?;
    if tracing_log::LogTracer::init().is_err() {
        tracing::warn!("a `log` logger is already set: `log` records do not pass through the masking layer");
    }
    if let Some(e) = manager_error {
        tracing::warn!(
            error = %e,
            "masking installed with the built-in patterns only: the global secrets manager could not be built"
        );
    }
    Ok(())
}
