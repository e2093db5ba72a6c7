//! A value as a provider returns it: the secret's data (text, bytes or a
//! key/value document) and what the backend said about it
//! ([`SecretMetadata`]).
//!
//! Data and metadata travel together from the provider to the chain, which
//! caches the resolved data and keeps the metadata beside it. The data is
//! redacted in `Debug` (only its kind and length show); the metadata holds
//! no value and shows as it is.

use std::fmt;

use secrecy::{ExposeSecret, SecretSlice, SecretString};

use super::metadata::SecretMetadata;

/// The secret's data, as the backend stores it.
///
/// The [`SecretsManager`](crate::SecretsManager) turns it into what the
/// caller asked for: a string, bytes, or one field (`name#field`).
#[non_exhaustive]
pub enum SecretData {
    /// A text value (env var, AWS `SecretString`). With `#field`, it is
    /// parsed as a JSON object.
    Text(SecretString),
    /// A binary value (AWS `SecretBinary`).
    Binary(SecretSlice<u8>),
    /// A key/value document as JSON object text (a Vault KV secret's data).
    /// Without `#field`, a document with exactly one key yields that key's
    /// value; otherwise the whole object is returned as JSON.
    Document(SecretString),
    /// A file's contents exactly as read (a mounted secret file). As bytes
    /// it is handed out untouched; as text it must be UTF-8 (an error
    /// otherwise, never a changed value) and loses one trailing `\n` or
    /// `\r\n`, the newline that editors and `echo` add and that a
    /// password never means. With `#field`, that text is parsed as JSON.
    File(SecretSlice<u8>),
}

impl SecretData {
    /// Length of the data in bytes, for diagnostics that must not show it.
    pub fn len(&self) -> usize {
        match self {
            SecretData::Text(s) | SecretData::Document(s) => s.expose_secret().len(),
            SecretData::Binary(b) | SecretData::File(b) => b.expose_secret().len(),
        }
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn kind(&self) -> &'static str {
        match self {
            SecretData::Text(_) => "Text",
            SecretData::Binary(_) => "Binary",
            SecretData::Document(_) => "Document",
            SecretData::File(_) => "File",
        }
    }
}

/// A file's contents as text ([`SecretData::File`]): UTF-8 (checked before
/// anything is cut, so an error never hides behind a changed value) without
/// one trailing `\n` or `\r\n`.
pub(crate) fn file_text(contents: &[u8]) -> Result<&str, std::str::Utf8Error> {
    let text = std::str::from_utf8(contents)?;
    Ok(text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text))
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}([REDACTED {} bytes])", self.kind(), self.len())
    }
}

/// A value as a provider returns it: its [`SecretData`] and its
/// [`SecretMetadata`].
///
/// ```
/// use secret_chain::providers::{SecretData, SecretMetadata, SecretValue};
/// use secrecy::ExposeSecret;
///
/// let v = SecretValue::text("hunter2-example")
///     .with_metadata(SecretMetadata::new().with_id("DB_PASSWORD"));
/// assert_eq!(v.metadata().id(), Some("DB_PASSWORD"));
/// match v.data() {
///     SecretData::Text(s) => assert_eq!(s.expose_secret(), "hunter2-example"),
///     _ => unreachable!(),
/// }
/// // Debug shows the kind and the length, never the value.
/// assert!(!format!("{v:?}").contains("hunter2"));
/// ```
pub struct SecretValue {
    data: SecretData,
    metadata: SecretMetadata,
}

impl SecretValue {
    /// A value with `data` and no metadata.
    pub fn new(data: SecretData) -> SecretValue {
        SecretValue {
            data,
            metadata: SecretMetadata::default(),
        }
    }

    /// A text value.
    pub fn text(value: impl Into<String>) -> SecretValue {
        SecretValue::new(SecretData::Text(SecretString::from(value.into())))
    }

    /// A binary value.
    pub fn binary(value: Vec<u8>) -> SecretValue {
        SecretValue::new(SecretData::Binary(SecretSlice::from(value)))
    }

    /// A file's contents (see [`SecretData::File`]).
    pub fn file(contents: Vec<u8>) -> SecretValue {
        SecretValue::new(SecretData::File(SecretSlice::from(contents)))
    }

    /// A key/value document: JSON object text (see [`SecretData::Document`]).
    pub fn document(json: impl Into<String>) -> SecretValue {
        SecretValue::new(SecretData::Document(SecretString::from(json.into())))
    }

    /// The value with `metadata` (replacing what it had).
    pub fn with_metadata(mut self, metadata: SecretMetadata) -> SecretValue {
        self.metadata = metadata;
        self
    }

    /// The data.
    pub fn data(&self) -> &SecretData {
        &self.data
    }

    /// What the backend said about the value.
    pub fn metadata(&self) -> &SecretMetadata {
        &self.metadata
    }

    /// The metadata, to change in place.
    pub fn metadata_mut(&mut self) -> &mut SecretMetadata {
        &mut self.metadata
    }

    /// The data and the metadata, apart.
    pub fn into_parts(self) -> (SecretData, SecretMetadata) {
        (self.data, self.metadata)
    }

    /// Length of the value in bytes, for diagnostics that must not show it.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl From<SecretData> for SecretValue {
    fn from(data: SecretData) -> SecretValue {
        SecretValue::new(data)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretValue")
            .field("data", &self.data)
            .field("metadata", &self.metadata)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_kind_length_and_metadata_but_no_value() {
        for v in [
            SecretValue::text("hunter2-very-secret"),
            SecretValue::document(r#"{"p":"hunter2-doc"}"#),
            SecretValue::binary(b"hunter2-binary".to_vec()),
            SecretValue::file(b"hunter2-file\n".to_vec()),
        ] {
            let v = v.with_metadata(SecretMetadata::new().with_id("DB_PASSWORD"));
            let d = format!("{v:?}");
            assert!(!d.contains("hunter2"), "{d}");
            assert!(d.contains(&format!("[REDACTED {} bytes]", v.len())), "{d}");
            assert!(d.contains("DB_PASSWORD"), "{d}");
            assert!(!format!("{:?}", v.data()).contains("hunter2"));
        }
        assert!(format!("{:?}", SecretValue::text("x")).contains("Text("));
    }

    #[test]
    fn file_text_trims_exactly_one_trailing_newline() {
        assert_eq!(file_text(b"pw").unwrap(), "pw");
        assert_eq!(file_text(b"pw\n").unwrap(), "pw");
        assert_eq!(file_text(b"pw\r\n").unwrap(), "pw");
        assert_eq!(file_text(b"pw\n\n").unwrap(), "pw\n");
        assert_eq!(file_text(b"pw\r\n\r\n").unwrap(), "pw\r\n");
        assert_eq!(file_text(b"pw\r").unwrap(), "pw\r");
        assert_eq!(file_text(b" pw \n").unwrap(), " pw ");
        assert_eq!(file_text(b"\n").unwrap(), "");
        assert_eq!(file_text(b"").unwrap(), "");
        assert_eq!(file_text(b"a\xff\n").unwrap_err().valid_up_to(), 1);
    }

    #[test]
    fn into_parts_keeps_data_and_metadata() {
        let v = SecretValue::binary(vec![0, 159, 255])
            .with_metadata(SecretMetadata::new().with_version_id("7"));
        let (data, metadata) = v.into_parts();
        match data {
            SecretData::Binary(b) => assert_eq!(b.expose_secret(), &[0, 159, 255]),
            other => panic!("expected binary, got {other:?}"),
        }
        assert_eq!(metadata.version_id(), Some("7"));
    }
}
