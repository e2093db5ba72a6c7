//! Fake providers and helpers shared by the chain's unit tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::providers::{BoxFuture, EnvProvider, Provider, SecretValue, Version};

/// A provider with scripted answers that counts its calls.
#[derive(Debug)]
pub(super) struct Scripted {
    name: &'static str,
    answer: fn(&str) -> Result<SecretValue, Error>,
    calls: Arc<AtomicUsize>,
    pub(super) delay: Duration,
}

impl Scripted {
    pub(super) fn new(
        name: &'static str,
        answer: fn(&str) -> Result<SecretValue, Error>,
    ) -> (Self, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        (
            Scripted {
                name,
                answer,
                calls: calls.clone(),
                delay: Duration::ZERO,
            },
            calls,
        )
    }
}

impl Provider for Scripted {
    fn name(&self) -> &str {
        self.name
    }
    fn fetch<'a>(
        &'a self,
        name: &'a str,
        _v: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            (self.answer)(name)
        })
    }
    fn list<'a>(&'a self, _prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async move {
            match (self.answer)("list") {
                Ok(_) => Ok(vec![format!("{}/b", self.name), "shared/a".to_owned()]),
                Err(e) => Err(e),
            }
        })
    }
}

pub(super) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub(super) fn env(pairs: &[(&str, &str)]) -> EnvProvider {
    EnvProvider::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// A provider whose answer a test switches at run time.
#[derive(Debug, Clone)]
pub(super) struct Switch {
    name: &'static str,
    state: Arc<parking_lot::Mutex<Result<String, ErrorKind>>>,
    calls: Arc<AtomicUsize>,
}

impl Switch {
    pub(super) fn new(name: &'static str, value: &str) -> Switch {
        Switch {
            name,
            state: Arc::new(parking_lot::Mutex::new(Ok(value.to_owned()))),
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }
    pub(super) fn set(&self, answer: Result<&str, ErrorKind>) {
        *self.state.lock() = answer.map(str::to_owned);
    }
    pub(super) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Provider for Switch {
    fn name(&self) -> &str {
        self.name
    }
    fn fetch<'a>(
        &'a self,
        _n: &'a str,
        _v: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match &*self.state.lock() {
                Ok(v) => Ok(SecretValue::text(v.clone())),
                Err(kind) => Err(Error::new(*kind, format!("{kind} (scripted)"))),
            }
        })
    }
    fn list<'a>(&'a self, _p: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// A provider that counts its batches: `fetch_many` answers from a fixed
/// map (optionally after a delay, or with one answer too few), `fetch`
/// counts single reads.
#[derive(Debug, Clone)]
pub(super) struct Batched {
    name: &'static str,
    values: Arc<std::collections::HashMap<String, String>>,
    pub(super) batches: Arc<parking_lot::Mutex<Vec<Vec<String>>>>,
    pub(super) singles: Arc<AtomicUsize>,
    pub(super) delay: Duration,
    pub(super) short_answer: bool,
    pub(super) answer: Option<ErrorKind>,
}

impl Batched {
    pub(super) fn new(name: &'static str, pairs: &[(&str, &str)]) -> Batched {
        Batched {
            name,
            values: Arc::new(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            batches: Arc::default(),
            singles: Arc::default(),
            delay: Duration::ZERO,
            short_answer: false,
            answer: None,
        }
    }

    fn answer_for(&self, name: &str) -> Result<SecretValue, Error> {
        if let Some(kind) = self.answer {
            return Err(Error::new(kind, format!("{kind} (scripted)")).with_code("Scripted"));
        }
        match self.values.get(name) {
            Some(v) => Ok(SecretValue::text(v.clone())),
            None => Err(Error::not_found(format!("not found ({name})"))
                .with_code("ResourceNotFoundException")
                .with_http_status(400)),
        }
    }

    /// The names of each batch, in order.
    pub(super) fn batches(&self) -> Vec<Vec<String>> {
        self.batches.lock().clone()
    }
}

impl Provider for Batched {
    fn name(&self) -> &str {
        self.name
    }
    fn fetch<'a>(
        &'a self,
        name: &'a str,
        _v: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>> {
        Box::pin(async move {
            self.singles.fetch_add(1, Ordering::SeqCst);
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            self.answer_for(name)
        })
    }
    fn fetch_many<'a>(
        &'a self,
        names: &'a [&'a str],
    ) -> BoxFuture<'a, Vec<Result<SecretValue, Error>>> {
        Box::pin(async move {
            self.batches
                .lock()
                .push(names.iter().map(|n| n.to_string()).collect());
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            let mut out: Vec<_> = names.iter().map(|n| self.answer_for(n)).collect();
            if self.short_answer {
                out.pop();
            }
            out
        })
    }
    fn list<'a>(&'a self, _p: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// A fake dynamic engine: each read issues new credentials
