//! `secret-chain migrate` against OpenBao and moto: the plan, creating,
//! an idempotent re-run, a refused overwrite, `--overwrite`, a partial
//! failure (one write denied by an OpenBao policy); never a value in the
//! output.

use crate::ops::{assert_exit, assert_no_leak, both, run, text};

const MANIFEST: &str = r#"
[secrets.DATABASE_URL]
path = "database/url"
[secrets.DB_USER]
path = "db#user"
[secrets.DB_PASSWORD]
path = "db#password"
[secrets.STRIPE_KEY]
path = "stripe/key"
required = false
"#;

fn write(dir: &std::path::Path, name: &str, content: &str) {
    std::fs::write(dir.join(name), content).unwrap();
}

#[cfg(feature = "vault")]
#[test]
fn env_to_openbao_plans_creates_reruns_refuses_and_overwrites() {
    use crate::ops::bao;
    let (addr, token) = (
        crate::support::vault_addr(),
        crate::support::vault_root_token(),
    );
    let folder = crate::support::unique_name("cli-migrate");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "secrets.toml", MANIFEST);
    let (url, pw) = ("postgres://app:mig-url-pw-4Kq@db/app", "mig-db-pw-9Zr");
    write(
        dir.path(),
        ".env",
        &format!("DATABASE_URL={url}\nDB='{{\"user\":\"app\",\"password\":\"{pw}\"}}'\n"),
    );
    // The target is a named instance with a prefix of its own.
    let env = [
        ("SECRETS_PROVIDERS", "env,target=vault"),
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", token.as_str()),
        ("SECRETS_TARGET_PREFIX", folder.as_str()),
        ("SECRETS_RETRIES", "0"),
    ];
    let args = [
        "migrate",
        "--manifest",
        "secrets.toml",
        "--from",
        "env",
        "--to",
        "target",
    ];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        args.iter().copied().chain(extra.iter().copied()).collect()
    };

    let plan = run(dir.path(), &with(&["--dry-run"]), &env, None);
    assert_exit(&plan, 0);
    let stdout = text(&plan.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("database/url: create (target secret/data/{folder}/database/url)"),
            format!("db: create (target secret/data/{folder}/db)"),
            format!(
                "stripe/key: missing at source (optional; target secret/data/{folder}/stripe/key left as it is)"
            ),
        ],
        "{}",
        both(&plan)
    );
    let (status, _) = bao::call(
        "GET",
        &format!("secret/data/{folder}/database/url"),
        &token,
        None,
    );
    assert_eq!(status, 404, "a dry run writes nothing");

    let first = run(dir.path(), &args, &env, None);
    assert_exit(&first, 0);
    let stdout = text(&first.stdout);
    assert!(
        stdout.contains(&format!(
            "database/url: created (target secret/data/{folder}/database/url, version 1)"
        )) && stdout.contains(&format!(
            "db: created (target secret/data/{folder}/db, version 1)"
        )),
        "{}",
        both(&first)
    );
    // Read back as a service reads it: text under "value", fields merged.
    let reader = bao::env("vault", &addr, &token, &folder);
    let get = |path: &str| {
        let out = run(dir.path(), &["get", path], &reader, None);
        assert_exit(&out, 0);
        text(&out.stdout)
    };
    assert_eq!(get("database/url"), format!("{url}\n"));
    assert_eq!(get("db#password"), format!("{pw}\n"));
    assert_eq!(get("db#user"), "app\n");
    assert!(
        bao::ok("GET", &format!("secret/data/{folder}/database/url"), None)
            .contains(r#""data":{"value":"postgres"#)
    );

    let again = run(dir.path(), &args, &env, None);
    assert_exit(&again, 0);
    let stdout = text(&again.stdout);
    assert!(
        stdout.contains(&format!(
            "database/url: unchanged (target secret/data/{folder}/database/url, version 1)"
        )) && stdout.contains("db: unchanged ("),
        "{}",
        both(&again)
    );

    let new_url = "postgres://app:mig-url-pw-NEW-7Tw@db/app";
    write(
        dir.path(),
        ".env",
        &format!("DATABASE_URL={new_url}\nDB='{{\"user\":\"app\",\"password\":\"{pw}\"}}'\n"),
    );
    let refused = run(dir.path(), &args, &env, None);
    assert_exit(&refused, 1);
    assert!(
        text(&refused.stdout).contains(&format!(
            "database/url: not overwritten (target secret/data/{folder}/database/url, version 1 differs; --overwrite replaces it)"
        )),
        "{}",
        both(&refused)
    );
    assert!(
        text(&refused.stderr).contains("not overwritten")
            && text(&refused.stderr).contains("database/url"),
        "{}",
        both(&refused)
    );
    assert_eq!(get("database/url"), format!("{url}\n"));
    let planned = run(dir.path(), &with(&["--dry-run"]), &env, None);
    assert_exit(&planned, 1);
    assert!(text(&planned.stdout).contains("version 1 differs; refused without --overwrite"));

    let overwritten = run(dir.path(), &with(&["--overwrite"]), &env, None);
    assert_exit(&overwritten, 0);
    assert!(
        text(&overwritten.stdout).contains(&format!(
            "database/url: updated (target secret/data/{folder}/database/url, version 2)"
        )),
        "{}",
        both(&overwritten)
    );
    assert_eq!(get("database/url"), format!("{new_url}\n"));

    assert_no_leak(
        &[&plan, &first, &again, &refused, &planned, &overwritten],
        &[url, pw, new_url, "mig-url-pw", &token],
    );
}

