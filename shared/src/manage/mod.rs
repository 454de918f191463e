//! The management API: what the vendor's own product and operators call, apart from SCIM.
//! Versioned JSON under [`BASE_PATH`] (docs/management-api.md, with its OpenAPI file):
//!
//! - **tenants** ([`Concern::Tenants`]): tenants (create, list, get, settings, delete), their
//!   Secret Tokens (issue, shown once; list; revoke) and OAuth clients (create, with a secret
//!   shown once or federated; list; secrets added and revoked; revoke);
//! - **directory** ([`Concern::Directory`]): a tenant's users and groups, read-only, answered by
//!   the SCIM service itself (same filters, `cursor` paging, `attributes`);
//! - **activity** ([`Concern::Activity`]): a tenant's lifecycle events (replay from a time, an
//!   event id or a cursor) and its audit log (by time, status, operation);
//! - **republish** ([`Concern::Republish`]): a tenant's events of a time window sent to the
//!   event publisher again (EventBridge on AWS, the tenant's webhook locally): the redrive.
//!
//! Entry points authenticate the operator before they call [`Management::handle`]: `scimctl
//! serve` with its operator token, API Gateway with IAM (SigV4), one Lambda function per concern.
//! The tenant of every route is in its path; a tenant's Secret Token never reaches this API.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use crate::boundary::catch_panic;
use crate::events::publish::Publisher;
use crate::protocol::error::ScimError;
use crate::protocol::http::Method;
use crate::service::Service;
use crate::store::StoreError;
use crate::tenant::TenantError;
use crate::tenant::clients::ClientError;

mod activity;
mod clients;
mod directory;
mod republish;
mod tenants;

pub use activity::{IN_FLIGHT, MAX_WINDOW_DAYS};
pub use clients::token_url;

/// Where the management API is served below a host (and, on AWS, below the stage).
pub const BASE_PATH: &str = "/admin/v1";

/// Items per page when a request names no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Most items per page.
pub const MAX_LIMIT: usize = 1000;

/// The parts of the API that are deployed apart (on AWS: one function each, each with only the
/// grants its part needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Concern {
    /// Tenants and their Secret Tokens: the only part that changes them (a directory read may
    /// store listing checkpoints, as SCIM reads do).
    Tenants,
    /// A tenant's users and groups, read-only.
    Directory,
    /// A tenant's lifecycle events and audit log, read-only.
    Activity,
    /// A tenant's events sent to the publisher again.
    Republish,
}

impl Concern {
    /// Every concern, in the order of docs/management-api.md.
    pub const ALL: [Concern; 4] = [
        Concern::Tenants,
        Concern::Directory,
        Concern::Activity,
        Concern::Republish,
    ];
}

/// A management request, relative to [`BASE_PATH`].
#[derive(Debug, Clone)]
pub struct ManageRequest {
    pub method: Method,
    /// Path below [`BASE_PATH`], e.g. `/tenants/acme/users`.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The Tenant URL base (`https://host/scim/v2`): directory resources carry their SCIM
    /// `meta.location` under it.
    pub scim_base_url: String,
}

impl ManageRequest {
    pub fn new(method: Method, path: impl Into<String>, scim_base_url: impl Into<String>) -> Self {
        ManageRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            body: Vec::new(),
            scim_base_url: scim_base_url.into(),
        }
    }

    /// The first query parameter with this name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The page size: `limit`, 1 to [`MAX_LIMIT`], or [`DEFAULT_LIMIT`].
    fn limit(&self) -> Result<usize, ManageError> {
        match self.param("limit") {
            None => Ok(DEFAULT_LIMIT),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ManageError::BadRequest(format!("limit must be 1 to {MAX_LIMIT}, not '{s}'"))
                }),
        }
    }

    /// The body as JSON of type `T`.
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ManageError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ManageError::BadRequest(format!("the request body: {e}")))
    }
}

