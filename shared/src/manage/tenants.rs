//! Tenants and their Secret Tokens over the management API: the same calls `scimctl tenant` and
//! `scimctl token` make ([`crate::tenant`], [`crate::purge`]), answered with the tenant and
//! token records as they are stored (snake_case fields, as in the audit log; never a token's
//! secret or hash, except the secret once in the answer that issues it).

use serde::Deserialize;
use serde_json::json;

use super::{ManageError, ManageRequest, ManageResponse, live_tenant};
use crate::purge;
use crate::store::Store;
use crate::tenant::{self, Deactivation, Dialect, TenantSettings};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    id: String,
}

/// The settings a PATCH changes; those it leaves out keep their value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsPatch {
    dialect: Option<Dialect>,
    log_retention_days: Option<u16>,
    deactivation: Option<Deactivation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantPatch {
    settings: SettingsPatch,
}

pub(super) async fn list(store: &dyn Store) -> Result<ManageResponse, ManageError> {
    let tenants = tenant::list_tenants(store).await?;
    Ok(ManageResponse::json(200, &json!({"tenants": tenants})))
}

pub(super) async fn create(
    store: &dyn Store,
    req: &ManageRequest,
) -> Result<ManageResponse, ManageError> {
    let new: NewTenant = req.json()?;
    let t = tenant::create_tenant(store, &new.id).await?;
    Ok(ManageResponse::json(201, &t))
}

pub(super) async fn get(store: &dyn Store, id: &str) -> Result<ManageResponse, ManageError> {
    let t = tenant::get_tenant(store, id)
        .await?
        .ok_or_else(|| tenant::TenantError::NotFound(id.to_string()))?;
    Ok(ManageResponse::json(200, &t))
}

pub(super) async fn set(
    store: &dyn Store,
    id: &str,
    req: &ManageRequest,
) -> Result<ManageResponse, ManageError> {
    let patch: TenantPatch = req.json()?;
    let current = live_tenant(store, id).await?;
    let SettingsPatch {
        dialect,
        log_retention_days,
        deactivation,
    } = patch.settings;
    let settings = TenantSettings {
        dialect: dialect.unwrap_or(current.settings.dialect),
        log_retention_days: log_retention_days.unwrap_or(current.settings.log_retention_days),
        deactivation: deactivation.unwrap_or(current.settings.deactivation),
    };
    if settings.log_retention_days == 0 {
        return Err(ManageError::BadRequest(
            "log_retention_days must be at least 1".into(),
        ));
    }
    let t = tenant::set_settings(store, id, settings).await?;
    Ok(ManageResponse::json(200, &t))
}

/// Deletes the tenant and all its data ([`purge::delete_tenant`]). A deletion cut short (a
/// timeout) leaves the tenant marked `deleting`; the same request finishes it.
pub(super) async fn delete(store: &dyn Store, id: &str) -> Result<ManageResponse, ManageError> {
    let steps = purge::delete_tenant(store, id, &mut |_| {}).await?;
    let deleted: u64 = steps.iter().map(|s| s.deleted).sum();
    let steps: Vec<_> = steps
        .iter()
        .filter(|s| s.deleted > 0)
        .map(|s| json!({"items": s.reach.to_string(), "deleted": s.deleted}))
        .collect();
    Ok(ManageResponse::json(
        200,
        &json!({"id": id, "deleted": deleted, "steps": steps}),
    ))
}

pub(super) async fn tokens(store: &dyn Store, id: &str) -> Result<ManageResponse, ManageError> {
    live_tenant(store, id).await?;
    let tokens = tenant::list_tokens(store, id).await?;
    Ok(ManageResponse::json(200, &json!({"tokens": tokens})))
}

/// Issues a Secret Token: the only answer that ever holds it.
pub(super) async fn issue(store: &dyn Store, id: &str) -> Result<ManageResponse, ManageError> {
    let (secret, info) = tenant::issue_token(store, id).await?;
    Ok(ManageResponse::json(
        201,
        &json!({"id": info.id, "tenant": info.tenant, "created": info.created, "token": secret}),
    ))
}

pub(super) async fn revoke(
    store: &dyn Store,
    id: &str,
    token_id: &str,
) -> Result<ManageResponse, ManageError> {
    live_tenant(store, id).await?;
    tenant::revoke_token(store, id, token_id).await?;
    Ok(ManageResponse::no_content())
}
