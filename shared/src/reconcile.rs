//! Reconciling a whole resource document from outside (an import file, a directory export) with
//! the resource as the service serves it: is the document an acceptable POST/PUT body, and would
//! replacing the served resource with it change anything? The answers follow what
//! [`crate::service::Service::handle`] does with the same body: the tenant's dialect rules, then
//! validation and canonical form (readOnly attributes ignored, one primary value, no password).
//! They never touch the store; the service stays the authority for every write.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::ops::members::member_ids;
use crate::protocol::dialect;
use crate::protocol::error::ScimResult;
use crate::protocol::http::{Method, ScimRequest};
use crate::protocol::resource;
use crate::protocol::router::Operation;
use crate::protocol::schema::{ResourceKind, ResourceType};
use crate::tenant::Dialect;

/// A document in the form the service stores it, with a group's member ids apart.
#[derive(Debug, PartialEq)]
struct Prepared {
    doc: Value,
    members: BTreeSet<String>,
}

/// Checks a POST/PUT body as the service would before writing it: 400-class errors for bodies
/// it would refuse (invalid syntax or values, missing required attributes, malformed members).
/// Does not check uniqueness or that members exist: those need the store.
pub fn check(kind: ResourceKind, dialect: Dialect, body: &Value) -> ScimResult<()> {
    prepare(kind, &normalised(kind, dialect, body)?, true).map(|_| ())
}

/// Whether `PUT` of `body` onto the resource served as `served` (a GET response body, with
/// `members` for a group) would leave every stored attribute and membership as it is. `false`
/// when the body is invalid: the service then decides and reports the error.
pub fn replace_changes_nothing(
    kind: ResourceKind,
    dialect: Dialect,
    served: &Value,
    body: &Value,
) -> bool {
    let candidate = normalised(kind, dialect, body).and_then(|b| prepare(kind, &b, true));
    let current = prepare(kind, served, false);
    matches!((candidate, current), (Ok(a), Ok(b)) if a == b)
}

/// The body after the tenant's dialect rules, as the service applies them to a create.
fn normalised(kind: ResourceKind, dialect: Dialect, body: &Value) -> ScimResult<Value> {
    if dialect == Dialect::Strict {
        return Ok(body.clone());
    }
    let mut req = ScimRequest::new(Method::Post, ResourceType::of(kind).endpoint, "");
    req.body = body.to_string().into_bytes();
    if dialect::normalise(Operation::Create(kind), None, &mut req).is_empty() {
        return Ok(body.clone());
    }
    req.json()
}

fn prepare(kind: ResourceKind, body: &Value, required: bool) -> ScimResult<Prepared> {
    let rt = ResourceType::of(kind);
    let mut doc = resource::canonicalize(rt, body.clone())?;
    let members = match (kind, doc.as_object_mut().and_then(|o| o.remove("members"))) {
        (ResourceKind::Group, Some(m)) => member_ids(&m)?.into_iter().collect(),
        _ => BTreeSet::new(),
    };
    if required {
        resource::check_required(rt, &doc)?;
    }
    resource::enforce_single_primary(rt, &mut doc);
    if let Some(o) = doc.as_object_mut() {
        o.remove("password");
    }
    Ok(Prepared { doc, members })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

    fn served_user() -> Value {
        json!({"schemas": [USER], "id": "u1", "userName": "alice", "active": true,
            "emails": [{"value": "a@example.com", "type": "work", "primary": true}],
            "groups": [{"value": "g1", "display": "Staff"}],
            "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00Z", "version": "W/\"3\""}})
    }

    #[test]
    fn the_same_attributes_change_nothing_whatever_the_spelling() {
        let body = json!({"schemas": [USER], "UserName": "alice", "active": true,
            "emails": [{"value": "a@example.com", "type": "work", "primary": true}],
            "password": "s3cret-Passw0rd"});
        assert!(replace_changes_nothing(
            ResourceKind::User,
            Dialect::Strict,
            &served_user(),
            &body
        ));
    }

    #[test]
    fn a_changed_or_removed_attribute_is_a_change() {
        let changed = json!({"schemas": [USER], "userName": "alice", "active": false,
            "emails": [{"value": "a@example.com", "type": "work", "primary": true}]});
        let removed = json!({"schemas": [USER], "userName": "alice", "active": true});
        for body in [changed, removed] {
            assert!(!replace_changes_nothing(
                ResourceKind::User,
                Dialect::Strict,
                &served_user(),
                &body
            ));
        }
    }

    #[test]
    fn dialect_rules_apply_before_comparing() {
        let body = json!({"schemas": [USER], "userName": "alice", "active": "True",
            "emails": [{"value": "a@example.com", "type": "work", "primary": true}]});
        assert!(replace_changes_nothing(
            ResourceKind::User,
            Dialect::Auto,
            &served_user(),
            &body
        ));
        assert!(!replace_changes_nothing(
            ResourceKind::User,
            Dialect::Strict,
            &served_user(),
            &body
        ));
    }

    #[test]
    fn group_members_compare_as_sets_of_ids() {
        let served = json!({"schemas": [GROUP], "id": "g1", "displayName": "Staff",
            "members": [{"value": "u1", "$ref": "https://x/Users/u1", "type": "User"},
                        {"value": "u2", "type": "User"}]});
        let same = json!({"schemas": [GROUP], "displayName": "Staff",
            "members": [{"value": "u2"}, {"value": "u1"}]});
        let other =
            json!({"schemas": [GROUP], "displayName": "Staff", "members": [{"value": "u1"}]});
        let g = ResourceKind::Group;
        assert!(replace_changes_nothing(g, Dialect::Auto, &served, &same));
        assert!(!replace_changes_nothing(g, Dialect::Auto, &served, &other));
    }

    #[test]
    fn check_refuses_what_the_service_refuses() {
        let u = ResourceKind::User;
        assert!(
            check(
                u,
                Dialect::Auto,
                &json!({"schemas": [USER], "userName": "a"})
            )
            .is_ok()
        );
        let missing = check(
            u,
            Dialect::Auto,
            &json!({"schemas": [USER], "active": true}),
        );
        assert_eq!(missing.map_err(|e| e.status()), Err(400));
        let unknown = check(
            u,
            Dialect::Strict,
            &json!({"schemas": [USER], "userName": "a", "x": 1}),
        );
        assert!(unknown.is_err());
        let bad_members =
            json!({"schemas": [GROUP], "displayName": "g", "members": [{"type": "User"}]});
        assert!(check(ResourceKind::Group, Dialect::Strict, &bad_members).is_err());
    }
}
