//! A provider of the test's own: values set and changed while the test
//! runs (rotation), every fetch counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use secret_chain::providers::{BoxFuture, Provider, SecretValue};
use secret_chain::{Error, Version};

/// A scripted provider; clones share the values and the count.
#[derive(Debug, Clone)]
pub struct Scripted {
    name: &'static str,
    values: Arc<Mutex<BTreeMap<String, String>>>,
    fetches: Arc<AtomicUsize>,
}

impl Scripted {
    /// An empty provider called `name`.
    pub fn new(name: &'static str) -> Scripted {
        Scripted {
            name,
            values: Arc::default(),
            fetches: Arc::default(),
        }
    }

    /// Sets (or rotates) the value of `path`.
    pub fn set(&self, path: &str, value: &str) {
        self.values
            .lock()
            .unwrap()
            .insert(path.to_owned(), value.to_owned());
    }

    /// How many fetches the chain made.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Provider for Scripted {
    fn name(&self) -> &str {
        self.name
    }

    fn fetch<'a>(
        &'a self,
        path: &'a str,
        _v: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let found = self.values.lock().unwrap().get(path).cloned();
        Box::pin(async move {
            match found {
                Some(v) => Ok(SecretValue::text(v)),
                None => Err(Error::not_found(format!("not found ({path})"))),
            }
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        let names = self
            .values
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        Box::pin(async move { Ok(names) })
    }
}
