//! Typed loading: [`SecretsManager::load`] fills a `#[derive(Deserialize)]`
//! struct, one secret per field, and reports every missing one at once.
//!
//! How it works, with serde's own machinery and no macro of ours:
//!
//! 1. the struct's field names are learnt from `deserialize_struct`, which
//!    a derived `Deserialize` calls with the list of its (renamed) fields
//!    (`FieldNames` below answers it with an error that carries the list);
//! 2. every field's path is read in one [`prefetch`](SecretsManager::prefetch):
//!    concurrently, in batches, each failure with each provider's outcome;
//! 3. a field that every provider said "not found" for is probed: the
//!    struct is deserialized from a map holding only that field, whose value
//!    answers `deserialize_option` (an `Option<...>` field: optional) or
//!    anything else (required) with an error that says which;
//! 4. when no required field is missing, the struct is deserialized from
//!    a map of the fields that were found (missing optional ones are left
//!    out, which serde turns into `None`): a `str`/`String` request
//!    (`String`, `SecretString`, `PathBuf`, `Url`, ...) gets the raw text, a
//!    unit enum variant its name, every other type the text parsed as JSON.
//!
//! No error holds a value: serde's "invalid value" messages are rewritten
//! without the value they quote, JSON errors keep only line and column, and
//! a custom message of the field's own type is masked with the manager's
//! known values.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

use super::SecretsManager;
use super::fallback::is_missing_everywhere;
use crate::error::{Error, ErrorKind};

impl SecretsManager {
    /// Reads a struct's fields as secrets: each field from the path named
    /// by its `#[serde(rename = "database/url")]`, or, without a rename,
    /// from the path equal to its name (`database_url`, which the env
    /// provider reads as `DATABASE_URL`). `#field` paths work
    /// (`rename = "db#password"`).
    ///
    /// - a [`SecretString`] or `String` field (and every type that
    ///   deserializes from a string: `PathBuf`, `Url`, `SocketAddr`, ...)
    ///   gets the raw text;
    /// - an enum of unit variants gets the text as the variant's name;
    /// - any other type (numbers, booleans, `Vec`, maps, nested structs)
    ///   gets the text parsed as JSON;
    /// - an `Option<...>` field (or one with `#[serde(default)]`) is
    ///   optional: `None` when every provider said it does not exist.
    ///
    /// All paths are read at once through [`prefetch`](Self::prefetch), so
    /// they are fetched concurrently and in batches, and then stay cached
    /// like any read. `#[serde(flatten)]` is not supported; aliases are read
    /// as paths of their own.
    ///
    /// # Errors
    ///
    /// When required fields are missing or cannot be read: one error that
    /// names every one of them, with each one's error in
    /// [`Error::failures`] (its [`path`](Error::path) and each provider's
    /// [outcome](Error::outcomes)); its kind is [`ErrorKind::NotFound`]
    /// when they are all missing. [`ErrorKind::InvalidJson`] or
    /// [`ErrorKind::InvalidValue`] naming the path when a value does not
    /// fit its field's type (never the value), [`ErrorKind::Config`] when
    /// `T` is not a struct with named fields.
    ///
    /// # Example
    ///
    /// ```
    /// use secret_chain::{SecretString, SecretsManager, ExposeSecret};
    /// use secret_chain::providers::EnvProvider;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Settings {
    ///     #[serde(rename = "database/url")]
    ///     database_url: SecretString,
    ///     #[serde(rename = "database/pool-size")]
    ///     pool_size: u32,
    ///     #[serde(rename = "stripe/api-key")]
    ///     stripe_key: Option<SecretString>,
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = SecretsManager::builder()
    ///     .provider(EnvProvider::from_vars([
    ///         ("DATABASE_URL", "postgres://app:pw-123456@db/app"),
    ///         ("DATABASE_POOL_SIZE", "16"),
    ///     ]))
    ///     .build()?;
    /// let settings: Settings = manager.load().await?;
    /// assert_eq!(settings.database_url.expose_secret(), "postgres://app:pw-123456@db/app");
    /// assert_eq!(settings.pool_size, 16);
    /// assert!(settings.stripe_key.is_none());
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Missing { api_token: SecretString, signing_key: SecretString }
    /// let e = manager.load::<Missing>().await.unwrap_err();
    /// assert_eq!(e.failures().len(), 2, "every missing field at once");
    /// # Ok::<(), secret_chain::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn load<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let (name, fields) = struct_fields::<T>()?;
        let mut failed: Vec<(usize, Error)> = Vec::new();
        if let Err(e) = self.prefetch(fields.iter().copied()).await {
            for f in e.failures() {
                if let Some(i) = f.path().and_then(|p| fields.iter().position(|x| *x == p)) {
                    failed.push((i, f.clone()));
                }
            }
            if failed.is_empty() {
                return Err(e);
            }
        }
        let mut found: Vec<(&'static str, SecretString)> = Vec::with_capacity(fields.len());
        for (i, path) in fields.iter().enumerate() {
            if failed.iter().any(|(k, _)| *k == i) {
                continue;
            }
            // A cache hit after the prefetch (a fetch when the cache is off).
            match self.get_secret(path).await {
                Ok(v) => found.push((path, v)),
                Err(e) => failed.push((i, e)),
            }
        }
        failed.sort_by_key(|(i, _)| *i);
        // Missing everywhere and optional (`Option`, `#[serde(default)]`):
        // left out, serde fills it in.
        let missing: Vec<usize> = failed
            .iter()
            .filter(|(i, e)| is_missing_everywhere(e) && !is_optional::<T>(fields[*i]))
            .map(|(i, _)| *i)
            .collect();
        let required = self.required_among::<T>(fields, &found, missing);
        failed.retain(|(i, e)| !is_missing_everywhere(e) || required.contains(i));
        if !failed.is_empty() {
            return Err(load_error(
                name,
                fields.len(),
                failed.into_iter().map(|(_, e)| e).collect(),
            ));
        }
        let entries: Vec<_> = found.iter().map(|(p, v)| (*p, Some(v))).collect();
        self.deserialize_fields::<T>(&entries)
            .map_err(|e| e.into_error(name))
    }

