//! Sending one request and reading its answer with a size cap. The body
//! is wiped when the reply is dropped, since it can hold a payload or a
//! token.

use std::time::Duration;

use reqwest::RequestBuilder;
use zeroize::Zeroizing;

use super::NAME;
use super::errors::transport_error;
use crate::error::Error;

/// The largest answer read: a payload is at most 64 KiB (base64 in JSON
/// makes that about 88 KiB), and a page of 250 secrets' metadata stays
/// well under this.
pub(super) const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// An answer: its HTTP status and body.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Zeroizing<Vec<u8>>,
}

/// Where requests go and how long they may take, for error messages.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target<'a> {
    /// `host:port`.
    pub(super) authority: &'a str,
    pub(super) connect_timeout: Duration,
    pub(super) request_timeout: Duration,
}

/// Sends `request`; a failure to get an answer is "unavailable" naming
/// `what` and the target, and every HTTP status is returned.
pub(super) async fn send(
    request: RequestBuilder,
    what: &str,
    target: Target<'_>,
) -> Result<Reply, Error> {
    let timeouts = (target.connect_timeout, target.request_timeout);
    let mut resp = request
        .send()
        .await
        .map_err(|e| transport_error(e, what, target.authority, timeouts))?;
    let status = resp.status().as_u16();
    let too_large = || {
        Error::unavailable(format!(
            "unavailable ({what}: the answer from {} is larger than {} MiB)",
            target.authority,
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
    // Room for the whole answer up front where its length is known, so the
    // buffer is not moved while it grows (a move would leave a copy of the
    // payload that is never wiped).
    let capacity = resp
        .content_length()
        .map_or(64 << 10, |n| n as usize)
        .min(MAX_RESPONSE_BYTES);
    let mut body = Zeroizing::new(Vec::with_capacity(capacity));
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| transport_error(e, what, target.authority, timeouts))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply { status, body })
}
