//! The API Gateway REQUEST authorizer: the `Authorization` header's bearer token is checked by
//! the same shared code as `scimctl serve` ([`Service::authenticate`]: SHA-256 of the token ->
//! token item -> tenant), and the caller gets an IAM policy plus the tenant in the context.
//!
//! API Gateway caches the answer per `Authorization` value for the authorizer's TTL and reuses
//! it for every route, so the policy allows the whole API (`apiId/stage/*/*`), not only the
//! method that triggered it. A missing, malformed, unknown or revoked token is the error
//! `Unauthorized`, which API Gateway answers with 401 (its `UNAUTHORIZED` gateway response, a
//! SCIM Error in template.yaml); any other failure is a 500 (`AUTHORIZER_FAILURE`).

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use lambda_http::aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_http::http::header;
use lambda_runtime::Diagnostic;
use scim_shared::ScimError;
use scim_shared::service::Service;
use serde_json::{Map, Value};

use crate::adapter::{SETTINGS_KEY, TENANT_KEY};

/// The authorizer's answer: an IAM policy and the context the functions read.
pub type AuthorizerResponse = ApiGatewayCustomAuthorizerResponse<Map<String, Value>>;

/// Why a request is not authorized.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// The one message API Gateway turns into 401.
    #[error("Unauthorized")]
    Unauthorized,
    /// The event's `methodArn` is not an execute-api method ARN.
    #[error("the event's methodArn is not an execute-api method ARN")]
    MethodArn,
    /// The token could not be checked (store failure): API Gateway answers 500.
    #[error("the token could not be checked: {0}")]
    Check(String),
}

impl From<AuthorizerError> for Diagnostic {
    fn from(e: AuthorizerError) -> Self {
        let error_type = match e {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::MethodArn => "InvalidMethodArn",
            AuthorizerError::Check(_) => "TokenCheckFailed",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

/// Authorizes one REQUEST authorizer event.
pub async fn authorize(
    service: &Service,
    event: &ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<AuthorizerResponse, AuthorizerError> {
    let api = event
        .method_arn
        .as_deref()
        .and_then(whole_api_arn)
        .ok_or(AuthorizerError::MethodArn)?;
    let authorization = event
        .headers
        .get(header::AUTHORIZATION)
        .or_else(|| event.multi_value_headers.get(header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok());
    let principal = match service.authenticate(authorization).await {
        Ok(p) => p,
        Err(ScimError::Unauthorized(_)) => {
            tracing::info!(outcome = "unauthorized", "authorizer");
            return Err(AuthorizerError::Unauthorized);
        }
        Err(e) => {
            tracing::error!(error = %e, "authorizer: the token check failed");
            return Err(AuthorizerError::Check(e.to_string()));
        }
    };
    tracing::info!(tenant = principal.tenant, outcome = "allow", "authorizer");
    let settings = serde_json::to_string(&principal.settings)
        .map_err(|e| AuthorizerError::Check(e.to_string()))?;
    let mut context = Map::new();
    context.insert(TENANT_KEY.into(), Value::from(principal.tenant.clone()));
    context.insert(SETTINGS_KEY.into(), Value::from(settings));
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![api];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut response = AuthorizerResponse::default();
    response.principal_id = Some(principal.tenant);
    response.policy_document = policy;
    response.context = context;
    Ok(response)
}

/// The HTTP status an answer becomes at API Gateway, for the authorizer's metrics: an allow
/// lets the request through (200 here), `Unauthorized` is API Gateway's 401 (a refusal, normal
/// traffic), anything else its 500 (an authorizer error).
pub fn status(answer: &Result<AuthorizerResponse, AuthorizerError>) -> u16 {
    match answer {
        Ok(_) => 200,
        Err(AuthorizerError::Unauthorized) => 401,
        Err(_) => 500,
    }
}

/// `arn:aws:execute-api:region:account:apiId/stage/*/*` from the method ARN of the request
/// (`arn:aws:execute-api:region:account:apiId/stage/METHOD/path...`).
pub fn whole_api_arn(method_arn: &str) -> Option<String> {
    let mut parts = method_arn.splitn(3, '/');
    let api = parts.next().filter(|a| {
        a.starts_with("arn:")
            && a.split(':').nth(2) == Some("execute-api")
            && a.split(':').count() == 6
    })?;
    let stage = parts.next().filter(|s| !s.is_empty())?;
    Some(format!("{api}/{stage}/*/*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_covers_every_method_and_path_of_the_stage() {
        assert_eq!(
            whole_api_arn(
                "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/prod/GET/scim/v2/Users"
            )
            .as_deref(),
            Some("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/prod/*/*")
        );
        assert_eq!(
            whole_api_arn("arn:aws:lambda:eu-west-1:1:function:f/prod/GET"),
            None
        );
        assert_eq!(whole_api_arn("not an arn"), None);
        assert_eq!(
            whole_api_arn("arn:aws:execute-api:eu-west-1:1:a1b2c3"),
            None
        );
    }
}