    /// `T` from `entries`: a text each, or a stand-in zero value (`None`).
    fn deserialize_fields<'a, T: DeserializeOwned>(
        &'a self,
        entries: &'a [(&'static str, Option<&'a SecretString>)],
    ) -> Result<T, DeError> {
        let mut map = Fields {
            manager: self,
            entries: entries.iter(),
            current: None,
        };
        T::deserialize(StructOf(&mut map))
    }

    /// Which of the `missing` fields (not `Option`s) `T` cannot do without:
    /// a field with `#[serde(default)]` can. serde names the first field
    /// it misses; that one is given a stand-in zero value and `T` is tried
    /// again, until it builds. When a stand-in does not fit its type (a
    /// nested struct), every missing field is taken as required.
    fn required_among<T: DeserializeOwned>(
        &self,
        fields: &'static [&'static str],
        found: &[(&'static str, SecretString)],
        missing: Vec<usize>,
    ) -> Vec<usize> {
        if missing.is_empty() {
            return missing;
        }
        let mut required: Vec<usize> = Vec::new();
        while required.len() < missing.len() {
            let mut entries: Vec<_> = found.iter().map(|(p, v)| (*p, Some(v))).collect();
            entries.extend(required.iter().map(|&i| (fields[i], None)));
            match self.deserialize_fields::<T>(&entries) {
                Ok(_) => break,
                Err(DeError::Missing(field)) => {
                    match missing.iter().find(|&&i| fields[i] == field) {
                        Some(&i) if !required.contains(&i) => required.push(i),
                        _ => return missing,
                    }
                }
                // A found value that does not fit: that error is the
                // load's once the fields known to be required are there.
                Err(DeError::Field { .. }) => break,
                Err(_) => return missing,
            }
        }
        required.sort_unstable();
        required
    }
}

/// Reads a struct's fields as secrets through the global manager; see
/// [`SecretsManager::load`].
///
/// # Errors
///
/// As [`SecretsManager::load`], plus the configuration error of
/// [`global`](crate::global).
pub async fn load<T: DeserializeOwned>() -> Result<T, Error> {
    super::global::global()?.load().await
}

