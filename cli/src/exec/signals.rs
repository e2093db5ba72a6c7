//! Signals sent to `exec`, passed on to the child exactly once.
//!
//! The child stays in `exec`'s process group, so that it can read the
//! terminal (a background process group that reads it is stopped) and
//! Ctrl-Z stops both. A signal that the terminal generates (Ctrl-C,
//! Ctrl-\, a hangup) goes to the whole foreground group: the child has it
//! already, and `exec` does not send it again. The kernel marks those
//! (`si_code` is `SI_KERNEL`); a signal that a process sent with `kill`
//! (`SI_USER`: `docker stop`, a supervisor, `kill PID`) is forwarded,
//! unless the child sent it itself (`kill 0` in a script's trap signals
//! its whole group, the child included). What cannot be told apart from
//! a signal sent to `exec` alone: another process that signals the whole
//! group (`kill -TERM -PGID`, GNU `timeout` without `--foreground`,
//! systemd's `KillMode=control-group`), which reaches the child directly
//! and through `exec`, twice; a signal sent to `exec` alone by a process
//! of the same group (a script's `kill $pid`) must be forwarded, and
//! forwarding wins over a possible second delivery.
//!
//! `tini` and `dumb-init` solve the same problem by putting the child in a
//! group (or session) of its own and forwarding everything; that breaks a
//! child that reads the terminal unless the wrapper also hands it the
//! terminal's foreground, which a tool run from a shell should not do.
//! `env(1)` replaces itself with the command (as `exec --no-mask` does), so
//! there is nothing to forward.
//!
//! `exec` itself does not die of these signals while the child runs: it
//! waits for the child and exits with its status.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rustix::process::{Pid, Signal, kill_process};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::backend::Handle;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::Cause;

/// The signals passed on to the child.
pub(crate) const FORWARDED: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

/// The registered handlers, before the child exists: signals that come
/// meanwhile wait in it.
pub(crate) struct Catcher {
    signals: SignalsInfo<WithOrigin>,
}

impl Catcher {
    /// Catches [`FORWARDED`] from now on (instead of dying of them).
    pub(crate) fn install() -> std::io::Result<Catcher> {
        Ok(Catcher {
            signals: SignalsInfo::<WithOrigin>::new(FORWARDED)?,
        })
    }

    /// Forwards what comes to `child` until [`Forwarder::stop`].
    pub(crate) fn forward_to(self, child: Pid) -> Forwarder {
        let gate = Arc::new(Gate::default());
        let handle = self.signals.handle();
        let thread = {
            let gate = gate.clone();
            let mut signals = self.signals;
            std::thread::Builder::new()
                .name("exec-signals".into())
                .spawn(move || {
                    for origin in signals.forever() {
                        let from_kernel = matches!(origin.cause, Cause::Kernel);
                        let sender = origin.process.as_ref().map(|p| p.pid);
                        if !should_forward(from_kernel, sender, child) {
                            continue;
                        }
                        let Some(sig) = Signal::from_named_raw(origin.signal) else {
                            continue;
                        };
                        gate.while_open(|| {
                            let _ = kill_process(child, sig);
                        });
                    }
                })
                .ok()
        };
        Forwarder {
            gate,
            handle,
            thread,
        }
    }
}

/// Whether a signal must be sent on: not when the terminal generated it
/// (`from_kernel`) or the child sent it itself (to its group, `kill 0`):
/// the child has it already.
fn should_forward(from_kernel: bool, sender: Option<i32>, child: Pid) -> bool {
    !from_kernel && sender != Some(child.as_raw_pid())
}

/// The forwarding thread of a running child.
pub(crate) struct Forwarder {
    gate: Arc<Gate>,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl Forwarder {
    /// Called when the child has exited but before it is reaped: no
    /// signal is sent after this returns (its pid may be reused once it is
    /// reaped).
    pub(crate) fn child_exited(&self) {
        self.gate.close();
    }

    /// Stops the thread.
    pub(crate) fn stop(mut self) {
        self.gate.close();
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs a closure only while open; closing waits for one that runs.
#[derive(Default)]
struct Gate {
    closed: Mutex<bool>,
}

impl Gate {
    fn while_open(&self, f: impl FnOnce()) {
        let closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        if !*closed {
            f();
        }
    }

    fn close(&self) {
        *self.closed.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_signals_and_the_childs_own_are_not_sent_again() {
        let child = Pid::from_raw(4242).unwrap();
        assert!(
            !should_forward(true, None, child),
            "Ctrl-C: the group has it"
        );
        assert!(
            !should_forward(false, Some(4242), child),
            "the child's kill 0"
        );
        assert!(
            should_forward(false, Some(1), child),
            "docker stop, kill PID"
        );
        assert!(should_forward(false, None, child));
    }
}
