//! Recording a provisioning request: its audit record, and its stored events handed to the
//! local sink.

use super::{Caller, Outcome, Service};
use crate::audit::{self, AuditRecord};
use crate::events::lifecycle::{self, Event};
use crate::ops::Announcer;
use crate::protocol::clock;
use crate::protocol::router::Operation;
use crate::store::Store;

impl Service {
    /// Writes a provisioning request's audit record (one single put) and hands its events,
    /// already stored with its changes, to the local sink. A failure to write the record is
    /// logged and does not change the response: the resource write has happened.
    pub(super) async fn record(
        &self,
        store: &dyn Store,
        caller: Caller<'_>,
        announcer: &Announcer<'_>,
        outcome: &Outcome,
        resource_id: Option<String>,
        latency_us: u64,
    ) {
        let tenant = caller.tenant;
        let at = announcer.at;
        let body = outcome.response.body.as_ref();
        let record = AuditRecord {
            time: clock::format_sortable(at),
            request_id: outcome.request_id.clone(),
            tenant: tenant.to_string(),
            operation: outcome.operation.map_or("unrouted", Operation::name).into(),
            resource_id: resource_id.or_else(|| outcome.changes.first().map(|c| c.id.clone())),
            status: outcome.response.status,
            scim_type: body
                .and_then(|b| b.get("scimType"))
                .and_then(|v| v.as_str())
                .map(str::to_string),
            latency_us,
            store_calls: outcome.usage.calls,
            rules: outcome.rules.iter().map(|r| r.to_string()).collect(),
            attributes: outcome
                .changes
                .iter()
                .flat_map(lifecycle::changed_attributes)
                .collect(),
            actor: announcer.actor.to_string(),
        };
        if let Err(e) = audit::write(store, &record, at, caller.settings.log_retention_days).await {
            tracing::error!(tenant, error = %e, "audit record not written");
        }
        // Emergency leavers are delivered by the gateway before it answers.
        if let Some(sink) = &self.sink {
            let routine: Vec<Event> = outcome
                .events
                .iter()
                .filter(|e| !e.emergency)
                .cloned()
                .collect();
            if !routine.is_empty() {
                sink.publish(tenant, routine);
            }
        }
    }
}