/// (`{"username": "u-N", "password": "p-N"}`) with lease `creds/app/N` of
/// `ttl`, renewable up to `max_ttl` from issue, and keeps every lease's
/// state so that a test can ask whether a credential is valid *now*
/// (tokio's clock: run in a paused runtime with [`Clock::tokio`]).
///
/// [`Clock::tokio`]: crate::Clock::tokio
#[derive(Debug, Clone)]
pub(super) struct Leasing {
    pub(super) ttl: Duration,
    pub(super) max_ttl: Duration,
    pub(super) state: Arc<parking_lot::Mutex<LeasingState>>,
}

#[derive(Debug, Default)]
pub(super) struct LeasingState {
    /// Per lease number: (issued, ends, max end, revoked).
    pub(super) leases: Vec<(
        tokio::time::Instant,
        tokio::time::Instant,
        tokio::time::Instant,
        bool,
    )>,
    pub(super) renewals: usize,
    /// Renewals answer "access denied" (the lease is not renewable any more).
    pub(super) refuse_renewals: bool,
    /// Every call answers "unavailable".
    pub(super) down: bool,
}

impl Leasing {
    pub(super) fn new(ttl: Duration, max_ttl: Duration) -> Leasing {
        Leasing {
            ttl,
            max_ttl,
            state: Arc::default(),
        }
    }

    /// How many credentials were issued.
    pub(super) fn issued(&self) -> usize {
        self.state.lock().leases.len()
    }

    /// Whether credential `username` (`u-N`) with `password` is valid now:
    /// issued, not ended, not revoked, and the pair belongs together.
    pub(super) fn valid_now(&self, username: &str, password: &str) -> bool {
        let Some(n) = username
            .strip_prefix("u-")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            return false;
        };
        if password != format!("p-{n}") {
            return false;
        }
        let st = self.state.lock();
        st.leases
            .get(n)
            .is_some_and(|&(_, ends, _, revoked)| !revoked && tokio::time::Instant::now() < ends)
    }

    fn lease_number(lease: &crate::providers::Lease) -> Option<usize> {
        lease.id().strip_prefix("creds/app/")?.parse().ok()
    }
}

impl Provider for Leasing {
    fn name(&self) -> &str {
        "vault-dynamic"
    }
    fn fetch<'a>(
        &'a self,
        _n: &'a str,
        _v: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>> {
        Box::pin(async move {
            let mut st = self.state.lock();
            if st.down {
                return Err(Error::unavailable("unavailable (scripted)"));
            }
            let now = tokio::time::Instant::now();
            let n = st.leases.len();
            st.leases
                .push((now, now + self.ttl, now + self.max_ttl, false));
            let doc = format!(r#"{{"username":"u-{n}","password":"p-{n}"}}"#);
            Ok(SecretValue::new(crate::providers::SecretData::Document(
                secrecy::SecretString::from(doc),
            ))
            .with_metadata(crate::providers::SecretMetadata::new().with_lease(
                crate::providers::Lease::new(format!("creds/app/{n}"), self.ttl, true),
            )))
        })
    }
    fn list<'a>(&'a self, _p: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn renew_lease<'a>(
        &'a self,
        lease: &'a crate::providers::Lease,
        increment: Duration,
    ) -> BoxFuture<'a, Result<crate::providers::Lease, Error>> {
        Box::pin(async move {
            let mut st = self.state.lock();
            if st.down {
                return Err(Error::unavailable("unavailable (scripted)"));
            }
            if st.refuse_renewals {
                return Err(Error::access_denied(
                    "access denied (scripted: lease not renewable)",
                ));
            }
            let now = tokio::time::Instant::now();
            let n = Self::lease_number(lease).expect("a lease of ours");
            let (_, ends, max_end, revoked) = &mut st.leases[n];
            if *revoked || now >= *ends {
                return Err(Error::access_denied(
                    "access denied (scripted: lease not found)",
                ));
            }
            let new_end = (now + increment).min(*max_end);
            *ends = new_end;
            st.renewals += 1;
            Ok(crate::providers::Lease::new(
                lease.id(),
                new_end.saturating_duration_since(now),
                true,
            ))
        })
    }
    fn revoke_lease<'a>(
        &'a self,
        lease: &'a crate::providers::Lease,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut st = self.state.lock();
            if st.down {
                return Err(Error::unavailable("unavailable (scripted)"));
            }
            let n = Self::lease_number(lease).expect("a lease of ours");
            st.leases[n].3 = true;
            Ok(())
        })
    }
}
