//! `secret-chain rotate` against moto and OpenBao: a promoted rotation
//! (new `AWSCURRENT`, old `AWSPREVIOUS`), a failed check (no pending
//! version left, current unchanged), Vault's rotation and roll-back,
//! `--field`; never a value in the output.

use crate::ops::{assert_exit, assert_no_leak, both, run, text};

#[cfg(feature = "aws")]
fn aws_env<'a>(endpoint: &'a str, prefix: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut env = crate::get::aws_env(endpoint, prefix);
    env[0] = ("SECRETS_PROVIDERS", "aws");
    env
}

/// The stages of each version of `id`, sorted by version id.
#[cfg(feature = "aws")]
async fn stages(client: &aws_sdk_secretsmanager::Client, id: &str) -> Vec<(String, Vec<String>)> {
    let out = client
        .list_secret_version_ids()
        .secret_id(id)
        .send()
        .await
        .unwrap();
    let mut v: Vec<_> = out
        .versions()
        .iter()
        .map(|v| {
            (
                v.version_id().unwrap_or_default().to_owned(),
                v.version_stages().to_vec(),
            )
        })
        .collect();
    v.sort();
    v
}

#[cfg(feature = "aws")]
async fn value_at(client: &aws_sdk_secretsmanager::Client, id: &str, stage: &str) -> String {
    client
        .get_secret_value()
        .secret_id(id)
        .version_stage(stage)
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_owned()
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn aws_rotation_promotes_the_new_value_and_keeps_the_old_as_previous() {
    let endpoint = crate::support::aws_endpoint();
    let client = crate::support::seed_client(&endpoint);
    let prefix = format!("/{}", crate::support::unique_name("cli-rotate"));
    let id = format!("{prefix}/api/key");
    let old = "rot-aws-old-pw-5Gk";
    client
        .create_secret()
        .name(&id)
        .secret_string(old)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = aws_env(&endpoint, &prefix);
    let out = run(
        dir.path(),
        &[
            "rotate",
            "api/key",
            "--provider",
            "aws",
            "--generate",
            "32",
            "--check",
            "test ${#SECRET_VALUE} -eq 32 && echo \"checking $SECRET_VALUE\"",
        ],
        &env,
        None,
    );
    assert_exit(&out, 0);
    let new = value_at(&client, &id, "AWSCURRENT").await;
    assert_ne!(new, old);
    assert_eq!(new.len(), 32);
    assert!(new.chars().all(|c| c.is_ascii_alphanumeric()), "alnum");
    assert_eq!(value_at(&client, &id, "AWSPREVIOUS").await, old);
    let versions = stages(&client, &id).await;
    assert!(
        versions
            .iter()
            .all(|(_, s)| !s.iter().any(|s| s == "AWSPENDING")),
        "no pending version left: {versions:?}"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("written as AWSPENDING"), "{}", both(&out));
    assert!(stdout.contains("the check passed"), "{}", both(&out));
    assert!(
        stdout.contains("AWSCURRENT moved to version"),
        "{}",
        both(&out)
    );
    assert!(
        stdout.contains("SECRETS_CACHE_TTL") && stdout.contains("credential_rejected"),
        "{}",
        both(&out)
    );
    assert!(
        text(&out.stderr).contains("checking ****"),
        "the check's output is masked: {}",
        both(&out)
    );
    assert_no_leak(&[&out], &[old, &new]);
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn a_failed_check_removes_the_pending_version_and_leaves_current_alone() {
    let endpoint = crate::support::aws_endpoint();
    let client = crate::support::seed_client(&endpoint);
    let prefix = format!("/{}", crate::support::unique_name("cli-rotate-fail"));
    let id = format!("{prefix}/db/password");
    let old = "rot-aws-keep-pw-8Vn";
    client
        .create_secret()
        .name(&id)
        .secret_string(old)
        .send()
        .await
        .unwrap();
    let before = stages(&client, &id).await;
    let dir = tempfile::tempdir().unwrap();
    let env = aws_env(&endpoint, &prefix);
    let rejected = "rot-aws-rejected-pw-3Mc";
    let out = run(
        dir.path(),
        &[
            "rotate",
            "db/password",
            "--provider",
            "aws",
            "--value-stdin",
            "--check",
            "echo \"login with $SECRET_VALUE\" >&2; exit 3",
        ],
        &env,
        Some(&format!("{rejected}\n")),
    );
    assert_exit(&out, 1);
    assert_eq!(value_at(&client, &id, "AWSCURRENT").await, old);
    let after = stages(&client, &id).await;
    assert!(
        after
            .iter()
            .all(|(_, s)| !s.iter().any(|s| s == "AWSPENDING")),
        "{after:?}"
    );
    let current = |v: &[(String, Vec<String>)]| {
        v.iter()
            .find(|(_, s)| s.iter().any(|s| s == "AWSCURRENT"))
            .map(|(id, _)| id.clone())
    };
    assert_eq!(current(&after), current(&before));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("the check failed (exit status 3); rolled back: pending version"),
        "{}",
        both(&out)
    );
    assert!(
        text(&out.stderr).contains("login with ****"),
        "{}",
        both(&out)
    );

    // An AWSPENDING version is refused, then replaced with --force.
    client
        .put_secret_value()
        .secret_id(&id)
        .secret_string("rot-aws-stray-pending-1Jd")
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let args = [
        "rotate",
        "db/password",
        "--provider",
        "aws",
        "--generate",
        "16",
    ];
    let refused = run(dir.path(), &args, &env, None);
    assert_exit(&refused, 1);
    assert!(
        text(&refused.stderr).contains("is already AWSPENDING")
            && text(&refused.stderr).contains("--force"),
        "{}",
        both(&refused)
    );
    assert_eq!(value_at(&client, &id, "AWSCURRENT").await, old);
    let forced: Vec<&str> = args.iter().copied().chain(["--force"]).collect();
    let forced = run(dir.path(), &forced, &env, None);
    assert_exit(&forced, 0);
    let new = value_at(&client, &id, "AWSCURRENT").await;
    assert_eq!(new.len(), 16);
    assert_eq!(value_at(&client, &id, "AWSPREVIOUS").await, old);
    let pending = stages(&client, &id)
        .await
        .into_iter()
        .filter(|(_, s)| s.iter().any(|s| s == "AWSPENDING"))
        .count();
    assert_eq!(pending, 0);
    assert_no_leak(
        &[&out, &refused, &forced],
        &[old, rejected, &new, "rot-aws-stray-pending-1Jd"],
    );
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn one_field_of_an_aws_json_secret_is_rotated() {
    let endpoint = crate::support::aws_endpoint();
    let client = crate::support::seed_client(&endpoint);
    let prefix = format!("/{}", crate::support::unique_name("cli-rotate-field"));
    let id = format!("{prefix}/db");
    client
        .create_secret()
        .name(&id)
        .secret_string(r#"{"user":"app","password":"rot-field-old-pw-2Bx"}"#)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = aws_env(&endpoint, &prefix);
    let whole = run(
        dir.path(),
        &["rotate", "db", "--provider", "aws", "--generate", "20"],
        &env,
        None,
    );
    assert_exit(&whole, 2);
    assert!(
        text(&whole.stderr).contains("name the one to rotate with --field"),
        "{}",
        both(&whole)
    );
    let out = run(
        dir.path(),
        &[
            "rotate",
            "db",
            "--provider",
            "aws",
            "--generate",
            "20",
            "--charset",
            "hex",
            "--field",
            "password",
        ],
        &env,
        None,
    );
    assert_exit(&out, 0);
    let doc: serde_json::Value =
        serde_json::from_str(&value_at(&client, &id, "AWSCURRENT").await).unwrap();
    assert_eq!(doc["user"], "app");
    let new = doc["password"].as_str().unwrap().to_owned();
    assert_eq!(new.len(), 20);
    assert!(new.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(
        text(&out.stdout).contains("db (field password): "),
        "{}",
        both(&out)
    );
    assert_no_leak(&[&whole, &out], &["rot-field-old-pw-2Bx", &new]);
}

#[cfg(feature = "vault")]
#[test]
fn openbao_rotation_writes_a_version_and_a_failed_check_writes_the_old_data_back() {
    use crate::ops::bao;
    let (addr, token) = (
        crate::support::vault_addr(),
        crate::support::vault_root_token(),
    );
    let folder = crate::support::unique_name("cli-rotate");
    let old = "rot-vault-old-pw-6Fh";
    bao::put(
        &format!("{folder}/api/key"),
        &format!(r#"{{"value":"{old}"}}"#),
    );
    let dir = tempfile::tempdir().unwrap();
    let env = bao::env("vault", &addr, &token, &folder);
    let get = |path: &str| {
        let out = run(dir.path(), &["get", path], &env, None);
        assert_exit(&out, 0);
        text(&out.stdout).trim_end().to_owned()
    };

    let ok = run(
        dir.path(),
        &[
            "rotate",
            "api/key",
            "--provider",
            "vault",
            "--generate",
            "24",
            "--charset",
            "hex",
            "--check",
            "echo \"new=$SECRET_VALUE\"",
        ],
        &env,
        None,
    );
    assert_exit(&ok, 0);
    let rotated = get("api/key");
    assert_eq!(rotated.len(), 24);
    assert!(rotated.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(bao::current_version(&format!("{folder}/api/key")), 2);
    assert!(
        text(&ok.stdout).contains("new version 2 written"),
        "{}",
        both(&ok)
    );
    assert!(text(&ok.stderr).contains("new=****"), "{}", both(&ok));

    let failed = run(
        dir.path(),
        &[
            "rotate",
            "api/key",
            "--provider",
            "vault",
            "--generate",
            "24",
            "--check",
            "echo \"old=$SECRET_VALUE\"; exit 1",
        ],
        &env,
        None,
    );
    assert_exit(&failed, 1);
    assert_eq!(get("api/key"), rotated, "the previous value is back");
    assert_eq!(bao::current_version(&format!("{folder}/api/key")), 4);
    assert!(
        text(&failed.stdout).contains(
            "the check failed (exit status 1); rolled back: the previous data was written back as version 4; version 3 holds the rejected value"
        ),
        "{}",
        both(&failed)
    );

    let slow = run(
        dir.path(),
        &[
            "rotate",
            "api/key",
            "--provider",
            "vault",
            "--generate",
            "24",
            "--check",
            "sleep 30",
            "--check-timeout",
            "1",
        ],
        &env,
        None,
    );
    assert_exit(&slow, 1);
    assert!(
        text(&slow.stdout).contains("the check did not finish in 1 s and was killed"),
        "{}",
        both(&slow)
    );
    assert_eq!(get("api/key"), rotated);
    assert_no_leak(&[&ok, &failed, &slow], &[old, &rotated, &token]);
}

#[cfg(feature = "vault")]
#[test]
fn one_field_of_an_openbao_secret_is_rotated_and_the_others_stay() {
    use crate::ops::bao;
    let (addr, token) = (
        crate::support::vault_addr(),
        crate::support::vault_root_token(),
    );
    let folder = crate::support::unique_name("cli-rotate-field");
    let old = "rot-vault-field-old-4Ns";
    bao::put(
        &format!("{folder}/db"),
        &format!(r#"{{"user":"app","password":"{old}","port":5432}}"#),
    );
    let dir = tempfile::tempdir().unwrap();
    let env = bao::env("vault", &addr, &token, &folder);
    let new = "rot-vault-field-new-9Tq";
    let out = run(
        dir.path(),
        &[
            "rotate",
            "db",
            "--provider",
            "vault",
            "--value-stdin",
            "--field",
            "password",
        ],
        &env,
        Some(new),
    );
    assert_exit(&out, 0);
    let get = |path: &str| {
        let out = run(dir.path(), &["get", path], &env, None);
        assert_exit(&out, 0);
        text(&out.stdout)
    };
    assert_eq!(get("db#password"), format!("{new}\n"));
    assert_eq!(get("db#user"), "app\n");
    assert_eq!(get("db#port"), "5432\n");
    let missing = run(
        dir.path(),
        &[
            "rotate",
            "nothing/here",
            "--provider",
            "vault",
            "--generate",
            "12",
        ],
        &env,
        None,
    );
    assert_exit(&missing, 1);
    assert!(
        text(&missing.stderr).contains("nothing/here: not found"),
        "{}",
        both(&missing)
    );
    assert_no_leak(&[&out, &missing], &[old, new, &token]);
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn a_secret_with_aws_rotation_enabled_is_refused_without_force_and_audited_as_such() {
    let endpoint = crate::support::aws_endpoint();
    let client = crate::support::seed_client(&endpoint);
    let prefix = format!("/{}", crate::support::unique_name("cli-rotate-lambda"));
    let id = format!("{prefix}/api/key");
    let old = "rot-aws-lambda-pw-7Hs";
    client
        .create_secret()
        .name(&id)
        .secret_string(old)
        .send()
        .await
        .unwrap();
    // moto turns rotation on without a Lambda when given rules (and,
    // not rotating immediately, keeps the value in the version it adds).
    client
        .rotate_secret()
        .secret_id(&id)
        .rotate_immediately(false)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = aws_env(&endpoint, &prefix);
    let args = ["rotate", "api/key", "--provider", "aws", "--generate", "20"];
    let refused = run(dir.path(), &args, &env, None);
    assert_exit(&refused, 1);
    assert!(
        text(&refused.stderr).contains("AWS rotation is enabled")
            && text(&refused.stderr).contains("--force"),
        "{}",
        both(&refused)
    );
    assert_eq!(value_at(&client, &id, "AWSCURRENT").await, old);
    let audit = run(
        dir.path(),
        &["audit", "--provider", "aws", "--format", "json"],
        &env,
        None,
    );
    assert_exit(&audit, 0);
    let doc: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(doc["secrets"][0]["rotation_enabled"], true, "{doc:#}");
    assert!(doc["secrets"][0]["last_rotated"].is_string(), "{doc:#}");
    let forced: Vec<&str> = args.iter().copied().chain(["--force"]).collect();
    let forced = run(dir.path(), &forced, &env, None);
    assert_exit(&forced, 0);
    let new = value_at(&client, &id, "AWSCURRENT").await;
    assert_eq!(new.len(), 20);
    assert_eq!(value_at(&client, &id, "AWSPREVIOUS").await, old);
    assert_no_leak(&[&refused, &audit, &forced], &[old, &new]);
}
