//! Group membership as edge items (one per member; docs/table-design.md): adding or removing k
//! members costs O(k) store operations whatever the group size.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::Ctx;
use super::stored::reference;
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::filter::{CompareOp, Filter, parse_patch_path};
use crate::protocol::patch::{OpKind, PatchOp};
use crate::protocol::schema::{GROUP, ResourceKind, strip_prefix_ignore_case};
use crate::store::keys;
use crate::store::{
    Condition, Index, Item, Key, MAX_BATCH_GET, MAX_TRANSACTION_WRITES, Query, Write,
};

/// Page size for reading a group's edges.
const EDGE_PAGE: usize = 1000;

/// A member named in a request: its id and the `display` the client sent with it, which is kept
/// on the membership edge and returned with the member (no extra read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub display: Option<String>,
}

/// One change to a group's member set, in request order.
#[derive(Debug, Clone)]
pub enum MemberChange {
    Add(Vec<Member>),
    Remove(Vec<String>),
    RemoveWhere(Filter),
    RemoveAll,
}

/// Splits PATCH operations into those on the group document and those on `members`.
pub fn split_ops(ops: Vec<PatchOp>) -> ScimResult<(Vec<PatchOp>, Vec<MemberChange>)> {
    let mut doc_ops = Vec::new();
    let mut changes = Vec::new();
    for op in ops {
        match &op.path {
            Some(path) if targets_members(path) => changes.extend(member_changes(&op, path)?),
            Some(_) => doc_ops.push(op),
            None => {
                let mut op = op;
                if let Some(Value::Object(obj)) = &mut op.value {
                    let key = obj
                        .keys()
                        .find(|k| k.eq_ignore_ascii_case("members"))
                        .cloned();
                    if let Some(v) = key.and_then(|k| obj.remove(&k)) {
                        let added = members_of(&v)?;
                        if op.op == OpKind::Replace {
                            changes.push(MemberChange::RemoveAll);
                        }
                        changes.push(MemberChange::Add(added));
                    }
                    if obj.is_empty() {
                        continue;
                    }
                }
                doc_ops.push(op);
            }
        }
    }
    Ok((doc_ops, changes))
}

fn targets_members(path: &str) -> bool {
    strip_prefix_ignore_case(path.trim(), "members")
        .is_some_and(|rest| matches!(rest.chars().next(), None | Some('[' | '.')))
}

fn member_changes(op: &PatchOp, path: &str) -> ScimResult<Vec<MemberChange>> {
    let parsed = parse_patch_path(path)?;
    if parsed.attr.sub.is_some() || parsed.sub.is_some() {
        return Err(ScimError::Mutability(
            "member sub-attributes are immutable; add or remove the member instead".into(),
        ));
    }
    let value = || {
        op.value
            .as_ref()
            .ok_or_else(|| ScimError::InvalidValue(format!("'{}' requires a value", path)))
    };
    Ok(match (op.op, parsed.filter) {
        (OpKind::Add, None) => vec![MemberChange::Add(members_of(value()?)?)],
        (OpKind::Replace, None) => vec![
            MemberChange::RemoveAll,
            MemberChange::Add(members_of(value()?)?),
        ],
        (OpKind::Remove, None) => match &op.value {
            Some(v) => vec![MemberChange::Remove(member_ids(v)?)],
            None => vec![MemberChange::RemoveAll],
        },
        (OpKind::Remove, Some(f)) => vec![MemberChange::RemoveWhere(f)],
        (_, Some(f)) => vec![
            MemberChange::RemoveWhere(f),
            MemberChange::Add(members_of(value()?)?),
        ],
    })
}

