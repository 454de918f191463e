//! Announcing changes: the lifecycle events of a change are computed before it is written and
//! committed in the same transaction as the change, as outbox items ([`crate::events::outbox`]). A change
//! that is stored has its events stored; a write that fails stores neither, whatever moment the
//! process dies at.
//!
//! An operation given no [`Announcer`] (tools that replay deletions, reads) announces nothing.

use time::OffsetDateTime;

use super::Ctx;
use super::effective_roles;
use crate::events::lifecycle::{self, AttributeChange, Change, Event, Origin};
use crate::events::outbox::{self, Delivery};
use crate::protocol::clock;
use crate::protocol::error::ScimResult;
use crate::store::Write;
use crate::tenant::Deactivation;

/// Who announces a request's changes, and how: the same for every change of the request.
#[derive(Debug, Clone, Copy)]
pub struct Announcer<'a> {
    /// Who caused the changes (`idp:{dialect}`, `scimctl`).
    pub actor: &'a str,
    /// The request's id, part of its outbox items' keys.
    pub request_id: &'a str,
    /// The request's time, stamped on its events.
    pub at: OffsetDateTime,
    /// The tenant's policy for IdP deactivations.
    pub deactivation: Deactivation,
    /// Who delivers the stored events.
    pub delivery: Delivery,
}

/// A change as committed, with the events stored with it.
#[derive(Debug, Clone)]
pub struct Committed {
    pub change: Change,
    pub events: Vec<Event>,
}

/// Events and the outbox writes that store them, to be committed with their change.
#[derive(Debug, Default)]
pub(super) struct Announced {
    pub events: Vec<Event>,
    pub writes: Vec<Write>,
}

impl Announced {
    /// The committed change.
    pub fn committed(self, change: Change) -> Committed {
        Committed {
            change,
            events: self.events,
        }
    }
}

/// The events of `change` (see [`lifecycle::diff`]) with the effective-role changes it causes
/// and the tenant's deactivation policy applied, and their outbox writes; nothing without an
/// announcer or when the change gives no event.
pub(super) async fn change(ctx: &Ctx<'_>, change: &Change) -> ScimResult<Announced> {
    let roles = role_changes(ctx, change).await?;
    Ok(with_roles(ctx, change, roles))
}

/// The effective-role changes `change` causes (reads only when they can matter, see
/// [`effective_roles`]); they do not depend on the change's version, so a write retried after
/// a lost race computes them once.
pub(super) async fn role_changes(
    ctx: &Ctx<'_>,
    change: &Change,
) -> ScimResult<Vec<(String, AttributeChange)>> {
    if ctx.announcer.is_none() {
        return Ok(Vec::new());
    }
    effective_roles::changes_of(ctx, std::slice::from_ref(change)).await
}

/// [`change`] with its effective-role changes already known: no store call.
pub(super) fn with_roles(
    ctx: &Ctx<'_>,
    change: &Change,
    roles: Vec<(String, AttributeChange)>,
) -> Announced {
    let Some(a) = ctx.announcer else {
        return Announced::default();
    };
    let time = clock::format(a.at);
    let origin = a.origin(ctx.tenant, &time);
    let mut events = lifecycle::diff(origin, change);
    effective_roles::attach(roles, &mut events);
    if a.deactivation == Deactivation::Emergency {
        lifecycle::escalate_deactivations(ctx.tenant, &mut events);
    }
    a.store(ctx.tenant, events)
}

/// The emergency leaver of an Emergency Logout ([`lifecycle::emergency_leaver`]) with the
/// effective roles the user lost with its groups, and its outbox writes.
pub(super) async fn emergency(
    ctx: &Ctx<'_>,
    user: &Change,
    groups: &[String],
) -> ScimResult<Announced> {
    let Some(a) = ctx.announcer else {
        return Ok(Announced::default());
    };
    let time = clock::format(a.at);
    let mut event = lifecycle::emergency_leaver(a.origin(ctx.tenant, &time), user, groups);
    event
        .changes
        .extend(effective_roles::lost_with_groups(ctx, user, groups).await?);
    Ok(a.store(ctx.tenant, vec![event]))
}

impl<'a> Announcer<'a> {
    /// The origin stamped on events; `time` is [`Self::at`] formatted.
    pub fn origin<'o>(&'o self, tenant: &'o str, time: &'o str) -> Origin<'o> {
        Origin {
            tenant,
            actor: self.actor,
            time,
        }
    }

    /// `events` with the outbox writes that store them.
    pub(super) fn store(&self, tenant: &str, events: Vec<Event>) -> Announced {
        let writes = outbox::writes(tenant, self.request_id, self.at, &events, self.delivery);
        Announced { events, writes }
    }
}
