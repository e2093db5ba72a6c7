//! The `secret-chain` binary: output and exit codes, run in a temp dir with
//! a controlled environment.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_secret-chain");

pub(crate) fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run secret-chain")
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn dir_with_env(content: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), content).unwrap();
    dir
}

#[test]
fn get_prints_the_value_and_a_newline_and_exits_zero() {
    let dir = dir_with_env("DATABASE_URL=postgres://u:cli-pw-1@db/app\n");
    let out = run(dir.path(), &["get", "database/url"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "postgres://u:cli-pw-1@db/app\n");
}

#[test]
fn process_environment_wins_over_the_env_file() {
    let dir = dir_with_env("API_TOKEN=from-file-123\n");
    let out = run(
        dir.path(),
        &["get", "api/token"],
        &[("API_TOKEN", "from-proc-123")],
    );
    assert_eq!(text(&out.stdout), "from-proc-123\n");
}

#[test]
fn get_json_pretty_prints_and_field_paths_work() {
    let dir = dir_with_env("DB='{\"user\":\"app\",\"password\":\"cli-pw-2\"}'\n");
    let out = run(dir.path(), &["get", "db", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\n  \"user\": \"app\""),
        "{}",
        text(&out.stdout)
    );
    let out = run(dir.path(), &["get", "db#password"], &[]);
    assert_eq!(text(&out.stdout), "cli-pw-2\n");
}

#[test]
fn missing_secret_exits_one_with_one_clear_line() {
    let dir = dir_with_env("OTHER=cli-pw-3\n");
    let out = run(dir.path(), &["get", "database/url"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "secret-chain: secret 'database/url' not found: env: not found (DATABASE_URL)\n"
    );
}

#[test]
fn configuration_errors_exit_two_and_name_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["get", "x"], &[("SECRETS_CACHE_TTL", "soon")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("SECRETS_CACHE_TTL"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        dir.path(),
        &["get", "x"],
        &[("SECRETS_PROVIDERS", "env,nope")],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        dir.path(),
        &["get", "x"],
        &[("DEPLOYMENT_ENV", "production")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("SECRETS_ALLOW_ENV_FALLBACK"));
    let out = run(
        dir.path(),
        &["get", "x"],
        &[("SECRETS_ENV_FILE", "does-not-exist.env")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("SECRETS_ENV_FILE"));
}

#[test]
fn usage_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["frobnicate"], &[]).status.code(), Some(2));
    assert_eq!(run(dir.path(), &["get"], &[]).status.code(), Some(2));
}

#[test]
fn malformed_env_file_is_reported_without_its_content() {
    let dir = dir_with_env("GOOD=1\nBAD LINE leaked-pw-4\n");
    let out = run(dir.path(), &["get", "good"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("line 2") && err.contains(".env"), "{err}");
    assert!(!err.contains("leaked-pw-4"), "{err}");
}

#[test]
fn list_prints_names_only() {
    let dir = dir_with_env("DATABASE_URL=list-pw-5\nDATABASE_USER=app\nOTHER=x\n");
    let out = run(dir.path(), &["list", "database/"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "database/url\ndatabase/user\n");
}

#[test]
fn check_reports_each_provider_without_values() {
    let dir = dir_with_env("DATABASE_URL=check-pw-6\n");
    let out = run(dir.path(), &["check"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("env: ok"), "{stdout}");
    assert!(!stdout.contains("check-pw-6"));
}

#[test]
fn help_documents_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--help"], &[]);
    let help = text(&out.stdout);
    assert!(
        help.contains("Exit codes") && help.contains("a backend unavailable or access denied"),
        "{help}"
    );
}

#[cfg(feature = "aws")]
pub(crate) fn aws_env<'a>(endpoint: &'a str, prefix: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("SECRETS_PROVIDERS", "aws,env"),
        ("SECRETS_PREFIX", prefix),
        ("SECRETS_AWS_ENDPOINT", endpoint),
        ("SECRETS_AWS_REGION", crate::support::AWS_TEST_REGION),
        ("AWS_ACCESS_KEY_ID", crate::support::AWS_TEST_ACCESS_KEY_ID),
        (
            "AWS_SECRET_ACCESS_KEY",
            crate::support::AWS_TEST_SECRET_ACCESS_KEY,
        ),
        ("SECRETS_AWS_MAX_ATTEMPTS", "1"),
        ("SECRETS_RETRIES", "0"),
    ]
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn aws_then_env_chain_works_for_get_list_and_check() {
    let endpoint = crate::support::aws_endpoint();
    let client = crate::support::seed_client(&endpoint);
    let prefix = format!("/{}/", crate::support::unique_name("cli"));
    client
        .create_secret()
        .name(format!("{prefix}database/url"))
        .secret_string("postgres://app:cli-aws-pw-7@db/app")
        .send()
        .await
        .unwrap();
    let dir = dir_with_env("LOCAL_ONLY=cli-env-pw-8\nDATABASE_URL=shadowed-by-aws\n");
    let env = aws_env(&endpoint, &prefix);

    let out = run(dir.path(), &["get", "database/url"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "postgres://app:cli-aws-pw-7@db/app\n");

    let out = run(dir.path(), &["get", "local/only"], &env);
    assert_eq!(text(&out.stdout), "cli-env-pw-8\n", "{}", text(&out.stderr));

    let out = run(dir.path(), &["get", "nowhere/at-all"], &env);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("aws: not found") && err.contains("env: not found (NOWHERE_AT_ALL)"),
        "{err}"
    );

    let out = run(dir.path(), &["list"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let names = text(&out.stdout);
    assert!(names.lines().any(|l| l == "database/url"), "{names}");
    assert!(names.lines().any(|l| l == "local_only"), "{names}");
    assert!(!names.contains("cli-aws-pw-7") && !names.contains("cli-env-pw-8"));

    let out = run(dir.path(), &["check"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("aws: ok") && report.contains("env: ok"),
        "{report}"
    );
}

#[cfg(feature = "aws")]
#[test]
fn every_provider_unavailable_exits_three() {
    let dead = format!("http://127.0.0.1:{}", crate::support::free_port());
    let dir = tempfile::tempdir().unwrap();
    let mut env = aws_env(&dead, "/x/");
    env[0] = ("SECRETS_PROVIDERS", "aws");
    let out = run(dir.path(), &["get", "database/url"], &env);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("secret-chain: secret 'database/url' unavailable: aws: "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = run(dir.path(), &["check"], &env);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stdout).starts_with("aws: "),
        "{}",
        text(&out.stdout)
    );
}

#[cfg(feature = "ssm")]
#[tokio::test]
async fn ssm_then_env_chain_works_for_get_list_and_check() {
    use aws_sdk_ssm::types::ParameterType;
    let endpoint = crate::support::aws_endpoint();
    let client = crate::support::ssm_seed_client(&endpoint);
    let folder = crate::support::unique_name("cli-params");
    client
        .put_parameter()
        .name(format!("/{folder}/database/url"))
        .value("postgres://app:cli-ssm-pw-7@db/app")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let dir = dir_with_env("LOCAL_ONLY=cli-env-pw-8\n");
    let env = [
        ("SECRETS_PROVIDERS", "ssm,env"),
        ("SECRETS_SSM_PREFIX", folder.as_str()),
        ("SECRETS_SSM_ENDPOINT", endpoint.as_str()),
        ("SECRETS_AWS_REGION", crate::support::AWS_TEST_REGION),
        ("AWS_ACCESS_KEY_ID", crate::support::AWS_TEST_ACCESS_KEY_ID),
        (
            "AWS_SECRET_ACCESS_KEY",
            crate::support::AWS_TEST_SECRET_ACCESS_KEY,
        ),
        ("SECRETS_RETRIES", "0"),
    ];

    let out = run(dir.path(), &["get", "database/url"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "postgres://app:cli-ssm-pw-7@db/app\n");

    let out = run(dir.path(), &["get", "nowhere/at-all"], &env);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "ssm: not found (parameter /{folder}/nowhere/at-all)"
        )),
        "{err}"
    );

    let out = run(dir.path(), &["list"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let names = text(&out.stdout);
    assert!(names.lines().any(|l| l == "database/url"), "{names}");
    assert!(!names.contains("cli-ssm-pw-7"), "{names}");

    let out = run(dir.path(), &["check"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ssm: ok"),
        "{}",
        text(&out.stdout)
    );

    // A dead endpoint: unavailable, exit 3.
    let dead = format!("http://127.0.0.1:{}", crate::support::free_port());
    let mut env = env.to_vec();
    env[0] = ("SECRETS_PROVIDERS", "ssm");
    env[2] = ("SECRETS_SSM_ENDPOINT", dead.as_str());
    let out = run(dir.path(), &["get", "database/url"], &env);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot connect to AWS SSM Parameter Store"),
        "{}",
        text(&out.stderr)
    );
}

#[cfg(all(feature = "files", unix))]
#[test]
fn files_then_env_chain_works_for_get_list_and_check() {
    use std::os::unix::fs::symlink;
    // The layout of a Kubernetes secret volume with items[].path: db/password.
    let dir = dir_with_env("LOCAL_ONLY=cli-env-pw-9\n");
    let vol = tempfile::tempdir().unwrap();
    let ts = vol.path().join("..2026_12_02_10_00_00.1");
    std::fs::create_dir_all(ts.join("db")).unwrap();
    std::fs::write(ts.join("db/password"), "cli-files-pw-8\n").unwrap();
    std::fs::write(ts.join("cert"), b"\x30\x82\xff\n").unwrap();
    symlink("..2026_12_02_10_00_00.1", vol.path().join("..data")).unwrap();
    symlink("..data/db", vol.path().join("db")).unwrap();
    symlink("..data/cert", vol.path().join("cert")).unwrap();
    let vol_dir = vol.path().to_str().unwrap().to_owned();
    let vol_dir = vol_dir.as_str();
    let env = [
        ("SECRETS_PROVIDERS", "files,env"),
        ("SECRETS_FILES_DIR", vol_dir),
    ];

    let out = run(dir.path(), &["get", "db/password"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "cli-files-pw-8\n");
    let out = run(dir.path(), &["get", "local/only"], &env);
    assert_eq!(text(&out.stdout), "cli-env-pw-9\n");

    let out = run(dir.path(), &["get", "nowhere"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("files: not found ({vol_dir}/nowhere)")),
        "{}",
        text(&out.stderr)
    );
    let out = run(dir.path(), &["get", "../etc/passwd"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    let out = run(dir.path(), &["list"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let names = text(&out.stdout);
    assert!(names.lines().any(|l| l == "db/password"), "{names}");
    assert!(names.lines().any(|l| l == "cert"), "{names}");
    assert!(
        !names.contains("..data") && !names.contains("cli-files-pw-8"),
        "{names}"
    );

    let out = run(dir.path(), &["check"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("files: ok"),
        "{}",
        text(&out.stdout)
    );

    // The directory gone: a configuration error naming the setting and
    // the directory, before any provider is asked.
    drop(vol);
    let out = run(dir.path(), &["check"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("SECRETS_FILES_DIR")
            && err.contains(vol_dir)
            && err.contains("does not exist"),
        "{err}"
    );
}

#[cfg(feature = "gcp")]
#[test]
fn gcp_then_env_chain_works_for_get_list_and_check() {
    let endpoint = crate::support::gcp_endpoint();
    let project = crate::support::unique_name("cli-gcp");
    crate::support::gcp_seed(
        &endpoint,
        &project,
        "app_database_url",
        &[b"postgres://app:cli-gcp-pw-9@db/app"],
    );
    let dir = dir_with_env("LOCAL_ONLY=cli-env-pw-10\n");
    let env = [
        ("SECRETS_PROVIDERS", "gcp,env"),
        ("SECRETS_GCP_PROJECT", project.as_str()),
        ("SECRETS_GCP_ENDPOINT", endpoint.as_str()),
        ("SECRETS_GCP_PREFIX", "app"),
        ("SECRETS_RETRIES", "0"),
    ];

    let out = run(dir.path(), &["get", "database/url"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "postgres://app:cli-gcp-pw-9@db/app\n");
    let out = run(dir.path(), &["get", "local/only"], &env);
    assert_eq!(
        text(&out.stdout),
        "cli-env-pw-10\n",
        "{}",
        text(&out.stderr)
    );

    let out = run(dir.path(), &["get", "nowhere/at-all"], &env);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "gcp: not found (gcp secret app_nowhere_at-all (version latest) in project {project})"
        )),
        "{err}"
    );

    let out = run(dir.path(), &["list", "database/"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let names = text(&out.stdout);
    assert!(names.lines().any(|l| l == "database/url"), "{names}");
    assert!(!names.contains("cli-gcp-pw-9"), "{names}");

    let out = run(dir.path(), &["check"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("gcp: ok"),
        "{}",
        text(&out.stdout)
    );

    // A dead endpoint: unavailable, exit 3.
    let dead = format!("http://127.0.0.1:{}", crate::support::free_port());
    let mut env = env.to_vec();
    env[0] = ("SECRETS_PROVIDERS", "gcp");
    env[2] = ("SECRETS_GCP_ENDPOINT", dead.as_str());
    let out = run(dir.path(), &["get", "database/url"], &env);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("gcp secret app_database_url (version latest) in project"),
        "{}",
        text(&out.stderr)
    );
}
