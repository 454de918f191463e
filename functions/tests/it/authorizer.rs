//! The REQUEST authorizer (tests/data/apigw/authorizer/request.json with the Authorization
//! header filled in): a live token of a tenant is allowed on the whole API with that tenant in
//! the context; a revoked, unknown or malformed token is `Unauthorized` (401); and the context
//! it returns is what the functions read.

use crate::support;

use std::collections::BTreeSet;
use std::sync::Arc;

use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::Diagnostic;
use scim_functions::authorizer::{AuthorizerError, AuthorizerResponse, authorize};
use scim_functions::{AUTHORIZER_BINARY, GET_USER, Handler};
use scim_shared::ops::Limits;
use scim_shared::protocol::schema::ResourceKind;
use scim_shared::service::Service;
use scim_shared::store::keys;
use scim_shared::store::{EmbeddedStore, Store};
use scim_shared::tenant::{self, TenantSettings};
use serde_json::{Value, json};
use support::{Recording, TABLE, lines};

/// The whole API of the fixture's stage.
const WHOLE_API: &str = "arn:aws:execute-api:eu-west-1:123456789012:k7x2m9q4ab/v1/*/*";

struct Tokens {
    acme: String,
    globex: String,
    revoked: String,
    /// An OAuth access token of acme's client.
    access: String,
}

/// Tenants `acme` and `globex`, a live token each, and a revoked token of acme.
async fn setup() -> (Service, Recording, Tokens) {
    let store = Recording::new(Arc::new(EmbeddedStore::in_memory().expect("store")));
    for t in ["acme", "globex"] {
        tenant::create_tenant(&store, t).await.expect("tenant");
    }
    let (revoked, info) = tenant::issue_token(&store, "acme").await.expect("token");
    tenant::revoke_token(&store, "acme", &info.id)
        .await
        .expect("revoke");
    let (acme, _) = tenant::issue_token(&store, "acme").await.expect("token");
    let (globex, _) = tenant::issue_token(&store, "globex").await.expect("token");
    let (client, secret) = tenant::clients::create(&store, "acme", None)
        .await
        .expect("client");
    let secret_id = client
        .secret_id(&secret.expect("secret"))
        .map(str::to_string);
    let (access, _) = scim_shared::oauth::AccessTokens::new()
        .issue(&store, &client, secret_id.as_deref())
        .await
        .expect("access token");
    store.take();
    let service = Service::new(Arc::new(store.clone()) as Arc<dyn Store>, Limits::default());
    (
        service,
        store,
        Tokens {
            acme,
            globex,
            revoked,
            access,
        },
    )
}

fn fixture() -> Value {
    let path = support::repo_root().join("tests/data/apigw/authorizer/request.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

/// The authorizer event with this Authorization header (none when `None`).
fn event(authorization: Option<&str>) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut e = fixture();
    for headers in ["headers", "multiValueHeaders"] {
        let h = e[headers].as_object_mut().expect("headers");
        match authorization {
            Some(a) if headers == "headers" => h.insert("Authorization".into(), json!(a)),
            Some(a) => h.insert("Authorization".into(), json!([a])),
            None => h.remove("Authorization"),
        };
    }
    serde_json::from_value(e).expect("a REQUEST authorizer event")
}

async fn allowed(service: &Service, authorization: &str) -> AuthorizerResponse {
    authorize(service, &event(Some(authorization)))
        .await
        .unwrap_or_else(|e| panic!("{authorization:?} refused: {e}"))
}

#[track_caller]
fn assert_unauthorized(result: Result<AuthorizerResponse, AuthorizerError>) {
    match result {
        Err(e @ AuthorizerError::Unauthorized) => {
            // API Gateway answers 401 only for exactly this error message.
            assert_eq!(Diagnostic::from(e).error_message, "Unauthorized");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn a_live_token_is_allowed_on_the_whole_api_with_its_tenant_in_the_context() {
    let (service, _, tokens) = setup().await;
    let answer = allowed(&service, &format!("Bearer {}", tokens.acme)).await;
    let json = serde_json::to_value(&answer).expect("serializes");
    assert_eq!(json["principalId"], "acme");
    assert_eq!(
        json["policyDocument"],
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Action": ["execute-api:Invoke"],
                "Effect": "Allow",
                "Resource": [WHOLE_API]
            }]
        })
    );
    assert_eq!(json["context"]["tenantId"], "acme");
    let settings: TenantSettings =
        serde_json::from_str(json["context"]["settings"].as_str().expect("settings text"))
            .expect("settings");
    assert_eq!(settings, TenantSettings::default());
    // Context values must be strings, numbers or booleans for API Gateway.
    for (k, v) in json["context"].as_object().expect("context") {
        assert!(v.is_string() || v.is_number() || v.is_boolean(), "{k}: {v}");
    }
}

#[tokio::test]
async fn the_cached_policy_is_the_same_whichever_route_triggered_it() {
    let (service, _, tokens) = setup().await;
    let mut e = event(Some(&format!("Bearer {}", tokens.acme)));
    e.method_arn = Some(
        "arn:aws:execute-api:eu-west-1:123456789012:k7x2m9q4ab/v1/DELETE/scim/v2/Groups/42".into(),
    );
    let answer = authorize(&service, &e).await.expect("allowed");
    assert_eq!(answer.policy_document.statement[0].resource, [WHOLE_API]);
}

#[tokio::test]
async fn a_token_of_another_tenant_is_allowed_for_that_tenant_only() {
    let (service, _, tokens) = setup().await;
    let answer = allowed(&service, &format!("Bearer {}", tokens.globex)).await;
    assert_eq!(answer.principal_id.as_deref(), Some("globex"));
    assert_eq!(answer.context["tenantId"], "globex");
}

