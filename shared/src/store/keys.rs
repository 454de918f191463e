//! The single-table key scheme (docs/table-design.md). Every key of tenant data, GSI keys
//! included, starts with `T#{tenant}#`.

use sha2::{Digest, Sha256};

use crate::protocol::schema::ResourceKind;
use crate::store::{Item, Key};

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

/// The partition of a tenant's OAuth clients (`crate::oauth::clients`); sort key the client id.
pub fn oauth_clients(t: &str) -> String {
    format!("T#{t}#CLIENTS")
}

/// A tenant's OAuth client.
pub fn oauth_client(t: &str, client_id: &str) -> Key {
    Key::new(oauth_clients(t), client_id)
}

/// The partition of the client assertions a tenant's federated clients presented, kept until
/// they expire so that none is accepted twice (RFC 7523 §3, `jti`).
pub fn assertion_ids(t: &str) -> String {
    format!("T#{t}#JTI")
}

/// The replay marker of one assertion: `{client id}#{SHA-256 of its jti}` (a jti is the
/// issuer's string, of any length).
pub fn assertion_id(t: &str, client_id: &str, jti: &str) -> Key {
    let digest = Sha256::digest(jti.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Key::new(assertion_ids(t), format!("{client_id}#{hex}"))
}

/// The kinds of items keyed by a tenant: one per key prefix of the table design
/// (docs/table-design.md), each with where tenant deletion finds its items
/// ([`TenantItem::reach`]). A new prefix of tenant data is a new variant: `reach` does not
/// compile until it says how deletion finds the new items, and the deletion test
/// (tests/tests/it/tenant_deletion.rs), which needs an item of every kind of [`TenantItem::ALL`]
/// before it deletes and none after, fails until it writes one and deletion removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantItem {
    /// `TENANT#{t}` / `#`.
    Tenant,
    /// `TOKEN#{hash}` / `#`, indexed under `TENANT#{t}#TOKENS`.
    Token,
    /// `T#{t}#U#{id}` or `T#{t}#G#{id}` / `#`.
    Resource(ResourceKind),
    /// `T#{t}#U#{member}` or `T#{t}#G#{member}` / `G#{group}`, by the member's kind.
    MembershipEdge(ResourceKind),
    /// `T#{t}#UN#{value}` or `T#{t}#GN#{value}` / `#`.
    Marker(Unique),
    /// `T#{t}#XU#{value}` or `T#{t}#XG#{value}` / `{id}` (or `#`: a marker of a store written
    /// when externalId was unique).
    ExternalIdIndex(ResourceKind),
    /// `T#{t}#COUNT` / `USERS#{nn}` or `GROUPS#{nn}`.
    CounterShard(ResourceKind),
    /// `T#{t}#COUNT` / `USERS` or `GROUPS`, written before the counter was sharded.
    LegacyCounter(ResourceKind),
    /// `T#{t}#USERS#CKP` or `T#{t}#GROUPS#CKP` / `{position}`.
    ListingCheckpoint(ResourceKind),
    /// `T#{t}#LOG#{day}` / `{time}#{request id}`.
    AuditRecord,
    /// `T#{t}#EVT#{day}` / `EVT#…` or `EVD#…`.
    OutboxItem,
    /// `T#{t}#ROLES` / `#`.
    RoleRules,
    /// `T#{t}#HOOK` / `#`.
    Webhook,
    /// `T#{t}#CLIENTS` / `{client id}`.
    OAuthClient,
    /// `T#{t}#JTI` / `{client id}#{jti hash}`.
    AssertionId,
}

/// Where tenant deletion finds the items of a kind, in the order it deletes them: tokens first
/// (no new request authenticates), the tenant item last (an interrupted deletion can be run
/// again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The tenant's tokens, listed in the index under [`tenant_tokens`].
    Tokens,
    /// Every item of one partition of credentials, deleted before any data (no new access
    /// token is issued).
    Credentials(String),
    /// Every resource of a kind, listed in the index under [`listing`]. A resource is deleted
    /// as `DELETE /Users/{id}` deletes it: with its markers, its own membership edges and, for a
    /// group, its members' edges (indexed under the group, so dangling ones too), its counter
    /// shard decremented.
    Resources(ResourceKind),
    /// Every item of one partition.
    Partition(String),
    /// Every item of the partitions `{prefix}{day}`, one per UTC day the tenant existed.
    Daily(String),
    /// One item.
    Item(Key),
    /// The tenant item.
    Tenant,
}

impl Reach {
    /// The place of this reach in the deletion order.
    pub fn rank(&self) -> u8 {
        match self {
            Reach::Tokens => 0,
            Reach::Credentials(_) => 1,
            Reach::Resources(ResourceKind::Group) => 2,
            Reach::Resources(ResourceKind::User) => 3,
            Reach::Partition(_) => 4,
            Reach::Daily(_) => 5,
            Reach::Item(_) => 6,
            Reach::Tenant => 7,
        }
    }
}

