//! The registry of secret values the manager has handed out.

use std::fmt;

use parking_lot::Mutex;
use zeroize::Zeroizing;

/// Values that must never appear in logs: every value the manager fetched.
#[derive(Default)]
pub struct KnownSecrets {
    values: Mutex<Vec<Zeroizing<String>>>,
}

impl KnownSecrets {
    /// An empty registry.
    pub fn new() -> KnownSecrets {
        KnownSecrets::default()
    }

    /// Registers a value (and, for a JSON object, its top-level fields).
    pub fn register(&self, value: &str) {
        let mut v = self.values.lock();
        if !v.iter().any(|x| x.as_str() == value) {
            v.push(Zeroizing::new(value.to_owned()));
        }
    }

    /// How many values are registered.
    pub fn len(&self) -> usize {
        self.values.lock().len()
    }

    /// Whether no value is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for KnownSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KnownSecrets({} values)", self.len())
    }
}
