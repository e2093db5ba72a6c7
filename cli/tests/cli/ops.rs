//! What the tests of the operator commands (`migrate`, `rotate`, `audit`)
//! share: running the binary (with stdin), the leak check of every
//! output, and OpenBao set-up calls (KV writes, policies, tokens).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_secret-chain");

/// Runs the binary in `dir` with only `env` (and PATH), `stdin` piped in.
pub(crate) fn run(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run secret-chain");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("wait for secret-chain")
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Both streams, for messages.
pub(crate) fn both(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    )
}

#[track_caller]
pub(crate) fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", both(out));
}

/// No output holds a known value, and `secret-chain scan` finds nothing
/// in all of it.
#[track_caller]
pub(crate) fn assert_no_leak(outputs: &[&Output], values: &[&str]) {
    let mut all = String::new();
    for out in outputs {
        all.push_str(&text(&out.stdout));
        all.push_str(&text(&out.stderr));
    }
    for v in values {
        assert!(!v.is_empty());
        assert!(!all.contains(v), "a value leaked into the output:\n{all}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("captured.log"), &all).unwrap();
    let scan = run(dir.path(), &["scan", "captured.log"], &[], None);
    assert_eq!(
        scan.status.code(),
        Some(0),
        "scan found something in the output:\n{}\n---\n{all}",
        both(&scan)
    );
}

/// The stage-free contents of the shared OpenBao: root-token calls.
#[cfg(feature = "vault")]
pub(crate) mod bao {
    /// One call to the shared server with `token`; status and body.
    pub(crate) fn call(method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, String) {
        let addr = crate::support::vault_addr();
        let r = crate::support::http_request(
            method,
            &addr,
            &format!("/v1/{path}"),
            &[
                ("X-Vault-Token", token),
                ("Content-Type", "application/json"),
            ],
            body.map(str::as_bytes),
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (r.status, r.body)
    }

    /// A root call that must succeed.
    #[track_caller]
    pub(crate) fn ok(method: &str, path: &str, body: Option<&str>) -> String {
        let (status, body) = call(method, path, &crate::support::vault_root_token(), body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {body}"
        );
        body
    }

    /// Writes `data` (a JSON object) as a new version of `secret/{path}`.
    pub(crate) fn put(path: &str, data: &str) {
        ok(
            "POST",
            &format!("secret/data/{path}"),
            Some(&format!(r#"{{"data":{data}}}"#)),
        );
    }

    /// `secret/metadata/{path}`'s answer.
    pub(crate) fn metadata(path: &str) -> String {
        ok("GET", &format!("secret/metadata/{path}"), None)
    }

    /// The `current_version` of `secret/{path}`.
    pub(crate) fn current_version(path: &str) -> u64 {
        let body = metadata(path);
        let at = body.find("\"current_version\":").expect("current_version") + 18;
        body[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    }

    /// A policy and a token that holds only it (and `default`).
    pub(crate) fn token_with_policy(name: &str, hcl: &str) -> String {
        let body = serde_json::json!({ "policy": hcl }).to_string();
        ok("PUT", &format!("sys/policies/acl/{name}"), Some(&body));
        let body = ok(
            "POST",
            "auth/token/create",
            Some(&format!(r#"{{"policies":["{name}"],"ttl":"10m"}}"#)),
        );
        let at = body.find("\"client_token\":\"").expect("client_token") + 16;
        body[at..].chars().take_while(|c| *c != '"').collect()
    }

    /// The variables of a `vault` instance (the shared server, the root
    /// token) under `prefix`, after `providers`.
    pub(crate) fn env<'a>(
        providers: &'a str,
        addr: &'a str,
        token: &'a str,
        prefix: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("SECRETS_PROVIDERS", providers),
            ("VAULT_ADDR", addr),
            ("VAULT_TOKEN", token),
            ("SECRETS_PREFIX", prefix),
            ("SECRETS_RETRIES", "0"),
        ]
    }
}