impl std::fmt::Display for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reach::Tokens => f.write_str("tokens"),
            Reach::Resources(ResourceKind::User) => f.write_str("users"),
            Reach::Resources(ResourceKind::Group) => f.write_str("groups"),
            Reach::Partition(pk) | Reach::Credentials(pk) => f.write_str(pk),
            Reach::Daily(prefix) => write!(f, "{prefix}{{day}}"),
            Reach::Item(key) => f.write_str(&key.pk),
            Reach::Tenant => f.write_str("tenant"),
        }
    }
}

impl TenantItem {
    /// Every kind, each once.
    pub const ALL: [TenantItem; 22] = {
        use ResourceKind::{Group, User};
        use TenantItem::*;
        [
            Tenant,
            Token,
            Resource(User),
            Resource(Group),
            MembershipEdge(User),
            MembershipEdge(Group),
            Marker(Unique::UserName),
            ExternalIdIndex(User),
            Marker(Unique::GroupDisplayName),
            ExternalIdIndex(Group),
            CounterShard(User),
            CounterShard(Group),
            LegacyCounter(User),
            LegacyCounter(Group),
            ListingCheckpoint(User),
            ListingCheckpoint(Group),
            AuditRecord,
            OutboxItem,
            RoleRules,
            Webhook,
            OAuthClient,
            AssertionId,
        ]
    };

    /// Where deletion of tenant `t` finds the items of this kind.
    pub fn reach(self, t: &str) -> Reach {
        match self {
            TenantItem::Tenant => Reach::Tenant,
            TenantItem::Token => Reach::Tokens,
            TenantItem::Resource(kind) => Reach::Resources(kind),
            // Every edge is indexed under its group, whose deletion deletes them all.
            TenantItem::MembershipEdge(_) => Reach::Resources(ResourceKind::Group),
            TenantItem::Marker(u) => Reach::Resources(u.kind()),
            TenantItem::ExternalIdIndex(kind) => Reach::Resources(kind),
            TenantItem::CounterShard(_) | TenantItem::LegacyCounter(_) => {
                Reach::Partition(counters(t))
            }
            TenantItem::ListingCheckpoint(kind) => Reach::Partition(listing_checkpoints(t, kind)),
            TenantItem::AuditRecord => Reach::Daily(audit_log(t, "")),
            TenantItem::OutboxItem => Reach::Daily(outbox(t, "")),
            TenantItem::RoleRules => Reach::Item(role_rules(t)),
            TenantItem::Webhook => Reach::Item(webhook(t)),
            TenantItem::OAuthClient => Reach::Credentials(oauth_clients(t)),
            TenantItem::AssertionId => Reach::Partition(assertion_ids(t)),
        }
    }

    /// Whether `item` is an item of this kind of tenant `t`, by its keys.
    fn holds(self, t: &str, item: &Item) -> bool {
        let (pk, sk) = (item.key.pk.as_str(), item.key.sk.as_str());
        match self {
            TenantItem::Tenant => item.key == tenant(t),
            TenantItem::Token => {
                pk.starts_with(&token("").pk)
                    && item.gsi1.as_ref().is_some_and(|g| g.pk == tenant_tokens(t))
            }
            TenantItem::Resource(kind) => pk.starts_with(&resource_pk(t, kind, "")) && sk == ITEM,
            TenantItem::MembershipEdge(kind) => {
                pk.starts_with(&resource_pk(t, kind, "")) && sk.starts_with(GROUP_PREFIX)
            }
            TenantItem::Marker(u) => pk.starts_with(&u.marker(t, "").pk),
            TenantItem::ExternalIdIndex(kind) => pk.starts_with(&external_id_pk(t, kind, "")),
            TenantItem::CounterShard(kind) => {
                pk == counters(t)
                    && sk
                        .strip_prefix(counter_prefix(kind))
                        .is_some_and(|shard| shard.starts_with('#'))
            }
            TenantItem::LegacyCounter(kind) => pk == counters(t) && sk == counter_prefix(kind),
            TenantItem::ListingCheckpoint(kind) => pk == listing_checkpoints(t, kind),
            TenantItem::AuditRecord => pk.starts_with(&audit_log(t, "")),
            TenantItem::OutboxItem => pk.starts_with(&outbox(t, "")),
            TenantItem::RoleRules => item.key == role_rules(t),
            TenantItem::Webhook => item.key == webhook(t),
            TenantItem::OAuthClient => pk == oauth_clients(t),
            TenantItem::AssertionId => pk == assertion_ids(t),
        }
    }

    /// The kind of tenant `t`'s data an item is, by its keys; `None` for an item that is not
    /// `t`'s (another tenant's, or shared: the cursor key, publication markers, or a key this
    /// list does not know).
    pub fn of(t: &str, item: &Item) -> Option<TenantItem> {
        TenantItem::ALL.into_iter().find(|kind| kind.holds(t, item))
    }
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

