//! The one adapter between API Gateway (REST API, Lambda proxy integration) and the SCIM core:
//! the event becomes a [`ScimRequest`], [`Service::handle`] answers it, and the [`ScimResponse`]
//! becomes the proxy response, exactly as `scimctl serve` translates its HTTP requests.
//!
//! The tenant comes only from the authorizer's context (`requestContext.authorizer.tenantId`),
//! never from the request; a request without it is refused with 401.
//!
//! Each event is handled inside its invocation span (both request ids on every log line, see
//! [`crate::telemetry`]) and, when metrics are on, ends with its EMF line ([`crate::metrics`]).

use std::sync::Arc;
use std::time::Instant;

use lambda_http::http::{HeaderMap, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use scim_shared::ScimError;
use scim_shared::boundary::catch_panic;
use scim_shared::protocol::http::{BASE_PATH, Method, ScimRequest, ScimResponse};
use scim_shared::protocol::router;
use scim_shared::service::Service;
use scim_shared::tenant::{Principal, TenantSettings};
use serde_json::Value;
use tracing::Instrument;

use crate::catalog::Function;
use crate::{metrics, telemetry};

/// Where the API is mounted, below the stage (or a custom domain's base path).
/// The authorizer context key holding the tenant id.
pub const TENANT_KEY: &str = "tenantId";
/// The authorizer context key holding the tenant's settings, as JSON text.
pub const SETTINGS_KEY: &str = "settings";

/// Handles the API Gateway events of one function.
#[derive(Debug, Clone)]
pub struct Handler {
    service: Arc<Service>,
    function: &'static Function,
    /// Public base URL (`SCIM_PUBLIC_URL`, e.g. a custom domain); derived from the event when unset.
    public_url: Option<String>,
    /// The namespace of the per-request EMF line; none, no line.
    metrics_namespace: Option<String>,
}

impl Handler {
    pub fn new(
        service: Arc<Service>,
        function: &'static Function,
        public_url: Option<String>,
    ) -> Self {
        Handler {
            service,
            function,
            public_url: public_url.filter(|u| !u.is_empty()),
            metrics_namespace: None,
        }
    }

    /// Prints one EMF line per request, in this namespace.
    pub fn with_metrics(mut self, namespace: impl Into<String>) -> Self {
        self.metrics_namespace = Some(namespace.into());
        self
    }

    pub fn function(&self) -> &'static Function {
        self.function
    }

    /// Answers one proxy event. Never fails: every problem is a SCIM error response, a panic
    /// included (a 500 for this event only; the sandbox goes on serving).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let span = telemetry::request_span(&request);
        let response = catch_panic(self.answer(&request))
            .instrument(span.clone())
            .await
            .unwrap_or_else(|panicked| {
                span.in_scope(|| {
                    tracing::error!(
                        function = self.function.binary,
                        method = request.method().as_str(),
                        "the request panicked; answered 500"
                    )
                });
                ScimResponse::error(&panicked.into())
            });
        if let Some(namespace) = &self.metrics_namespace {
            let sample = metrics::Sample {
                operation: self.operation_name(&request),
                latency: started.elapsed(),
                status: response.status,
            };
            metrics::emit(namespace, &sample);
        }
        into_response(&response)
    }

    /// The metrics' `Operation` of a request: the router's name of its operation, or the
    /// function's binary for a request the router does not know.
    fn operation_name(&self, request: &Request) -> &'static str {
        scim_path(request.raw_http_path())
            .zip(Method::parse(request.method().as_str()))
            .and_then(|(path, method)| router::route_request(method, &path).ok())
            .map_or(self.function.binary, |routed| routed.operation.name())
    }

    async fn answer(&self, request: &Request) -> ScimResponse {
        match principal(request).and_then(|p| Ok((p, self.to_scim(request)?))) {
            Ok((principal, req)) => self.dispatch(&principal, &req).await,
            Err(e) => ScimResponse::error(&e),
        }
    }

    /// Refuses requests of operations this function does not serve (template.yaml and the router
    /// disagree), then lets the service answer. Paths the router does not know get the router's
    /// own 404 or 405, as from the local server.
    async fn dispatch(&self, principal: &Principal, req: &ScimRequest) -> ScimResponse {
        if let Ok(routed) = router::route_request(req.method, &req.path)
            && !self.function.serves(routed.operation)
        {
            tracing::error!(
                function = self.function.binary,
                operation = routed.operation.name(),
                "request routed to a function that does not serve its operation"
            );
            return ScimResponse::error(&ScimError::Internal(format!(
                "the API routed a {} request to the wrong function",
                routed.operation.name()
            )));
        }
        self.service.handle(principal, req).await.response
    }

    /// Translates the proxy event into the core request.
    fn to_scim(&self, request: &Request) -> Result<ScimRequest, ScimError> {
        let path = scim_path(request.raw_http_path())
            .ok_or_else(|| ScimError::NotFound(format!("the SCIM API is under {BASE_PATH}")))?;
        let method = Method::parse(request.method().as_str()).ok_or_else(|| {
            ScimError::MethodNotAllowed(format!("{} is not supported", request.method()))
        })?;
        let headers = request.headers();
        let base_url = scim_base_url(self.public_url.as_deref(), request, BASE_PATH);
        let mut req = ScimRequest::new(method, path, base_url);
        req.query = query(request);
        req.if_match = header_str(headers, header::IF_MATCH).map(str::to_string);
        req.if_none_match = header_str(headers, header::IF_NONE_MATCH).map(str::to_string);
        // lambda_http has already decoded base64 bodies (`isBase64Encoded`).
        req.body = request.body().to_vec();
        Ok(req)
    }
}

