//! The operator HTTP API of `scimctl serve` (`/admin/...`), apart from SCIM: the routes an
//! operator calls, authenticated by an operator token (`SCIM_OPERATOR_TOKEN` or
//! `--operator-token-file`), never by a tenant's Secret Token. Not the administration commands of
//! the command line (those are `scimctl`'s subcommands).
//!
//! `/admin/v1/...` is the management API (tenants, tokens, a tenant's directory, events and audit
//! log; [`scim_shared::manage`], docs/management-api.md).
//!
//! `POST /admin/tenants/{tenant}/users/{id}/emergency-logout` deactivates the user, removes its
//! group memberships, and delivers the emergency `leaver` to the tenant's webhook before it
//! answers (see [`emergency_logout`], which `scimctl emergency-logout` runs too).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use scim_shared::ScimError;
use scim_shared::boundary::catch_panic;
use scim_shared::events::lifecycle::Event;
use scim_shared::events::{Retry, webhook};
use scim_shared::manage::{self, ManageError, ManageRequest, ManageResponse, Management};
use scim_shared::protocol::http::Method;
use scim_shared::service::{Caller, Service};
use scim_shared::store::Store;
use scim_shared::tenant;
use serde_json::json;

use crate::webhook::deliver_with_retries;

/// The route of Emergency Logout.
pub const EMERGENCY_LOGOUT_PATH: &str = "/admin/tenants/{tenant}/users/{id}/emergency-logout";

/// Why an Emergency Logout did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EmergencyLogoutError {
    #[error(
        "an 'Authorization: Bearer <operator token>' header with the operator token is required"
    )]
    Unauthorized,
    #[error("tenant '{0}' does not exist")]
    NoTenant(String),
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error(transparent)]
    Tenant(#[from] tenant::TenantError),
}

/// What an Emergency Logout did.
#[derive(Debug, Clone)]
pub struct Report {
    pub event: Event,
    /// `delivered`, `no webhook`, or why delivery failed (the user is logged out regardless).
    pub webhook: String,
    /// From the start of the logout to the webhook's answer.
    pub elapsed: Duration,
}

/// Emergency Logout of one user: the store change, then synchronous delivery of the event.
pub async fn emergency_logout(
    service: &Service,
    client: &reqwest::Client,
    tenant_id: &str,
    user_id: &str,
    actor: &str,
) -> Result<Report, EmergencyLogoutError> {
    let started = Instant::now();
    let store = service.store().clone();
    let t = tenant::get_live_tenant(&*store, tenant_id)
        .await?
        .ok_or_else(|| EmergencyLogoutError::NoTenant(tenant_id.to_string()))?;
    let caller = Caller::from(&t);
    let event = service.emergency_logout(caller, user_id, actor).await?;
    let webhook = deliver_emergency(&*store, client, &t.id, &event).await;
    Ok(Report {
        event,
        webhook,
        elapsed: started.elapsed(),
    })
}

/// Delivers an emergency event to the tenant's webhook now, with short retries: `delivered`,
/// `no webhook`, or why it was not delivered.
pub async fn deliver_emergency(
    store: &dyn Store,
    client: &reqwest::Client,
    tenant: &str,
    event: &Event,
) -> String {
    match webhook::get(store, tenant).await {
        Err(e) => format!("not delivered: webhook settings not readable: {e}"),
        Ok(None) => "no webhook".to_string(),
        Ok(Some(hook)) => {
            match deliver_with_retries(client, &hook, event, Retry::EMERGENCY).await {
                Ok(()) => "delivered".to_string(),
                Err(e) => format!("not delivered: {e}"),
            }
        }
    }
}

/// The environment variable that holds the operator token.
pub const OPERATOR_TOKEN_ENV: &str = "SCIM_OPERATOR_TOKEN";

/// Why the operator token `serve` was given cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OperatorTokenError {
    #[error("reading the operator token file {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the operator token file {0} holds no token on its first line")]
    Empty(std::path::PathBuf),
    #[error("the operator token is given twice: set {OPERATOR_TOKEN_ENV} or --operator-token-file")]
    Twice,
}

