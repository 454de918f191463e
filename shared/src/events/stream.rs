//! The consumer of the table's stream: the outbox items a batch of stream records inserted
//! become events published through a [`Publisher`] (EventBridge on AWS), in order, each
//! stream record at most once.
//!
//! - Only INSERTs of outbox items (sort key [`OUTBOX_SK_PREFIX`]) carry events; every other
//!   record (resource items, audit records, markers, TTL removals, events delivered
//!   synchronously under `EVD#`) is ignored. The stream's filter in template.yaml already keeps
//!   them from the function; the check here holds without it.
//! - **At most once per stream record.** After an event's entry is accepted, a marker item
//!   [`keys::published`]`(eventID)` is written (`attribute_not_exists`, expiring after
//!   [`MARKER_TTL_SECONDS`], longer than the stream keeps records); before publishing, the
//!   markers of the batch are read (BatchGetItem) and marked records are skipped. A batch that
//!   Lambda delivers again, whole or bisected, publishes nothing twice.
//! - **Failures.** Entries the bus did not accept are sent again ([`Retry`]); when some still
//!   fail, publishing stops and [`Report::failed`] lists that record and every later one, which
//!   the function reports as `batchItemFailures`, so Lambda retries from there and the markers
//!   skip what was published meanwhile.

use std::collections::HashSet;

use crate::events::Retry;
use crate::events::lifecycle::Event;
use crate::events::outbox;
use crate::events::publish::{self, PublishError, Publisher};
use crate::protocol::clock;
use crate::store::keys::{self, OUTBOX_SK_PREFIX};
use crate::store::{Condition, Item, Key, MAX_BATCH_GET, Store, StoreError, Write};

/// How long the marker of a published record is kept: longer than the stream's 24 hours, so it
/// outlives every redelivery of the record.
pub const MARKER_TTL_SECONDS: i64 = 48 * 3600;

/// What a stream record did to its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Insert,
    Modify,
    Remove,
}

impl Action {
    /// The stream's `eventName` (`INSERT`, `MODIFY`, `REMOVE`).
    pub fn parse(name: &str) -> Option<Action> {
        match name {
            "INSERT" => Some(Action::Insert),
            "MODIFY" => Some(Action::Modify),
            "REMOVE" => Some(Action::Remove),
            _ => None,
        }
    }
}

/// One record of the table's stream, as far as the consumer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's `eventID`: unique per record, the same when Lambda delivers it again.
    pub id: String,
    /// `None` for an `eventName` this consumer does not know.
    pub action: Option<Action>,
    /// The item's key (`Keys`).
    pub key: Key,
    /// The item's `b` attribute in `NewImage`, if any.
    pub body: Option<String>,
}

/// Why a record has no event to publish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    #[error("not an insert of an outbox item")]
    NotAnOutboxInsert,
    /// An outbox item whose body is not an event (logged; retrying would not help).
    #[error("unreadable outbox item: {0}")]
    Unreadable(String),
}

/// The events a record carries (one request's, in order).
pub fn events_of(record: &Record) -> Result<Vec<Event>, Skip> {
    let outbox = record.action == Some(Action::Insert)
        && record.key.sk.starts_with(OUTBOX_SK_PREFIX)
        && record.key.pk.contains("#EVT#");
    if !outbox {
        return Err(Skip::NotAnOutboxInsert);
    }
    let body = record
        .body
        .as_deref()
        .ok_or_else(|| Skip::Unreadable("no body".into()))?;
    outbox::events_of(body).map_err(|e| Skip::Unreadable(e.to_string()))
}

/// What one batch came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Events published by this delivery.
    pub published: usize,
    /// Records already published by an earlier delivery (their marker exists).
    pub duplicates: usize,
    /// Records without an event (see [`Skip`]).
    pub ignored: usize,
    /// Outbox items that can never be published (unreadable, or over the bus's size limit);
    /// logged as errors, the item stays in the outbox until its TTL.
    pub dropped: usize,
    /// Ids of the records to deliver again: the first that could not be published and every
    /// record after it. Empty when the batch is done.
    pub failed: Vec<String>,
}

/// The marker item of a published record.
fn marker(record_id: &str, first: &Event) -> Item {
    Item {
        key: keys::published(record_id),
        body: serde_json::json!({"event": first.id}).to_string(),
        expires_at: Some(clock::now().unix_timestamp() + MARKER_TTL_SECONDS),
        ..Item::default()
    }
}

/// Ids of the records of `ids` that have a marker.
async fn already_published(store: &dyn Store, ids: &[&str]) -> Result<HashSet<String>, StoreError> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(MAX_BATCH_GET) {
        let keys: Vec<Key> = chunk.iter().map(|id| keys::published(id)).collect();
        for item in store.batch_get(&keys).await? {
            if let Some(id) = item.key.pk.strip_prefix(keys::PUBLISHED_PREFIX) {
                found.insert(id.to_string());
            }
        }
    }
    Ok(found)
}

