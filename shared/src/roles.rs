//! Role-based provisioning: a tenant's rules grant application roles to the members of a group.
//! A user's **effective roles** are the roles its groups' rules grant plus the values of its own
//! `roles` attribute. A change of them is reported on the user's lifecycle event as an
//! `effectiveRoles` change (`added` / `removed`); see [`crate::ops::effective_roles`] for when it
//! is computed.
//!
//! The rules of a tenant are one item, `T#{t}#ROLES` / `#`, written with an optimistic version
//! so that two operators cannot overwrite each other. Rules name groups by id (a rule set by
//! displayName is resolved to the id once, so a rename keeps the grant).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::lifecycle::AttributeChange;
use crate::store::keys;
use crate::store::{Condition, Item, Store, StoreError, Write};

/// The attribute name of the effective-role change on a user event.
pub const EFFECTIVE_ROLES: &str = "effectiveRoles";

/// Role-rule administration failures.
#[derive(Debug, thiserror::Error)]
pub enum RolesError {
    #[error("a rule must grant at least one role")]
    NoRoles,
    #[error("the role rules changed concurrently; retry")]
    Concurrent,
    #[error("the stored role rules could not be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One rule: the members of `group` get `roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRule {
    /// The group's id.
    pub group: String,
    /// The group's displayName when the rule was set (for listing only).
    #[serde(rename = "displayName")]
    pub display_name: String,
    pub roles: BTreeSet<String>,
}

/// A tenant's rules and the version they were read at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRules {
    /// Store version of the rules item (0: no rules stored yet). Changes on every write.
    #[serde(skip)]
    pub version: u64,
    pub rules: Vec<RoleRule>,
}

impl RoleRules {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule of a group, if any.
    pub fn of_group(&self, group: &str) -> Option<&RoleRule> {
        self.rules.iter().find(|r| r.group == group)
    }

    /// The roles the rules grant to a member of `groups`.
    pub fn granted<'g>(&self, groups: impl IntoIterator<Item = &'g str>) -> BTreeSet<String> {
        groups
            .into_iter()
            .filter_map(|g| self.of_group(g))
            .flat_map(|r| r.roles.iter().cloned())
            .collect()
    }

    /// Sets (replaces) the rule of a group.
    pub fn set(&mut self, rule: RoleRule) {
        match self.rules.iter_mut().find(|r| r.group == rule.group) {
            Some(r) => *r = rule,
            None => self.rules.push(rule),
        }
    }

    /// Removes the rule of a group; the removed rule, if there was one.
    pub fn remove(&mut self, group: &str) -> Option<RoleRule> {
        let at = self.rules.iter().position(|r| r.group == group)?;
        Some(self.rules.remove(at))
    }
}

