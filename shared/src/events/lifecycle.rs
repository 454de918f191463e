//! Lifecycle events: what a provisioning change means for the vendor's product. [`diff`] is a
//! pure function from a resource's old and new state (and the membership edges a request wrote)
//! to events: joiner, mover, leaver, rehire for users; created, renamed, deleted, members added
//! and removed for groups. Event ids are derived from the change (tenant, resource, version), so
//! a change delivered twice yields the same ids and consumers can deduplicate.
//!
//! Events carry attribute values (the consumer needs them); logs and the audit trail carry only
//! attribute names ([`changed_attributes`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::protocol::schema::{ENTERPRISE_USER_SCHEMA, ResourceKind};

/// Attributes of the core User schema whose change makes a mover.
pub const MOVER_CORE: [&str; 4] = ["title", "userType", "roles", "entitlements"];
/// Attributes of the enterprise User extension whose change makes a mover.
pub const MOVER_ENTERPRISE: [&str; 5] = [
    "department",
    "division",
    "costCenter",
    "organization",
    "manager",
];

/// The kind of an event; serialized as its `type` (`joiner`, `group.renamed`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "joiner")]
    Joiner,
    #[serde(rename = "mover")]
    Mover,
    #[serde(rename = "leaver")]
    Leaver,
    #[serde(rename = "rehire")]
    Rehire,
    #[serde(rename = "group.created")]
    GroupCreated,
    #[serde(rename = "group.renamed")]
    GroupRenamed,
    #[serde(rename = "group.deleted")]
    GroupDeleted,
    #[serde(rename = "group.members_added")]
    GroupMembersAdded,
    #[serde(rename = "group.members_removed")]
    GroupMembersRemoved,
}

impl EventKind {
    /// The `type` of the event as serialized (also the EventBridge detail-type).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Joiner => "joiner",
            EventKind::Mover => "mover",
            EventKind::Leaver => "leaver",
            EventKind::Rehire => "rehire",
            EventKind::GroupCreated => "group.created",
            EventKind::GroupRenamed => "group.renamed",
            EventKind::GroupDeleted => "group.deleted",
            EventKind::GroupMembersAdded => "group.members_added",
            EventKind::GroupMembersRemoved => "group.members_removed",
        }
    }
}

/// Why a user left: the IdP deactivated it, deleted it, or an operator ran Emergency Logout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaveReason {
    Deactivated,
    Deleted,
}

/// The resource an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// `User` or `Group`.
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
    /// The resource's version after the change (for a delete, the deleted version + 1).
    pub version: u64,
}

/// One changed attribute: old and new value of a single-valued or replaced attribute, or the
/// values added to and removed from a membership (`groups` of a user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub attribute: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

impl AttributeChange {
    fn values(attribute: &str, old: Option<&Value>, new: Option<&Value>) -> Self {
        AttributeChange {
            attribute: attribute.to_string(),
            old: old.cloned(),
            new: new.cloned(),
            added: Vec::new(),
            removed: Vec::new(),
        }
    }
}

/// A lifecycle event, as published (outbox, webhook, EventBridge). See docs/events.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable: the same change always yields the same id.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub tenant: String,
    /// RFC 3339 time of the change.
    pub time: String,
    /// Who made the change: `idp:<dialect>` for a SCIM request, `scimctl` for an operator.
    pub actor: String,
    pub resource: Subject,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttributeChange>,
    /// Group events: the member ids added or removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<LeaveReason>,
    /// Set on the leaver of an Emergency Logout: act at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emergency: bool,
}

/// What one request did to one resource: the input of [`diff`]. Ops produce it; they do not
/// interpret it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: ResourceKind,
    pub id: String,
    /// The version after the change (a delete: the deleted version + 1).
    pub version: u64,
    /// The stored document before the change; `None` for a create.
    pub old: Option<Value>,
    /// The stored document after the change; `None` for a delete.
    pub new: Option<Value>,
    /// Members a group request added (member id, kind), in id order.
    pub members_added: Vec<(String, ResourceKind)>,
    /// Members a group request removed (member id, kind), in id order.
    pub members_removed: Vec<(String, ResourceKind)>,
}

/// Who caused a change and when: the context [`diff`] stamps on every event.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub tenant: &'a str,
    pub actor: &'a str,
    /// RFC 3339.
    pub time: &'a str,
}

