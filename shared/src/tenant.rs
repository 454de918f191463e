//! Tenants and their Secret Tokens. A token is 256 random bits from the OS CSPRNG, shown once,
//! stored only as its SHA-256, and checked in constant time. A tenant has at most two live tokens
//! (one in use, one being rotated in).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock;
use crate::keys;
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub created: String,
}

/// A token as listed: never the secret, only an id (a prefix of its hash) and its creation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub tenant: String,
    pub created: String,
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
        Err(StoreError::ConditionFailed { .. }) => Err(TenantError::Exists(id.to_string())),
        other => other.map(|()| tenant).map_err(Into::into),
    }
}

pub async fn get_tenant(store: &dyn Store, id: &str) -> Result<Option<Tenant>, TenantError> {
    let item = store.get(&keys::tenant(id)).await?;
    Ok(item.and_then(|i| serde_json::from_str(&i.body).ok()))
}

pub async fn list_tenants(store: &dyn Store) -> Result<Vec<Tenant>, TenantError> {
    let items = query_all(store, Query::new(Index::Gsi1, keys::TENANTS, "", 1000)).await?;
    Ok(items
        .iter()
        .filter_map(|i| serde_json::from_str(&i.body).ok())
        .collect())
}

/// Deletes a tenant and revokes its tokens. Its resources are removed by the caller first
/// (`ops::purge_tenant`), so that uniqueness markers and memberships go with them.
pub async fn delete_tenant(store: &dyn Store, id: &str) -> Result<(), TenantError> {
    for t in list_tokens(store, id).await? {
        revoke_token(store, id, &t.id).await?;
    }
    match store
        .transact(vec![Write::Delete {
            key: keys::tenant(id),
            condition: Condition::Exists,
        }])
        .await
    {
        Err(StoreError::ConditionFailed { .. }) => Err(TenantError::NotFound(id.to_string())),
        other => other.map_err(Into::into),
    }
}

/// Issues a new Secret Token for a tenant and returns it; only its hash is stored.
pub async fn issue_token(
    store: &dyn Store,
    tenant: &str,
) -> Result<(String, TokenInfo), TenantError> {
    if get_tenant(store, tenant).await?.is_none() {
        return Err(TenantError::NotFound(tenant.to_string()));
    }
    if list_tokens(store, tenant).await?.len() >= MAX_TOKENS_PER_TENANT {
        return Err(TenantError::TooManyTokens(tenant.to_string()));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| TenantError::Random(e.to_string()))?;
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let hash = token_hash(&token);
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
        })
        .unwrap_or_default(),
        ..Item::default()
    };
    store
        .transact(vec![
            Write::Check {
                key: keys::tenant(tenant),
                condition: Condition::Exists,
            },
            Write::Put {
                item,
                condition: Condition::NotExists,
            },
        ])
        .await?;
    Ok((token, info))
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredToken {
    hash: String,
    #[serde(flatten)]
    info: TokenInfo,
}

async fn stored_tokens(store: &dyn Store, tenant: &str) -> Result<Vec<StoredToken>, TenantError> {
    let items = query_all(
        store,
        Query::new(Index::Gsi1, keys::tenant_tokens(tenant), "", 100),
    )
    .await?;
    Ok(items
        .iter()
        .filter_map(|i| serde_json::from_str(&i.body).ok())
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
    Ok(same.then_some(stored.info.tenant))
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

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
