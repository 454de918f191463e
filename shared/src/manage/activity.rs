//! A tenant's activity over the management API: its lifecycle events, to replay what a consumer
//! missed, and its audit log. Both are read from their day partitions over a time window
//! (`since`, default one day back; `until`, default now; at most [`MAX_WINDOW_DAYS`] days) and
//! paged by an opaque `cursor`: every answer carries the cursor of its last item, so reading on
//! with it yields only items after that one (the same item is never given twice). A request in
//! flight may still store items that sort before a cursor ([`IN_FLIGHT`]).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::{ManageError, ManageRequest, ManageResponse, live_tenant};
use crate::audit::{self, AuditRecord};
use crate::events::outbox;
use crate::protocol::clock;
use crate::store::Store;

/// The widest time window one request reads: one store query per day.
pub const MAX_WINDOW_DAYS: i64 = 92;

/// How long a request may run between the time it stamps on its events and their storing (the
/// functions' longest timeout, a Bulk request's, rounded up). An item is ordered by that time,
/// so a read may find, later, items older than the newest it returned; a feed that must miss
/// nothing reads again this far back and skips the ids it has (docs/management-api.md).
pub const IN_FLIGHT: Duration = Duration::seconds(30);

/// `GET …/events`: `since`, `until`, `after` (an event id: the events after it), `cursor`,
/// `limit`.
pub(super) async fn events(
    store: &dyn Store,
    tenant: &str,
    req: &ManageRequest,
) -> Result<ManageResponse, ManageError> {
    if req.param("after").is_some() && req.param("cursor").is_some() {
        return Err(ManageError::BadRequest(
            "give either after (an event id) or cursor, not both".into(),
        ));
    }
    let (cursor, since, until) = opening(store, tenant, req).await?;
    let stored = outbox::read(store, tenant, since, until).await?;
    let after = match (req.param("after"), cursor) {
        (Some(id), _) => Some(
            stored
                .iter()
                .find(|s| s.event.id == id)
                .map(|s| s.position.clone())
                .ok_or_else(|| {
                    ManageError::NotFound(format!(
                        "event '{id}' is not among the tenant's events from {} to {}; \
                         give an earlier since",
                        clock::format(since),
                        clock::format(until)
                    ))
                })?,
        ),
        (None, cursor) => cursor,
    };
    let page = Page::of(
        stored.into_iter().map(|s| (s.position, s.event)),
        after,
        req.limit()?,
    );
    Ok(page.response("events"))
}

/// `GET …/audit`: `since`, `until`, `status` (a number, or `failed` for 400 and above),
/// `operation` (`PatchUser`, …), `cursor`, `limit`.
pub(super) async fn audit(
    store: &dyn Store,
    tenant: &str,
    req: &ManageRequest,
) -> Result<ManageResponse, ManageError> {
    let (cursor, since, until) = opening(store, tenant, req).await?;
    let status = match req.param("status") {
        None => None,
        Some("failed") => Some(StatusFilter::Failed),
        Some(s) => Some(StatusFilter::Exactly(s.parse().map_err(|_| {
            ManageError::BadRequest(format!(
                "status must be an HTTP status or 'failed', not '{s}'"
            ))
        })?)),
    };
    let operation = req.param("operation");
    let records = audit::read(store, tenant, since, until).await?;
    let matching = records.into_iter().filter(|r| {
        status.is_none_or(|s| s.matches(r)) && operation.is_none_or(|o| r.operation == o)
    });
    let page = Page::of(
        matching.filter_map(|r| Some((audit_position(&r)?, r))),
        cursor,
        req.limit()?,
    );
    Ok(page.response("records"))
}

#[derive(Debug, Clone, Copy)]
enum StatusFilter {
    Failed,
    Exactly(u16),
}

impl StatusFilter {
    fn matches(self, r: &AuditRecord) -> bool {
        match self {
            StatusFilter::Failed => r.failed(),
            StatusFilter::Exactly(s) => r.status == s,
        }
    }
}

/// An audit record's place in its log: its sort key (sortable time, then request id).
fn audit_position(r: &AuditRecord) -> Option<String> {
    let at = clock::parse_datetime(&r.time)?;
    Some(format!("{}#{}", clock::format_sortable(at), r.request_id))
}

/// The sortable time a position starts with, after its partition (`{pk}|`), if it has one.
fn position_time(position: &str) -> Option<OffsetDateTime> {
    let after_partition = position.rsplit_once('|').map_or(position, |(_, rest)| rest);
    clock::parse_datetime(after_partition.split('#').next()?)
}

/// What every read checks first: the tenant is live, the cursor is one this API gave, the window
/// is valid. The decoded cursor and the window.
async fn opening(
    store: &dyn Store,
    tenant: &str,
    req: &ManageRequest,
) -> Result<(Option<String>, OffsetDateTime, OffsetDateTime), ManageError> {
    live_tenant(store, tenant).await?;
    let cursor = cursor(req)?;
    let (since, until) = window(req, cursor.as_deref())?;
    Ok((cursor, since, until))
}

