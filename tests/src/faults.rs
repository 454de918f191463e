//! Stores that misbehave on purpose. [`PanicOnRead`] serves the tests of the entry points' panic
//! boundary: no input makes the service panic (the property tests of scim-shared hold that), so
//! a test that needs a panic inside a request gets it from the store. [`Interleave`] lands a
//! concurrent request's writes at the worst moment of another, for the race tests.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use scim_shared::store::{Item, Key, Page, PageKey, Query, Store, StoreError, Write};

/// Delegates to `inner`, but panics on any read (get, batch get, query) of a partition whose
/// key contains `trigger` (a resource id, say): the request that reads it dies, the others do
/// not.
#[derive(Debug)]
pub struct PanicOnRead {
    inner: Arc<dyn Store>,
    trigger: String,
}

impl PanicOnRead {
    pub fn new(inner: Arc<dyn Store>, trigger: &str) -> Self {
        PanicOnRead {
            inner,
            trigger: trigger.to_string(),
        }
    }

    fn check(&self, partition: &str) {
        if partition.contains(&self.trigger) {
            panic!("the store failed on purpose");
        }
    }
}

#[async_trait]
impl Store for PanicOnRead {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.check(&key.pk);
        self.inner.get(key).await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        keys.iter().for_each(|k| self.check(&k.pk));
        self.inner.batch_get(keys).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.transact(writes).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.check(&query.pk);
        self.inner.query(query).await
    }

    async fn scan(&self, start_after: Option<&PageKey>, limit: usize) -> Result<Page, StoreError> {
        self.inner.scan(start_after, limit).await
    }

    fn concurrent_writes(&self) -> usize {
        self.inner.concurrent_writes()
    }
}

/// Which transaction an [`Interleave`] waits for.
pub type Trigger = Box<dyn Fn(&[Write]) -> bool + Send + Sync>;

/// Delegates to `inner`, but once armed ([`Interleave::before`]), applies the armed writes to
/// `inner` right before the first transaction that matches the trigger: the writes of a
/// concurrent request that commit between another request's reads and its own transaction.
pub struct Interleave {
    inner: Arc<dyn Store>,
    armed: Mutex<Option<(Trigger, Vec<Write>)>>,
}

impl std::fmt::Debug for Interleave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interleave").finish_non_exhaustive()
    }
}

impl Interleave {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Interleave {
            inner,
            armed: Mutex::new(None),
        }
    }

    /// Arms it: `first` lands before the next transaction `trigger` matches, once.
    pub fn before(&self, trigger: Trigger, first: Vec<Write>) {
        *self.armed.lock().expect("lock") = Some((trigger, first));
    }

    /// Whether the armed writes have landed.
    pub fn fired(&self) -> bool {
        self.armed.lock().expect("lock").is_none()
    }
}

#[async_trait]
impl Store for Interleave {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let first = {
            let mut armed = self.armed.lock().expect("lock");
            match armed.as_ref() {
                Some((trigger, _)) if trigger(&writes) => armed.take().map(|(_, first)| first),
                _ => None,
            }
        };
        if let Some(first) = first {
            self.inner.transact(first).await?;
        }
        self.inner.transact(writes).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }

    async fn scan(&self, start_after: Option<&PageKey>, limit: usize) -> Result<Page, StoreError> {
        self.inner.scan(start_after, limit).await
    }

    fn concurrent_writes(&self) -> usize {
        self.inner.concurrent_writes()
    }
}
