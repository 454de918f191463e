//! The conformance suite every [`Store`] backend must pass. Each check is a public async function
//! taking a fresh, empty store; [`store_conformance_tests!`](crate::store_conformance_tests)
//! turns them into one `#[tokio::test]` per check for a backend constructor.

use super::{
    Condition, Index, Item, Key, MAX_ITEM_BYTES, Query, Store, StoreError, Write, item_size,
};

fn item(pk: &str, sk: &str, version: u64) -> Item {
    Item {
        key: Key::new(pk, sk),
        version,
        body: format!("{{\"v\":{version}}}"),
        ..Item::default()
    }
}

fn put(item: Item, condition: Condition) -> Write {
    Write::Put { item, condition }
}

pub async fn put_then_get_round_trips(store: &dyn Store) {
    let mut it = item("T#a#U#1", "#", 1);
    it.gsi1 = Some(Key::new("T#a#USERS", "1"));
    it.expires_at = Some(1_900_000_000);
    store
        .transact(vec![put(it.clone(), Condition::NotExists)])
        .await
        .expect("put");
    assert_eq!(store.get(&it.key).await.expect("get"), Some(it));
    assert_eq!(
        store.get(&Key::new("T#a#U#2", "#")).await.expect("get"),
        None
    );
}

pub async fn not_exists_condition_rejects_second_put(store: &dyn Store) {
    let it = item("T#a#UN#bob", "#", 1);
    store
        .transact(vec![put(it.clone(), Condition::NotExists)])
        .await
        .expect("first");
    let err = store
        .transact(vec![put(it, Condition::NotExists)])
        .await
        .expect_err("the write must fail");
    assert_eq!(err, StoreError::ConditionFailed { index: 0 });
}

pub async fn failed_condition_writes_nothing(store: &dyn Store) {
    store
        .transact(vec![put(item("m", "#", 1), Condition::None)])
        .await
        .expect("seed");
    let writes = vec![
        put(item("a", "#", 1), Condition::NotExists),
        Write::Add {
            key: Key::new("c", "USERS"),
            delta: 1,
        },
        put(item("m", "#", 2), Condition::NotExists),
    ];
    let err = store
        .transact(writes)
        .await
        .expect_err("the write must fail");
    assert_eq!(err, StoreError::ConditionFailed { index: 2 });
    assert_eq!(store.get(&Key::new("a", "#")).await.expect("get"), None);
    assert_eq!(store.get(&Key::new("c", "USERS")).await.expect("get"), None);
    assert_eq!(
        store
            .get(&Key::new("m", "#"))
            .await
            .expect("get")
            .map(|i| i.version),
        Some(1)
    );
}

pub async fn version_condition_guards_updates(store: &dyn Store) {
    store
        .transact(vec![put(item("r", "#", 1), Condition::NotExists)])
        .await
        .expect("create");
    store
        .transact(vec![put(item("r", "#", 2), Condition::VersionIs(1))])
        .await
        .expect("update");
    let err = store
        .transact(vec![put(item("r", "#", 3), Condition::VersionIs(1))])
        .await
        .expect_err("the write must fail");
    assert_eq!(err, StoreError::ConditionFailed { index: 0 });
    let err = store
        .transact(vec![Write::Delete {
            key: Key::new("r", "#"),
            condition: Condition::VersionIs(7),
        }])
        .await
        .expect_err("the write must fail");
    assert_eq!(err, StoreError::ConditionFailed { index: 0 });
    store
        .transact(vec![Write::Delete {
            key: Key::new("r", "#"),
            condition: Condition::VersionIs(2),
        }])
        .await
        .expect("delete");
    assert_eq!(store.get(&Key::new("r", "#")).await.expect("get"), None);
}

pub async fn check_and_exists_conditions(store: &dyn Store) {
    let err = store
        .transact(vec![Write::Check {
            key: Key::new("x", "#"),
            condition: Condition::Exists,
        }])
        .await
        .expect_err("the write must fail");
    assert_eq!(err, StoreError::ConditionFailed { index: 0 });
    store
        .transact(vec![put(item("x", "#", 1), Condition::None)])
        .await
        .expect("put");
    store
        .transact(vec![
            Write::Check {
                key: Key::new("x", "#"),
                condition: Condition::Exists,
            },
            put(item("y", "#", 1), Condition::NotExists),
        ])
        .await
        .expect("check passes");
}

