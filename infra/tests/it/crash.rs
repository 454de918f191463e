//! A server killed in the middle of writes loses nothing it acknowledged and no event of what it
//! stored: `scimctl serve` runs a write load (creates and deactivations) and is killed with
//! SIGKILL, several times over on the same store; afterwards every acknowledged change is read
//! back, and every stored user has its `joiner`, every deactivated one its `leaver`.
//!
//! Runs on the embedded file store, or on DynamoDB Local with `SCIM_TEST_BACKEND=dynamodb`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scim_shared::events::lifecycle::EventKind;
use scim_shared::events::outbox;
use scim_shared::store::{DynamoStore, EmbeddedStore, Store, create_table, delete_table};
use serde_json::{Value, json};

use crate::support::Server;

/// Kill cycles; each runs the load for a different time before the kill.
const KILL_AFTER_MS: [u64; 5] = [350, 700, 500, 900, 600];
/// Concurrent clients of the load.
const WRITERS: usize = 8;
const TENANT: &str = "default";

/// Where the server keeps its data.
enum Backend {
    Dir(tempfile::TempDir),
    DynamoDb(String),
}

impl Backend {
    async fn new() -> Backend {
        match std::env::var("SCIM_TEST_BACKEND").as_deref() {
            Ok("dynamodb") => {
                let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
                let table = format!("scim-crash-{}-{nanos}", std::process::id());
                let store = DynamoStore::from_env(table.clone()).await;
                create_table(store.client(), &table).await.expect("table");
                Backend::DynamoDb(table)
            }
            _ => Backend::Dir(tempfile::tempdir().expect("temporary directory")),
        }
    }

    fn url(&self) -> String {
        match self {
            Backend::Dir(dir) => dir.path().display().to_string(),
            Backend::DynamoDb(table) => format!("dynamodb://{table}"),
        }
    }

    /// The store, opened in this process once no server holds it.
    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Backend::Dir(dir) => Arc::new(
                EmbeddedStore::open(&dir.path().join(scimctl::store_url::DB_FILE)).expect("store"),
            ),
            Backend::DynamoDb(table) => Arc::new(DynamoStore::from_env(table.clone()).await),
        }
    }

    async fn remove(self) {
        if let Backend::DynamoDb(table) = &self {
            let store = DynamoStore::from_env(table.clone()).await;
            delete_table(store.client(), table)
                .await
                .expect("delete table");
        }
    }
}

/// The Secret Token the first start printed.
fn token(logs: &Path) -> String {
    let out = std::fs::read_to_string(logs.join("serve-0.out")).expect("first start's output");
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Secret Token:"))
        .expect("the first start prints a Secret Token")
        .trim()
        .to_string()
}

/// What the server acknowledged: created user ids, and the ids it answered a deactivation of.
#[derive(Default)]
struct Acknowledged {
    created: BTreeSet<String>,
    deactivated: BTreeSet<String>,
}

/// Creates users and deactivates every other one, from `WRITERS` clients, until the server stops
/// answering.
async fn load(url: &str, token: &str, run: usize, acked: &Arc<Mutex<Acknowledged>>) {
    let client = reqwest::Client::new();
    let writers = (0..WRITERS).map(|w| {
        let (client, acked) = (client.clone(), acked.clone());
        let (users, auth) = (format!("{url}/Users"), format!("Bearer {token}"));
        tokio::spawn(async move {
            for n in 0.. {
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("crash-{run}-{w}-{n}"),
                    "active": true
                });
                let Ok(r) = client
                    .post(&users)
                    .header("authorization", &auth)
                    .json(&body)
                    .send()
                    .await
                else {
                    return;
                };
                if r.status() != 201 {
                    continue;
                }
                let Ok(created) = r.json::<Value>().await else {
                    return;
                };
                let id = created["id"].as_str().expect("id").to_string();
                acked.lock().expect("lock").created.insert(id.clone());
                if n % 2 == 1 {
                    continue;
                }
                let off = json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": false}]
                });
                let Ok(r) = client
                    .patch(format!("{users}/{id}"))
                    .header("authorization", &auth)
                    .json(&off)
                    .send()
                    .await
                else {
                    return;
                };
                if r.status().is_success() {
                    acked.lock().expect("lock").deactivated.insert(id);
                }
            }
        })
    });
    for w in writers.collect::<Vec<_>>() {
        w.await.expect("writer");
    }
}

