//! The tracing integration: redact where the text is produced.
//!
//! A tracing `Layer` cannot change what another layer prints, so masking
//! happens inside the `fmt` layer, whichever writer it is given:
//!
//! - Text output: [`MaskingFields`], a [`FormatFields`] that formats every
//!   field (the message, event fields, span fields including
//!   `#[instrument]` arguments, `%`/`?` values and errors, `log` records)
//!   into a reused buffer and masks it with the [`Redactor`] in one pass; a
//!   field whose *name* is secret-named (`password`, `api_key`, ...) has its
//!   whole value masked. Span fields are formatted once, when the span
//!   records them; before an event, the spans whose fields were masked
//!   before a value was registered are masked again. Span names and the
//!   target are checked at the same moments (a call site's once, a `log`
//!   record's target on every record); when one needs masking, the whole
//!   line is formatted into a buffer and redacted. Only the time and the
//!   level, which the formatter writes itself, are never scanned.
//! - JSON output: tracing-subscriber's JSON formatter writes event fields
//!   without going through `FormatFields`, so the layer's event formatter
//!   formats each line into a reused buffer and masks the event's part of
//!   it (fields and target): a part with no escape and nothing that may
//!   match is passed through untouched, otherwise each JSON string is
//!   decoded, masked and re-encoded, so the output stays valid JSON. Span
//!   fields are masked the same way when the span is created, and again
//!   before an event when values were registered since; span names are
//!   checked at the same moments, and a line under a span whose name needs
//!   masking is masked whole. Only the time and the level, which the
//!   formatter writes itself, are never scanned.
//! - [`MaskingMakeWriter`], a [`MakeWriter`] that redacts the final bytes
//!   of every write (JSON lines string by string), for other formatters.
//!
//! A secret found in one event (by a rule, or as the value of a
//! secret-named field) stays masked in every later event, bare or not:
//! the [`Redactor`] keeps the values it found in a bounded pool
//! ([`MaskingLayerBuilder::detected_limits`],
//! [`MaskingLayerBuilder::without_detected`]); spans formatted before a
//! value was found are masked again before the next event.
//!
//! [`MaskingLayer::builder`] puts these together; [`install_with`](super::install_with)
//! sets it up as the global subscriber.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::io;

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::format::{Format, Full, Json, JsonFields};
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::detect::{RuleSet, RuleSpec, is_secret_name};
use crate::error::Error;
use crate::masking::known::KnownSecrets;
use crate::masking::redactor::Redactor;

/// A [`FormatFields`] that masks every field value; see the module docs.
///
/// Output has the shape of tracing-subscriber's `DefaultFields`: the message
/// first, then `name=value` pairs separated by spaces. All fields of one
/// event (or span) are formatted into a reused thread-local buffer and
/// masked in one pass.
#[derive(Debug, Clone)]
pub struct MaskingFields {
    redactor: Redactor,
    values: bool,
}

impl MaskingFields {
    /// Field formatting that masks with `redactor`: secret-named fields
    /// whole, every other value through the redactor. This is what the
    /// text output of [`MaskingLayer`] uses.
    pub fn new(redactor: Redactor) -> MaskingFields {
        MaskingFields {
            redactor,
            values: true,
        }
    }

    /// Field formatting that masks only the values of secret-named fields,
    /// for use together with a [`MaskingMakeWriter`] over the same
    /// redactor, which then masks the rest of each event.
    pub fn names_only(redactor: Redactor) -> MaskingFields {
        MaskingFields {
            redactor,
            values: false,
        }
    }
}

/// Above this capacity a thread-local buffer is not kept.
const KEEP_BUF: usize = 64 << 10;

/// Runs `f` with the thread-local buffer of `key`, cleared; a nested call
/// on the same thread (a field's `Debug` that logs) gets a buffer of its
/// own.
fn with_buf<R>(
    key: &'static std::thread::LocalKey<RefCell<String>>,
    f: impl FnOnce(&mut String) -> R,
) -> R {
    key.with(|cell| {
        let mut owned = String::new();
        let mut borrowed = cell.try_borrow_mut().ok();
        let buf: &mut String = match borrowed.as_deref_mut() {
            Some(b) => b,
            None => &mut owned,
        };
        buf.clear();
        let res = f(&mut *buf);
        buf.clear();
        if buf.capacity() > KEEP_BUF {
            *buf = String::new();
        }
        res
    })
}