/// The decoded `cursor` parameter.
fn cursor(req: &ManageRequest) -> Result<Option<String>, ManageError> {
    let Some(given) = req.param("cursor") else {
        return Ok(None);
    };
    let invalid = || ManageError::BadRequest(format!("cursor '{given}' is not one this API gave"));
    let bytes = URL_SAFE_NO_PAD.decode(given).map_err(|_| invalid())?;
    let position = String::from_utf8(bytes).map_err(|_| invalid())?;
    position_time(&position).ok_or_else(invalid)?;
    Ok(Some(position))
}

/// The time window of a read: `since` (or the cursor's time), `until`, at most
/// [`MAX_WINDOW_DAYS`] apart. `since` and `until` take an RFC 3339 time, a day or an age.
pub(super) fn window(
    req: &ManageRequest,
    cursor: Option<&str>,
) -> Result<(OffsetDateTime, OffsetDateTime), ManageError> {
    let now = clock::now();
    let time = |name: &str, default: OffsetDateTime| match req.param(name) {
        None => Ok(default),
        Some(s) => clock::parse_since(s, now).ok_or_else(|| {
            ManageError::BadRequest(format!(
                "{name} '{s}': give an RFC 3339 time, a day (2026-11-23) or an age (30m, 12h, 7d)"
            ))
        }),
    };
    // A cursor carries its own start: a poller whose cursor is older than the default window
    // still gets everything after it.
    let at = cursor.and_then(position_time);
    let until = time("until", now)?;
    let since = match (req.param("since"), at) {
        // An item written a moment "after" `until` by another clock: nothing newer yet.
        (Some(_), Some(at)) => time("since", now)?.max(at).min(until),
        (None, Some(at)) => at.min(until),
        (_, None) => time("since", now - Duration::days(1))?,
    };
    if since > until {
        return Err(ManageError::BadRequest(format!(
            "since ({}) is after until ({})",
            clock::format(since),
            clock::format(until)
        )));
    }
    if until - since > Duration::days(MAX_WINDOW_DAYS) {
        return Err(ManageError::BadRequest(format!(
            "since and until are more than {MAX_WINDOW_DAYS} days apart; read the time in \
             windows of at most {MAX_WINDOW_DAYS} days"
        )));
    }
    Ok((since, until))
}

/// One page of positioned items.
struct Page<T> {
    items: Vec<T>,
    /// The position of the last item given, or the cursor given when the page is empty.
    last: Option<String>,
    more: bool,
}

impl<T: serde::Serialize> Page<T> {
    /// The first `limit` items after position `after` (positions ascend).
    fn of(
        positioned: impl Iterator<Item = (String, T)>,
        after: Option<String>,
        limit: usize,
    ) -> Page<T> {
        let mut later = positioned.filter(|(p, _)| after.as_ref().is_none_or(|a| p > a));
        let mut items = Vec::new();
        let mut last = after.clone();
        for (position, item) in later.by_ref().take(limit) {
            items.push(item);
            last = Some(position);
        }
        Page {
            items,
            last,
            more: later.next().is_some(),
        }
    }

    /// `{"<name>": [...], "cursor": "...", "more": bool}`.
    fn response(self, name: &str) -> ManageResponse {
        let mut body = serde_json::Map::new();
        body.insert(name.to_string(), json!(self.items));
        if let Some(last) = self.last {
            body.insert(
                "cursor".into(),
                Value::String(URL_SAFE_NO_PAD.encode(last.as_bytes())),
            );
        }
        body.insert("more".into(), Value::Bool(self.more));
        ManageResponse::json(200, &Value::Object(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_starts_after_its_cursor_and_says_whether_more_follow() {
        let items = || (1..=5).map(|n| (format!("p{n}"), n));
        let first = Page::of(items(), None, 2);
        assert_eq!(first.items, [1, 2]);
        assert_eq!(first.last.as_deref(), Some("p2"));
        assert!(first.more);
        let last = Page::of(items(), first.last, 3);
        assert_eq!(last.items, [3, 4, 5]);
        assert!(!last.more);
        let empty = Page::of(items(), last.last, 3);
        assert!(empty.items.is_empty());
        assert_eq!(empty.last.as_deref(), Some("p5"), "polling keeps its place");
    }

    #[test]
    fn positions_carry_their_time() {
        let t = clock::parse_datetime("2026-01-02T03:04:05.006Z");
        assert_eq!(
            position_time("T#acme#OUT#2026-01-02|2026-01-02T03:04:05.006Z#r1#0/00000"),
            t
        );
        assert_eq!(position_time("2026-01-02T03:04:05.006Z#r1"), t);
        assert_eq!(position_time("garbage"), None);
    }
}