/// Who the authorizer said the caller is.
fn principal(request: &Request) -> Result<Principal, ScimError> {
    let fields = request
        .request_context_ref()
        .and_then(RequestContext::authorizer)
        .map(|a| &a.fields);
    let tenant = fields
        .and_then(|f| f.get(TENANT_KEY))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ScimError::Unauthorized("the request carries no tenant from the authorizer".into())
        })?;
    let settings = match fields
        .and_then(|f| f.get(SETTINGS_KEY))
        .and_then(Value::as_str)
    {
        None => TenantSettings::default(),
        Some(text) => serde_json::from_str(text).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "unreadable tenant settings in the authorizer context");
            TenantSettings::default()
        }),
    };
    Ok(Principal {
        tenant: tenant.to_string(),
        settings,
    })
}

/// The absolute SCIM base URL for `meta.location` of a request to the API mounted at `mount`
/// (`/scim/v2`, or the management API's `/admin/v1`): `SCIM_PUBLIC_URL` when set, else the Host
/// the client called plus the path prefix before `mount` as the client sent it (the stage on
/// the `execute-api` endpoint, the base path mapping on a custom domain), then `/scim/v2`.
pub(crate) fn scim_base_url(public_url: Option<&str>, request: &Request, mount: &str) -> String {
    if let Some(url) = public_url {
        return url.trim_end_matches('/').to_string();
    }
    let context = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(c)) => Some(c),
        _ => None,
    };
    let headers = request.headers();
    let host = header_str(headers, header::HOST)
        .or_else(|| context.and_then(|c| c.domain_name.as_deref()))
        .unwrap_or("localhost");
    let scheme = header_str(headers, "x-forwarded-proto").unwrap_or("https");
    let prefix = context
        .and_then(|c| c.path.as_deref())
        .and_then(|p| {
            mount_index(p, mount)
                .and_then(|i| p.get(..i))
                .map(str::to_string)
        })
        .or_else(|| {
            context
                .and_then(|c| c.stage.as_deref())
                .filter(|s| !s.is_empty() && *s != "$default")
                .map(|s| format!("/{s}"))
        })
        .unwrap_or_default();
    format!("{scheme}://{host}{prefix}{BASE_PATH}")
}

/// Where `mount` starts in a path, as a whole path segment.
fn mount_index(path: &str, mount: &str) -> Option<usize> {
    path.match_indices(mount)
        .map(|(i, _)| i)
        .find(|&i| matches!(path.as_bytes().get(i + mount.len()), None | Some(b'/')))
}

/// The path below `mount` of the path the client called (`event.path`, which on a custom
/// domain still carries the base path mapping).
pub(crate) fn path_below(path: &str, mount: &str) -> Option<String> {
    mount_index(path, mount)
        .and_then(|i| path.get(i + mount.len()..))
        .map(str::to_string)
}

/// The path below `/scim/v2` of the path the client called.
fn scim_path(path: &str) -> Option<String> {
    path_below(path, BASE_PATH)
}

/// The decoded query parameters (`multiValueQueryStringParameters`), by name; the values of one
/// name keep their order.
pub(crate) fn query(request: &Request) -> Vec<(String, String)> {
    let mut query: Vec<(String, String)> = request
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    // The event holds a map: restore a stable order (a stable sort keeps each name's values).
    query.sort_by(|a, b| a.0.cmp(&b.0));
    query
}

fn header_str<K: header::AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The proxy response: status, `application/scim+json`, Location, ETag, and the challenge on 401.
pub fn into_response(r: &ScimResponse) -> Response<Body> {
    r.to_http(match &r.body {
        Some(b) => Body::Text(b.to_string()),
        None => Body::Empty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scim_path_follows_the_base_path_wherever_it_is_mounted() {
        assert_eq!(scim_path("/scim/v2/Users").as_deref(), Some("/Users"));
        assert_eq!(scim_path("/scim/v2").as_deref(), Some(""));
        assert_eq!(
            scim_path("/identity/scim/v2/Groups/1").as_deref(),
            Some("/Groups/1")
        );
        assert_eq!(scim_path("/scim/v20/Users"), None);
        assert_eq!(scim_path("/Users"), None);
    }
}