#[tokio::test]
async fn a_revoked_token_is_unauthorized() {
    let (service, _, tokens) = setup().await;
    assert_unauthorized(
        authorize(
            &service,
            &event(Some(&format!("Bearer {}", tokens.revoked))),
        )
        .await,
    );
}

#[tokio::test]
async fn an_unknown_token_is_unauthorized() {
    let (service, _, _) = setup().await;
    let unknown = format!("Bearer {}{}", tenant::TOKEN_PREFIX, "A".repeat(43));
    assert_unauthorized(authorize(&service, &event(Some(&unknown))).await);
}

#[tokio::test]
async fn a_malformed_or_missing_authorization_is_unauthorized() {
    let (service, _, tokens) = setup().await;
    for header in [
        "Bearer".to_string(),
        "Bearer ".to_string(),
        format!("Basic {}", tokens.acme),
        format!("{} ", tokens.acme),
        "Bearer not-a-scim-token".to_string(),
        format!("Bearer {}{}", tokens.acme, "x".repeat(200)),
        "Bearer \u{fffd}\u{fffd}".to_string(),
    ] {
        assert_unauthorized(authorize(&service, &event(Some(&header))).await);
    }
    assert_unauthorized(authorize(&service, &event(None)).await);
}

#[tokio::test]
async fn an_event_without_an_execute_api_method_arn_is_an_authorizer_failure() {
    let (service, _, tokens) = setup().await;
    let mut e = event(Some(&format!("Bearer {}", tokens.acme)));
    e.method_arn = Some("arn:aws:lambda:eu-west-1:123456789012:function:x".into());
    let err = authorize(&service, &e).await.expect_err("refused");
    assert!(matches!(err, AuthorizerError::MethodArn));
    assert_ne!(
        Diagnostic::from(err).error_message,
        "Unauthorized",
        "a 500, not a 401"
    );
}

#[tokio::test]
async fn the_functions_act_for_the_tenant_the_authorizer_put_in_the_context() {
    let (service, store, tokens) = setup().await;
    let service = Arc::new(service);
    let mut create = scim_shared::protocol::http::ScimRequest::new(
        scim_shared::protocol::http::Method::Post,
        "/Users",
        "https://x/scim/v2",
    );
    create.body = json!({"schemas": [scim_tests::USER_SCHEMA], "userName": "bjensen@example.com"})
        .to_string()
        .into_bytes();
    let created = service.handle("acme", &create).await.response;
    let id = created
        .body
        .as_ref()
        .and_then(|b| b["id"].as_str())
        .expect("id")
        .to_string();
    store.take();

    let handler = Handler::new(service.clone(), &GET_USER, None);
    let get_as = |token: String| {
        let service = service.clone();
        let handler = handler.clone();
        let id = id.clone();
        async move {
            let answer = allowed(&service, &format!("Bearer {token}")).await;
            // API Gateway hands the function the authorizer's context as requestContext.authorizer.
            let mut e: Value = serde_json::from_str(
                &std::fs::read_to_string(
                    support::repo_root().join("tests/data/apigw/get_user.json"),
                )
                .expect("fixture")
                .replace("{{user1}}", &id),
            )
            .expect("JSON");
            let mut context = serde_json::to_value(&answer.context).expect("context");
            context["principalId"] = json!(answer.principal_id);
            e["requestContext"]["authorizer"] = context;
            let request = lambda_http::request::from_str(&e.to_string()).expect("event");
            handler.handle(request).await.status().as_u16()
        }
    };
    assert_eq!(get_as(tokens.acme.clone()).await, 200);
    assert_eq!(
        get_as(tokens.globex.clone()).await,
        404,
        "another tenant's id is a 404"
    );
}

#[tokio::test]
async fn the_authorizer_is_granted_exactly_the_reads_of_token_items_it_makes() {
    let (service, store, tokens) = setup().await;
    allowed(&service, &format!("Bearer {}", tokens.acme)).await;
    let access = allowed(&service, &format!("Bearer {}", tokens.access)).await;
    assert_eq!(
        access.context["tenantId"], "acme",
        "an access token stands for its tenant"
    );
    let _ = authorize(
        &service,
        &event(Some(&format!("Bearer {}", tokens.revoked))),
    )
    .await;
    let used = store.take();
    let granted = support::granted(&support::template(), AUTHORIZER_BINARY);
    assert_eq!(
        used,
        granted,
        "used:\n{}\ngranted:\n{}",
        lines(&used),
        lines(&granted)
    );
    assert_eq!(
        used,
        BTreeSet::from([("dynamodb:GetItem".to_string(), TABLE.to_string())])
    );
    // template.yaml restricts the read to token items, OAuth clients and the deployment key.
    assert!(keys::token("ab12").pk.starts_with("TOKEN#"));
    assert!(
        !keys::resource("acme", ResourceKind::User, "1")
            .pk
            .starts_with("TOKEN#")
    );
    let statement = support::at(
        support::function(&support::template(), AUTHORIZER_BINARY),
        &["Properties", "Policies"],
    )
    .and_then(|p| p.get(0))
    .and_then(|p| support::at(p, &["Statement"]))
    .and_then(|s| s.get(0))
    .cloned()
    .expect("the authorizer's statement");
    assert_eq!(
        support::strings(support::at(
            &statement,
            &[
                "Condition",
                "ForAllValues:StringLike",
                "dynamodb:LeadingKeys"
            ]
        )),
        ["TOKEN#*", "T#*#CLIENTS", "CURSORKEY"]
    );
}
