//! Secret paths (`name#field`) and turning a provider's value into what the
//! caller asked for.

use secrecy::{ExposeSecret, SecretSlice, SecretString};
use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind, describe_json_error};
use crate::providers::{SecretData, file_text};

/// A parsed secret path: the secret's name and an optional JSON field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SecretPath<'a> {
    pub(crate) name: &'a str,
    pub(crate) field: Option<&'a str>,
}

impl<'a> SecretPath<'a> {
    /// Parses `name` or `name#field`.
    pub(crate) fn parse(path: &'a str) -> Result<SecretPath<'a>, Error> {
        if path.contains('\0') {
            return Err(Error::new(
                ErrorKind::InvalidPath,
                "secret path contains a NUL character",
            ));
        }
        let (name, field) = match path.split_once('#') {
            Some((n, f)) => (n, Some(f)),
            None => (path, None),
        };
        if name.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidPath,
                format!("secret path '{path}' has an empty name"),
            ));
        }
        if field.is_some_and(|f| f.is_empty()) {
            return Err(Error::new(
                ErrorKind::InvalidPath,
                format!("secret path '{path}' has an empty field after '#'"),
            ));
        }
        Ok(SecretPath { name, field })
    }
}

/// A value ready to hand out: what the cache stores.
pub(crate) enum Resolved {
    Text(SecretString),
    Bytes(SecretSlice<u8>),
    /// A file's contents as read: text and bytes differ
    /// ([`SecretData::File`]), so the cache keeps the bytes.
    File(SecretSlice<u8>),
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolved::Text(_) => f.write_str("Resolved::Text([REDACTED])"),
            Resolved::Bytes(_) => f.write_str("Resolved::Bytes([REDACTED])"),
            Resolved::File(_) => f.write_str("Resolved::File([REDACTED])"),
        }
    }
}

impl Clone for Resolved {
    fn clone(&self) -> Self {
        match self {
            Resolved::Text(s) => Resolved::Text(s.clone()),
            Resolved::Bytes(b) => Resolved::Bytes(b.clone()),
            Resolved::File(b) => Resolved::File(b.clone()),
        }
    }
}

impl Resolved {
    /// The value as text.
    pub(crate) fn to_text(&self, path: &str, provider: &str) -> Result<SecretString, Error> {
        match self {
            Resolved::Text(s) => Ok(s.clone()),
            Resolved::Bytes(b) => match std::str::from_utf8(b.expose_secret()) {
                Ok(s) => Ok(SecretString::from(s)),
                Err(_) => Err(Error::new(
                    ErrorKind::InvalidValue,
                    format!(
                        "secret '{path}' from {provider} is binary and not valid UTF-8; read it with get_secret_bytes"
                    ),
                )
                .with_provider(provider)),
            },
            Resolved::File(b) => file_text(b.expose_secret())
                .map(SecretString::from)
                .map_err(|e| not_utf8_file(path, provider, &e)),
        }
    }

    /// The value as bytes.
    pub(crate) fn to_bytes(&self) -> SecretSlice<u8> {
        match self {
            Resolved::Text(s) => SecretSlice::from(s.expose_secret().as_bytes().to_vec()),
            Resolved::Bytes(b) | Resolved::File(b) => b.clone(),
        }
    }
}

/// A text read of a file that is not UTF-8: named by its path and the
/// offset of the first bad byte, which tells a binary file from one saved
/// in another encoding without showing any of it.
fn not_utf8_file(path: &str, provider: &str, e: &std::str::Utf8Error) -> Error {
    Error::new(
        ErrorKind::InvalidValue,
        format!(
            "secret '{path}' from {provider} is a file that is not valid UTF-8 text \
             (the first bad byte is at offset {}); read it with get_secret_bytes",
            e.valid_up_to()
        ),
    )
    .with_provider(provider)
}

/// Applies the path's field selection (and the document rule) to a value.
pub(crate) fn resolve(
    value: SecretData,
    path: &SecretPath<'_>,
    full_path: &str,
    provider: &str,
) -> Result<Resolved, Error> {
    match (value, path.field) {
        (SecretData::Text(s), None) => Ok(Resolved::Text(s)),
        (SecretData::Binary(b), None) => Ok(Resolved::Bytes(b)),
        (SecretData::File(b), None) => Ok(Resolved::File(b)),
        (SecretData::Document(doc), None) => {
            let parsed = parse_object(doc.expose_secret(), full_path, provider, None)?;
            if parsed.len() == 1 {
                let (_, v) = parsed.into_iter().next().expect("one entry");
                Ok(Resolved::Text(json_to_secret(v)))
            } else {
                Ok(Resolved::Text(doc))
            }
        }
        (SecretData::Text(s) | SecretData::Document(s), Some(field)) => {
            select_field(s.expose_secret(), full_path, provider, field)
        }
        (SecretData::Binary(b), Some(field)) => match std::str::from_utf8(b.expose_secret()) {
            Ok(text) => select_field(text, full_path, provider, field),
            Err(_) => Err(invalid_json(
                full_path,
                provider,
                Some(field),
                "the value is binary, not JSON",
            )),
        },
        (SecretData::File(b), Some(field)) => match file_text(b.expose_secret()) {
            Ok(text) => select_field(text, full_path, provider, field),
            Err(e) => Err(not_utf8_file(full_path, provider, &e)),
        },
    }
}

