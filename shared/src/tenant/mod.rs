//! Tenants and their Secret Tokens. A token is 256 random bits from the OS CSPRNG, shown once,
//! stored only as its SHA-256, and checked in constant time. A tenant has at most two live tokens
//! (one in use, one being rotated in).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::protocol::clock;
use crate::store::keys;

pub mod clients;
use crate::store::{Condition, Index, Item, Key, Query, Store, StoreError, Write};

/// Most live tokens per tenant.
pub const MAX_TOKENS_PER_TENANT: usize = 2;
/// Prefix of every Secret Token, so leaked tokens are recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "scim_";

/// Tenant and token administration failures.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("tenant id must be 1 to 64 characters of a-z, 0-9, '-' and '_'")]
    InvalidId,
    #[error("tenant '{0}' already exists")]
    Exists(String),
    #[error("tenant '{0}' does not exist")]
    NotFound(String),
    #[error("tenant '{0}' already has {MAX_TOKENS_PER_TENANT} live tokens; revoke one first")]
    TooManyTokens(String),
    #[error("token '{0}' does not exist")]
    TokenNotFound(String),
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("tenant '{0}' changed concurrently; retry")]
    Conflict(String),
    #[error("tenant '{0}' is being deleted; run `scimctl tenant delete {0}` again to finish")]
    Deleting(String),
    #[error(
        "tenant '{0}' has no readable creation time, so the days of its audit log and outbox \
         cannot be bounded; nothing was deleted"
    )]
    UnknownCreation(String),
    #[error("deleting the tenant's users and groups failed: {0}")]
    Resources(crate::protocol::error::ScimError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub created: String,
    /// Absent in tenants stored before settings existed: those read as the defaults.
    #[serde(default)]
    pub settings: TenantSettings,
    /// Set when its deletion starts (`crate::purge`): no token is issued and no setting changed
    /// any more, and the id cannot be taken again until the deletion has finished.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
}

/// How the service reads what a tenant's identity provider sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Requests are normalised from what identity providers really send into strict RFC 7644
    /// form before the core sees them (see [`crate::protocol::dialect`]).
    #[default]
    Auto,
    /// Requests reach the core as sent: anything outside RFC 7644 is a SCIM error.
    Strict,
}

impl Dialect {
    /// The setting as written in the CLI, logs and the stored tenant.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Auto => "auto",
            Dialect::Strict => "strict",
        }
    }
}

/// What an identity provider's deactivation of a user (`active` set to false) means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Deactivation {
    /// A `leaver` event, delivered like every other event.
    #[default]
    Leaver,
    /// An Emergency Logout: the `leaver` is marked `emergency` and delivered before the SCIM
    /// response (see docs/events.md).
    Emergency,
}

impl Deactivation {
    /// The setting as written in the CLI and the stored tenant.
    pub fn as_str(self) -> &'static str {
        match self {
            Deactivation::Leaver => "leaver",
            Deactivation::Emergency => "emergency",
        }
    }
}

/// Per-tenant settings. They are stored on the tenant item and copied onto each of its token
/// items, so that authentication, which reads the token item anyway, yields them at no extra
/// store read; [`set_settings`] changes both in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    #[serde(default)]
    pub dialect: Dialect,
    /// Days the audit log keeps a record (DynamoDB TTL); absent in records stored before the
    /// setting existed, which read as the default.
    #[serde(default = "default_log_retention_days")]
    pub log_retention_days: u16,
    /// What an IdP deactivation means; absent in records stored before the setting existed.
    #[serde(default)]
    pub deactivation: Deactivation,
}

fn default_log_retention_days() -> u16 {
    crate::audit::DEFAULT_RETENTION_DAYS
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            dialect: Dialect::default(),
            log_retention_days: default_log_retention_days(),
            deactivation: Deactivation::default(),
        }
    }
}

/// An authenticated caller: the tenant a Secret Token belongs to and the tenant's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: String,
    pub settings: TenantSettings,
}

/// A token as listed: never the secret, only an id (a prefix of its hash) and its creation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub tenant: String,
    pub created: String,
}

/// `n` random bytes of the operating system's CSPRNG, base64url-encoded.
pub(crate) fn random_text(n: usize) -> Result<String, TenantError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| TenantError::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// A new secret (a Secret Token or an OAuth client secret): `prefix` and 256 random bits, and
/// its SHA-256, the only form in which it is stored.
pub(crate) fn new_secret(prefix: &str) -> Result<(String, String), TenantError> {
    let secret = format!("{prefix}{}", random_text(32)?);
    let hash = token_hash(&secret);
    Ok((secret, hash))
}

