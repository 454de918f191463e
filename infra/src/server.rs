//! The local HTTP server: plays API Gateway and the authorizer in front of the shared service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Response, header};
use scim_shared::ScimError;
use scim_shared::boundary::catch_panic;
use scim_shared::oauth::{self, Jwks, TokenEndpoint, TokenRequest};
use scim_shared::protocol::http::{BASE_PATH, Method, ScimRequest, ScimResponse};
use scim_shared::service::Service;
use scim_shared::tenant::Principal;
use tokio::net::TcpListener;

use crate::auth_cache::AuthCache;
use crate::listener::ScimListener;
use crate::operator_api;

#[derive(Debug, Clone)]
struct AppState {
    service: Arc<Service>,
    /// Authorizations of Secret Tokens, kept for a TTL as API Gateway keeps its authorizer's.
    auth: Arc<AuthCache>,
    /// Delivers emergency leavers (tenant policy `deactivation = emergency`) before answering.
    client: reqwest::Client,
    /// Public base URL (e.g. behind a proxy); derived from the Host header when unset.
    public_url: Option<String>,
    /// The OAuth 2.0 token endpoint (`POST /oauth/token`).
    tokens: Arc<TokenEndpoint>,
}

/// How long `serve` keeps a token's authorization unless told otherwise.
pub const DEFAULT_AUTH_CACHE_TTL: Duration = Duration::from_secs(60);

/// The application: every path goes through one handler, which the shared router dispatches.
/// Authorizations are cached for `auth_ttl` ([`AuthCache`]; zero: every request reads its token).
///
/// `jwks` holds the signing keys of federated OAuth clients' issuers (`Jwks::from_env`).
pub fn app(
    service: Arc<Service>,
    public_url: Option<String>,
    auth_ttl: Duration,
    jwks: Arc<Jwks>,
) -> Router {
    let tokens = Arc::new(TokenEndpoint::new(service.store().clone(), jwks));
    Router::new()
        .route(oauth::TOKEN_PATH, axum::routing::post(token))
        .fallback(handle)
        .with_state(AppState {
            service,
            auth: Arc::new(AuthCache::new(auth_ttl)),
            client: crate::webhook::client(),
            public_url,
            tokens,
        })
}

/// `POST /oauth/token`: the OAuth 2.0 token endpoint (`scim_shared::oauth`), as the token
/// function answers it on AWS.
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response<Body> {
    let req = TokenRequest {
        authorization: header_str(&headers, header::AUTHORIZATION).map(str::to_string),
        content_type: header_str(&headers, header::CONTENT_TYPE).map(str::to_string),
        body: body.to_vec(),
    };
    let response = match catch_panic(state.tokens.handle(&req)).await {
        Ok(response) => response,
        Err(_) => oauth::OAuthError::Server("the request panicked".into()).response(),
    };
    response.to_http(Body::from(response.body_bytes()))
}

/// Serves until `shutdown` completes, then finishes the requests in flight. A request that is
/// not valid HTTP/1.1 (a NUL in a header, say) is answered with a SCIM 400 ([`ScimListener`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(ScimListener(listener), app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The Tenant URL for a listening address.
pub fn tenant_url(addr: SocketAddr) -> String {
    format!("http://{addr}{BASE_PATH}")
}

/// The SCIM base URL a request is answered under: `--public-url`, or the request's Host.
pub(crate) fn scim_base_url(public_url: Option<&str>, headers: &HeaderMap) -> String {
    match public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let host = header_str(headers, header::HOST).unwrap_or("localhost");
            format!("http://{host}{BASE_PATH}")
        }
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Answers one request. A panic while answering is a SCIM 500 for this request only; the server
/// goes on serving.
async fn handle(State(state): State<AppState>, request: Request) -> Response<Body> {
    let method = request.method().clone();
    let response = catch_panic(answer(&state, request))
        .await
        .unwrap_or_else(|panicked| {
            tracing::error!(
                method = method.as_str(),
                "the request panicked; answered 500"
            );
            ScimResponse::error(&panicked.into())
        });
    response.to_http(Body::from(response.body_bytes()))
}

async fn answer(state: &AppState, request: Request) -> ScimResponse {
    match to_scim(state, request).await {
        Ok((caller, req)) => {
            let outcome = state.service.handle(&caller, &req).await;
            for event in outcome.events.iter().filter(|e| e.emergency) {
                let store = &**state.service.store();
                let delivery =
                    operator_api::deliver_emergency(store, &state.client, &caller.tenant, event);
                let delivery = delivery.await;
                tracing::warn!(tenant = caller.tenant, event = %event.id, delivery, "emergency leaver");
            }
            outcome.response
        }
        Err(e) => ScimResponse::error(&e),
    }
}

/// Authenticates and translates an HTTP request into the core request.
async fn to_scim(
    state: &AppState,
    request: Request,
) -> Result<(Principal, ScimRequest), ScimError> {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path()
        .strip_prefix(BASE_PATH)
        .filter(|p| p.is_empty() || p.starts_with('/'))
        .ok_or_else(|| ScimError::NotFound(format!("the SCIM API is under {BASE_PATH}")))?
        .to_string();
    let authorization = header_str(&parts.headers, header::AUTHORIZATION);
    let caller = state
        .auth
        .authenticate(&state.service, authorization)
        .await?;
    let method = Method::parse(parts.method.as_str())
        .ok_or_else(|| ScimError::MethodNotAllowed(format!("{} is not supported", parts.method)))?;
    let limit = state.service.limits().max_payload_bytes;
    let body = axum::body::to_bytes(body, limit + 1).await.map_err(|_| {
        ScimError::PayloadTooLarge(format!(
            "the request body exceeds maxPayloadSize ({limit} bytes)"
        ))
    })?;
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|Query(q)| q)
        .map_err(|e| ScimError::InvalidValue(format!("the query string is malformed: {e}")))?;
    let base_url = scim_base_url(state.public_url.as_deref(), &parts.headers);
    let mut req = ScimRequest::new(method, path, base_url);
    req.query = query;
    req.if_match = header_str(&parts.headers, header::IF_MATCH).map(str::to_string);
    req.if_none_match = header_str(&parts.headers, header::IF_NONE_MATCH).map(str::to_string);
    req.body = body.to_vec();
    Ok((caller, req))
}
