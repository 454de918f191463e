//! The OAuth 2.0 token endpoint on AWS (`POST /oauth/token`, [`scim_shared::oauth`]): a route
//! without the Lambda authorizer (the client authenticates in the request itself), answered by
//! the token function, which may read clients and the deployment's key, and record assertion
//! ids. The proxy event becomes a [`TokenRequest`], [`TokenEndpoint`] answers it.

use std::time::Instant;

use lambda_http::http::header;
use lambda_http::{Body, Request, Response};
use scim_shared::boundary::catch_panic;
use scim_shared::oauth::{OAuthError, TokenEndpoint, TokenRequest};
use tracing::Instrument;

use crate::{OAUTH_TOKEN_BINARY, metrics, telemetry};

/// Handles the token route.
#[derive(Debug, Clone)]
pub struct TokenHandler {
    endpoint: TokenEndpoint,
    metrics_namespace: Option<String>,
}

impl TokenHandler {
    pub fn new(endpoint: TokenEndpoint) -> Self {
        TokenHandler {
            endpoint,
            metrics_namespace: None,
        }
    }

    /// Prints one EMF line per request, in this namespace.
    pub fn with_metrics(mut self, namespace: impl Into<String>) -> Self {
        self.metrics_namespace = Some(namespace.into());
        self
    }

    /// Answers one proxy event. Never fails: every problem is an RFC 6749 error answer.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let span = telemetry::request_span(&request);
        let header = |name: header::HeaderName| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let req = TokenRequest {
            authorization: header(header::AUTHORIZATION),
            content_type: header(header::CONTENT_TYPE),
            body: request.body().to_vec(),
        };
        let response = match catch_panic(self.endpoint.handle(&req).instrument(span)).await {
            Ok(response) => response,
            Err(_) => OAuthError::Server("the request panicked".into()).response(),
        };
        if let Some(namespace) = &self.metrics_namespace {
            let sample = metrics::Sample {
                operation: OAUTH_TOKEN_BINARY,
                latency: started.elapsed(),
                status: response.status,
            };
            metrics::emit(namespace, &sample);
        }
        response.to_http(Body::Text(
            String::from_utf8_lossy(&response.body_bytes()).into_owned(),
        ))
    }
}
