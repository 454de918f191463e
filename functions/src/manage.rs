//! The management API on AWS (`/admin/v1/...`, [`scim_shared::manage`], docs/management-api.md):
//! API Gateway authorises each request by IAM (the caller signs with SigV4 and needs
//! `execute-api:Invoke` on the route; no Lambda authorizer, no tenant token) and invokes the
//! function of the route's concern, which is granted only the DynamoDB actions that concern
//! uses. The proxy event becomes a [`ManageRequest`], [`Management`] answers it.

use std::sync::Arc;
use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use scim_shared::events::publish::Publisher;
use scim_shared::manage::{
    BASE_PATH, Concern, ManageError, ManageRequest, ManageResponse, Management,
};
use scim_shared::protocol::http::Method;
use scim_shared::service::Service;
use tracing::Instrument;

use crate::adapter::{path_below, query, scim_base_url};
use crate::{metrics, telemetry};

/// The binary of each concern's function, as template.yaml names it.
pub fn binary(concern: Concern) -> &'static str {
    let [tenants, directory, activity, republish] = crate::MANAGEMENT_BINARIES;
    match concern {
        Concern::Tenants => tenants,
        Concern::Directory => directory,
        Concern::Activity => activity,
        Concern::Republish => republish,
    }
}

/// Handles the management routes of one concern.
#[derive(Debug, Clone)]
pub struct ManageHandler {
    management: Management,
    concern: Concern,
    /// Public SCIM base URL (`SCIM_PUBLIC_URL`); derived from the event when unset.
    public_url: Option<String>,
    /// The namespace of the per-request EMF line; none, no line.
    metrics_namespace: Option<String>,
}

impl ManageHandler {
    pub fn new(service: Arc<Service>, concern: Concern, public_url: Option<String>) -> Self {
        ManageHandler {
            management: Management::only(service, concern),
            concern,
            public_url: public_url.filter(|u| !u.is_empty()),
            metrics_namespace: None,
        }
    }

    /// Republishes events through `publisher` (the republish concern's EventBridge bus).
    pub fn with_publisher(mut self, publisher: Arc<dyn Publisher>) -> Self {
        self.management = self.management.with_publisher(publisher);
        self
    }

    /// Prints one EMF line per request, in this namespace.
    pub fn with_metrics(mut self, namespace: impl Into<String>) -> Self {
        self.metrics_namespace = Some(namespace.into());
        self
    }

    /// Answers one proxy event. Never fails: every problem is an error answer.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let span = telemetry::request_span(&request);
        let caller = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(c)) => c.identity.user_arn.clone(),
            _ => None,
        };
        let response = async {
            tracing::info!(
                caller = caller.as_deref().unwrap_or("unknown"),
                method = request.method().as_str(),
                path = request.raw_http_path(),
                "management request"
            );
            match self.to_manage(&request) {
                Ok(req) => self.management.handle(&req).await,
                Err(e) => e.response(),
            }
        }
        .instrument(span)
        .await;
        if let Some(namespace) = &self.metrics_namespace {
            let sample = metrics::Sample {
                operation: binary(self.concern),
                latency: started.elapsed(),
                status: response.status,
            };
            metrics::emit(namespace, &sample);
        }
        into_response(&response)
    }

    fn to_manage(&self, request: &Request) -> Result<ManageRequest, ManageError> {
        let path = path_below(request.raw_http_path(), BASE_PATH).ok_or_else(|| {
            ManageError::NotFound(format!("the management API is under {BASE_PATH}"))
        })?;
        let method = Method::parse(request.method().as_str()).ok_or_else(|| {
            ManageError::MethodNotAllowed {
                method: "this method",
                path: request.raw_http_path().to_string(),
            }
        })?;
        let base_url = scim_base_url(self.public_url.as_deref(), request, BASE_PATH);
        let mut req = ManageRequest::new(method, path, base_url);
        req.query = query(request);
        req.body = request.body().to_vec();
        Ok(req)
    }
}

fn into_response(r: &ManageResponse) -> Response<Body> {
    let mut response = Response::new(match r.body_bytes() {
        b if b.is_empty() => Body::Empty,
        b => Body::Text(String::from_utf8_lossy(&b).into_owned()),
    });
    *response.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if r.body.is_some() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(ManageResponse::CONTENT_TYPE),
        );
    }
    response
}