#[cfg(feature = "vault")]
#[test]
fn a_write_denied_by_a_policy_is_a_partial_failure_naming_both_sides() {
    use crate::ops::bao;
    let addr = crate::support::vault_addr();
    let folder = crate::support::unique_name("cli-migrate-deny");
    let token = bao::token_with_policy(
        &folder,
        &format!(
            r#"
path "secret/data/{folder}/*" {{ capabilities = ["create", "read", "update"] }}
path "secret/data/{folder}/locked" {{ capabilities = ["read"] }}
"#
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "secrets.toml",
        "[secrets.A]\npath = \"first\"\n[secrets.B]\npath = \"locked\"\n[secrets.C]\npath = \"last\"\n",
    );
    let values = ["mig-part-a-3Hd", "mig-part-b-8Lm", "mig-part-c-1Qx"];
    write(
        dir.path(),
        ".env",
        &format!(
            "FIRST={}\nLOCKED={}\nLAST={}\n",
            values[0], values[1], values[2]
        ),
    );
    let env = bao::env("env,vault", &addr, &token, &folder);
    let out = run(
        dir.path(),
        &[
            "migrate",
            "--manifest",
            "secrets.toml",
            "--from",
            "env",
            "--to",
            "vault",
        ],
        &env,
        None,
    );
    assert_exit(&out, 3);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("first: created ("), "{}", both(&out));
    assert!(stdout.contains("last: created ("), "{}", both(&out));
    assert!(
        stdout.contains(&format!(
            "locked: failed (vault secret/data/{folder}/locked): access denied"
        )),
        "{}",
        both(&out)
    );
    assert!(
        text(&out.stderr).contains("written: first, last; not written: locked"),
        "{}",
        both(&out)
    );
    assert_no_leak(&[&out], &[values[0], values[1], values[2], &token]);
}

