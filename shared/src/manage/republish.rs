//! Republishing a tenant's events (`POST …/events/republish`): the redrive of events their
//! consumer never got, because the events function gave up on their stream records (the failure
//! queue's alarm), or a local server's webhook was down or the server stopped before delivering.
//! The outbox's events of a time window (`since`, `until`, as for reading them) go to the
//! publisher again, in order and with their stable ids: a consumer that got some of them already
//! deduplicates on `id` (at least once, docs/events.md).

use serde_json::json;

use super::activity::window;
use super::{ManageError, ManageRequest, ManageResponse, live_tenant};
use crate::events::lifecycle::Event;
use crate::events::publish::{self, Publisher};
use crate::events::{Retry, outbox};
use crate::store::Store;

/// At most this many failures are named in the answer.
const NAMED_FAILURES: usize = 10;

pub(super) async fn republish(
    store: &dyn Store,
    publisher: &dyn Publisher,
    tenant: &str,
    req: &ManageRequest,
) -> Result<ManageResponse, ManageError> {
    live_tenant(store, tenant).await?;
    let (since, until) = window(req, None)?;
    let events: Vec<Event> = outbox::read(store, tenant, since, until)
        .await?
        .into_iter()
        .map(|s| s.event)
        .collect();
    let mut republished = 0;
    let mut failures = Vec::new();
    for call in publish::calls(&events) {
        let chunk = &events[call];
        let outcome = publish::put_with_retries(publisher, chunk, Retry::default()).await;
        for (event, result) in chunk.iter().zip(outcome) {
            match result {
                Ok(()) => republished += 1,
                Err(e) => failures.push(json!({"id": event.id, "error": e.to_string()})),
            }
        }
    }
    let failed = failures.len();
    failures.truncate(NAMED_FAILURES);
    Ok(ManageResponse::json(
        200,
        &json!({
            "tenant": tenant,
            "since": crate::protocol::clock::format(since),
            "until": crate::protocol::clock::format(until),
            "republished": republished,
            "failed": failed,
            "failures": failures,
        }),
    ))
}
