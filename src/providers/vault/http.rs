//! Sending one request to Vault and reading its answer: headers (token,
//! namespace), same-origin redirects, timeouts, and the mapping of HTTP
//! statuses and Vault `errors` bodies to error kinds. No error made here
//! quotes a response body or a token.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use zeroize::Zeroize;

use super::{NAME, VaultProvider};
use crate::error::Error;

/// Characters escaped inside one path segment (everything but unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The largest response body read (Vault's own request limit is 32 MiB).
pub(super) const MAX_RESPONSE_BYTES: usize = 32 << 20;

/// A response: status and body bytes (zeroized when dropped).
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

impl Reply {
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A short summary of Vault's `errors` array (messages such as
    /// "permission denied" or "Vault is sealed"; never values on a read).
    pub(crate) fn errors_summary(&self) -> Option<String> {
        let v = self.json()?;
        let errors = v.get("errors")?.as_array()?;
        let first = errors.iter().find_map(|e| e.as_str())?;
        // Go's multierror text is "1 error occurred:\n\t* permission denied\n\n":
        // keep one line of the message itself.
        let first = first.split_whitespace().collect::<Vec<_>>().join(" ");
        let first = match first.split_once("occurred: ") {
            Some((head, rest))
                if head.trim_end().ends_with("error") || head.trim_end().ends_with("errors") =>
            {
                rest
            }
            _ => first.as_str(),
        };
        let mut s = sanitize_reason(first.trim_start_matches("* ").trim());
        if s.is_empty() {
            return None;
        }
        if errors.len() > 1 {
            s.push_str(&format!(" (+{} more)", errors.len() - 1));
        }
        Some(s)
    }
}

impl VaultProvider {
    // ---- transport ----

