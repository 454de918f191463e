//! A tenant's directory over the management API, read-only: `GET users`, `GET users/{id}` and
//! the same for groups, answered by the SCIM service itself as the tenant's identity provider
//! would be answered (`filter`, `cursor`/`count` or `startIndex`, `attributes`,
//! `excludedAttributes`, `sortBy`): the API adds no second reading of the data.

use super::{ManageError, ManageRequest, ManageResponse, live_tenant};
use crate::ScimError;
use crate::protocol::http::{Method, ScimRequest};
use crate::service::{Caller, Service};

/// The SCIM path of a directory kind (`users` → `/Users`).
fn scim_path(kind: &str) -> &'static str {
    if kind == "groups" {
        "/Groups"
    } else {
        "/Users"
    }
}

pub(super) async fn list(
    service: &Service,
    tenant: &str,
    kind: &str,
    req: &ManageRequest,
) -> Result<ManageResponse, ManageError> {
    read(service, tenant, scim_path(kind).to_string(), req).await
}

pub(super) async fn get(
    service: &Service,
    tenant: &str,
    kind: &str,
    id: &str,
    req: &ManageRequest,
) -> Result<ManageResponse, ManageError> {
    read(service, tenant, format!("{}/{id}", scim_path(kind)), req).await
}

/// One SCIM GET for the tenant; a SCIM error is answered as the management API's error.
async fn read(
    service: &Service,
    tenant: &str,
    path: String,
    req: &ManageRequest,
) -> Result<ManageResponse, ManageError> {
    let t = live_tenant(&**service.store(), tenant).await?;
    let mut scim = ScimRequest::new(Method::Get, path, req.scim_base_url.clone());
    scim.query = req.query.clone();
    let outcome = service.handle(Caller::from(&t), &scim).await;
    let response = outcome.response;
    match response.body {
        Some(body) if response.status < 400 => Ok(ManageResponse {
            status: response.status,
            body: Some(body),
        }),
        _ => {
            let detail = response
                .body
                .as_ref()
                .and_then(|b| b.get("detail"))
                .and_then(|d| d.as_str())
                .unwrap_or("the directory read failed")
                .to_string();
            Err(match response.status {
                404 => ManageError::NotFound(detail),
                503 => ManageError::Scim(ScimError::Unavailable(detail)),
                s if s < 500 => ManageError::BadRequest(detail),
                _ => ManageError::Scim(ScimError::Internal(detail)),
            })
        }
    }
}
