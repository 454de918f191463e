//! The embedded backend: one redb database (a file, or memory for tests) holding the same items
//! the DynamoDB table holds. A redb write transaction is serializable and durable on commit, which
//! gives the conditional, all-or-nothing semantics of TransactWriteItems.
//!
//! Writes are *group-committed*: a transaction joins a queue and its caller waits (without a
//! thread of its own) for the outcome. One committer on the blocking pool drains the queue while
//! it is not empty: each round applies every queued transaction, each checked and applied on its
//! own as if alone and in arrival order, in one redb transaction with one fsync, then answers
//! them. Transactions that arrive during a commit make up the next round. A caller hears back
//! only after the commit that holds its writes is on disk, so an acknowledged write survives a
//! crash; a failed condition cancels only its own transaction.

#![warn(missing_docs)]

use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{
    Condition, Index, Item, Key, Page, PageKey, Query, Store, StoreError, Write, check_batch,
    check_transaction,
};

/// Items by (pk, sk). Value: (version, count, expires_at, gsi1pk, gsi1sk, body); an empty
/// gsi1pk means the item is not in GSI1.
const ITEMS: TableDefinition<(&str, &str), ItemValue> = TableDefinition::new("items");
/// The stored columns of an item: (version, count, expires_at, gsi1pk, gsi1sk, body).
type ItemValue = (
    u64,
    i64,
    Option<i64>,
    &'static str,
    &'static str,
    &'static str,
);
/// GSI1 entries: (gsi1pk, gsi1sk, pk, sk).
const GSI1: TableDefinition<(&str, &str, &str, &str), ()> = TableDefinition::new("gsi1");

/// Upper bound of a sort-key prefix range.
const PREFIX_END: char = char::MAX;

/// The store in one embedded database file (redb), or in memory: the same items, keys, index,
/// conditions, transactions and limits as DynamoDB, for `scimctl serve` and the tests.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    commits: Arc<GroupCommit>,
}

/// Transactions waiting for a commit, and whether a committer is draining them.
#[derive(Debug, Default)]
struct GroupCommit {
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    pending: Vec<Pending>,
    /// A committer runs and will take `pending` before it stops.
    committing: bool,
}

/// One transaction waiting in the queue, and where its outcome goes.
#[derive(Debug)]
struct Pending {
    writes: Vec<Write>,
    outcome: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

/// Locks a mutex whose data stays consistent even if a holder panicked (the queue).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl GroupCommit {
    /// Queues `writes`; returns whether the caller must start a committer (none runs).
    fn enqueue(&self, pending: Pending) -> bool {
        let mut q = lock(&self.queue);
        q.pending.push(pending);
        !std::mem::replace(&mut q.committing, true)
    }

    /// Commits rounds of queued transactions until the queue is empty. Blocking: runs on the
    /// blocking pool. A panic while committing drops that round's senders, which fails those
    /// transactions (nothing of them was committed) and not the committer.
    fn drain(&self, db: &Database) {
        loop {
            let batch = {
                let mut q = lock(&self.queue);
                if q.pending.is_empty() {
                    q.committing = false;
                    return;
                }
                std::mem::take(&mut q.pending)
            };
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                commit_batch(db, batch);
            }));
        }
    }
}

/// Applies every pending transaction in one redb transaction and commits once. A transaction
/// whose condition fails writes nothing (conditions are checked before any write of it); a
/// backend failure fails the whole batch.
fn commit_batch(db: &Database, batch: Vec<Pending>) {
    let fail_all = |batch: Vec<Pending>, e: StoreError| {
        for p in batch {
            let _ = p.outcome.send(Err(e.clone()));
        }
    };
    let txn = match db.begin_write() {
        Ok(t) => t,
        Err(e) => return fail_all(batch, backend(e)),
    };
    let applied = (|| {
        let mut tables = (
            txn.open_table(ITEMS).map_err(backend)?,
            txn.open_table(GSI1).map_err(backend)?,
        );
        let mut results = Vec::with_capacity(batch.len());
        for p in &batch {
            match apply(&mut tables, &p.writes) {
                Err(StoreError::Backend(e)) => return Err(StoreError::Backend(e)),
                r => results.push(r),
            }
        }
        Ok(results)
    })();
    let results = match applied {
        Ok(r) => r,
        Err(e) => {
            let _ = txn.abort();
            return fail_all(batch, e);
        }
    };
    if let Err(e) = txn.commit() {
        return fail_all(batch, backend(e));
    }

    for (p, r) in batch.into_iter().zip(results) {
        let _ = p.outcome.send(r);
    }
}

