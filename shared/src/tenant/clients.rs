//! A tenant's OAuth clients: who may ask the token endpoint for access tokens. A client
//! authenticates with a secret (RFC 6749 §2.3.1; at most [`MAX_SECRETS_PER_CLIENT`] live, for
//! rotation; each 256 random bits, shown once, stored as its SHA-256) or, federated, with a JWT
//! its identity provider signs (RFC 7523; Entra's Workload Identity Federation): the client holds
//! the issuer, JWKS URL, subject and audience such an assertion must carry.
//!
//! Clients are items of one partition of their tenant (`keys::oauth_clients`), so a client id
//! names its tenant: `{tenant}.{random}`. Each carries a copy of the tenant's settings, as a
//! Secret Token's item does, so that authorizing an access token is one read.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{self as tenant, TenantError, TenantSettings, token_hash};
use crate::protocol::clock;
use crate::store::keys;
use crate::store::{Condition, Index, Item, Query, Store, StoreError, Write};

/// Most OAuth clients per tenant.
pub const MAX_CLIENTS_PER_TENANT: usize = 5;
/// Most live secrets per client: one in use, one being rotated in.
pub const MAX_SECRETS_PER_CLIENT: usize = 2;
/// Prefix of every client secret, so that leaked ones are recognisable by secret scanners.
pub const SECRET_PREFIX: &str = "scimcs_";
/// Longest issuer, subject, audience or JWKS URL a federated client holds.
const MAX_FEDERATION_VALUE: usize = 1024;

/// OAuth client administration failures.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("tenant '{0}' already has {MAX_CLIENTS_PER_TENANT} OAuth clients; revoke one first")]
    TooManyClients(String),
    #[error("OAuth client '{0}' does not exist")]
    NotFound(String),
    #[error(
        "OAuth client '{0}' already has {MAX_SECRETS_PER_CLIENT} live secrets; revoke one first"
    )]
    TooManySecrets(String),
    #[error("OAuth client '{0}' is federated: it has no secrets")]
    Federated(String),
    #[error("secret '{1}' of OAuth client '{0}' does not exist")]
    SecretNotFound(String, String),
    #[error("the client's last secret cannot be revoked; revoke the client instead")]
    LastSecret,
    #[error("invalid federation: {0}")]
    InvalidFederation(String),
    #[error("OAuth client '{0}' changed concurrently; retry")]
    Conflict(String),
    #[error(transparent)]
    Tenant(#[from] TenantError),
}

impl From<StoreError> for ClientError {
    fn from(e: StoreError) -> Self {
        ClientError::Tenant(TenantError::Store(e))
    }
}

/// The four values of a federated client, as Microsoft Entra shows them to the admin under
/// Workload Identity Federation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Federation {
    /// The assertion's `iss`, e.g. `https://login.microsoftonline.com/{tenant id}/v2.0`.
    pub issuer: String,
    /// Where the issuer publishes its signing keys (HTTPS).
    pub jwks_url: String,
    /// The assertion's `sub`.
    pub subject: String,
    /// A value the assertion's `aud` must hold.
    pub audience: String,
}

impl Federation {
    /// The `aud` values an assertion may carry: the audience as the admin pasted it, without a
    /// `/.default` scope suffix (Microsoft's guide shows the audience as `api://{app id}/.default`,
    /// which is a scope; the token says `api://{app id}`), and the bare app id of an `api://`
    /// audience (Entra issues either form).
    pub fn audiences(&self) -> Vec<&str> {
        let pasted = self.audience.trim();
        let base = pasted.strip_suffix("/.default").unwrap_or(pasted);
        let mut out = vec![pasted, base];
        if let Some(app_id) = base.strip_prefix("api://") {
            out.push(app_id);
        }
        out.dedup();
        out
    }

    /// Refuses values no assertion could match: empty, over-long, or a JWKS URL that
    /// [`check_jwks_url`] refuses.
    pub fn validate(&self) -> Result<(), ClientError> {
        for (name, value) in [
            ("issuer", &self.issuer),
            ("jwks_url", &self.jwks_url),
            ("subject", &self.subject),
            ("audience", &self.audience),
        ] {
            if value.trim().is_empty() || value.len() > MAX_FEDERATION_VALUE {
                return Err(ClientError::InvalidFederation(format!(
                    "{name} must be 1 to {MAX_FEDERATION_VALUE} characters"
                )));
            }
        }
        check_jwks_url(&self.jwks_url, true).map_err(ClientError::InvalidFederation)
    }
}

