//! `masking::install` sets the global subscriber once; a second call is an
//! `AlreadyInitialized` error. (Own test binary: global state.)

use secret_chain::ErrorKind;

#[test]
fn install_sets_the_global_subscriber_once() {
    secret_chain::install().expect("first install succeeds");
    // Events and `log` records go through the masking layer from now on.
    tracing::info!(password = "not-printed-1", "installed");
    log::info!("a log record with password=not-printed-2");
    let err = secret_chain::install().expect_err("second install fails");
    assert_eq!(err.kind(), ErrorKind::AlreadyInitialized);
    assert!(err.to_string().contains("already"), "{err}");
}
