//! The response body: one frame, either a short text of ours or a rendered
//! secret shared between every response that serves it. A rendered secret
//! is zeroed when its last response has been written and the cache has
//! moved on.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Frame, SizeHint};
use zeroize::Zeroizing;

/// A rendered secret, zeroed on drop.
pub(crate) type Shared = Arc<Zeroizing<Vec<u8>>>;

/// A whole response body, sent as one frame.
#[derive(Debug)]
pub(crate) struct Body {
    chunk: Option<Chunk>,
}

/// The bytes of a body, read from `at` on.
#[derive(Debug)]
pub(crate) struct Chunk {
    bytes: Bytes,
    at: usize,
}

#[derive(Debug)]
enum Bytes {
    Static(&'static [u8]),
    Owned(Vec<u8>),
    Shared(Shared),
}

impl Body {
    pub(crate) fn text(s: &'static str) -> Body {
        Body::of(Bytes::Static(s.as_bytes()))
    }

    pub(crate) fn owned(v: Vec<u8>) -> Body {
        Body::of(Bytes::Owned(v))
    }

    pub(crate) fn shared(s: Shared) -> Body {
        Body::of(Bytes::Shared(s))
    }

    fn of(bytes: Bytes) -> Body {
        Body {
            chunk: Some(Chunk { bytes, at: 0 }),
        }
    }

    fn len(&self) -> usize {
        self.chunk.as_ref().map_or(0, Buf::remaining)
    }
}

impl Chunk {
    fn all(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Static(s) => s,
            Bytes::Owned(v) => v,
            Bytes::Shared(s) => s.as_slice(),
        }
    }
}

impl Buf for Chunk {
    fn remaining(&self) -> usize {
        self.all().len() - self.at
    }

    fn chunk(&self) -> &[u8] {
        &self.all()[self.at..]
    }

    fn advance(&mut self, n: usize) {
        self.at = (self.at + n).min(self.all().len());
    }
}

impl http_body::Body for Body {
    type Data = Chunk;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Chunk>, Infallible>>> {
        Poll::Ready(self.chunk.take().map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunk.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt;

    #[test]
    fn a_body_is_one_frame_of_its_exact_size() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let shared: Shared = Arc::new(Zeroizing::new(b"{\"a\":1}".to_vec()));
        for (body, want) in [
            (Body::text("healthy"), &b"healthy"[..]),
            (Body::owned(b"x".to_vec()), b"x"),
            (Body::shared(Arc::clone(&shared)), b"{\"a\":1}"),
        ] {
            assert_eq!(body.size_hint().exact(), Some(want.len() as u64));
            let got = rt.block_on(body.collect()).unwrap().to_bytes();
            assert_eq!(&got[..], want);
        }
    }
}