pub async fn counters_add_and_subtract(store: &dyn Store) {
    let key = Key::new("T#a#COUNT", "USERS");
    for delta in [1, 1, 1, -1] {
        store
            .transact(vec![Write::Add {
                key: key.clone(),
                delta,
            }])
            .await
            .expect("add");
    }
    assert_eq!(
        store.get(&key).await.expect("get").map(|i| i.count),
        Some(2)
    );
}

pub async fn transactions_enforce_limits(store: &dyn Store) {
    let too_many: Vec<Write> = (0..101)
        .map(|i| put(item(&format!("k{i}"), "#", 1), Condition::None))
        .collect();
    assert!(matches!(
        store.transact(too_many).await,
        Err(StoreError::Limit(_))
    ));
    let same_key = vec![
        put(item("k", "#", 1), Condition::None),
        put(item("k", "#", 2), Condition::None),
    ];
    assert!(matches!(
        store.transact(same_key).await,
        Err(StoreError::Limit(_))
    ));
    assert!(matches!(
        store.transact(vec![]).await,
        Err(StoreError::Limit(_))
    ));
}

/// An item whose size, as [`item_size`] counts it, is exactly `bytes`.
fn item_of_size(pk: &str, bytes: usize) -> Item {
    let mut it = item(pk, "#", 1);
    it.body = "x".to_string();
    let overhead = item_size(&it) - 1;
    it.body = "x".repeat(bytes - overhead);
    it
}

/// The largest item DynamoDB takes is accepted (on the DynamoDB backend this checks the count
/// against the table's own); one byte more is refused before anything of its transaction is
/// written, on every backend alike.
pub async fn items_over_the_size_limit_are_refused(store: &dyn Store) {
    let largest = item_of_size("T#a#U#largest", MAX_ITEM_BYTES);
    assert_eq!(item_size(&largest), MAX_ITEM_BYTES);
    store
        .transact(vec![put(largest.clone(), Condition::NotExists)])
        .await
        .expect("an item of exactly the limit is stored");
    assert_eq!(store.get(&largest.key).await.expect("get"), Some(largest));

    let over = item_of_size("T#a#U#over", MAX_ITEM_BYTES + 1);
    let small = item("T#a#U#small", "#", 1);
    for writes in [
        vec![put(over.clone(), Condition::None)],
        vec![
            put(small.clone(), Condition::None),
            put(over.clone(), Condition::None),
        ],
    ] {
        let index = writes.len() - 1;
        assert_eq!(
            store.transact(writes).await,
            Err(StoreError::ItemTooLarge {
                index,
                bytes: MAX_ITEM_BYTES + 1
            })
        );
    }
    assert_eq!(store.get(&over.key).await.expect("get"), None);
    assert_eq!(store.get(&small.key).await.expect("get"), None);
}

