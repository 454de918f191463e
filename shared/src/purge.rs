//! Tenant deletion: every item keyed by a tenant is removed, kind by kind as
//! [`keys::TenantItem`] lists them and in the order of their [`Reach`]: the tenant is marked as
//! being deleted, its tokens are revoked, its groups and users are deleted as `DELETE` deletes
//! them (markers, memberships and counters with them), then its counters, listing checkpoints,
//! audit log and outbox partitions, role rules and webhook, and the tenant item last. Every store
//! call is bounded (pages and transactions of at most 100 items), progress is reported after
//! each, and an interrupted deletion is finished by running it again: the tenant item, marked,
//! stays until everything else is gone, and its id cannot be taken meanwhile.

use time::Duration;

use crate::ops::{self, Ctx, Limits};
use crate::protocol::clock;
use crate::protocol::error::ScimError;
use crate::protocol::http::{Method, ScimRequest};
use crate::protocol::schema::{ResourceKind, ResourceType};
use crate::store::keys::{self, Reach, TenantItem};
use crate::store::{
    Condition, Index, Key, MAX_TRANSACTION_WRITES, Query, Store, StoreError, Write,
};
use crate::tenant::{self, TenantError};

/// Where a deletion is: the reach it works on and how many items of it are deleted so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub reach: Reach,
    pub deleted: u64,
}