/// The stable id of an event: SHA-256 over tenant, resource, version, kind and the subject of a
/// per-member event, shown as a UUID-shaped hex string.
pub fn event_id(
    tenant: &str,
    resource: &str,
    version: u64,
    kind: EventKind,
    member: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        tenant,
        resource,
        &version.to_string(),
        kind.as_str(),
        member,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let hex: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether a user document is active: a missing `active` counts as active (the account exists).
fn is_active(doc: &Value) -> bool {
    doc.get("active").and_then(Value::as_bool).unwrap_or(true)
}

/// The member of a stored user's `meta` that remembers it has been active once; never served
/// (see [`remember_activity`]).
pub const EVER_ACTIVE: &str = "everActive";

/// Whether a stored user document has been active once.
fn was_ever_active(doc: &Value) -> bool {
    doc.get("meta")
        .and_then(|m| m.get(EVER_ACTIVE))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Stamps a user document about to be stored with the memory of having been active, when it is
/// active now or `was_active` before, so that a later activation is a `rehire` and not a
/// `joiner`. The ops call it on every write of a user.
pub fn remember_activity(doc: &mut Value, was_active: bool) {
    if !(was_active || is_active(doc)) {
        return;
    }
    if let Some(meta) = doc.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert(EVER_ACTIVE.into(), Value::Bool(true));
    }
}

/// Whether a stored user document is or has been active (the `was_active` of
/// [`remember_activity`] for its next version).
pub fn has_been_active(doc: &Value) -> bool {
    is_active(doc) || was_ever_active(doc)
}

/// The value of a mover attribute, core or enterprise.
fn tracked<'v>(doc: Option<&'v Value>, name: &str) -> Option<&'v Value> {
    let doc = doc?;
    let v = if MOVER_CORE.contains(&name) {
        doc.get(name)
    } else {
        doc.get(ENTERPRISE_USER_SCHEMA).and_then(|e| e.get(name))
    };
    v.filter(|v| !v.is_null())
}

/// The mover attributes that differ between two user documents, with their values.
fn mover_changes(old: Option<&Value>, new: Option<&Value>) -> Vec<AttributeChange> {
    MOVER_CORE
        .iter()
        .chain(MOVER_ENTERPRISE.iter())
        .filter_map(|name| {
            let (a, b) = (tracked(old, name), tracked(new, name));
            (a != b).then(|| AttributeChange::values(name, a, b))
        })
        .collect()
}

fn ids(members: &[(String, ResourceKind)]) -> Vec<String> {
    members.iter().map(|(id, _)| id.clone()).collect()
}

