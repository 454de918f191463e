//! The local event outbox: lifecycle events stored as items under `T#{t}#EVT#{day}` /
//! `{time}#{request id}#{n}` (expired by TTL), read by `scimctl events tail`, and handed to an
//! optional [`EventSink`] (the signed webhook of `scimctl serve`). On AWS the table's stream
//! feeds the events Lambda instead and no outbox item is written.

use time::OffsetDateTime;

use crate::audit;
use crate::clock;
use crate::keys;
use crate::lifecycle::Event;
use crate::store::{Condition, Item, Key, MAX_TRANSACTION_WRITES, Store, StoreError, Write};

/// How long outbox items are kept (they are a delivery buffer, not the record: that is the
/// audit log).
pub const RETENTION_DAYS: i64 = 7;

/// Receives the events of each request after they are stored. Implementations must not block:
/// the SCIM response waits for `publish` to return.
pub trait EventSink: Send + Sync + std::fmt::Debug {
    fn publish(&self, tenant: &str, events: Vec<Event>);
}

/// The outbox items of one request's events, in event order.
pub fn items(tenant: &str, request_id: &str, at: OffsetDateTime, events: &[Event]) -> Vec<Item> {
    let pk = keys::outbox(tenant, &clock::day(at));
    let time = clock::format_sortable(at);
    let expires = at.unix_timestamp() + RETENTION_DAYS * 86_400;
    events
        .iter()
        .enumerate()
        .map(|(n, e)| Item {
            key: Key::new(pk.clone(), format!("{time}#{request_id}#{n:05}")),
            body: serde_json::to_string(e).unwrap_or_default(),
            expires_at: Some(expires),
            ..Item::default()
        })
        .collect()
}

/// Stores one request's events: transactions of up to 100 puts.
pub async fn write(
    store: &dyn Store,
    tenant: &str,
    request_id: &str,
    at: OffsetDateTime,
    events: &[Event],
) -> Result<(), StoreError> {
    let writes: Vec<Write> = items(tenant, request_id, at, events)
        .into_iter()
        .map(|item| Write::Put {
            item,
            condition: Condition::None,
        })
        .collect();
    for chunk in writes.chunks(MAX_TRANSACTION_WRITES) {
        store.transact(chunk.to_vec()).await?;
    }
    Ok(())
}

/// A stored event with its position, for tailing.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The item's sort key: events after it come later.
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
    let items = audit::read_days(store, since, until, |day| keys::outbox(tenant, day)).await?;
    Ok(items
        .into_iter()
        .filter_map(|i| {
            let event = serde_json::from_str(&i.body).ok()?;
            Some(Stored {
                position: format!("{}|{}", i.key.pk, i.key.sk),
                event,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{Change, Origin, diff};
    use crate::schema::ResourceKind;
    use crate::store::EmbeddedStore;

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
        write(&store, "acme", "r1", at, &events)
            .await
            .expect("write");
        let read = read(&store, "acme", at, at).await.expect("read");
        let back: Vec<Event> = read.into_iter().map(|s| s.event).collect();
        assert_eq!(back, events);
        let item = &items("acme", "r1", at, &events)[0];
        assert_eq!(
            item.expires_at,
            Some(at.unix_timestamp() + RETENTION_DAYS * 86_400)
        );
    }
}