impl<'writer> FormatFields<'writer> for MaskingFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        thread_local! {
            static BUF: RefCell<String> = const { RefCell::new(String::new()) };
        }
        let ansi = writer.has_ansi_escapes();
        let sanitize = writer.sanitizes_ansi_escapes();
        with_buf(&BUF, |buf| {
            let mut v = MaskingVisitor {
                buf: &mut *buf,
                redactor: &self.redactor,
                mask: self.redactor.mask(),
                first: true,
                ansi,
                sanitize,
            };
            fields.record(&mut v);
            if self.values {
                match self.redactor.redact(buf) {
                    Cow::Borrowed(text) => writer.write_str(text),
                    Cow::Owned(text) => writer.write_str(&text),
                }
            } else {
                writer.write_str(buf)
            }
        })
    }
}

struct MaskingVisitor<'a> {
    buf: &'a mut String,
    /// Remembers the values of secret-named fields, so that later copies
    /// of them are masked.
    redactor: &'a Redactor,
    mask: &'a str,
    first: bool,
    ansi: bool,
    /// Escape terminal control characters in messages and errors, as
    /// tracing-subscriber's `DefaultFields` does.
    sanitize: bool,
}

/// What to write after a field's `name=`.
enum Slot {
    /// Not printed (`log.*` fields of a `log` record).
    Skip,
    /// The message: its text, no name.
    Message,
    /// A secret-named field: the mask is already written.
    Masked,
    /// An ordinary value.
    Value,
}

impl MaskingVisitor<'_> {
    /// Writes the separator and the name of `field`.
    fn begin(&mut self, field: &Field) -> Slot {
        let name = field.name();
        if name.starts_with("log.") {
            return Slot::Skip;
        }
        if !std::mem::take(&mut self.first) {
            self.buf.push(' ');
        }
        if name == "message" {
            return Slot::Message;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        if self.ansi {
            let _ = write!(self.buf, "\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m");
        } else {
            self.buf.push_str(name);
            self.buf.push('=');
        }
        if secret_name(name) {
            self.buf.push_str(self.mask);
            Slot::Masked
        } else {
            Slot::Value
        }
    }
}

impl MaskingVisitor<'_> {
    /// Escapes terminal control characters (ESC, BEL, BS, FF, DEL and the
    /// C1 range) written since `from`, the way `DefaultFields` does.
    fn escape_from(&mut self, from: usize) {
        if !self.sanitize {
            return;
        }
        // No early exit: a branch-free fold the compiler vectorises.
        let any = self.buf.as_bytes()[from..].iter().fold(false, |acc, &b| {
            acc | matches!(b, 0x1b | 0x07 | 0x08 | 0x0c | 0x7f | 0xc2)
        });
        if !any {
            return;
        }
        let tail = self.buf.split_off(from);
        for ch in tail.chars() {
            match ch {
                '\x1b' => self.buf.push_str("\\x1b"),
                '\x07' => self.buf.push_str("\\x07"),
                '\x08' => self.buf.push_str("\\x08"),
                '\x0c' => self.buf.push_str("\\x0c"),
                '\x7f' => self.buf.push_str("\\x7f"),
                c if (0x80..=0x9f).contains(&(c as u32)) => {
                    let _ = write!(self.buf, "\\u{{{:x}}}", c as u32);
                }
                c => self.buf.push(c),
            }
        }
    }
}

/// [`is_secret_name`] for a field name, remembered per thread by the
/// name's address (field names are `'static`: one answer per call site).
fn secret_name(name: &'static str) -> bool {
    const SLOTS: usize = 64;
    thread_local! {
        static CACHE: [Cell<(usize, usize, bool)>; SLOTS] =
            const { [const { Cell::new((0, 0, false)) }; SLOTS] };
    }
    let key = (name.as_ptr() as usize, name.len());
    let slot = ((key.0 >> 3) ^ key.1) % SLOTS;
    CACHE.with(|c| {
        let (p, l, secret) = c[slot].get();
        if (p, l) == key && p != 0 {
            return secret;
        }
        let secret = is_secret_name(name);
        c[slot].set((key.0, key.1, secret));
        secret
    })
}

