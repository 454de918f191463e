//! The single-table key scheme (docs/table-design.md). Every key of tenant data, GSI keys
//! included, starts with `T#{tenant}#`.

use sha2::{Digest, Sha256};

use crate::schema::ResourceKind;
use crate::store::Key;

/// The sort key of items that are alone in their partition.
pub const ITEM: &str = "#";
/// GSI1 partition listing all tenants.
pub const TENANTS: &str = "TENANTS";
/// Sort-key prefix of membership edges in a group's partition.
pub const MEMBER_PREFIX: &str = "M#";
/// GSI1 sort-key prefix of a member's edges (the groups it belongs to).
pub const GROUP_PREFIX: &str = "G#";

/// Longest key component stored verbatim; longer values are stored as their SHA-256.
const MAX_VERBATIM: usize = 512;

fn code(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "U",
        ResourceKind::Group => "G",
    }
}

pub fn tenant(t: &str) -> Key {
    Key::new(format!("TENANT#{t}"), ITEM)
}

pub fn token(hash: &str) -> Key {
    Key::new(format!("TOKEN#{hash}"), ITEM)
}

/// GSI1 partition of a tenant's tokens.
pub fn tenant_tokens(t: &str) -> String {
    format!("TENANT#{t}#TOKENS")
}

/// The partition key of a resource (also the partition of a group's membership edges).
pub fn resource_pk(t: &str, kind: ResourceKind, id: &str) -> String {
    format!("T#{t}#{}#{id}", code(kind))
}

pub fn resource(t: &str, kind: ResourceKind, id: &str) -> Key {
    Key::new(resource_pk(t, kind, id), ITEM)
}

/// GSI1 partition that lists a tenant's resources of one kind, in id (creation) order.
pub fn listing(t: &str, kind: ResourceKind) -> String {
    match kind {
        ResourceKind::User => format!("T#{t}#USERS"),
        ResourceKind::Group => format!("T#{t}#GROUPS"),
    }
}

/// The counter of a tenant's resources of one kind.
pub fn counter(t: &str, kind: ResourceKind) -> Key {
    let sk = match kind {
        ResourceKind::User => "USERS",
        ResourceKind::Group => "GROUPS",
    };
    Key::new(format!("T#{t}#COUNT"), sk)
}

/// A membership edge: in the group's partition, and in GSI1 under the member.
pub fn member_edge(t: &str, group: &str, member: &str) -> Key {
    Key::new(
        resource_pk(t, ResourceKind::Group, group),
        format!("{MEMBER_PREFIX}{member}"),
    )
}

/// GSI1 key of an edge: the member's partition, sorted by group.
pub fn member_edge_gsi(t: &str, member_kind: ResourceKind, member: &str, group: &str) -> Key {
    Key::new(
        resource_pk(t, member_kind, member),
        format!("{GROUP_PREFIX}{group}"),
    )
}

/// Attributes whose values are unique per tenant, each with its own marker item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    UserName,
    UserExternalId,
    GroupDisplayName,
    GroupExternalId,
}

impl Unique {
    pub fn of(kind: ResourceKind) -> [Unique; 2] {
        match kind {
            ResourceKind::User => [Unique::UserName, Unique::UserExternalId],
            ResourceKind::Group => [Unique::GroupDisplayName, Unique::GroupExternalId],
        }
    }

    /// The attribute name, as in the schema.
    pub fn attribute(self) -> &'static str {
        match self {
            Unique::UserName => "userName",
            Unique::GroupDisplayName => "displayName",
            Unique::UserExternalId | Unique::GroupExternalId => "externalId",
        }
    }

    fn code(self) -> &'static str {
        match self {
            Unique::UserName => "UN",
            Unique::UserExternalId => "XU",
            Unique::GroupDisplayName => "GN",
            Unique::GroupExternalId => "XG",
        }
    }

    /// userName and displayName are case-insensitive (caseExact false); externalId is caseExact.
    fn case_exact(self) -> bool {
        matches!(self, Unique::UserExternalId | Unique::GroupExternalId)
    }

    /// The marker key that reserves `value` for one resource.
    pub fn marker(self, t: &str, value: &str) -> Key {
        let v = if self.case_exact() {
            value.to_string()
        } else {
            value.to_lowercase()
        };
        let v = if v.len() > MAX_VERBATIM {
            let digest = Sha256::digest(v.as_bytes());
            format!(
                "h:{}",
                digest
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        } else {
            v
        };
        Key::new(format!("T#{t}#{}#{v}", self.code()), ITEM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenant_key_starts_with_the_tenant() {
        let keys = [
            resource("a", ResourceKind::User, "1"),
            counter("a", ResourceKind::Group),
            member_edge("a", "g", "u"),
            member_edge_gsi("a", ResourceKind::User, "u", "g"),
            Unique::UserName.marker("a", "Bob"),
        ];
        for k in keys {
            assert!(k.pk.starts_with("T#a#"), "{k:?}");
        }
        assert!(listing("a", ResourceKind::User).starts_with("T#a#"));
    }

    #[test]
    fn markers_fold_case_only_where_the_attribute_is_case_insensitive() {
        assert_eq!(
            Unique::UserName.marker("a", "Bob"),
            Unique::UserName.marker("a", "bOB")
        );
        assert_ne!(
            Unique::UserExternalId.marker("a", "X"),
            Unique::UserExternalId.marker("a", "x")
        );
        assert!(Unique::UserName.marker("a", &"x".repeat(2000)).pk.len() < 100);
    }
}
