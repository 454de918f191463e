//! Create, read, replace, patch and delete of users and groups.

use serde_json::{Value, json};

use super::announce::{self, Committed};
use super::members::{self, EdgePlan, MemberChange};
use super::stored::{Stored, etag_matches};
use super::{Attempts, Ctx};
use crate::events::lifecycle::{self, Change};
use crate::protocol::clock;
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::http::{ScimRequest, ScimResponse};
use crate::protocol::patch;
use crate::protocol::resource::{self, Projection};
use crate::protocol::schema::{Mutability, ResourceKind, ResourceType};
use crate::store::keys::{self, Unique};
use crate::store::{Condition, Index, Item, Key, MAX_TRANSACTION_WRITES, Query, StoreError, Write};

/// Page size when reading a resource's partition.
const PARTITION_PAGE: usize = 1000;

/// Reads a resource; 404 when it does not exist in this tenant.
pub(super) async fn load(ctx: &Ctx<'_>, kind: ResourceKind, id: &str) -> ScimResult<Stored> {
    match ctx.store.get(&keys::resource(ctx.tenant, kind, id)).await? {
        Some(item) => Stored::from_item(kind, &item),
        None => Err(ScimError::NotFound(format!(
            "{} '{id}' not found",
            ResourceType::of(kind).name
        ))),
    }
}

/// The projection requested by `attributes` / `excludedAttributes` query parameters.
pub(super) fn projection_of(req: &ScimRequest) -> Projection {
    Projection::new(req.param("attributes"), req.param("excludedAttributes"))
}

/// The derived multi-valued attribute of a resource (`groups` of a user, `members` of a group),
/// read only when the projection returns it.
pub(super) async fn derived(
    ctx: &Ctx<'_>,
    stored: &Stored,
    projection: &Projection,
) -> ScimResult<Option<(&'static str, Vec<Value>)>> {
    let rt = stored.rt();
    let name = match stored.kind {
        ResourceKind::User => "groups",
        ResourceKind::Group => "members",
    };
    let attr = rt
        .schema
        .attribute(name)
        .ok_or_else(|| ScimError::Internal("schema".into()))?;
    if !projection.wants(rt, None, attr) {
        return Ok(None);
    }
    let values = match stored.kind {
        ResourceKind::User => {
            let edges = members::group_edges(ctx, ResourceKind::User, &stored.id).await?;
            members::groups_value(ctx, &edges)
        }
        ResourceKind::Group => members::members_value(ctx, &stored.id).await?,
    };
    Ok(Some((name, values)))
}

/// Reads a resource and the edges of the groups it belongs to with one Query of its partition
/// (the resource item sorts before its membership edges).
pub(super) async fn load_with_edges(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
) -> ScimResult<(Stored, Vec<Item>)> {
    let pk = keys::resource_pk(ctx.tenant, kind, id);
    let mut q = Query::new(Index::Primary, pk, "", PARTITION_PAGE);
    let mut items = Vec::new();
    loop {
        let page = ctx.store.query(&q).await?;
        items.extend(page.items);
        match page.next {
            Some(n) => q.start_after = Some(n),
            None => break,
        }
    }
    let Some(first) = items.first().filter(|i| i.key.sk == keys::ITEM) else {
        return Err(ScimError::NotFound(format!(
            "{} '{id}' not found",
            ResourceType::of(kind).name
        )));
    };
    let stored = Stored::from_item(kind, first)?;
    let edges = items
        .into_iter()
        .filter(|i| i.key.sk.starts_with(keys::GROUP_PREFIX))
        .collect();
    Ok((stored, edges))
}

/// The `groups` of a user from its edges, when the projection returns them.
fn user_groups(
    ctx: &Ctx<'_>,
    stored: &Stored,
    edges: &[Item],
    projection: &Projection,
) -> Option<(&'static str, Vec<Value>)> {
    let rt = stored.rt();
    let wanted = stored.kind == ResourceKind::User
        && rt
            .schema
            .attribute("groups")
            .is_some_and(|a| projection.wants(rt, None, a));
    wanted.then(|| ("groups", members::groups_value(ctx, edges)))
}

