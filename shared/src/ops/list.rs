//! Listing and searching: GET on a resource endpoint and POST `/.search` (RFC 7644 §3.4.2, §3.4.3).
//!
//! Equality filters on `id`, `userName`, `externalId` and group `displayName` are answered by key
//! lookups. Without a filter or sort, pages are read from the per-tenant listing index and the
//! total is the sum of the tenant's counter shards. Any other filter reads the listing index page
//! by page, at most `max_filter_scan` resources, and answers 400 tooMany above that bound.
//!
//! Index paging (`startIndex`) far into a listing starts from a *checkpoint*: an item that
//! records which id sits at every 1,000th position of the listing index, written by the first
//! read that passes it and kept for [`CHECKPOINT_TTL_SECONDS`]; a page then reads at most
//! 1,000 + count index entries whatever its startIndex. Deletes move later positions up, so for
//! up to that TTL after a delete a deep index page may be off by the number of deletes before
//! it; cursors (RFC 9865, `cursor` + `count`, see [`super::cursor`]) have no such drift and are
//! the way to walk a large listing.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::Ctx;
use super::cursor::{self, Scope};
use super::members;
use super::resources::{derived, load};
use super::stored::Stored;
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::filter::{self, CompareOp, Filter};
use crate::protocol::http::{ScimRequest, ScimResponse};
use crate::protocol::resource::Projection;
use crate::protocol::schema::{AttrPath, AttrType, ResourceKind, ResourceType};
use crate::store::keys::{self, Unique};
use crate::store::{
    Condition, Index, Item, Key, MAX_BATCH_GET, MAX_TRANSACTION_WRITES, PageKey, Query, Write,
};

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Page size when reading the listing index.
const INDEX_PAGE: usize = 1000;
/// Distance between two checkpoints of a listing index.
const CHECKPOINT_STRIDE: usize = 1000;
/// How long a checkpoint is used after it was written.
pub const CHECKPOINT_TTL_SECONDS: i64 = 600;

/// A list or search request, whichever way it arrived.
#[derive(Debug, Clone)]
struct ListParams {
    filter: Option<Filter>,
    sort_by: Option<AttrPath>,
    descending: bool,
    /// 1-based.
    start_index: usize,
    count: usize,
    projection: Projection,
    /// `attributes` named explicitly (derived multi-valued attributes are listed then, and when
    /// the filter is a key lookup).
    explicit: bool,
    /// RFC 9865 cursor paging: `Some("")` for the first page, `Some(cursor)` after it.
    cursor: Option<String>,
    /// filter, sortBy and sortOrder as given: what a cursor is bound to.
    query_text: String,
}