fn select_field(
    text: &str,
    full_path: &str,
    provider: &str,
    field: &str,
) -> Result<Resolved, Error> {
    let obj = parse_object(text, full_path, provider, Some(field))?;
    match obj.get(field).copied() {
        Some(v) => Ok(Resolved::Text(json_to_secret(v))),
        None => Err(invalid_json(
            full_path,
            provider,
            Some(field),
            "the JSON object has no such field",
        )),
    }
}

/// The top-level fields of a JSON object, each as its exact text: a field
/// is handed out as written (`123456789012345678901234567890` stays that,
/// not `1.2345678901234568e+29`; a nested object keeps its spacing), never
/// re-serialized through an `f64`.
fn parse_object<'t>(
    text: &'t str,
    full_path: &str,
    provider: &str,
    field: Option<&str>,
) -> Result<HashMap<String, &'t RawValue>, Error> {
    match serde_json::from_str::<HashMap<String, &RawValue>>(text) {
        Ok(m) => Ok(m),
        Err(e) => {
            let why = match serde_json::from_str::<&RawValue>(text) {
                Ok(_) => "the value is JSON but not an object".to_owned(),
                Err(_) => describe_json_error(&e),
            };
            Err(invalid_json(full_path, provider, field, &why))
        }
    }
}

fn invalid_json(full_path: &str, provider: &str, field: Option<&str>, why: &str) -> Error {
    let msg = match field {
        Some(f) => {
            format!("secret '{full_path}' from {provider}: cannot select field '{f}': {why}")
        }
        None => format!("secret '{full_path}' from {provider}: {why}"),
    };
    Error::new(ErrorKind::InvalidJson, msg).with_provider(provider)
}

/// A field's value as text: a JSON string decoded, anything else exactly as
/// it is written in the secret.
fn json_to_secret(v: &RawValue) -> SecretString {
    let raw = v.get();
    if raw.starts_with('"')
        && let Ok(s) = serde_json::from_str::<String>(raw)
    {
        return SecretString::from(s);
    }
    SecretString::from(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_handed_out_exactly_as_written() {
        let doc = r#"{"n":123456789012345678901234567890,"f":1.10,"o":{"a": [1, 2]},"s":"x\u0041","t":true}"#;
        let field = |f: &str| {
            text(
                resolve(
                    text_data(doc),
                    &SecretPath::parse(&format!("k#{f}")).unwrap(),
                    "k",
                    "env",
                )
                .unwrap(),
            )
        };
        assert_eq!(field("n"), "123456789012345678901234567890");
        assert_eq!(field("f"), "1.10");
        assert_eq!(field("o"), r#"{"a": [1, 2]}"#);
        assert_eq!(field("s"), "xA");
        assert_eq!(field("t"), "true");
        let one = SecretData::Document(SecretString::from(r#"{"value": 18446744073709551616}"#));
        assert_eq!(
            text(resolve(one, &SecretPath::parse("k").unwrap(), "k", "vault").unwrap()),
            "18446744073709551616"
        );
    }

    fn text_data(s: &str) -> SecretData {
        SecretData::Text(SecretString::from(s))
    }

    fn text(r: Resolved) -> String {
        match r {
            Resolved::Text(s) => s.expose_secret().to_owned(),
            Resolved::Bytes(_) | Resolved::File(_) => panic!("bytes"),
        }
    }

    #[test]
    fn paths_split_on_the_first_hash() {
        let p = SecretPath::parse("db/creds#password").unwrap();
        assert_eq!(p.name, "db/creds");
        assert_eq!(p.field, Some("password"));
        assert_eq!(SecretPath::parse("plain").unwrap().field, None);
    }

    #[test]
    fn empty_names_and_fields_are_invalid_paths() {
        for bad in ["", "#f", "name#", "  "] {
            let e = SecretPath::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidPath, "{bad}");
        }
    }

    #[test]
    fn field_is_selected_from_json_text() {
        let p = SecretPath::parse("db#password").unwrap();
        let v = text_data(r#"{"user":"app","password":"pw-123456","port":5432}"#);
        assert_eq!(
            text(resolve(v, &p, "db#password", "env").unwrap()),
            "pw-123456"
        );
        let p = SecretPath::parse("db#port").unwrap();
        let v = text_data(r#"{"port":5432}"#);
        assert_eq!(text(resolve(v, &p, "db#port", "env").unwrap()), "5432");
    }

    #[test]
    fn missing_field_is_invalid_json_naming_path_and_field() {
        let p = SecretPath::parse("db#password").unwrap();
        let v = text_data(r#"{"user":"topsecret-user"}"#);
        let e = resolve(v, &p, "db#password", "aws").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson);
        let m = e.to_string();
        assert!(m.contains("db#password") && m.contains("'password'"), "{m}");
        assert!(!m.contains("topsecret"), "{m}");
    }

    #[test]
    fn non_json_value_with_field_is_invalid_json_without_the_value() {
        let p = SecretPath::parse("db#password").unwrap();
        let v = text_data("not-json-hunter2");
        let e = resolve(v, &p, "db#password", "env").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson);
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn document_with_one_key_yields_that_value_else_whole_object() {
        let p = SecretPath::parse("api").unwrap();
        let one = SecretData::Document(SecretString::from(r#"{"value":"abc123456"}"#));
        assert_eq!(text(resolve(one, &p, "api", "vault").unwrap()), "abc123456");
        let two = SecretData::Document(SecretString::from(r#"{"a":"1","b":"2"}"#));
        let whole = text(resolve(two, &p, "api", "vault").unwrap());
        let v: serde_json::Value = serde_json::from_str(&whole).unwrap();
        assert_eq!(v["b"], "2");
    }
}
