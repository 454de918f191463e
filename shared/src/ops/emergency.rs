//! Emergency Logout: an operator's one-step offboarding of a user. The user is deactivated and
//! removed from every group (so no access derived from a group survives) in one transaction when
//! it belongs to at most 98 groups; with more, the group memberships go first in chunks of 100
//! and the deactivation last, so a failure leaves the user active and the request can be rerun.
//! The emergency leaver is stored with the deactivation, in the same transaction.

use serde_json::Value;

use super::announce;
use super::resources::load_with_edges;
use super::stored::Stored;
use super::{Attempts, Ctx};
use crate::events::lifecycle::{self, Change, Event};
use crate::protocol::clock;
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::schema::ResourceKind;
use crate::store::keys;
use crate::store::{Condition, MAX_TRANSACTION_WRITES, StoreError, Write};

/// What an Emergency Logout changed: the user (active → false) and the groups it left.
#[derive(Debug, Clone)]
pub struct Logout {
    pub user: Change,
    /// Ids of the groups the user was removed from.
    pub groups: Vec<String>,
    /// The emergency leaver, stored with the change (none without an announcer).
    pub events: Vec<Event>,
}

/// Deactivates a user and removes its group memberships. 404 when the user does not exist.
pub async fn emergency_logout(ctx: &Ctx<'_>, id: &str) -> ScimResult<Logout> {
    let mut attempts = Attempts::new(ctx.limits);
    while attempts.next().await {
        let (old, edges) = load_with_edges(ctx, ResourceKind::User, id).await?;
        let groups: Vec<String> = edges
            .iter()
            .filter_map(|e| keys::edge_group(&e.key).map(str::to_string))
            .collect();
        let mut doc = old.doc.clone();
        if let Some(o) = doc.as_object_mut() {
            o.insert("active".into(), Value::Bool(false));
            if let Some(meta) = o.get_mut("meta").and_then(Value::as_object_mut) {
                meta.insert(
                    "lastModified".into(),
                    Value::from(clock::format(clock::now())),
                );
            }
        }
        lifecycle::remember_activity(&mut doc, lifecycle::has_been_active(&old.doc));
        let new = Stored {
            version: old.version + 1,
            doc,
            ..old.clone()
        };
        let mut deletes: Vec<Write> = edges
            .into_iter()
            .map(|e| Write::Delete {
                key: e.key,
                condition: Condition::None,
            })
            .collect();
        // Room for the user and its event's outbox item beside the edge deletes (with that few
        // groups, the event is far below an outbox item's size).
        let inline = if deletes.len() + 2 <= MAX_TRANSACTION_WRITES {
            std::mem::take(&mut deletes)
        } else {
            Vec::new()
        };
        for chunk in deletes.chunks(MAX_TRANSACTION_WRITES) {
            ctx.store.transact(chunk.to_vec()).await?;
        }
        let user = Change {
            kind: ResourceKind::User,
            id: id.to_string(),
            version: new.version,
            old: Some(old.doc),
            new: Some(new.doc.clone()),
            members_added: Vec::new(),
            members_removed: Vec::new(),
        };
        let announced = announce::emergency(ctx, &user, &groups).await?;
        let mut writes = vec![Write::Put {
            item: new.to_item(ctx.tenant),
            condition: Condition::VersionIs(old.version),
        }];
        writes.extend(announced.writes);
        writes.extend(inline);
        match ctx.store.transact(writes).await {
            Ok(()) => {
                let events = announced.events;
                return Ok(Logout {
                    user,
                    groups,
                    events,
                });
            }
            // The user changed between read and write: read again.
            Err(StoreError::ConditionFailed { index: 0 } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ScimError::Unavailable(
        "the user is being changed concurrently; retry".into(),
    ))
}