impl ListParams {
    #[allow(clippy::too_many_arguments)]
    fn new(
        ctx: &Ctx<'_>,
        filter: Option<&str>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        projection: Projection,
        cursor: Option<&str>,
    ) -> ScimResult<ListParams> {
        let query_text = format!(
            "{}\n{}\n{}",
            filter.unwrap_or_default(),
            sort_by.unwrap_or_default(),
            sort_order.unwrap_or_default()
        );
        if cursor.is_some() {
            if let Some(c) = count.filter(|&c| c < 0 || c > ctx.limits.max_results as i64) {
                return Err(ScimError::InvalidCount(format!(
                    "count {c} is outside 0..={} (pagination.maxPageSize)",
                    ctx.limits.max_results
                )));
            }
            if start_index.is_some() {
                return Err(ScimError::InvalidValue(
                    "startIndex and cursor exclude each other".into(),
                ));
            }
            if sort_by.is_some_and(|s| !s.is_empty()) {
                return Err(ScimError::InvalidValue(
                    "sortBy is not supported with cursor paging; cursors follow creation order"
                        .into(),
                ));
            }
        }
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(filter::parse(f)?),
            None => None,
        };
        let sort_by = match sort_by.filter(|s| !s.is_empty()) {
            Some(s) => Some(
                AttrPath::parse(s)
                    .ok_or_else(|| ScimError::InvalidValue(format!("invalid sortBy '{s}'")))?,
            ),
            None => None,
        };
        let descending = match sort_order.map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimError::InvalidValue(format!(
                    "sortOrder must be ascending or descending, not '{other}'"
                )));
            }
        };
        // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1; a negative count as 0.
        let start_index = start_index.unwrap_or(1).max(1) as usize;
        let count = count.unwrap_or(100).clamp(0, ctx.limits.max_results as i64) as usize;
        let explicit = !projection.attributes.is_empty();
        Ok(ListParams {
            filter,
            sort_by,
            descending,
            start_index,
            count,
            projection,
            explicit,
            cursor: cursor.map(str::to_string),
            query_text,
        })
    }

    fn from_query(ctx: &Ctx<'_>, req: &ScimRequest) -> ScimResult<ListParams> {
        let int = |name: &str| -> ScimResult<Option<i64>> {
            req.param(name)
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| ScimError::InvalidValue(format!("{name} must be an integer")))
                })
                .transpose()
        };
        Self::new(
            ctx,
            req.param("filter"),
            req.param("sortBy"),
            req.param("sortOrder"),
            int("startIndex")?,
            int("count")?,
            Projection::new(req.param("attributes"), req.param("excludedAttributes")),
            req.param("cursor"),
        )
    }

    fn from_search(ctx: &Ctx<'_>, body: &Value) -> ScimResult<ListParams> {
        let schemas_ok = body
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter().any(|v| {
                    v.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST_SCHEMA))
                })
            });
        if !schemas_ok {
            return Err(ScimError::InvalidSyntax(format!(
                "a search request must list the schema {SEARCH_REQUEST_SCHEMA}"
            )));
        }
        let text = |name: &str| -> ScimResult<Option<String>> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => Ok(Some(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                Some(_) => Err(ScimError::InvalidValue(format!(
                    "'{name}' has the wrong type"
                ))),
            }
        };
        let int = |name: &str| -> ScimResult<Option<i64>> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::InvalidValue(format!("'{name}' must be an integer"))),
            }
        };
        let attributes = text("attributes")?;
        let excluded = text("excludedAttributes")?;
        Self::new(
            ctx,
            text("filter")?.as_deref(),
            text("sortBy")?.as_deref(),
            text("sortOrder")?.as_deref(),
            int("startIndex")?,
            int("count")?,
            Projection::new(attributes.as_deref(), excluded.as_deref()),
            text("cursor")?.as_deref(),
        )
    }
}

/// GET /Users, GET /Groups.
pub async fn list(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    req: &ScimRequest,
) -> ScimResult<ScimResponse> {
    let params = ListParams::from_query(ctx, req)?;
    respond(ctx, &[kind], &params).await
}

/// POST /Users/.search, /Groups/.search, /.search (all resource types when `kind` is None).
pub async fn search(
    ctx: &Ctx<'_>,
    kind: Option<ResourceKind>,
    req: &ScimRequest,
) -> ScimResult<ScimResponse> {
    let params = ListParams::from_search(ctx, &req.json()?)?;
    let kinds: &[ResourceKind] = match kind {
        Some(ResourceKind::User) => &[ResourceKind::User],
        Some(ResourceKind::Group) => &[ResourceKind::Group],
        None => &[ResourceKind::User, ResourceKind::Group],
    };
    respond(ctx, kinds, &params).await
}

async fn respond(
    ctx: &Ctx<'_>,
    kinds: &[ResourceKind],
    params: &ListParams,
) -> ScimResult<ScimResponse> {
    if params.cursor.is_some() {
        return respond_cursor(ctx, kinds, params).await;
    }
    let mut total = 0;
    let mut page: Vec<Stored> = Vec::new();
    // Offset into the concatenation of the kinds' results.
    let mut skip = params.start_index - 1;
    for &kind in kinds {
        let rt = ResourceType::of(kind);
        if let Some(f) = &params.filter {
            // An attribute unknown to one resource type of a root search matches nothing there.
            if f.validate(rt).is_err() {
                if kinds.len() == 1 {
                    f.validate(rt)?;
                }
                continue;
            }
        }
        let want = params.count.saturating_sub(page.len());
        let (n, items) = select(ctx, kind, params, skip, want).await?;
        skip = skip.saturating_sub(n);
        total += n;
        page.extend(items);
    }
    let resources = render(ctx, params, &page).await?;
    Ok(ScimResponse::json(
        200,
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": total,
            "startIndex": params.start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    ))
}