/// A scan pages through every item of the table, each exactly once.
pub async fn scan_returns_every_item(store: &dyn Store) {
    let mut written = Vec::new();
    for (pk, sk) in [
        ("T#a#U#1", "#"),
        ("T#a#U#1", "G#g"),
        ("T#b#HOOK", "#"),
        ("TOKEN#h", "#"),
    ] {
        let mut it = item(pk, sk, 1);
        it.gsi1 = Some(Key::new("T#a#USERS", pk));
        store
            .transact(vec![put(it.clone(), Condition::None)])
            .await
            .expect("put");
        written.push(it);
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.scan(after.as_ref(), 3).await.expect("scan");
        assert!(page.items.len() <= 3);
        seen.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    seen.sort_by(|a, b| a.key.cmp(&b.key));
    written.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(seen, written);
}

pub async fn batch_get_returns_existing_items(store: &dyn Store) {
    for i in 0..5 {
        store
            .transact(vec![put(item(&format!("b{i}"), "#", 1), Condition::None)])
            .await
            .expect("put");
    }
    let keys: Vec<Key> = (0..8).map(|i| Key::new(format!("b{i}"), "#")).collect();
    let mut got: Vec<String> = store
        .batch_get(&keys)
        .await
        .expect("batch")
        .into_iter()
        .map(|i| i.key.pk)
        .collect();
    got.sort();
    assert_eq!(got, vec!["b0", "b1", "b2", "b3", "b4"]);
}

/// Items of one partition come back in sort-key order, filtered by prefix, page by page.
pub async fn query_pages_through_a_partition_in_order(store: &dyn Store) {
    for i in (0..25).rev() {
        store
            .transact(vec![put(
                item("T#a#G#1", &format!("M#{i:03}"), 1),
                Condition::None,
            )])
            .await
            .expect("put");
    }
    store
        .transact(vec![put(item("T#a#G#1", "#", 1), Condition::None)])
        .await
        .expect("group item");
    store
        .transact(vec![put(item("T#a#G#2", "M#000", 1), Condition::None)])
        .await
        .expect("other group");
    let mut q = Query::new(Index::Primary, "T#a#G#1", "M#", 10);
    let mut seen = Vec::new();
    loop {
        let page = store.query(&q).await.expect("query");
        assert!(page.items.len() <= 10);
        seen.extend(page.items.into_iter().map(|i| i.key.sk));
        match page.next {
            Some(next) => q.start_after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("M#{i:03}")).collect();
    assert_eq!(seen, expected);

    let mut back = Query::new(Index::Primary, "T#a#G#1", "M#", 3);
    back.forward = false;
    let page = store.query(&back).await.expect("query");
    let skeys: Vec<_> = page.items.iter().map(|i| i.key.sk.as_str()).collect();
    assert_eq!(skeys, vec!["M#024", "M#023", "M#022"]);
}

/// GSI1 lists items by their index key and follows updates and deletes.
pub async fn gsi1_follows_writes(store: &dyn Store) {
    for i in 0..5 {
        let mut it = item(&format!("T#a#U#{i}"), "#", 1);
        it.gsi1 = Some(Key::new("T#a#USERS", format!("{i}")));
        store
            .transact(vec![put(it, Condition::None)])
            .await
            .expect("put");
    }
    // Move one item to another index partition, delete another.
    let mut moved = item("T#a#U#1", "#", 2);
    moved.gsi1 = Some(Key::new("T#a#OTHER", "1"));
    store
        .transact(vec![put(moved, Condition::VersionIs(1))])
        .await
        .expect("move");
    store
        .transact(vec![Write::Delete {
            key: Key::new("T#a#U#3", "#"),
            condition: Condition::Exists,
        }])
        .await
        .expect("delete");
    let mut q = Query::new(Index::Gsi1, "T#a#USERS", "", 2);
    let mut seen = Vec::new();
    loop {
        let page = store.query(&q).await.expect("query");
        seen.extend(page.items.into_iter().map(|i| i.key.pk));
        match page.next {
            Some(next) => q.start_after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, vec!["T#a#U#0", "T#a#U#2", "T#a#U#4"]);
    let other = store
        .query(&Query::new(Index::Gsi1, "T#a#OTHER", "", 10))
        .await
        .expect("query");
    assert_eq!(other.items.len(), 1);
    assert_eq!(other.items[0].version, 2);
}

/// Concurrent conditional creates of one key: exactly one wins.
pub async fn concurrent_conditional_creates_have_one_winner(store: std::sync::Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .transact(vec![
                    put(item("T#a#UN#race", "#", 1), Condition::NotExists),
                    put(item(&format!("T#a#U#{i}"), "#", 1), Condition::NotExists),
                ])
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(()) => ok += 1,
            Err(StoreError::ConditionFailed { index: 0 }) | Err(StoreError::Conflict) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1);
}

/// Expands to one `#[tokio::test]` per conformance check, each with a fresh store made by
/// `$make` (an async expression returning `Arc<dyn Store>`).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@tests $make;
            put_then_get_round_trips, not_exists_condition_rejects_second_put,
            failed_condition_writes_nothing, version_condition_guards_updates,
            check_and_exists_conditions, counters_add_and_subtract, transactions_enforce_limits,
            items_over_the_size_limit_are_refused, scan_returns_every_item,
            batch_get_returns_existing_items, query_pages_through_a_partition_in_order,
            gsi1_follows_writes);
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_conditional_creates_have_one_winner() {
            let store = $make.await;
            $crate::store::conformance::concurrent_conditional_creates_have_one_winner(store).await;
        }
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $make.await;
                $crate::store::conformance::$name(&*store).await;
            }
        )*
    };
}

#[cfg(test)]
mod embedded_in_memory {
    use std::sync::Arc;

    use crate::store::{EmbeddedStore, Store};

    async fn make() -> Arc<dyn Store> {
        Arc::new(EmbeddedStore::in_memory().expect("store"))
    }

    crate::store_conformance_tests!(make());
}

#[cfg(test)]
mod embedded_file {
    use std::sync::Arc;

    use crate::store::{EmbeddedStore, Store};

    async fn make() -> Arc<dyn Store> {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&dir.path().join("scim.redb")).expect("store");
        // The database file stays open after the directory handle is dropped.
        std::mem::forget(dir);
        Arc::new(store)
    }

    crate::store_conformance_tests!(make());
}
