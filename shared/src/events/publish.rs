//! Publishing lifecycle events to an event bus (EventBridge on AWS) behind the [`Publisher`]
//! trait: calls of at most [`MAX_ENTRIES`] events and [`MAX_CALL_BYTES`], as PutEvents takes
//! them, and retries of the entries a call did not accept. The events function (`stream`) and
//! Emergency Logout on AWS publish through it; tests use an in-memory publisher.
//!
//! What is published for an event: source [`SOURCE`], detail-type the event's `type`
//! ([`crate::events::lifecycle::EventKind::as_str`]), detail the event's JSON (the body a local webhook
//! receives), time the event's `time`.

use std::fmt::Debug;
use std::ops::Range;

use async_trait::async_trait;

use super::Retry;
use crate::events::lifecycle::Event;

/// The `source` of every published event.
pub const SOURCE: &str = "scim.lifecycle";
/// Most entries one PutEvents call takes.
pub const MAX_ENTRIES: usize = 10;
/// Most bytes of entries one PutEvents call takes (EventBridge's 256 KB limit).
pub const MAX_CALL_BYTES: usize = 256 * 1024;
/// What EventBridge counts for an entry's `Time` when it sizes a call.
const TIME_BYTES: usize = 14;

/// Why an event was not published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The call failed as a whole (network, throttling after the SDK's retries, permissions).
    #[error("the publish call failed: {0}")]
    Call(String),
    /// The bus did not accept this entry (its error code and message).
    #[error("the entry was not accepted: {0}")]
    Entry(String),
    /// The event alone is larger than a call may be.
    #[error("the event is {0} bytes, over the bus's limit of {MAX_CALL_BYTES} bytes per call")]
    TooLarge(usize),
}

/// Where events are published. One call takes at most [`MAX_ENTRIES`] events of at most
/// [`MAX_CALL_BYTES`] in all ([`calls`] splits a batch so).
#[async_trait]
pub trait Publisher: Send + Sync + Debug {
    /// Publishes `events` in one call, in order. `Ok` holds one outcome per event, in order
    /// (an entry the bus did not accept is an `Err` with its reason); `Err` is a failed call,
    /// which published none of them.
    async fn put(&self, events: &[Event]) -> Result<Vec<Result<(), String>>, PublishError>;
}

/// The detail of an event: its JSON, as a webhook receives it.
pub fn detail(event: &Event) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// The size EventBridge counts for an event's entry: source, detail-type, detail and time.
pub fn entry_size(event: &Event) -> usize {
    SOURCE.len() + event.kind.as_str().len() + detail(event).len() + TIME_BYTES
}