/// The total number of matches of one kind, and the page `[skip, skip + count)` of them.
async fn select(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    params: &ListParams,
    skip: usize,
    count: usize,
) -> ScimResult<(usize, Vec<Stored>)> {
    let rt = ResourceType::of(kind);
    let derived_name = derived_attribute(kind);
    let on_derived = params
        .filter
        .as_ref()
        .is_some_and(|f| references(f, derived_name));
    let candidates = match params.filter.as_ref() {
        Some(f) => match (key_lookup(kind, f), membership_lookup(kind, f)) {
            (Some(KeyLookup::Id(id)), _) => Some(lookup(ctx, kind, None, &id).await?),
            (Some(KeyLookup::Unique(u, value)), _) => {
                Some(lookup(ctx, kind, Some(u), &value).await?)
            }
            (Some(KeyLookup::ExternalId(value)), _) => {
                Some(lookup_external_id(ctx, kind, &value).await?)
            }
            (None, Some(other)) => Some(lookup_by_membership(ctx, kind, &other).await?),
            (None, None) => None,
        },
        None => None,
    };
    if let Some(candidates) = candidates {
        let mut matches = Vec::new();
        for stored in candidates {
            // Memberships are items of their own: read them only for a filter that names them.
            let derived = if on_derived {
                derived(ctx, &stored, &Projection::default()).await?
            } else {
                None
            };
            let view = stored.served(ctx, derived);
            if params.filter.as_ref().is_none_or(|f| f.matches(rt, &view)) {
                matches.push(stored);
            }
        }
        let n = matches.len();
        return Ok((n, matches.into_iter().skip(skip).take(count).collect()));
    }
    if on_derived {
        return Err(ScimError::InvalidFilter(format!(
            "a filter on '{derived_name}' must select {derived_name}.value with eq, or the {} by id, {} or externalId with eq",
            rt.name,
            Unique::of(kind).attribute()
        )));
    }
    if params.filter.is_none() && params.sort_by.is_none() {
        let total = counted_total(ctx, kind).await?;
        if count == 0 || skip >= total {
            return Ok((total, Vec::new()));
        }
        let items = read_listing(ctx, kind, skip, count).await?;
        return Ok((total, items));
    }
    let mut matches = scan(ctx, kind, params.filter.as_ref()).await?;
    if let Some(path) = &params.sort_by {
        matches = sort(rt, path, params.descending, matches);
    }
    let n = matches.len();
    Ok((n, matches.into_iter().skip(skip).take(count).collect()))
}

/// The resources of a page as the client asked for them.
async fn render(ctx: &Ctx<'_>, params: &ListParams, page: &[Stored]) -> ScimResult<Vec<Value>> {
    let mut resources = Vec::with_capacity(page.len());
    for stored in page {
        // A key lookup answers like a GET (Microsoft's gallery validation reads a group's
        // members from `filter=displayName eq`); other lists read memberships only on request.
        let key = params
            .filter
            .as_ref()
            .is_some_and(|f| key_lookup(stored.kind, f).is_some());
        let d = if params.explicit || key {
            derived(ctx, stored, &params.projection).await?
        } else {
            None
        };
        resources.push(stored.render(
            ctx,
            d.as_ref().map(|(n, v)| (*n, v.clone())),
            &params.projection,
        ));
    }
    Ok(resources)
}

