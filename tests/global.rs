//! The global singleton: `init`, `global`, and the free functions.
//! This file is its own process, so the global state starts empty.

use secret_chain::providers::EnvProvider;
use secret_chain::{ErrorKind, ExposeSecret, SecretsManager};

#[derive(serde::Deserialize)]
struct Creds {
    user: String,
    port: u16,
}

#[tokio::test]
async fn init_installs_the_manager_used_by_the_free_functions_and_refuses_a_second_init() {
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
