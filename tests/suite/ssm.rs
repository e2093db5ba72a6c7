//! The SSM Parameter Store provider against moto's SSM (the moto server
//! that `scripts/test` starts serves it at the same endpoint as Secrets
//! Manager); a stopped server is a private moto, and denial a loopback
//! server that answers as Parameter Store does when it refuses.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;
use secret_chain::providers::ssm::SsmProvider;
use secret_chain::providers::{EnvProvider, Provider, SecretData, SecretValue};
use secret_chain::settings::Settings;
use secret_chain::{Config, ErrorKind, ExposeSecret, SecretsManager, Version};

use crate::support::{self, ssm_seed_client};

/// The variables a deployment pointing at `endpoint` would set.
fn vars(endpoint: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    support::aws_vars(
        &[
            ("SECRETS_PROVIDERS", "ssm"),
            ("SECRETS_SSM_ENDPOINT", endpoint),
        ],
        extra,
    )
}

fn provider(endpoint: &str, extra: &[(&str, &str)]) -> SsmProvider {
    SsmProvider::from_settings(&Settings::from_vars(vars(endpoint, extra))).unwrap()
}

/// Writes `name` (a new version when it exists) and returns its version.
async fn put(client: &Client, name: &str, value: &str, kind: ParameterType) -> i64 {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "seeding {name}: {}",
                aws_sdk_ssm::error::DisplayErrorContext(e)
            )
        })
        .version
}