/// Blocking twin of [`load`]; see [`SecretsManager::load_blocking`].
///
/// # Errors
///
/// As [`SecretsManager::load_blocking`].
pub fn load_blocking<T: DeserializeOwned>() -> Result<T, Error> {
    super::global::global()?.load_blocking()
}

impl SecretsManager {
    /// Blocking [`load`](Self::load), for synchronous start-up code.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), plus [`ErrorKind::BlockingInRuntime`] when
    /// called from inside an async runtime.
    pub fn load_blocking<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.block_on("load_blocking", self.load::<T>())
    }
}

/// The one error of a load with failed fields, in the struct's order.
fn load_error(name: &str, total: usize, failures: Vec<Error>) -> Error {
    let all_missing = failures.iter().all(is_missing_everywhere);
    let first = failures.first().map_or(ErrorKind::NotFound, Error::kind);
    let kind = if failures.iter().all(|e| e.kind() == first) {
        first
    } else if failures.iter().any(|e| e.kind() == ErrorKind::Unavailable) {
        ErrorKind::Unavailable
    } else {
        first
    };
    let what = if all_missing { "missing" } else { "failed" };
    let mut msg = format!(
        "cannot load {name}: {} of {total} secrets {what}:",
        failures.len()
    );
    for e in &failures {
        msg.push_str(&format!(" [{e}]"));
    }
    Error::new(kind, msg).with_failures(failures)
}

// ---------------------------------------------------------------------------
// Step 1: the field names
// ---------------------------------------------------------------------------