/// The members of a `members` value: one `{"value": id, "display": ...}` object or an array of
/// them (`display` optional).
pub fn members_of(v: &Value) -> ScimResult<Vec<Member>> {
    let one = |m: &Value| -> ScimResult<Member> {
        let id = m
            .get("value")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ScimError::InvalidValue("each member needs a string 'value' (the member id)".into())
            })?;
        let display = match m.get("display") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) => Some(d.clone()),
            Some(_) => {
                return Err(ScimError::InvalidValue(
                    "a member's 'display' must be a string".into(),
                ));
            }
        };
        Ok(Member {
            id: id.to_string(),
            display,
        })
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Object(_) => Ok(vec![one(v)?]),
        Value::Null => Ok(Vec::new()),
        _ => Err(ScimError::InvalidValue(
            "'members' must be an array of {\"value\": id}".into(),
        )),
    }
}

/// The member ids of a `members` value.
pub fn member_ids(v: &Value) -> ScimResult<Vec<String>> {
    Ok(members_of(v)?.into_iter().map(|m| m.id).collect())
}

/// Ids named by a filter of the form `value eq "a" or value eq "b"`, answerable without reading
/// the member list.
fn ids_of_value_filter(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(id),
        } if path.schema.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = ids_of_value_filter(a)?;
            ids.extend(ids_of_value_filter(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// The edge writes that turn the current member set into the requested one: member id -> kind.
#[derive(Debug, Default)]
pub struct EdgePlan {
    pub add: BTreeMap<String, ResourceKind>,
    pub remove: BTreeMap<String, ResourceKind>,
    /// The `display` sent with added members, by id.
    pub display: BTreeMap<String, String>,
}

/// Resolves member changes into edge writes, reading the member list only when a change needs
/// it (remove all, replace, or a filter other than `value eq`).
pub async fn plan(
    ctx: &Ctx<'_>,
    group_id: &str,
    changes: Vec<MemberChange>,
) -> ScimResult<EdgePlan> {
    let mut adds: BTreeSet<String> = BTreeSet::new();
    let mut removes: BTreeSet<String> = BTreeSet::new();
    let mut display: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<BTreeMap<String, ResourceKind>> = None;
    for change in changes {
        match change {
            MemberChange::Add(members) => {
                for m in members {
                    removes.remove(&m.id);
                    match m.display {
                        Some(d) => display.insert(m.id.clone(), d),
                        None => display.remove(&m.id),
                    };
                    adds.insert(m.id);
                }
            }
            MemberChange::Remove(ids) => {
                for id in ids {
                    adds.remove(&id);
                    removes.insert(id);
                }
            }
            MemberChange::RemoveAll => {
                let cur = load_current(ctx, group_id, &mut current).await?;
                removes.extend(cur.keys().cloned());
                adds.clear();
            }
            MemberChange::RemoveWhere(filter) => {
                if let Some(ids) = ids_of_value_filter(&filter) {
                    for id in ids {
                        adds.remove(&id);
                        removes.insert(id);
                    }
                    continue;
                }
                let members_attr = GROUP
                    .attribute("members")
                    .ok_or_else(|| ScimError::Internal("schema".into()))?;
                let cur = load_current(ctx, group_id, &mut current).await?;
                let candidates: Vec<(String, &'static str)> = cur
                    .iter()
                    .filter(|(id, _)| !removes.contains(*id))
                    .map(|(id, k)| {
                        (
                            id.clone(),
                            crate::protocol::schema::ResourceType::of(*k).name,
                        )
                    })
                    .chain(adds.iter().map(|id| (id.clone(), "User")))
                    .collect();
                for (id, ty) in candidates {
                    let element = json!({"value": id, "type": ty});
                    if filter.matches_element(members_attr, &element) {
                        adds.remove(&id);
                        removes.insert(id);
                    }
                }
            }
        }
    }
    if adds.contains(group_id) {
        return Err(ScimError::InvalidValue(
            "a group cannot be a member of itself".into(),
        ));
    }
    let add = resolve_kinds(ctx, adds, Missing::Reject).await?;
    // Removals need the member's kind for the edge key: known when the member list was read,
    // looked up otherwise. An id that is neither a user nor a group has no edges to remove.
    let known = current.unwrap_or_default();
    let (known_removes, unknown): (BTreeSet<String>, BTreeSet<String>) =
        removes.into_iter().partition(|id| known.contains_key(id));
    let mut remove = resolve_kinds(ctx, unknown, Missing::Skip).await?;
    remove.extend(
        known_removes
            .into_iter()
            .filter_map(|id| known.get(&id).map(|k| (id, *k))),
    );
    display.retain(|id, _| add.contains_key(id));
    Ok(EdgePlan {
        add,
        remove,
        display,
    })
}

async fn load_current<'c>(
    ctx: &Ctx<'_>,
    group_id: &str,
    current: &'c mut Option<BTreeMap<String, ResourceKind>>,
) -> ScimResult<&'c BTreeMap<String, ResourceKind>> {
    if current.is_none() {
        let edges = read_edges(ctx, group_id).await?;
        *current = Some(edges.into_iter().map(|(kind, id)| (id, kind)).collect());
    }
    current
        .as_ref()
        .ok_or_else(|| ScimError::Internal("member list".into()))
}

/// What to do with an id that is neither a user nor a group of the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Reject,
    Skip,
}

