//! Capturing what a subscriber writes, for the leak tests.
//!
//! Tests run in parallel threads of one binary, and tracing caches each
//! callsite's interest from the dispatchers that exist when the callsite is
//! first hit: a scoped subscriber set up later can then miss events. So one
//! global TRACE subscriber is installed before any capture (with the `log`
//! bridge), and every capture goes through it or through a scoped
//! subscriber set up after it:
//!
//! - [`capture_thread_logs`]: everything the current thread logs at TRACE,
//!   as plain `fmt` text, through the global subscriber (for tests of what
//!   the HTTP stack and the SDKs log);
//! - [`with_subscriber`]: runs a closure under a subscriber of the test's
//!   own (a masking layer writing into a [`Capture`]).

use std::cell::RefCell;
use std::io;
use std::sync::{Arc, Mutex, Once};

use tracing_subscriber::fmt::MakeWriter;

/// A buffer that a subscriber writes into; clones share it.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// What was written, as text; panics if it is not UTF-8 (the masking
    /// layer must never cut a character in two).
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).expect("captured output is UTF-8")
    }

    /// What was written.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

thread_local! {
    static THREAD_CAPTURE: RefCell<Option<Capture>> = const { RefCell::new(None) };
}

/// Writes into the capture of the current thread, if it has one.
struct ThreadWriter;

impl io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        THREAD_CAPTURE.with(|c| {
            if let Some(c) = &*c.borrow() {
                c.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs, once per binary, the `log` bridge and the global TRACE
/// subscriber that routes each thread's lines to that thread's capture.
pub fn init_global() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        tracing_log::LogTracer::init().expect("no other logger in this test binary");
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| ThreadWriter)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
    });
}

/// Stops capturing on this thread when dropped.
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        THREAD_CAPTURE.with(|c| c.borrow_mut().take());
    }
}

/// Captures everything this thread logs at TRACE, including `log` records,
/// until the guard drops. Tokio's current-thread runtime keeps a test's
/// tasks on this thread.
pub fn capture_thread_logs() -> (Capture, CaptureGuard) {
    init_global();
    let capture = Capture::default();
    THREAD_CAPTURE.with(|c| *c.borrow_mut() = Some(capture.clone()));
    (capture, CaptureGuard(()))
}

/// Runs `f` with `subscriber` as this thread's default subscriber.
pub fn with_subscriber<S, R>(subscriber: S, f: impl FnOnce() -> R) -> R
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    init_global();
    tracing::subscriber::with_default(subscriber, f)
}
