//! The listeners: TCP on loopback only (`127.0.0.1:http_port`) and, when
//! configured, a Unix socket (mode 0600). Each connection is served by
//! hyper (HTTP/1.1, keep-alive, bounded header buffer) and watched for a
//! graceful shutdown: on SIGTERM the listeners close, in-flight requests
//! finish (bounded by [`GRACE`]), idle connections close.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use secret_chain::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

use super::service::Agent;

/// How long in-flight requests may take to finish after SIGTERM.
pub(crate) const GRACE: Duration = Duration::from_secs(10);
/// The largest request head read (the AWS agent's limit: 321 KB).
const MAX_BUF_BYTES: usize = (65 + 256) * 1024;

/// A bound listener.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// Binds `127.0.0.1:port`.
///
/// # Errors
///
/// The address cannot be bound (in use, not permitted), naming it.
pub(crate) async fn bind_tcp(port: u16) -> Result<Listener, Error> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    TcpListener::bind(addr)
        .await
        .map(Listener::Tcp)
        .map_err(|e| Error::unavailable(format!("cannot listen on {addr}: {e}")))
}

/// Binds the Unix socket at `path`, mode 0600. A socket left by an earlier
/// run is removed first; any other file there is an error.
///
/// # Errors
///
/// The path holds something that is not a socket, or cannot be bound.
pub(crate) fn bind_unix(path: &Path) -> Result<Listener, Error> {
    let fail = |e: std::io::Error| {
        Error::unavailable(format!(
            "cannot listen on the Unix socket {}: {e}",
            path.display()
        ))
    };
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(Error::config(format!(
                "unix_socket {} exists and is not a socket: not replaced",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(fail)?;
    }
    let listener = UnixListener::bind(path).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    Ok(Listener::Unix(listener, path.to_owned()))
}

impl Listener {
    /// What the `listening on` line says.
    pub(crate) fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("http://{a}"),
                Err(_) => "http://127.0.0.1".into(),
            },
            Listener::Unix(_, path) => format!("unix:{}", path.display()),
        }
    }
}

/// Serves `listeners` until `stop` turns true, then lets in-flight
/// requests finish for up to [`GRACE`]; removes the Unix socket file.
pub(crate) async fn serve(
    agent: Arc<Agent>,
    listeners: Vec<Listener>,
    stop: watch::Receiver<bool>,
) {
    let graceful = Arc::new(GracefulShutdown::new());
    let mut loops = Vec::new();
    let mut sockets = Vec::new();
    for listener in listeners {
        if let Listener::Unix(_, path) = &listener {
            sockets.push(path.clone());
        }
        loops.push(tokio::spawn(accept_loop(
            Arc::clone(&agent),
            listener,
            stop.clone(),
            Arc::clone(&graceful),
        )));
    }
    for l in loops {
        let _ = l.await;
    }
    // Every accept loop has ended and dropped its handle.
    let graceful = Arc::try_unwrap(graceful).unwrap_or_else(|_| unreachable!("accept loops ended"));
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_seconds = GRACE.as_secs(),
            "requests still in flight after the grace period: closed"
        );
    }
    for path in sockets {
        let _ = std::fs::remove_file(path);
    }
}

async fn accept_loop(
    agent: Arc<Agent>,
    listener: Listener,
    mut stop: watch::Receiver<bool>,
    graceful: Arc<GracefulShutdown>,
) {
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => return,
            accepted = accept(&listener) => match accepted {
                Ok(Accepted::Tcp(stream)) => {
                    // No network hops (as the AWS agent), no Nagle delay.
                    let _ = stream.set_ttl(1);
                    let _ = stream.set_nodelay(true);
                    spawn_connection(&agent, graceful.watcher(), stream);
                }
                Ok(Accepted::Unix(stream)) => spawn_connection(&agent, graceful.watcher(), stream),
                Err(e) => {
                    tracing::error!(error = %e, "could not accept a connection");
                    // Out of file descriptors: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it here.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

enum Accepted {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    match listener {
        Listener::Tcp(l) => l.accept().await.map(|(s, _)| Accepted::Tcp(s)),
        Listener::Unix(l, _) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
    }
}

fn spawn_connection<S>(agent: &Arc<Agent>, watcher: Watcher, stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let agent = Arc::clone(agent);
    tokio::spawn(async move {
        let _counted = agent.connected();
        let service = service_fn(|req| {
            let agent = Arc::clone(&agent);
            async move { Ok::<_, Infallible>(agent.handle(req).await) }
        });
        let conn = http1::Builder::new()
            .max_buf_size(MAX_BUF_BYTES)
            .serve_connection(TokioIo::new(stream), service);
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!(error = %e, "connection closed with an error");
        }
    });
}