#[cfg(all(feature = "aws", feature = "vault"))]
#[tokio::test]
async fn env_and_openbao_to_aws_as_secret_strings() {
    use crate::ops::bao;
    let endpoint = crate::support::aws_endpoint();
    let (addr, token) = (
        crate::support::vault_addr(),
        crate::support::vault_root_token(),
    );
    let prefix = format!("/{}", crate::support::unique_name("cli-migrate"));
    let folder = crate::support::unique_name("cli-migrate-src");
    let api = "mig-vault-api-key-6Yp";
    bao::put(
        &format!("{folder}/api/key"),
        &format!(r#"{{"value":"{api}"}}"#),
    );
    bao::put(
        &format!("{folder}/db"),
        r#"{"user":"app","password":"mig-vault-db-pw-2Wc"}"#,
    );
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "secrets.toml",
        "[secrets.KEY]\npath = \"api/key\"\n[secrets.DB]\npath = \"db\"\n",
    );
    let env = [
        ("SECRETS_PROVIDERS", "src=vault,dst=aws"),
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", token.as_str()),
        ("SECRETS_SRC_PREFIX", folder.as_str()),
        ("SECRETS_DST_PREFIX", prefix.as_str()),
        ("SECRETS_AWS_ENDPOINT", endpoint.as_str()),
        ("SECRETS_AWS_REGION", crate::support::AWS_TEST_REGION),
        ("AWS_ACCESS_KEY_ID", crate::support::AWS_TEST_ACCESS_KEY_ID),
        (
            "AWS_SECRET_ACCESS_KEY",
            crate::support::AWS_TEST_SECRET_ACCESS_KEY,
        ),
        ("SECRETS_RETRIES", "0"),
    ];
    let args = [
        "migrate",
        "--manifest",
        "secrets.toml",
        "--from",
        "src",
        "--to",
        "dst",
    ];
    let first = run(dir.path(), &args, &env, None);
    assert_exit(&first, 0);
    let stdout = text(&first.stdout);
    assert!(
        stdout.contains(&format!("api/key: created (dst {prefix}/api/key, version ")),
        "{}",
        both(&first)
    );
    assert!(
        stdout.contains(&format!("db: created (dst {prefix}/db, version ")),
        "{}",
        both(&first)
    );

    let client = crate::support::seed_client(&endpoint);
    let got = client
        .get_secret_value()
        .secret_id(format!("{prefix}/api/key"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string(), Some(api));
    let got = client
        .get_secret_value()
        .secret_id(format!("{prefix}/db"))
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(got.secret_string().unwrap()).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"user": "app", "password": "mig-vault-db-pw-2Wc"})
    );

    let again = run(dir.path(), &args, &env, None);
    assert_exit(&again, 0);
    assert_eq!(
        text(&again.stdout).matches(": unchanged (dst ").count(),
        2,
        "{}",
        both(&again)
    );
    assert_no_leak(&[&first, &again], &[api, "mig-vault-db-pw-2Wc", &token]);
}

#[test]
fn a_provider_that_cannot_be_written_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "secrets.toml", MANIFEST);
    write(dir.path(), ".env", "DATABASE_URL=mig-usage-pw-5Rt\n");
    let env = [("SECRETS_PROVIDERS", "env,other=env")];
    for (to, why) in [
        ("other", "cannot be written to"),
        ("nowhere", "no provider named 'nowhere'"),
        ("env", "--from and --to are both 'env'"),
    ] {
        let out = run(
            dir.path(),
            &[
                "migrate",
                "--manifest",
                "secrets.toml",
                "--from",
                "env",
                "--to",
                to,
            ],
            &env,
            None,
        );
        assert_exit(&out, 2);
        assert!(text(&out.stderr).contains(why), "{}", both(&out));
        assert_no_leak(&[&out], &["mig-usage-pw-5Rt"]);
    }
}

