//! Storage at item level, in DynamoDB's vocabulary: items addressed by a partition key and a sort
//! key, one global secondary index (GSI1), conditional writes, transactions of up to 100 writes,
//! queries by partition with a sort-key prefix and a paging key, and batch gets of up to 100 keys.
//!
//! SCIM rules (uniqueness, membership, counts) live above this trait, in `ops`, so every backend
//! behaves the same and costs the same number of calls.

mod days;
mod dynamodb;
mod embedded;
mod metered;

/// The behaviour every backend shares, as tests over a fresh store: for the tests of this crate
/// and, with the `test-support` feature, of others.
#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
pub mod keys;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use days::read_days;
pub use dynamodb::{DynamoStore, create_table, delete_table, item_size};
pub use embedded::EmbeddedStore;
pub use metered::{Metered, Usage};

/// Sleeps before retry `attempt` (1-based): full jitter over an exponential that starts at
/// `base_ms` and is capped at `cap_ms`, so that writers who lost the same race spread out.
pub async fn backoff(attempt: u32, base_ms: u64, cap_ms: u64) {
    let cap = (base_ms << attempt.min(16)).min(cap_ms).max(1);
    let mut r = [0u8; 8];
    let jitter = match getrandom::fill(&mut r) {
        Ok(()) => u64::from_le_bytes(r) % cap,
        Err(_) => cap / 2,
    };
    tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
}

/// Most writes one transaction may hold (DynamoDB's TransactWriteItems limit).
pub const MAX_TRANSACTION_WRITES: usize = 100;
/// Most keys one batch get may hold (DynamoDB's BatchGetItem limit).
pub const MAX_BATCH_GET: usize = 100;
/// Largest item a store accepts: DynamoDB's item limit of 400 KB, attribute names and values
/// together, as [`item_size`] counts them. Both backends refuse a larger item before writing
/// anything, so that the embedded store never holds what the DynamoDB table could not.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Most bytes of items one transaction may put (DynamoDB's TransactWriteItems limit of 4 MB).
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// A primary key, or a GSI1 key.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// One stored item.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Item {
    pub key: Key,
    /// Key in the GSI1 index, if the item is projected there.
    pub gsi1: Option<Key>,
    /// Optimistic-concurrency version; 0 for items that do not use one.
    pub version: u64,
    /// A numeric attribute changed atomically by [`Write::Add`] (counters).
    pub count: i64,
    /// The payload: a JSON document.
    pub body: String,
    /// Unix time after which the item may be deleted (DynamoDB TTL).
    pub expires_at: Option<i64>,
}

/// A condition on the current state of an item, checked atomically with the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    None,
    /// The item must not exist (DynamoDB `attribute_not_exists(pk)`).
    NotExists,
    /// The item must exist.
    Exists,
    /// The item must exist with this version.
    VersionIs(u64),
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Write {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    /// Check a condition without writing.
    Check {
        key: Key,
        condition: Condition,
    },
    /// Add `delta` to the item's `count`, creating the item with count 0 first if needed.
    Add {
        key: Key,
        delta: i64,
    },
}

impl Write {
    pub fn key(&self) -> &Key {
        match self {
            Write::Put { item, .. } => &item.key,
            Write::Delete { key, .. } | Write::Check { key, .. } | Write::Add { key, .. } => key,
        }
    }

    /// Bytes of the item a put stores, as [`item_size`] counts them; 0 for other writes.
    pub fn size(&self) -> usize {
        match self {
            Write::Put { item, .. } => item_size(item),
            _ => 0,
        }
    }
}

/// Which index a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Index {
    Primary,
    Gsi1,
}

/// Where a query page ends: the last item's keys, as DynamoDB's LastEvaluatedKey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageKey {
    pub key: Key,
    pub gsi1: Option<Key>,
}

impl PageKey {
    pub fn of(item: &Item) -> PageKey {
        PageKey {
            key: item.key.clone(),
            gsi1: item.gsi1.clone(),
        }
    }
}

/// A query of one partition of an index, in sort-key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    /// Only sort keys starting with this prefix.
    pub sk_prefix: String,
    /// Continue after this item (exclusive).
    pub start_after: Option<PageKey>,
    pub limit: usize,
    /// Ascending sort-key order when true.
    pub forward: bool,
}

impl Query {
    pub fn new(
        index: Index,
        pk: impl Into<String>,
        sk_prefix: impl Into<String>,
        limit: usize,
    ) -> Query {
        Query {
            index,
            pk: pk.into(),
            sk_prefix: sk_prefix.into(),
            start_after: None,
            limit,
            forward: true,
        }
    }
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Page {
    pub items: Vec<Item>,
    /// Set when more items may follow.
    pub next: Option<PageKey>,
}

/// Store failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum StoreError {
    /// The condition of the write at this index of the transaction failed.
    #[error("condition of write {index} failed")]
    ConditionFailed { index: usize },
    /// Too many writes, keys or bytes in one call.
    #[error("request exceeds a store limit: {0}")]
    Limit(String),
    /// The item put by the write at this index of the transaction is larger than
    /// [`MAX_ITEM_BYTES`]; nothing was written.
    #[error(
        "write {index} puts an item of {bytes} bytes, over the {MAX_ITEM_BYTES} bytes an item may hold"
    )]
    ItemTooLarge { index: usize, bytes: usize },
    /// Another transaction touched the same items; retrying may succeed.
    #[error("transaction conflict")]
    Conflict,
    #[error("store backend failure: {0}")]
    Backend(String),
}

/// The item-level store.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    /// Gets up to [`MAX_BATCH_GET`] items; missing keys are absent from the result, order is not kept.
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;
    /// Applies all writes or none. Two writes may not touch the same key.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
    /// Every item of the table, up to `limit` per page, continuing after `start_after`, in an
    /// order of the backend's choosing. It reads the whole table (a DynamoDB Scan), so no request
    /// and no operation uses it: it is there to verify, e.g. that nothing of a deleted tenant
    /// survives (tests/tests/it/tenant_deletion.rs).
    async fn scan(&self, start_after: Option<&PageKey>, limit: usize) -> Result<Page, StoreError>;

    /// How many independent transactions of one request are worth running at the same time
    /// (the independent POSTs of a bulk request): enough to overlap round trips or share commits,
    /// few enough not to make the backend cancel them against each other.
    fn concurrent_writes(&self) -> usize {
        16
    }
}

/// Checks the limits every backend shares, so that both fail the same way and before writing
/// anything.
pub(crate) fn check_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_WRITES {
        return Err(StoreError::Limit(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_WRITES} writes, not {}",
            writes.len()
        )));
    }
    let mut total = 0;
    for (index, w) in writes.iter().enumerate() {
        let bytes = w.size();
        if bytes > MAX_ITEM_BYTES {
            return Err(StoreError::ItemTooLarge { index, bytes });
        }
        total += bytes;
    }
    if total > MAX_TRANSACTION_BYTES {
        return Err(StoreError::Limit(format!(
            "a transaction puts at most {MAX_TRANSACTION_BYTES} bytes of items, not {total}"
        )));
    }
    let mut keys: Vec<&Key> = writes.iter().map(Write::key).collect();
    keys.sort();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(StoreError::Limit(
            "two writes of one transaction touch the same item".into(),
        ));
    }
    Ok(())
}

pub(crate) fn check_batch(keys: &[Key]) -> Result<(), StoreError> {
    if keys.len() > MAX_BATCH_GET {
        return Err(StoreError::Limit(format!(
            "a batch get holds at most {MAX_BATCH_GET} keys"
        )));
    }
    Ok(())
}