/// Whether keys may be fetched from `url`: `https://`, or plain `http://` to a loopback address
/// when `allow_loopback_http` (for tests with a local key server, [`LOOPBACK_JWKS_ENV`]). A
/// client is created with either form; the fetch checks again with the host's setting.
pub fn check_jwks_url(url: &str, allow_loopback_http: bool) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") && url.len() > "https://".len() {
        return Ok(());
    }
    let loopback = lower.strip_prefix("http://").is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = match host.rsplit_once(':') {
            Some((h, port)) if !h.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        host == "127.0.0.1" || host == "[::1]" || host == "localhost"
    });
    if loopback && allow_loopback_http {
        return Ok(());
    }
    Err(format!(
        "jwks_url must be an https:// URL (plain http:// only to a loopback address, and only \
         where {LOOPBACK_JWKS_ENV}=1), not '{url}'"
    ))
}

/// The environment variable that lets a JWKS URL be plain HTTP to a loopback address.
pub const LOOPBACK_JWKS_ENV: &str = "SCIM_ALLOW_LOOPBACK_JWKS";

/// A client secret as stored: its id (a prefix of its hash), hash and creation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredSecret {
    id: String,
    hash: String,
    created: String,
}

/// A client secret as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    pub id: String,
    pub created: String,
}

/// A client as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: String,
    pub tenant: String,
    pub created: String,
    /// Present for a federated client, which has no secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<Federation>,
    #[serde(default)]
    secrets: Vec<StoredSecret>,
    /// A copy of the tenant's settings (see the module documentation).
    #[serde(default)]
    pub settings: TenantSettings,
}

/// A client as listed and answered by the management API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub id: String,
    pub tenant: String,
    pub created: String,
    /// `secret` or `federated`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<Federation>,
}

impl Client {
    /// What may be shown of it.
    pub fn info(&self) -> ClientInfo {
        ClientInfo {
            id: self.id.clone(),
            tenant: self.tenant.clone(),
            created: self.created.clone(),
            kind: if self.federation.is_some() {
                "federated"
            } else {
                "secret"
            }
            .to_string(),
            secrets: self
                .secrets
                .iter()
                .map(|s| SecretInfo {
                    id: s.id.clone(),
                    created: s.created.clone(),
                })
                .collect(),
            federation: self.federation.clone(),
        }
    }

    /// The id of the live secret `secret` is, compared in constant time with each.
    pub fn secret_id(&self, secret: &str) -> Option<&str> {
        let hash = token_hash(secret);
        self.secrets
            .iter()
            .find(|s| bool::from(s.hash.as_bytes().ct_eq(hash.as_bytes())))
            .map(|s| s.id.as_str())
    }

    /// Whether `secret_id` names a live secret.
    pub fn has_secret(&self, secret_id: &str) -> bool {
        self.secrets.iter().any(|s| s.id == secret_id)
    }
}

/// The tenant a client id names (`{tenant}.{random}`), if it is of that form.
pub fn tenant_of(client_id: &str) -> Option<&str> {
    let (tenant, rest) = client_id.split_once('.')?;
    (!tenant.is_empty() && !rest.is_empty() && client_id.len() <= 128).then_some(tenant)
}

fn new_secret() -> Result<(String, StoredSecret), ClientError> {
    let (secret, hash) = tenant::new_secret(SECRET_PREFIX)?;
    let stored = StoredSecret {
        id: hash[..12].to_string(),
        hash,
        created: clock::format(clock::now()),
    };
    Ok((secret, stored))
}

fn item(client: &Client, version: u64) -> Item {
    Item {
        key: keys::oauth_client(&client.tenant, &client.id),
        version,
        body: serde_json::to_string(client).unwrap_or_default(),
        ..Item::default()
    }
}

/// Creates a client of a live tenant: with a secret (returned, shown once) or, given a
/// federation, without one.
pub async fn create(
    store: &dyn Store,
    tenant_id: &str,
    federation: Option<Federation>,
) -> Result<(Client, Option<String>), ClientError> {
    if let Some(f) = &federation {
        f.validate()?;
    }
    let (record, current) = tenant::live_tenant_item(store, tenant_id).await?;
    if list(store, tenant_id).await?.len() >= MAX_CLIENTS_PER_TENANT {
        return Err(ClientError::TooManyClients(tenant_id.to_string()));
    }
    let (secret, secrets) = match federation {
        Some(_) => (None, Vec::new()),
        None => {
            let (secret, stored) = new_secret()?;
            (Some(secret), vec![stored])
        }
    };
    let client = Client {
        id: format!("{tenant_id}.{}", tenant::random_text(16)?),
        tenant: tenant_id.to_string(),
        created: clock::format(clock::now()),
        federation,
        secrets,
        settings: current.settings,
    };
    // The tenant's version moves with it, so that a concurrent settings change cannot miss it.
    let writes = vec![
        tenant::next_version(&record, record.body.clone()),
        Write::Put {
            item: item(&client, 1),
            condition: Condition::NotExists,
        },
    ];
    match store.transact(writes).await {
        Err(StoreError::ConditionFailed { .. }) => {
            Err(TenantError::Conflict(tenant_id.to_string()).into())
        }
        other => other.map(|()| (client, secret)).map_err(Into::into),
    }
}

