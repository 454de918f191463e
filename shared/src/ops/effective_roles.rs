//! Effective roles in action (role-based provisioning, [`crate::roles`]): which users' effective
//! roles a request changed, reported on their lifecycle events as an `effectiveRoles` change, and
//! the administration of a tenant's rules.
//!
//! Reads happen only when a change can matter: a user's `roles` attribute changed (the rules and,
//! when there are rules, the user's group edges), or a request added or removed users of a group
//! (the rules and, when the group has a rule, one Query per such user). A created user has no
//! groups yet: its effective roles are its `roles`, no read needed. Other requests read nothing.

use std::collections::BTreeSet;

use super::Ctx;
use super::announce::Announcer;
use super::list::lookup;
use super::members;
use super::resources::load_with_edges;
use crate::events::lifecycle::{self, AttributeChange, Change, Event};
use crate::protocol::clock;
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::schema::ResourceKind;
use crate::roles::{self, RoleRule, RoleRules, RolesError};
use crate::store::keys::{self, Unique};
use crate::store::{MAX_TRANSACTION_BYTES, MAX_TRANSACTION_WRITES, Write};

impl From<RolesError> for ScimError {
    fn from(e: RolesError) -> Self {
        match e {
            RolesError::Store(e) => e.into(),
            RolesError::NoRoles => ScimError::InvalidValue(e.to_string()),
            RolesError::Concurrent => ScimError::Unavailable(e.to_string()),
            RolesError::Corrupt(_) => {
                tracing::error!(error = %e, "role rules unreadable");
                ScimError::Internal("the role rules could not be read".into())
            }
        }
    }
}

/// The rules, read at most once per request.
struct Rules<'c> {
    ctx: &'c Ctx<'c>,
    loaded: Option<RoleRules>,
}

impl<'c> Rules<'c> {
    async fn get(&mut self) -> ScimResult<&RoleRules> {
        if self.loaded.is_none() {
            self.loaded = Some(roles::load(self.ctx.store, self.ctx.tenant).await?);
        }
        Ok(self.loaded.get_or_insert_with(RoleRules::default))
    }
}

/// The ids of the groups a user belongs to, from its edge items.
fn group_ids(edges: &[crate::store::Item]) -> BTreeSet<String> {
    edges
        .iter()
        .filter_map(|e| keys::edge_group(&e.key).map(str::to_string))
        .collect()
}