impl Visit for MaskingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match self.begin(field) {
            Slot::Message => {
                let from = self.buf.len();
                self.buf.push_str(value);
                self.escape_from(from);
            }
            Slot::Value => {
                let _ = write!(self.buf, "{value:?}");
            }
            Slot::Masked => self.redactor.remember_secret(value),
            Slot::Skip => {}
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if let Slot::Skip | Slot::Masked = self.begin(field) {
            return;
        }
        let from = self.buf.len();
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
        self.escape_from(from);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match self.begin(field) {
            Slot::Message => {
                let from = self.buf.len();
                let _ = write!(self.buf, "{value:?}");
                self.escape_from(from);
            }
            Slot::Value => {
                let _ = write!(self.buf, "{value:?}");
            }
            Slot::Masked => {
                // `?value` of a string prints it quoted.
                let text = zeroize::Zeroizing::new(format!("{value:?}"));
                let bare = text
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .unwrap_or(&text);
                self.redactor.remember_secret(bare);
            }
            Slot::Skip => {}
        }
    }
}

/// The text event formatter of [`MaskingLayer`]: tracing-subscriber's
/// `Full` format. Event fields are masked by [`MaskingFields`] as they are
/// formatted; the fields of a span when it records them, and again before
/// an event when a value was registered since (so a value registered while
/// a span is open is still hidden). Span names and the target are checked
/// at the same moments (a `log` record's target on every record); when one
/// of them needs masking, the line is formatted into a buffer and redacted
/// as a whole.
#[derive(Debug)]
struct MaskingFormat {
    inner: Format<Full, SystemTime>,
    redactor: Redactor,
}

impl<S, N> FormatEvent<S, N> for MaskingFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        let span_name_secret = refresh_spans(ctx, &self.redactor, |text| {
            match self.redactor.redact(text) {
                Cow::Owned(masked) => Some(masked),
                Cow::Borrowed(_) => None,
            }
        });
        if !span_name_secret && !target_secret(&self.redactor, event) {
            return self.inner.format_event(ctx, writer, event);
        }
        with_buf(&LINE, |line| {
            self.inner
                .format_event(ctx, Writer::new(&mut *line), event)?;
            match self.redactor.redact(line) {
                Cow::Borrowed(text) => writer.write_str(text),
                Cow::Owned(text) => writer.write_str(&text),
            }
        })
    }
}

/// Whether the target of `event` needs masking: a `log` record's target
/// is checked every time; a call site's (a `'static` string) once per
/// thread and redactor generation.
fn target_secret(redactor: &Redactor, event: &Event<'_>) -> bool {
    use tracing_log::NormalizeEvent;
    if let Some(meta) = event.normalized_metadata() {
        return matches!(redactor.redact(meta.target()), Cow::Owned(_));
    }
    static_secret(redactor, event.metadata().target())
}

/// Whether `text` (a call site's target) needs masking, remembered per
/// thread by its address and the redactor generation.
fn static_secret(redactor: &Redactor, text: &'static str) -> bool {
    const SLOTS: usize = 64;
    thread_local! {
        static CACHE: [Cell<(usize, usize, u64, bool)>; SLOTS] =
            const { [const { Cell::new((0, 0, 0, false)) }; SLOTS] };
    }
    let key = (text.as_ptr() as usize, text.len());
    let slot = ((key.0 >> 3) ^ key.1) % SLOTS;
    let generation = redactor.generation();
    CACHE.with(|c| {
        let (p, l, g, secret) = c[slot].get();
        if (p, l) == key && p != 0 && g == generation {
            return secret;
        }
        let secret = matches!(redactor.redact(text), Cow::Owned(_));
        c[slot].set((key.0, key.1, generation, secret));
        secret
    })
}

/// What the layer knows of a span: the redactor generation its formatted
/// fields and its name were last checked at, and whether its name needs
/// masking.
struct MaskedAt {
    generation: u64,
    name_secret: bool,
}