/// Every user of the tenant as the server serves it: id → active.
async fn served_users(url: &str, token: &str) -> BTreeMap<String, bool> {
    let client = reqwest::Client::new();
    let mut users = BTreeMap::new();
    let mut start = 1;
    loop {
        let page: Value = client
            .get(format!("{url}/Users?startIndex={start}&count=1000"))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("list body");
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        for u in &resources {
            let id = u["id"].as_str().expect("id").to_string();
            users.insert(id, u["active"].as_bool().unwrap_or(true));
        }
        if resources.is_empty() {
            return users;
        }
        start += resources.len();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_writes_keeps_what_it_acknowledged_and_every_event_of_what_it_stored()
 {
    let backend = Backend::new().await;
    let logs: PathBuf = tempfile::tempdir().expect("logs").keep();
    let since = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let mut token_of_first_start = None;
    for (run, &after) in KILL_AFTER_MS.iter().enumerate() {
        let server = Server::start(&backend.url(), &logs, run);
        let token = token_of_first_start
            .get_or_insert_with(|| token(&logs))
            .clone();
        let writing = tokio::spawn({
            let (url, acked) = (server.url.clone(), acked.clone());
            async move { load(&url, &token, run, &acked).await }
        });
        // The kill lands while writes are being acknowledged, not during start-up.
        let before = acked.lock().expect("lock").created.len();
        let waiting = Instant::now();
        while acked.lock().expect("lock").created.len() == before {
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "no write acknowledged"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(after)).await;
        server.kill();
        writing.await.expect("load");
    }
    let token = token_of_first_start.expect("token");
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));

    let server = Server::start(&backend.url(), &logs, KILL_AFTER_MS.len());
    let users = served_users(&server.url, &token).await;
    server.kill();
    for id in &acked.created {
        assert!(users.contains_key(id), "acknowledged user {id} is gone");
    }
    for id in &acked.deactivated {
        assert_eq!(
            users.get(id),
            Some(&false),
            "acknowledged deactivation of {id}"
        );
    }

    let store = backend.open().await;
    let until = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let events = outbox::read(&*store, TENANT, since, until)
        .await
        .expect("outbox");
    let of_kind = |kind: EventKind| -> BTreeSet<String> {
        events
            .iter()
            .filter(|s| s.event.kind == kind)
            .map(|s| s.event.resource.id.clone())
            .collect()
    };
    let stored: BTreeSet<String> = users.keys().cloned().collect();
    let inactive: BTreeSet<String> = users
        .iter()
        .filter(|(_, active)| !**active)
        .map(|(id, _)| id.clone())
        .collect();
    let joiners = of_kind(EventKind::Joiner);
    let leavers = of_kind(EventKind::Leaver);
    assert_eq!(
        stored.difference(&joiners).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "stored users without a joiner"
    );
    assert_eq!(
        joiners.difference(&stored).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "joiners of users never stored"
    );
    assert_eq!(
        inactive.symmetric_difference(&leavers).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "deactivated users and leavers differ"
    );
    println!(
        "{} kills: {} users stored ({} acknowledged), {} deactivated ({} acknowledged), \
         every one with its event",
        KILL_AFTER_MS.len(),
        stored.len(),
        acked.created.len(),
        inactive.len(),
        acked.deactivated.len()
    );
    drop(store);
    backend.remove().await;
    let _ = std::fs::remove_dir_all(&logs);
}
