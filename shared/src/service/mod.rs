//! The service: routes a request to its operation, normalises identity-provider dialects, meters
//! the store, and turns every outcome into a SCIM response. Entry points authenticate first (see
//! [`Service::authenticate`]) and pass the resulting [`Principal`] in; the tenant never comes from
//! the request itself.

#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use crate::events::lifecycle::{Change, Event};
use crate::events::outbox::{Delivery, EventSink};
use crate::oauth::AccessTokens;
use crate::oauth::access_token::looks_like_access_token;
use crate::ops::{self, Announcer, Committed, Ctx, Limits};
use crate::protocol::clock;
use crate::protocol::dialect::{self, Rule};
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::http::{ScimRequest, ScimResponse};
use crate::protocol::router::{Matched, Operation, route_request};
use crate::store::{Metered, Store, Usage};
use crate::tenant::{self, Dialect, Principal, TenantSettings};

mod emergency;
mod record;
mod roles;

/// The SCIM service over one store: what every entry point calls once it has authenticated
/// the request's tenant. Cheap to clone (the store is shared).
#[derive(Debug, Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    limits: Limits,
    /// Every request's lifecycle events are stored in the outbox (on AWS the table's stream
    /// carries them to the events function); locally they are also handed to this sink (the
    /// webhook of `scimctl serve`) once stored.
    sink: Option<Arc<dyn EventSink>>,
    /// Checks OAuth access tokens (its key is read once per process).
    access_tokens: Arc<AccessTokens>,
}

/// A handled request: the response and what it cost.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The SCIM response to send.
    pub response: ScimResponse,
    /// The operation the request was routed to; `None` when no route matched.
    pub operation: Option<Operation>,
    /// Store usage of the operation itself.
    pub usage: Usage,
    /// Names of the dialect rules that rewrote the request (see [`crate::protocol::dialect`]), in the order
    /// they first fired; empty for strict RFC requests and for tenants in the `strict` dialect.
    pub rules: Vec<&'static str>,
    /// Time-ordered id of the request (UUID v7), as the audit log and the outbox key it.
    pub request_id: String,
    /// What the request changed, one entry per resource written.
    pub changes: Vec<Change>,
    /// The lifecycle events of `changes` (see [`crate::events::lifecycle::diff`]), stored in the
    /// outbox with them.
    pub events: Vec<Event>,
    /// Store usage of recording the request (its audit record), apart from `usage`.
    pub recording: Usage,
}

/// Whom a request is handled for: a tenant and its settings, as authentication found them.
/// Entry points pass the [`Principal`] returned by [`Service::authenticate`]; a bare tenant id
/// (tests, tools) stands for that tenant with default settings.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The tenant's id.
    pub tenant: &'a str,
    /// Its settings (dialect, deactivation policy, log retention).
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

