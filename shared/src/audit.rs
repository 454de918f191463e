//! The audit log: one record per provisioning request (create, replace, patch, delete of users
//! and groups), kept per tenant and day under `T#{t}#LOG#{day}` / `{time}#{request id}` and
//! expired by the table's TTL after the tenant's retention. A record names what happened and
//! why it failed (status, scimType, the dialect rules that fired, the changed attribute names);
//! it never holds attribute values or tokens.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::protocol::clock;
use crate::store::keys;
use crate::store::{Condition, Item, Key, Store, StoreError, Write};

/// Retention of audit records when the tenant sets none.
pub const DEFAULT_RETENTION_DAYS: u16 = 90;

/// One provisioning request as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// RFC 3339, millisecond precision.
    pub time: String,
    pub request_id: String,
    pub tenant: String,
    /// The operation name (`PatchUser`, ...).
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    pub latency_us: u64,
    pub store_calls: u64,
    /// Dialect rules that rewrote the request.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Names of the attributes the request changed (never their values).
    #[serde(default)]
    pub attributes: Vec<String>,
    /// `idp:<dialect>` for SCIM requests, `scimctl` for operator actions.
    pub actor: String,
}

impl AuditRecord {
    pub fn failed(&self) -> bool {
        self.status >= 400
    }
}

/// The stored item of a record: expires `retention_days` after `at`.
pub fn item(record: &AuditRecord, at: OffsetDateTime, retention_days: u16) -> Item {
    Item {
        key: Key::new(
            keys::audit_log(&record.tenant, &clock::day(at)),
            format!("{}#{}", clock::format_sortable(at), record.request_id),
        ),
        body: serde_json::to_string(record).unwrap_or_default(),
        expires_at: Some(at.unix_timestamp() + i64::from(retention_days) * 86_400),
        ..Item::default()
    }
}

/// Writes one record with a single unconditional put.
pub async fn write(
    store: &dyn Store,
    record: &AuditRecord,
    at: OffsetDateTime,
    retention_days: u16,
) -> Result<(), StoreError> {
    let item = item(record, at, retention_days);
    store
        .transact(vec![Write::Put {
            item,
            condition: Condition::None,
        }])
        .await
}

/// The records of a tenant from `since` up to `until`, oldest first: one Query per UTC day.
pub async fn read(
    store: &dyn Store,
    tenant: &str,
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Vec<AuditRecord>, StoreError> {
    let items = crate::store::read_days(
        store,
        since,
        until,
        |day| keys::audit_log(tenant, day),
        sort_time,
    )
    .await?;
    Ok(items
        .iter()
        .filter_map(|i| serde_json::from_str(&i.body).ok())
        .collect())
}

/// The time-first part of an audit record's sort key: all of it.
fn sort_time(sk: &str) -> Option<&str> {
    Some(sk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EmbeddedStore;

    fn record(request_id: &str, status: u16) -> AuditRecord {
        AuditRecord {
            time: String::new(),
            request_id: request_id.into(),
            tenant: "acme".into(),
            operation: "PatchUser".into(),
            resource_id: Some("u1".into()),
            status,
            scim_type: (status == 400).then(|| "invalidValue".into()),
            latency_us: 10,
            store_calls: 2,
            rules: vec!["op-case".into()],
            attributes: vec!["active".into()],
            actor: "idp:auto".into(),
        }
    }

    #[tokio::test]
    async fn records_are_read_back_by_time_range_across_days() {
        let store = EmbeddedStore::in_memory().expect("store");
        let day1 = clock::parse_datetime("2026-01-01T23:59:00Z").expect("t");
        let day2 = clock::parse_datetime("2026-01-02T00:01:00Z").expect("t");
        write(&store, &record("a", 200), day1, 90).await.expect("a");
        write(&store, &record("b", 400), day2, 90).await.expect("b");
        let all = read(&store, "acme", day1, day2).await.expect("read");
        let ids: Vec<&str> = all.iter().map(|r| r.request_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        let later = read(&store, "acme", day2, day2).await.expect("read");
        assert_eq!(later.len(), 1);
        assert!(later[0].failed());
        assert!(
            read(&store, "other", day1, day2)
                .await
                .expect("read")
                .is_empty()
        );
    }

    #[test]
    fn records_expire_after_the_retention() {
        let at = clock::parse_datetime("2026-01-01T00:00:00Z").expect("t");
        let item = item(&record("a", 200), at, 90);
        assert_eq!(item.expires_at, Some(at.unix_timestamp() + 90 * 86_400));
        assert_eq!(item.key.pk, "T#acme#LOG#2026-01-01");
        assert!(item.key.sk.starts_with("2026-01-01T00:00:00.000Z#a"));
    }
}
