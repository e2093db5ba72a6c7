//! Leased values through the manager, against a fake dynamic engine on
//! tokio's paused clock: renewal, replacement before the maximum TTL,
//! fields from one lease, never an expired credential, shutdown.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::chain::SecretsManager;
use crate::chain::test_support::{Leasing, Switch};
use crate::clock::Clock;
use crate::error::ErrorKind;

#[derive(Deserialize)]
struct Creds {
    username: String,
    password: String,
}

fn paused_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

fn manager(p: &Leasing) -> SecretsManager {
    SecretsManager::builder()
        .provider(p.clone())
        .cache_ttl(Duration::from_secs(300))
        .clock(Clock::tokio())
        .build()
        .unwrap()
}

const PATH: &str = "database/creds/app";

#[test]
fn reads_every_quarter_second_for_forty_seconds_always_get_a_live_credential() {
    let p = Leasing::new(Duration::from_secs(6), Duration::from_secs(15));
    paused_rt().block_on(async {
        let m = manager(&p);
        let mut rx = m.watch(PATH).await.unwrap();
        let mut seen = Vec::new();
        let mut changes = 0;
        for _ in 0..160 {
            let c: Creds = m.get_secret_json(PATH).await.expect("no read fails");
            assert!(
                p.valid_now(&c.username, &c.password),
                "{} handed out while not valid",
                c.username
            );
            if seen.last() != Some(&c.username) {
                seen.push(c.username.clone());
            }
            if rx.has_changed().unwrap() {
                let v: Creds =
                    serde_json::from_str(rx.borrow_and_update().expose_secret()).unwrap();
                assert!(p.valid_now(&v.username, &v.password));
                changes += 1;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // The first credential outlived its 6 s TTL: renewed until its
        // 15 s maximum, replaced before it.
        assert_eq!(seen[0], "u-0");
        assert!(seen.len() >= 3 && seen.len() <= 4, "{seen:?}");
        assert_eq!(
            p.issued(),
            seen.len(),
            "one credential per lease, no extras"
        );
        {
            // Each new credential came before the previous one's end: by
            // the upkeep, not by a reader finding the cache empty.
            let st = p.state.lock();
            for w in st.leases.windows(2) {
                let (prev_ends, prev_max, next_issued) = (w[0].1, w[0].2, w[1].0);
                assert!(
                    next_issued < prev_ends && prev_ends <= prev_max,
                    "{:?}",
                    st.leases
                );
                assert!(
                    prev_max - next_issued >= Duration::from_secs(1),
                    "{:?}",
                    st.leases
                );
            }
        }
        assert!(p.state.lock().renewals >= 4, "{}", p.state.lock().renewals);
        assert_eq!(changes, seen.len() - 1, "each new credential reached watch");
        let s = m.stats();
        assert_eq!(s.lease_replacements as usize, seen.len() - 1);
        assert!(s.lease_renewals >= 4);
        assert_eq!(s.leases_held, 1);
    });
}

#[test]
fn every_field_of_a_secret_comes_from_one_lease() {
    let p = Leasing::new(Duration::from_secs(60), Duration::from_secs(600));
    paused_rt().block_on(async {
        let m = manager(&p);
        // Concurrent first reads of two fields: one credential pair.
        let (u, pw) = tokio::join!(
            m.get_secret("database/creds/app#username"),
            m.get_secret("database/creds/app#password")
        );
        let (u, pw) = (u.unwrap(), pw.unwrap());
        assert!(p.valid_now(u.expose_secret(), pw.expose_secret()));
        // A field read later is cut from the held value.
        let whole: Creds = m.get_secret_json(PATH).await.unwrap();
        assert_eq!(whole.username, u.expose_secret());
        // A rejected credential brings a new pair for every field.
        m.credential_rejected("database/creds/app#password")
            .await
            .unwrap();
        let u2 = m.get_secret("database/creds/app#username").await.unwrap();
        let pw2 = m.get_secret("database/creds/app#password").await.unwrap();
        assert_ne!(u2.expose_secret(), u.expose_secret());
        assert!(p.valid_now(u2.expose_secret(), pw2.expose_secret()));
        let whole: Creds = m.get_secret_json(PATH).await.unwrap();
        assert_eq!(whole.username, u2.expose_secret());
    });
    // Two concurrent fetches at most (the adopted one revoked), then one
    // for the rejection.
    let st = p.state.lock();
    let live = st.leases.iter().filter(|l| !l.3).count();
    assert_eq!(live, 2, "{:?}", st.leases);
}

#[test]
fn a_refused_renewal_brings_new_credentials_before_the_old_end() {
    let p = Leasing::new(Duration::from_secs(9), Duration::from_secs(3600));
    paused_rt().block_on(async {
        let m = manager(&p);
        let first: Creds = m.get_secret_json(PATH).await.unwrap();
        p.state.lock().refuse_renewals = true;
        tokio::time::sleep(Duration::from_secs(7)).await;
        let next: Creds = m.get_secret_json(PATH).await.unwrap();
        assert_ne!(next.username, first.username);
        assert!(
            p.valid_now(&first.username, &first.password),
            "the old one is left to expire"
        );
        assert_eq!(m.stats().lease_renewal_failures, 1);
        assert_eq!(m.stats().lease_replacements, 1);
    });
}

#[test]
fn with_the_backend_down_the_credential_is_served_until_its_lease_ends_then_an_error() {
    let p = Leasing::new(Duration::from_secs(10), Duration::from_secs(3600));
    paused_rt().block_on(async {
        let m = SecretsManager::builder()
            .provider(p.clone())
            .cache_ttl(Duration::from_secs(300))
            .max_stale(Duration::from_secs(3600))
            .retries(0, Duration::from_millis(1), Duration::from_millis(1))
            .clock(Clock::tokio())
            .build()
            .unwrap();
        let c: Creds = m.get_secret_json(PATH).await.unwrap();
        p.state.lock().down = true;
        let start = tokio::time::Instant::now();
        loop {
            match m.get_secret_json::<Creds>(PATH).await {
                Ok(now) => {
                    assert_eq!(now.username, c.username);
                    assert!(p.valid_now(&now.username, &now.password));
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Unavailable);
                    assert!(e.to_string().contains("vault-dynamic"), "{e}");
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let served = start.elapsed();
        // Served until just before the end (margin 1 s of 10), never
        // stale past it despite a long max_stale.
        assert!(served >= Duration::from_secs(8), "{served:?}");
        assert!(served < Duration::from_secs(10), "{served:?}");
        assert!(m.stats().lease_renewal_failures >= 1);
        // Back up: new credentials at the next read.
        p.state.lock().down = false;
        let fresh: Creds = m.get_secret_json(PATH).await.unwrap();
        assert!(p.valid_now(&fresh.username, &fresh.password));
    });
}

#[test]
fn shutdown_revokes_current_and_replaced_leases() {
    let p = Leasing::new(Duration::from_secs(60), Duration::from_secs(3600));
    paused_rt().block_on(async {
        let m = manager(&p);
        m.get_secret(PATH).await.unwrap();
        m.credential_rejected(PATH).await.unwrap();
        assert_eq!(p.issued(), 2);
        m.shutdown().await.unwrap();
        assert!(p.state.lock().leases.iter().all(|l| l.3), "all revoked");
        assert_eq!(m.stats().leases_revoked, 2);
        assert_eq!(m.stats().leases_held, 0);
        // Nothing renews after shutdown.
        let renewals = p.state.lock().renewals;
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(p.state.lock().renewals, renewals);
    });
}

#[test]
fn a_failed_revocation_is_reported_without_a_value() {
    let p = Leasing::new(Duration::from_secs(60), Duration::from_secs(3600));
    paused_rt().block_on(async {
        let m = manager(&p);
        let v = m.get_secret(PATH).await.unwrap();
        p.state.lock().down = true;
        let e = m.shutdown().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.to_string().contains("1 of 1 leases"), "{e}");
        assert!(!e.to_string().contains(v.expose_secret()));
    });
}

#[test]
fn a_static_secret_is_not_held_and_providers_without_leases_refuse_lease_calls() {
    let s = Switch::new("aws", "static-value-1234");
    paused_rt().block_on(async {
        let m = SecretsManager::builder()
            .provider(s.clone())
            .clock(Clock::tokio())
            .build()
            .unwrap();
        m.get_secret("k").await.unwrap();
        assert_eq!(m.stats().leases_held, 0);
        m.shutdown().await.unwrap();
        assert!(
            m.get_secret("k").await.is_ok(),
            "static values stay readable"
        );
        let lease = crate::providers::Lease::new("x/1", Duration::from_secs(1), true);
        let e = crate::providers::Provider::renew_lease(&s, &lease, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("issues no leases"), "{e}");
    });
}

#[test]
fn a_zero_ttl_leaves_each_lease_to_the_backend() {
    let p = Leasing::new(Duration::from_secs(60), Duration::from_secs(600));
    paused_rt().block_on(async {
        let m = SecretsManager::builder()
            .provider(p.clone())
            .cache_ttl(Duration::ZERO)
            .clock(Clock::tokio())
            .build()
            .unwrap();
        m.get_secret(PATH).await.unwrap();
        m.get_secret(PATH).await.unwrap();
        assert_eq!(p.issued(), 2);
        assert_eq!(m.stats().leases_held, 0);
    });
}
