//! Running the child of `secret-chain exec`: its environment, its output
//! through the masker, signals passed on, its exit status.
//!
//! - `stream.rs`: one output stream masked as it comes (lines at their
//!   newline, partial lines after 50 ms except what could begin a secret);
//! - `signals.rs`: SIGINT, SIGTERM, SIGHUP and SIGQUIT reach the child
//!   exactly once.
//!
//! The child's stdout and stderr are pipes (not a pseudo-terminal), read
//! by one thread each; stdin is inherited. `exec` waits for the child and
//! for the end of both pipes, then exits with the child's status (`128+N`
//! when a signal N killed it). With `--no-mask` there is nothing to read:
//! `exec` replaces itself with the command, as `env(1)` does.

pub(crate) mod check;
pub(crate) mod signals;
pub(crate) mod stream;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
use secret_chain::masking::Redactor;
use secret_chain::{ExposeSecret, SecretString};

use stream::{IDLE, Masker};

/// `exec` failed before the child started: configuration, missing
/// secrets, bad arguments (as `env(1)`).
pub(crate) const FAILED: u8 = 125;
/// The command was found but cannot be run.
pub(crate) const CANNOT_RUN: u8 = 126;
/// The command was not found.
pub(crate) const NOT_FOUND: u8 = 127;

/// What to run and how.
pub(crate) struct Plan {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    /// Variables set (over inherited ones of the same name).
    pub(crate) set: Vec<(String, SecretString)>,
    /// Variables removed (optional secrets that do not exist).
    pub(crate) remove: Vec<String>,
    /// The redactor and the hold of a partial line; `None`: `--no-mask`.
    pub(crate) mask: Option<(Redactor, usize)>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("program", &self.program)
            .field("set", &self.set.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("remove", &self.remove)
            .field("masked", &self.mask.is_some())
            .finish()
    }
}

/// Runs the plan; returns `exec`'s exit status.
pub(crate) fn run(plan: Plan) -> u8 {
    let mut cmd = Command::new(&plan.program);
    cmd.args(&plan.args);
    for (name, value) in &plan.set {
        cmd.env(name, value.expose_secret());
    }
    for name in &plan.remove {
        cmd.env_remove(name);
    }
    let Some((redactor, hold)) = plan.mask else {
        // Replaces this process: the command inherits the terminal, its
        // signals and its status are its own. Returns only on failure.
        let e = cmd.exec();
        return spawn_failed(&plan.program, &e);
    };
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());

    let catcher = match signals::Catcher::install() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("secret-chain: exec: cannot catch signals: {e}");
            return FAILED;
        }
    };
    let (out, err) = match (dup_stdout(), dup_stderr()) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("secret-chain: exec: cannot write to stdout or stderr: {e}");
            return FAILED;
        }
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return spawn_failed(&plan.program, &e),
    };
    let forwarder = catcher.forward_to(Pid::from_child(&child));
    let pumps = spawn_pumps(&mut child, out, err, &redactor, hold, "exec-output");

    // Wait for the exit without reaping, so that no signal goes to a
    // reused pid: the forwarder stops first, then the child is reaped.
    let pid = Pid::from_child(&child);
    while let Err(rustix::io::Errno::INTR) = waitid(
        WaitId::Pid(pid),
        WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
    ) {}
    forwarder.child_exited();
    let status = child.wait();
    forwarder.stop();
    for p in pumps {
        let _ = p.join();
    }
    match status {
        Ok(status) => exit_status(status),
        Err(e) => {
            eprintln!("secret-chain: exec: cannot wait for the command: {e}");
            FAILED
        }
    }
}

/// The status of `exec` for the child's: its code, or `128+N` for signal N.
fn exit_status(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => 128u8.wrapping_add(sig as u8),
        (None, None) => FAILED,
    }
}

/// Reports a command that could not be started: 127 not found, 126
/// anything else (not executable, a directory, a bad format).
fn spawn_failed(program: &OsString, e: &io::Error) -> u8 {
    let name = program.to_string_lossy();
    let name = name.escape_debug();
    if e.kind() == io::ErrorKind::NotFound {
        eprintln!("secret-chain: exec: {name}: command not found");
        NOT_FOUND
    } else {
        eprintln!("secret-chain: exec: {name}: cannot run it: {e}");
        CANNOT_RUN
    }
}

/// The size asked for the child's pipes, and of one read.
const PIPE_SIZE: usize = 1 << 20;

/// A pipe end to read and poll.
trait Source: Read + AsFd + Send {}
impl<T: Read + AsFd + Send> Source for T {}

fn dup_stdout() -> io::Result<File> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

fn dup_stderr() -> io::Result<File> {
    Ok(File::from(io::stderr().as_fd().try_clone_to_owned()?))
}

/// Copies one of the child's streams to ours, masked. When ours is
/// closed (a reader that went away), the pipe is closed too, so that the
/// child gets the broken pipe it would have had without `exec`.
/// One masking pump per output of `child`: its stdout into `out`, its
/// stderr into `err`, each on a thread named `name` (`exec` and
/// `rotate --check` share it).
fn spawn_pumps(
    child: &mut std::process::Child,
    out: File,
    err: File,
    redactor: &Redactor,
    hold: usize,
    name: &str,
) -> Vec<std::thread::JoinHandle<()>> {
    [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Source>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Source>),
    ]
    .into_iter()
    .zip([out, err])
    .filter_map(|(src, dst)| {
        let src = src?;
        let masker = Masker::new(redactor.clone(), hold);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || pump(src, dst, masker))
            .ok()
    })
    .collect()
}

fn pump(mut src: Box<dyn Source>, mut dst: File, mut masker: Masker) {
    // Larger reads, fewer wake-ups (the default pipe holds 64 KiB); a
    // refusal (the user's pipe limit) only costs speed.
    let _ = rustix::pipe::fcntl_setpipe_size(&src, PIPE_SIZE);
    let mut buf = vec![0u8; PIPE_SIZE];
    let idle = Timespec {
        tv_sec: 0,
        tv_nsec: IDLE.as_nanos() as _,
    };
    // Whether a partial line waits for its idle release.
    let mut waiting = false;
    loop {
        if waiting {
            let mut fds = [PollFd::new(&src, PollFlags::IN)];
            match poll(&mut fds, Some(&idle)) {
                Ok(0) => {
                    waiting = false;
                    if masker.release_partial(&mut dst).is_err() {
                        return;
                    }
                    continue;
                }
                Err(rustix::io::Errno::INTR) => continue,
                _ => {}
            }
        }
        match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if masker.push(&buf[..n], &mut dst).is_err() {
                    return;
                }
                waiting = masker.has_releasable();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = masker.finish(&mut dst);
    let _ = dst.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_env() {
        assert_eq!(exit_status(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_status(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_status(ExitStatus::from_raw(15)), 128 + 15);
        assert_eq!(exit_status(ExitStatus::from_raw(9)), 137);
    }
}
