//! The event outbox: each provisioning request's lifecycle events stored as one item (a JSON
//! array, in event order; more items only past [`MAX_ITEM_BYTES`]) under `T#{t}#EVT#{day}` /
//! `EVT#{time}#{request id}#{n}` (expired by TTL) and read by `scimctl events tail`. The item is
//! written in the transaction of the change it announces (`ops::announce`): a stored change
//! always has its events, whenever the process dies. One item per request rather than per
//! event: one more write of the transaction, billed by size. Locally they are also handed to an optional [`EventSink`] (the signed webhook
//! of `scimctl serve`); on AWS the table's stream carries the inserted items to the events
//! function, which publishes them to EventBridge (`stream`). Events their entry point delivers
//! synchronously (Emergency Logout) are stored under `EVD#` instead, which the stream's filter
//! leaves out.

use time::OffsetDateTime;

use crate::events::lifecycle::Event;
use crate::protocol::clock;
use crate::store::keys::{self, DELIVERED_SK_PREFIX, OUTBOX_SK_PREFIX};
use crate::store::{Condition, Item, Key, Store, StoreError, Write};

/// How long outbox items are kept (they are a delivery buffer, not the record: that is the
/// audit log).
pub const RETENTION_DAYS: i64 = 7;

/// Largest body of one outbox item: well under DynamoDB's 400 KB item limit.
pub const MAX_ITEM_BYTES: usize = 256 * 1024;

/// Receives the events of each request after they are stored. Implementations must not block:
/// the SCIM response waits for `publish` to return.
pub trait EventSink: Send + Sync + std::fmt::Debug {
    fn publish(&self, tenant: &str, events: Vec<Event>);
}

/// Who delivers a batch of stored events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The outbox: the local sink, or on AWS the stream and the events function.
    Outbox,
    /// The entry point, before it answers (Emergency Logout): stored for the record only.
    Synchronous,
}

impl Delivery {
    fn sk_prefix(self) -> &'static str {
        match self {
            Delivery::Outbox => OUTBOX_SK_PREFIX,
            Delivery::Synchronous => DELIVERED_SK_PREFIX,
        }
    }
}

/// The writes of the outbox items of one request's events, in event order: one item unless the
/// events exceed [`MAX_ITEM_BYTES`] together.
pub fn writes(
    tenant: &str,
    request_id: &str,
    at: OffsetDateTime,
    events: &[Event],
    delivery: Delivery,
) -> Vec<Write> {
    let pk = keys::outbox(tenant, &clock::day(at));
    let time = clock::format_sortable(at);
    let prefix = delivery.sk_prefix();
    let expires = at.unix_timestamp() + RETENTION_DAYS * 86_400;
    let mut bodies: Vec<Vec<String>> = Vec::new();
    let mut size = 0;
    for e in events {
        let json = serde_json::to_string(e).unwrap_or_default();
        match bodies.last_mut() {
            Some(body) if size + json.len() < MAX_ITEM_BYTES => {
                size += json.len() + 1;
                body.push(json);
            }
            _ => {
                size = json.len() + 2;
                bodies.push(vec![json]);
            }
        }
    }
    bodies
        .into_iter()
        .enumerate()
        .map(|(n, body)| Write::Put {
            item: Item {
                key: Key::new(pk.clone(), format!("{prefix}{time}#{request_id}#{n:05}")),
                body: format!("[{}]", body.join(",")),
                expires_at: Some(expires),
                ..Item::default()
            },
            condition: Condition::None,
        })
        .collect()
}

/// The events of an outbox item's body: an array of events (or, as written before items held
/// arrays, one event).
pub fn events_of(body: &str) -> Result<Vec<Event>, serde_json::Error> {
    if body.trim_start().starts_with('[') {
        serde_json::from_str(body)
    } else {
        serde_json::from_str(body).map(|e| vec![e])
    }
}

/// The part of an outbox sort key after its delivery prefix (`{time}#{request id}#{n}`), or
/// `None` for a sort key of something else.
pub fn sort_time(sk: &str) -> Option<&str> {
    sk.strip_prefix(OUTBOX_SK_PREFIX)
        .or_else(|| sk.strip_prefix(DELIVERED_SK_PREFIX))
}

/// A stored event with its position, for tailing.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The item's partition and time and the event's place in it
    /// (`{pk}|{time}#{request id}#{n}/{i}`): events after it come later.
    pub position: String,
    pub event: Event,
}

