//! `secret-chain audit` against OpenBao and moto: a long max age (none
//! overdue, exit 0), a zero one (all overdue, exit 1), the JSON shape,
//! bad arguments and a denied backend; never a value in the output.

#[cfg_attr(not(feature = "vault"), allow(unused_imports))]
use crate::ops::{assert_exit, assert_no_leak, both, run, text};

/// Checks the JSON report of `paths` and returns it.
#[cfg(any(feature = "aws", feature = "vault"))]
fn json_report(out: &std::process::Output, paths: &[&str], overdue: bool) -> serde_json::Value {
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", both(out)));
    let secrets = doc["secrets"].as_array().expect("secrets");
    let got: Vec<&str> = secrets
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(got, paths, "{doc:#}");
    for s in secrets {
        assert!(s["version"].is_string(), "{s}");
        assert!(
            s["created"].as_str().is_some_and(|c| c.ends_with('Z')),
            "{s}"
        );
        assert!(s["age_seconds"].is_u64(), "{s}");
        assert_eq!(s["overdue"], overdue, "{s}");
        for key in ["last_rotated", "rotation_enabled", "current_version_gone"] {
            assert!(s.get(key).is_some(), "{key} in {s}");
        }
    }
    assert_eq!(doc["overdue"], if overdue { paths.len() } else { 0 });
    assert!(doc["max_age_seconds"].is_u64());
    doc
}

