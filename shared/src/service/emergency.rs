//! Emergency Logout by an operator: the one-step offboarding, its audit record, and the
//! emergency leaver its caller delivers before answering.

use std::time::Instant;

use super::{Caller, Service};
use crate::audit::{self, AuditRecord};
use crate::events::lifecycle::{self, Event};
use crate::events::outbox::Delivery;
use crate::ops::{self, Announcer, Ctx};
use crate::protocol::clock;
use crate::protocol::error::{ScimError, ScimResult};
use crate::store::Metered;

impl Service {
    /// Emergency Logout of a user by an operator (`actor`, e.g. `scimctl`): deactivates it and
    /// removes its group memberships in one step ([`ops::emergency_logout`]), writes the audit
    /// record (operation `EmergencyLogout`) and the outbox item, and returns the emergency
    /// leaver. The caller delivers it synchronously before answering; its outbox item is stored
    /// as delivered ([`outbox::Delivery::Synchronous`]), so neither the local sink nor the stream's
    /// events function delivers it a second time.
    pub async fn emergency_logout(
        &self,
        caller: Caller<'_>,
        user_id: &str,
        actor: &str,
    ) -> ScimResult<Event> {
        let started = Instant::now();
        let metered = Metered::new(self.store.clone());
        let request_id = uuid::Uuid::now_v7().to_string();
        let at = clock::now();
        let announcer = Announcer {
            actor,
            request_id: &request_id,
            at,
            deactivation: caller.settings.deactivation,
            delivery: Delivery::Synchronous,
        };
        let ctx = Ctx::new(caller.tenant, &metered, &self.limits).announcing(announcer);
        let result = ops::emergency_logout(&ctx, user_id).await;
        let (status, scim_type, attributes) = match &result {
            Ok(l) => (200, None, lifecycle::changed_attributes(&l.user)),
            Err(e) => {
                let body = e.to_body();
                let t = body
                    .get("scimType")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                (e.status(), t, Vec::new())
            }
        };
        let record = AuditRecord {
            time: clock::format_sortable(at),
            request_id: request_id.clone(),
            tenant: caller.tenant.to_string(),
            operation: "EmergencyLogout".into(),
            resource_id: Some(user_id.to_string()),
            status,
            scim_type,
            latency_us: started.elapsed().as_micros() as u64,
            store_calls: metered.usage().calls,
            rules: Vec::new(),
            attributes,
            actor: actor.to_string(),
        };
        let retention = caller.settings.log_retention_days;
        if let Err(e) = audit::write(&*self.store, &record, at, retention).await {
            tracing::error!(tenant = caller.tenant, error = %e, "audit record not written");
        }
        let logout = result?;
        let event =
            logout.events.into_iter().next().ok_or_else(|| {
                ScimError::Internal("the emergency logout announced no event".into())
            })?;
        tracing::warn!(
            tenant = caller.tenant,
            operation = "EmergencyLogout",
            groups_left = logout.groups.len(),
            "emergency logout"
        );
        Ok(event)
    }
}