/// The struct's name and its fields' names (renames applied), in order.
fn struct_fields<T: DeserializeOwned>() -> Result<(&'static str, &'static [&'static str]), Error> {
    match T::deserialize(FieldNames) {
        Err(DeError::Fields(name, fields)) => Ok((name, fields)),
        _ => Err(Error::config(format!(
            "load needs a struct with named fields; {} is not one (or uses #[serde(flatten)])",
            std::any::type_name::<T>()
        ))),
    }
}

/// Answers `deserialize_struct` with the field list, anything else with "not
/// a struct".
struct FieldNames;

impl<'de> de::Deserializer<'de> for FieldNames {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(DeError::NotAStruct)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, DeError> {
        Err(DeError::Fields(name, fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

// ---------------------------------------------------------------------------
// Step 3: is a missing field optional?
// ---------------------------------------------------------------------------

/// Whether `field` of `T` may be missing: `T` is deserialized from a map
/// holding only that field, whose value reports what it was asked for.
fn is_optional<T: DeserializeOwned>(field: &'static str) -> bool {
    let probe = ProbeMap { key: Some(field) };
    matches!(T::deserialize(StructOf(probe)), Err(DeError::Probe(true)))
}

struct ProbeMap {
    key: Option<&'static str>,
}

impl<'de> MapAccess<'de> for ProbeMap {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.key.take() {
            Some(k) => seed.deserialize(k.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        seed.deserialize(Probe)
    }
}

/// A field's value that answers `deserialize_option` with "optional" and
/// anything else with "required".
struct Probe;

impl<'de> de::Deserializer<'de> for Probe {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(DeError::Probe(false))
    }

    fn deserialize_option<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(DeError::Probe(true))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

// ---------------------------------------------------------------------------
// Step 4: the struct from the fetched texts
// ---------------------------------------------------------------------------

/// A struct deserializer over a map: `deserialize_struct` (and whatever
/// else a struct asks for) visits the map.
struct StructOf<M>(M);

impl<'de, M: MapAccess<'de, Error = DeError>> de::Deserializer<'de> for StructOf<M> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The fields that were found, each with its text.
struct Fields<'a> {
    manager: &'a SecretsManager,
    entries: std::slice::Iter<'a, (&'static str, Option<&'a SecretString>)>,
    current: Option<&'a (&'static str, Option<&'a SecretString>)>,
}

impl<'de> MapAccess<'de> for &mut Fields<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        self.current = self.entries.next();
        match self.current {
            Some((path, _)) => seed.deserialize((*path).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(&(path, text)) = self.current else {
            return Err(DeError::Message(
                "a value was asked for before its key".into(),
            ));
        };
        let Some(text) = text else {
            return seed.deserialize(Zero);
        };
        let text = text.expose_secret();
        seed.deserialize(Text { text }).map_err(|e| match e {
            DeError::Missing(f) => DeError::Field {
                path,
                kind: ErrorKind::InvalidJson,
                detail: format!("is not the expected JSON: missing field `{f}`"),
            },
            DeError::Message(m) => DeError::Field {
                path,
                kind: ErrorKind::InvalidValue,
                detail: self.scrub(m, text),
            },
            DeError::Json(e) => DeError::Field {
                path,
                kind: ErrorKind::InvalidJson,
                detail: format!(
                    "is not the expected JSON: {}",
                    crate::error::describe_json_error(&e)
                ),
            },
            other => other,
        })
    }
}

impl Fields<'_> {
    /// A message of the field's own type, with the text (and any value the
    /// manager knows) masked.
    fn scrub(&self, message: String, text: &str) -> String {
        let mut m = message;
        if text.len() >= 4 && m.contains(text) {
            m = m.replace(text, crate::masking::DEFAULT_MASK);
        }
        let mut spans = Vec::new();
        self.manager.known_secrets().find(&m, &mut spans);
        if !spans.is_empty() {
            m = mask_spans(&m, &spans);
        }
        format!("cannot be read as its field's type: {m}")
    }
}

/// `text` with each (sorted) span replaced by the mask, widened to
/// character boundaries.
fn mask_spans(text: &str, spans: &[std::ops::Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for r in spans {
        let mut s = r.start.max(last);
        while !text.is_char_boundary(s) {
            s -= 1;
        }
        let mut e = r.end.max(s).min(text.len());
        while !text.is_char_boundary(e) {
            e += 1;
        }
        out.push_str(&text[last..s.max(last)]);
        out.push_str(crate::masking::DEFAULT_MASK);
        last = e.max(last);
    }
    out.push_str(&text[last..]);
    out
}

/// One field's text: raw for string requests, JSON for the rest.
struct Text<'de> {
    text: &'de str,
}

impl<'de> Text<'de> {
    fn json(&self) -> serde_json::Deserializer<serde_json::de::StrRead<'de>> {
        serde_json::Deserializer::from_str(self.text)
    }
}

/// Deserializes from the text as JSON, the whole text (trailing
/// characters are an error too).
macro_rules! json {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let mut de = self.json();
            let v = de::Deserializer::$method(&mut de, visitor).map_err(DeError::Json)?;
            de.end().map_err(DeError::Json)?;
            Ok(v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Text<'de> {
    type Error = DeError;

    json! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_unit
        deserialize_seq deserialize_map deserialize_ignored_any
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.text)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.text)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.text)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.text)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bytes(self.text.as_bytes())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bytes(self.text.as_bytes())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut de = self.json();
        let v = de::Deserializer::deserialize_unit_struct(&mut de, name, visitor)
            .map_err(DeError::Json)?;
        de.end().map_err(DeError::Json)?;
        Ok(v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut de = self.json();
        let v =
            de::Deserializer::deserialize_tuple(&mut de, len, visitor).map_err(DeError::Json)?;
        de.end().map_err(DeError::Json)?;
        Ok(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut de = self.json();
        let v = de::Deserializer::deserialize_tuple_struct(&mut de, name, len, visitor)
            .map_err(DeError::Json)?;
        de.end().map_err(DeError::Json)?;
        Ok(v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut de = self.json();
        let v = de::Deserializer::deserialize_struct(&mut de, name, fields, visitor)
            .map_err(DeError::Json)?;
        de.end().map_err(DeError::Json)?;
        Ok(v)
    }

    /// A unit variant by its name (`debug`), or JSON (`"debug"`,
    /// `{"Tcp": 5432}`).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let t = self.text.trim_start();
        if t.starts_with('{') || t.starts_with('"') {
            let mut de = self.json();
            let v = de::Deserializer::deserialize_enum(&mut de, name, variants, visitor)
                .map_err(DeError::Json)?;
            de.end().map_err(DeError::Json)?;
            return Ok(v);
        }
        visitor.visit_enum(de::value::StrDeserializer::<DeError>::new(self.text))
    }
}

/// Forwards each method to the one after `=>`.
macro_rules! zero_as {
    ($($($method:ident)* => $to:ident;)*) => {$($(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.$to(visitor)
        }
    )*)*};
}