/// A management response: a status and a JSON body (none for 204).
#[derive(Debug, Clone, PartialEq)]
pub struct ManageResponse {
    pub status: u16,
    pub body: Option<Value>,
}

impl ManageResponse {
    /// The media type of every body.
    pub const CONTENT_TYPE: &'static str = "application/json";

    fn json(status: u16, body: &impl Serialize) -> Self {
        ManageResponse {
            status,
            body: Some(serde_json::to_value(body).unwrap_or(Value::Null)),
        }
    }

    fn no_content() -> Self {
        ManageResponse {
            status: 204,
            body: None,
        }
    }

    /// The body as sent.
    pub fn body_bytes(&self) -> Vec<u8> {
        self.body
            .as_ref()
            .map(|b| b.to_string().into_bytes())
            .unwrap_or_default()
    }
}

/// Why a management request failed; [`ManageError::response`] is the one mapping to an answer.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The entry point did not authenticate an operator.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: &'static str, path: String },
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Tenant(#[from] TenantError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Scim(#[from] ScimError),
}

impl ManageError {
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            ManageError::Unauthorized(_) => 401,
            ManageError::NotFound(_) => 404,
            ManageError::MethodNotAllowed { .. } => 405,
            ManageError::BadRequest(_) => 400,
            ManageError::Tenant(e) => ManageError::tenant_status(e),
            ManageError::Client(e) => match e {
                ClientError::NotFound(_) | ClientError::SecretNotFound(..) => 404,
                ClientError::InvalidFederation(_) => 400,
                ClientError::TooManyClients(_)
                | ClientError::TooManySecrets(_)
                | ClientError::Federated(_)
                | ClientError::LastSecret
                | ClientError::Conflict(_) => 409,
                ClientError::Tenant(e) => ManageError::tenant_status(e),
            },
            ManageError::Store(e) => store_status(e),
            ManageError::Scim(e) => e.status(),
        }
    }

    fn tenant_status(e: &TenantError) -> u16 {
        match e {
            TenantError::InvalidId => 400,
            TenantError::NotFound(_) | TenantError::TokenNotFound(_) => 404,
            TenantError::Exists(_)
            | TenantError::TooManyTokens(_)
            | TenantError::Conflict(_)
            | TenantError::Deleting(_) => 409,
            TenantError::Store(e) => store_status(e),
            TenantError::Random(_)
            | TenantError::UnknownCreation(_)
            | TenantError::Resources(_) => 500,
        }
    }

    /// A short machine-readable name of the error.
    fn code(&self) -> &'static str {
        match self.status() {
            400 => "invalidRequest",
            401 => "unauthorized",
            404 => "notFound",
            405 => "methodNotAllowed",
            409 => "conflict",
            503 => "unavailable",
            _ => "internal",
        }
    }

    /// The answer: `{"error": {"status", "code", "message"}}`; a server-side failure is logged
    /// and answered without its detail.
    pub fn response(&self) -> ManageResponse {
        let status = self.status();
        let message = if status >= 500 {
            tracing::error!(error = %self, "management request failed");
            "the request failed on the server; it is logged".to_string()
        } else {
            self.to_string()
        };
        ManageResponse::json(
            status,
            &json!({"error": {"status": status, "code": self.code(), "message": message}}),
        )
    }
}

/// A conflict between concurrent transactions is a 503 (retry); every other store failure a 500.
fn store_status(e: &StoreError) -> u16 {
    match e {
        StoreError::Conflict => 503,
        _ => 500,
    }
}