/// Splits a sequence of events into consecutive calls of at most [`MAX_ENTRIES`] events and
/// [`MAX_CALL_BYTES`]. An event over the limit by itself gets a call of its own (and fails).
pub fn calls(events: &[Event]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, e) in events.iter().enumerate() {
        let size = entry_size(e);
        if i > start && (i - start == MAX_ENTRIES || bytes + size > MAX_CALL_BYTES) {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < events.len() {
        out.push(start..events.len());
    }
    out
}

/// Publishes the events of one call ([`calls`]), sending the entries that were not accepted
/// (or all, after a failed call) again until they are or `retry.attempts` are spent. Returns
/// one outcome per event, in order.
pub async fn put_with_retries(
    publisher: &dyn Publisher,
    events: &[Event],
    retry: Retry,
) -> Vec<Result<(), PublishError>> {
    let mut outcome: Vec<Result<(), PublishError>> = events
        .iter()
        .map(|e| match entry_size(e) {
            size if size > MAX_CALL_BYTES => Err(PublishError::TooLarge(size)),
            _ => Err(PublishError::Call("not sent".into())),
        })
        .collect();
    for attempt in 1..=retry.attempts.max(1) {
        let pending: Vec<usize> = (0..events.len())
            .filter(|&i| {
                matches!(
                    outcome[i],
                    Err(PublishError::Call(_) | PublishError::Entry(_))
                )
            })
            .collect();
        if pending.is_empty() {
            break;
        }
        if attempt > 1 {
            tokio::time::sleep(retry.delay(attempt - 1)).await;
        }
        let batch: Vec<Event> = pending.iter().map(|&i| events[i].clone()).collect();
        match publisher.put(&batch).await {
            Ok(results) => {
                for (n, &i) in pending.iter().enumerate() {
                    outcome[i] = match results.get(n) {
                        Some(Ok(())) => Ok(()),
                        Some(Err(reason)) => Err(PublishError::Entry(reason.clone())),
                        None => Err(PublishError::Entry("no outcome for the entry".into())),
                    };
                }
            }
            Err(e) => {
                for &i in &pending {
                    outcome[i] = Err(e.clone());
                }
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::lifecycle::{EventKind, Subject};
    use std::sync::Mutex;
    use std::time::Duration;

    fn event(n: usize, members: usize) -> Event {
        Event {
            id: format!("e{n}"),
            kind: EventKind::GroupMembersAdded,
            tenant: "acme".into(),
            time: "2026-01-01T10:00:00.000Z".into(),
            actor: "idp:auto".into(),
            resource: Subject {
                resource_type: "Group".into(),
                id: "g".into(),
                version: 1,
            },
            changes: Vec::new(),
            members: (0..members).map(|m| format!("{m:036}")).collect(),
            reason: None,
            emergency: false,
        }
    }

    #[test]
    fn calls_hold_at_most_ten_events_and_256_kb() {
        let small: Vec<Event> = (0..23).map(|n| event(n, 1)).collect();
        assert_eq!(calls(&small), [0..10, 10..20, 20..23]);
        // About 40 KB each: six fit in a call, not seven.
        let large: Vec<Event> = (0..8).map(|n| event(n, 1000)).collect();
        let size = entry_size(&large[0]);
        assert!(
            size * 6 <= MAX_CALL_BYTES && size * 7 > MAX_CALL_BYTES,
            "{size}"
        );
        assert_eq!(calls(&large), [0..6, 6..8]);
        let huge = vec![event(0, 1), event(1, 8000), event(2, 1)];
        assert_eq!(calls(&huge), [0..1, 1..2, 2..3]);
        assert!(calls(&[]).is_empty());
    }

    /// Refuses the entries of the given ids a number of times, then accepts them.
    #[derive(Debug, Default)]
    struct Flaky {
        refuse: Mutex<Vec<(String, u32)>>,
        sent: Mutex<Vec<Vec<String>>>,
    }

    #[async_trait]
    impl Publisher for Flaky {
        async fn put(&self, events: &[Event]) -> Result<Vec<Result<(), String>>, PublishError> {
            let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
            self.sent.lock().expect("lock").push(ids);
            let mut refuse = self.refuse.lock().expect("lock");
            Ok(events
                .iter()
                .map(
                    |e| match refuse.iter_mut().find(|(id, n)| *id == e.id && *n > 0) {
                        Some((_, n)) => {
                            *n -= 1;
                            Err("ThrottlingException: rate exceeded".into())
                        }
                        None => Ok(()),
                    },
                )
                .collect())
        }
    }

    const NOW: Retry = Retry {
        attempts: 3,
        first_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    #[tokio::test]
    async fn only_refused_entries_are_sent_again_until_the_attempts_are_spent() {
        let events: Vec<Event> = (0..4).map(|n| event(n, 1)).collect();
        let p = Flaky::default();
        *p.refuse.lock().expect("lock") = vec![("e1".into(), 1), ("e3".into(), 5)];
        let out = put_with_retries(&p, &events, NOW).await;
        assert_eq!(out[..3], [Ok(()), Ok(()), Ok(())]);
        assert!(
            matches!(out[3], Err(PublishError::Entry(_))),
            "{:?}",
            out[3]
        );
        assert_eq!(
            *p.sent.lock().expect("lock"),
            [vec!["e0", "e1", "e2", "e3"], vec!["e1", "e3"], vec!["e3"]]
        );
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let r = Retry {
            attempts: 5,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        let delays: Vec<u128> = (1..5).map(|a| r.delay(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 300, 300]);
    }
}