/// Writes the marker of a record whose events are all published (`first`: the first of them). A marker that exists already (a concurrent
/// delivery) is fine; a failure is logged: the event is published, only a later redelivery of
/// the same record could publish it again.
async fn mark(store: &dyn Store, record_id: &str, first: &Event) {
    let write = Write::Put {
        item: marker(record_id, first),
        condition: Condition::NotExists,
    };
    match store.transact(vec![write]).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
        Err(e) => tracing::warn!(record = record_id, error = %e, "publication marker not written"),
    }
}

/// Publishes the events of a batch of stream records, in order, at most once per record.
/// Never fails as a whole: what must be retried is in [`Report::failed`].
pub async fn deliver(
    store: &dyn Store,
    publisher: &dyn Publisher,
    records: &[Record],
    retry: Retry,
) -> Report {
    let mut report = Report::default();
    // (position in the batch, event), in batch order.
    let mut candidates: Vec<(usize, Event)> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match events_of(record) {
            Ok(events) => candidates.extend(events.into_iter().map(|e| (i, e))),
            Err(Skip::NotAnOutboxInsert) => report.ignored += 1,
            Err(e @ Skip::Unreadable(_)) => {
                tracing::error!(record = record.id, error = %e, "outbox item not published");
                report.dropped += 1;
            }
        }
    }
    let mut ids: Vec<&str> = candidates
        .iter()
        .map(|(i, _)| records[*i].id.as_str())
        .collect();
    ids.dedup();
    let published = match already_published(store, &ids).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "publication markers not read: the batch is retried");
            report.failed = records.iter().map(|r| r.id.clone()).collect();
            return report;
        }
    };
    let (pending, events): (Vec<usize>, Vec<Event>) = candidates
        .into_iter()
        .filter(|(i, _)| !published.contains(&records[*i].id))
        .unzip();
    let mut left = vec![0usize; records.len()];
    for &position in &pending {
        left[position] += 1;
    }
    report.duplicates = ids.len() - left.iter().filter(|n| **n > 0).count();
    let mut firsts: Vec<Option<&Event>> = vec![None; records.len()];
    for call in publish::calls(&events) {
        let outcomes = publish::put_with_retries(publisher, &events[call.clone()], retry).await;
        let mut first_failure = None;
        for (n, outcome) in outcomes.into_iter().enumerate() {
            let (position, event) = (pending[call.start + n], &events[call.start + n]);
            let record = &records[position].id;
            let done = match outcome {
                Ok(()) => {
                    report.published += 1;
                    true
                }
                Err(e @ PublishError::TooLarge(_)) => {
                    tracing::error!(record, event = event.id, error = %e, "event not published");
                    report.dropped += 1;
                    true
                }
                Err(e) => {
                    tracing::warn!(record, event = event.id, error = %e, "event not published yet");
                    first_failure.get_or_insert(position);
                    false
                }
            };
            if done {
                let first = *firsts[position].get_or_insert(event);
                left[position] -= 1;
                // A record is marked once all its events are out; one that failed half-way is
                // delivered again whole (at least once: its events keep their ids).
                if left[position] == 0 {
                    mark(store, record, first).await;
                }
            }
        }
        if let Some(position) = first_failure {
            report.failed = records[position..].iter().map(|r| r.id.clone()).collect();
            break;
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &str, pk: &str, sk: &str, body: Option<&str>) -> Record {
        Record {
            id: "r".into(),
            action: Action::parse(action),
            key: Key::new(pk, sk),
            body: body.map(str::to_string),
        }
    }

    #[test]
    fn only_inserted_outbox_items_carry_events() {
        let event = r#"{"id":"e","type":"joiner","tenant":"acme","time":"t","actor":"idp:auto","resource":{"type":"User","id":"u","version":1}}"#;
        let pk = "T#acme#EVT#2026-01-01";
        let sk = "EVT#2026-01-01T10:00:00.000Z#r#00000";
        assert_eq!(
            events_of(&record("INSERT", pk, sk, Some(event)))
                .map(|e| e.into_iter().map(|e| e.id).collect::<Vec<_>>()),
            Ok(vec!["e".to_string()])
        );
        for skipped in [
            record("REMOVE", pk, sk, None),
            record("MODIFY", pk, sk, Some(event)),
            record("INSERT", "T#acme#U#u", "#", Some("{}")),
            record(
                "INSERT",
                pk,
                "EVD#2026-01-01T10:00:00.000Z#r#00000",
                Some(event),
            ),
            record("INSERT", "PUBLISHED#x", "#", Some("{}")),
        ] {
            assert_eq!(
                events_of(&skipped),
                Err(Skip::NotAnOutboxInsert),
                "{skipped:?}"
            );
        }
        assert!(matches!(
            events_of(&record("INSERT", pk, sk, Some("{"))),
            Err(Skip::Unreadable(_))
        ));
    }
}