/// The operator token `serve` is given: the first line of `file` (`--operator-token-file`), or
/// `from_env` (the value of [`OPERATOR_TOKEN_ENV`]), or none, and `serve` generates one. There is
/// no command-line form: every user of the machine can read a process's arguments (`ps`).
pub fn operator_token(
    file: Option<&std::path::Path>,
    from_env: Option<String>,
) -> Result<Option<String>, OperatorTokenError> {
    let from_env = from_env.filter(|t| !t.trim().is_empty());
    let Some(path) = file else {
        return Ok(from_env.map(|t| t.trim().to_string()));
    };
    if from_env.is_some() {
        return Err(OperatorTokenError::Twice);
    }
    let text = std::fs::read_to_string(path).map_err(|source| OperatorTokenError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    match text.lines().next().map(str::trim) {
        Some(token) if !token.is_empty() => Ok(Some(token.to_string())),
        _ => Err(OperatorTokenError::Empty(path.to_path_buf())),
    }
}

/// A random operator token (256 bits from the OS), for a server started without one.
pub fn generate_token() -> Result<String, tenant::TenantError> {
    let mut raw = [0u8; 32];
    getrandom_fill(&mut raw)?;
    Ok(format!(
        "op_{}",
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

fn getrandom_fill(buf: &mut [u8]) -> Result<(), tenant::TenantError> {
    getrandom::fill(buf).map_err(|e| tenant::TenantError::Random(e.to_string()))
}

#[derive(Debug, Clone)]
struct OperatorState {
    service: Arc<Service>,
    management: Arc<Management>,
    /// The SCIM base URL of directory resources' `meta.location` (`--public-url`).
    public_url: Option<String>,
    /// SHA-256 of the operator token, hex.
    token_hash: String,
    client: reqwest::Client,
}

/// The operator routes; merge them with the SCIM app (`server::app`).
pub fn router(service: Arc<Service>, operator_token: &str, public_url: Option<String>) -> Router {
    Router::new()
        .route(EMERGENCY_LOGOUT_PATH, post(emergency))
        .route(manage::BASE_PATH, any(management))
        .route(&format!("{}/{{*path}}", manage::BASE_PATH), any(management))
        .with_state(OperatorState {
            management: Arc::new(Management::new(service.clone()).with_publisher(Arc::new(
                crate::webhook::WebhookPublisher::new(service.store().clone()),
            ))),
            public_url,
            service,
            token_hash: tenant::token_hash(operator_token),
            client: crate::webhook::client(),
        })
}

fn authorized(state: &OperatorState, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(tenant::bearer)
        .map(tenant::token_hash);
    given.is_some_and(|h| {
        subtle::ConstantTimeEq::ct_eq(h.as_bytes(), state.token_hash.as_bytes()).into()
    })
}

/// A management API request: the operator token checked, then [`Management::handle`].
async fn management(State(state): State<OperatorState>, request: Request) -> Response {
    let answer = match manage_request(&state, request).await {
        Ok(req) => state.management.handle(&req).await,
        Err(e) => e.response(),
    };
    manage_response(&answer)
}

/// The management request of an HTTP request from the operator.
async fn manage_request(
    state: &OperatorState,
    request: Request,
) -> Result<ManageRequest, ManageError> {
    let (parts, body) = request.into_parts();
    if !authorized(state, &parts.headers) {
        return Err(ManageError::Unauthorized(
            "an 'Authorization: Bearer <operator token>' header with the operator token is required"
                .into(),
        ));
    }
    let method =
        Method::parse(parts.method.as_str()).ok_or_else(|| ManageError::MethodNotAllowed {
            method: "this method",
            path: parts.uri.path().to_string(),
        })?;
    let limit = state.service.limits().max_payload_bytes;
    let body = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ManageError::BadRequest(format!("the request body exceeds {limit} bytes")))?;
    let Query(query) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map_err(|e| ManageError::BadRequest(format!("the query string is malformed: {e}")))?;
    let path = parts
        .uri
        .path()
        .strip_prefix(manage::BASE_PATH)
        .unwrap_or_default();
    let mut req = ManageRequest::new(
        method,
        path,
        crate::server::scim_base_url(state.public_url.as_deref(), &parts.headers),
    );
    req.query = query;
    req.body = body.to_vec();
    Ok(req)
}

fn manage_response(r: &ManageResponse) -> Response {
    (
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, ManageResponse::CONTENT_TYPE)],
        r.body_bytes(),
    )
        .into_response()
}

async fn emergency(
    State(state): State<OperatorState>,
    Path((tenant_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&state, &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            &EmergencyLogoutError::Unauthorized,
        );
    }
    let logout = emergency_logout(
        &state.service,
        &state.client,
        &tenant_id,
        &user_id,
        "operator",
    );
    let result = catch_panic(logout).await.unwrap_or_else(|panicked| {
        tracing::error!(
            tenant = tenant_id,
            "emergency logout panicked; answered 500"
        );
        Err(ScimError::from(panicked).into())
    });
    match result {
        Ok(r) => json_response(
            StatusCode::OK,
            &json!({
                "event": r.event,
                "webhook": r.webhook,
                "elapsedMs": r.elapsed.as_secs_f64() * 1000.0,
            }),
        ),
        Err(EmergencyLogoutError::Scim(e)) => json_response(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &e.to_body(),
        ),
        Err(e @ EmergencyLogoutError::NoTenant(_)) => error(StatusCode::NOT_FOUND, &e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

fn error(status: StatusCode, e: &EmergencyLogoutError) -> Response {
    json_response(status, &json!({"error": e.to_string()}))
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_token_comes_from_a_file_or_the_environment_never_both() {
        let dir = std::env::temp_dir().join(format!("scimctl-op-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("token");
        std::fs::write(&file, "op_secret\n# a comment line is ignored\n").expect("write");
        let empty = dir.join("empty");
        std::fs::write(&empty, "\n").expect("write");

        assert_eq!(
            operator_token(Some(&file), None).expect("file"),
            Some("op_secret".into())
        );
        assert_eq!(
            operator_token(None, Some("op_env".into())).expect("env"),
            Some("op_env".into())
        );
        assert_eq!(
            operator_token(None, Some(" ".into())).expect("blank env"),
            None
        );
        assert_eq!(operator_token(None, None).expect("neither"), None);
        assert!(matches!(
            operator_token(Some(&file), Some("op_env".into())),
            Err(OperatorTokenError::Twice)
        ));
        assert!(matches!(
            operator_token(Some(&empty), None),
            Err(OperatorTokenError::Empty(_))
        ));
        assert!(matches!(
            operator_token(Some(&dir.join("missing")), None),
            Err(OperatorTokenError::Read { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
