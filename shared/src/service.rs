//! The service: routes a request to its operation, meters the store, and turns every outcome into
//! a SCIM response. Entry points authenticate first (see [`Service::authenticate`]) and pass the
//! tenant in; the tenant never comes from the request itself.

use std::sync::Arc;
use std::time::Instant;

use crate::error::{ScimError, ScimResult};
use crate::http::{ScimRequest, ScimResponse};
use crate::ops::{self, Ctx, Limits};
use crate::router::{Operation, route_request};
use crate::store::{Metered, Store, Usage};
use crate::tenant;

#[derive(Debug, Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    limits: Limits,
}

/// A handled request: the response and what it cost.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub response: ScimResponse,
    pub operation: Option<Operation>,
    pub usage: Usage,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Service { store, limits }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The tenant of an `Authorization` header value; 401 when missing, malformed or unknown.
    pub async fn authenticate(&self, authorization: Option<&str>) -> ScimResult<String> {
        let token = authorization.and_then(tenant::bearer).ok_or_else(|| {
            ScimError::Unauthorized(
                "an 'Authorization: Bearer <Secret Token>' header is required".into(),
            )
        })?;
        tenant::authenticate(&*self.store, token)
            .await?
            .ok_or_else(|| ScimError::Unauthorized("the bearer token is not valid".into()))
    }

    /// Handles one request of an authenticated tenant and logs it (names only, never values).
    pub async fn handle(&self, tenant: &str, req: &ScimRequest) -> Outcome {
        let started = Instant::now();
        let metered = Metered::new(self.store.clone());
        let ctx = Ctx {
            tenant,
            store: &metered,
            base_url: &req.base_url,
            limits: &self.limits,
        };
        let routed = route_request(req.method, &req.path);
        let operation = routed.as_ref().ok().map(|m| m.operation);
        let result = match routed {
            Ok(m) => self.dispatch(&ctx, m.operation, m.id.as_deref(), req).await,
            Err(e) => Err(e),
        };
        let response = result.unwrap_or_else(|e| ScimResponse::error(&e));
        let usage = metered.usage();
        tracing::info!(
            tenant,
            method = req.method.as_str(),
            operation = operation.map_or("unrouted", Operation::name),
            status = response.status,
            scim_type = response
                .body
                .as_ref()
                .and_then(|b| b.get("scimType"))
                .and_then(|v| v.as_str()),
            latency_us = started.elapsed().as_micros() as u64,
            store_calls = usage.calls,
            items_read = usage.items_read,
            items_written = usage.items_written,
            read_units = usage.read_units,
            write_units = usage.write_units,
            "scim request"
        );
        Outcome {
            response,
            operation,
            usage,
        }
    }

    async fn dispatch(
        &self,
        ctx: &Ctx<'_>,
        op: Operation,
        id: Option<&str>,
        req: &ScimRequest,
    ) -> ScimResult<ScimResponse> {
        if req.body.len() > self.limits.max_payload_bytes {
            return Err(ScimError::PayloadTooLarge(format!(
                "the request body exceeds maxPayloadSize ({} bytes)",
                self.limits.max_payload_bytes
            )));
        }
        let id = || id.ok_or_else(|| ScimError::NotFound("no resource id in the path".into()));
        match op {
            Operation::Create(kind) => ops::create(ctx, kind, req).await,
            Operation::Get(kind) => ops::get(ctx, kind, id()?, req).await,
            Operation::List(kind) => ops::list(ctx, kind, req).await,
            Operation::Replace(kind) => ops::replace(ctx, kind, id()?, req).await,
            Operation::Patch(kind) => ops::patch(ctx, kind, id()?, req).await,
            Operation::Delete(kind) => ops::delete(ctx, kind, id()?, req).await,
            Operation::Search(kind) => ops::search(ctx, kind, req).await,
            Operation::ServiceProviderConfig => Ok(ops::service_provider_config(ctx)),
            Operation::ListSchemas => Ok(ops::schemas(ctx)),
            Operation::GetSchema => ops::schema(ctx, id()?),
            Operation::ListResourceTypes => Ok(ops::resource_types(ctx)),
            Operation::GetResourceType => ops::resource_type(ctx, id()?),
        }
    }
}
