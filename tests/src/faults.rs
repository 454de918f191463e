//! A store that fails on purpose, for the tests of the entry points' panic boundary: no input
//! makes the service panic (the property tests of scim-shared hold that), so a test that needs a
//! panic inside a request gets it from the store.

use std::sync::Arc;

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