    /// The kind of resource the attribute belongs to.
    pub fn kind(self) -> ResourceKind {
        match self {
            Unique::UserName => ResourceKind::User,
            Unique::GroupDisplayName => ResourceKind::Group,
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

    /// An item with these keys.
    fn at(key: Key, gsi1: Option<Key>) -> Item {
        Item {
            key,
            gsi1,
            ..Item::default()
        }
    }

    /// An item of every kind for tenant `t`, made with the key functions the service writes with.
    fn one_of_each(t: &str) -> Vec<(TenantItem, Item)> {
        use ResourceKind::{Group, User};
        TenantItem::ALL
            .into_iter()
            .map(|kind| {
                let item = match kind {
                    TenantItem::Tenant => at(tenant(t), Some(Key::new(TENANTS, t))),
                    TenantItem::Token => at(
                        token("ab12"),
                        Some(Key::new(tenant_tokens(t), "2026-01-01T00:00:00Z#ab12")),
                    ),
                    TenantItem::Resource(k) => {
                        at(resource(t, k, "1"), Some(Key::new(listing(t, k), "1")))
                    }
                    TenantItem::MembershipEdge(k) => at(
                        member_edge(t, k, "m", "g"),
                        Some(member_edge_gsi(t, "g", "m")),
                    ),
                    TenantItem::Marker(u) => at(u.marker(t, "Value"), None),
                    TenantItem::ExternalIdIndex(k) => at(external_id(t, k, "Value", "1"), None),
                    TenantItem::CounterShard(k) => at(counter_shard(t, k, "1"), None),
                    TenantItem::LegacyCounter(k) => {
                        at(Key::new(counters(t), counter_prefix(k)), None)
                    }
                    TenantItem::ListingCheckpoint(k) => {
                        at(Key::new(listing_checkpoints(t, k), "0000001000"), None)
                    }
                    TenantItem::AuditRecord => at(Key::new(audit_log(t, "2026-01-01"), "x"), None),
                    TenantItem::OutboxItem => at(
                        Key::new(outbox(t, "2026-01-01"), format!("{OUTBOX_SK_PREFIX}x")),
                        None,
                    ),
                    TenantItem::RoleRules => at(role_rules(t), None),
                    TenantItem::Webhook => at(webhook(t), None),
                    TenantItem::OAuthClient => at(oauth_client(t, &format!("{t}.c")), None),
                    TenantItem::AssertionId => at(assertion_id(t, &format!("{t}.c"), "jti"), None),
                };
                (kind, item)
            })
            .chain([(
                TenantItem::MembershipEdge(Group),
                at(member_edge(t, Group, "child", "parent"), None),
            )])
            .chain([(TenantItem::Resource(User), at(resource(t, User, "2"), None))])
            .collect()
    }

    #[test]
    fn every_item_of_a_tenant_is_of_exactly_one_kind_and_no_other_tenants() {
        for (kind, item) in one_of_each("acme") {
            let kinds: Vec<TenantItem> = TenantItem::ALL
                .into_iter()
                .filter(|k| k.holds("acme", &item))
                .collect();
            assert_eq!(kinds, [kind], "{item:?}");
            for other in ["acm", "acme-2", "other"] {
                assert_eq!(TenantItem::of(other, &item), None, "{other}: {item:?}");
            }
        }
        let shared = [
            published("stream-record-1"),
            Key::new("CURSORKEY", ITEM),
            Key::new(TENANTS, ITEM),
        ];
        for key in shared {
            assert_eq!(
                TenantItem::of("acme", &at(key.clone(), None)),
                None,
                "{key:?}"
            );
        }
    }

    #[test]
    fn every_kind_is_listed_once_and_reached_in_deletion_order() {
        for (i, kind) in TenantItem::ALL.iter().enumerate() {
            assert!(!TenantItem::ALL[..i].contains(kind), "{kind:?} twice");
        }
        // Tokens go first (no new request authenticates), the tenant item last (a rerun finds it).
        let rank = |k: TenantItem| k.reach("acme").rank();
        for kind in TenantItem::ALL {
            if kind != TenantItem::Token {
                assert!(rank(TenantItem::Token) < rank(kind), "{kind:?}");
            }
            if kind != TenantItem::Tenant {
                assert!(rank(kind) < rank(TenantItem::Tenant), "{kind:?}");
            }
            // Every reach names its partitions by this tenant's keys.
            match &kind.reach("acme") {
                Reach::Partition(pk) | Reach::Daily(pk) | Reach::Credentials(pk) => {
                    assert!(pk.starts_with("T#acme#"))
                }
                Reach::Item(key) => assert!(key.pk.starts_with("T#acme#")),
                Reach::Tokens | Reach::Resources(_) | Reach::Tenant => {}
            }
        }
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