#[cfg(all(feature = "aws", feature = "vault"))]
#[tokio::test]
async fn bytes_go_to_aws_as_secret_binary_and_vault_refuses_them() {
    let endpoint = crate::support::aws_endpoint();
    let (addr, token) = (
        crate::support::vault_addr(),
        crate::support::vault_root_token(),
    );
    let client = crate::support::seed_client(&endpoint);
    let src = format!("/{}", crate::support::unique_name("cli-migrate-bin-src"));
    let dst = format!("/{}", crate::support::unique_name("cli-migrate-bin-dst"));
    let folder = crate::support::unique_name("cli-migrate-bin");
    let bytes = vec![0xff, 0x00, 0x9c, 0x41, 0xfe, 0x10, 0x80, 0x7f];
    client
        .create_secret()
        .name(format!("{src}/tls/key"))
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(bytes.clone()))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "secrets.toml",
        "[secrets.KEY]\npath = \"tls/key\"\n",
    );
    let env = [
        ("SECRETS_PROVIDERS", "src=aws,dst=aws,vault"),
        ("SECRETS_SRC_PREFIX", src.as_str()),
        ("SECRETS_DST_PREFIX", dst.as_str()),
        ("SECRETS_AWS_ENDPOINT", endpoint.as_str()),
        ("SECRETS_AWS_REGION", crate::support::AWS_TEST_REGION),
        ("AWS_ACCESS_KEY_ID", crate::support::AWS_TEST_ACCESS_KEY_ID),
        (
            "AWS_SECRET_ACCESS_KEY",
            crate::support::AWS_TEST_SECRET_ACCESS_KEY,
        ),
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", token.as_str()),
        ("SECRETS_PREFIX", folder.as_str()),
        ("SECRETS_RETRIES", "0"),
    ];
    let to = |target: &'static str| {
        vec![
            "migrate",
            "--manifest",
            "secrets.toml",
            "--from",
            "src",
            "--to",
            target,
        ]
    };
    let out = run(dir.path(), &to("dst"), &env, None);
    assert_exit(&out, 0);
    let got = client
        .get_secret_value()
        .secret_id(format!("{dst}/tls/key"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.secret_binary().map(|b| b.as_ref().to_vec()),
        Some(bytes)
    );
    assert_eq!(got.secret_string(), None);
    let again = run(dir.path(), &to("dst"), &env, None);
    assert_exit(&again, 0);
    assert!(
        text(&again.stdout).contains("tls/key: unchanged ("),
        "{}",
        both(&again)
    );
    let vault = run(dir.path(), &to("vault"), &env, None);
    assert_exit(&vault, 2);
    assert!(
        text(&vault.stdout).contains("binary (not UTF-8), which Vault KV cannot hold"),
        "{}",
        both(&vault)
    );
    assert_no_leak(&[&out, &again, &vault], &[&token]);
}

#[cfg(feature = "vault")]
#[test]
fn a_soft_deleted_target_is_written_without_overwrite_and_not_rotated() {
    use crate::ops::bao;
    let (addr, token) = (
        crate::support::vault_addr(),
        crate::support::vault_root_token(),
    );
    let folder = crate::support::unique_name("cli-migrate-deleted");
    bao::put(
        &format!("{folder}/api/key"),
        r#"{"value":"mig-deleted-old-2Pq"}"#,
    );
    bao::ok("DELETE", &format!("secret/data/{folder}/api/key"), None);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "secrets.toml",
        "[secrets.KEY]\npath = \"api/key\"\n",
    );
    write(dir.path(), ".env", "API_KEY=mig-deleted-new-8Wd\n");
    let env = bao::env("env,vault", &addr, &token, &folder);
    let rotate = run(
        dir.path(),
        &[
            "rotate",
            "api/key",
            "--provider",
            "vault",
            "--generate",
            "16",
        ],
        &env,
        None,
    );
    assert_exit(&rotate, 1);
    assert!(
        text(&rotate.stderr).contains("the current version 1 is deleted or destroyed"),
        "{}",
        both(&rotate)
    );
    let plan = run(
        dir.path(),
        &[
            "migrate",
            "--manifest",
            "secrets.toml",
            "--from",
            "env",
            "--to",
            "vault",
            "--dry-run",
        ],
        &env,
        None,
    );
    assert_exit(&plan, 0);
    assert!(
        text(&plan.stdout).contains(&format!(
            "api/key: update (vault secret/data/{folder}/api/key, version 1 is deleted)"
        )),
        "{}",
        both(&plan)
    );
    let out = run(
        dir.path(),
        &[
            "migrate",
            "--manifest",
            "secrets.toml",
            "--from",
            "env",
            "--to",
            "vault",
        ],
        &env,
        None,
    );
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains("updated ("), "{}", both(&out));
    assert_eq!(bao::current_version(&format!("{folder}/api/key")), 2);
    assert_no_leak(
        &[&rotate, &plan, &out],
        &["mig-deleted-old-2Pq", "mig-deleted-new-8Wd", &token],
    );
}