/// A routed request: what it asks and of which tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route<'a> {
    Tenants,
    Tenant(&'a str),
    Tokens(&'a str),
    Token(&'a str, &'a str),
    Clients(&'a str),
    Client(&'a str, &'a str),
    ClientSecrets(&'a str, &'a str),
    ClientSecret(&'a str, &'a str, &'a str),
    Resources(&'a str, &'a str),
    Resource(&'a str, &'a str, &'a str),
    Events(&'a str),
    Republish(&'a str),
    Audit(&'a str),
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Option<Route<'a>> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        Some(match segments.as_slice() {
            ["tenants"] => Route::Tenants,
            ["tenants", t] => Route::Tenant(t),
            ["tenants", t, "tokens"] => Route::Tokens(t),
            ["tenants", t, "tokens", id] => Route::Token(t, id),
            ["tenants", t, "clients"] => Route::Clients(t),
            ["tenants", t, "clients", id] => Route::Client(t, id),
            ["tenants", t, "clients", id, "secrets"] => Route::ClientSecrets(t, id),
            ["tenants", t, "clients", id, "secrets", s] => Route::ClientSecret(t, id, s),
            ["tenants", t, kind @ ("users" | "groups")] => Route::Resources(t, kind),
            ["tenants", t, kind @ ("users" | "groups"), id] => Route::Resource(t, kind, id),
            ["tenants", t, "events"] => Route::Events(t),
            ["tenants", t, "events", "republish"] => Route::Republish(t),
            ["tenants", t, "audit"] => Route::Audit(t),
            _ => return None,
        })
        .filter(|r| r.segments_are_named())
    }

    /// Every segment a route takes from the path is non-empty (`/tenants//tokens` routes nowhere).
    fn segments_are_named(&self) -> bool {
        let named = |s: &str| !s.is_empty();
        match *self {
            Route::Tenants => true,
            Route::Tenant(t)
            | Route::Tokens(t)
            | Route::Clients(t)
            | Route::Events(t)
            | Route::Republish(t)
            | Route::Audit(t) => named(t),
            Route::Resources(t, _) => named(t),
            Route::Token(t, id)
            | Route::Client(t, id)
            | Route::ClientSecrets(t, id)
            | Route::Resource(t, _, id) => named(t) && named(id),
            Route::ClientSecret(t, id, s) => named(t) && named(id) && named(s),
        }
    }

    fn concern(&self) -> Concern {
        match self {
            Route::Tenants
            | Route::Tenant(_)
            | Route::Tokens(_)
            | Route::Token(..)
            | Route::Clients(_)
            | Route::Client(..)
            | Route::ClientSecrets(..)
            | Route::ClientSecret(..) => Concern::Tenants,
            Route::Resources(..) | Route::Resource(..) => Concern::Directory,
            Route::Events(_) | Route::Audit(_) => Concern::Activity,
            Route::Republish(_) => Concern::Republish,
        }
    }
}

/// The management API over one service.
#[derive(Debug, Clone)]
pub struct Management {
    service: Arc<Service>,
    serves: Vec<Concern>,
    /// Where republished events go; without one, republishing is refused.
    publisher: Option<Arc<dyn Publisher>>,
}

impl Management {
    /// Serves every concern (`scimctl serve`).
    pub fn new(service: Arc<Service>) -> Self {
        Management {
            service,
            serves: Concern::ALL.to_vec(),
            publisher: None,
        }
    }

    /// Republishes events through `publisher`.
    pub fn with_publisher(mut self, publisher: Arc<dyn Publisher>) -> Self {
        self.publisher = Some(publisher);
        self
    }

    /// Serves one concern only (a Lambda function); another's routes are 404s.
    pub fn only(service: Arc<Service>, concern: Concern) -> Self {
        Management {
            service,
            serves: vec![concern],
            publisher: None,
        }
    }

    /// Answers one request of an authenticated operator. Never fails: every problem is an error
    /// answer, a panic a 500 for this request only.
    pub async fn handle(&self, req: &ManageRequest) -> ManageResponse {
        match catch_panic(self.answer(req)).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => e.response(),
            Err(panicked) => ManageError::Scim(panicked.into()).response(),
        }
    }

    async fn answer(&self, req: &ManageRequest) -> Result<ManageResponse, ManageError> {
        let route = Route::parse(&req.path)
            .filter(|r| self.serves.contains(&r.concern()))
            .ok_or_else(|| {
                ManageError::NotFound(format!("no management route {BASE_PATH}{}", req.path))
            })?;
        let store = &**self.service.store();
        let not_allowed = || ManageError::MethodNotAllowed {
            method: req.method.as_str(),
            path: format!("{BASE_PATH}{}", req.path),
        };
        match (route, req.method) {
            (Route::Tenants, Method::Get) => tenants::list(store).await,
            (Route::Tenants, Method::Post) => tenants::create(store, req).await,
            (Route::Tenant(t), Method::Get) => tenants::get(store, t).await,
            (Route::Tenant(t), Method::Patch) => tenants::set(store, t, req).await,
            (Route::Tenant(t), Method::Delete) => tenants::delete(store, t).await,
            (Route::Tokens(t), Method::Get) => tenants::tokens(store, t).await,
            (Route::Tokens(t), Method::Post) => tenants::issue(store, t).await,
            (Route::Token(t, id), Method::Delete) => tenants::revoke(store, t, id).await,
            (Route::Clients(t), Method::Get) => clients::list(store, t).await,
            (Route::Clients(t), Method::Post) => clients::create(store, t, req).await,
            (Route::Client(t, id), Method::Delete) => clients::revoke(store, t, id).await,
            (Route::ClientSecrets(t, id), Method::Post) => clients::add_secret(store, t, id).await,
            (Route::ClientSecret(t, id, s), Method::Delete) => {
                clients::revoke_secret(store, t, id, s).await
            }
            (Route::Resources(t, kind), Method::Get) => {
                directory::list(&self.service, t, kind, req).await
            }
            (Route::Resource(t, kind, id), Method::Get) => {
                directory::get(&self.service, t, kind, id, req).await
            }
            (Route::Events(t), Method::Get) => activity::events(store, t, req).await,
            (Route::Audit(t), Method::Get) => activity::audit(store, t, req).await,
            (Route::Republish(t), Method::Post) => {
                let publisher = self.publisher.as_deref().ok_or_else(|| {
                    ManageError::NotFound(
                        "this server has no event publisher to republish to".into(),
                    )
                })?;
                republish::republish(store, publisher, t, req).await
            }
            _ => Err(not_allowed()),
        }
    }
}

/// The tenant a route names, unless it does not exist or is being deleted: 404.
async fn live_tenant(
    store: &dyn crate::store::Store,
    id: &str,
) -> Result<crate::tenant::Tenant, ManageError> {
    crate::tenant::get_live_tenant(store, id)
        .await?
        .ok_or_else(|| ManageError::Tenant(TenantError::NotFound(id.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_their_tenant_and_concern() {
        assert_eq!(Route::parse("/tenants"), Some(Route::Tenants));
        assert_eq!(Route::parse("/tenants/"), Some(Route::Tenants));
        assert_eq!(Route::parse("/tenants/acme"), Some(Route::Tenant("acme")));
        assert_eq!(
            Route::parse("/tenants/acme/tokens/ab12"),
            Some(Route::Token("acme", "ab12"))
        );
        assert_eq!(
            Route::parse("/tenants/acme/groups/g1"),
            Some(Route::Resource("acme", "groups", "g1"))
        );
        assert_eq!(
            Route::parse("/tenants/acme/users").map(|r| r.concern()),
            Some(Concern::Directory)
        );
        assert_eq!(
            Route::parse("/tenants/acme/audit").map(|r| r.concern()),
            Some(Concern::Activity)
        );
        assert_eq!(
            Route::parse("/tenants/acme/events/republish").map(|r| r.concern()),
            Some(Concern::Republish)
        );
        for nowhere in [
            "",
            "/",
            "/tenant",
            "/tenants//tokens",
            "/tenants/acme/Users",
            "/tenants/acme/users/u1/x",
        ] {
            assert_eq!(Route::parse(nowhere), None, "{nowhere}");
        }
    }
}
