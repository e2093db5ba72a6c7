//! The exit-code table of the README's "Command line" section, checked on
//! the built binary: 0 ok, 1 the answer is no, 2 usage, configuration or a
//! bad file, 3 a backend unavailable or access denied; a 2 or 3 wins over
//! a 1.
//!
//! The fake credential below is marked `secret-chain:allow` so that a scan
//! of this repository does not report it.

use std::process::Output;

use crate::get::{dir_with_env, run, text};

const STRIPE: &str = "sk_live_OGAucWtJGXdfhxnmrl8kc5S6"; // secret-chain:allow

/// The exit code, with stderr in the message when it is not `want`.
#[track_caller]
fn assert_exit(out: &Output, want: i32) {
    assert_eq!(
        out.status.code(),
        Some(want),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn get_exits_0_found_1_not_found_2_bad_configuration() {
    let dir = dir_with_env("DATABASE_URL=exit-pw-1\n");
    assert_exit(&run(dir.path(), &["get", "database/url"], &[]), 0);
    let missing = run(dir.path(), &["get", "nowhere"], &[]);
    assert_exit(&missing, 1);
    assert!(missing.stdout.is_empty());
    let bad = run(
        dir.path(),
        &["get", "database/url"],
        &[("SECRETS_PROVIDERS", "nope")],
    );
    assert_exit(&bad, 2);
    assert!(text(&bad.stderr).contains("SECRETS_PROVIDERS"));
    assert!(!text(&bad.stderr).contains("exit-pw-1"));
}

#[test]
fn usage_errors_from_clap_exit_2_and_help_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["get"][..],
        &["get", "a", "b"],
        &["get", "--frobnicate", "a"],
        &["scan", "--format", "xml"],
        &["nope"],
        &[],
    ] {
        let out = run(dir.path(), args, &[]);
        assert_exit(&out, 2);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert_exit(&run(dir.path(), &["--help"], &[]), 0);
    assert_exit(&run(dir.path(), &["--version"], &[]), 0);
}

#[test]
fn every_command_s_help_prints_the_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let table = |args: &[&str]| {
        let help = text(&run(dir.path(), args, &[]).stdout);
        let at = help.find("Exit codes").unwrap_or_else(|| panic!("{help}"));
        help[at..].to_owned()
    };
    let top = table(&["--help"]);
    for line in [
        "  0  ok",
        "  1  the answer is no",
        "  2  usage",
        "  3  a backend",
    ] {
        assert!(top.contains(line), "{line:?} missing: {top}");
    }
    assert!(
        top.contains("2 or 3 wins over a 1")
            && top.contains("exec is the exception and follows env(1)")
    );
    for cmd in ["get", "list", "check", "scan", "redact"] {
        assert_eq!(table(&[cmd, "--help"]), top, "{cmd}");
    }
}

#[test]
fn scan_exits_0_clean_1_finding_2_unreadable_and_2_when_both() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clean.log"), "INFO all good\n").unwrap();
    std::fs::write(dir.path().join("dirty.log"), format!("key={STRIPE}\n")).unwrap();
    assert_exit(&run(dir.path(), &["scan", "clean.log"], &[]), 0);
    let found = run(dir.path(), &["scan", "dirty.log"], &[]);
    assert_exit(&found, 1);
    assert!(!text(&found.stdout).contains(STRIPE));
    assert_exit(&run(dir.path(), &["scan", "missing.log"], &[]), 2);
    // The unreadable path wins in either order, and the finding still prints.
    for args in [
        ["scan", "dirty.log", "missing.log"],
        ["scan", "missing.log", "dirty.log"],
    ] {
        let both = run(dir.path(), &args, &[]);
        assert_exit(&both, 2);
        assert!(text(&both.stdout).starts_with("dirty.log:1:"), "{args:?}");
        assert!(text(&both.stderr).contains("missing.log"), "{args:?}");
    }
    let bad_config = run(
        dir.path(),
        &["scan", "--config", "none.toml", "dirty.log"],
        &[],
    );
    assert_exit(&bad_config, 2);
}

#[test]
fn redact_exits_0_copied_and_2_unreadable_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.log"), format!("key={STRIPE}\n")).unwrap();
    let ok = run(dir.path(), &["redact", "in.log"], &[]);
    assert_exit(&ok, 0);
    assert_eq!(text(&ok.stdout), "key=****\n");
    let missing = run(dir.path(), &["redact", "missing.log"], &[]);
    assert_exit(&missing, 2);
    assert!(text(&missing.stderr).contains("missing.log"));
    let dir_as_input = run(dir.path(), &["redact", "."], &[]);
    assert_exit(&dir_as_input, 2);
}

#[test]
fn list_and_check_exit_0_when_every_provider_answers() {
    let dir = dir_with_env("DATABASE_URL=exit-pw-2\n");
    let list = run(dir.path(), &["list", "database/"], &[]);
    assert_exit(&list, 0);
    assert_eq!(text(&list.stdout), "database/url\n");
    let check = run(dir.path(), &["check"], &[]);
    assert_exit(&check, 0);
    assert!(check.stderr.is_empty(), "{}", text(&check.stderr));
}

/// The address of an AWS endpoint that refuses connections (a closed
/// loopback port): with one attempt and no retry, "unavailable" at once.
#[cfg(feature = "aws")]
fn dead_endpoint() -> String {
    format!("http://127.0.0.1:{}", crate::support::free_port())
}