/// Masks again, with `mask`, the formatted fields of the spans of the
/// event in `ctx` that were masked at an older redactor generation, and
/// checks their names at the same moment; `true` when a span name of the
/// scope needs masking.
fn refresh_spans<S, N>(
    ctx: &FmtContext<'_, S, N>,
    redactor: &Redactor,
    mask: impl Fn(&str) -> Option<String>,
) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let Some(scope) = ctx.event_scope() else {
        return false;
    };
    let generation = redactor.generation();
    let mut any_name = false;
    for span in scope {
        if let Some(m) = span.extensions().get::<MaskedAt>()
            && m.generation == generation
        {
            any_name |= m.name_secret;
            continue;
        }
        let mut ext = span.extensions_mut();
        if let Some(f) = ext.get_mut::<FormattedFields<N>>()
            && let Some(masked) = mask(&f.fields)
        {
            f.fields = masked;
        }
        let name_secret = matches!(redactor.redact(span.name()), Cow::Owned(_));
        any_name |= name_secret;
        ext.replace(MaskedAt {
            generation,
            name_secret,
        });
    }
    any_name
}

/// The span field formatter of the JSON output: tracing-subscriber's
/// `JsonFields`, then the object masked string by string (once per span;
/// see [`MaskingJsonFormat`]).
#[derive(Debug)]
struct MaskingJsonFields {
    redactor: Redactor,
}

impl<'writer> FormatFields<'writer> for MaskingJsonFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut raw = String::new();
        JsonFields::new().format_fields(Writer::new(&mut raw), fields)?;
        match super::json::redact_json(&self.redactor, &raw) {
            Some(masked) => writer.write_str(&masked),
            None => writer.write_str(&raw),
        }
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let mut merged = FormattedFields::<JsonFields>::new(std::mem::take(&mut current.fields));
        JsonFields::new().add_fields(&mut merged, fields)?;
        current.fields =
            super::json::redact_json(&self.redactor, &merged.fields).unwrap_or(merged.fields);
        Ok(())
    }
}

/// The JSON event formatter of [`MaskingLayer`]: tracing-subscriber's
/// `Json` format into a reused buffer, then the event's own part of the
/// line (its fields and target) masked string by string, so the line
/// stays valid JSON. The span objects hold span fields masked when the
/// span was created, masked again before an event when values were
/// registered since; when a span name of the scope needs masking, the
/// whole line is masked.
#[derive(Debug)]
struct MaskingJsonFormat {
    inner: Format<Json, SystemTime>,
    redactor: Redactor,
}

