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