/// The AWS test settings at `endpoint`, with `providers` as the chain.
#[cfg(feature = "aws")]
fn chain<'a>(providers: &'a str, endpoint: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut env = crate::get::aws_env(endpoint, "/exit/");
    env[0] = ("SECRETS_PROVIDERS", providers);
    env
}

#[cfg(feature = "aws")]
#[test]
fn every_provider_unavailable_exits_3_for_get_list_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dead_endpoint();
    let env = chain("aws", &dead);
    let get = run(dir.path(), &["get", "database/url"], &env);
    assert_exit(&get, 3);
    assert!(get.stdout.is_empty());
    let list = run(dir.path(), &["list"], &env);
    assert_exit(&list, 3);
    assert!(list.stdout.is_empty());
    let check = run(dir.path(), &["check"], &env);
    assert_exit(&check, 3);
    assert!(text(&check.stdout).starts_with("aws: "));
    assert_eq!(text(&check.stderr), "secret-chain: no provider answers\n");
}

#[cfg(feature = "aws")]
#[test]
fn a_listing_with_a_provider_down_prints_the_others_names_and_exits_3() {
    let dir = dir_with_env("DATABASE_URL=exit-list-pw-4\nAPI_KEY=exit-list-pw-5\n");
    let dead = dead_endpoint();
    let env = chain("aws,env", &dead);
    let list = run(dir.path(), &["list"], &env);
    assert_exit(&list, 3);
    assert_eq!(text(&list.stdout), "api_key\ndatabase_url\n");
    let err = text(&list.stderr);
    assert!(
        err.contains("secret-chain: list is incomplete: aws"),
        "{err}"
    );
    assert!(!err.contains("exit-list-pw"), "{err}");
}

#[cfg(feature = "aws")]
#[test]
fn not_found_in_one_provider_and_unavailable_in_another_exits_3() {
    // The library calls this "not found" (one provider said so), but the
    // dead one may hold the secret: not a clean no. Either order.
    let dir = dir_with_env("OTHER=exit-pw-3\n");
    for providers in ["aws,env", "env,aws"] {
        let dead = dead_endpoint();
        let env = chain(providers, &dead);
        let out = run(dir.path(), &["get", "database/url"], &env);
        assert_exit(&out, 3);
        let err = text(&out.stderr);
        assert!(
            err.contains("aws: ") && err.contains("env: not found (DATABASE_URL)"),
            "{providers}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains("exit-pw-3"), "{err}");
    }
    // The fallback still answers when it has the secret.
    let dir = dir_with_env("DATABASE_URL=exit-pw-4\n");
    let dead = dead_endpoint();
    let out = run(
        dir.path(),
        &["get", "database/url"],
        &chain("aws,env", &dead),
    );
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "exit-pw-4\n");
}

#[cfg(feature = "aws")]
#[test]
fn check_exits_3_when_one_provider_is_dead_and_prints_every_line() {
    let dir = dir_with_env("DATABASE_URL=exit-pw-5\n");
    let dead = dead_endpoint();
    let out = run(dir.path(), &["check"], &chain("aws,env", &dead));
    assert_exit(&out, 3);
    let report = text(&out.stdout);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 2, "{report}");
    assert!(lines[0].starts_with("aws: ") && !lines[0].starts_with("aws: ok"));
    assert!(lines[1].starts_with("env: ok"), "{report}");
    assert_eq!(
        text(&out.stderr),
        "secret-chain: 1 of 2 providers do not answer: aws\n"
    );
    assert!(!report.contains("exit-pw-5"));
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn get_list_and_check_exit_0_through_a_live_backend() {
    let endpoint = crate::support::aws_endpoint();
    let client = crate::support::seed_client(&endpoint);
    let prefix = format!("/{}/", crate::support::unique_name("exit"));
    client
        .create_secret()
        .name(format!("{prefix}api/key"))
        .secret_string("exit-aws-pw-6")
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = crate::get::aws_env(&endpoint, &prefix);
    env[0] = ("SECRETS_PROVIDERS", "aws");
    assert_exit(&run(dir.path(), &["get", "api/key"], &env), 0);
    assert_exit(&run(dir.path(), &["get", "api/none"], &env), 1);
    let list = run(dir.path(), &["list"], &env);
    assert_exit(&list, 0);
    assert_eq!(text(&list.stdout), "api/key\n");
    assert_exit(&run(dir.path(), &["check"], &env), 0);
}

#[cfg(feature = "vault")]
#[test]
fn not_found_in_one_provider_and_denied_in_another_exits_3() {
    let bad_token = "exit-bad-token-7";
    let dir = dir_with_env("OTHER=1\n");
    let addr = crate::support::vault_addr();
    let env = [
        ("SECRETS_PROVIDERS", "vault,env"),
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", bad_token),
        ("SECRETS_RETRIES", "0"),
    ];
    let out = run(dir.path(), &["get", "database/url"], &env);
    assert_exit(&out, 3);
    let err = text(&out.stderr);
    assert!(err.contains("vault: access denied"), "{err}");
    assert!(!err.contains(bad_token), "{err}");
}

#[test]
fn the_readme_lists_the_same_codes() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md at the workspace root");
    let at = readme
        .find("\n## Command line\n")
        .expect("a Command line section");
    let section = &readme[at..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |e| e + 1)];
    for row in [
        "| `0` | ok |",
        "| `1` | the answer is no |",
        "| `2` | usage, configuration or a bad file |",
        "| `3` | a backend unavailable or access denied |",
    ] {
        assert!(section.contains(row), "{row:?} missing from the README");
    }
    assert!(section.contains("A 2 or 3 wins over a 1") && section.contains("`env(1)`"));
}
