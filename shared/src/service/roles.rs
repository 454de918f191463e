//! Role-rule administration: a rule set or removed, and the movers it causes.

use std::collections::BTreeSet;

use super::Service;
use crate::events::outbox::Delivery;
use crate::ops::effective_roles::{self, RuleUpdate};
use crate::ops::{Announcer, Ctx};
use crate::protocol::clock;
use crate::protocol::error::ScimResult;
use crate::tenant::Deactivation;

impl Service {
    /// Sets the role rule of a group (id or displayName) to grant `grant`, or removes it when
    /// `grant` is `None` ([`effective_roles::update_rule`]), and stores the movers of the members
    /// whose effective roles changed in the outbox (and hands them to its sink).
    pub async fn update_role_rule(
        &self,
        tenant: &str,
        group: &str,
        grant: Option<BTreeSet<String>>,
        actor: &str,
    ) -> ScimResult<RuleUpdate> {
        let request_id = uuid::Uuid::now_v7().to_string();
        let announcer = Announcer {
            actor,
            request_id: &request_id,
            at: clock::now(),
            deactivation: Deactivation::default(),
            delivery: Delivery::Outbox,
        };
        let ctx = Ctx::new(tenant, &*self.store, &self.limits);
        let update = effective_roles::update_rule(&ctx, &announcer, group, grant).await?;
        if let Some(sink) = self.sink.as_ref().filter(|_| !update.events.is_empty()) {
            sink.publish(tenant, update.events.clone());
        }
        Ok(update)
    }
}
