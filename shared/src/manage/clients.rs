//! A tenant's OAuth clients over the management API: the calls `scimctl client` makes
//! ([`crate::tenant::clients`]). A secret is in the answer that creates it and in no other; a
//! federated client's answer names the Token URL is the service's `/oauth/token`.

use serde::Deserialize;
use serde_json::json;

use super::{ManageError, ManageRequest, ManageResponse, live_tenant};
use crate::store::Store;
use crate::tenant::clients::{self, Federation};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClient {
    /// Present for a federated client (Workload Identity Federation).
    #[serde(default)]
    federation: Option<Federation>,
}

pub(super) async fn list(store: &dyn Store, tenant: &str) -> Result<ManageResponse, ManageError> {
    live_tenant(store, tenant).await?;
    let clients: Vec<_> = clients::list(store, tenant)
        .await?
        .iter()
        .map(clients::Client::info)
        .collect();
    Ok(ManageResponse::json(200, &json!({"clients": clients})))
}

/// Creates a client: a secret one (the secret only in this answer) or, with `federation`, a
/// federated one.
pub(super) async fn create(
    store: &dyn Store,
    tenant: &str,
    req: &ManageRequest,
) -> Result<ManageResponse, ManageError> {
    let new: NewClient = if req.body.iter().all(u8::is_ascii_whitespace) {
        NewClient::default()
    } else {
        req.json()?
    };
    let (client, secret) = clients::create(store, tenant, new.federation).await?;
    let mut body = serde_json::to_value(client.info()).unwrap_or_default();
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    body["token_url"] = json!(token_url(&req.scim_base_url));
    Ok(ManageResponse::json(201, &body))
}

/// The token endpoint beside a Tenant URL: `https://host/scim/v2` → `https://host/oauth/token`.
pub fn token_url(scim_base_url: &str) -> String {
    let base = scim_base_url.trim_end_matches('/');
    let host = base
        .strip_suffix(crate::protocol::http::BASE_PATH)
        .unwrap_or(base);
    format!("{host}{}", crate::oauth::TOKEN_PATH)
}

pub(super) async fn revoke(
    store: &dyn Store,
    tenant: &str,
    client: &str,
) -> Result<ManageResponse, ManageError> {
    live_tenant(store, tenant).await?;
    clients::revoke(store, tenant, client).await?;
    Ok(ManageResponse::no_content())
}

/// Adds a secret for rotation: the only answer that holds it.
pub(super) async fn add_secret(
    store: &dyn Store,
    tenant: &str,
    client: &str,
) -> Result<ManageResponse, ManageError> {
    live_tenant(store, tenant).await?;
    let (secret, info) = clients::add_secret(store, tenant, client).await?;
    Ok(ManageResponse::json(
        201,
        &json!({"id": info.id, "client": client, "created": info.created, "secret": secret}),
    ))
}

pub(super) async fn revoke_secret(
    store: &dyn Store,
    tenant: &str,
    client: &str,
    secret: &str,
) -> Result<ManageResponse, ManageError> {
    live_tenant(store, tenant).await?;
    clients::revoke_secret(store, tenant, client, secret).await?;
    Ok(ManageResponse::no_content())
}
