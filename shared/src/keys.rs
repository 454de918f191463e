//! The single-table key scheme (docs/table-design.md). Every key of tenant data, GSI keys
//! included, starts with `T#{tenant}#`.

use sha2::{Digest, Sha256};

use crate::schema::ResourceKind;
use crate::store::Key;

/// The sort key of items that are alone in their partition.
pub const ITEM: &str = "#";
/// GSI1 partition listing all tenants.
pub const TENANTS: &str = "TENANTS";
/// Sort-key prefix of membership edges in a member's partition (one per group it belongs to).
pub const GROUP_PREFIX: &str = "G#";
/// GSI1 sort-key prefix of membership edges in a group's index partition (one per member).
pub const MEMBER_PREFIX: &str = "M#";

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

/// A membership edge lives in the member's partition, next to the member's own item, so that one
/// Query of a user's partition returns the user and the groups it belongs to.
pub fn member_edge(t: &str, member_kind: ResourceKind, member: &str, group: &str) -> Key {
    Key::new(
        resource_pk(t, member_kind, member),
        format!("{GROUP_PREFIX}{group}"),
    )
}

/// GSI1 key of an edge: the group's partition of the index, sorted by member.
pub fn member_edge_gsi(t: &str, group: &str, member: &str) -> Key {
    Key::new(
        resource_pk(t, ResourceKind::Group, group),
        format!("{MEMBER_PREFIX}{member}"),
    )
}

/// The member an edge item belongs to, read back from its partition key.
pub fn edge_member(t: &str, edge: &Key) -> Option<(ResourceKind, String)> {
    let rest = edge
        .pk
        .strip_prefix("T#")?
        .strip_prefix(t)?
        .strip_prefix('#')?;
    let (code, id) = rest.split_once('#')?;
    let kind = match code {
        "U" => ResourceKind::User,
        "G" => ResourceKind::Group,
        _ => return None,
    };
    Some((kind, id.to_string()))
}

/// The group an edge item points at, read back from its sort key.
pub fn edge_group(edge: &Key) -> Option<&str> {
    edge.sk.strip_prefix(GROUP_PREFIX)
}

/// The partition of a tenant's audit log for one UTC day (`2026-11-23`); sort key
/// `{time}#{request id}`.
pub fn audit_log(t: &str, day: &str) -> String {
    format!("T#{t}#LOG#{day}")
}

/// The partition of a tenant's event outbox for one UTC day; sort key
/// `{OUTBOX_SK_PREFIX}{time}#{request id}#{n}` ([`DELIVERED_SK_PREFIX`] for events their entry
/// point delivers itself).
pub fn outbox(t: &str, day: &str) -> String {
    format!("T#{t}#EVT#{day}")
}

/// Sort-key prefix of the outbox items that the events function publishes: no other item's
/// sort key starts with it, so the stream's filter keeps exactly these (template.yaml).
pub const OUTBOX_SK_PREFIX: &str = "EVT#";
/// Sort-key prefix of the outbox items of events delivered synchronously by their entry point
/// (Emergency Logout): kept for `events tail`, never published again.
pub const DELIVERED_SK_PREFIX: &str = "EVD#";

/// Partition-key prefix of the markers of published stream records (IAM `dynamodb:LeadingKeys`
/// of the events function).
pub const PUBLISHED_PREFIX: &str = "PUBLISHED#";

/// The marker saying that the stream record `record_id` (its `eventID`) has been published.
pub fn published(record_id: &str) -> Key {
    Key::new(format!("{PUBLISHED_PREFIX}{record_id}"), ITEM)
}

/// The partition of a tenant's listing checkpoints of one kind: sort key `{position:010}`, body
/// the id at that position of the listing index (deep index paging, `ops::list`).
pub fn listing_checkpoints(t: &str, kind: ResourceKind) -> String {
    format!("{}#CKP", listing(t, kind))
}

/// A tenant's role rules (role-based provisioning, `roles`).
pub fn role_rules(t: &str) -> Key {
    Key::new(format!("T#{t}#ROLES"), ITEM)
}

/// A tenant's webhook (URL and signing secret) for local event delivery.
pub fn webhook(t: &str) -> Key {
    Key::new(format!("T#{t}#HOOK"), ITEM)
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
            member_edge("a", ResourceKind::User, "u", "g"),
            member_edge_gsi("a", "g", "u"),
            Unique::UserName.marker("a", "Bob"),
            webhook("a"),
        ];
        for k in keys {
            assert!(k.pk.starts_with("T#a#"), "{k:?}");
        }
        assert!(listing("a", ResourceKind::User).starts_with("T#a#"));
        assert!(audit_log("a", "2026-01-01").starts_with("T#a#"));
        assert!(outbox("a", "2026-01-01").starts_with("T#a#"));
    }

    #[test]
    fn edges_name_their_member_and_group() {
        let edge = member_edge("acme", ResourceKind::Group, "child", "parent");
        assert_eq!(
            edge_member("acme", &edge),
            Some((ResourceKind::Group, "child".to_string()))
        );
        assert_eq!(edge_group(&edge), Some("parent"));
        assert_eq!(edge_member("other", &edge), None);
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