/// The events of one change. Pure: the same input always gives the same output.
///
/// Users: created active, or activated for the first time → `joiner`; active → inactive →
/// `leaver` (reason `deactivated`); inactive → active after having been active → `rehire`;
/// deleted → `leaver` (reason `deleted`); otherwise a change of a mover attribute → `mover`. A
/// status event carries the mover attributes changed with it, so one request gives at most one
/// user event. A user created inactive (staged) gives no event until its first activation.
///
/// Groups: created, renamed (displayName), deleted, and members added / removed; every user
/// added to or removed from a group also gets a `mover` with the `groups` change.
pub fn diff(origin: Origin<'_>, change: &Change) -> Vec<Event> {
    let event = |kind: EventKind, subject: (&str, &str), member: &str| Event {
        id: event_id(origin.tenant, subject.1, change.version, kind, member),
        kind,
        tenant: origin.tenant.to_string(),
        time: origin.time.to_string(),
        actor: origin.actor.to_string(),
        resource: Subject {
            resource_type: subject.0.to_string(),
            id: subject.1.to_string(),
            version: change.version,
        },
        changes: Vec::new(),
        members: Vec::new(),
        reason: None,
        emergency: false,
    };
    let (old, new) = (change.old.as_ref(), change.new.as_ref());
    match change.kind {
        ResourceKind::User => {
            let me = ("User", change.id.as_str());
            // A deleted user's attributes are gone, not changed: its leaver lists none.
            let changes = if new.is_some() {
                mover_changes(old, new)
            } else {
                Vec::new()
            };
            let (kind, reason) = match (old, new) {
                (None, Some(n)) if is_active(n) => (EventKind::Joiner, None),
                (None, _) => return Vec::new(),
                (Some(_), None) => (EventKind::Leaver, Some(LeaveReason::Deleted)),
                (Some(o), Some(n)) => match (is_active(o), is_active(n)) {
                    (true, false) => (EventKind::Leaver, Some(LeaveReason::Deactivated)),
                    (false, true) if was_ever_active(o) => (EventKind::Rehire, None),
                    (false, true) => (EventKind::Joiner, None),
                    _ if changes.is_empty() => return Vec::new(),
                    _ => (EventKind::Mover, None),
                },
            };
            let mut e = event(kind, me, "");
            e.changes = changes;
            e.reason = reason;
            vec![e]
        }
        ResourceKind::Group => {
            let me = ("Group", change.id.as_str());
            let name = |d: Option<&Value>| d.and_then(|d| d.get("displayName")).cloned();
            let mut out = Vec::new();
            match (old, new) {
                (None, Some(_)) => out.push(event(EventKind::GroupCreated, me, "")),
                (Some(_), None) => out.push(event(EventKind::GroupDeleted, me, "")),
                (Some(_), Some(_)) if name(old) != name(new) => {
                    let mut e = event(EventKind::GroupRenamed, me, "");
                    e.changes = vec![AttributeChange::values(
                        "displayName",
                        name(old).as_ref(),
                        name(new).as_ref(),
                    )];
                    out.push(e);
                }
                _ => {}
            }
            for (kind, members) in [
                (EventKind::GroupMembersAdded, &change.members_added),
                (EventKind::GroupMembersRemoved, &change.members_removed),
            ] {
                if members.is_empty() {
                    continue;
                }
                let mut e = event(kind, me, "");
                e.members = ids(members);
                out.push(e);
                for (id, _) in members.iter().filter(|(_, k)| *k == ResourceKind::User) {
                    let mut m = event(EventKind::Mover, ("User", id), &change.id);
                    // The user's own version did not change: the event names the group's.
                    m.resource.version = 0;
                    let mut c = AttributeChange::values("groups", None, None);
                    if kind == EventKind::GroupMembersAdded {
                        c.added = vec![change.id.clone()];
                    } else {
                        c.removed = vec![change.id.clone()];
                    }
                    m.changes = vec![c];
                    out.push(m);
                }
            }
            out
        }
    }
}

/// The mover of a user whose effective roles changed without a request about the user (a role
/// rule of one of its groups was set or removed). Version 0 like a membership mover; the id is
/// derived from `cause` (the rules' new version).
pub fn role_mover(origin: Origin<'_>, user: &str, cause: &str, change: AttributeChange) -> Event {
    Event {
        id: event_id(origin.tenant, user, 0, EventKind::Mover, cause),
        kind: EventKind::Mover,
        tenant: origin.tenant.to_string(),
        time: origin.time.to_string(),
        actor: origin.actor.to_string(),
        resource: Subject {
            resource_type: "User".into(),
            id: user.to_string(),
            version: 0,
        },
        changes: vec![change],
        members: Vec::new(),
        reason: None,
        emergency: false,
    }
}

/// Marks every IdP deactivation among `events` as an emergency (the tenant's `deactivation`
/// policy is `emergency`): the leaver gets `emergency` and the id an Emergency Logout of the same
/// version would have. Deleted users are left alone: deletion is not the fast lane.
pub fn escalate_deactivations(tenant: &str, events: &mut [Event]) {
    for e in events.iter_mut().filter(|e| {
        e.kind == EventKind::Leaver && e.reason == Some(LeaveReason::Deactivated) && !e.emergency
    }) {
        e.emergency = true;
        e.id = event_id(
            tenant,
            &e.resource.id,
            e.resource.version,
            EventKind::Leaver,
            EMERGENCY,
        );
    }
}

/// The per-member part of an emergency leaver's id.
const EMERGENCY: &str = "emergency";

/// The leaver of an Emergency Logout: `emergency` set, reason `deactivated`, the groups the user
/// was removed from as a `groups` change. Its id differs from an IdP deactivation's of the same
/// version, so that consumers never drop it as a duplicate.
pub fn emergency_leaver(origin: Origin<'_>, user: &Change, groups: &[String]) -> Event {
    let mut changes = mover_changes(user.old.as_ref(), user.new.as_ref());
    if !groups.is_empty() {
        let mut c = AttributeChange::values("groups", None, None);
        c.removed = groups.to_vec();
        changes.push(c);
    }
    Event {
        id: event_id(
            origin.tenant,
            &user.id,
            user.version,
            EventKind::Leaver,
            EMERGENCY,
        ),
        kind: EventKind::Leaver,
        tenant: origin.tenant.to_string(),
        time: origin.time.to_string(),
        actor: origin.actor.to_string(),
        resource: Subject {
            resource_type: "User".into(),
            id: user.id.clone(),
            version: user.version,
        },
        changes,
        members: Vec::new(),
        reason: Some(LeaveReason::Deactivated),
        emergency: true,
    }
}