/// A stand-in for a missing field while finding which fields are
/// required: the zero value of scalars, strings, sequences and maps.
struct Zero;

impl<'de> de::Deserializer<'de> for Zero {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bool(false)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i64(0)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(0)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_f64(0.0)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str("")
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bytes(&[])
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_none()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(de::value::SeqDeserializer::<_, DeError>::new(
            std::iter::empty::<()>(),
        ))
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(de::value::MapDeserializer::<_, DeError>::new(
            std::iter::empty::<((), ())>(),
        ))
    }

    serde::forward_to_deserialize_any! {
        unit unit_struct tuple tuple_struct struct enum identifier ignored_any
    }

    zero_as! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i128 => deserialize_i64;
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u128 => deserialize_u64;
        deserialize_f32 => deserialize_f64;
        deserialize_char deserialize_string => deserialize_str;
        deserialize_byte_buf => deserialize_bytes;
    }
}

// ---------------------------------------------------------------------------
// The deserializers' error
// ---------------------------------------------------------------------------

/// The error of the deserializers above; never holds a value.
#[derive(Debug)]
enum DeError {
    /// From `FieldNames`: the struct's name and fields.
    Fields(&'static str, &'static [&'static str]),
    /// `T` is not a struct.
    NotAStruct,
    /// From `Probe`: whether the field is optional.
    Probe(bool),
    /// A field's value is not JSON of its type (line and column only).
    Json(serde_json::Error),
    /// serde's message, without the value it would quote.
    Message(String),
    /// serde missed a field that has no default.
    Missing(&'static str),
    /// A field's error, with its path.
    Field {
        path: &'static str,
        kind: ErrorKind,
        detail: String,
    },
}

impl DeError {
    fn into_error(self, name: &str) -> Error {
        match self {
            DeError::Field { path, kind, detail } => Error::new(
                kind,
                format!("cannot load {name}: secret '{path}' {detail}"),
            )
            .with_path(path),
            DeError::Json(e) => Error::new(
                ErrorKind::InvalidJson,
                format!(
                    "cannot load {name}: {}",
                    crate::error::describe_json_error(&e)
                ),
            ),
            DeError::Message(m) => {
                Error::new(ErrorKind::InvalidValue, format!("cannot load {name}: {m}"))
            }
            DeError::Missing(f) => Error::new(
                ErrorKind::NotFound,
                format!("cannot load {name}: field `{f}` is missing"),
            ),
            DeError::Fields(..) | DeError::NotAStruct | DeError::Probe(_) => Error::config(
                format!("cannot load {name}: it is not a struct with named fields"),
            ),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::Fields(name, _) => write!(f, "struct {name}"),
            DeError::NotAStruct => f.write_str("not a struct"),
            DeError::Probe(optional) => write!(f, "probe (optional: {optional})"),
            DeError::Json(e) => f.write_str(&crate::error::describe_json_error(e)),
            DeError::Message(m) => f.write_str(m),
            DeError::Missing(field) => write!(f, "missing field `{field}`"),
            DeError::Field { path, detail, .. } => write!(f, "secret '{path}' {detail}"),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        DeError::Message(msg.to_string())
    }

    // serde's defaults quote the unexpected value: that is the secret.
    fn invalid_type(_: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::Message(format!("invalid type: expected {exp}"))
    }

    fn invalid_value(_: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::Message(format!("invalid value: expected {exp}"))
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::Message(format!("invalid length {len}: expected {exp}"))
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        DeError::Message(format!("unknown variant: expected one of {expected:?}"))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::Message(format!(
            "unknown field `{field}`: expected one of {expected:?}"
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::Missing(field)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::Ordering;

    use secrecy::{ExposeSecret, SecretString};
    use serde::Deserialize;

    use crate::chain::SecretsManager;
    use crate::chain::test_support::{Batched, env, rt};
    use crate::error::ErrorKind;

    #[derive(Debug, Deserialize, PartialEq, Eq)]
    #[serde(rename_all = "lowercase")]
    enum Level {
        Debug,
        Info,
    }

    #[derive(Debug, Deserialize)]
    struct Settings {
        #[serde(rename = "database/url")]
        database_url: SecretString,
        api_user: String,
        #[serde(rename = "database/pool-size")]
        pool_size: u16,
        #[serde(rename = "feature/flags")]
        flags: Vec<String>,
        #[serde(rename = "limits")]
        limits: BTreeMap<String, u32>,
        #[serde(rename = "log/level")]
        level: Level,
        #[serde(rename = "db#password")]
        db_password: SecretString,
        #[serde(rename = "stripe/api-key")]
        stripe_key: Option<SecretString>,
        #[serde(rename = "retry/count")]
        retries: Option<u8>,
        #[serde(rename = "timeout", default)]
        timeout: u32,
    }

    fn full() -> Vec<(&'static str, &'static str)> {
        vec![
            ("DATABASE_URL", "postgres://app:load-pw-1@db/app"),
            ("API_USER", "  svc-user  "),
            ("DATABASE_POOL_SIZE", "16"),
            ("FEATURE_FLAGS", r#"["a","b"]"#),
            ("LIMITS", r#"{"rps": 100}"#),
            ("LOG_LEVEL", "debug"),
            ("DB", r#"{"password":"load-pw-2"}"#),
            ("RETRY_COUNT", "3"),
        ]
    }

    #[test]
    fn fields_get_raw_text_json_and_none_for_missing_optional_ones() {
        let m = SecretsManager::builder()
            .provider(env(&full()))
            .build()
            .unwrap();
        let s: Settings = rt().block_on(m.load()).unwrap();
        assert_eq!(
            s.database_url.expose_secret(),
            "postgres://app:load-pw-1@db/app"
        );
        assert_eq!(s.api_user, "  svc-user  ", "raw, not trimmed nor parsed");
        assert_eq!(s.pool_size, 16);
        assert_eq!(s.flags, ["a", "b"]);
        assert_eq!(s.limits["rps"], 100);
        assert_eq!(s.level, Level::Debug);
        assert_eq!(s.db_password.expose_secret(), "load-pw-2");
        assert!(s.stripe_key.is_none());
        assert_eq!(s.retries, Some(3));
        assert_eq!(s.timeout, 0, "serde(default) makes a field optional");
        assert!(!m.known_secrets().is_empty(), "registered for masking");
    }

    #[test]
    fn all_paths_are_read_in_one_batch() {
        let p = Batched::new("aws", &[("a", "value-a-1"), ("b", "2"), ("c", "value-c-3")]);
        let m = SecretsManager::builder()
            .provider(p.clone())
            .build()
            .unwrap();
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Abc {
            a: SecretString,
            b: u8,
            c: Option<String>,
            d: Option<String>,
        }
        let v: Abc = rt().block_on(m.load()).unwrap();
        assert_eq!(v.b, 2);
        assert_eq!(p.batches().len(), 1, "{:?}", p.batches());
        assert_eq!(p.singles.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn every_missing_required_field_is_reported_at_once() {
        let mut vars = full();
        vars.retain(|(k, _)| !matches!(*k, "DATABASE_URL" | "FEATURE_FLAGS" | "RETRY_COUNT"));
        let m = SecretsManager::builder()
            .provider(env(&vars))
            .build()
            .unwrap();
        let e = rt().block_on(m.load::<Settings>()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let failed: Vec<_> = e.failures().iter().map(|f| f.path().unwrap()).collect();
        assert_eq!(failed, ["database/url", "feature/flags"], "{e}");
        assert_eq!(
            e.failures()[0].outcomes()[0].detail,
            "not found (DATABASE_URL)"
        );
        let text = e.to_string();
        assert!(
            text.starts_with("cannot load Settings: 2 of 10 secrets missing: [secret 'database/url' not found: env: not found (DATABASE_URL)]"),
            "{text}"
        );
        assert!(!format!("{e} {e:?}").contains("load-pw"), "{e:?}");
    }

    #[test]
    fn fields_with_defaults_between_missing_ones_are_not_reported() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Mixed {
            #[serde(default)]
            a: u32,
            b: String,
            #[serde(default)]
            c: String,
            d: Vec<u8>,
            #[serde(default)]
            e: bool,
            f: SecretString,
        }
        let m = SecretsManager::builder()
            .provider(env(&[("F", "value-f-1")]))
            .build()
            .unwrap();
        let e = rt().block_on(m.load::<Mixed>()).unwrap_err();
        let failed: Vec<_> = e.failures().iter().map(|f| f.path().unwrap()).collect();
        assert_eq!(failed, ["b", "d"], "{e}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_path_not_the_value() {
        let mut vars = full();
        vars.retain(|(k, _)| *k != "DATABASE_POOL_SIZE");
        vars.push(("DATABASE_POOL_SIZE", "sixteen-pw-3"));
        let m = SecretsManager::builder()
            .provider(env(&vars))
            .build()
            .unwrap();
        let e = rt().block_on(m.load::<Settings>()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson);
        assert_eq!(e.path(), Some("database/pool-size"));
        assert!(
            e.to_string().starts_with(
                "cannot load Settings: secret 'database/pool-size' is not the expected JSON"
            ),
            "{e}"
        );
        assert!(!format!("{e} {e:?}").contains("sixteen"), "{e:?}");

        // serde's own messages quote the value: not ours.
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct OneChar {
            c: char,
            l: Level,
        }
        let m = SecretsManager::builder()
            .provider(env(&[("C", "not-one-char-pw-4"), ("L", "info")]))
            .build()
            .unwrap();
        let e = rt().block_on(m.load::<OneChar>()).unwrap_err();
        assert_eq!((e.kind(), e.path()), (ErrorKind::InvalidValue, Some("c")));
        assert!(!format!("{e} {e:?}").contains("pw-4"), "{e:?}");
        let m = SecretsManager::builder()
            .provider(env(&[("C", "x"), ("L", "trace-pw-5")]))
            .build()
            .unwrap();
        let e = rt().block_on(m.load::<OneChar>()).unwrap_err();
        assert_eq!(e.path(), Some("l"), "{e}");
        assert!(!format!("{e} {e:?}").contains("pw-5"), "{e:?}");
    }

    #[test]
    fn an_unavailable_backend_is_not_a_missing_optional_field() {
        let mut down = Batched::new("vault", &[]);
        down.answer = Some(ErrorKind::Unavailable);
        let m = SecretsManager::builder()
            .provider(down)
            .provider(env(&[("A", "value-a-1")]))
            .retries(
                0,
                std::time::Duration::from_millis(1),
                std::time::Duration::from_millis(1),
            )
            .build()
            .unwrap();
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Opt {
            a: String,
            b: Option<String>,
        }
        let e = rt().block_on(m.load::<Opt>()).unwrap_err();
        assert_eq!(e.failures().len(), 1);
        assert_eq!(e.failures()[0].path(), Some("b"));
        assert!(e.to_string().contains("1 of 2 secrets failed"), "{e}");
    }

    #[test]
    fn only_structs_with_named_fields_load() {
        let m = SecretsManager::builder()
            .provider(env(&[]))
            .build()
            .unwrap();
        let e = rt().block_on(m.load::<String>()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("struct with named fields"), "{e}");
        let e = rt().block_on(m.load::<(u8, u8)>()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }

    #[test]
    fn load_blocking_works_outside_a_runtime() {
        let m = SecretsManager::builder()
            .provider(env(&full()))
            .build()
            .unwrap();
        let s: Settings = m.load_blocking().unwrap();
        assert_eq!(s.pool_size, 16);
        let e = rt()
            .block_on(async { m.load_blocking::<Settings>() })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BlockingInRuntime);
    }
}
