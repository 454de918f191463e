//! Emergency Logout on AWS: `POST /admin/tenants/{tenant}/users/{id}/emergency-logout` on the
//! API, authorised by IAM (the caller signs with SigV4 and needs `execute-api:Invoke` on the
//! route; no Lambda authorizer, no tenant token). The user is deactivated and removed from its
//! groups ([`Service::emergency_logout`]), then the emergency leaver is published to EventBridge
//! before the answer, with short retries because the operator is waiting. Its outbox item is
//! stored as delivered, so the stream's events function does not publish it again.
//!
//! The answer has the shape of the local admin API's (`scimctl serve`), with `eventBridge` where
//! the local one says `webhook`: `{"event": …, "eventBridge": "published" | "not published: …",
//! "elapsedMs": …}`; a SCIM error body for an unknown user, `{"error": …}` for an unknown tenant.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use scim_shared::ScimError;
use scim_shared::boundary::catch_panic;
use scim_shared::events::Retry;
use scim_shared::events::lifecycle::Event;
use scim_shared::events::publish::{self, Publisher};
use scim_shared::service::{Caller, Service};
use scim_shared::tenant::{self, TenantError};
use serde_json::{Value, json};

/// The route, as template.yaml declares it.
pub const PATH: &str = "/admin/tenants/{tenant}/users/{id}/emergency-logout";
/// Who the audit record and the event name as the actor.
pub const ACTOR: &str = "operator";
/// Why an Emergency Logout did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EmergencyError {
    #[error("the path names no tenant or no user")]
    NoTarget,
    #[error("tenant '{0}' does not exist")]
    NoTenant(String),
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error(transparent)]
    Tenant(#[from] TenantError),
}

/// What an Emergency Logout did.
#[derive(Debug, Clone)]
pub struct Report {
    pub event: Event,
    /// `published`, or why the event was not (the user is logged out regardless).
    pub event_bridge: String,
    /// From the start of the logout to EventBridge's answer.
    pub elapsed: Duration,
}

/// Handles the Emergency Logout route.
#[derive(Debug, Clone)]
pub struct EmergencyLogout {
    service: Arc<Service>,
    publisher: Arc<dyn Publisher>,
    retry: Retry,
}

impl EmergencyLogout {
    pub fn new(service: Arc<Service>, publisher: Arc<dyn Publisher>, retry: Retry) -> Self {
        EmergencyLogout {
            service,
            publisher,
            retry,
        }
    }

    /// Answers one proxy event. Never fails: every problem is an error answer, a panic a SCIM
    /// 500 (for this event only).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let params = request.path_parameters_ref();
        let param = |name: &str| {
            params
                .and_then(|p| p.first(name))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let caller = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(c)) => c.identity.user_arn.clone(),
            _ => None,
        };
        tracing::warn!(
            caller = caller.as_deref().unwrap_or("unknown"),
            "emergency logout requested"
        );
        let result = match (param("tenant"), param("id")) {
            (Some(t), Some(u)) => {
                catch_panic(self.logout(&t, &u))
                    .await
                    .unwrap_or_else(|panicked| {
                        tracing::error!(tenant = t, "emergency logout panicked; answered 500");
                        Err(ScimError::from(panicked).into())
                    })
            }
            _ => Err(EmergencyError::NoTarget),
        };
        match result {
            Ok(r) => json_response(
                StatusCode::OK,
                &json!({
                    "event": r.event,
                    "eventBridge": r.event_bridge,
                    "elapsedMs": r.elapsed.as_secs_f64() * 1000.0,
                }),
            ),
            Err(EmergencyError::Scim(e)) => json_response(
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                &e.to_body(),
            ),
            Err(e @ (EmergencyError::NoTenant(_) | EmergencyError::NoTarget)) => {
                error(StatusCode::NOT_FOUND, &e)
            }
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
        }
    }

    /// Emergency Logout of one user: the store change, then the synchronous publication.
    pub async fn logout(&self, tenant_id: &str, user_id: &str) -> Result<Report, EmergencyError> {
        let started = Instant::now();
        let t = tenant::get_live_tenant(&**self.service.store(), tenant_id)
            .await?
            .ok_or_else(|| EmergencyError::NoTenant(tenant_id.to_string()))?;
        let caller = Caller::from(&t);
        let event = self
            .service
            .emergency_logout(caller, user_id, ACTOR)
            .await?;
        let outcome =
            publish::put_with_retries(&*self.publisher, std::slice::from_ref(&event), self.retry)
                .await;
        let event_bridge = match outcome.into_iter().next() {
            Some(Ok(())) => "published".to_string(),
            Some(Err(e)) => {
                tracing::error!(tenant = t.id, error = %e, "emergency leaver not published");
                format!("not published: {e}")
            }
            None => "not published".to_string(),
        };
        Ok(Report {
            event,
            event_bridge,
            elapsed: started.elapsed(),
        })
    }
}

fn error(status: StatusCode, e: &EmergencyError) -> Response<Body> {
    json_response(status, &json!({"error": e.to_string()}))
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