impl<S, N> FormatEvent<S, N> for MaskingJsonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        let span_name_secret = refresh_spans(ctx, &self.redactor, |text| {
            super::json::redact_json(&self.redactor, text)
        });
        with_buf(&LINE, |line| {
            self.inner
                .format_event(ctx, Writer::new(&mut *line), event)?;
            // A span name to mask: the whole line (span objects included),
            // string by string.
            let region = if span_name_secret {
                0..line.trim_end_matches(['\n', '\r']).len()
            } else {
                super::json::event_region(line)
            };
            match super::json::redact_json(&self.redactor, &line[region.clone()]) {
                Some(masked) => {
                    writer.write_str(&line[..region.start])?;
                    writer.write_str(&masked)?;
                    writer.write_str(&line[region.end..])
                }
                None => writer.write_str(line),
            }
        })
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
        MaskingWriter {
            inner: self.inner.make_writer(),
            redactor: &self.redactor,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        MaskingWriter {
            inner: self.inner.make_writer_for(meta),
            redactor: &self.redactor,
        }
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
///
/// The writer is a type parameter (the default, stdout, is boxed), so the
/// writer given to [`writer`](Self::writer) is called without a boxed
/// writer per event.
pub struct MaskingLayerBuilder<W = BoxMakeWriter> {
    redactor: crate::masking::redactor::RedactorBuilder,
    json: bool,
    ansi: bool,
    target: bool,
    writer: W,
}

impl<W> fmt::Debug for MaskingLayerBuilder<W> {
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

impl<W> MaskingLayerBuilder<W> {
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

    /// Sizes the pool of values the rules (and secret-named fields) found,
    /// which stay masked in later events; see
    /// [`RedactorBuilder::detected_limits`](crate::masking::RedactorBuilder::detected_limits).
    pub fn detected_limits(mut self, limits: crate::detect::DetectedLimits) -> Self {
        self.redactor = self.redactor.detected_limits(limits);
        self
    }

    /// Turns that pool off: a found value is masked in its event only.
    pub fn without_detected(mut self) -> Self {
        self.redactor = self.redactor.without_detected();
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
    pub fn writer<M>(self, make_writer: M) -> MaskingLayerBuilder<M>
    where
        M: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        MaskingLayerBuilder {
            redactor: self.redactor,
            json: self.json,
            ansi: self.ansi,
            target: self.target,
            writer: make_writer,
        }
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
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        Ok(self.build_with_redactor()?.0)
    }

    /// [`build`](Self::build), and the redactor the layer masks with (the
    /// same one, for the panic hook of `install`).
    pub(crate) fn build_with_redactor<S>(
        self,
    ) -> Result<(Box<dyn Layer<S> + Send + Sync + 'static>, Redactor), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let redactor = self.redactor.build()?;
        let shared = redactor.clone();
        let layer: Box<dyn Layer<S> + Send + Sync> = if self.json {
            // The JSON formatter writes event fields itself: the event
            // formatter masks its output (string by string, so the line
            // stays JSON); span fields are masked when formatted.
            let format = MaskingJsonFormat {
                inner: tracing_subscriber::fmt::format()
                    .json()
                    .with_target(self.target)
                    .with_current_span(true)
                    .with_span_list(true),
                redactor: redactor.clone(),
            };
            Box::new(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(MaskingJsonFields { redactor })
                    .event_format(format)
                    .with_writer(self.writer),
            )
        } else {
            // Text: every field, span field and message goes through
            // `MaskingFields`; the event formatter checks span names and
            // the target (and redacts the whole line when one needs it).
            let format = MaskingFormat {
                inner: tracing_subscriber::fmt::format()
                    .with_target(self.target)
                    .with_ansi(self.ansi),
                redactor: redactor.clone(),
            };
            Box::new(
                tracing_subscriber::fmt::layer()
                    .with_ansi(self.ansi)
                    .fmt_fields(MaskingFields::new(redactor))
                    .event_format(format)
                    .with_writer(self.writer),
            )
        };
        Ok((layer, shared))
    }
}

fn clone_builder(
    b: &crate::masking::redactor::RedactorBuilder,
) -> crate::masking::redactor::RedactorBuilder {
    b.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn text_layer(
        known: Arc<KnownSecrets>,
        cap: &Capture,
    ) -> Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync> {
        let cap = cap.clone();
        MaskingLayer::builder()
            .known(known)
            .writer(move || cap.clone())
            .build()
            .unwrap()
    }

    #[test]
    fn a_value_registered_while_a_span_is_open_is_masked_in_its_fields() {
        let known = Arc::new(KnownSecrets::new());
        let cap = Capture::default();
        let subscriber = tracing_subscriber::registry().with(text_layer(known.clone(), &cap));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("job", payload = "late-registered-value-77");
            let _g = span.enter();
            tracing::info!("before");
            known.register("late-registered-value-77");
            tracing::info!("after");
        });
        let out = cap.text();
        let after = out.lines().find(|l| l.contains("after")).unwrap();
        assert!(!after.contains("late-registered-value-77"), "{out}");
        assert!(after.contains("job{payload=\"****\"}"), "{out}");
    }

    #[test]
    fn text_fields_are_masked_in_one_pass_and_keep_the_default_shape() {
        let known = Arc::new(KnownSecrets::new());
        known.register("sekrit-value-1234");
        let cap = Capture::default();
        let subscriber = tracing_subscriber::registry().with(text_layer(known, &cap));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("req", path = "/x", token = "abc123456");
            let _g = span.enter();
            tracing::info!(user = "alice", n = 3, api_key = ?"k-1", blob = %"v sekrit-value-1234", "got {}", "sekrit-value-1234");
        });
        let out = cap.text();
        assert!(
            out.contains("req{path=\"/x\" token=****}: secret_chain::masking::layer::tests: got **** user=\"alice\" n=3 api_key=**** blob=v ****"),
            "{out}"
        );
    }

    #[test]
    fn json_span_fields_are_masked_when_created_and_after_a_registration() {
        let known = Arc::new(KnownSecrets::new());
        let cap = Capture::default();
        let c = cap.clone();
        let layer = MaskingLayer::builder()
            .known(known.clone())
            .json(true)
            .writer(move || c.clone())
            .build()
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "job",
                password = "hunter22xyz",
                payload = "late-registered-value-77",
                n = 5
            );
            let _g = span.enter();
            tracing::info!(user = "alice", "before");
            known.register("late-registered-value-77");
            tracing::info!(token = "abc123456", "after late-registered-value-77");
        });
        let out = cap.text();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("valid JSON"))
            .collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert_eq!(lines[0]["span"]["password"], "****");
        assert_eq!(lines[0]["span"]["payload"], "late-registered-value-77");
        assert_eq!(lines[0]["fields"]["user"], "alice");
        let after = &lines[1];
        assert_eq!(after["span"]["payload"], "****", "{out}");
        assert_eq!(after["spans"][0]["payload"], "****", "{out}");
        assert_eq!(after["span"]["n"], 5);
        assert_eq!(after["fields"]["token"], "****");
        assert_eq!(after["fields"]["message"], "after ****");
    }

    #[test]
    fn terminal_control_characters_in_messages_are_escaped() {
        let cap = Capture::default();
        let subscriber =
            tracing_subscriber::registry().with(text_layer(Arc::new(KnownSecrets::new()), &cap));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("red \x1b[31m bell \x07 c1 \u{9b} end");
        });
        let out = cap.text();
        assert!(
            !out.contains('\x1b') && !out.contains('\x07') && !out.contains('\u{9b}'),
            "{out:?}"
        );
        assert!(
            out.contains("red \\x1b[31m bell \\x07 c1 \\u{9b} end"),
            "{out:?}"
        );
    }

    const TOKEN: &str = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB";

    /// A span named by a token, an event with a token as its literal
    /// target, a `log` record whose target is a known value.
    fn log_names_and_targets(known: &KnownSecrets) {
        known.register("target-known-Value-31");
        let span = tracing::info_span!("ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB", n = 1);
        let _g = span.enter();
        tracing::info!(target: "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB", "literal target");
        tracing_log::format_trace(
            &log::Record::builder()
                .args(format_args!("a log record"))
                .level(log::Level::Info)
                .target("target-known-Value-31")
                .build(),
        )
        .unwrap();
    }

    #[test]
    fn span_names_and_targets_are_masked_in_text() {
        let known = Arc::new(KnownSecrets::new());
        let cap = Capture::default();
        let subscriber = tracing_subscriber::registry().with(text_layer(known.clone(), &cap));
        tracing::subscriber::with_default(subscriber, || log_names_and_targets(&known));
        let out = cap.text();
        assert!(
            !out.contains(TOKEN) && !out.contains("target-known-Value-31"),
            "{out}"
        );
        assert!(
            out.contains("INFO ****{n=1}: ****: literal target"),
            "{out}"
        );
        assert!(out.contains("INFO ****{n=1}: ****: a log record"), "{out}");
    }

    #[test]
    fn span_names_and_targets_are_masked_in_json() {
        let known = Arc::new(KnownSecrets::new());
        let cap = Capture::default();
        let c = cap.clone();
        let layer = MaskingLayer::builder()
            .known(known.clone())
            .json(true)
            .writer(move || c.clone())
            .build()
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || log_names_and_targets(&known));
        let out = cap.text();
        assert!(
            !out.contains(TOKEN) && !out.contains("target-known-Value-31"),
            "{out}"
        );
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("valid JSON"))
            .collect();
        assert_eq!(lines.len(), 2, "{out}");
        for l in &lines {
            assert_eq!(l["target"], "****", "{out}");
            assert_eq!(l["span"]["name"], "****", "{out}");
            assert_eq!(l["spans"][0]["name"], "****", "{out}");
            assert_eq!(l["span"]["n"], 1, "{out}");
        }
        assert_eq!(lines[1]["fields"]["message"], "a log record");
    }

    #[test]
    fn span_names_and_targets_that_look_like_keys_are_kept() {
        let cap = Capture::default();
        let subscriber =
            tracing_subscriber::registry().with(text_layer(Arc::new(KnownSecrets::new()), &cap));
        tracing::subscriber::with_default(subscriber, || {
            let auth = tracing::info_span!("auth");
            let _a = auth.enter();
            let token = tracing::info_span!("token", id = 3);
            let _t = token.enter();
            tracing::info!(target: "app::session", "refreshed");
        });
        let out = cap.text();
        assert!(
            out.contains("INFO auth:token{id=3}: app::session: refreshed"),
            "{out}"
        );
    }

    #[test]
    fn a_span_name_and_a_target_registered_while_in_use_are_masked_after() {
        let known = Arc::new(KnownSecrets::new());
        let cap = Capture::default();
        let subscriber = tracing_subscriber::registry().with(text_layer(known.clone(), &cap));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("late-name-Value-55");
            let _g = span.enter();
            for i in 0..2 {
                if i == 1 {
                    known.register("late-name-Value-55");
                    known.register("late-target-Value-66");
                }
                tracing::info!(target: "late-target-Value-66", "event {i}");
            }
        });
        let out = cap.text();
        let after = out.lines().find(|l| l.contains("event 1")).unwrap();
        assert!(after.contains("INFO ****: ****: event 1"), "{out}");
    }

    #[test]
    fn a_field_that_logs_while_formatted_is_masked_too() {
        struct Noisy;
        impl fmt::Debug for Noisy {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                tracing::info!("inner password=hunter22xyz");
                f.write_str("noisy")
            }
        }
        let cap = Capture::default();
        let subscriber =
            tracing_subscriber::registry().with(text_layer(Arc::new(KnownSecrets::new()), &cap));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(v = ?Noisy, "outer password=hunter22xyz");
        });
        let out = cap.text();
        assert!(!out.contains("hunter22xyz"), "{out}");
        assert!(out.contains("v=noisy"), "{out}");
    }

    #[test]
    fn a_secret_found_in_one_text_event_stays_masked_in_later_events() {
        let cap = Capture::default();
        let subscriber =
            tracing_subscriber::registry().with(text_layer(Arc::new(KnownSecrets::new()), &cap));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("job", payload = "Zq8-Lw3x-Pt7v");
            let _g = span.enter();
            tracing::info!("login password=Zq8-Lw3x-Pt7v and again Zq8-Lw3x-Pt7v");
            tracing::info!(detail = "was Zq8-Lw3x-Pt7v", "retry with Zq8-Lw3x-Pt7v");
            tracing::info!(api_key = "Kq7-Rt5y-Uu9w", "a secret-named field");
            tracing::info!(note = ?"Kq7-Rt5y-Uu9w", "then its value bare");
        });
        let out = cap.text();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(
            lines[0].contains("login password=**** and again ****"),
            "{out}"
        );
        for line in &lines[1..] {
            assert!(!line.contains("Zq8-Lw3x-Pt7v"), "{out}");
            assert!(line.contains("job{payload=\"****\"}"), "{out}");
        }
        assert!(
            lines[1].contains("retry with **** detail=\"was ****\""),
            "{out}"
        );
        assert!(lines[3].contains("note=\"****\""), "{out}");
        assert!(!out.contains("Kq7-Rt5y-Uu9w"), "{out}");
    }

    #[test]
    fn a_secret_found_in_one_json_event_stays_masked_in_later_events() {
        let cap = Capture::default();
        let c = cap.clone();
        let layer = MaskingLayer::builder()
            .json(true)
            .writer(move || c.clone())
            .build()
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                token = "Kq7-Rt5y-Uu9w",
                "url https://svc:Zq8-Lw3x-Pt7v@db/x"
            );
            tracing::info!(user = "Kq7-Rt5y-Uu9w", "retry with Zq8-Lw3x-Pt7v");
        });
        let out = cap.text();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("valid JSON"))
            .collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert_eq!(lines[0]["fields"]["token"], "****");
        assert_eq!(lines[1]["fields"]["user"], "****");
        assert_eq!(lines[1]["fields"]["message"], "retry with ****");
        assert!(
            !out.contains("Kq7-Rt5y-Uu9w") && !out.contains("Zq8-Lw3x-Pt7v"),
            "{out}"
        );
    }

    #[test]
    fn without_the_pool_a_later_bare_copy_is_not_masked() {
        let cap = Capture::default();
        let c = cap.clone();
        let layer = MaskingLayer::builder()
            .without_detected()
            .writer(move || c.clone())
            .build()
            .unwrap();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!("login password=Zq8-Lw3x-Pt7v");
            tracing::info!("retry with Zq8-Lw3x-Pt7v");
        });
        let out = cap.text();
        assert!(out.contains("retry with Zq8-Lw3x-Pt7v"), "{out}");
    }
}