/// Deletes tenant `id` and every item keyed by it; returns what each reach deleted, in order.
/// `progress` hears after every batch. A tenant whose creation time is unreadable is refused
/// before anything is deleted: its day-keyed partitions could not be bounded.
///
/// Tokens are revoked first, but an authorization already cached by a server (its
/// `--auth-cache-ttl`) or by API Gateway (`AuthorizerCacheTtl`) stays valid until it expires:
/// a request it lets through while the deletion runs may write after the deletion passed that
/// kind of item. Stop the tenant's provisioning first, or revoke its tokens and wait out the TTL
/// before deleting (docs/security.md, "Tenant deletion").
pub async fn delete_tenant(
    store: &dyn Store,
    id: &str,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Vec<Progress>, TenantError> {
    let stored = tenant::get_tenant(store, id)
        .await?
        .ok_or_else(|| TenantError::NotFound(id.to_string()))?;
    let created = clock::parse_datetime(&stored.created)
        .ok_or_else(|| TenantError::UnknownCreation(id.to_string()))?;
    tenant::mark_deleting(store, id).await?;

    let mut reaches: Vec<Reach> = Vec::new();
    for kind in TenantItem::ALL {
        let reach = kind.reach(id);
        if !reaches.contains(&reach) {
            reaches.push(reach);
        }
    }
    reaches.sort_by_key(Reach::rank);

    let mut done = Vec::with_capacity(reaches.len());
    for reach in reaches {
        let mut deleted = 0;
        let mut report = |n: u64| {
            deleted += n;
            progress(&Progress {
                reach: reach.clone(),
                deleted,
            });
        };
        report(0);
        delete_reach(store, id, created, &reach, &mut report).await?;
        done.push(Progress { reach, deleted });
    }
    Ok(done)
}

/// Deletes the items of one reach of tenant `id`, created at `created`.
async fn delete_reach(
    store: &dyn Store,
    id: &str,
    created: clock::Time,
    reach: &Reach,
    report: &mut (dyn FnMut(u64) + Send),
) -> Result<(), TenantError> {
    match reach {
        Reach::Tokens => delete_tokens(store, id, report).await,
        Reach::Resources(kind) => delete_resources(store, id, *kind, report).await,
        Reach::Partition(pk) | Reach::Credentials(pk) => delete_partition(store, pk, report).await,
        Reach::Daily(prefix) => {
            // A day either side of the tenant's life, for clocks that disagree.
            let mut day = (created - Duration::DAY).date();
            let last = (clock::now() + Duration::DAY).date();
            while day <= last {
                let pk = format!("{prefix}{}", clock::day(day.midnight().assume_utc()));
                delete_partition(store, &pk, report).await?;
                day = match day.next_day() {
                    Some(next) => next,
                    None => break,
                };
            }
            Ok(())
        }
        Reach::Item(key) => {
            let delete = Write::Delete {
                key: key.clone(),
                condition: Condition::Exists,
            };
            match store.transact(vec![delete]).await {
                Ok(()) => report(1),
                Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            Ok(())
        }
        Reach::Tenant => {
            let delete = Write::Delete {
                key: keys::tenant(id),
                condition: Condition::None,
            };
            store.transact(vec![delete]).await?;
            report(1);
            Ok(())
        }
    }
}

async fn delete_tokens(
    store: &dyn Store,
    id: &str,
    report: &mut (dyn FnMut(u64) + Send),
) -> Result<(), TenantError> {
    for token in tenant::list_tokens(store, id).await? {
        match tenant::revoke_token(store, id, &token.id).await {
            Ok(()) | Err(TenantError::TokenNotFound(_)) => report(1),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Deletes every resource of a kind as `DELETE` does, a page at a time, the resources of a page
/// concurrently (as many as the store takes at once, at most 100).
async fn delete_resources(
    store: &dyn Store,
    id: &str,
    kind: ResourceKind,
    report: &mut (dyn FnMut(u64) + Send),
) -> Result<(), TenantError> {
    let limits = Limits::default();
    let ctx = Ctx::new(id, store, &limits);
    let page_size = store.concurrent_writes().clamp(1, MAX_TRANSACTION_WRITES);
    let mut q = Query::new(Index::Gsi1, keys::listing(id, kind), "", page_size);
    loop {
        let page = store.query(&q).await?;
        // The index's sort key is the resource id.
        let deletes = page
            .items
            .iter()
            .filter_map(|item| item.gsi1.as_ref())
            .map(|listed| delete_resource(&ctx, kind, &listed.sk))
            .collect();
        let mut deleted = 0;
        for outcome in ops::bulk::join_all(deletes).await {
            match outcome {
                // Gone already: deleted concurrently, or listed by a lagging index.
                Ok(()) | Err(ScimError::NotFound(_)) => deleted += 1,
                Err(e) => return Err(TenantError::Resources(e)),
            }
        }
        // The externalId markers of a store written when externalId was unique: a DELETE
        // leaves them (another resource may share the value since), the tenant's deletion not.
        let markers: Vec<Write> = page
            .items
            .iter()
            .filter_map(|item| {
                let doc: serde_json::Value = serde_json::from_str(&item.body).ok()?;
                let value = doc.get("externalId")?.as_str()?;
                let key = Key::new(keys::external_id_pk(id, kind, value), keys::ITEM);
                let condition = Condition::None;
                Some(Write::Delete { key, condition })
            })
            .collect();
        for chunk in markers.chunks(MAX_TRANSACTION_WRITES) {
            store.transact(chunk.to_vec()).await?;
        }
        report(deleted);
        match page.next {
            Some(next) => q.start_after = Some(next),
            None => return Ok(()),
        }
    }
}

async fn delete_resource(ctx: &Ctx<'_>, kind: ResourceKind, id: &str) -> Result<(), ScimError> {
    let path = format!("{}/{id}", ResourceType::of(kind).endpoint);
    let req = ScimRequest::new(Method::Delete, path, "");
    ops::delete(ctx, kind, id, &req).await.map(|_| ())
}

/// Deletes every item of a partition, a page of at most 100 per transaction.
async fn delete_partition(
    store: &dyn Store,
    pk: &str,
    report: &mut (dyn FnMut(u64) + Send),
) -> Result<(), TenantError> {
    let mut q = Query::new(Index::Primary, pk, "", MAX_TRANSACTION_WRITES);
    loop {
        let page = store.query(&q).await?;
        if !page.items.is_empty() {
            let deletes: Vec<Write> = page
                .items
                .iter()
                .map(|item| Write::Delete {
                    key: item.key.clone(),
                    condition: Condition::None,
                })
                .collect();
            let n = deletes.len() as u64;
            store.transact(deletes).await?;
            report(n);
        }
        match page.next {
            Some(next) => q.start_after = Some(next),
            None => return Ok(()),
        }
    }
}
