//! A check command (`rotate --check CMD`): `sh -c CMD` with one value in
//! its environment, its output masked as `exec`'s is (the same
//! [`Masker`](super::stream::Masker) and pumps), and a time limit.
//!
//! The command runs in a process group of its own, so that the limit ends
//! what it started too (a `sleep` in a pipeline would otherwise keep the
//! pipes open). Its stdin is `/dev/null`; its stdout and stderr both go
//! to ours stderr: `rotate`'s stdout carries its report.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};
use secret_chain::masking::Redactor;
use secret_chain::{ExposeSecret, SecretString};

use super::{dup_stderr, spawn_pumps};

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Checked {
    /// Exit status 0.
    Passed,
    /// Another status, or a signal: what to say (`exit status 3`).
    Failed(String),
    /// Still running at the limit: killed.
    TimedOut(Duration),
    /// `sh` could not be started.
    CannotRun(String),
}

/// Runs `sh -c command` with `SECRET_VALUE` set to `value` and its output
/// masked by `mask` (a redactor and the hold of a partial line).
pub(crate) fn run(
    command: &str,
    value: &SecretString,
    mask: (Redactor, usize),
    limit: Duration,
) -> Checked {
    let (redactor, hold) = mask;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("SECRET_VALUE", value.expose_secret())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let (out, err) = match (dup_stderr(), dup_stderr()) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            return Checked::CannotRun(format!("cannot write to stderr: {e}"));
        }
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Checked::CannotRun(format!("cannot run sh: {e}")),
    };
    let pid = Pid::from_child(&child);
    let pumps = spawn_pumps(&mut child, out, err, &redactor, hold, "check-output");
    let start = Instant::now();
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                break match (status.code(), status.signal()) {
                    (Some(0), _) => Checked::Passed,
                    (Some(code), _) => Checked::Failed(format!("exit status {code}")),
                    (None, Some(sig)) => Checked::Failed(format!("killed by signal {sig}")),
                    (None, None) => Checked::Failed("ended without a status".into()),
                };
            }
            Ok(None) if start.elapsed() >= limit => {
                let _ = kill_process_group(pid, Signal::KILL);
                let _ = child.wait();
                break Checked::TimedOut(limit);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                let _ = kill_process_group(pid, Signal::KILL);
                let _ = child.wait();
                break Checked::Failed(format!("cannot wait for it: {e}"));
            }
        }
    };
    // What the command left running would hold the pipes open.
    let _ = kill_process_group(pid, Signal::KILL);
    for p in pumps {
        let _ = p.join();
    }
    outcome
}