/// The SHA-256 of a token, hex encoded: the key under which it is stored.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_tenant_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub async fn create_tenant(store: &dyn Store, id: &str) -> Result<Tenant, TenantError> {
    if !valid_tenant_id(id) {
        return Err(TenantError::InvalidId);
    }
    let tenant = Tenant {
        id: id.to_string(),
        created: clock::format(clock::now()),
        settings: TenantSettings::default(),
        deleting: false,
    };
    let item = Item {
        key: keys::tenant(id),
        gsi1: Some(Key::new(keys::TENANTS, id)),
        version: 1,
        body: serde_json::to_string(&tenant).unwrap_or_default(),
        ..Item::default()
    };
    match store
        .transact(vec![Write::Put {
            item,
            condition: Condition::NotExists,
        }])
        .await
    {
        Err(StoreError::ConditionFailed { .. }) => match get_tenant(store, id).await? {
            Some(t) if t.deleting => Err(TenantError::Deleting(id.to_string())),
            _ => Err(TenantError::Exists(id.to_string())),
        },
        other => other.map(|()| tenant).map_err(Into::into),
    }
}

pub async fn get_tenant(store: &dyn Store, id: &str) -> Result<Option<Tenant>, TenantError> {
    Ok(tenant_item(store, id).await?.map(|(_, t)| t))
}

/// The tenant, unless it does not exist or is being deleted: what every entry point that acts
/// for a tenant on an operator's behalf reads, so that nothing is written for a tenant whose
/// deletion may already have passed that kind of item.
pub async fn get_live_tenant(store: &dyn Store, id: &str) -> Result<Option<Tenant>, TenantError> {
    Ok(get_tenant(store, id).await?.filter(|t| !t.deleting))
}

/// The stored tenant item (for its version) and the tenant it holds.
async fn tenant_item(store: &dyn Store, id: &str) -> Result<Option<(Item, Tenant)>, TenantError> {
    let item = store.get(&keys::tenant(id)).await?;
    Ok(item.and_then(|i| serde_json::from_str(&i.body).ok().map(|t| (i, t))))
}

/// The stored tenant item and tenant, unless it does not exist or is being deleted.
pub(crate) async fn live_tenant_item(
    store: &dyn Store,
    id: &str,
) -> Result<(Item, Tenant), TenantError> {
    match tenant_item(store, id).await? {
        None => Err(TenantError::NotFound(id.to_string())),
        Some((_, t)) if t.deleting => Err(TenantError::Deleting(id.to_string())),
        Some(found) => Ok(found),
    }
}

/// The same item with a new body and the next version, written on condition that the stored
/// version is still the one read.
pub(crate) fn next_version(item: &Item, body: String) -> Write {
    Write::Put {
        item: Item {
            version: item.version + 1,
            body,
            ..item.clone()
        },
        condition: Condition::VersionIs(item.version),
    }
}

/// Changes a tenant's settings: the tenant item, every token item and every OAuth client of the
/// tenant in one transaction (at most 1 + [`MAX_TOKENS_PER_TENANT`] +
/// [`clients::MAX_CLIENTS_PER_TENANT`] writes). A token or client issued or
/// revoked concurrently makes it fail with [`TenantError::Conflict`] rather than leave a
/// credential with stale settings.
pub async fn set_settings(
    store: &dyn Store,
    id: &str,
    settings: TenantSettings,
) -> Result<Tenant, TenantError> {
    let (item, mut tenant) = live_tenant_item(store, id).await?;
    tenant.settings = settings;
    let mut writes = vec![next_version(
        &item,
        serde_json::to_string(&tenant).unwrap_or_default(),
    )];
    for (token_item, mut token) in stored_token_items(store, id).await? {
        token.settings = settings;
        let body = serde_json::to_string(&token).unwrap_or_default();
        writes.push(next_version(&token_item, body));
    }
    writes.extend(clients::settings_writes(store, id, settings).await?);
    match store.transact(writes).await {
        Err(StoreError::ConditionFailed { .. }) => Err(TenantError::Conflict(id.to_string())),
        other => other.map(|()| tenant).map_err(Into::into),
    }
}

pub async fn list_tenants(store: &dyn Store) -> Result<Vec<Tenant>, TenantError> {
    let items = query_all(store, Query::new(Index::Gsi1, keys::TENANTS, "", 1000)).await?;
    Ok(items
        .iter()
        .filter_map(|i| serde_json::from_str(&i.body).ok())
        .collect())
}