fn backend<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl EmbeddedStore {
    /// Opens (or creates) a store in a file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Database::create(path).map_err(backend)?)
    }

    /// A store that lives in memory only (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(backend)?;
        Self::init(db)
    }

    fn init(db: Database) -> Result<Self, StoreError> {
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(ITEMS).map_err(backend)?;
        txn.open_table(GSI1).map_err(backend)?;
        txn.commit().map_err(backend)?;
        Ok(EmbeddedStore {
            db: Arc::new(db),
            commits: Arc::default(),
        })
    }
}

fn decode(pk: &str, sk: &str, v: (u64, i64, Option<i64>, &str, &str, &str)) -> Item {
    let (version, count, expires_at, gpk, gsk, body) = v;
    Item {
        key: Key::new(pk, sk),
        gsi1: (!gpk.is_empty()).then(|| Key::new(gpk, gsk)),
        version,
        count,
        body: body.to_string(),
        expires_at,
    }
}

fn read_item(
    table: &impl ReadableTable<
        (&'static str, &'static str),
        (
            u64,
            i64,
            Option<i64>,
            &'static str,
            &'static str,
            &'static str,
        ),
    >,
    key: &Key,
) -> Result<Option<Item>, StoreError> {
    Ok(table
        .get((key.pk.as_str(), key.sk.as_str()))
        .map_err(backend)?
        .map(|g| decode(&key.pk, &key.sk, g.value())))
}

fn condition_holds(condition: Condition, current: Option<&Item>) -> bool {
    match condition {
        Condition::None => true,
        Condition::NotExists => current.is_none(),
        Condition::Exists => current.is_some(),
        Condition::VersionIs(v) => current.is_some_and(|i| i.version == v),
    }
}

/// The tables a batch writes, opened once for all its transactions.
type Tables<'t> = (
    redb::Table<'t, (&'static str, &'static str), ItemValue>,
    redb::Table<'t, (&'static str, &'static str, &'static str, &'static str), ()>,
);