/// A page of cursor paging (RFC 9865): the matches after the cursor's last id, in id order, and
/// `nextCursor` when more follow. `totalResults` is given when it is known without a scan.
async fn respond_cursor(
    ctx: &Ctx<'_>,
    kinds: &[ResourceKind],
    params: &ListParams,
) -> ScimResult<ScimResponse> {
    let &[kind] = kinds else {
        return Err(ScimError::InvalidValue(
            "cursor paging needs one resource type: search /Users or /Groups".into(),
        ));
    };
    let rt = ResourceType::of(kind);
    if let Some(f) = &params.filter {
        f.validate(rt)?;
    }
    let key = cursor::signing_key(ctx.store).await?;
    let scope = Scope {
        tenant: ctx.tenant,
        resource_type: rt.name,
        query: &params.query_text,
    };
    let now = crate::protocol::clock::now().unix_timestamp();
    let after = match params.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(cursor::decode(&key, scope, c, now)?),
    };
    let (total, page, more) = select_after(ctx, kind, params, after.as_deref()).await?;
    let resources = render(ctx, params, &page).await?;
    let mut body = json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    if let Some(total) = total {
        body["totalResults"] = Value::from(total);
    }
    if let (true, Some(last)) = (more, page.last()) {
        let next = cursor::encode(&key, scope, &last.id, now + cursor::CURSOR_TIMEOUT_SECONDS);
        body["nextCursor"] = Value::from(next);
    }
    Ok(ScimResponse::json(200, body))
}

/// How many resources of one kind the tenant has: the sum of its counter shards (and of the
/// counter item written before the counter was sharded), read with one Query of the counter
/// partition (docs/table-design.md).
async fn counted_total(ctx: &Ctx<'_>, kind: ResourceKind) -> ScimResult<usize> {
    // Room for every shard and the legacy item in one page, so that one call reads them all.
    let mut q = Query::new(
        Index::Primary,
        keys::counters(ctx.tenant),
        keys::counter_prefix(kind),
        100,
    );
    let mut sum: i64 = 0;
    loop {
        let page = ctx.store.query(&q).await?;
        sum += page.items.iter().map(|i| i.count).sum::<i64>();
        match page.next {
            Some(next) => q.start_after = Some(next),
            None => break,
        }
    }
    Ok(sum.max(0) as usize)
}

/// Up to `count` matches with ids after `after`, in id order, whether more follow, and the total
/// number of matches when known without a scan.
async fn select_after(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    params: &ListParams,
    after: Option<&str>,
) -> ScimResult<(Option<usize>, Vec<Stored>, bool)> {
    let rt = ResourceType::of(kind);
    let count = params.count;
    let answered_by_key = params
        .filter
        .as_ref()
        .is_some_and(|f| key_lookup(kind, f).is_some() || membership_lookup(kind, f).is_some());
    if answered_by_key
        || params
            .filter
            .as_ref()
            .is_some_and(|f| references(f, derived_attribute(kind)))
    {
        let (total, mut all) = select(ctx, kind, params, 0, usize::MAX).await?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        let rest: Vec<Stored> = all
            .into_iter()
            .filter(|s| after.is_none_or(|a| s.id.as_str() > a))
            .collect();
        let more = rest.len() > count;
        return Ok((Some(total), rest.into_iter().take(count).collect(), more));
    }
    let total = match params.filter {
        None => Some(counted_total(ctx, kind).await?),
        Some(_) => None,
    };
    let listing = keys::listing(ctx.tenant, kind);
    let mut q = Query::new(Index::Gsi1, listing.clone(), "", INDEX_PAGE);
    q.start_after = after.map(|id| PageKey {
        key: keys::resource(ctx.tenant, kind, id),
        gsi1: Some(Key::new(listing.clone(), id)),
    });
    let mut out = Vec::with_capacity(count);
    let mut seen = 0;
    loop {
        // One more than the page, to know whether another page follows.
        q.limit = match params.filter {
            None => (count + 1 - out.len()).min(INDEX_PAGE),
            Some(_) => INDEX_PAGE,
        };
        let page = ctx.store.query(&q).await?;
        seen += page.items.len();
        for item in &page.items {
            let stored = Stored::from_item(kind, item)?;
            if params
                .filter
                .as_ref()
                .is_none_or(|f| f.matches(rt, &stored.served(ctx, None)))
            {
                if out.len() == count {
                    return Ok((total, out, true));
                }
                out.push(stored);
            }
        }
        if seen > ctx.limits.max_filter_scan && page.next.is_some() {
            return Err(ScimError::TooMany(format!(
                "this page would examine more than {} resources; filter by id, userName, externalId or displayName with eq",
                ctx.limits.max_filter_scan
            )));
        }
        match page.next {
            Some(n) => q.start_after = Some(n),
            None => return Ok((total, out, false)),
        }
    }
}