/// The values of a user document's `roles` attribute (`roles[].value`).
pub fn attribute_roles(user: &Value) -> BTreeSet<String> {
    user.get("roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("value").and_then(Value::as_str))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// A user's effective roles: its own `roles` plus what the rules grant to its groups.
pub fn effective<'g>(
    user: &Value,
    groups: impl IntoIterator<Item = &'g str>,
    rules: &RoleRules,
) -> BTreeSet<String> {
    let mut roles = attribute_roles(user);
    roles.extend(rules.granted(groups));
    roles
}

/// The `effectiveRoles` change from `before` to `after`; `None` when they are equal.
pub fn change(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Option<AttributeChange> {
    if before == after {
        return None;
    }
    Some(AttributeChange {
        attribute: EFFECTIVE_ROLES.into(),
        old: None,
        new: None,
        added: after.difference(before).cloned().collect(),
        removed: before.difference(after).cloned().collect(),
    })
}

/// A tenant's rules (empty when none were set). One GetItem.
pub async fn load(store: &dyn Store, tenant: &str) -> Result<RoleRules, RolesError> {
    let Some(item) = store.get(&keys::role_rules(tenant)).await? else {
        return Ok(RoleRules::default());
    };
    let mut rules: RoleRules =
        serde_json::from_str(&item.body).map_err(|e| RolesError::Corrupt(e.to_string()))?;
    rules.version = item.version;
    Ok(rules)
}

/// The write that stores `rules` if nobody changed them since they were loaded, and the version
/// it stores.
pub fn write_of(tenant: &str, rules: &RoleRules) -> Result<(Write, u64), RolesError> {
    if rules.rules.iter().any(|r| r.roles.is_empty()) {
        return Err(RolesError::NoRoles);
    }
    let version = rules.version + 1;
    let condition = if rules.version == 0 {
        Condition::NotExists
    } else {
        Condition::VersionIs(rules.version)
    };
    let item = Item {
        key: keys::role_rules(tenant),
        version,
        body: serde_json::to_string(rules).map_err(|e| RolesError::Corrupt(e.to_string()))?,
        ..Item::default()
    };
    Ok((Write::Put { item, condition }, version))
}

/// Stores `rules` with `with` (writes of other items) in one transaction if nobody changed them
/// since they were loaded.
pub async fn save_with(
    store: &dyn Store,
    tenant: &str,
    rules: &RoleRules,
    with: Vec<Write>,
) -> Result<(), RolesError> {
    let (write, _) = write_of(tenant, rules)?;
    let mut writes = vec![write];
    writes.extend(with);
    match store.transact(writes).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { index: 0 } | StoreError::Conflict) => {
            Err(RolesError::Concurrent)
        }
        Err(e) => Err(e.into()),
    }
}

/// Stores `rules` if nobody changed them since they were loaded; returns the new version.
pub async fn save(store: &dyn Store, tenant: &str, rules: &RoleRules) -> Result<u64, RolesError> {
    save_with(store, tenant, rules, Vec::new()).await?;
    Ok(rules.version + 1)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules() -> RoleRules {
        RoleRules {
            version: 1,
            rules: vec![
                RoleRule {
                    group: "g-eng".into(),
                    display_name: "Engineering".into(),
                    roles: ["editor".to_string(), "deployer".to_string()].into(),
                },
                RoleRule {
                    group: "g-ops".into(),
                    display_name: "Operations".into(),
                    roles: ["deployer".to_string()].into(),
                },
            ],
        }
    }

    fn set(values: &[&str]) -> BTreeSet<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn effective_roles_are_the_users_roles_plus_what_its_groups_grant() {
        let user = json!({"roles": [{"value": "viewer"}, {"value": ""}, {"display": "no value"}]});
        assert_eq!(attribute_roles(&user), set(&["viewer"]));
        assert_eq!(
            effective(&user, ["g-eng", "g-other"], &rules()),
            set(&["deployer", "editor", "viewer"])
        );
        assert_eq!(effective(&json!({}), [], &rules()), set(&[]));
    }

    #[test]
    fn a_role_granted_twice_survives_leaving_one_of_the_groups() {
        let user = json!({});
        let before = effective(&user, ["g-eng", "g-ops"], &rules());
        let after = effective(&user, ["g-eng"], &rules());
        assert_eq!(change(&before, &after), None);
        let after = effective(&user, ["g-ops"], &rules());
        let c = change(&before, &after).expect("editor is lost");
        assert_eq!(c.attribute, EFFECTIVE_ROLES);
        assert_eq!(c.added, Vec::<String>::new());
        assert_eq!(c.removed, vec!["editor".to_string()]);
    }

    #[test]
    fn setting_a_rule_replaces_the_groups_previous_rule() {
        let mut r = rules();
        r.set(RoleRule {
            group: "g-ops".into(),
            display_name: "Ops".into(),
            roles: set(&["oncall"]),
        });
        assert_eq!(r.rules.len(), 2);
        assert_eq!(r.granted(["g-ops"]), set(&["oncall"]));
        assert!(r.remove("g-ops").is_some());
        assert!(r.remove("g-ops").is_none());
        assert_eq!(r.granted(["g-ops"]), set(&[]));
    }
}
