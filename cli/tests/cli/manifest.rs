//! `secret-chain check --manifest`: one line per secret, never a value,
//! and the project's exit codes; malformed manifests.

use std::path::Path;

use crate::get::{dir_with_env, run, text};

const MANIFEST: &str = r#"
[secrets.DATABASE_URL]
path = "database/url"
description = "the app's database"

[secrets.DB_PASSWORD]
path = "db#password"

[secrets.STRIPE_KEY]
path = "stripe/api_key"
required = false
"#;

fn write(dir: &Path, name: &str, content: &str) {
    std::fs::write(dir.join(name), content).unwrap();
}

#[test]
fn check_manifest_prints_one_line_per_secret_and_exits_zero() {
    let dir = dir_with_env(
        "DATABASE_URL=postgres://app:man-pw-1@db/app\nDB='{\"password\":\"man-pw-2\"}'\n",
    );
    write(dir.path(), "secrets.toml", MANIFEST);
    let out = run(dir.path(), &["check", "--manifest", "secrets.toml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "DATABASE_URL database/url: ok (env)\n\
         DB_PASSWORD db#password: ok (env)\n\
         STRIPE_KEY stripe/api_key: missing (optional): env: not found (STRIPE_API_KEY)\n"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn a_missing_required_secret_exits_one_and_every_line_is_printed() {
    let dir = dir_with_env("DB='{\"user\":\"app\"}'\n");
    write(dir.path(), "secrets.toml", MANIFEST);
    let out = run(dir.path(), &["check", "--manifest", "secrets.toml"], &[]);
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(
        lines[0],
        "DATABASE_URL database/url: missing (required): env: not found (DATABASE_URL)"
    );
    // A field missing from a JSON secret is a bad value: 2 wins over 1.
    assert!(
        lines[1].starts_with("DB_PASSWORD db#password: invalid json: "),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("DATABASE_URL, DB_PASSWORD"), "{stderr}");

    let dir = dir_with_env("DB='{\"password\":\"man-pw-3\"}'\n");
    write(dir.path(), "secrets.toml", MANIFEST);
    let out = run(dir.path(), &["check", "--manifest", "secrets.toml"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("man-pw-3"));
}

#[test]
fn malformed_manifests_exit_two_naming_the_file_line_and_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[secrets.A]\npath = \"a\"\nrequried = false\n",
            "secret-chain: bad.toml:3: unknown key `requried`",
        ),
        (
            "[secrets.A]\npath = \"a\"\n\n[secrets.A]\npath = \"b\"\n",
            "secret-chain: bad.toml:4: ",
        ),
        (
            "[secrets.A]\npath = \"a\"\n[secrets.2FA]\npath = \"b\"\n",
            "secret-chain: bad.toml:3: [secrets.2FA]: `2FA` is not an environment variable name",
        ),
        ("[secrets.A]\npath = [\n", "secret-chain: bad.toml:"),
    ];
    for (content, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bad.toml", content);
        let out = run(dir.path(), &["check", "--manifest", "bad.toml"], &[]);
        assert_eq!(out.status.code(), Some(2), "{content}");
        let err = text(&out.stderr);
        assert!(err.starts_with(want), "{err:?} should start with {want:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["check", "--manifest", "nope.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nope.toml"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_bad_configuration_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "secrets.toml", MANIFEST);
    let out = run(
        dir.path(),
        &["check", "--manifest", "secrets.toml"],
        &[("SECRETS_PROVIDERS", "env,nope")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn check_manifest_names_the_provider_that_answered_and_an_outage_exits_three() {
    let endpoint = crate::support::aws_endpoint();
    let client = crate::support::seed_client(&endpoint);
    let prefix = format!("/{}/", crate::support::unique_name("cli-manifest"));
    client
        .create_secret()
        .name(format!("{prefix}database/url"))
        .secret_string("postgres://app:man-aws-pw-4@db/app")
        .send()
        .await
        .unwrap();
    let dir = dir_with_env("DB='{\"password\":\"man-env-pw-5\"}'\n");
    write(dir.path(), "secrets.toml", MANIFEST);
    let env = crate::get::aws_env(&endpoint, &prefix);
    let out = run(dir.path(), &["check", "--manifest", "secrets.toml"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "DATABASE_URL database/url: ok (aws)\nDB_PASSWORD db#password: ok (env)\n"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("man-aws-pw-4") && !stdout.contains("man-env-pw-5"));

    let dead = format!("http://127.0.0.1:{}", crate::support::free_port());
    let env = crate::get::aws_env(&dead, &prefix);
    let out = run(dir.path(), &["check", "--manifest", "secrets.toml"], &env);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("DATABASE_URL database/url: "),
        "{stdout}"
    );
    assert!(stdout.contains("aws: "), "{stdout}");
}