async fn respond(
    ctx: &Ctx<'_>,
    status: u16,
    stored: &Stored,
    projection: &Projection,
) -> ScimResult<ScimResponse> {
    let derived = derived(ctx, stored, projection).await?;
    Ok(respond_with(ctx, status, stored, derived, projection))
}

fn respond_with(
    ctx: &Ctx<'_>,
    status: u16,
    stored: &Stored,
    derived: Option<(&'static str, Vec<Value>)>,
    projection: &Projection,
) -> ScimResponse {
    let body = stored.render(
        ctx,
        derived.as_ref().map(|(n, v)| (*n, v.clone())),
        projection,
    );
    ScimResponse {
        status,
        location: Some(stored.location(ctx.base_url)),
        etag: Some(stored.etag()),
        body: Some(body),
    }
}

/// Parses and validates a POST/PUT body: canonical document and, for groups, the member ids.
fn document_of(
    kind: ResourceKind,
    req: &ScimRequest,
) -> ScimResult<(Value, Option<Vec<members::Member>>)> {
    let rt = ResourceType::of(kind);
    let mut doc = resource::canonicalize(rt, req.json()?)?;
    let members = match (kind, doc.as_object_mut().and_then(|o| o.remove("members"))) {
        (ResourceKind::Group, Some(m)) => Some(members::members_of(&m)?),
        _ => None,
    };
    finish_document(rt, &mut doc)?;
    Ok((doc, members))
}

/// Rules every stored document obeys: required attributes present, at most
/// [`resource::MAX_VALUES`] values per multi-valued attribute, one primary value at most, and the
/// write-only password never stored.
fn finish_document(rt: &ResourceType, doc: &mut Value) -> ScimResult<()> {
    resource::check_required(rt, doc)?;
    resource::check_value_counts(doc)?;
    resource::enforce_single_primary(rt, doc);
    if let Some(o) = doc.as_object_mut() {
        o.remove("password");
    }
    Ok(())
}

/// Index writes for a change of a resource's looked-up attributes: its uniqueness marker
/// (userName or displayName), paired with the attribute it guards so that a failed condition
/// names it, and its externalId index item (not unique: written without condition).
fn marker_writes(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    old: Option<&Value>,
    new: Option<&Value>,
) -> Vec<(Write, Option<Unique>)> {
    let mut out = Vec::new();
    let index_item = |key: Key| Item {
        key,
        body: json!({"id": id}).to_string(),
        ..Item::default()
    };
    let text = |doc: Option<&Value>, attribute: &str| {
        doc.and_then(|d| d.get(attribute))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let u = Unique::of(kind);
    let (before, after) = (text(old, u.attribute()), text(new, u.attribute()));
    let (before, after) = (
        before.map(|v| u.marker(ctx.tenant, &v)),
        after.map(|v| u.marker(ctx.tenant, &v)),
    );
    if before != after {
        if let Some(key) = before {
            out.push((
                Write::Delete {
                    key,
                    condition: Condition::None,
                },
                None,
            ));
        }
        if let Some(key) = after {
            let condition = Condition::NotExists;
            out.push((
                Write::Put {
                    item: index_item(key),
                    condition,
                },
                Some(u),
            ));
        }
    }
    let (before, after) = (text(old, "externalId"), text(new, "externalId"));
    if before != after {
        if let Some(v) = before {
            let key = keys::external_id(ctx.tenant, kind, &v, id);
            let condition = Condition::None;
            out.push((Write::Delete { key, condition }, None));
        }
        if let Some(v) = after {
            let item = index_item(keys::external_id(ctx.tenant, kind, &v, id));
            let condition = Condition::None;
            out.push((Write::Put { item, condition }, None));
        }
    }
    out
}

/// What a write of one resource failed on.
enum CommitError {
    /// The resource item's own condition (its version) failed.
    Version,
    /// A concurrent transaction on the same items made the store give up: read again and
    /// recompute (an If-Match is checked again on the new read).
    Contended,
    Scim(ScimError),
}

/// Where a change's membership edges are written relative to the resource item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EdgeOrder {
    /// In the resource's transaction when everything fits in one (up to 100 writes), else in
    /// chunks after it: creates and document changes, which must not leave edges of a resource
    /// whose write failed.
    WithOrAfter,
    /// In the resource's transaction when everything fits, else in chunks before it: deletes,
    /// so that no edge outlives its resource, and membership-only changes, where the resource
    /// write just records the new version.
    WithOrBefore,
}

/// Writes a resource change: the resource item with its markers and counter in one transaction,
/// and its membership edges in chunks of at most 100 as `order` says.
async fn commit(
    ctx: &Ctx<'_>,
    primary: Vec<(Write, Option<Unique>)>,
    edges: Vec<Write>,
    order: EdgeOrder,
) -> Result<(), CommitError> {
    let bundle = primary.len() + edges.len() <= MAX_TRANSACTION_WRITES;
    let (inline, separate) = if bundle {
        (edges, Vec::new())
    } else {
        (Vec::new(), edges)
    };
    if order != EdgeOrder::WithOrAfter {
        write_edges(ctx, &separate)
            .await
            .map_err(CommitError::Scim)?;
    }
    let guards: Vec<Option<Unique>> = primary.iter().map(|(_, u)| *u).collect();
    let mut writes: Vec<Write> = primary.into_iter().map(|(w, _)| w).collect();
    writes.extend(inline);
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: 0 }) => return Err(CommitError::Version),
        Err(StoreError::Conflict) => return Err(CommitError::Contended),
        // Past the resource's own writes, only the member checks of edges have conditions.
        Err(StoreError::ConditionFailed { index }) if index >= guards.len() => {
            return Err(CommitError::Scim(members::member_vanished()));
        }
        Err(StoreError::ConditionFailed { index }) => {
            let attr = guards
                .get(index)
                .copied()
                .flatten()
                .map_or("a unique attribute", Unique::attribute);
            return Err(CommitError::Scim(ScimError::Uniqueness(format!(
                "{attr} is already in use by another resource of this tenant"
            ))));
        }
        Err(e) => return Err(CommitError::Scim(e.into())),
    }
    if order == EdgeOrder::WithOrAfter {
        write_edges(ctx, &separate)
            .await
            .map_err(CommitError::Scim)?;
    }
    Ok(())
}