#[cfg(feature = "vault")]
#[test]
fn openbao_secrets_are_overdue_against_a_zero_max_age_and_not_a_long_one() {
    use crate::ops::bao;
    let (addr, token) = (
        crate::support::vault_addr(),
        crate::support::vault_root_token(),
    );
    let folder = crate::support::unique_name("cli-audit");
    let values = ["audit-vault-pw-1Cz", "audit-vault-pw-2Dy"];
    bao::put(
        &format!("{folder}/api/key"),
        &format!(r#"{{"value":"{}"}}"#, values[0]),
    );
    bao::put(
        &format!("{folder}/db"),
        &format!(r#"{{"password":"{}"}}"#, values[1]),
    );
    bao::put(
        &format!("{folder}/db"),
        &format!(r#"{{"password":"{}x"}}"#, values[1]),
    );
    let dir = tempfile::tempdir().unwrap();
    let env = bao::env("vault", &addr, &token, &folder);

    let long = run(dir.path(), &["audit", "--provider", "vault"], &env, None);
    assert_exit(&long, 0);
    let stdout = text(&long.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", both(&long));
    assert!(
        lines[0].starts_with("PATH  ") && lines[0].ends_with("OVERDUE"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("api/key  ") && lines[1].ends_with(" no"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("db  ") && lines[2].ends_with(" no"),
        "{stdout}"
    );
    assert!(
        text(&long.stderr).contains("2 secrets, none overdue (max age 90d)"),
        "{}",
        both(&long)
    );

    let zero = run(
        dir.path(),
        &["audit", "--provider", "vault", "--max-age", "0s"],
        &env,
        None,
    );
    assert_exit(&zero, 1);
    assert!(
        text(&zero.stderr).contains("2 of 2 secrets overdue (max age 0s): api/key, db"),
        "{}",
        both(&zero)
    );

    let json = run(
        dir.path(),
        &[
            "audit",
            "--provider",
            "vault",
            "--format",
            "json",
            "--max-age",
            "12h",
        ],
        &env,
        None,
    );
    assert_exit(&json, 0);
    let doc = json_report(&json, &["api/key", "db"], false);
    assert_eq!(doc["secrets"][1]["version"], "2");
    assert_eq!(
        doc["secrets"][0]["rotation_enabled"],
        serde_json::Value::Null
    );
    assert_eq!(doc["max_age_seconds"], 12 * 3600);
    let json0 = run(
        dir.path(),
        &[
            "audit",
            "--provider",
            "vault",
            "--format",
            "json",
            "--max-age",
            "0m",
        ],
        &env,
        None,
    );
    assert_exit(&json0, 1);
    json_report(&json0, &["api/key", "db"], true);

    // A soft-deleted current version is named as such.
    bao::ok("DELETE", &format!("secret/data/{folder}/db"), None);
    let deleted = run(dir.path(), &["audit", "--provider", "vault"], &env, None);
    assert_exit(&deleted, 0);
    assert!(
        text(&deleted.stdout).contains("2 (deleted)"),
        "{}",
        both(&deleted)
    );

    assert_no_leak(
        &[&long, &zero, &json, &json0, &deleted],
        &[values[0], values[1], &token],
    );
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn aws_secrets_report_the_current_version_and_rotation() {
    let endpoint = crate::support::aws_endpoint();
    let client = crate::support::seed_client(&endpoint);
    let prefix = format!("/{}", crate::support::unique_name("cli-audit"));
    let values = ["audit-aws-pw-3Ex", "audit-aws-pw-4Fw"];
    for (name, v) in [("a/one", values[0]), ("b/two", values[1])] {
        client
            .create_secret()
            .name(format!("{prefix}/{name}"))
            .secret_string(v)
            .send()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut env = crate::get::aws_env(&endpoint, &prefix);
    env[0] = ("SECRETS_PROVIDERS", "aws");
    let long = run(
        dir.path(),
        &["audit", "--provider", "aws", "--max-age", "90d"],
        &env,
        None,
    );
    assert_exit(&long, 0);
    let stdout = text(&long.stdout);
    assert!(stdout.contains("ROTATION"), "{stdout}");
    assert!(
        stdout
            .lines()
            .skip(1)
            .all(|l| l.contains(" off ") && l.ends_with(" no")),
        "{stdout}"
    );
    let zero = run(
        dir.path(),
        &["audit", "--provider", "aws", "--max-age", "0d"],
        &env,
        None,
    );
    assert_exit(&zero, 1);
    assert!(
        text(&zero.stderr).contains("2 of 2 secrets overdue"),
        "{}",
        both(&zero)
    );
    let json = run(
        dir.path(),
        &["audit", "--provider", "aws", "--format", "json"],
        &env,
        None,
    );
    assert_exit(&json, 0);
    let doc = json_report(&json, &["a/one", "b/two"], false);
    assert_eq!(doc["provider"], "aws");
    assert_eq!(doc["secrets"][0]["rotation_enabled"], false);
    let current = client
        .describe_secret()
        .secret_id(format!("{prefix}/a/one"))
        .send()
        .await
        .unwrap();
    let current_id = current
        .version_ids_to_stages()
        .unwrap()
        .iter()
        .find(|(_, s)| s.iter().any(|s| s == "AWSCURRENT"))
        .map(|(v, _)| v.clone())
        .unwrap();
    assert_eq!(doc["secrets"][0]["version"], current_id.as_str());
    assert_no_leak(&[&long, &zero, &json], &values);
}

#[test]
fn bad_arguments_exit_2_and_a_denied_backend_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["90", "3w", "-1d"] {
        let flag = format!("--max-age={bad}");
        let out = run(
            dir.path(),
            &["audit", "--provider", "env", &flag],
            &[],
            None,
        );
        assert_exit(&out, 2);
        assert!(text(&out.stderr).contains("--max-age"), "{}", both(&out));
    }
    let out = run(dir.path(), &["audit", "--provider", "env"], &[], None);
    assert_exit(&out, 2);
    #[cfg(feature = "vault")]
    {
        let addr = crate::support::vault_addr();
        let env = [
            ("SECRETS_PROVIDERS", "vault"),
            ("VAULT_ADDR", addr.as_str()),
            ("VAULT_TOKEN", "audit-bad-token-7Kp"),
            ("SECRETS_PREFIX", "cli-audit-denied"),
            ("SECRETS_RETRIES", "0"),
        ];
        let out = run(dir.path(), &["audit", "--provider", "vault"], &env, None);
        assert_exit(&out, 3);
        assert!(
            text(&out.stderr).contains("access denied"),
            "{}",
            both(&out)
        );
        assert_no_leak(&[&out], &["audit-bad-token-7Kp"]);
    }
}
