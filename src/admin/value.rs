//! Values as the stores keep them: Vault's data object for a text value,
//! whether two values are the same, one field of a JSON object replaced.
//! Pure functions; no error of theirs quotes a value.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::Payload;
use crate::error::{Error, ErrorKind};

/// The data object Vault KV v2 keeps for a text value, as JSON text: a
/// JSON object as its own fields, anything else as `{"value": v}` (which
/// the provider's single-key rule reads back as `v`).
///
/// ```
/// use secrecy::{ExposeSecret, SecretString};
/// let data = secret_chain::admin::vault_data(&SecretString::from("pw"));
/// assert_eq!(data.expose_secret(), r#"{"value":"pw"}"#);
/// let data = secret_chain::admin::vault_data(&SecretString::from(r#"{"user":"app"}"#));
/// assert_eq!(data.expose_secret(), r#"{"user":"app"}"#);
/// ```
pub fn vault_data(text: &SecretString) -> SecretString {
    let text = text.expose_secret();
    if let Ok(Value::Object(_)) = serde_json::from_str::<Value>(text) {
        return SecretString::from(text.trim());
    }
    let mut map = Map::new();
    map.insert("value".to_owned(), Value::String(text.to_owned()));
    let mut value = Value::Object(map);
    let out = SecretString::from(value.to_string());
    wipe(&mut value);
    out
}

/// Whether two values are the same secret: the same bytes, or two JSON
/// objects with the same fields (the order and spacing of keys do not
/// matter: Vault and AWS re-encode them).
pub fn same_value(a: &Payload, b: &Payload) -> bool {
    let bytes = |p: &Payload| -> Vec<u8> {
        match p {
            Payload::Text(s) => s.expose_secret().as_bytes().to_vec(),
            Payload::Binary(b) => b.expose_secret().to_vec(),
        }
    };
    let (mut x, mut y) = (bytes(a), bytes(b));
    let same = x == y || {
        match (
            serde_json::from_slice::<Value>(&x),
            serde_json::from_slice::<Value>(&y),
        ) {
            (Ok(mut v @ Value::Object(_)), Ok(mut w @ Value::Object(_))) => {
                let same = v == w;
                wipe(&mut v);
                wipe(&mut w);
                same
            }
            (Ok(mut v), Ok(mut w)) => {
                wipe(&mut v);
                wipe(&mut w);
                false
            }
            _ => false,
        }
    };
    zeroize::Zeroize::zeroize(&mut x);
    zeroize::Zeroize::zeroize(&mut y);
    same
}

/// The JSON object `object` with its field `field` set to the string
/// `value` (added when missing), as JSON text; the other fields stay as
/// they are. `what` names the secret in errors.
///
/// # Errors
///
/// [`ErrorKind::InvalidJson`] when `object` is not a JSON object.
pub fn with_field(
    object: &SecretString,
    field: &str,
    value: &SecretString,
    what: &str,
) -> Result<SecretString, Error> {
    let mut map = match serde_json::from_str::<Value>(object.expose_secret()) {
        Ok(Value::Object(map)) => map,
        Ok(mut other) => {
            wipe(&mut other);
            return Err(Error::new(
                ErrorKind::InvalidJson,
                format!("{what} is JSON but not an object, so it has no field '{field}'"),
            ));
        }
        Err(_) => {
            return Err(Error::new(
                ErrorKind::InvalidJson,
                format!("{what} is not a JSON object, so it has no field '{field}'"),
            ));
        }
    };
    map.insert(
        field.to_owned(),
        Value::String(value.expose_secret().to_owned()),
    );
    let mut v = Value::Object(map);
    let out = SecretString::from(v.to_string());
    wipe(&mut v);
    Ok(out)
}

/// The names of a JSON object's fields, when `text` is one with more than
/// one field (a secret that `rotate` should only change with `--field`).
pub fn object_fields(text: &SecretString) -> Option<Vec<String>> {
    match serde_json::from_str::<Value>(text.expose_secret()) {
        Ok(Value::Object(map)) if map.len() > 1 => Some(map.keys().cloned().collect()),
        Ok(mut v) => {
            wipe(&mut v);
            None
        }
        Err(_) => None,
    }
}

/// Overwrites the strings of a parsed value before it is dropped.
pub(crate) fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => zeroize::Zeroize::zeroize(s),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.values_mut().for_each(wipe),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretSlice;

    fn text(s: &str) -> Payload {
        Payload::Text(SecretString::from(s))
    }

    #[test]
    fn text_goes_to_vault_under_value_and_an_object_as_its_fields() {
        let d = |s: &str| {
            vault_data(&SecretString::from(s))
                .expose_secret()
                .to_owned()
        };
        assert_eq!(d("pw-1"), r#"{"value":"pw-1"}"#);
        assert_eq!(d("a \"quoted\"\nline"), r#"{"value":"a \"quoted\"\nline"}"#);
        assert_eq!(
            d(r#"{"user":"app","pw":"x"}"#),
            r#"{"user":"app","pw":"x"}"#
        );
        // JSON that is not an object is text.
        assert_eq!(d("[1,2]"), r#"{"value":"[1,2]"}"#);
        assert_eq!(d("42"), r#"{"value":"42"}"#);
    }

    #[test]
    fn objects_are_the_same_whatever_the_key_order_and_spacing() {
        assert!(same_value(&text("pw"), &text("pw")));
        assert!(!same_value(&text("pw"), &text("pw2")));
        assert!(same_value(
            &text(r#"{"a":"1","b":"2"}"#),
            &text(r#"{ "b": "2", "a": "1" }"#)
        ));
        assert!(!same_value(&text(r#"{"a":"1"}"#), &text(r#"{"a":"2"}"#)));
        // Only objects are compared as JSON: text stays text.
        assert!(!same_value(&text("1.0"), &text("1")));
        let bin = Payload::Binary(SecretSlice::from(b"pw".to_vec()));
        assert!(same_value(&bin, &text("pw")));
    }

    #[test]
    fn a_field_is_replaced_or_added_and_the_others_stay() {
        let obj = SecretString::from(r#"{"user":"app","password":"old-pw","port":5432}"#);
        let new = with_field(&obj, "password", &SecretString::from("new-pw"), "db").unwrap();
        let v: Value = serde_json::from_str(new.expose_secret()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"user": "app", "password": "new-pw", "port": 5432})
        );
        let new = with_field(&obj, "token", &SecretString::from("t-1"), "db").unwrap();
        assert!(new.expose_secret().contains(r#""token":"t-1""#));
        for bad in ["not-json-s3cr3t", "[\"s3cr3t\"]"] {
            let e = with_field(
                &SecretString::from(bad),
                "f",
                &SecretString::from("x"),
                "db",
            )
            .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidJson);
            assert!(!e.to_string().contains("s3cr3t"), "{e}");
            assert!(e.to_string().starts_with("db is "), "{e}");
        }
    }

    #[test]
    fn objects_with_several_fields_are_told_apart() {
        let f = |s: &str| object_fields(&SecretString::from(s));
        assert_eq!(
            f(r#"{"a":"1","b":"2"}"#),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(f(r#"{"value":"1"}"#), None);
        assert_eq!(f("pw"), None);
    }
}