/// Marks a tenant as being deleted (its deletion is `crate::purge::delete_tenant`) and returns
/// it; a tenant already marked is returned as it is.
pub async fn mark_deleting(store: &dyn Store, id: &str) -> Result<Tenant, TenantError> {
    let (item, mut tenant) = tenant_item(store, id)
        .await?
        .ok_or_else(|| TenantError::NotFound(id.to_string()))?;
    if tenant.deleting {
        return Ok(tenant);
    }
    tenant.deleting = true;
    let body = serde_json::to_string(&tenant).unwrap_or_default();
    match store.transact(vec![next_version(&item, body)]).await {
        Err(StoreError::ConditionFailed { .. }) => Err(TenantError::Conflict(id.to_string())),
        other => other.map(|()| tenant).map_err(Into::into),
    }
}

/// Issues a new Secret Token for a tenant and returns it; only its hash is stored. The token
/// item carries a copy of the tenant's settings; the tenant item's version is bumped in the
/// same transaction so that a concurrent [`set_settings`] cannot miss the new token.
pub async fn issue_token(
    store: &dyn Store,
    tenant: &str,
) -> Result<(String, TokenInfo), TenantError> {
    let (record, current) = live_tenant_item(store, tenant).await?;
    if list_tokens(store, tenant).await?.len() >= MAX_TOKENS_PER_TENANT {
        return Err(TenantError::TooManyTokens(tenant.to_string()));
    }
    let (token, hash) = new_secret(TOKEN_PREFIX)?;
    let info = TokenInfo {
        id: hash[..12].to_string(),
        tenant: tenant.to_string(),
        created: clock::format(clock::now()),
    };
    let item = Item {
        key: keys::token(&hash),
        gsi1: Some(Key::new(
            keys::tenant_tokens(tenant),
            format!("{}#{}", info.created, info.id),
        )),
        version: 1,
        body: serde_json::to_string(&StoredToken {
            hash: hash.clone(),
            info: info.clone(),
            settings: current.settings,
        })
        .unwrap_or_default(),
        ..Item::default()
    };
    let writes = vec![
        next_version(&record, record.body.clone()),
        Write::Put {
            item,
            condition: Condition::NotExists,
        },
    ];
    match store.transact(writes).await {
        Err(StoreError::ConditionFailed { index: 0 }) => {
            Err(TenantError::Conflict(tenant.to_string()))
        }
        other => other.map(|()| (token, info)).map_err(Into::into),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredToken {
    hash: String,
    #[serde(flatten)]
    info: TokenInfo,
    /// A copy of the tenant's settings; absent in tokens issued before settings existed.
    #[serde(default)]
    settings: TenantSettings,
}

async fn stored_tokens(store: &dyn Store, tenant: &str) -> Result<Vec<StoredToken>, TenantError> {
    Ok(stored_token_items(store, tenant)
        .await?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

/// A tenant's token items with the tokens they hold.
async fn stored_token_items(
    store: &dyn Store,
    tenant: &str,
) -> Result<Vec<(Item, StoredToken)>, TenantError> {
    let items = query_all(
        store,
        Query::new(Index::Gsi1, keys::tenant_tokens(tenant), "", 100),
    )
    .await?;
    Ok(items
        .into_iter()
        .filter_map(|i| serde_json::from_str(&i.body).ok().map(|t| (i, t)))
        .collect())
}

pub async fn list_tokens(store: &dyn Store, tenant: &str) -> Result<Vec<TokenInfo>, TenantError> {
    Ok(stored_tokens(store, tenant)
        .await?
        .into_iter()
        .map(|t| t.info)
        .collect())
}

/// Revokes a token by its id (as listed).
pub async fn revoke_token(
    store: &dyn Store,
    tenant: &str,
    token_id: &str,
) -> Result<(), TenantError> {
    let token = stored_tokens(store, tenant)
        .await?
        .into_iter()
        .find(|t| t.info.id == token_id)
        .ok_or_else(|| TenantError::TokenNotFound(token_id.to_string()))?;
    store
        .transact(vec![Write::Delete {
            key: keys::token(&token.hash),
            condition: Condition::None,
        }])
        .await?;
    Ok(())
}

/// The token check every entry point uses: the tenant a bearer token belongs to, if any.
pub async fn authenticate(store: &dyn Store, token: &str) -> Result<Option<String>, StoreError> {
    Ok(authorize(store, token).await?.map(|p| p.tenant))
}

/// The caller a bearer token stands for: its tenant and the tenant's settings, read from the
/// token item alone (one store read, the same as [`authenticate`]).
pub async fn authorize(store: &dyn Store, token: &str) -> Result<Option<Principal>, StoreError> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    let hash = token_hash(token);
    let Some(item) = store.get(&keys::token(&hash)).await? else {
        return Ok(None);
    };
    let Ok(stored) = serde_json::from_str::<StoredToken>(&item.body) else {
        return Ok(None);
    };
    let same: bool = stored.hash.as_bytes().ct_eq(hash.as_bytes()).into();
    Ok(same.then_some(Principal {
        tenant: stored.info.tenant,
        settings: stored.settings,
    }))
}

/// Extracts the token of an `Authorization: Bearer <token>` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

async fn query_all(store: &dyn Store, mut q: Query) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    loop {
        let page = store.query(&q).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => q.start_after = Some(next),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EmbeddedStore;

    #[tokio::test]
    async fn tokens_authenticate_their_tenant_until_revoked() {
        let store = EmbeddedStore::in_memory().expect("store");
        create_tenant(&store, "acme").await.expect("tenant");
        let (token, info) = issue_token(&store, "acme").await.expect("token");
        assert!(
            token.len() >= TOKEN_PREFIX.len() + 43,
            "256 bits of entropy"
        );
        assert_eq!(
            authenticate(&store, &token).await.expect("auth").as_deref(),
            Some("acme")
        );
        assert_eq!(
            authenticate(&store, "scim_wrong").await.expect("auth"),
            None
        );
        revoke_token(&store, "acme", &info.id)
            .await
            .expect("revoke");
        assert_eq!(authenticate(&store, &token).await.expect("auth"), None);
    }

    #[tokio::test]
    async fn at_most_two_live_tokens() {
        let store = EmbeddedStore::in_memory().expect("store");
        create_tenant(&store, "acme").await.expect("tenant");
        issue_token(&store, "acme").await.expect("first");
        issue_token(&store, "acme").await.expect("second");
        assert!(matches!(
            issue_token(&store, "acme").await,
            Err(TenantError::TooManyTokens(_))
        ));
        assert!(matches!(
            issue_token(&store, "nope").await,
            Err(TenantError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn tenant_ids_are_validated_and_unique() {
        let store = EmbeddedStore::in_memory().expect("store");
        assert!(matches!(
            create_tenant(&store, "Bad Id").await,
            Err(TenantError::InvalidId)
        ));
        create_tenant(&store, "a").await.expect("a");
        assert!(matches!(
            create_tenant(&store, "a").await,
            Err(TenantError::Exists(_))
        ));
        assert_eq!(list_tenants(&store).await.expect("list").len(), 1);
    }

    #[tokio::test]
    async fn tenants_and_tokens_default_to_the_auto_dialect() {
        let store = EmbeddedStore::in_memory().expect("store");
        let tenant = create_tenant(&store, "acme").await.expect("tenant");
        assert_eq!(tenant.settings.dialect, Dialect::Auto);
        let (token, _) = issue_token(&store, "acme").await.expect("token");
        let principal = authorize(&store, &token).await.expect("auth");
        assert_eq!(
            principal,
            Some(Principal {
                tenant: "acme".into(),
                settings: TenantSettings::default()
            })
        );
    }

    #[tokio::test]
    async fn settings_reach_existing_and_later_tokens() {
        let store = EmbeddedStore::in_memory().expect("store");
        create_tenant(&store, "acme").await.expect("tenant");
        let (before, _) = issue_token(&store, "acme").await.expect("token");
        let strict = TenantSettings {
            dialect: Dialect::Strict,
            ..TenantSettings::default()
        };
        let tenant = set_settings(&store, "acme", strict).await.expect("set");
        assert_eq!(tenant.settings, strict);
        let (after, _) = issue_token(&store, "acme").await.expect("token");
        for token in [before, after] {
            let p = authorize(&store, &token)
                .await
                .expect("auth")
                .expect("valid");
            assert_eq!(p.settings.dialect, Dialect::Strict);
        }
        let stored = get_tenant(&store, "acme")
            .await
            .expect("get")
            .expect("tenant");
        assert_eq!(stored.settings, strict);
        assert!(matches!(
            set_settings(&store, "nope", strict).await,
            Err(TenantError::NotFound(_))
        ));
    }

    #[test]
    fn records_stored_before_settings_existed_read_as_auto() {
        let tenant: Tenant =
            serde_json::from_str(r#"{"id":"acme","created":"2025-01-01T00:00:00Z"}"#)
                .expect("old tenant");
        assert_eq!(tenant.settings.dialect, Dialect::Auto);
        let token: StoredToken = serde_json::from_str(
            r#"{"hash":"ab","id":"ab","tenant":"acme","created":"2025-01-01T00:00:00Z"}"#,
        )
        .expect("old token");
        assert_eq!(token.settings.dialect, Dialect::Auto);
        assert_eq!(token.settings.log_retention_days, 90);
        assert_eq!(token.info.tenant, "acme");
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