fn text(v: &SecretValue) -> String {
    match v.data() {
        SecretData::Text(s) => s.expose_secret().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn string_secure_string_and_string_list_are_read_through_the_chain() {
    let endpoint = support::aws_endpoint();
    let folder = support::unique_name("params-types");
    let seed = ssm_seed_client(&endpoint);
    put(
        &seed,
        &format!("/{folder}/plain"),
        "plain-value-1",
        ParameterType::String,
    )
    .await;
    put(
        &seed,
        &format!("/{folder}/database/password"),
        "secure-pw-8c1d",
        ParameterType::SecureString,
    )
    .await;
    put(
        &seed,
        &format!("/{folder}/hosts"),
        "a.example,b.example",
        ParameterType::StringList,
    )
    .await;
    put(
        &seed,
        &format!("/{folder}/database/creds"),
        r#"{"user":"app","password":"json-pw-4e2a","port":5432}"#,
        ParameterType::SecureString,
    )
    .await;

    // A prefix without its slashes is the same folder.
    let config = Config::from_vars(vars(&endpoint, &[("SECRETS_SSM_PREFIX", &folder)])).unwrap();
    let manager = SecretsManager::from_config(&config).unwrap();
    assert_eq!(manager.provider_names(), vec!["ssm"]);
    let get = |path: &'static str| {
        let manager = &manager;
        async move {
            manager
                .get_secret(path)
                .await
                .unwrap()
                .expose_secret()
                .to_owned()
        }
    };
    assert_eq!(get("plain").await, "plain-value-1");
    assert_eq!(
        get("database/password").await,
        "secure-pw-8c1d",
        "decrypted"
    );
    assert_eq!(
        get("hosts").await,
        "a.example,b.example",
        "a StringList as text"
    );
    assert_eq!(get("database/creds#password").await, "json-pw-4e2a");
    assert_eq!(get("database/creds#port").await, "5432");

    let meta = manager
        .get_secret_metadata("database/password")
        .await
        .unwrap();
    assert_eq!(meta.value_type(), Some("SecureString"));
    assert_eq!(meta.version_id(), Some("1"));
    assert_eq!(meta.provider(), Some("ssm"));
    assert!(meta.created().is_some(), "LastModifiedDate: {meta:?}");
    let id = meta.id().unwrap_or_default();
    assert!(
        id.ends_with(&format!("/{folder}/database/password")),
        "{id}"
    );
    assert_eq!(
        manager
            .get_secret_metadata("hosts")
            .await
            .unwrap()
            .value_type(),
        Some("StringList")
    );
}

#[tokio::test]
async fn versions_are_read_by_number_and_by_label() {
    let endpoint = support::aws_endpoint();
    let name = format!("/{}/rotated", support::unique_name("params-versions"));
    let seed = ssm_seed_client(&endpoint);
    assert_eq!(
        put(&seed, &name, "password-v1", ParameterType::SecureString).await,
        1
    );
    put(&seed, &name, "password-v2", ParameterType::SecureString).await;
    assert_eq!(
        put(&seed, &name, "password-v3", ParameterType::SecureString).await,
        3
    );
    seed.label_parameter_version()
        .name(&name)
        .parameter_version(1)
        .labels("blue")
        .send()
        .await
        .unwrap();

    let p = provider(&endpoint, &[]);
    let current = p.fetch(&name, &Version::Current).await.unwrap();
    assert_eq!(text(&current), "password-v3");
    assert_eq!(current.metadata().version_id(), Some("3"));
    let v2 = p.fetch(&name, &Version::Id("2".into())).await.unwrap();
    assert_eq!(text(&v2), "password-v2");
    assert_eq!(v2.metadata().version_id(), Some("2"));
    let blue = p
        .fetch(&name, &Version::Stage("blue".into()))
        .await
        .unwrap();
    assert_eq!(text(&blue), "password-v1");
    assert_eq!(blue.metadata().version_id(), Some("1"));
    assert_eq!(blue.metadata().stages(), ["blue"]);

    let e = p.fetch(&name, &Version::Id("9".into())).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(
        e.to_string()
            .contains(&format!("parameter {name}, version 9")),
        "{e}"
    );
    let e = p
        .fetch(&name, &Version::Stage("green".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = p
        .fetch(&name, &Version::Id("abc".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(
        e.to_string().contains("positive numbers, 'abc' is not one"),
        "{e}"
    );

    let manager = SecretsManager::builder().provider(p).build().unwrap();
    let old = manager
        .get_secret_version(&name, &Version::Stage("blue".into()))
        .await
        .unwrap();
    assert_eq!(old.expose_secret(), "password-v1");
    let e = manager
        .get_secret_version(&name, &Version::Id("abc".into()))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("ssm: not found"),
        "names the provider: {e}"
    );
}

#[tokio::test]
async fn list_is_recursive_paginated_and_relative_to_the_prefix() {
    let endpoint = support::aws_endpoint();
    let folder = support::unique_name("params-list");
    let seed = ssm_seed_client(&endpoint);
    // More than two pages of 10, some of them levels deeper.
    for i in 0..23 {
        put(
            &seed,
            &format!("/{folder}/svc/key-{i:02}"),
            "v",
            ParameterType::String,
        )
        .await;
    }
    put(
        &seed,
        &format!("/{folder}/svc/deep/er/one"),
        "v",
        ParameterType::SecureString,
    )
    .await;
    put(
        &seed,
        &format!("/{folder}/other"),
        "v",
        ParameterType::String,
    )
    .await;
    put(
        &seed,
        &format!("/{folder}-sibling/svc/key-00"),
        "v",
        ParameterType::String,
    )
    .await;

    let p = provider(&endpoint, &[("SECRETS_SSM_PREFIX", &format!("/{folder}/"))]);
    let names = p.list("svc/").await.unwrap();
    assert_eq!(names.len(), 24, "{names:?}");
    assert_eq!(names[0], "svc/deep/er/one");
    assert_eq!(names[1], "svc/key-00");
    assert_eq!(names[23], "svc/key-22");
    let some = p.list("svc/key-1").await.unwrap();
    assert_eq!(some.len(), 10, "a name prefix, not only a folder: {some:?}");
    let all = p.list("").await.unwrap();
    assert_eq!(
        all.len(),
        25,
        "the sibling folder must not be listed: {all:?}"
    );
    assert!(all.contains(&"other".to_owned()));
    // What list returns, fetch takes.
    assert_eq!(
        text(&p.fetch(&all[0], &Version::Current).await.unwrap()),
        "v"
    );
    p.health().await.unwrap();

    // Without a prefix, paths are the names without their leading `/`.
    let root = provider(&endpoint, &[]);
    let under = root.list(&format!("{folder}/svc/deep/")).await.unwrap();
    assert_eq!(under, [format!("{folder}/svc/deep/er/one")]);
}

#[tokio::test]
async fn a_batch_reports_each_missing_name_as_not_found() {
    let endpoint = support::aws_endpoint();
    let folder = support::unique_name("params-batch");
    let seed = ssm_seed_client(&endpoint);
    for i in 0..13 {
        put(
            &seed,
            &format!("/{folder}/k{i:02}"),
            &format!("batch-value-{i:02}"),
            ParameterType::SecureString,
        )
        .await;
    }
    let p = provider(&endpoint, &[("SECRETS_SSM_PREFIX", &folder)]);
    // 13 present, 3 missing, one repeated and one that is no name at all:
    // two GetParameters calls and a few single reads.
    let mut paths: Vec<String> = (0..13).map(|i| format!("k{i:02}")).collect();
    paths.extend(["missing-a", "k03", "missing-b", "nested/missing-c", "k01:2"].map(String::from));
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let answers = p.fetch_many(&refs).await;
    assert_eq!(answers.len(), refs.len());
    for (i, answer) in answers.iter().take(13).enumerate() {
        let v = answer.as_ref().unwrap_or_else(|e| panic!("k{i:02}: {e}"));
        assert_eq!(text(v), format!("batch-value-{i:02}"));
        assert_eq!(v.metadata().value_type(), Some("SecureString"));
    }
    assert_eq!(
        text(answers[14].as_ref().unwrap()),
        "batch-value-03",
        "repeated"
    );
    for (i, missing) in [
        (13, "missing-a"),
        (15, "missing-b"),
        (16, "nested/missing-c"),
    ] {
        let e = answers[i].as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{missing}: {e}");
        assert_eq!(
            e.to_string(),
            format!("not found (parameter /{folder}/{missing})")
        );
        // From the batch's InvalidParameters: a single read would carry
        // GetParameter's ParameterNotFound code.
        assert_eq!(e.code(), None, "{missing} was read alone");
    }
    let e = answers[17].as_ref().unwrap_err();
    assert!(e.to_string().contains("cannot hold ':'"), "{e}");

    // Through the chain: the found ones cached, the missing ones listed.
    let manager = SecretsManager::builder().provider(p).build().unwrap();
    let e = manager
        .prefetch(["k00", "k12#field", "missing-a", "k05"])
        .await
        .unwrap_err();
    let failed: Vec<_> = e
        .failures()
        .iter()
        .map(|f| f.path().unwrap_or(""))
        .collect();
    assert_eq!(failed, ["k12#field", "missing-a"], "{e}");
    assert_eq!(
        manager.get_secret("k05").await.unwrap().expose_secret(),
        "batch-value-05"
    );
}

#[tokio::test]
async fn a_missing_parameter_falls_through_to_env_and_the_error_names_the_instance() {
    let endpoint = support::aws_endpoint();
    let folder = support::unique_name("params-miss");
    put(
        &ssm_seed_client(&endpoint),
        &format!("/{folder}/only/in-ssm"),
        "from-ssm-1234",
        ParameterType::String,
    )
    .await;
    let config = Config::from_vars(vars(
        &endpoint,
        &[
            ("SECRETS_PROVIDERS", "params=ssm,env"),
            ("SECRETS_PARAMS_SSM_PREFIX", &folder),
            ("FEATURE_FLAG_KEY", "from-env-1234"),
        ],
    ))
    .unwrap();
    let manager = SecretsManager::from_config(&config).unwrap();
    assert_eq!(manager.provider_names(), vec!["params", "env"]);
    assert_eq!(
        manager
            .get_secret("only/in-ssm")
            .await
            .unwrap()
            .expose_secret(),
        "from-ssm-1234"
    );
    assert_eq!(
        manager
            .get_secret("feature/flag-key")
            .await
            .unwrap()
            .expose_secret(),
        "from-env-1234"
    );
    let e = manager.get_secret("database/url").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!(
            "secret 'database/url' not found: params: not found (parameter /{folder}/database/url); env: not found (DATABASE_URL)"
        )
    );
    assert_eq!(e.outcomes()[0].code.as_deref(), Some("ParameterNotFound"));
}

#[tokio::test]
async fn a_stopped_server_is_unavailable_and_the_chain_falls_through() {
    let mut moto = support::spawn_moto();
    put(
        &ssm_seed_client(moto.endpoint()),
        "/down/key",
        "only-in-ssm",
        ParameterType::String,
    )
    .await;
    let p = provider(moto.endpoint(), &[("SECRETS_AWS_MAX_ATTEMPTS", "2")]);
    assert_eq!(
        text(&p.fetch("down/key", &Version::Current).await.unwrap()),
        "only-in-ssm"
    );
    moto.stop();
    let e = p.fetch("down/key", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "cannot connect to AWS SSM Parameter Store at 127.0.0.1:{} (parameter /down/key): connection refused",
            moto.port()
        )
    );
    assert_eq!(p.health().await.unwrap_err().kind(), ErrorKind::Unavailable);

    support::fallback::assert_falls_back_to_env(p, "env-fallback-value").await;
}

/// A warm cache serves the last value while Parameter Store is down
/// (moto stopped), until the stale window ends; then the error names
/// `ssm` and the parameter.
#[tokio::test]
async fn a_cached_value_is_served_stale_while_the_server_is_down() {
    let mut moto = support::spawn_moto();
    put(
        &ssm_seed_client(moto.endpoint()),
        "/stale/db",
        "stale-ssm-value-77",
        ParameterType::SecureString,
    )
    .await;
    let (clock, time) = secret_chain::Clock::mock();
    let m = SecretsManager::builder()
        .provider(provider(moto.endpoint(), &[]))
        .cache_ttl(std::time::Duration::from_secs(60))
        .ttl_jitter(0.0)
        .refresh_ahead(false)
        .max_stale(std::time::Duration::from_secs(600))
        .retries(
            0,
            std::time::Duration::from_millis(10),
            std::time::Duration::from_millis(100),
        )
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(
        m.get_secret("stale/db").await.unwrap().expose_secret(),
        "stale-ssm-value-77"
    );
    moto.stop();
    time.advance(std::time::Duration::from_secs(61));
    assert_eq!(
        m.get_secret("stale/db").await.unwrap().expose_secret(),
        "stale-ssm-value-77"
    );
    assert!(m.stats().stale_served >= 1);
    time.advance(std::time::Duration::from_secs(601));
    let e = m.get_secret("stale/db").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let shown = e.to_string();
    assert!(
        shown.contains("ssm") && shown.contains("/stale/db") && !shown.contains("stale-ssm-value"),
        "{shown}"
    );
}

/// A loopback server that answers every request as Parameter Store
/// answers an error `code` (`x-amzn-ErrorType` and the JSON body), with a
/// message that quotes `canary`; at most 50 requests, then it stops.
fn refusing_server(code: &'static str, status: u16, canary: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let body =
        format!(r#"{{"__type":"{code}","message":"refused; the body also holds {canary}"}}"#);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut request = vec![0u8; length];
            let _ = reader.read_exact(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Error\r\nx-amzn-ErrorType: {code}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    endpoint
}

#[tokio::test]
async fn denial_and_kms_refusals_are_access_denied_and_throttling_unavailable() {
    for (code, status, kind) in [
        ("AccessDeniedException", 400, ErrorKind::AccessDenied),
        ("KMSAccessDeniedException", 400, ErrorKind::AccessDenied),
        ("KMSDisabledException", 400, ErrorKind::AccessDenied),
        ("ThrottlingException", 400, ErrorKind::Unavailable),
        ("InternalServerError", 500, ErrorKind::Unavailable),
    ] {
        let endpoint = refusing_server(code, status, "canary-not-a-value");
        let p = provider(&endpoint, &[("SECRETS_SSM_PREFIX", "/app")]);
        let e = p.fetch("db/password", &Version::Current).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{code}: {e}");
        assert_eq!(
            (e.code(), e.http_status()),
            (Some(code), Some(status)),
            "{e}"
        );
        assert!(
            e.to_string().contains("(parameter /app/db/password)"),
            "{e}"
        );
        let answers = p.fetch_many(&["db/password", "db/user"]).await;
        for answer in &answers {
            let e = answer.as_ref().unwrap_err();
            assert_eq!(
                (e.kind(), e.code()),
                (kind, Some(code)),
                "batch {code}: {e}"
            );
        }
    }

    let endpoint = refusing_server("AccessDeniedException", 400, "canary-not-a-value");
    let manager = SecretsManager::builder()
        .provider(provider(&endpoint, &[]))
        .provider(EnvProvider::from_vars([("DB_PASSWORD", "env-pw-5678")]))
        .build()
        .unwrap();
    assert_eq!(
        manager
            .get_secret("db/password")
            .await
            .unwrap()
            .expose_secret(),
        "env-pw-5678"
    );
    let strict = SecretsManager::builder()
        .provider(provider(&endpoint, &[]))
        .provider(EnvProvider::from_vars([("DB_PASSWORD", "env-pw-5678")]))
        .stop_on_access_denied(true)
        .build()
        .unwrap();
    let e = strict.get_secret("db/password").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    assert!(
        e.to_string()
            .contains("ssm: access denied (parameter /db/password)"),
        "{e}"
    );
}

#[test]
fn no_log_line_error_or_debug_output_holds_a_value_even_at_trace_level() {
    let endpoint = support::aws_endpoint();
    let folder = support::unique_name("params-leak");
    let value = format!("leak-canary-{}", support::unique_name("v"));
    let json_value = format!(r#"{{"password":"{value}"}}"#);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let seed = ssm_seed_client(&endpoint);
        put(
            &seed,
            &format!("/{folder}/json"),
            &json_value,
            ParameterType::SecureString,
        )
        .await;
        put(
            &seed,
            &format!("/{folder}/plain"),
            &value,
            ParameterType::String,
        )
        .await;
    });

    let captured = support::capture::Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let mut shown = String::new();
    support::capture::with_subscriber(subscriber, || {
        rt.block_on(async {
            let p = provider(&endpoint, &[("SECRETS_SSM_PREFIX", &folder)]);
            shown.push_str(&format!("{p:?}\n"));
            let fetched = p.fetch("plain", &Version::Current).await.unwrap();
            assert_eq!(text(&fetched), value);
            shown.push_str(&format!("{fetched:?}\n"));
            for answer in p.fetch_many(&["json", "plain", "missing"]).await {
                shown.push_str(&format!("{answer:?}\n"));
            }
            shown.push_str(&format!("{:?}\n", p.list("").await.unwrap()));
            let manager = SecretsManager::builder().provider(p).build().unwrap();
            let got = manager.get_secret("json#password").await.unwrap();
            assert_eq!(got.expose_secret(), value);
            // A field that is not there, a value that is not JSON: the
            // errors must not quote the value.
            for path in ["json#user", "plain#field"] {
                let e = manager.get_secret(path).await.unwrap_err();
                shown.push_str(&format!("{e} {e:?}\n"));
            }
            shown.push_str(&format!("{manager:?}\n"));
            tracing::info!(path = "json", "fetched");
        });
    });
    assert!(
        !shown.contains(&value),
        "an error or Debug output holds the value:\n{shown}"
    );
    assert!(
        shown.contains("not found (parameter"),
        "the batch's miss was shown:\n{shown}"
    );
    let out = captured.text();
    assert!(
        out.contains("secret fetch"),
        "the audit event was not captured:\n{out}"
    );
    assert!(
        out.contains("aws_smithy_runtime"),
        "SDK trace events were not captured:\n{out}"
    );
    assert!(!out.contains(&value), "a log line holds the value");
}