/// The users whose effective roles `changes` changed, with the change: at most one per user.
pub async fn changes_of(
    ctx: &Ctx<'_>,
    changes: &[Change],
) -> ScimResult<Vec<(String, AttributeChange)>> {
    let mut rules = Rules { ctx, loaded: None };
    let mut found = Vec::new();
    for c in changes {
        match (c.kind, &c.old, &c.new) {
            (ResourceKind::User, None, Some(new)) => {
                let after = roles::attribute_roles(new);
                if let Some(ch) = roles::change(&BTreeSet::new(), &after) {
                    found.push((c.id.clone(), ch));
                }
            }
            (ResourceKind::User, Some(old), Some(new))
                if roles::attribute_roles(old) != roles::attribute_roles(new) =>
            {
                let rules = rules.get().await?;
                let groups = if rules.is_empty() {
                    BTreeSet::new()
                } else {
                    group_ids(&members::group_edges(ctx, ResourceKind::User, &c.id).await?)
                };
                let groups = || groups.iter().map(String::as_str);
                let before = roles::effective(old, groups(), rules);
                let after = roles::effective(new, groups(), rules);
                if let Some(ch) = roles::change(&before, &after) {
                    found.push((c.id.clone(), ch));
                }
            }
            (ResourceKind::Group, _, _) => {
                let users = |m: &[(String, ResourceKind)]| -> Vec<String> {
                    m.iter()
                        .filter(|(_, k)| *k == ResourceKind::User)
                        .map(|(id, _)| id.clone())
                        .collect()
                };
                let (added, removed) = (users(&c.members_added), users(&c.members_removed));
                if added.is_empty() && removed.is_empty() {
                    continue;
                }
                let rules = rules.get().await?;
                if rules.of_group(&c.id).is_none() {
                    continue;
                }
                for (user, joined) in added
                    .iter()
                    .map(|u| (u, true))
                    .chain(removed.iter().map(|u| (u, false)))
                {
                    let (stored, edges) = match load_with_edges(ctx, ResourceKind::User, user).await
                    {
                        Ok(found) => found,
                        // Deleted since: its leaver says it all.
                        Err(ScimError::NotFound(_)) => continue,
                        Err(e) => return Err(e),
                    };
                    let mut without = group_ids(&edges);
                    without.remove(&c.id);
                    let with = without.iter().chain(std::iter::once(&c.id));
                    let with = roles::effective(&stored.doc, with.map(String::as_str), rules);
                    let without =
                        roles::effective(&stored.doc, without.iter().map(String::as_str), rules);
                    let change = if joined {
                        roles::change(&without, &with)
                    } else {
                        roles::change(&with, &without)
                    };
                    if let Some(ch) = change {
                        found.push((user.clone(), ch));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(found)
}

/// Adds each user's effective-role change to that user's event of the request.
pub fn attach(found: Vec<(String, AttributeChange)>, events: &mut [Event]) {
    for (user, change) in found {
        if let Some(e) = events
            .iter_mut()
            .find(|e| e.resource.resource_type == "User" && e.resource.id == user)
        {
            e.changes.push(change);
        }
    }
}

/// The effective roles a user lost by leaving `groups` (Emergency Logout); `None` when the rules
/// granted nothing it keeps no other way. Reads the rules only when it left a group.
pub async fn lost_with_groups(
    ctx: &Ctx<'_>,
    user: &Change,
    groups: &[String],
) -> ScimResult<Option<AttributeChange>> {
    let (Some(old), Some(new), false) = (&user.old, &user.new, groups.is_empty()) else {
        return Ok(None);
    };
    let rules = roles::load(ctx.store, ctx.tenant).await?;
    let before = roles::effective(old, groups.iter().map(String::as_str), &rules);
    let after = roles::effective(new, [], &rules);
    Ok(roles::change(&before, &after))
}

/// A rule set or removed, and the movers of the group's members whose effective roles changed.
#[derive(Debug, Clone)]
pub struct RuleUpdate {
    /// The rule as set, or as it was before removal (`None`: there was none to remove).
    pub rule: Option<RoleRule>,
    pub events: Vec<Event>,
}

/// The group a rule names: by id, else by displayName. 404 when neither matches.
async fn resolve_group(ctx: &Ctx<'_>, group: &str) -> ScimResult<(String, String)> {
    let by_id = lookup(ctx, ResourceKind::Group, None, group).await?;
    let found = match by_id.into_iter().next() {
        Some(g) => Some(g),
        None => lookup(
            ctx,
            ResourceKind::Group,
            Some(Unique::GroupDisplayName),
            group,
        )
        .await?
        .into_iter()
        .next(),
    };
    let g = found.ok_or_else(|| {
        ScimError::NotFound(format!("no group has the id or displayName '{group}'"))
    })?;
    let name = g.doc["displayName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok((g.id, name))
}

/// Sets the rule of `group` (id or displayName) to grant `grant`, or removes it when `grant` is
/// `None`, and returns the movers of the members whose effective roles changed (one Query per
/// member: the rules apply to the whole group), announced by `announcer`. The rules and the
/// movers are stored in one transaction when they fit in one (up to about 10,000 movers), else
/// the rules first and the movers' outbox items after them.
pub async fn update_rule(
    ctx: &Ctx<'_>,
    announcer: &Announcer<'_>,
    group: &str,
    grant: Option<BTreeSet<String>>,
) -> ScimResult<RuleUpdate> {
    let before = roles::load(ctx.store, ctx.tenant).await?;
    let mut after = before.clone();
    let (group_id, rule) = match grant {
        Some(roles) => {
            let (id, display_name) = resolve_group(ctx, group).await?;
            let rule = RoleRule {
                group: id.clone(),
                display_name,
                roles,
            };
            after.set(rule.clone());
            (id, Some(rule))
        }
        None => {
            // A rule may outlive its group: match the stored id or displayName first.
            let id = match before
                .rules
                .iter()
                .find(|r| r.group == group || r.display_name.eq_ignore_ascii_case(group))
            {
                Some(r) => r.group.clone(),
                None => resolve_group(ctx, group).await?.0,
            };
            let removed = after.remove(&id);
            if removed.is_none() {
                return Ok(RuleUpdate {
                    rule: None,
                    events: Vec::new(),
                });
            }
            (id, removed)
        }
    };
    let (_, revision) = roles::write_of(ctx.tenant, &after)?;
    let time = clock::format(announcer.at);
    let origin = announcer.origin(ctx.tenant, &time);
    let mut events = Vec::new();
    for (kind, user) in members::read_edges(ctx, &group_id).await? {
        if kind != ResourceKind::User {
            continue;
        }
        let (stored, edges) = match load_with_edges(ctx, ResourceKind::User, &user).await {
            Ok(found) => found,
            Err(ScimError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let groups = group_ids(&edges);
        let groups = || groups.iter().map(String::as_str);
        let b = roles::effective(&stored.doc, groups(), &before);
        let a = roles::effective(&stored.doc, groups(), &after);
        if let Some(change) = roles::change(&b, &a) {
            let cause = format!("roles@{revision}");
            events.push(lifecycle::role_mover(origin, &user, &cause, change));
        }
    }
    let announced = announcer.store(ctx.tenant, events);
    let bytes: usize = announced.writes.iter().map(Write::size).sum();
    if announced.writes.len() < MAX_TRANSACTION_WRITES && bytes < MAX_TRANSACTION_BYTES / 2 {
        roles::save_with(ctx.store, ctx.tenant, &after, announced.writes).await?;
    } else {
        roles::save(ctx.store, ctx.tenant, &after).await?;
        for write in announced.writes {
            ctx.store.transact(vec![write]).await?;
        }
    }
    Ok(RuleUpdate {
        rule,
        events: announced.events,
    })
}

/// A user's effective roles now: the rules, then one Query of its partition.
pub async fn of_user(ctx: &Ctx<'_>, user: &str) -> ScimResult<BTreeSet<String>> {
    let rules = roles::load(ctx.store, ctx.tenant).await?;
    let (stored, edges) = load_with_edges(ctx, ResourceKind::User, user).await?;
    let groups = group_ids(&edges);
    Ok(roles::effective(
        &stored.doc,
        groups.iter().map(String::as_str),
        &rules,
    ))
}
