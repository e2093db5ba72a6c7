//! The panic hook that [`install_with`](super::install_with) sets: what the
//! standard library's default hook prints (thread name, location, message,
//! a backtrace as `RUST_BACKTRACE` asks), redacted, to stderr.
//!
//! A hook receives the panic message but cannot hand a changed one to the
//! hook before it, so this hook replaces the previous one instead of
//! wrapping it; a hook set after it is not masked.

use std::fmt::Write as _;
use std::io::Write as _;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::fmt::MakeWriter;

use crate::masking::layer::MaskingMakeWriter;
use crate::masking::redactor::Redactor;

/// The variable that turns the panic hook of `install` off (`0`, `false`,
/// `no` or `off`); on by default.
pub(crate) const PANIC_HOOK_VAR: &str = "SECRETS_PANIC_HOOK";

/// Replaces the process's panic hook with one that prints what the default
/// hook prints, every secret masked by `redactor`, to stderr through a
/// [`MaskingMakeWriter`]:
///
/// ```text
/// thread 'worker' (4242) panicked at src/job.rs:10:5:
/// cannot connect with ****
/// note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
/// ```
///
/// `RUST_BACKTRACE=1` adds the backtrace in the default hook's short form
/// (the frames between the panic machinery and the thread's start),
/// `RUST_BACKTRACE=full` every frame. [`crate::install`] and
/// [`install_with`](super::install_with) call this with the layer's own
/// redactor unless `SECRETS_PANIC_HOOK=0`; call it yourself when you
/// compose your own subscriber. The previous hook is dropped, and a hook
/// set later replaces this one (and is not masked).
pub fn set_panic_hook(redactor: Redactor) {
    let writer = MaskingMakeWriter::new(std::io::stderr, redactor);
    std::panic::set_hook(Box::new(move |info| {
        let text = panic_text(info, backtrace_style());
        // As the default hook: a failed write to stderr is ignored.
        let _ = writer.make_writer().write_all(text.as_bytes());
    }));
}

/// What `RUST_BACKTRACE` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backtrace {
    Off,
    Short,
    Full,
}

fn backtrace_style() -> Backtrace {
    match std::env::var_os("RUST_BACKTRACE") {
        None => Backtrace::Off,
        Some(v) if v == "0" => Backtrace::Off,
        Some(v) if v == "full" => Backtrace::Full,
        Some(_) => Backtrace::Short,
    }
}

/// The default hook prints its backtrace hint once per process.
static FIRST_PANIC: AtomicBool = AtomicBool::new(true);

/// The text the default hook would print (before masking).
fn panic_text(info: &PanicHookInfo<'_>, style: Backtrace) -> String {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("<unnamed>");
    let msg = info.payload_as_str().unwrap_or("Box<dyn Any>");
    let mut out = String::with_capacity(msg.len() + 128);
    let _ = write!(out, "\nthread '{name}'");
    if let Some(tid) = os_thread_id() {
        let _ = write!(out, " ({tid})");
    }
    out.push_str(" panicked at ");
    match info.location() {
        Some(loc) => {
            let _ = write!(out, "{}:{}:{}", loc.file(), loc.line(), loc.column());
        }
        None => out.push_str("<unknown>"),
    }
    let _ = writeln!(out, ":\n{msg}");
    match style {
        Backtrace::Off => {
            if FIRST_PANIC.swap(false, Ordering::Relaxed) {
                out.push_str(
                    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
                );
            }
        }
        Backtrace::Full => {
            let bt = std::backtrace::Backtrace::force_capture();
            let _ = writeln!(out, "stack backtrace:\n{bt:#}");
        }
        Backtrace::Short => {
            let bt = std::backtrace::Backtrace::force_capture().to_string();
            out.push_str("stack backtrace:\n");
            out.push_str(&short_backtrace(&bt));
            out.push_str(
                "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n",
            );
        }
    }
    out
}

/// The kernel's id of the current thread, as the default hook prints it
/// (Linux; `None` elsewhere).
fn os_thread_id() -> Option<u64> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The frames of a backtrace (as `Backtrace`'s `Display` writes it) between
/// the panic machinery and the start of the thread, numbered from 0, as
/// the default hook's short form.
fn short_backtrace(bt: &str) -> String {
    // Split into frames: a frame starts with a line `   N: symbol`.
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for line in bt.lines() {
        let t = line.trim_start();
        let starts = t
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match frames.last_mut() {
            Some(f) if !starts => f.push(line),
            _ => frames.push(vec![line]),
        }
    }
    let from = frames
        .iter()
        .rposition(|f| f[0].contains("__rust_end_short_backtrace"))
        .map_or(0, |i| i + 1);
    let to = frames
        .iter()
        .position(|f| f[0].contains("__rust_begin_short_backtrace"))
        .filter(|&i| i >= from)
        .unwrap_or(frames.len());
    let mut out = String::new();
    for (n, frame) in frames[from..to].iter().enumerate() {
        let symbol = frame[0]
            .trim_start()
            .split_once(": ")
            .map_or(frame[0], |(_, s)| s);
        let _ = writeln!(out, "{n:>4}: {symbol}");
        for line in &frame[1..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_backtrace_keeps_the_frames_between_the_markers() {
        let bt = "   0: std::backtrace::Backtrace::create\n             at /rustc/x/backtrace.rs:1:1\n   1: std::sys::backtrace::__rust_end_short_backtrace\n   2: core::panicking::panic_fmt\n             at /rustc/x/panicking.rs:80:14\n   3: app::job\n             at ./src/job.rs:10:5\n   4: std::sys::backtrace::__rust_begin_short_backtrace\n   5: start_thread\n";
        assert_eq!(
            short_backtrace(bt),
            "   0: core::panicking::panic_fmt\n             at /rustc/x/panicking.rs:80:14\n   1: app::job\n             at ./src/job.rs:10:5\n"
        );
        // Without markers: every frame.
        let plain = "   0: a\n   1: b\n";
        assert_eq!(short_backtrace(plain), plain);
    }

    #[test]
    fn the_panic_text_has_the_default_hooks_shape() {
        // A hook of our own for this one panic, on a thread of its own; the
        // test harness's hook is put back after.
        // Other threads' panics still reach the harness's hook meanwhile.
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let s = seen.clone();
        let prev = std::sync::Arc::new(std::panic::take_hook());
        let p = prev.clone();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some("panic-text-test") {
                *s.lock().unwrap() = panic_text(info, Backtrace::Off);
            } else {
                p(info);
            }
        }));
        let r = std::thread::Builder::new()
            .name("panic-text-test".into())
            .spawn(|| panic!("boom {}", 42))
            .unwrap()
            .join();
        drop(std::panic::take_hook());
        match std::sync::Arc::try_unwrap(prev) {
            Ok(prev) => std::panic::set_hook(prev),
            Err(prev) => std::panic::set_hook(Box::new(move |info| prev(info))),
        }
        assert!(r.is_err());
        let text = seen.lock().unwrap().clone();
        assert!(text.starts_with("\nthread 'panic-text-test' "), "{text}");
        assert!(
            text.contains(" panicked at src/masking/panic_hook.rs:"),
            "{text}"
        );
        assert!(text.contains(":\nboom 42\n"), "{text}");
    }
}