/// A tenant's clients and their items, in id order.
pub(crate) async fn items(
    store: &dyn Store,
    tenant_id: &str,
) -> Result<Vec<(Item, Client)>, StoreError> {
    let mut q = Query::new(Index::Primary, keys::oauth_clients(tenant_id), "", 100);
    let mut out = Vec::new();
    loop {
        let page = store.query(&q).await?;
        out.extend(
            page.items
                .into_iter()
                .filter_map(|i| serde_json::from_str(&i.body).ok().map(|c| (i, c))),
        );
        match page.next {
            Some(next) => q.start_after = Some(next),
            None => return Ok(out),
        }
    }
}

/// A tenant's clients.
pub async fn list(store: &dyn Store, tenant_id: &str) -> Result<Vec<Client>, ClientError> {
    Ok(items(store, tenant_id)
        .await?
        .into_iter()
        .map(|(_, c)| c)
        .collect())
}

/// One client, by its id (one read); `None` for an id of no client.
pub async fn get(store: &dyn Store, client_id: &str) -> Result<Option<Client>, StoreError> {
    Ok(get_item(store, client_id).await?.map(|(_, c)| c))
}

async fn get_item(
    store: &dyn Store,
    client_id: &str,
) -> Result<Option<(Item, Client)>, StoreError> {
    let Some(tenant_id) = tenant_of(client_id) else {
        return Ok(None);
    };
    let item = store.get(&keys::oauth_client(tenant_id, client_id)).await?;
    Ok(item
        .and_then(|i| serde_json::from_str::<Client>(&i.body).ok().map(|c| (i, c)))
        .filter(|(_, c)| c.id == client_id && c.tenant == tenant_id))
}

/// The client `client_id` of tenant `tenant_id`, or [`ClientError::NotFound`].
async fn owned(
    store: &dyn Store,
    tenant_id: &str,
    client_id: &str,
) -> Result<(Item, Client), ClientError> {
    get_item(store, client_id)
        .await?
        .filter(|(_, c)| c.tenant == tenant_id)
        .ok_or_else(|| ClientError::NotFound(client_id.to_string()))
}

/// Revokes a client: no token is issued to it any more, and its live access tokens are refused
/// from the next authorization on (the authorizer reads the client).
pub async fn revoke(
    store: &dyn Store,
    tenant_id: &str,
    client_id: &str,
) -> Result<(), ClientError> {
    let (item, _) = owned(store, tenant_id, client_id).await?;
    store
        .transact(vec![Write::Delete {
            key: item.key,
            condition: Condition::None,
        }])
        .await?;
    Ok(())
}

/// Writes a changed client over the item it was read from, on condition of its version.
async fn replace(store: &dyn Store, read: &Item, client: &Client) -> Result<(), ClientError> {
    let write = Write::Put {
        item: item(client, read.version + 1),
        condition: Condition::VersionIs(read.version),
    };
    match store.transact(vec![write]).await {
        Err(StoreError::ConditionFailed { .. }) => Err(ClientError::Conflict(client.id.clone())),
        other => other.map_err(Into::into),
    }
}

/// Adds a secret to a client for rotation and returns it (shown once).
pub async fn add_secret(
    store: &dyn Store,
    tenant_id: &str,
    client_id: &str,
) -> Result<(String, SecretInfo), ClientError> {
    let (read, mut client) = owned(store, tenant_id, client_id).await?;
    if client.federation.is_some() {
        return Err(ClientError::Federated(client_id.to_string()));
    }
    if client.secrets.len() >= MAX_SECRETS_PER_CLIENT {
        return Err(ClientError::TooManySecrets(client_id.to_string()));
    }
    let (secret, stored) = new_secret()?;
    let info = SecretInfo {
        id: stored.id.clone(),
        created: stored.created.clone(),
    };
    client.secrets.push(stored);
    replace(store, &read, &client).await?;
    Ok((secret, info))
}

