//! Reading one secret version: `GET .../secrets/{id}/versions/{v}:access`,
//! the payload's base64 `data` decoded and checked against its
//! `dataCrc32c`, and the version's metadata.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

use super::crc32c::crc32c;
use super::errors::status_error;
use super::http::send;
use super::{GcpProvider, NAME};
use crate::error::Error;
use crate::providers::{SecretData, SecretMetadata, SecretValue, Version};

#[derive(Deserialize)]
struct AccessReply {
    name: Option<String>,
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    data: Option<SecretString>,
    /// An int64, which proto3 JSON writes as a string (a number is
    /// accepted too).
    #[serde(rename = "dataCrc32c")]
    data_crc32c: Option<Value>,
}

impl GcpProvider {
    pub(super) async fn fetch_inner(
        &self,
        path: &str,
        version: &Version,
    ) -> Result<SecretValue, Error> {
        let id = self.secret_id(path)?;
        let selector = version_selector(version).map_err(|why| {
            Error::not_found(format!(
                "not found (gcp secret {id} in project {}, {version}: {why})",
                self.project
            ))
            .with_provider(NAME)
        })?;
        let what = format!(
            "gcp secret {id} (version {selector}) in project {}",
            self.project
        );
        let url = format!(
            "{}/v1/projects/{}/secrets/{id}/versions/{selector}:access",
            self.base, self.project
        );
        let reply = self.call(|| self.client.get(&url), &what).await?;
        if reply.status != 200 {
            return Err(status_error(reply.status, &reply.body, &what));
        }
        let answer: AccessReply = serde_json::from_slice(&reply.body).map_err(|_| {
            Error::unavailable(format!(
                "unavailable ({what}: the answer is not a secret version)"
            ))
            .with_provider(NAME)
        })?;
        let value = decode_payload(answer.payload, &what)?;
        let mut metadata = SecretMetadata::new();
        if let Some(name) = answer.name {
            if let Some(n) = name.rsplit_once("/versions/").map(|(_, n)| n.to_owned()) {
                metadata = metadata.with_version_id(n);
            }
            metadata = metadata.with_id(name);
        }
        if let Version::Stage(alias) = version {
            metadata = metadata.with_stages([alias.trim()]);
        }
        Ok(value.with_metadata(metadata))
    }

    /// Sends a request built by `build` with the token; on a 401, forgets
    /// the token and sends it once more with a new one (a token can be
    /// revoked before it expires).
    pub(super) async fn call(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
        what: &str,
    ) -> Result<super::http::Reply, Error> {
        let mut retried = false;
        loop {
            let mut request = build();
            if let Some(h) = self.auth.header(&self.client, self.target()).await? {
                request = request.header(AUTHORIZATION, h);
            }
            let reply = send(request, what, self.target()).await?;
            if reply.status == 401 && !retried && self.auth.has_credentials() {
                self.auth.forget();
                retried = true;
                continue;
            }
            return Ok(reply);
        }
    }
}

/// The version part of the URL: `latest`, a version number, or an alias
/// for [`Version::Stage`] (GCP version aliases).
fn version_selector(version: &Version) -> Result<String, &'static str> {
    match version {
        Version::Current => Ok("latest".to_owned()),
        Version::Id(id) => {
            let id = id.trim();
            if id == "latest" {
                return Ok("latest".to_owned());
            }
            match id.parse::<u64>() {
                Ok(n) if n > 0 && id.bytes().all(|b| b.is_ascii_digit()) => Ok(n.to_string()),
                _ => Err("GCP secret versions are positive numbers or 'latest'"),
            }
        }
        Version::Stage(alias) => {
            let alias = alias.trim();
            // `latest` cannot be an alias (GCP refuses it as one), so the
            // stage `latest` can only mean the latest version.
            if alias.eq_ignore_ascii_case("latest") {
                return Ok("latest".to_owned());
            }
            // GCP's rule for alias names: a letter, then letters, digits,
            // '_' and '-', at most 63. (A number would read that version.)
            let ok = alias.len() <= 63
                && alias.starts_with(|c: char| c.is_ascii_alphabetic())
                && alias
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if ok {
                Ok(alias.to_owned())
            } else {
                Err(
                    "a GCP version alias starts with a letter and holds letters, digits, '_' and '-' (at most 63)",
                )
            }
        }
    }
}