/// A key lookup that answers a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyLookup {
    Id(String),
    Unique(Unique, String),
    /// Not unique: every resource with the value.
    ExternalId(String),
}

/// Which key lookup answers a filter: a top-level `eq` on id, the unique attribute or
/// externalId, or one side of an `and`.
fn key_lookup(kind: ResourceKind, f: &Filter) -> Option<KeyLookup> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(v),
        } if path.sub.is_none() => {
            let rt = ResourceType::of(kind);
            if path
                .schema
                .as_deref()
                .is_some_and(|s| !s.eq_ignore_ascii_case(rt.schema.id))
            {
                return None;
            }
            let unique = Unique::of(kind);
            if path.name.eq_ignore_ascii_case("id") {
                Some(KeyLookup::Id(v.clone()))
            } else if path.name.eq_ignore_ascii_case(unique.attribute()) {
                Some(KeyLookup::Unique(unique, v.clone()))
            } else if path.name.eq_ignore_ascii_case("externalId") {
                Some(KeyLookup::ExternalId(v.clone()))
            } else {
                None
            }
        }
        Filter::And(a, b) => key_lookup(kind, a).or_else(|| key_lookup(kind, b)),
        _ => None,
    }
}

/// The id on the other side of a membership named by a filter: `groups.value eq "g"` or
/// `groups[value eq "g"]` on users, `members.value eq "m"` or `members[value eq "m"]` on groups,
/// alone or on one side of an `and`.
fn membership_lookup(kind: ResourceKind, f: &Filter) -> Option<String> {
    let derived = derived_attribute(kind);
    let value_eq = |path: &AttrPath, op: &CompareOp, value: &Value, sub: Option<&str>| {
        let is_value = sub.is_some_and(|s| s.eq_ignore_ascii_case("value"));
        (path.name.eq_ignore_ascii_case(derived) && *op == CompareOp::Eq && is_value)
            .then(|| value.as_str().map(str::to_string))
            .flatten()
    };
    match f {
        Filter::Compare { path, op, value } => value_eq(path, op, value, path.sub.as_deref()),
        Filter::ValuePath { path, filter } if path.name.eq_ignore_ascii_case(derived) => {
            match &**filter {
                Filter::Compare {
                    path: inner,
                    op,
                    value,
                } => value_eq(path, op, value, Some(&inner.name)),
                _ => None,
            }
        }
        Filter::And(a, b) => membership_lookup(kind, a).or_else(|| membership_lookup(kind, b)),
        _ => None,
    }
}

/// The users that are members of group `other`, or the groups that `other` belongs to.
async fn lookup_by_membership(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    other: &str,
) -> ScimResult<Vec<Stored>> {
    let ids: Vec<String> = match kind {
        ResourceKind::User => members::read_edges(ctx, other)
            .await?
            .into_iter()
            .filter(|(k, _)| *k == ResourceKind::User)
            .map(|(_, id)| id)
            .collect(),
        ResourceKind::Group => {
            let mut ids = Vec::new();
            for member_kind in [ResourceKind::User, ResourceKind::Group] {
                let edges = members::group_edges(ctx, member_kind, other).await?;
                ids.extend(
                    edges
                        .iter()
                        .filter_map(|e| keys::edge_group(&e.key))
                        .map(str::to_string),
                );
            }
            ids
        }
    };
    load_many(ctx, kind, &ids).await
}

