//! `secret-chain check` and `get` with named provider instances: each
//! instance is printed under its own name.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_secret-chain");

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run secret-chain")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_and_errors_name_each_instance() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("local.env"), "LOCAL_ONLY=cli-local-1\n").unwrap();
    std::fs::write(dir.path().join("shared.env"), "SHARED_ONLY=cli-shared-1\n").unwrap();
    let env = [
        ("SECRETS_PROVIDERS", "local=env,shared=env"),
        ("SECRETS_LOCAL_ENV_FILE", "local.env"),
        ("SECRETS_SHARED_ENV_FILE", "shared.env"),
    ];

    let out = run(dir.path(), &["check"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("local: ok ("), "{stdout}");
    assert!(lines[1].starts_with("shared: ok ("), "{stdout}");

    let out = run(dir.path(), &["get", "shared/only"], &env);
    assert_eq!(text(&out.stdout), "cli-shared-1\n", "{}", text(&out.stderr));

    let out = run(dir.path(), &["get", "nowhere"], &env);
    assert_ne!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("local: not found (NOWHERE); shared: not found (NOWHERE)"),
        "{stderr}"
    );
}