fn apply(tables: &mut Tables<'_>, writes: &[Write]) -> Result<(), StoreError> {
    let (items, gsi) = tables;
    // Check every condition first: a failed one leaves nothing written.
    let mut current = Vec::with_capacity(writes.len());
    for (index, w) in writes.iter().enumerate() {
        let existing = read_item(&*items, w.key())?;
        let condition = match w {
            Write::Put { condition, .. }
            | Write::Delete { condition, .. }
            | Write::Check { condition, .. } => *condition,
            Write::Add { .. } => Condition::None,
        };
        if !condition_holds(condition, existing.as_ref()) {
            return Err(StoreError::ConditionFailed { index });
        }
        current.push(existing);
    }
    for (w, existing) in writes.iter().zip(current) {
        let new = match w {
            Write::Check { .. } => continue,
            Write::Put { item, .. } => Some(item.clone()),
            Write::Delete { .. } => None,
            Write::Add { key, delta } => {
                let mut item = existing.clone().unwrap_or_else(|| Item {
                    key: key.clone(),
                    ..Item::default()
                });
                item.count += delta;
                Some(item)
            }
        };
        if let Some(old) = existing
            .as_ref()
            .and_then(|e| e.gsi1.as_ref().map(|g| (g, &e.key)))
        {
            gsi.remove((
                old.0.pk.as_str(),
                old.0.sk.as_str(),
                old.1.pk.as_str(),
                old.1.sk.as_str(),
            ))
            .map_err(backend)?;
        }
        let key = w.key();
        match new {
            Some(item) => {
                let (gpk, gsk) = item
                    .gsi1
                    .as_ref()
                    .map_or(("", ""), |g| (g.pk.as_str(), g.sk.as_str()));
                items
                    .insert(
                        (key.pk.as_str(), key.sk.as_str()),
                        (
                            item.version,
                            item.count,
                            item.expires_at,
                            gpk,
                            gsk,
                            item.body.as_str(),
                        ),
                    )
                    .map_err(backend)?;
                if !gpk.is_empty() {
                    gsi.insert((gpk, gsk, key.pk.as_str(), key.sk.as_str()), ())
                        .map_err(backend)?;
                }
            }
            None => {
                items
                    .remove((key.pk.as_str(), key.sk.as_str()))
                    .map_err(backend)?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Store for EmbeddedStore {
    /// Concurrent transactions share one commit (one fsync): the more at once, the fewer fsyncs.
    fn concurrent_writes(&self) -> usize {
        256
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(ITEMS).map_err(backend)?;
        read_item(&table, key)
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        check_batch(keys)?;
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(ITEMS).map_err(backend)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.extend(read_item(&table, key)?);
        }
        Ok(out)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        check_transaction(&writes)?;
        let (outcome, answer) = tokio::sync::oneshot::channel();
        if self.commits.enqueue(Pending { writes, outcome }) {
            let (db, commits) = (Arc::clone(&self.db), Arc::clone(&self.commits));
            tokio::task::spawn_blocking(move || commits.drain(&db));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Backend("the write was not committed".into())))
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let items = txn.open_table(ITEMS).map_err(backend)?;
        let end = format!("{}{PREFIX_END}", q.sk_prefix);
        let mut out = Vec::new();
        let mut more = false;
        match q.index {
            Index::Primary => {
                let after = q.start_after.as_ref().map(|p| p.key.sk.as_str());
                let lower = match (q.forward, after) {
                    (true, Some(sk)) => Bound::Excluded((q.pk.as_str(), sk)),
                    _ => Bound::Included((q.pk.as_str(), q.sk_prefix.as_str())),
                };
                let upper = match (q.forward, after) {
                    (false, Some(sk)) => Bound::Excluded((q.pk.as_str(), sk)),
                    _ => Bound::Included((q.pk.as_str(), end.as_str())),
                };
                let range = items
                    .range::<(&str, &str)>((lower, upper))
                    .map_err(backend)?;
                let iter: Box<dyn Iterator<Item = _>> = if q.forward {
                    Box::new(range)
                } else {
                    Box::new(range.rev())
                };
                for entry in iter {
                    let (k, v) = entry.map_err(backend)?;
                    let (pk, sk) = k.value();
                    if !sk.starts_with(&q.sk_prefix) {
                        continue;
                    }
                    if out.len() == q.limit {
                        more = true;
                        break;
                    }
                    out.push(decode(pk, sk, v.value()));
                }
            }
            Index::Gsi1 => {
                let gsi = txn.open_table(GSI1).map_err(backend)?;
                let after = q.start_after.as_ref().and_then(|p| {
                    p.gsi1
                        .as_ref()
                        .map(|g| (g.sk.as_str(), p.key.pk.as_str(), p.key.sk.as_str()))
                });
                let lower = match (q.forward, after) {
                    (true, Some((gsk, pk, sk))) => Bound::Excluded((q.pk.as_str(), gsk, pk, sk)),
                    _ => Bound::Included((q.pk.as_str(), q.sk_prefix.as_str(), "", "")),
                };
                let upper = match (q.forward, after) {
                    (false, Some((gsk, pk, sk))) => Bound::Excluded((q.pk.as_str(), gsk, pk, sk)),
                    _ => Bound::Included((q.pk.as_str(), end.as_str(), "", "")),
                };
                let range = gsi
                    .range::<(&str, &str, &str, &str)>((lower, upper))
                    .map_err(backend)?;
                let iter: Box<dyn Iterator<Item = _>> = if q.forward {
                    Box::new(range)
                } else {
                    Box::new(range.rev())
                };
                for entry in iter {
                    let (k, _) = entry.map_err(backend)?;
                    let (_, gsk, pk, sk) = k.value();
                    if !gsk.starts_with(&q.sk_prefix) {
                        continue;
                    }
                    if out.len() == q.limit {
                        more = true;
                        break;
                    }
                    let key = Key::new(pk, sk);
                    out.extend(read_item(&items, &key)?);
                }
            }
        }
        let next = if more {
            out.last().map(PageKey::of)
        } else {
            None
        };
        Ok(Page { items: out, next })
    }

    async fn scan(&self, start_after: Option<&PageKey>, limit: usize) -> Result<Page, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let items = txn.open_table(ITEMS).map_err(backend)?;
        let lower = match start_after {
            Some(p) => Bound::Excluded((p.key.pk.as_str(), p.key.sk.as_str())),
            None => Bound::Unbounded,
        };
        let mut range = items
            .range::<(&str, &str)>((lower, Bound::Unbounded))
            .map_err(backend)?;
        let mut out = Vec::new();
        for entry in range.by_ref().take(limit.max(1)) {
            let (k, v) = entry.map_err(backend)?;
            let (pk, sk) = k.value();
            out.push(decode(pk, sk, v.value()));
        }
        let next = match range.next() {
            Some(_) => out.last().map(PageKey::of),
            None => None,
        };
        Ok(Page { items: out, next })
    }
}