/// Writes membership edges in transactions of at most 100 (an even number: a member's check and
/// its edge stay together; each edge write is idempotent).
async fn write_edges(ctx: &Ctx<'_>, edges: &[Write]) -> ScimResult<()> {
    for chunk in edges.chunks(MAX_TRANSACTION_WRITES) {
        match ctx.store.transact(chunk.to_vec()).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { .. }) => return Err(members::member_vanished()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn new_meta() -> Value {
    let now = clock::format(clock::now());
    json!({"created": now, "lastModified": now})
}

/// POST /Users, POST /Groups.
pub async fn create(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    req: &ScimRequest,
) -> ScimResult<(ScimResponse, Committed)> {
    let (mut doc, member_ids) = document_of(kind, req)?;
    let id = uuid::Uuid::now_v7().to_string();
    if let Some(o) = doc.as_object_mut() {
        o.insert("id".into(), Value::from(id.clone()));
        o.insert("meta".into(), new_meta());
    }
    if kind == ResourceKind::User {
        lifecycle::remember_activity(&mut doc, false);
    }
    let stored = Stored {
        kind,
        id: id.clone(),
        version: 1,
        doc,
    };
    let plan = match member_ids {
        Some(ids) => members::plan(ctx, &id, vec![MemberChange::Add(ids)]).await?,
        None => EdgePlan::default(),
    };
    let mut primary = vec![(
        Write::Put {
            item: stored.to_item(ctx.tenant),
            condition: Condition::NotExists,
        },
        None,
    )];
    primary.extend(marker_writes(ctx, kind, &id, None, Some(&stored.doc)));
    primary.push((
        Write::Add {
            key: keys::counter_shard(ctx.tenant, kind, &id),
            delta: 1,
        },
        None,
    ));
    let edges = members::edge_writes(ctx.tenant, &id, &plan);
    let change = Change {
        kind,
        id: id.clone(),
        version: stored.version,
        old: None,
        new: Some(stored.doc.clone()),
        members_added: plan.add.iter().map(|(m, k)| (m.clone(), *k)).collect(),
        members_removed: Vec::new(),
    };
    let mut announced = announce::change(ctx, &change).await?;
    primary.extend(announced.writes.drain(..).map(|w| (w, None)));
    match commit(ctx, primary, edges, EdgeOrder::WithOrAfter).await {
        Ok(()) => {}
        Err(CommitError::Version | CommitError::Contended) => {
            return Err(ScimError::Unavailable(
                "the new resource could not be written; retry".into(),
            ));
        }
        Err(CommitError::Scim(e)) => return Err(e),
    }
    // A new user belongs to no group yet, and a new group's members are the ones just written:
    // nothing to read back.
    let derived = match kind {
        ResourceKind::User => None,
        ResourceKind::Group => Some((
            "members",
            plan.add
                .iter()
                .map(|(m, k)| super::stored::reference(ctx, *k, m))
                .collect(),
        )),
    };
    let response = respond_with(ctx, 201, &stored, derived, &projection_of(req));
    Ok((response, announced.committed(change)))
}

/// GET /Users/{id}, GET /Groups/{id}.
pub async fn get(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    req: &ScimRequest,
) -> ScimResult<ScimResponse> {
    let projection = projection_of(req);
    let rt = ResourceType::of(kind);
    let wants_groups = kind == ResourceKind::User
        && rt
            .schema
            .attribute("groups")
            .is_some_and(|a| projection.wants(rt, None, a));
    let (stored, derived) = if wants_groups {
        let (stored, edges) = load_with_edges(ctx, kind, id).await?;
        let groups = user_groups(ctx, &stored, &edges, &projection);
        (stored, groups)
    } else {
        let stored = load(ctx, kind, id).await?;
        let derived = derived(ctx, &stored, &projection).await?;
        (stored, derived)
    };
    if req
        .if_none_match
        .as_deref()
        .is_some_and(|h| etag_matches(h, stored.version))
    {
        let mut r = ScimResponse::empty(304);
        r.etag = Some(stored.etag());
        return Ok(r);
    }
    Ok(respond_with(ctx, 200, &stored, derived, &projection))
}

fn check_if_match(req: &ScimRequest, stored: &Stored) -> ScimResult<()> {
    match &req.if_match {
        Some(h) if !etag_matches(h, stored.version) => Err(ScimError::PreconditionFailed(format!(
            "If-Match does not match the current version {}",
            stored.etag()
        ))),
        _ => Ok(()),
    }
}

/// Decides what a failed write of an update or delete leads to: `Ok` to recompute and retry
/// (a concurrent write won the race and the request has no If-Match), else the error to answer.
fn retry_after(e: CommitError, req: &ScimRequest) -> ScimResult<()> {
    match e {
        CommitError::Version if req.if_match.is_none() => Ok(()),
        CommitError::Contended => Ok(()),
        CommitError::Version => Err(ScimError::PreconditionFailed(
            "the resource changed since it was read".into(),
        )),
        CommitError::Scim(e) => Err(e),
    }
}

fn still_changing() -> ScimError {
    ScimError::Unavailable("the resource is being changed concurrently; retry".into())
}

/// Immutable attributes may be set once and never changed (RFC 7643 §2.2).
fn check_immutable(rt: &ResourceType, old: &Value, new: &Value) -> ScimResult<()> {
    for attr in rt
        .schema
        .attributes
        .iter()
        .filter(|a| a.mutability == Mutability::Immutable)
    {
        if let (Some(a), Some(b)) = (old.get(attr.name), new.get(attr.name))
            && a != b
        {
            return Err(ScimError::Mutability(format!(
                "'{}' is immutable",
                attr.name
            )));
        }
    }
    Ok(())
}

/// A computed update: the new document and membership changes, or `None` when nothing changes.
type Update = (Value, Vec<MemberChange>);

/// Runs an update: load, check If-Match, compute, write with a version condition. Without
/// If-Match, a concurrent write that won the race makes it recompute from the new state.
/// Returns the new state, the edges read with the old one, and what changed with its events
/// (`None` when the request changed nothing).
async fn update<F>(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    req: &ScimRequest,
    compute: F,
) -> ScimResult<(Stored, Vec<Item>, Option<Committed>)>
where
    F: Fn(&Stored) -> ScimResult<Update>,
{
    let mut attempts = Attempts::new(ctx.limits);
    while attempts.next().await {
        let (old, edges_of_old) = load_with_edges(ctx, kind, id).await?;
        check_if_match(req, &old)?;
        let (mut doc, changes) = compute(&old)?;
        let plan = members::plan(ctx, id, changes).await?;
        let edges = members::edge_writes(ctx.tenant, id, &plan);
        let doc_changed = doc != old.doc;
        if !doc_changed && edges.is_empty() {
            return Ok((old, edges_of_old, None));
        }
        if !doc_changed && req.if_match.is_none() {
            return record_membership(ctx, old, edges_of_old, plan, edges, &mut attempts).await;
        }
        if let Some(o) = doc.as_object_mut() {
            o.insert("id".into(), Value::from(id));
            let mut meta = old.doc.get("meta").cloned().unwrap_or_else(new_meta);
            meta["lastModified"] = Value::from(clock::format(clock::now()));
            o.insert("meta".into(), meta);
        }
        if kind == ResourceKind::User {
            lifecycle::remember_activity(&mut doc, lifecycle::has_been_active(&old.doc));
        }
        let new = Stored {
            kind,
            id: id.to_string(),
            version: old.version + 1,
            doc,
        };
        let mut primary = vec![(
            Write::Put {
                item: new.to_item(ctx.tenant),
                condition: Condition::VersionIs(old.version),
            },
            None,
        )];
        primary.extend(marker_writes(ctx, kind, id, Some(&old.doc), Some(&new.doc)));
        let change = updated(old.doc, &new, &plan);
        let mut announced = announce::change(ctx, &change).await?;
        primary.extend(announced.writes.drain(..).map(|w| (w, None)));
        // The edges join the version's transaction when everything fits in one, so a write that
        // loses the race applies nothing; past that they follow the version.
        match commit(ctx, primary, edges, EdgeOrder::WithOrAfter).await {
            Ok(()) => return Ok((new, edges_of_old, Some(announced.committed(change)))),
            Err(e) => retry_after(e, req)?,
        }
    }
    Err(still_changing())
}

/// The change an update makes.
fn updated(old: Value, new: &Stored, plan: &EdgePlan) -> Change {
    let listed = |m: &std::collections::BTreeMap<String, ResourceKind>| -> Vec<_> {
        m.iter().map(|(id, k)| (id.clone(), *k)).collect()
    };
    let mut members_removed = listed(&plan.remove);
    members_removed.retain(|(m, _)| !plan.add.contains_key(m));
    Change {
        kind: new.kind,
        id: new.id.clone(),
        version: new.version,
        old: Some(old),
        new: Some(new.doc.clone()),
        members_removed,
        members_added: listed(&plan.add),
    }
}

/// A membership-only change without If-Match: the group's new version and `lastModified`, the
/// edges and the events as one transaction, the group item's version its only condition. When a
/// concurrent change wins that write, only the version is read again (never the edges or the
/// plan) and the transaction written again, after a pause, while the budget lasts. Many IdP
/// requests changing one group's members at once thus all succeed, and one that spends its
/// budget answers 503 having applied nothing. A change of more edges than one transaction holds
/// writes them first (each edge write is idempotent) and the version with the events last: if
/// that spends its budget, the 503 leaves the edges, and the IdP's retry announces them.
async fn record_membership(
    ctx: &Ctx<'_>,
    mut current: Stored,
    edges_of_old: Vec<Item>,
    plan: EdgePlan,
    mut edges: Vec<Write>,
    attempts: &mut Attempts,
) -> ScimResult<(Stored, Vec<Item>, Option<Committed>)> {
    let old = current.doc.clone();
    let mut roles = None;
    loop {
        let mut doc = current.doc.clone();
        doc["meta"]["lastModified"] = Value::from(clock::format(clock::now()));
        let new = Stored {
            version: current.version + 1,
            doc,
            ..current.clone()
        };
        let change = updated(old.clone(), &new, &plan);
        // Read once: a lost race changes the version, not what the members' roles become.
        if roles.is_none() {
            roles = Some(announce::role_changes(ctx, &change).await?);
        }
        let mut announced = announce::with_roles(ctx, &change, roles.clone().unwrap_or_default());
        let mut writes = vec![Write::Put {
            item: new.to_item(ctx.tenant),
            condition: Condition::VersionIs(current.version),
        }];
        writes.append(&mut announced.writes);
        if writes.len() + edges.len() <= MAX_TRANSACTION_WRITES {
            writes.extend(edges.iter().cloned());
        } else if !edges.is_empty() {
            write_edges(ctx, &edges).await?;
            edges.clear();
        }
        match ctx.store.transact(writes).await {
            Ok(()) => return Ok((new, edges_of_old, Some(announced.committed(change)))),
            Err(StoreError::ConditionFailed { index: 0 } | StoreError::Conflict)
                if attempts.next().await =>
            {
                current = load(ctx, current.kind, &current.id).await?;
            }
            Err(StoreError::ConditionFailed { index: 0 } | StoreError::Conflict) => {
                return Err(still_changing());
            }
            // The group's write is the only other condition than the member checks.
            Err(StoreError::ConditionFailed { .. }) => return Err(members::member_vanished()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// PUT /Users/{id}, PUT /Groups/{id}: replaces every writable attribute (RFC 7644 §3.5.1).
pub async fn replace(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    req: &ScimRequest,
) -> ScimResult<(ScimResponse, Option<Committed>)> {
    let (doc, member_ids) = document_of(kind, req)?;
    let rt = ResourceType::of(kind);
    let (stored, edges, change) = update(ctx, kind, id, req, |old| {
        check_immutable(rt, &old.doc, &doc)?;
        let mut doc = doc.clone();
        // meta and id are kept from the stored document by `update`; compare like for like.
        if let (Some(o), Some(m)) = (doc.as_object_mut(), old.doc.get("meta")) {
            o.insert("id".into(), Value::from(id));
            o.insert("meta".into(), m.clone());
        }
        let changes = match (kind, &member_ids) {
            (ResourceKind::Group, ids) => {
                vec![
                    MemberChange::RemoveAll,
                    MemberChange::Add(ids.clone().unwrap_or_default()),
                ]
            }
            (ResourceKind::User, _) => Vec::new(),
        };
        Ok((doc, changes))
    })
    .await?;
    let response = respond_updated(ctx, &stored, &edges, &projection_of(req)).await?;
    Ok((response, change))
}

/// PATCH /Users/{id}, PATCH /Groups/{id} (RFC 7644 §3.5.2). A group PATCH answers 204 unless the
/// request asks for attributes, so that a change to a large group never reads its member list.
pub async fn patch(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    req: &ScimRequest,
) -> ScimResult<(ScimResponse, Option<Committed>)> {
    let ops = patch::parse_request(&req.json()?)?;
    if ops.len() > ctx.limits.max_patch_operations {
        return Err(ScimError::PayloadTooLarge(format!(
            "the PATCH request has {} operations; at most {} are accepted",
            ops.len(),
            ctx.limits.max_patch_operations
        )));
    }
    let (doc_ops, changes) = match kind {
        ResourceKind::Group => members::split_ops(ops)?,
        ResourceKind::User => (ops, Vec::new()),
    };
    let rt = ResourceType::of(kind);
    let (stored, edges, change) = update(ctx, kind, id, req, |old| {
        let mut doc = old.doc.clone();
        if !doc_ops.is_empty() {
            patch::apply(rt, &mut doc, &doc_ops)?;
            finish_document(rt, &mut doc)?;
        }
        Ok((doc, changes.clone()))
    })
    .await?;
    let projection = projection_of(req);
    let asked = req.param("attributes").is_some() || req.param("excludedAttributes").is_some();
    if kind == ResourceKind::Group && !asked {
        let mut r = ScimResponse::empty(204);
        r.etag = Some(stored.etag());
        r.location = Some(stored.location(ctx.base_url));
        return Ok((r, change));
    }
    let response = respond_updated(ctx, &stored, &edges, &projection).await?;
    Ok((response, change))
}

/// The 200 response of an update: a user's groups come from the edges read with it.
async fn respond_updated(
    ctx: &Ctx<'_>,
    stored: &Stored,
    edges: &[Item],
    projection: &Projection,
) -> ScimResult<ScimResponse> {
    match stored.kind {
        ResourceKind::User => {
            let groups = user_groups(ctx, stored, edges, projection);
            Ok(respond_with(ctx, 200, stored, groups, projection))
        }
        ResourceKind::Group => respond(ctx, 200, stored, projection).await,
    }
}

/// Deletes of every membership edge that involves a resource: `own`, the edges of the groups it
/// belongs to (read with it), and, for a group, its members' edges.
async fn edges_involving(ctx: &Ctx<'_>, stored: &Stored, own: Vec<Item>) -> ScimResult<Vec<Write>> {
    let mut edges = own;
    if stored.kind == ResourceKind::Group {
        edges.extend(members::member_edges(ctx, &stored.id).await?);
    }
    Ok(edges
        .into_iter()
        .map(|e| Write::Delete {
            key: e.key,
            condition: Condition::None,
        })
        .collect())
}

/// DELETE /Users/{id}, DELETE /Groups/{id}: the resource, its markers and its memberships.
pub async fn delete(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    req: &ScimRequest,
) -> ScimResult<(ScimResponse, Committed)> {
    let mut attempts = Attempts::new(ctx.limits);
    while attempts.next().await {
        let (stored, edges) = load_with_edges(ctx, kind, id).await?;
        check_if_match(req, &stored)?;
        let change = Change {
            kind,
            id: stored.id.clone(),
            version: stored.version + 1,
            old: Some(stored.doc.clone()),
            new: None,
            members_added: Vec::new(),
            members_removed: Vec::new(),
        };
        let announced = announce::change(ctx, &change).await?;
        match delete_stored(ctx, &stored, edges, announced.writes).await {
            Ok(()) => {
                members::sweep_group_edges(ctx, kind, &stored.id).await?;
                let committed = Committed {
                    change,
                    events: announced.events,
                };
                return Ok((ScimResponse::empty(204), committed));
            }
            Err(e) => retry_after(e, req)?,
        }
    }
    Err(still_changing())
}

/// Deletes a resource, its markers and edges, with `outbox` (its events) in its transaction.
async fn delete_stored(
    ctx: &Ctx<'_>,
    stored: &Stored,
    own: Vec<Item>,
    outbox: Vec<Write>,
) -> Result<(), CommitError> {
    let edges = edges_involving(ctx, stored, own)
        .await
        .map_err(CommitError::Scim)?;
    let mut primary = vec![(
        Write::Delete {
            key: keys::resource(ctx.tenant, stored.kind, &stored.id),
            condition: Condition::VersionIs(stored.version),
        },
        None,
    )];
    primary.extend(marker_writes(
        ctx,
        stored.kind,
        &stored.id,
        Some(&stored.doc),
        None,
    ));
    primary.push((
        Write::Add {
            key: keys::counter_shard(ctx.tenant, stored.kind, &stored.id),
            delta: -1,
        },
        None,
    ));
    primary.extend(outbox.into_iter().map(|w| (w, None)));
    commit(ctx, primary, edges, EdgeOrder::WithOrBefore).await
}
