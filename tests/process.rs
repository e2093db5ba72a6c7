//! Process-wide state: the global manager (`init`, `global`, the free
//! functions) and the global masking subscriber (`install`). This file is
//! its own test binary, so the global state starts empty; `install` runs in
//! a child process of it, whose stdout the test reads.

use secret_chain::providers::EnvProvider;
use secret_chain::{ErrorKind, ExposeSecret, SecretsManager};

#[derive(serde::Deserialize)]
struct Creds {
    user: String,
    port: u16,
}

#[tokio::test]
async fn init_installs_the_manager_used_by_the_free_functions_and_refuses_a_second_init() {
    if std::env::var_os("SECRET_CHAIN_PROCESS_CHILD").is_some() {
        return;
    }
    assert!(secret_chain::try_global().is_none());
    let manager = SecretsManager::builder()
        .provider(EnvProvider::from_vars([
            ("DATABASE_URL", "postgres://app:global-pw-1@db/app"),
            ("DATABASE_CREDS", r#"{"user":"app","port":5432}"#),
        ]))
        .build()
        .unwrap();
    secret_chain::init(manager).unwrap();

    let url = secret_chain::get_secret("database/url").await.unwrap();
    assert_eq!(url.expose_secret(), "postgres://app:global-pw-1@db/app");
    let creds: Creds = secret_chain::get_secret_json("database/creds")
        .await
        .unwrap();
    assert_eq!((creds.user.as_str(), creds.port), ("app", 5432));
    assert!(
        secret_chain::get_secret_opt("missing/key")
            .await
            .unwrap()
            .is_none()
    );
    let e = secret_chain::get_secret("missing/key").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        "secret 'missing/key' not found: env: not found (MISSING_KEY)"
    );

    let again = SecretsManager::builder()
        .provider(EnvProvider::from_vars([("X", "y")]))
        .build()
        .unwrap();
    let e = secret_chain::init(again).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyInitialized);
    // The first manager stays in place.
    assert!(
        secret_chain::global()
            .unwrap()
            .get_secret("database/url")
            .await
            .is_ok()
    );
    assert!(std::ptr::eq(
        secret_chain::global().unwrap(),
        secret_chain::try_global().unwrap()
    ));
}

/// The child half of `install_masks_stdout_with_the_global_managers_values`:
/// runs only when that test starts this binary again with
/// `SECRET_CHAIN_PROCESS_CHILD=1`, since installing the global subscriber
/// cannot be undone.
#[test]
fn install_child() {
    if std::env::var_os("SECRET_CHAIN_PROCESS_CHILD").is_none() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let manager = SecretsManager::builder()
        .provider(EnvProvider::from_vars([("DB_PASSWORD", CHILD_SECRET)]))
        .build()
        .unwrap();
    secret_chain::init(manager).unwrap();
    secret_chain::install().expect("first install succeeds");
    let pw = rt
        .block_on(secret_chain::get_secret("db/password"))
        .unwrap();
    tracing::info!("connecting with {}", pw.expose_secret());
    tracing::info!(password = "not-printed-1", "a secret-named field");
    log::info!(
        "a log record with password=not-printed-2 and {}",
        pw.expose_secret()
    );
    let mut doc = serde_json::json!({ "note": format!("pw is {}", pw.expose_secret()) });
    secret_chain::masking::mask_json(&mut doc);
    tracing::info!(doc = %doc, "mask_json output");
    let err = secret_chain::install().expect_err("second install fails");
    assert_eq!(err.kind(), ErrorKind::AlreadyInitialized);
    tracing::info!("second install refused: {err}");
}

const CHILD_SECRET: &str = "proc-child-Secret-8c1f";

#[test]
fn install_masks_stdout_with_the_global_managers_values() {
    if std::env::var_os("SECRET_CHAIN_PROCESS_CHILD").is_some() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "install_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SECRET_CHAIN_PROCESS_CHILD", "1")
        .env("RUST_LOG", "info")
        .env_remove("LOG_FORMAT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    for leak in [CHILD_SECRET, "not-printed-1", "not-printed-2"] {
        assert!(
            !stdout.contains(leak) && !stderr.contains(leak),
            "{leak} leaked:\n{stdout}\n{stderr}"
        );
    }
    assert!(stdout.contains("connecting with ****"), "{stdout}");
    assert!(stdout.contains("password=****"), "{stdout}");
    assert!(
        stdout.contains("a log record with password=**** and ****"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pw is ****"),
        "mask_json used the global registry: {stdout}"
    );
    assert!(
        stdout.contains("second install refused: a global tracing subscriber is already set"),
        "{stdout}"
    );
}

#[tokio::test]
async fn get_secret_opt_is_none_only_when_every_provider_says_not_found() {
    // A manager of its own: the global one belongs to the test above.
    let m = SecretsManager::builder()
        .provider(EnvProvider::from_vars([("PRESENT_KEY", "here-value-1")]))
        .build()
        .unwrap();
    let v = m.get_secret_opt("present/key").await.unwrap();
    assert_eq!(v.unwrap().expose_secret(), "here-value-1");
    assert!(m.get_secret_opt("absent/key").await.unwrap().is_none());
    // A remembered miss answers the same.
    assert!(m.get_secret_opt("absent/key").await.unwrap().is_none());
    let e = m.get_secret_opt("present/key#field").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidJson);
}