/// The payload as a value: text when it is UTF-8, bytes otherwise. A
/// `dataCrc32c` that does not match the data is an error, never a value.
fn decode_payload(payload: Option<Payload>, what: &str) -> Result<SecretValue, Error> {
    let bad =
        |why: &str| Error::unavailable(format!("unavailable ({what}: {why})")).with_provider(NAME);
    let Some(payload) = payload else {
        return Err(bad("the answer has no payload"));
    };
    let bytes = match &payload.data {
        Some(b64) => Zeroizing::new(
            STANDARD
                .decode(b64.expose_secret().as_bytes())
                .map_err(|_| bad("the payload is not valid base64"))?,
        ),
        // proto3 JSON leaves out an empty `bytes` field.
        None => Zeroizing::new(Vec::new()),
    };
    if let Some(sent) = &payload.data_crc32c {
        let sent = match sent {
            Value::String(s) => s.parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        let Some(sent) = sent else {
            return Err(bad("the payload's dataCrc32c is not a number"));
        };
        if sent != u64::from(crc32c(&bytes)) {
            return Err(bad(
                "the payload does not match its dataCrc32c checksum; it was corrupted on the way",
            )
            .with_code("DATA_LOSS"));
        }
    }
    Ok(match std::str::from_utf8(&bytes) {
        Ok(text) => SecretValue::new(SecretData::Text(SecretString::from(text))),
        Err(_) => SecretValue::new(SecretData::Binary(SecretSlice::from(bytes.to_vec()))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn payload(json: &str) -> Option<Payload> {
        serde_json::from_str::<AccessReply>(json).unwrap().payload
    }

    #[test]
    fn versions_are_numbers_latest_or_aliases() {
        assert_eq!(version_selector(&Version::Current).unwrap(), "latest");
        assert_eq!(version_selector(&Version::Id(" 3 ".into())).unwrap(), "3");
        assert_eq!(
            version_selector(&Version::Id("latest".into())).unwrap(),
            "latest"
        );
        assert_eq!(
            version_selector(&Version::Stage("prod".into())).unwrap(),
            "prod"
        );
        assert_eq!(
            version_selector(&Version::Stage("Latest".into())).unwrap(),
            "latest"
        );
        for bad in ["0", "-1", "+3", "v3", "", "3.0"] {
            assert!(
                version_selector(&Version::Id(bad.into())).is_err(),
                "{bad:?}"
            );
        }
        for bad in ["", "12", "1abc", "_a", "a/b", "a:b", &"a".repeat(64)] {
            assert!(
                version_selector(&Version::Stage(bad.into())).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn payloads_are_decoded_and_their_checksum_verified() {
        // "s3cr3t" and its CRC-32C.
        let crc = crc32c(b"s3cr3t");
        let ok = payload(&format!(
            r#"{{"name":"n","payload":{{"data":"czNjcjN0","dataCrc32c":"{crc}"}}}}"#
        ));
        let v = decode_payload(ok, "w").unwrap();
        assert!(matches!(v.data(), SecretData::Text(s) if s.expose_secret() == "s3cr3t"));
        let as_number = payload(&format!(
            r#"{{"payload":{{"data":"czNjcjN0","dataCrc32c":{crc}}}}}"#
        ));
        assert!(decode_payload(as_number, "w").is_ok());
        let unchecked = payload(r#"{"payload":{"data":"czNjcjN0"}}"#);
        assert!(decode_payload(unchecked, "w").is_ok());

        let wrong = payload(&format!(
            r#"{{"payload":{{"data":"czNjcjN0","dataCrc32c":"{}"}}}}"#,
            crc ^ 1
        ));
        let e = decode_payload(wrong, "gcp secret db").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.code(), Some("DATA_LOSS"));
        assert!(e.to_string().contains("dataCrc32c"), "{e}");
        assert!(!format!("{e:?}").contains("s3cr3t"));

        let binary = payload(r#"{"payload":{"data":"/wD+"}}"#);
        let v = decode_payload(binary, "w").unwrap();
        assert!(matches!(v.data(), SecretData::Binary(b) if b.expose_secret() == [0xff, 0, 0xfe]));
        let empty = payload(r#"{"payload":{}}"#);
        assert!(decode_payload(empty, "w").unwrap().data().is_empty());
        assert!(decode_payload(payload(r#"{"payload":{"data":"!!"}}"#), "w").is_err());
        assert!(decode_payload(None, "w").is_err());
    }
}
