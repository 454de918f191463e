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

/// How many shard items a tenant's resource counter of one kind is split into.
///
/// Every create and delete adds ±1 to one shard inside its transaction, and DynamoDB cancels
/// concurrent transactions that touch the same item (`TransactionConflict`): with a single
/// counter item, concurrent creates in one tenant (an IdP's initial sync, `POST /Bulk`,
/// `scimctl import`) ran one at a time. With `COUNTER_SHARDS` items, two concurrent creates
/// meet only when their ids hash to the same shard. The price is on the read side: a total
/// (`totalResults` of an unfiltered list) is one Query returning all shards, whose tiny items
/// (under 100 bytes each) still fit one 4 KB read unit at this count, legacy item included.
/// More shards would cut conflicts further but, past about 40, cost a second read unit per
/// total.
pub const COUNTER_SHARDS: usize = 32;

/// The partition of a tenant's resource counters.
pub fn counters(t: &str) -> String {
    format!("T#{t}#COUNT")
}

/// Sort-key prefix of the counter shards of one kind: one Query of [`counters`] with this prefix
/// returns all of them, and also the single counter item written before the counter was sharded,
/// whose sort key is the prefix itself. Neither kind's prefix is a prefix of the other's.
pub fn counter_prefix(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "USERS",
        ResourceKind::Group => "GROUPS",
    }
}

/// The counter shard of one resource: `{USERS|GROUPS}#{nn}`, chosen by a hash of its id, so that
/// its delete decrements the shard its create incremented (any shard would do for the total,
/// which is the sum of the shards).
pub fn counter_shard(t: &str, kind: ResourceKind, id: &str) -> Key {
    // FNV-1a: stable across builds and platforms, unlike `std`'s hasher.
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let shard = hash % COUNTER_SHARDS as u64;
    Key::new(counters(t), format!("{}#{shard:02}", counter_prefix(kind)))
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
    GroupDisplayName,
}

impl Unique {
    /// The unique attribute of a resource type.
    pub fn of(kind: ResourceKind) -> Unique {
        match kind {
            ResourceKind::User => Unique::UserName,
            ResourceKind::Group => Unique::GroupDisplayName,
        }
    }

    /// The attribute name, as in the schema.
    pub fn attribute(self) -> &'static str {
        match self {
            Unique::UserName => "userName",
            Unique::GroupDisplayName => "displayName",
        }
    }

    /// The marker key that reserves `value` for one resource (userName and displayName are
    /// case-insensitive: caseExact false).
    pub fn marker(self, t: &str, value: &str) -> Key {
        let code = match self {
            Unique::UserName => "UN",
            Unique::GroupDisplayName => "GN",
        };
        Key::new(
            format!("T#{t}#{code}#{}", verbatim_or_digest(value.to_lowercase())),
            ITEM,
        )
    }
}

/// A value as a key part: itself, or its SHA-256 when longer than a key may hold.
fn verbatim_or_digest(v: String) -> String {
    if v.len() <= MAX_VERBATIM {
        return v;
    }
    let digest = Sha256::digest(v.as_bytes());
    format!(
        "h:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// The partition of the externalId index: one item per resource with that externalId (its id
/// as sort key), so `externalId eq` stays a key lookup without making the value unique (RFC 7643
/// section 3.1 leaves its uniqueness to the client). externalId is caseExact. Items with sort
/// key `#` are markers of stores written when externalId was kept unique; a lookup reads them
/// like index items and checks every resource it finds.
pub fn external_id_pk(t: &str, kind: ResourceKind, value: &str) -> String {
    let code = match kind {
        ResourceKind::User => "XU",
        ResourceKind::Group => "XG",
    };
    format!("T#{t}#{code}#{}", verbatim_or_digest(value.to_string()))
}

/// The externalId index item of one resource.
pub fn external_id(t: &str, kind: ResourceKind, value: &str, id: &str) -> Key {
    Key::new(external_id_pk(t, kind, value), id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenant_key_starts_with_the_tenant() {
        let keys = [
            resource("a", ResourceKind::User, "1"),
            counter_shard("a", ResourceKind::Group, "1"),
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
    fn counter_shards_are_stable_spread_and_kept_apart_by_kind() {
        let users = counter_prefix(ResourceKind::User);
        let groups = counter_prefix(ResourceKind::Group);
        assert!(!users.starts_with(groups) && !groups.starts_with(users));
        let id = "0190f3a2-7b1c-7d4e-9f00-123456789abc";
        let shard = counter_shard("a", ResourceKind::User, id);
        assert_eq!(shard, counter_shard("a", ResourceKind::User, id));
        assert_eq!(shard.pk, counters("a"));
        assert!(shard.sk.starts_with("USERS#"), "{shard:?}");
        assert!(
            counter_shard("a", ResourceKind::Group, id)
                .sk
                .starts_with("GROUPS#")
        );
        let used: std::collections::BTreeSet<String> = (0..1000)
            .map(|_| counter_shard("a", ResourceKind::User, &uuid::Uuid::now_v7().to_string()).sk)
            .collect();
        assert_eq!(used.len(), COUNTER_SHARDS, "{used:?}");
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
            external_id_pk("a", ResourceKind::User, "X"),
            external_id_pk("a", ResourceKind::User, "x")
        );
        assert!(Unique::UserName.marker("a", &"x".repeat(2000)).pk.len() < 100);
        assert!(external_id_pk("a", ResourceKind::Group, &"x".repeat(2000)).len() < 100);
    }

    #[test]
    fn resources_sharing_an_external_id_have_index_items_of_their_own() {
        let (one, two) = (
            external_id("a", ResourceKind::User, "X", "1"),
            external_id("a", ResourceKind::User, "X", "2"),
        );
        assert_eq!(one.pk, two.pk);
        assert_ne!(one, two);
        assert!(one.pk.starts_with("T#a#"));
    }
}