/// Finds whether each id is a user or a group of the tenant, with batch gets of up to 100 keys.
async fn resolve_kinds(
    ctx: &Ctx<'_>,
    ids: BTreeSet<String>,
    missing: Missing,
) -> ScimResult<BTreeMap<String, ResourceKind>> {
    let mut out = BTreeMap::new();
    let mut pending: Vec<String> = ids.into_iter().collect();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let mut not_found = Vec::new();
        for chunk in pending.chunks(MAX_BATCH_GET) {
            let keys: Vec<Key> = chunk
                .iter()
                .map(|id| keys::resource(ctx.tenant, kind, id))
                .collect();
            let found: BTreeSet<String> = ctx
                .store
                .batch_get(&keys)
                .await?
                .into_iter()
                .map(|i| i.key.pk)
                .collect();
            for id in chunk {
                if found.contains(&keys::resource_pk(ctx.tenant, kind, id)) {
                    out.insert(id.clone(), kind);
                } else {
                    not_found.push(id.clone());
                }
            }
        }
        pending = not_found;
        if pending.is_empty() {
            break;
        }
    }
    match pending.first() {
        Some(id) if missing == Missing::Reject => Err(ScimError::InvalidValue(format!(
            "member '{id}' is not a user or group of this tenant"
        ))),
        _ => Ok(out),
    }
}

/// The edge writes of a plan. Each added member's edge comes right after a check that the member
/// still exists, at an even position, so that transactions of an even number of writes keep the
/// two together: an edge is never written for a member deleted since the plan read it (a DELETE
/// sweeps the edges that committed before it, [`sweep_group_edges`]). Puts and deletes are
/// idempotent, so a retried request converges.
pub fn edge_writes(tenant: &str, group_id: &str, plan: &EdgePlan) -> Vec<Write> {
    let puts = plan.add.iter().flat_map(|(id, kind)| {
        let check = Write::Check {
            key: keys::resource(tenant, *kind, id),
            condition: Condition::Exists,
        };
        let put = Write::Put {
            item: Item {
                key: keys::member_edge(tenant, *kind, id, group_id),
                gsi1: Some(keys::member_edge_gsi(tenant, group_id, id)),
                body: plan
                    .display
                    .get(id)
                    .map(|d| json!({ "display": d }).to_string())
                    .unwrap_or_default(),
                ..Item::default()
            },
            condition: Condition::None,
        };
        [check, put]
    });
    let deletes = plan
        .remove
        .iter()
        .filter(|(id, _)| !plan.add.contains_key(*id))
        .map(|(id, kind)| Write::Delete {
            key: keys::member_edge(tenant, *kind, id, group_id),
            condition: Condition::None,
        });
    puts.chain(deletes).collect()
}

