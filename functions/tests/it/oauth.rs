//! The token function (`POST /oauth/token`) answering API Gateway's proxy event: the RFC 6749
//! answer for a wrong client, an access token for a right one, which the authorizer then takes.

use std::sync::Arc;

use scim_functions::authorizer::authorize;
use scim_functions::oauth::TokenHandler;
use scim_shared::oauth::{Jwks, TokenEndpoint};
use scim_shared::ops::Limits;
use scim_shared::service::Service;
use scim_shared::store::{EmbeddedStore, Store};
use scim_shared::tenant::{self, clients};
use serde_json::Value;

use crate::support;

/// The token fixture with this client id and secret in its form body.
fn event(client_id: &str, secret: &str) -> lambda_http::Request {
    let text =
        std::fs::read_to_string(support::repo_root().join("tests/data/apigw/oauth/token.json"))
            .expect("fixture")
            .replace("{{client_id}}", client_id)
            .replace("{{client_secret}}", secret);
    lambda_http::request::from_str(&text).expect("event")
}

async fn answer(handler: &TokenHandler, client_id: &str, secret: &str) -> (u16, Value) {
    let response = handler.handle(event(client_id, secret)).await;
    let status = response.status().as_u16();
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).expect("JSON"),
        other => panic!("a text body, not {other:?}"),
    };
    (status, body)
}

#[tokio::test]
async fn the_token_function_answers_the_proxy_event_and_the_authorizer_takes_its_token() {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory().expect("store"));
    tenant::create_tenant(&*store, "acme")
        .await
        .expect("tenant");
    let (client, secret) = clients::create(&*store, "acme", None)
        .await
        .expect("client");
    let secret = secret.expect("secret");
    let handler = TokenHandler::new(TokenEndpoint::new(
        store.clone(),
        Arc::new(Jwks::from_env()),
    ));

    let (status, body) = answer(&handler, &client.id, "scimcs_wrong").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = answer(&handler, &client.id, &secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().expect("access_token");

    let service = Service::new(store, Limits::default());
    let request = serde_json::from_str(
        &std::fs::read_to_string(
            support::repo_root().join("tests/data/apigw/authorizer/request.json"),
        )
        .expect("fixture")
        .replace("{{authorization}}", &format!("Bearer {token}")),
    )
    .expect("authorizer event");
    let allowed = authorize(&service, &request).await.expect("allowed");
    assert_eq!(allowed.context["tenantId"], "acme");
}
