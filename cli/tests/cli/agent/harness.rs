//! One `secret-chain agent` process per test: its config file and working
//! directory in a temp dir, a port of its own, AWS pointed at moto (or a
//! proxy), its stderr (the logs) kept for a leak check, killed on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, HttpResponse};

const BIN: &str = env!("CARGO_BIN_EXE_secret-chain");
pub(crate) const TOKEN: &str = "agent-test-token-4f9c2e";
pub(crate) const HEADER: &str = "X-Aws-Parameters-Secrets-Token";

pub(crate) struct Agent {
    child: Option<Child>,
    pub(crate) port: u16,
    pub(crate) dir: tempfile::TempDir,
    /// The `listening on` line.
    pub(crate) first_line: String,
}

/// What a test passes: config lines (a port and `log_to_file = false` are
/// added unless given) and environment variables on top of the AWS ones.
pub(crate) struct Setup<'a> {
    pub(crate) config: &'a str,
    pub(crate) env: &'a [(&'a str, &'a str)],
    /// Where AWS requests go (moto by default).
    pub(crate) aws_endpoint: Option<String>,
}

impl<'a> Setup<'a> {
    pub(crate) fn new(config: &'a str) -> Setup<'a> {
        Setup {
            config,
            env: &[],
            aws_endpoint: None,
        }
    }

    pub(crate) fn env(mut self, env: &'a [(&'a str, &'a str)]) -> Setup<'a> {
        self.env = env;
        self
    }

    pub(crate) fn aws(mut self, endpoint: &str) -> Setup<'a> {
        self.aws_endpoint = Some(endpoint.to_owned());
        self
    }
}

/// The command the agent runs as, environment cleared.
pub(crate) fn command(dir: &Path, setup: &Setup<'_>) -> Command {
    let endpoint = setup
        .aws_endpoint
        .clone()
        .unwrap_or_else(support::aws_endpoint);
    let mut cmd = Command::new(BIN);
    cmd.args(["agent", "--config", "agent.toml"])
        .current_dir(dir)
        .env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("AWS_ACCESS_KEY_ID", support::AWS_TEST_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", support::AWS_TEST_SECRET_ACCESS_KEY)
        .env("AWS_REGION", support::AWS_TEST_REGION)
        .env("SECRETS_AWS_ENDPOINT", endpoint)
        .env("AWS_TOKEN", TOKEN)
        .envs(setup.env.iter().copied());
    cmd
}

/// Writes the config file: the test's lines, a free port, and logs to
/// stderr unless the test says otherwise. Returns the port.
pub(crate) fn write_config(dir: &Path, config: &str) -> u16 {
    let mut text = config.to_owned();
    let port = match config
        .lines()
        .find_map(|l| l.trim().strip_prefix("http_port"))
    {
        Some(rest) => rest
            .trim_start_matches([' ', '='])
            .trim_matches('"')
            .parse()
            .unwrap(),
        None => {
            let p = support::free_port();
            text.push_str(&format!("\nhttp_port = {p}\n"));
            p
        }
    };
    if !config.contains("log_to_file") {
        text.push_str("\nlog_to_file = false\n");
    }
    std::fs::write(dir.join("agent.toml"), text).unwrap();
    port
}

impl Agent {
    /// Starts the agent and waits for its `listening on` line.
    #[track_caller]
    pub(crate) fn start(setup: Setup<'_>) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let port = write_config(dir.path(), setup.config);
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut child = command(dir.path(), &setup)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start secret-chain agent");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining: the agent must never block on stdout.
            let _ = std::io::copy(&mut r, &mut std::io::sink());
        });
        let first_line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) if !l.is_empty() => l,
            _ => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!(
                    "the agent did not start ({status:?}); stderr:\n{}",
                    std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default()
                );
            }
        };
        Agent {
            child: Some(child),
            port,
            dir,
            first_line,
        }
    }

    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET path` with the token.
    #[track_caller]
    pub(crate) fn get(&self, path: &str) -> HttpResponse {
        self.request("GET", path, &[(HEADER, TOKEN)])
    }

    #[track_caller]
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        support::http_request(method, &self.base(), path, headers, None)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// The JSON of a 200 answer.
    #[track_caller]
    pub(crate) fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "{path}: {r:?}");
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", r.body))
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub(crate) fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid()).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    /// Sends SIGTERM and waits (at most 30 s) for the exit.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        self.signal(rustix::process::Signal::TERM);
        self.wait(Duration::from_secs(30))
    }

    pub(crate) fn wait(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "the agent did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the agent logged so far.
    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Asserts that the agent's logs hold none of `values` and that
    /// `secret-chain scan` finds no credential in them.
    #[track_caller]
    pub(crate) fn assert_logs_hold_none_of(&self, values: &[&str]) {
        let logs = self.logs();
        for v in values {
            assert!(!logs.contains(v), "the agent logged a value:\n{logs}");
        }
        assert!(!logs.contains(TOKEN), "the agent logged its token:\n{logs}");
        let out = Command::new(BIN)
            .args(["scan", "stderr.log"])
            .current_dir(self.dir.path())
            .env_clear()
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "scan found a credential in the agent's logs:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One request over the Unix socket at `path`; status and body.
pub(crate) fn unix_get(path: &Path, target: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// A secret in moto; returns its ARN.
pub(crate) async fn create_secret(name: &str, value: &str) -> String {
    let client = support::seed_client(&support::aws_endpoint());
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap()
}

/// A new current version of `name` in moto; returns its version id.
pub(crate) async fn put_value(endpoint: &str, name: &str, value: &str) -> String {
    let client = support::seed_client(endpoint);
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap()
}