/// Reads every page of a query.
pub(super) async fn query_all(ctx: &Ctx<'_>, mut q: Query) -> ScimResult<Vec<Item>> {
    let mut out = Vec::new();
    loop {
        let page = ctx.store.query(&q).await?;
        out.extend(page.items);
        match page.next {
            Some(n) => q.start_after = Some(n),
            None => return Ok(out),
        }
    }
}

/// The edge items of a group's members, from the group's partition of GSI1.
pub async fn member_edges(ctx: &Ctx<'_>, group_id: &str) -> ScimResult<Vec<Item>> {
    let pk = keys::resource_pk(ctx.tenant, ResourceKind::Group, group_id);
    query_all(
        ctx,
        Query::new(Index::Gsi1, pk, keys::MEMBER_PREFIX, EDGE_PAGE),
    )
    .await
}

/// All members of a group: (kind, member id).
pub async fn read_edges(ctx: &Ctx<'_>, group_id: &str) -> ScimResult<Vec<(ResourceKind, String)>> {
    let edges = member_edges(ctx, group_id).await?;
    Ok(edges
        .iter()
        .filter_map(|e| keys::edge_member(ctx.tenant, &e.key))
        .collect())
}

/// The `members` attribute of a group, with the `display` each member was added with.
pub async fn members_value(ctx: &Ctx<'_>, group_id: &str) -> ScimResult<Vec<Value>> {
    let edges = member_edges(ctx, group_id).await?;
    Ok(edges
        .iter()
        .filter_map(|e| {
            let (kind, id) = keys::edge_member(ctx.tenant, &e.key)?;
            let mut member = reference(ctx, kind, &id);
            if let Some(d) = edge_display(e) {
                member["display"] = Value::from(d);
            }
            Some(member)
        })
        .collect())
}

/// The `display` stored on an edge, if the member was added with one.
fn edge_display(edge: &Item) -> Option<String> {
    if edge.body.is_empty() {
        return None;
    }
    let v: Value = serde_json::from_str(&edge.body).ok()?;
    v.get("display").and_then(Value::as_str).map(str::to_string)
}

/// The edge items in a member's own partition: one per group it belongs to.
pub async fn group_edges(ctx: &Ctx<'_>, kind: ResourceKind, id: &str) -> ScimResult<Vec<Item>> {
    let pk = keys::resource_pk(ctx.tenant, kind, id);
    query_all(
        ctx,
        Query::new(Index::Primary, pk, keys::GROUP_PREFIX, EDGE_PAGE),
    )
    .await
}

/// Deletes the edges left in a deleted resource's partition: the ones a concurrent membership
/// change committed after the DELETE read them. Edges that commit later fail their member check
/// ([`edge_writes`]), so after this no membership of the resource can appear.
pub async fn sweep_group_edges(ctx: &Ctx<'_>, kind: ResourceKind, id: &str) -> ScimResult<()> {
    let deletes: Vec<Write> = group_edges(ctx, kind, id)
        .await?
        .into_iter()
        .map(|e| Write::Delete {
            key: e.key,
            condition: Condition::None,
        })
        .collect();
    for chunk in deletes.chunks(MAX_TRANSACTION_WRITES) {
        ctx.store.transact(chunk.to_vec()).await?;
    }
    Ok(())
}

/// The error of a membership change whose member was deleted while it ran (its check failed).
pub fn member_vanished() -> ScimError {
    ScimError::InvalidValue(
        "a member of the request was deleted while the request ran: it is not a user or group \
         of this tenant"
            .into(),
    )
}

/// The `groups` value of a user from its edge items: its direct memberships.
pub fn groups_value(ctx: &Ctx<'_>, edges: &[Item]) -> Vec<Value> {
    edges
        .iter()
        .filter_map(|e| keys::edge_group(&e.key))
        .map(|gid| {
            let mut v = reference(ctx, ResourceKind::Group, gid);
            v["type"] = Value::from("direct");
            v
        })
        .collect()
}
