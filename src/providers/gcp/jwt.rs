//! The service-account flow of Application Default Credentials: a JWT
//! signed with the key of a service-account JSON key file (RS256), which
//! the token endpoint exchanges for an access token (RFC 7523,
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`).
//!
//! Signing uses `ring`, which rustls already builds for `reqwest`: the
//! flow costs no crate of its own.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// The OAuth scope asked for: Secret Manager accepts `cloud-platform`.
pub(super) const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// How long a signed assertion is valid (Google's maximum is one hour).
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// A service account's identity and private key.
pub(super) struct ServiceAccount {
    pub(super) email: String,
    key_id: Option<String>,
    key: RsaKeyPair,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// The account `email` with the PKCS#8 PEM private key of its key file.
    ///
    /// # Errors
    ///
    /// Why the key cannot be used (never quoting it).
    pub(super) fn new(
        email: String,
        key_id: Option<String>,
        pem: &SecretString,
    ) -> Result<ServiceAccount, &'static str> {
        let der = pem_to_der(pem.expose_secret())?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|_| "its private_key is not an RSA key in PKCS#8 form")?;
        Ok(ServiceAccount { email, key_id, key })
    }

    /// A signed assertion for the token endpoint `audience`, issued at
    /// `now` (seconds since the Unix epoch).
    pub(super) fn assertion(&self, audience: &str, now: u64) -> Result<SecretString, &'static str> {
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.key_id {
            header["kid"] = serde_json::Value::String(kid.clone());
        }
        let claims = serde_json::json!({
            "iss": self.email,
            "scope": SCOPE,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let mut jwt = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                jwt.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the token request failed")?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(&signature));
        Ok(SecretString::from(jwt))
    }
}

/// The DER bytes of a `-----BEGIN PRIVATE KEY-----` PEM block (wiped when
/// dropped).
fn pem_to_der(pem: &str) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let start = pem
        .find(BEGIN)
        .ok_or("its private_key is not a PEM 'PRIVATE KEY' block")?;
    let body = &pem[start + BEGIN.len()..];
    let end = body
        .find(END)
        .ok_or("its private_key PEM block has no END line")?;
    let b64: Zeroizing<String> = Zeroizing::new(
        body[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    STANDARD
        .decode(b64.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| "its private_key PEM block is not valid base64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_pkcs8_rsa_pem_are_refused_saying_why() {
        let refuse = |pem: &str| {
            ServiceAccount::new("a@b".into(), None, &SecretString::from(pem)).unwrap_err()
        };
        assert!(refuse("").contains("not a PEM"));
        assert!(refuse("-----BEGIN PRIVATE KEY-----\nAAAA").contains("no END"));
        assert!(
            refuse("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n")
                .contains("base64")
        );
        assert!(
            refuse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .contains("PKCS#8")
        );
    }
}
