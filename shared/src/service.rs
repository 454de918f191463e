//! The service: routes a request to its operation, normalises identity-provider dialects, meters
//! the store, and turns every outcome into a SCIM response. Entry points authenticate first (see
//! [`Service::authenticate`]) and pass the resulting [`Principal`] in; the tenant never comes from
//! the request itself.

use std::sync::Arc;
use std::time::Instant;

use crate::dialect::{self, Rule};
use crate::error::{ScimError, ScimResult};
use crate::http::{ScimRequest, ScimResponse};
use crate::ops::{self, Ctx, Limits};
use crate::router::{Matched, Operation, route_request};
use crate::store::{Metered, Store, Usage};
use crate::tenant::{self, Dialect, Principal, TenantSettings};

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
    /// Names of the dialect rules that rewrote the request (see [`crate::dialect`]), in the order
    /// they first fired; empty for strict RFC requests and for tenants in the `strict` dialect.
    pub rules: Vec<&'static str>,
}

/// Whom a request is handled for: a tenant and its settings, as authentication found them.
/// Entry points pass the [`Principal`] returned by [`Service::authenticate`]; a bare tenant id
/// (tests, tools) stands for that tenant with default settings.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub tenant: &'a str,
    pub settings: TenantSettings,
}

impl<'a> From<&'a Principal> for Caller<'a> {
    fn from(p: &'a Principal) -> Self {
        Caller {
            tenant: &p.tenant,
            settings: p.settings,
        }
    }
}

impl<'a> From<&'a str> for Caller<'a> {
    fn from(tenant: &'a str) -> Self {
        Caller {
            tenant,
            settings: TenantSettings::default(),
        }
    }
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

    /// The tenant of an `Authorization` header value and its settings; 401 when missing,
    /// malformed or unknown. One store read: the settings travel on the token item.
    pub async fn authenticate(&self, authorization: Option<&str>) -> ScimResult<Principal> {
        let token = authorization.and_then(tenant::bearer).ok_or_else(|| {
            ScimError::Unauthorized(
                "an 'Authorization: Bearer <Secret Token>' header is required".into(),
            )
        })?;
        tenant::authorize(&*self.store, token)
            .await?
            .ok_or_else(|| ScimError::Unauthorized("the bearer token is not valid".into()))
    }

    /// Handles one request of an authenticated tenant and logs it (names only, never values).
    /// In the tenant's `auto` dialect the request is first normalised (see [`crate::dialect`]);
    /// the rules that fired are logged as `dialect_rules` and returned in [`Outcome::rules`].
    pub async fn handle<'a>(&self, caller: impl Into<Caller<'a>>, req: &ScimRequest) -> Outcome {
        let caller = caller.into();
        let tenant = caller.tenant;
        let started = Instant::now();
        let metered = Metered::new(self.store.clone());
        let routed = route_request(req.method, &req.path);
        let operation = routed.as_ref().ok().map(|m| m.operation);
        let (normalised, fired) = match &routed {
            Ok(m) => self.normalise(caller.settings, m, req),
            Err(_) => (None, Vec::new()),
        };
        let req = normalised.as_ref().unwrap_or(req);
        let ctx = Ctx {
            tenant,
            store: &metered,
            base_url: &req.base_url,
            limits: &self.limits,
        };
        let result = match routed {
            Ok(m) => self.dispatch(&ctx, m.operation, m.id.as_deref(), req).await,
            Err(e) => Err(e),
        };
        let response = result.unwrap_or_else(|e| ScimResponse::error(&e));
        let usage = metered.usage();
        let rules: Vec<&'static str> = fired.into_iter().map(Rule::name).collect();
        let dialect_rules = rules.join(",");
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
            dialect = caller.settings.dialect.as_str(),
            dialect_rules = (!dialect_rules.is_empty()).then_some(dialect_rules.as_str()),
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
            rules,
        }
    }

    /// The request as the core should see it: rewritten when the tenant reads requests in the
    /// `auto` dialect and a rule fired, `None` otherwise. Bodies over the payload limit are left
    /// for [`Self::dispatch`] to refuse with 413. No store access.
    fn normalise(
        &self,
        settings: TenantSettings,
        routed: &Matched,
        req: &ScimRequest,
    ) -> (Option<ScimRequest>, Vec<Rule>) {
        if settings.dialect == Dialect::Strict || req.body.len() > self.limits.max_payload_bytes {
            return (None, Vec::new());
        }
        match dialect::rewrite(routed.operation, routed.id.as_deref(), req) {
            Some(rewrite) => {
                let mut normalised = req.clone();
                let rules = rewrite.apply(&mut normalised);
                (Some(normalised), rules)
            }
            None => (None, Vec::new()),
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