    /// Sends one request. Transport failures (connect, timeout) become
    /// "unavailable" naming `what`; every HTTP status is returned.
    pub(super) async fn send(
        &self,
        method: Method,
        url: &str,
        what: &str,
        token: Option<&SecretString>,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, Error> {
        self.send_in(method, url, what, token, body, true).await
    }

    /// [`send`](Self::send), with or without the namespace header
    /// (`sys/health` lives in the root namespace only).
    pub(super) async fn send_in(
        &self,
        method: Method,
        url: &str,
        what: &str,
        token: Option<&SecretString>,
        body: Option<Vec<u8>>,
        in_namespace: bool,
    ) -> Result<Reply, Error> {
        let mut headers = HeaderMap::new();
        if let Some(t) = token {
            let value = token_header(t).map_err(|()| {
                Error::access_denied(format!(
                    "access denied ({what}: the token cannot be sent in an HTTP header)"
                ))
                .with_provider(NAME)
            })?;
            headers.insert("x-vault-token", value);
        }
        if let Some(ns) = self.namespace.as_ref().filter(|_| in_namespace) {
            headers.insert("x-vault-namespace", ns.clone());
        }
        let mut req = self.client.request(method, url).headers(headers);
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(e, what))?;
        let status = resp.status();
        // Read with a cap: a misbehaving server or proxy must not fill memory.
        let too_large = || {
            Error::unavailable(format!(
                "unavailable ({what}: the response from {} is larger than {} MiB)",
                self.base,
                MAX_RESPONSE_BYTES >> 20
            ))
            .with_provider(NAME)
        };
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut reply = Reply {
            status,
            body: Vec::new(),
        };
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(e, what))?
        {
            if reply.body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            reply.body.extend_from_slice(&chunk);
        }
        Ok(reply)
    }

    fn transport_error(&self, e: reqwest::Error, what: &str) -> Error {
        let detail = if e.is_timeout() {
            format!(
                "unavailable ({what}: {} timed out; connect timeout {} ms, request timeout {} ms)",
                self.base,
                self.connect_timeout.as_millis(),
                self.request_timeout.as_millis()
            )
        } else if e.is_connect() && mentions_certificate(&e) {
            format!(
                "unavailable ({what}: the TLS certificate of {} is not trusted; \
                 for a private CA set VAULT_CACERT)",
                self.base
            )
        } else if e.is_connect() {
            format!("unavailable ({what}: cannot connect to {})", self.base)
        } else {
            format!("unavailable ({what}: the request to {} failed)", self.base)
        };
        let timed_out = e.is_timeout();
        let e = Error::unavailable(detail)
            .with_provider(NAME)
            .with_source(e.without_url());
        // As the AWS errors name it (`secret-chain agent` answers 504).
        if timed_out {
            e.with_code("TimeoutError")
        } else {
            e
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The words of a server's reason that cannot be data: at most 8 words of
/// letters (16 at most each), with a few punctuation marks; anything else
/// (numbers, mixed letters and digits, long strings: what a token or a
/// value looks like) becomes `…`. A misbehaving proxy can put anything in
/// a body, and the reason ends up in logs.
fn sanitize_reason(reason: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for word in reason.split_whitespace() {
        if out.len() == 8 {
            out.push("…");
            break;
        }
        let core = word.trim_end_matches([',', '.', ':', ';']);
        let plain = !core.is_empty()
            && core.len() <= 16
            && core
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '\'');
        let word = if plain { word } else { "…" };
        if !(word == "…" && out.last() == Some(&"…")) {
            out.push(word);
        }
    }
    out.join(" ")
}

/// Maps a status other than the ones the caller handles: 403 access denied,
/// 404 not found, anything else (5xx, sealed, rate limited) unavailable.
pub(crate) fn status_error(reply: &Reply, what: &str) -> Error {
    let code = reply.status.as_u16();
    let summary = reply.errors_summary();
    let detail = match code {
        403 => format!("access denied ({what})"),
        404 => format!("not found ({what})"),
        503 if summary
            .as_deref()
            .is_some_and(|s| s.to_ascii_lowercase().contains("sealed")) =>
        {
            format!("unavailable (503 sealed; {what})")
        }
        _ => match &summary {
            Some(s) => format!("unavailable ({code} {s}; {what})"),
            None => format!("unavailable ({code}; {what})"),
        },
    };
    let e = match code {
        403 => Error::access_denied(detail),
        404 => Error::not_found(detail),
        _ => Error::unavailable(detail),
    };
    e.with_provider(NAME).with_http_status(code)
}

/// Follows at most three redirects, and only to the same scheme, host and
/// port: `X-Vault-Token` is a custom header, which an HTTP client would
/// carry along to any host a redirect names. A redirect elsewhere is
/// returned as is (and reported as unavailable).
pub(super) fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else {
            return attempt.stop();
        };
        if attempt.previous().len() > 3 {
            attempt.stop()
        } else if attempt.url().origin() == first.origin() {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Whether a transport error was a TLS certificate problem (rustls says
/// so in its error text, e.g. "invalid peer certificate: UnknownIssuer").
fn mentions_certificate(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.to_string().to_ascii_lowercase().contains("certificate") {
            return true;
        }
        cur = err.source();
    }
    false
}

pub(super) fn token_header(token: &SecretString) -> Result<HeaderValue, ()> {
    let mut v = HeaderValue::from_str(token.expose_secret()).map_err(|_| ())?;
    v.set_sensitive(true);
    Ok(v)
}

/// Rejects paths that the URL layer would rewrite or that Vault cannot
/// address: empty, `.` or `..` segments, and control characters.
pub(super) fn check_segments(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("it is empty");
    }
    if path.chars().any(char::is_control) {
        return Err("it contains a control character");
    }
    for seg in path.split('/') {
        match seg {
            "" => return Err("it has an empty segment ('//' or a leading or trailing '/')"),
            "." | ".." => return Err("it has a '.' or '..' segment"),
            _ => {}
        }
    }
    Ok(())
}

/// Percent-encodes each segment of a `/`-separated path (the separators
/// stay; an empty path stays empty).
pub(super) fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|seg| utf8_percent_encode(seg, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn path_segments_are_encoded_and_dot_segments_refused() {
        assert_eq!(encode_path("my app/db?x#y"), "my%20app/db%3Fx%23y");
        assert_eq!(encode_path(""), "");
        assert!(check_segments("a/b").is_ok());
        for bad in ["", "a//b", "../sys", "a/./b", "a/", "a\nb"] {
            assert!(check_segments(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn status_errors_map_to_kinds_and_summarise_vault_errors() {
        let reply = |code: u16, body: &str| Reply {
            status: StatusCode::from_u16(code).unwrap(),
            body: body.as_bytes().to_vec(),
        };
        let e = status_error(
            &reply(503, r#"{"errors":["Vault is sealed"]}"#),
            "secret/data/x",
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.to_string(), "unavailable (503 sealed; secret/data/x)");
        let e = status_error(&reply(500, r#"{"errors":["internal error","b"]}"#), "p");
        assert_eq!(
            e.to_string(),
            "unavailable (500 internal error (+1 more); p)"
        );
        let e = status_error(
            &reply(
                500,
                r#"{"errors":["1 error occurred:\n\t* storage failure\n\n"]}"#,
            ),
            "p",
        );
        assert_eq!(e.to_string(), "unavailable (500 storage failure; p)");
        let e = status_error(&reply(502, "<html>bad gateway</html>"), "p");
        assert_eq!(e.to_string(), "unavailable (502; p)");
        assert_eq!(
            status_error(&reply(403, "{}"), "p").kind(),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            status_error(&reply(403, "{}"), "p").http_status(),
            Some(403)
        );
        assert_eq!(
            status_error(&reply(503, r#"{"errors":["Vault is sealed"]}"#), "p").http_status(),
            Some(503)
        );
        assert_eq!(
            status_error(&reply(404, "{}"), "p").kind(),
            ErrorKind::NotFound
        );
        let long = format!(r#"{{"errors":["{}"]}}"#, "x".repeat(500));
        assert_eq!(
            status_error(&reply(500, &long), "p").to_string(),
            "unavailable (500 …; p)"
        );
        // What a proxy might echo: a header, a token, a value.
        let echoed = r#"{"errors":["upstream said: X-Vault-Token hvs.CAESIJ8s9dKq2 rejected for db password s3cr3t-Pa55 at 10.0.0.7"]}"#;
        let shown = status_error(&reply(502, echoed), "p").to_string();
        assert_eq!(
            shown,
            "unavailable (502 upstream said: X-Vault-Token … rejected for db password …; p)"
        );
    }
}
