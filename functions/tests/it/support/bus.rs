//! An in-memory event bus for the tests of the events function and Emergency Logout: it keeps
//! what each PutEvents call carried, as EventBridge would receive it, and refuses the entries
//! of chosen events while told to.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use scim_shared::events::Retry;
use scim_shared::events::lifecycle::Event;
use scim_shared::events::publish::{self, PublishError, Publisher};
use serde_json::Value;

/// Retries without waiting: the bus answers at once, and a test has no time to lose.
pub const NO_WAIT: Retry = Retry {
    attempts: 3,
    first_delay: Duration::ZERO,
    max_delay: Duration::ZERO,
};

/// One entry as the bus received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub source: String,
    pub detail_type: String,
    pub detail: Value,
}

#[derive(Debug, Default)]
pub struct Bus {
    /// Every call's accepted entries, in order.
    accepted: Mutex<Vec<Vec<Entry>>>,
    /// Ids of the events whose entries are refused (ThrottlingException).
    refused: Mutex<Vec<String>>,
    /// Refuse whole calls (the service is unreachable).
    down: Mutex<bool>,
    /// Entries per call, accepted or not.
    calls: Mutex<Vec<usize>>,
}

impl Bus {
    pub fn refuse(&self, event_id: &str) {
        self.refused
            .lock()
            .expect("lock")
            .push(event_id.to_string());
    }

    pub fn accept_all(&self) {
        self.refused.lock().expect("lock").clear();
        *self.down.lock().expect("lock") = false;
    }

    pub fn go_down(&self) {
        *self.down.lock().expect("lock") = true;
    }

    /// Every accepted entry, in the order the bus received them.
    pub fn entries(&self) -> Vec<Entry> {
        self.accepted.lock().expect("lock").concat()
    }

    /// The ids of the accepted events, in order.
    pub fn ids(&self) -> Vec<String> {
        self.entries()
            .iter()
            .map(|e| e.detail["id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Entries per PutEvents call, in order.
    pub fn calls(&self) -> Vec<usize> {
        self.calls.lock().expect("lock").clone()
    }
}

#[async_trait]
impl Publisher for Bus {
    async fn put(&self, events: &[Event]) -> Result<Vec<Result<(), String>>, PublishError> {
        assert!(
            events.len() <= publish::MAX_ENTRIES,
            "{} entries in one call",
            events.len()
        );
        self.calls.lock().expect("lock").push(events.len());
        if *self.down.lock().expect("lock") {
            return Err(PublishError::Call("connection refused".into()));
        }
        let refused = self.refused.lock().expect("lock").clone();
        let mut accepted = Vec::new();
        let results = events
            .iter()
            .map(|e| {
                if refused.contains(&e.id) {
                    return Err("ThrottlingException: Rate exceeded".to_string());
                }
                accepted.push(Entry {
                    source: publish::SOURCE.to_string(),
                    detail_type: e.kind.as_str().to_string(),
                    detail: serde_json::from_str(&publish::detail(e)).expect("JSON detail"),
                });
                Ok(())
            })
            .collect();
        self.accepted.lock().expect("lock").push(accepted);
        Ok(results)
    }
}
