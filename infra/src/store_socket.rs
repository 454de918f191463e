//! The store of a running `scimctl serve`, shared with the administration commands.
//!
//! The embedded file store is one file that one process holds. While `serve` holds it, it also
//! listens on a Unix socket in the store directory ([`SOCKET_FILE`], readable and writable by
//! its owner only, like the database file itself), and a command given the same `--store` that
//! finds the file held sends its store calls there instead ([`RemoteStore`]). Every command then
//! works beside the running server, through the same [`Store`] calls it would make itself, with
//! the same output; nothing SCIM-specific crosses the socket.
//!
//! The protocol is one JSON line per call and one per answer, in order, on each connection; a
//! command opens [`CONNECTIONS`] of its own, so that its concurrent calls (an import's) are
//! answered concurrently.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use scim_shared::store::{Item, Key, Page, PageKey, Query, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Mutex;

/// File name of the socket inside the store directory.
pub const SOCKET_FILE: &str = "scimctl.sock";

/// Connections a command opens to the server: its calls in flight at once.
pub const CONNECTIONS: usize = 16;

/// One store call.
#[derive(Debug, Serialize, Deserialize)]
enum Call {
    Get(Key),
    BatchGet(Vec<Key>),
    Transact(Vec<Write>),
    Query(Query),
    Scan(Option<PageKey>, usize),
    ConcurrentWrites,
}

/// The answer to one call.
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    Item(Option<Item>),
    Items(Vec<Item>),
    Done,
    Page(Page),
    Count(usize),
}

/// The socket of the store in `dir`.
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET_FILE)
}

/// Listens on the store directory's socket and answers the calls of commands run beside the
/// server, until the returned guard is dropped (which removes the socket file).
pub fn share(store: Arc<dyn Store>, dir: &Path) -> io::Result<Shared> {
    let path = socket_path(dir);
    // A socket left by a server that was killed: the database lock shows no server holds it.
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(&path)?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(store.clone(), stream));
        }
    });
    Ok(Shared { path, task })
}

/// The socket while it is shared.
#[derive(Debug)]
pub struct Shared {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Answers the calls of one connection in order.
async fn answer(store: Arc<dyn Store>, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let answer: Result<Answer, StoreError> = match serde_json::from_str::<Call>(&line) {
            Ok(call) => run(&*store, call).await,
            Err(e) => Err(StoreError::Backend(format!("unreadable store call: {e}"))),
        };
        let Ok(mut text) = serde_json::to_string(&answer) else {
            return;
        };
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn run(store: &dyn Store, call: Call) -> Result<Answer, StoreError> {
    Ok(match call {
        Call::Get(key) => Answer::Item(store.get(&key).await?),
        Call::BatchGet(keys) => Answer::Items(store.batch_get(&keys).await?),
        Call::Transact(writes) => {
            store.transact(writes).await?;
            Answer::Done
        }
        Call::Query(q) => Answer::Page(store.query(&q).await?),
        Call::Scan(after, limit) => Answer::Page(store.scan(after.as_ref(), limit).await?),
        Call::ConcurrentWrites => Answer::Count(store.concurrent_writes()),
    })
}

/// One connection to the server: answers come in the order of the calls.
type Connection = (tokio::io::Lines<BufReader<OwnedReadHalf>>, OwnedWriteHalf);

/// The store of a running server, through its socket.
#[derive(Debug)]
pub struct RemoteStore {
    connections: Vec<Mutex<Connection>>,
    /// Where the next call starts looking for a free connection.
    next: AtomicUsize,
    concurrent_writes: usize,
}

impl RemoteStore {
    /// Connects to the server sharing the store in `dir`.
    pub async fn connect(dir: &Path) -> io::Result<RemoteStore> {
        let mut connections = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let (read, write) = UnixStream::connect(socket_path(dir)).await?.into_split();
            connections.push(Mutex::new((BufReader::new(read).lines(), write)));
        }
        let mut store = RemoteStore {
            connections,
            next: AtomicUsize::new(0),
            concurrent_writes: 1,
        };
        if let Ok(Answer::Count(n)) = store.call(&Call::ConcurrentWrites).await {
            store.concurrent_writes = n;
        }
        Ok(store)
    }

    /// A free connection, or the next one in turn when all are busy.
    async fn connection(&self) -> tokio::sync::MutexGuard<'_, Connection> {
        let n = self.connections.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(free) = self.connections[(start + i) % n].try_lock() {
                return free;
            }
        }
        self.connections[start % n].lock().await
    }

    async fn call(&self, call: &Call) -> Result<Answer, StoreError> {
        let lost = |e: &dyn std::fmt::Display| {
            StoreError::Backend(format!("the running scimctl serve did not answer: {e}"))
        };
        let mut text = serde_json::to_string(call).map_err(|e| lost(&e))?;
        text.push('\n');
        let mut connection = self.connection().await;
        let (lines, write) = &mut *connection;
        write
            .write_all(text.as_bytes())
            .await
            .map_err(|e| lost(&e))?;
        let line = lines
            .next_line()
            .await
            .map_err(|e| lost(&e))?
            .ok_or_else(|| lost(&"the connection closed"))?;
        serde_json::from_str::<Result<Answer, StoreError>>(&line).map_err(|e| lost(&e))?
    }

    fn unexpected(answer: Answer) -> StoreError {
        StoreError::Backend(format!("unexpected answer from scimctl serve: {answer:?}"))
    }
}

#[async_trait]
impl Store for RemoteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        match self.call(&Call::Get(key.clone())).await? {
            Answer::Item(item) => Ok(item),
            other => Err(Self::unexpected(other)),
        }
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        match self.call(&Call::BatchGet(keys.to_vec())).await? {
            Answer::Items(items) => Ok(items),
            other => Err(Self::unexpected(other)),
        }
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        match self.call(&Call::Transact(writes)).await? {
            Answer::Done => Ok(()),
            other => Err(Self::unexpected(other)),
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        match self.call(&Call::Query(query.clone())).await? {
            Answer::Page(page) => Ok(page),
            other => Err(Self::unexpected(other)),
        }
    }

    async fn scan(&self, start_after: Option<&PageKey>, limit: usize) -> Result<Page, StoreError> {
        match self.call(&Call::Scan(start_after.cloned(), limit)).await? {
            Answer::Page(page) => Ok(page),
            other => Err(Self::unexpected(other)),
        }
    }

    fn concurrent_writes(&self) -> usize {
        self.concurrent_writes
    }
}