/// A tenant's events between `since` and `until`, oldest first.
pub async fn read(
    store: &dyn Store,
    tenant: &str,
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Vec<Stored>, StoreError> {
    let items = crate::store::read_days(
        store,
        since,
        until,
        |day| keys::outbox(tenant, day),
        sort_time,
    )
    .await?;
    let mut stored: Vec<Stored> = items
        .into_iter()
        .filter_map(|i| {
            let events = events_of(&i.body).ok()?;
            let at = format!("{}|{}", i.key.pk, sort_time(&i.key.sk)?);
            Some(
                events
                    .into_iter()
                    .enumerate()
                    .map(move |(n, event)| Stored {
                        position: format!("{at}/{n:05}"),
                        event,
                    }),
            )
        })
        .flatten()
        .collect();
    // Both delivery prefixes share a partition: order by time, whatever the prefix.
    stored.sort_by(|a, b| a.position.cmp(&b.position));
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::lifecycle::{Change, Origin, diff};
    use crate::protocol::schema::ResourceKind;
    use crate::store::EmbeddedStore;

    /// Stores events as an operation's transaction does.
    async fn write(
        store: &dyn Store,
        tenant: &str,
        request_id: &str,
        at: OffsetDateTime,
        events: &[Event],
        delivery: Delivery,
    ) -> Result<(), StoreError> {
        store
            .transact(writes(tenant, request_id, at, events, delivery))
            .await
    }

    /// The item of the first outbox write.
    fn first_item(writes: Vec<Write>) -> Item {
        match writes.into_iter().next() {
            Some(Write::Put { item, .. }) => item,
            other => panic!("an outbox write is a put: {other:?}"),
        }
    }

    #[tokio::test]
    async fn events_are_stored_in_order_and_read_back() {
        let store = EmbeddedStore::in_memory().expect("store");
        let at = clock::parse_datetime("2026-01-01T10:00:00Z").expect("t");
        let origin = Origin {
            tenant: "acme",
            actor: "idp:auto",
            time: "2026-01-01T10:00:00.000Z",
        };
        let change = Change {
            kind: ResourceKind::Group,
            id: "g".into(),
            version: 1,
            old: None,
            new: Some(serde_json::json!({"displayName": "Eng"})),
            members_added: vec![("u".into(), ResourceKind::User)],
            members_removed: Vec::new(),
        };
        let events = diff(origin, &change);
        write(&store, "acme", "r1", at, &events, Delivery::Outbox)
            .await
            .expect("write");
        let read = read(&store, "acme", at, at).await.expect("read");
        let back: Vec<Event> = read.into_iter().map(|s| s.event).collect();
        assert_eq!(back, events);
        let item = first_item(writes("acme", "r1", at, &events, Delivery::Outbox));
        assert_eq!(
            item.expires_at,
            Some(at.unix_timestamp() + RETENTION_DAYS * 86_400)
        );
        assert!(item.key.sk.starts_with(OUTBOX_SK_PREFIX), "{:?}", item.key);
    }

    #[tokio::test]
    async fn synchronously_delivered_events_are_read_back_in_time_order_with_the_others() {
        let store = EmbeddedStore::in_memory().expect("store");
        let first = clock::parse_datetime("2026-01-01T10:00:00Z").expect("t");
        let later = clock::parse_datetime("2026-01-01T10:00:01Z").expect("t");
        let origin = Origin {
            tenant: "acme",
            actor: "operator",
            time: "2026-01-01T10:00:00.000Z",
        };
        let change = |id: &str| Change {
            kind: ResourceKind::Group,
            id: id.into(),
            version: 1,
            old: None,
            new: Some(serde_json::json!({"displayName": id})),
            members_added: Vec::new(),
            members_removed: Vec::new(),
        };
        let a = diff(origin, &change("a"));
        let b = diff(origin, &change("b"));
        write(&store, "acme", "r2", later, &b, Delivery::Outbox)
            .await
            .expect("write");
        write(&store, "acme", "r1", first, &a, Delivery::Synchronous)
            .await
            .expect("write");
        let read = read(&store, "acme", first, later).await.expect("read");
        let ids: Vec<&str> = read.iter().map(|s| s.event.resource.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        let delivered = first_item(writes("acme", "r1", first, &a, Delivery::Synchronous));
        assert!(delivered.key.sk.starts_with(DELIVERED_SK_PREFIX));
        let routine = first_item(writes("acme", "r1", first, &a, Delivery::Outbox));
        assert_eq!(sort_time(&delivered.key.sk), sort_time(&routine.key.sk));
    }
}