/// The resources of the given ids that exist, by id, read with batch gets of up to 100 keys.
async fn load_many(ctx: &Ctx<'_>, kind: ResourceKind, ids: &[String]) -> ScimResult<Vec<Stored>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(MAX_BATCH_GET) {
        let keys: Vec<_> = chunk
            .iter()
            .map(|id| keys::resource(ctx.tenant, kind, id))
            .collect();
        for item in ctx.store.batch_get(&keys).await? {
            out.push(Stored::from_item(kind, &item)?);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Every resource whose externalId is `value` (case-exact), from the externalId index: one
/// Query of the value's partition, then the resources. An index item whose resource no longer
/// holds the value is passed over (the filter is checked again on every candidate).
async fn lookup_external_id(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    value: &str,
) -> ScimResult<Vec<Stored>> {
    let pk = keys::external_id_pk(ctx.tenant, kind, value);
    let entries = members::query_all(ctx, Query::new(Index::Primary, pk, "", 1000)).await?;
    let ids: BTreeSet<String> = entries
        .iter()
        .filter_map(|e| {
            if e.key.sk != keys::ITEM {
                return Some(e.key.sk.clone());
            }
            // A marker of the time externalId was unique: the id is in its body.
            serde_json::from_str::<Value>(&e.body)
                .ok()
                .and_then(|b| b["id"].as_str().map(str::to_string))
        })
        .collect();
    let ids: Vec<String> = ids.into_iter().collect();
    load_many(ctx, kind, &ids).await
}

/// Resolves a unique value (or an id, when `unique` is None) to the resource holding it.
pub(super) async fn lookup(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    unique: Option<Unique>,
    value: &str,
) -> ScimResult<Vec<Stored>> {
    let id = match unique {
        None => value.to_string(),
        Some(u) => match ctx.store.get(&u.marker(ctx.tenant, value)).await? {
            Some(marker) => match serde_json::from_str::<Value>(&marker.body)
                .ok()
                .and_then(|b| b["id"].as_str().map(str::to_string))
            {
                Some(id) => id,
                None => return Ok(Vec::new()),
            },
            None => return Ok(Vec::new()),
        },
    };
    match load(ctx, kind, &id).await {
        Ok(s) => Ok(vec![s]),
        Err(ScimError::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Reads `count` resources after skipping `skip`, in listing (creation) order, starting from
/// the nearest checkpoint at or before position `skip` and recording the checkpoints it passes.
async fn read_listing(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    skip: usize,
    count: usize,
) -> ScimResult<Vec<Stored>> {
    let listing = keys::listing(ctx.tenant, kind);
    let now = crate::protocol::clock::now().unix_timestamp();
    let mut q = Query::new(Index::Gsi1, listing.clone(), "", INDEX_PAGE);
    // Position (1-based) of the last item before the next one read.
    let mut position = 0;
    if skip >= CHECKPOINT_STRIDE
        && let Some((at, id)) = checkpoint_before(ctx, kind, skip, now).await?
    {
        position = at;
        q.start_after = Some(PageKey {
            key: keys::resource(ctx.tenant, kind, &id),
            gsi1: Some(Key::new(listing.clone(), id)),
        });
    }
    let mut out = Vec::with_capacity(count);
    let mut passed = Vec::new();
    let from = position;
    loop {
        q.limit = (skip + count - position).min(INDEX_PAGE);
        let page = ctx.store.query(&q).await?;
        for item in &page.items {
            position += 1;
            if position % CHECKPOINT_STRIDE == 0
                && position > from
                && let Some(g) = &item.gsi1
            {
                passed.push((position, g.sk.clone()));
            }
            if position > skip && out.len() < count {
                out.push(Stored::from_item(kind, item)?);
            }
        }
        match page.next {
            Some(n) if out.len() < count => q.start_after = Some(n),
            _ => break,
        }
    }
    record_checkpoints(ctx, kind, &passed, now).await;
    Ok(out)
}

/// The sort key of the checkpoint at a position.
fn checkpoint_sk(position: usize) -> String {
    format!("{position:010}")
}

/// The live checkpoint with the highest position at or before `skip`: (position, id there).
async fn checkpoint_before(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    skip: usize,
    now: i64,
) -> ScimResult<Option<(usize, String)>> {
    let pk = keys::listing_checkpoints(ctx.tenant, kind);
    let mut q = Query::new(Index::Primary, pk.clone(), "", 1);
    q.forward = false;
    q.start_after = Some(PageKey {
        key: Key::new(pk, checkpoint_sk(skip + 1)),
        gsi1: None,
    });
    let page = ctx.store.query(&q).await?;
    Ok(page.items.into_iter().find_map(|i| {
        let live = i.expires_at.is_none_or(|t| t > now);
        let at = i.key.sk.parse::<usize>().ok()?;
        (live && !i.body.is_empty()).then_some((at, i.body))
    }))
}

/// Writes checkpoints (position, id) with a TTL. A failure only costs a later request a longer
/// read, so it is logged and not returned.
async fn record_checkpoints(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    passed: &[(usize, String)],
    now: i64,
) {
    let pk = keys::listing_checkpoints(ctx.tenant, kind);
    for chunk in passed.chunks(MAX_TRANSACTION_WRITES) {
        let writes = chunk
            .iter()
            .map(|(at, id)| Write::Put {
                item: Item {
                    key: Key::new(pk.clone(), checkpoint_sk(*at)),
                    body: id.clone(),
                    expires_at: Some(now + CHECKPOINT_TTL_SECONDS),
                    ..Item::default()
                },
                condition: Condition::None,
            })
            .collect();
        if let Err(e) = ctx.store.transact(writes).await {
            tracing::warn!(tenant = ctx.tenant, error = %e, "listing checkpoints not written");
        }
    }
}

/// Every resource of a kind that matches, reading at most `max_filter_scan` of them.
async fn scan(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    filter: Option<&Filter>,
) -> ScimResult<Vec<Stored>> {
    let rt = ResourceType::of(kind);
    let mut q = Query::new(Index::Gsi1, keys::listing(ctx.tenant, kind), "", INDEX_PAGE);
    let mut out = Vec::new();
    let mut seen = 0;
    loop {
        let page = ctx.store.query(&q).await?;
        seen += page.items.len();
        if seen > ctx.limits.max_filter_scan {
            return Err(ScimError::TooMany(format!(
                "this filter would examine more than {} resources; filter by id, userName, externalId or displayName with eq",
                ctx.limits.max_filter_scan
            )));
        }
        for item in &page.items {
            let stored = Stored::from_item(kind, item)?;
            if filter.is_none_or(|f| f.matches(rt, &stored.served(ctx, None))) {
                out.push(stored);
            }
        }
        match page.next {
            Some(n) => q.start_after = Some(n),
            None => return Ok(out),
        }
    }
}

/// Sorts by an attribute (RFC 7644 §3.4.2.3): resources without a value sort last in ascending
/// order and first in descending order; a multi-valued attribute sorts by its primary value.
fn sort(rt: &ResourceType, path: &AttrPath, descending: bool, items: Vec<Stored>) -> Vec<Stored> {
    let Some(resolved) = rt.resolve(path) else {
        return items;
    };
    let (attr, sub) = match (resolved.attr.multi_valued, resolved.attr.ty) {
        (true, AttrType::Complex) => {
            let sub = resolved
                .sub
                .or_else(|| resolved.attr.sub_attribute("value"));
            let Some(sub) = sub else { return items };
            (sub, Some(sub.name))
        }
        _ => (resolved.target(), None),
    };
    let mut keyed: Vec<(Option<Value>, Stored)> = items
        .into_iter()
        .map(|s| (sort_value(rt, &s.doc, path, sub).cloned(), s))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        let o = match (a, b) {
            (Some(x), Some(y)) => filter::compare_values(attr, x, y).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if descending { o.reverse() } else { o }
    });
    keyed.into_iter().map(|(_, s)| s).collect()
}

/// The value a resource sorts by: for a multi-valued complex attribute, the `sub` of its primary
/// element (or of its first element when none is primary).
fn sort_value<'a>(
    rt: &ResourceType,
    doc: &'a Value,
    path: &AttrPath,
    sub: Option<&str>,
) -> Option<&'a Value> {
    let Some(sub) = sub else {
        return filter::values_at(rt, doc, path).into_iter().next();
    };
    let whole = AttrPath {
        sub: None,
        ..path.clone()
    };
    let elements = filter::values_at(rt, doc, &whole);
    let chosen = elements
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or(elements.first())?;
    chosen.get(sub)
}

/// The attribute derived from membership items: a user's `groups`, a group's `members`.
fn derived_attribute(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "groups",
        ResourceKind::Group => "members",
    }
}

/// Whether a filter names the top-level attribute `name`.
fn references(f: &Filter, name: &str) -> bool {
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) | Filter::ValuePath { path, .. } => {
            path.name.eq_ignore_ascii_case(name)
        }
        Filter::And(a, b) | Filter::Or(a, b) => references(a, name) || references(b, name),
        Filter::Not(a) => references(a, name),
    }
}
