//! The EventBridge stand-in: it records every entry a function puts (after the role's
//! `events:PutEvents` was checked) and lets tests wait for them; told to, it refuses every
//! entry, as EventBridge does when it fails (`FailedEntryCount`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

/// The entries put so far, in order.
#[derive(Debug, Default)]
pub struct Bus {
    entries: Mutex<Vec<Value>>,
    changed: Notify,
    refusing: AtomicBool,
}

impl Bus {
    /// Records entries (`PutEvents` request entries); returns their event ids.
    pub fn put(&self, entries: Vec<Value>) -> Vec<String> {
        let mut all = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let ids = (all.len()..all.len() + entries.len())
            .map(|n| format!("local-{n:08}"))
            .collect();
        all.extend(entries);
        self.changed.notify_waiters();
        ids
    }

    /// Refuses every entry from now on (`true`) or accepts them again (`false`).
    pub fn refuse_all(&self, refuse: bool) {
        self.refusing.store(refuse, Ordering::SeqCst);
    }

    /// Whether entries are refused.
    pub fn refusing(&self) -> bool {
        self.refusing.load(Ordering::SeqCst)
    }

    /// Every entry so far.
    pub fn entries(&self) -> Vec<Value> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until an entry satisfies `found` (at most `limit`); returns it.
    pub async fn wait_for(&self, limit: Duration, found: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if let Some(e) = self.entries().into_iter().find(|e| found(e)) {
                return Some(e);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }
}