/// A tenant as stored, for entry points that name it themselves (the operator's Emergency
/// Logout) rather than authenticate a Secret Token.
impl<'a> From<&'a tenant::Tenant> for Caller<'a> {
    fn from(t: &'a tenant::Tenant) -> Self {
        Caller {
            tenant: &t.id,
            settings: t.settings,
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
    /// A service over `store` that enforces `limits`, with no event sink.
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Service {
            store,
            limits,
            sink: None,
            access_tokens: Arc::new(AccessTokens::new()),
        }
    }

    /// Passes every request's events to `sink` once they are stored in the outbox (`scimctl
    /// serve`'s webhook delivery).
    pub fn with_sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The store it serves from.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The limits it enforces and states in /ServiceProviderConfig.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The tenant of an `Authorization` header value and its settings; 401 when missing,
    /// malformed or unknown. The bearer is a Secret Token or an OAuth access token
    /// ([`crate::oauth::access_token`]); either is one store read (the token item, or the access
    /// token's client), which carries the settings.
    pub async fn authenticate(&self, authorization: Option<&str>) -> ScimResult<Principal> {
        let token = authorization.and_then(tenant::bearer).ok_or_else(|| {
            ScimError::Unauthorized(
                "an 'Authorization: Bearer <Secret Token or access token>' header is required"
                    .into(),
            )
        })?;
        let principal = if looks_like_access_token(token) {
            self.access_tokens.authorize(&*self.store, token).await?
        } else {
            tenant::authorize(&*self.store, token).await?
        };
        principal.ok_or_else(|| ScimError::Unauthorized("the bearer token is not valid".into()))
    }

    /// Handles one request of an authenticated tenant and logs it (names only, never values).
    /// In the tenant's `auto` dialect the request is first normalised (see [`crate::protocol::dialect`]);
    /// the rules that fired are logged as `dialect_rules` and returned in [`Outcome::rules`].
    pub async fn handle<'a>(&self, caller: impl Into<Caller<'a>>, req: &ScimRequest) -> Outcome {
        let caller = caller.into();
        match route_request(req.method, &req.path) {
            Ok(m) if m.operation == Operation::Bulk => self.bulk(caller, req).await,
            _ => self.handle_one(caller, req).await,
        }
    }

    /// `POST /Bulk` (see [`ops::bulk`]): each operation is the single request it stands for and
    /// goes through [`Self::handle_one`] as if sent alone (dialect, audit record, events, log
    /// line). The outcome is the BulkResponse with the sum of the operations' usage, changes,
    /// events and rules.
    async fn bulk(&self, caller: Caller<'_>, req: &ScimRequest) -> Outcome {
        let started = Instant::now();
        let concurrency = self.store.concurrent_writes();
        let run = ops::bulk::run(&self.limits, concurrency, req, |sub| async move {
            self.handle_one(caller, &sub).await
        })
        .await;
        let (response, ran) = run.unwrap_or_else(|e| (ScimResponse::error(&e), Vec::new()));
        let failed = ran.iter().filter(|o| o.response.status >= 400).count();
        let mut outcome = Outcome {
            response,
            operation: Some(Operation::Bulk),
            usage: Usage::default(),
            rules: Vec::new(),
            request_id: uuid::Uuid::now_v7().to_string(),
            changes: Vec::new(),
            events: Vec::new(),
            recording: Usage::default(),
        };
        let operations = ran.len();
        for o in ran {
            outcome.usage += o.usage;
            outcome.recording += o.recording;
            for r in o.rules {
                if !outcome.rules.contains(&r) {
                    outcome.rules.push(r);
                }
            }
            outcome.changes.extend(o.changes);
            outcome.events.extend(o.events);
        }
        tracing::info!(
            tenant = caller.tenant,
            method = req.method.as_str(),
            operation = Operation::Bulk.name(),
            status = outcome.response.status,
            operations,
            failed,
            latency_us = started.elapsed().as_micros() as u64,
            store_calls = outcome.usage.calls + outcome.recording.calls,
            "scim request"
        );
        outcome
    }

    /// Handles one request other than a bulk request.
    async fn handle_one(&self, caller: Caller<'_>, req: &ScimRequest) -> Outcome {
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
        let request_id = uuid::Uuid::now_v7().to_string();
        let actor = format!("idp:{}", caller.settings.dialect.as_str());
        let announcer = Announcer {
            actor: &actor,
            request_id: &request_id,
            at: clock::now(),
            deactivation: caller.settings.deactivation,
            delivery: Delivery::Outbox,
        };
        let ctx = Ctx::new(tenant, &metered, &self.limits)
            .with_base_url(&req.base_url)
            .announcing(announcer);
        let resource_id = routed.as_ref().ok().and_then(|m| m.id.clone());
        let result = match routed {
            Ok(m) => self.dispatch(&ctx, m.operation, m.id.as_deref(), req).await,
            Err(e) => Err(e),
        };
        let (response, committed) =
            result.unwrap_or_else(|e| (ScimResponse::error(&e), Vec::new()));
        let usage = metered.usage();
        let rules: Vec<&'static str> = fired.into_iter().map(Rule::name).collect();
        let latency_us = started.elapsed().as_micros() as u64;
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
            latency_us,
            store_calls = usage.calls,
            items_read = usage.items_read,
            items_written = usage.items_written,
            read_units = usage.read_units,
            write_units = usage.write_units,
            "scim request"
        );
        let recorder = Metered::new(self.store.clone());
        let (changes, events) = committed
            .into_iter()
            .map(|c| (c.change, c.events))
            .unzip::<_, _, Vec<_>, Vec<_>>();
        let mut outcome = Outcome {
            response,
            operation,
            usage,
            rules,
            request_id: request_id.clone(),
            changes,
            events: events.into_iter().flatten().collect(),
            recording: Usage::default(),
        };
        if operation.is_some_and(is_provisioning) {
            self.record(
                &recorder,
                caller,
                &announcer,
                &outcome,
                resource_id,
                latency_us,
            )
            .await;
        }
        outcome.recording = recorder.usage();
        outcome
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
    ) -> ScimResult<(ScimResponse, Vec<Committed>)> {
        if req.body.len() > self.limits.max_payload_bytes {
            return Err(ScimError::PayloadTooLarge(format!(
                "the request body exceeds maxPayloadSize ({} bytes)",
                self.limits.max_payload_bytes
            )));
        }
        let id = || id.ok_or_else(|| ScimError::NotFound("no resource id in the path".into()));
        let changed = |r: (ScimResponse, Option<Committed>)| (r.0, r.1.into_iter().collect());
        let unchanged = |r: ScimResponse| (r, Vec::new());
        Ok(match op {
            Operation::Create(kind) => {
                let (r, c) = ops::create(ctx, kind, req).await?;
                (r, vec![c])
            }
            Operation::Get(kind) => unchanged(ops::get(ctx, kind, id()?, req).await?),
            Operation::List(kind) => unchanged(ops::list(ctx, kind, req).await?),
            Operation::Replace(kind) => changed(ops::replace(ctx, kind, id()?, req).await?),
            Operation::Patch(kind) => changed(ops::patch(ctx, kind, id()?, req).await?),
            Operation::Delete(kind) => {
                let (r, c) = ops::delete(ctx, kind, id()?, req).await?;
                (r, vec![c])
            }
            Operation::Search(kind) => unchanged(ops::search(ctx, kind, req).await?),
            Operation::ServiceProviderConfig => unchanged(ops::service_provider_config(ctx)),
            Operation::ListSchemas => unchanged(ops::schemas(ctx)),
            Operation::GetSchema => unchanged(ops::schema(ctx, id()?)?),
            Operation::ListResourceTypes => unchanged(ops::resource_types(ctx)),
            Operation::GetResourceType => unchanged(ops::resource_type(ctx, id()?)?),
            // A bulk request is answered by `Self::bulk`, and one cannot hold another.
            Operation::Bulk => {
                return Err(ScimError::InvalidSyntax(
                    "a bulk operation cannot be a bulk request".into(),
                ));
            }
        })
    }
}

impl AsRef<ScimResponse> for Outcome {
    fn as_ref(&self) -> &ScimResponse {
        &self.response
    }
}

/// Whether an operation provisions (writes users or groups): those are audited.
fn is_provisioning(op: Operation) -> bool {
    matches!(
        op,
        Operation::Create(_) | Operation::Replace(_) | Operation::Patch(_) | Operation::Delete(_)
    )
}