/// Revokes one secret of a client: tokens issued for it are refused from then on.
pub async fn revoke_secret(
    store: &dyn Store,
    tenant_id: &str,
    client_id: &str,
    secret_id: &str,
) -> Result<(), ClientError> {
    let (read, mut client) = owned(store, tenant_id, client_id).await?;
    if !client.has_secret(secret_id) {
        return Err(ClientError::SecretNotFound(
            client_id.to_string(),
            secret_id.to_string(),
        ));
    }
    if client.secrets.len() == 1 {
        return Err(ClientError::LastSecret);
    }
    client.secrets.retain(|s| s.id != secret_id);
    replace(store, &read, &client).await
}

/// The writes that give every client of a tenant new settings (part of
/// `tenant::set_settings`'s transaction).
pub(crate) async fn settings_writes(
    store: &dyn Store,
    tenant_id: &str,
    settings: TenantSettings,
) -> Result<Vec<Write>, StoreError> {
    Ok(items(store, tenant_id)
        .await?
        .into_iter()
        .map(|(read, mut client)| {
            client.settings = settings;
            Write::Put {
                item: item(&client, read.version + 1),
                condition: Condition::VersionIs(read.version),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EmbeddedStore;

    #[tokio::test]
    async fn a_client_has_one_secret_then_two_for_rotation_and_never_none() {
        let store = EmbeddedStore::in_memory().expect("store");
        tenant::create_tenant(&store, "acme").await.expect("tenant");
        let (client, secret) = create(&store, "acme", None).await.expect("client");
        let secret = secret.expect("a secret client gets its secret");
        assert!(secret.starts_with(SECRET_PREFIX) && secret.len() >= SECRET_PREFIX.len() + 43);
        assert_eq!(tenant_of(&client.id), Some("acme"));
        let first = client.secret_id(&secret).expect("live").to_string();
        let (second, _) = add_secret(&store, "acme", &client.id)
            .await
            .expect("rotate");
        assert!(matches!(
            add_secret(&store, "acme", &client.id).await,
            Err(ClientError::TooManySecrets(_))
        ));
        revoke_secret(&store, "acme", &client.id, &first)
            .await
            .expect("revoke");
        let stored = get(&store, &client.id).await.expect("get").expect("client");
        assert_eq!(
            stored.secret_id(&secret),
            None,
            "the revoked secret is gone"
        );
        let second_id = stored.secret_id(&second).expect("live").to_string();
        assert!(matches!(
            revoke_secret(&store, "acme", &client.id, &second_id).await,
            Err(ClientError::LastSecret)
        ));
        assert!(
            !serde_json::to_string(&stored.info())
                .expect("json")
                .contains(&second)
        );
    }

    #[tokio::test]
    async fn a_client_belongs_to_its_tenant_only() {
        let store = EmbeddedStore::in_memory().expect("store");
        tenant::create_tenant(&store, "acme").await.expect("acme");
        tenant::create_tenant(&store, "beta").await.expect("beta");
        let (client, _) = create(&store, "acme", None).await.expect("client");
        assert!(matches!(
            revoke(&store, "beta", &client.id).await,
            Err(ClientError::NotFound(_))
        ));
        assert!(list(&store, "beta").await.expect("list").is_empty());
        // A forged id that names another tenant finds nothing there.
        let forged = client.id.replacen("acme", "beta", 1);
        assert_eq!(get(&store, &forged).await.expect("get"), None);
        revoke(&store, "acme", &client.id).await.expect("revoke");
        assert_eq!(get(&store, &client.id).await.expect("get"), None);
    }

    #[tokio::test]
    async fn a_federated_client_needs_an_https_jwks_url_and_has_no_secret() {
        let store = EmbeddedStore::in_memory().expect("store");
        tenant::create_tenant(&store, "acme").await.expect("tenant");
        let federation = Federation {
            issuer: "https://login.microsoftonline.com/tid/v2.0".into(),
            jwks_url: "http://keys.example.com/jwks".into(),
            subject: "sub".into(),
            audience: "api://AzureADTokenExchange".into(),
        };
        assert!(matches!(
            create(&store, "acme", Some(federation.clone())).await,
            Err(ClientError::InvalidFederation(_))
        ));
        let https = Federation {
            jwks_url: "https://login.microsoftonline.com/tid/discovery/v2.0/keys".into(),
            ..federation
        };
        let (client, secret) = create(&store, "acme", Some(https)).await.expect("client");
        assert_eq!(secret, None);
        assert_eq!(client.info().kind, "federated");
        assert!(matches!(
            add_secret(&store, "acme", &client.id).await,
            Err(ClientError::Federated(_))
        ));
    }
}
