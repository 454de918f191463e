//! A store decorator that counts what a request costs: calls, items, and DynamoDB request units
//! estimated from item sizes with DynamoDB's rounding rules (reads in 4 KB units, strongly
//! consistent; writes in 1 KB units; transactional reads and writes count double).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{Index, Item, Key, Page, PageKey, Query, Store, StoreError, Write, item_size};

/// Usage counted by [`Metered`].
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Usage {
    /// All store calls: the sum of the five kinds below.
    pub calls: u64,
    pub gets: u64,
    pub batch_gets: u64,
    pub queries: u64,
    /// Calls with one write (PutItem / DeleteItem / UpdateItem on DynamoDB).
    pub single_writes: u64,
    /// Calls with several writes (TransactWriteItems).
    pub transactions: u64,
    pub items_read: u64,
    pub items_written: u64,
    pub read_units: f64,
    pub write_units: f64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.calls += o.calls;
        self.gets += o.gets;
        self.batch_gets += o.batch_gets;
        self.queries += o.queries;
        self.single_writes += o.single_writes;
        self.transactions += o.transactions;
        self.items_read += o.items_read;
        self.items_written += o.items_written;
        self.read_units += o.read_units;
        self.write_units += o.write_units;
    }
}

#[derive(Debug, Default)]
struct UsageCounters {
    calls: AtomicU64,
    gets: AtomicU64,
    batch_gets: AtomicU64,
    queries: AtomicU64,
    single_writes: AtomicU64,
    transactions: AtomicU64,
    items_read: AtomicU64,
    items_written: AtomicU64,
    /// Request units times two.
    read_half_units: AtomicU64,
    write_half_units: AtomicU64,
}

impl UsageCounters {
    fn snapshot(&self) -> Usage {
        Usage {
            calls: self.calls.load(Ordering::Relaxed),
            gets: self.gets.load(Ordering::Relaxed),
            batch_gets: self.batch_gets.load(Ordering::Relaxed),
            queries: self.queries.load(Ordering::Relaxed),
            single_writes: self.single_writes.load(Ordering::Relaxed),
            transactions: self.transactions.load(Ordering::Relaxed),
            items_read: self.items_read.load(Ordering::Relaxed),
            items_written: self.items_written.load(Ordering::Relaxed),
            read_units: self.read_half_units.load(Ordering::Relaxed) as f64 / 2.0,
            write_units: self.write_half_units.load(Ordering::Relaxed) as f64 / 2.0,
        }
    }
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    /// Counts one call of the kind `counter` tracks.
    fn call(&self, counter: &AtomicU64) {
        Self::add(&self.calls, 1);
        Self::add(counter, 1);
    }
}

/// Read units of `bytes` of items ([`item_size`]): one per 4 KB.
fn read_units(bytes: usize) -> u64 {
    bytes.div_ceil(4096).max(1) as u64
}

/// Write units of an item of `bytes` ([`item_size`]): one per 1 KB.
fn write_units(bytes: usize) -> u64 {
    bytes.div_ceil(1024).max(1) as u64
}

/// Wraps a store and counts everything done through it. Cheap to create per request.
#[derive(Debug, Clone)]
pub struct Metered {
    inner: Arc<dyn Store>,
    usage: Arc<UsageCounters>,
}

impl Metered {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Metered {
            inner,
            usage: Arc::default(),
        }
    }

    /// What was done so far.
    pub fn usage(&self) -> Usage {
        self.usage.snapshot()
    }

    /// Counts read units: strongly consistent reads cost one unit per 4 KB, eventually
    /// consistent ones (GSI queries) half of that; a query rounds the sum of its item sizes,
    /// a get or batch get each item.
    fn count_reads(&self, items: &[Item], per_item: bool, consistent: bool) {
        let u = &self.usage;
        UsageCounters::add(&u.items_read, items.len() as u64);
        let units = if per_item {
            items.iter().map(|i| read_units(item_size(i))).sum::<u64>()
        } else {
            read_units(items.iter().map(item_size).sum())
        };
        let half_units = if consistent {
            2 * units.max(1)
        } else {
            units.max(1)
        };
        UsageCounters::add(&u.read_half_units, half_units);
    }
}

#[async_trait]
impl Store for Metered {
    fn concurrent_writes(&self) -> usize {
        self.inner.concurrent_writes()
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.usage.call(&self.usage.gets);
        let item = self.inner.get(key).await?;
        self.count_reads(item.as_slice(), true, true);
        Ok(item)
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.usage.call(&self.usage.batch_gets);
        let items = self.inner.batch_get(keys).await?;
        self.count_reads(&items, true, true);
        Ok(items)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let u = &self.usage;
        let transactional = writes.len() > 1;
        u.call(if transactional {
            &u.transactions
        } else {
            &u.single_writes
        });
        let factor = if transactional { 2 } else { 1 };
        let mut units = 0;
        for w in &writes {
            units += match w {
                Write::Put { item, .. } => write_units(item_size(item)),
                // Deletes, checks and counter updates of small items: one unit each.
                Write::Delete { .. } | Write::Add { .. } => 1,
                Write::Check { .. } => 0,
            };
            if matches!(w, Write::Check { .. }) {
                UsageCounters::add(&u.read_half_units, 2 * factor);
            }
        }
        let written = writes
            .iter()
            .filter(|w| !matches!(w, Write::Check { .. }))
            .count() as u64;
        let result = self.inner.transact(writes).await;
        UsageCounters::add(&u.items_written, written);
        UsageCounters::add(&u.write_half_units, 2 * factor * units);
        result
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.usage.call(&self.usage.queries);
        let page = self.inner.query(query).await?;
        self.count_reads(&page.items, false, query.index == Index::Primary);
        Ok(page)
    }

    /// Counted as a query: a Scan is billed like one, by the size of the items it reads.
    async fn scan(&self, start_after: Option<&PageKey>, limit: usize) -> Result<Page, StoreError> {
        self.usage.call(&self.usage.queries);
        let page = self.inner.scan(start_after, limit).await?;
        self.count_reads(&page.items, false, true);
        Ok(page)
    }
}