/// Names of the attributes that differ between two documents, for logs and the audit trail
/// (never values): top-level attributes, extension attributes by their own name, and `members`
/// when a request changed a group's members. `id` and `meta` are not attributes a client sets.
pub fn changed_attributes(change: &Change) -> Vec<String> {
    let empty = Map::new();
    let obj = |d: Option<&Value>| d.and_then(Value::as_object).cloned().unwrap_or_default();
    let (old, new) = (obj(change.old.as_ref()), obj(change.new.as_ref()));
    let mut names: Vec<String> = Vec::new();
    let keys = old
        .keys()
        .chain(new.keys().filter(|k| !old.contains_key(*k)));
    for key in keys {
        if matches!(key.as_str(), "id" | "meta" | "schemas") || old.get(key) == new.get(key) {
            continue;
        }
        if key.starts_with("urn:") {
            let sub = |m: &Map<String, Value>| {
                m.get(key)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_else(|| empty.clone())
            };
            let (a, b) = (sub(&old), sub(&new));
            for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                if a.get(k) != b.get(k) {
                    names.push(k.clone());
                }
            }
        } else {
            names.push(key.clone());
        }
    }
    if !change.members_added.is_empty() || !change.members_removed.is_empty() {
        names.push("members".into());
    }
    names
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ORIGIN: Origin<'static> = Origin {
        tenant: "acme",
        actor: "idp:auto",
        time: "2026-01-02T03:04:05.000Z",
    };

    fn user(version: u64, old: Option<Value>, new: Option<Value>) -> Change {
        Change {
            kind: ResourceKind::User,
            id: "u1".into(),
            version,
            old,
            new,
            members_added: Vec::new(),
            members_removed: Vec::new(),
        }
    }

    fn kinds(events: &[Event]) -> Vec<EventKind> {
        events.iter().map(|e| e.kind).collect()
    }

    /// Alice as stored, once active (the memory of it is stamped).
    fn alice(active: bool, department: &str) -> Value {
        let mut doc = json!({"id": "u1", "userName": "alice", "active": active, "meta": {},
            ENTERPRISE_USER_SCHEMA: {"department": department}});
        remember_activity(&mut doc, true);
        doc
    }

    #[test]
    fn a_user_created_active_is_a_joiner_with_its_mover_attributes() {
        let events = diff(ORIGIN, &user(1, None, Some(alice(true, "Sales"))));
        assert_eq!(kinds(&events), [EventKind::Joiner]);
        let e = &events[0];
        assert_eq!(
            (e.tenant.as_str(), e.actor.as_str(), e.time.as_str()),
            ("acme", "idp:auto", ORIGIN.time)
        );
        assert_eq!(e.resource.id, "u1");
        assert_eq!(e.changes[0].attribute, "department");
        assert_eq!(e.changes[0].new, Some(json!("Sales")));
    }

    #[test]
    fn a_user_created_without_active_is_a_joiner_and_one_created_inactive_is_staged() {
        let events = diff(ORIGIN, &user(1, None, Some(json!({"userName": "a"}))));
        assert_eq!(kinds(&events), [EventKind::Joiner]);
        assert!(diff(ORIGIN, &user(1, None, Some(alice(false, "Sales")))).is_empty());
    }

    #[test]
    fn deactivation_is_a_leaver_and_reactivation_a_rehire() {
        let leaver = diff(
            ORIGIN,
            &user(3, Some(alice(true, "Sales")), Some(alice(false, "Sales"))),
        );
        assert_eq!(kinds(&leaver), [EventKind::Leaver]);
        assert_eq!(leaver[0].reason, Some(LeaveReason::Deactivated));
        assert!(leaver[0].changes.is_empty());
        let rehire = diff(
            ORIGIN,
            &user(4, Some(alice(false, "Sales")), Some(alice(true, "Sales"))),
        );
        assert_eq!(kinds(&rehire), [EventKind::Rehire]);
    }

    #[test]
    fn a_staged_users_first_activation_is_a_joiner_and_its_return_a_rehire() {
        let mut staged = alice(false, "Sales");
        staged["meta"] = json!({});
        assert!(!has_been_active(&staged));
        let mut active = alice(true, "Sales");
        active["meta"] = json!({});
        remember_activity(&mut active, has_been_active(&staged));
        let first = diff(ORIGIN, &user(2, Some(staged.clone()), Some(active.clone())));
        assert_eq!(kinds(&first), [EventKind::Joiner]);
        remember_activity(&mut staged, has_been_active(&active));
        assert!(has_been_active(&staged), "deactivation keeps the memory");
        let back = diff(ORIGIN, &user(4, Some(staged), Some(active)));
        assert_eq!(kinds(&back), [EventKind::Rehire]);
    }

    #[test]
    fn a_role_mover_names_the_effective_role_change_and_its_cause() {
        let change = crate::roles::change(&["a".to_string()].into(), &["b".to_string()].into());
        let change = change.expect("the roles differ");
        let e = role_mover(ORIGIN, "u1", "roles@2", change.clone());
        assert_eq!((e.kind, e.resource.version), (EventKind::Mover, 0));
        assert_eq!(e.changes, std::slice::from_ref(&change));
        assert_eq!(e.id, role_mover(ORIGIN, "u1", "roles@2", change.clone()).id);
        assert_ne!(e.id, role_mover(ORIGIN, "u1", "roles@3", change).id);
    }

    #[test]
    fn the_emergency_policy_marks_deactivations_and_leaves_deletions_alone() {
        let mut events = diff(
            ORIGIN,
            &user(3, Some(alice(true, "Sales")), Some(alice(false, "Sales"))),
        );
        events.extend(diff(ORIGIN, &user(4, Some(alice(false, "Sales")), None)));
        let before = events.clone();
        escalate_deactivations("acme", &mut events);
        assert!(events[0].emergency);
        assert_ne!(events[0].id, before[0].id);
        let logout = emergency_leaver(
            ORIGIN,
            &user(3, Some(alice(true, "Sales")), Some(alice(false, "Sales"))),
            &[],
        );
        assert_eq!(events[0].id, logout.id, "same id as an Emergency Logout");
        assert_eq!(events[1], before[1]);
    }

    #[test]
    fn deletion_is_a_leaver_with_reason_deleted() {
        let events = diff(ORIGIN, &user(5, Some(alice(true, "Sales")), None));
        assert_eq!(kinds(&events), [EventKind::Leaver]);
        assert_eq!(events[0].reason, Some(LeaveReason::Deleted));
        assert!(events[0].changes.is_empty());
    }

    #[test]
    fn a_department_change_is_a_mover_with_old_and_new_values() {
        let events = diff(
            ORIGIN,
            &user(2, Some(alice(true, "Sales")), Some(alice(true, "Legal"))),
        );
        assert_eq!(kinds(&events), [EventKind::Mover]);
        assert_eq!(
            events[0].changes,
            [AttributeChange::values(
                "department",
                Some(&json!("Sales")),
                Some(&json!("Legal"))
            )]
        );
    }

    #[test]
    fn every_mover_attribute_counts_and_others_do_not() {
        let base = json!({"userName": "a", "active": true});
        for name in MOVER_CORE {
            let mut new = base.clone();
            new[name] = json!("x");
            let events = diff(ORIGIN, &user(2, Some(base.clone()), Some(new)));
            assert_eq!(kinds(&events), [EventKind::Mover], "{name}");
        }
        for name in MOVER_ENTERPRISE {
            let mut new = base.clone();
            new[ENTERPRISE_USER_SCHEMA] = json!({name: "x"});
            let events = diff(ORIGIN, &user(2, Some(base.clone()), Some(new)));
            assert_eq!(events[0].changes[0].attribute, name);
        }
        let mut new = base.clone();
        new["nickName"] = json!("bob");
        assert!(diff(ORIGIN, &user(2, Some(base), Some(new))).is_empty());
    }

    #[test]
    fn a_status_change_carries_the_mover_attributes_changed_with_it() {
        let events = diff(
            ORIGIN,
            &user(2, Some(alice(true, "Sales")), Some(alice(false, "Legal"))),
        );
        assert_eq!(kinds(&events), [EventKind::Leaver]);
        assert_eq!(events[0].changes[0].attribute, "department");
    }

    #[test]
    fn event_ids_are_stable_per_change_and_differ_between_versions() {
        let change = user(2, Some(alice(true, "Sales")), Some(alice(true, "Legal")));
        let a = diff(ORIGIN, &change);
        let later = Origin {
            time: "2030-01-01T00:00:00.000Z",
            ..ORIGIN
        };
        assert_eq!(a[0].id, diff(later, &change)[0].id, "redelivery, same id");
        let next = user(3, Some(alice(true, "Legal")), Some(alice(true, "Sales")));
        assert_ne!(a[0].id, diff(ORIGIN, &next)[0].id);
        assert_eq!(a[0].id.len(), 36);
    }

    fn group(old: Option<Value>, new: Option<Value>) -> Change {
        Change {
            kind: ResourceKind::Group,
            id: "g1".into(),
            version: 2,
            old,
            new,
            members_added: Vec::new(),
            members_removed: Vec::new(),
        }
    }

    #[test]
    fn groups_are_created_renamed_and_deleted() {
        let eng = json!({"displayName": "Eng"});
        let ops = json!({"displayName": "Ops"});
        assert_eq!(
            kinds(&diff(ORIGIN, &group(None, Some(eng.clone())))),
            [EventKind::GroupCreated]
        );
        assert!(diff(ORIGIN, &group(Some(eng.clone()), Some(eng.clone()))).is_empty());
        let renamed = diff(ORIGIN, &group(Some(eng), Some(ops.clone())));
        assert_eq!(kinds(&renamed), [EventKind::GroupRenamed]);
        assert_eq!(renamed[0].changes[0].old, Some(json!("Eng")));
        assert_eq!(renamed[0].changes[0].new, Some(json!("Ops")));
        assert_eq!(
            kinds(&diff(ORIGIN, &group(Some(ops), None))),
            [EventKind::GroupDeleted]
        );
    }

    #[test]
    fn membership_changes_are_group_events_and_movers_of_user_members() {
        let eng = json!({"displayName": "Eng"});
        let mut change = group(Some(eng.clone()), Some(eng));
        change.members_added = vec![
            ("g2".into(), ResourceKind::Group),
            ("u1".into(), ResourceKind::User),
        ];
        change.members_removed = vec![("u2".into(), ResourceKind::User)];
        let events = diff(ORIGIN, &change);
        assert_eq!(
            kinds(&events),
            [
                EventKind::GroupMembersAdded,
                EventKind::Mover,
                EventKind::GroupMembersRemoved,
                EventKind::Mover
            ]
        );
        assert_eq!(events[0].members, ["g2", "u1"]);
        assert_eq!(events[1].resource.id, "u1");
        assert_eq!(events[1].changes[0].added, ["g1"]);
        assert_eq!(events[3].resource.id, "u2");
        assert_eq!(events[3].changes[0].removed, ["g1"]);
        let mut ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 4, "every event has its own id");
    }

    #[test]
    fn an_emergency_leaver_is_marked_and_lists_the_groups_left() {
        let change = user(7, Some(alice(true, "Sales")), Some(alice(false, "Sales")));
        let e = emergency_leaver(ORIGIN, &change, &["g1".into()]);
        assert_eq!((e.kind, e.emergency), (EventKind::Leaver, true));
        assert_eq!(e.reason, Some(LeaveReason::Deactivated));
        assert_eq!(e.changes[0].removed, ["g1"]);
        assert_ne!(e.id, diff(ORIGIN, &change)[0].id);
        let v = serde_json::to_value(&e).expect("json");
        assert_eq!(v["emergency"], true);
    }

    #[test]
    fn changed_attribute_names_never_include_values_or_meta() {
        let mut old = alice(true, "Sales");
        old["meta"] = json!({"lastModified": "1"});
        let mut new = alice(false, "Legal");
        new["meta"] = json!({"lastModified": "2"});
        new["title"] = json!("Boss");
        let mut change = user(2, Some(old), Some(new));
        assert_eq!(
            changed_attributes(&change),
            ["active", "department", "title"]
        );
        change.kind = ResourceKind::Group;
        change.members_added = vec![("u9".into(), ResourceKind::User)];
        assert!(changed_attributes(&change).contains(&"members".to_string()));
    }

    #[test]
    fn events_serialize_with_their_documented_names() {
        let events = diff(ORIGIN, &user(5, Some(alice(true, "Sales")), None));
        let v = serde_json::to_value(&events[0]).expect("json");
        assert_eq!(v["type"], "leaver");
        assert_eq!(v["reason"], "deleted");
        assert_eq!(v["resource"]["type"], "User");
        assert!(v.get("emergency").is_none());
        let back: Event = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, events[0]);
    }
}
