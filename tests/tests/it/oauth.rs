//! The OAuth 2.0 token endpoint (`POST /oauth/token`): client credentials with a secret (RFC
//! 6749 §4.4, `client_secret_basic` and `client_secret_post`), federated clients presenting a JWT
//! their issuer signed (RFC 7523, Microsoft Entra's Workload Identity Federation), every RFC 6749
//! §5.2 error, and access tokens that the SCIM API takes for their tenant and nothing else.
//!
//! The scenarios take the host (`root`, before `/oauth/token`), the Tenant URL and the store the
//! operator reaches, so that `gateway.rs` runs them again through the deployed shape.

use std::time::Duration;

use scim_shared::store::Store;
use scim_shared::tenant::{self, clients};
use scim_tests::oauth::{
    IssuerKey, KeyServer, TEST_REFETCH, access_token, entra_claims, federation, token_request,
};
use scim_tests::{Scim, TestServer};
use serde_json::{Value, json};

const CC: (&str, &str) = ("grant_type", "client_credentials");
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A new tenant with a Secret Token, and a secret OAuth client with its secret.
async fn tenant_with_client(
    store: &dyn Store,
    id: &str,
    tenant_url: &str,
) -> (Scim, String, String) {
    tenant::create_tenant(store, id).await.expect("tenant");
    let (token, _) = tenant::issue_token(store, id).await.expect("token");
    let (client, secret) = clients::create(store, id, None).await.expect("client");
    (
        Scim::new(tenant_url, Some(&token)),
        client.id,
        secret.expect("secret"),
    )
}

/// A token request with a client assertion for `client_id`, as Entra sends it.
async fn present_assertion(root: &str, client_id: &str, assertion: &str) -> scim_tests::Reply {
    token_request(
        root,
        &[
            CC,
            ("client_id", client_id),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
        ],
        None,
    )
    .await
}

#[track_caller]
fn refused(reply: &scim_tests::Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["error"], error, "{}", reply.body);
    assert!(
        reply.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "a description: {}",
        reply.body
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

/// Secret clients: the secret in the form, in HTTP Basic, or in both (Entra's "Both"); the
/// access token lists and creates in its own tenant, sees nothing of another, and Microsoft's
/// validation's first call (`GET /Users?startIndex=1&count=1`) answers.
pub(crate) async fn secret_clients_get_tokens_for_their_tenant_only(
    root: &str,
    tenant_url: &str,
    store: &dyn Store,
) {
    let (a, a_client, a_secret) = tenant_with_client(store, "oauth-a", tenant_url).await;
    let (b, _, _) = tenant_with_client(store, "oauth-b", tenant_url).await;
    let b_user = b.create_user("bjensen@b.example.com").await;

    let post = token_request(
        root,
        &[
            CC,
            ("client_id", &a_client),
            ("client_secret", &a_secret),
            ("scope", "scim"),
        ],
        None,
    )
    .await;
    let basic = token_request(root, &[CC], Some((&a_client, &a_secret))).await;
    let both = token_request(
        root,
        &[CC, ("client_id", &a_client), ("client_secret", &a_secret)],
        Some((&a_client, &a_secret)),
    )
    .await;
    for reply in [post, basic, both] {
        let token = access_token(&reply);
        let with_token = a.with_token(Some(&token));
        with_token
            .get("/Users?startIndex=1&count=1")
            .await
            .expect(200);
        let created = with_token
            .create_user(&format!("u{}@a.example.com", uuid::Uuid::now_v7()))
            .await;
        a.get(&format!("/Users/{created}")).await.expect(200);
        // Another tenant's user is not found, whatever the method.
        with_token
            .get(&format!("/Users/{b_user}"))
            .await
            .expect(404);
        with_token
            .patch(
                &format!("/Users/{b_user}"),
                &Scim::patch_body(json!([{"op": "replace", "path": "active", "value": false}])),
            )
            .await
            .expect(404);
        with_token
            .delete(&format!("/Users/{b_user}"))
            .await
            .expect(404);
        let listed = with_token.get("/Users?count=100").await.expect(200);
        assert!(
            !listed.body["Resources"].to_string().contains(&b_user),
            "tenant A's token lists no user of B"
        );
    }
    b.get(&format!("/Users/{b_user}")).await.expect(200);
}

/// Every error of RFC 6749 §5.2 the client credentials grant can meet, each with its status and
/// a description; a client that used HTTP Basic is challenged for it.
pub(crate) async fn every_token_error_is_the_rfc_6749_answer(
    root: &str,
    tenant_url: &str,
    store: &dyn Store,
) {
    let (_, client, secret) = tenant_with_client(store, "oauth-errors", tenant_url).await;
    let id = client.as_str();
    let good = secret.as_str();

    refused(
        &token_request(root, &[("client_id", id), ("client_secret", good)], None).await,
        400,
        "invalid_request",
    );
    refused(
        &token_request(
            root,
            &[
                ("grant_type", "password"),
                ("client_id", id),
                ("client_secret", good),
            ],
            None,
        )
        .await,
        400,
        "unsupported_grant_type",
    );
    refused(
        &token_request(
            root,
            &[CC, CC, ("client_id", id), ("client_secret", good)],
            None,
        )
        .await,
        400,
        "invalid_request",
    );
    refused(
        &token_request(
            root,
            &[CC, ("client_id", id), ("client_secret", "scimcs_other")],
            Some((id, good)),
        )
        .await,
        400,
        "invalid_request",
    );
    refused(
        &token_request(
            root,
            &[
                CC,
                ("client_assertion_type", "urn:other"),
                ("client_assertion", "x.y.z"),
                ("client_id", id),
            ],
            None,
        )
        .await,
        400,
        "invalid_request",
    );
    let json_body = reqwest::Client::new()
        .post(format!("{root}/oauth/token"))
        .header("content-type", "application/json")
        .body(json!({"grant_type": "client_credentials"}).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(json_body.status().as_u16(), 400);
    let body: Value = json_body.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");

    let wrong = token_request(
        root,
        &[CC, ("client_id", id), ("client_secret", "scimcs_wrong")],
        None,
    )
    .await;
    refused(&wrong, 401, "invalid_client");
    let wrong_basic = token_request(root, &[CC], Some((id, "scimcs_wrong"))).await;
    refused(&wrong_basic, 401, "invalid_client");
    assert_eq!(
        wrong_basic.header("www-authenticate"),
        Some("Basic realm=\"oauth\"")
    );
    refused(
        &token_request(
            root,
            &[
                CC,
                ("client_id", "oauth-errors.unknown"),
                ("client_secret", good),
            ],
            None,
        )
        .await,
        401,
        "invalid_client",
    );
    refused(
        &token_request(
            root,
            &[CC, ("client_id", "nobody"), ("client_secret", good)],
            None,
        )
        .await,
        401,
        "invalid_client",
    );
    refused(
        &token_request(root, &[CC], None).await,
        401,
        "invalid_client",
    );
    refused(
        &token_request(root, &[CC, ("client_id", id)], None).await,
        401,
        "invalid_client",
    );
    // A secret client does not take assertions.
    refused(
        &token_request(
            root,
            &[
                CC,
                ("client_id", id),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", "a.b.c"),
            ],
            None,
        )
        .await,
        401,
        "invalid_client",
    );

    // Rotation: a second secret works beside the first; the first revoked is refused at once.
    let (second, _) = clients::add_secret(store, "oauth-errors", id)
        .await
        .expect("rotate");
    access_token(&token_request(root, &[CC], Some((id, &second))).await);
    access_token(&token_request(root, &[CC], Some((id, good))).await);
    let first = clients::get(store, id).await.expect("get").expect("client");
    let first_id = first.secret_id(good).expect("live").to_string();
    clients::revoke_secret(store, "oauth-errors", id, &first_id)
        .await
        .expect("revoke secret");
    refused(
        &token_request(root, &[CC], Some((id, good))).await,
        401,
        "invalid_client",
    );
    clients::revoke(store, "oauth-errors", id)
        .await
        .expect("revoke client");
    refused(
        &token_request(root, &[CC], Some((id, &second))).await,
        401,
        "invalid_client",
    );
}

/// A federated client: Entra's assertion (no `jti`, presented again while valid) gets tokens;
/// each wrong part of an assertion is `invalid_client` with what was wrong; a `jti` is taken
/// once; a key the cached set lacks makes it be fetched again, no sooner than `refetch` after
/// the last fetch; a key set that cannot be fetched refuses with that reason.
pub(crate) async fn federated_clients_are_held_to_their_four_values(
    root: &str,
    tenant_url: &str,
    store: &dyn Store,
    refetch: Duration,
) {
    let key1 = IssuerKey::load("issuer-key-1.pem", "key-1");
    let key2 = IssuerKey::load("issuer-key-2.pem", "key-2");
    let attacker = IssuerKey::load("attacker-key.pem", "key-1");
    let keys = KeyServer::start(&[&key1]).await;
    tenant::create_tenant(store, "oauth-wif")
        .await
        .expect("tenant");
    tenant::create_tenant(store, "oauth-other")
        .await
        .expect("tenant");
    let (other_token, _) = tenant::issue_token(store, "oauth-other")
        .await
        .expect("token");
    let other = Scim::new(tenant_url, Some(&other_token));
    let other_user = other.create_user("other@other.example.com").await;
    let (client, secret) = clients::create(store, "oauth-wif", Some(federation(&keys.url)))
        .await
        .expect("federated client");
    assert_eq!(secret, None);
    let id = client.id.as_str();
    let present = |assertion: String| {
        let id = id.to_string();
        async move {
            token_request(
                root,
                &[
                    CC,
                    ("client_id", &id),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", &assertion),
                    ("baseAddress", "https://ignored.example.com"),
                ],
                None,
            )
            .await
        }
    };

    let entra = key1.sign(&entra_claims());
    let token = access_token(&present(entra.clone()).await);
    let scim = Scim::new(tenant_url, Some(&token));
    scim.get("/Users?startIndex=1&count=1").await.expect(200);
    scim.create_user("wif@wif.example.com").await;
    scim.get(&format!("/Users/{other_user}")).await.expect(404);
    // Entra presents one token again while it is valid.
    access_token(&present(entra).await);

    let with = |changes: Value| {
        let mut claims = entra_claims();
        for (k, v) in changes.as_object().expect("object") {
            claims[k] = v.clone();
        }
        claims
    };
    let now = scim_shared::protocol::clock::now().unix_timestamp();
    let cases = [
        ("signature", attacker.sign(&entra_claims()), "signature"),
        (
            "issuer",
            key1.sign(&with(
                json!({"iss": "https://login.microsoftonline.com/other/v2.0"}),
            )),
            "issuer",
        ),
        (
            "subject",
            key1.sign(&with(json!({"sub": "someone-else"}))),
            "subject",
        ),
        (
            "audience",
            key1.sign(&with(json!({"aud": "api://another-app"}))),
            "audience",
        ),
        (
            "expired",
            key1.sign(&with(
                json!({"exp": now - 120, "iat": now - 3720, "nbf": now - 3720}),
            )),
            "expired",
        ),
        (
            "not yet valid",
            key1.sign(&with(json!({"nbf": now + 600}))),
            "not valid yet",
        ),
        (
            "no exp",
            key1.sign(&{
                let mut c = entra_claims();
                c.as_object_mut().expect("o").remove("exp");
                c
            }),
            "exp",
        ),
        ("symmetric", hs256(&entra_claims()), "algorithm"),
        ("not a JWT", "not-a-jwt".to_string(), "not a JWT"),
    ];
    for (case, assertion, says) in cases {
        let reply = present(assertion).await;
        refused(&reply, 401, "invalid_client");
        let description = reply.body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(says), "{case}: {description}");
    }

    // A jti is taken once.
    let once = key1.sign(&with(json!({"jti": uuid::Uuid::now_v7().to_string()})));
    access_token(&present(once.clone()).await);
    let replayed = present(once).await;
    refused(&replayed, 401, "invalid_client");
    assert!(
        replayed.body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("already used")
    );

    // The issuer rotates to key-2: not in the cached set, fetched again once `refetch` passed.
    tokio::time::sleep(refetch).await;
    let before = keys.fetches();
    refused(
        &present(key2.sign(&entra_claims())).await,
        401,
        "invalid_client",
    );
    assert_eq!(
        keys.fetches(),
        before + 1,
        "an unknown kid fetches the set again"
    );
    refused(
        &present(key2.sign(&entra_claims())).await,
        401,
        "invalid_client",
    );
    assert_eq!(
        keys.fetches(),
        before + 1,
        "but not again before {refetch:?}"
    );
    keys.publish(&key2);
    tokio::time::sleep(refetch).await;
    access_token(&present(key2.sign(&entra_claims())).await);
    assert_eq!(keys.fetches(), before + 2);

    // A secret is not a federated client's credential.
    refused(
        &token_request(
            root,
            &[CC, ("client_id", id), ("client_secret", "scimcs_x")],
            None,
        )
        .await,
        401,
        "invalid_client",
    );

    // A key set that cannot be fetched.
    let closed = format!("http://127.0.0.1:{}/keys", closed_port());
    let (unreachable, _) = clients::create(store, "oauth-wif", Some(federation(&closed)))
        .await
        .expect("client");
    let reply = present_assertion(root, &unreachable.id, &key1.sign(&entra_claims())).await;
    refused(&reply, 401, "invalid_client");
    assert!(
        reply.body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("could not be fetched"),
        "{}",
        reply.body
    );

    // Revoking the client refuses its live token.
    clients::revoke(store, "oauth-wif", id)
        .await
        .expect("revoke");
    refused(
        &present(key1.sign(&entra_claims())).await,
        401,
        "invalid_client",
    );
}

/// An assertion signed with a shared secret (HS256), which federation never accepts.
fn hs256(claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("key-1".into());
    let key = jsonwebtoken::EncodingKey::from_secret(b"shared").expect("key");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_clients_get_access_tokens_the_scim_api_takes_for_their_tenant_only() {
    let srv = TestServer::start().await;
    secret_clients_get_tokens_for_their_tenant_only(srv.root(), &srv.base, &*srv.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_endpoint_error_is_answered_as_rfc_6749_says() {
    let srv = TestServer::start().await;
    every_token_error_is_the_rfc_6749_answer(srv.root(), &srv.base, &*srv.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federated_clients_get_tokens_for_assertions_their_issuer_signed_and_nothing_else() {
    let srv = TestServer::start().await;
    federated_clients_are_held_to_their_four_values(
        srv.root(),
        &srv.base,
        &*srv.store,
        TEST_REFETCH,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_client_or_its_secret_refuses_its_live_access_tokens() {
    let srv = TestServer::start().await;
    let (a, client, secret) = tenant_with_client(&*srv.store, "oauth-live", &srv.base).await;
    let token = access_token(&token_request(srv.root(), &[CC], Some((&client, &secret))).await);
    let with_token = a.with_token(Some(&token));
    with_token.get("/Users").await.expect(200);
    let (second, _) = clients::add_secret(&*srv.store, "oauth-live", &client)
        .await
        .expect("rotate");
    let stored = clients::get(&*srv.store, &client)
        .await
        .expect("get")
        .expect("client");
    let first = stored.secret_id(&secret).expect("live").to_string();
    clients::revoke_secret(&*srv.store, "oauth-live", &client, &first)
        .await
        .expect("revoke");
    with_token.get("/Users").await.expect_error(401, None);
    let token = access_token(&token_request(srv.root(), &[CC], Some((&client, &second))).await);
    a.with_token(Some(&token)).get("/Users").await.expect(200);
    clients::revoke(&*srv.store, "oauth-live", &client)
        .await
        .expect("revoke");
    a.with_token(Some(&token))
        .get("/Users")
        .await
        .expect_error(401, None);
}

/// A client of a new tenant `id` whose bearer is an access token of a secret client, got as
/// Microsoft's validation gets it (the secret in the form).
pub(crate) async fn client_credentials_scim(
    root: &str,
    tenant_url: &str,
    store: &dyn Store,
    id: &str,
) -> Scim {
    let (scim, client, secret) = tenant_with_client(store, id, tenant_url).await;
    let reply = token_request(
        root,
        &[CC, ("client_id", &client), ("client_secret", &secret)],
        None,
    )
    .await;
    scim.with_token(Some(&access_token(&reply)))
}

/// A client of a new tenant `id` whose bearer is an access token of a federated client, got
/// with an assertion as Entra signs it; the key server must outlive the client's use of it only
/// for the token request.
pub(crate) async fn federated_scim(
    root: &str,
    tenant_url: &str,
    store: &dyn Store,
    id: &str,
) -> Scim {
    let key = IssuerKey::load("issuer-key-1.pem", "key-1");
    let keys = KeyServer::start(&[&key]).await;
    tenant::create_tenant(store, id).await.expect("tenant");
    let (client, _) = clients::create(store, id, Some(federation(&keys.url)))
        .await
        .expect("federated client");
    let reply = present_assertion(root, &client.id, &key.sign(&entra_claims())).await;
    Scim::new(tenant_url, Some(&access_token(&reply)))
}

/// Microsoft's `Validate_Credentials_Test` as its Logic App runs it (SCIMTests_Workflow.json at
/// df8c112): the secret in the form, no scope; 2xx with an `access_token`; `expires_in` (3600 if
/// absent) from 60 to 360 whole minutes; then `GET /Users?startIndex=1&count=1` with the token,
/// 2xx.
pub(crate) async fn validate_credentials_test(
    root: &str,
    tenant_url: &str,
    client_id: &str,
    secret: &str,
) -> Result<(), String> {
    let reply = token_request(
        root,
        &[CC, ("client_id", client_id), ("client_secret", secret)],
        None,
    )
    .await;
    if !(200..300).contains(&reply.status) {
        return Err(format!(
            "Token endpoint returned HTTP {}. Expected 2xx.",
            reply.status
        ));
    }
    let Some(token) = reply.body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
    else {
        return Err(
            "Token endpoint returned 2xx but response did not contain an access_token field."
                .into(),
        );
    };
    let minutes = match &reply.body["expires_in"] {
        Value::Null => 60,
        v => v.as_i64().ok_or("expires_in is not a number")? / 60,
    };
    if !(60..=360).contains(&minutes) {
        return Err(format!(
            "Token validity is {minutes} minutes; 60 to 360 are required."
        ));
    }
    let users = Scim::new(tenant_url, Some(token))
        .get("/Users?startIndex=1&count=1")
        .await;
    if !(200..300).contains(&users.status) {
        return Err(format!(
            "SCIM /Users returned HTTP {}. Expected 2xx.",
            users.status
        ));
    }
    Ok(())
}

/// Microsoft's `Federated_Identity_Test`, RFC 7523 branch, as its Logic App runs it: Entra's token
/// as the client assertion, with the Logic App's extra `baseAddress`; 2xx with an `access_token`.
pub(crate) async fn federated_identity_test(
    root: &str,
    client_id: &str,
    assertion: &str,
    base_address: &str,
) -> Result<(), String> {
    let reply = token_request(
        root,
        &[
            CC,
            ("client_id", client_id),
            ("client_assertion", assertion),
            ("client_assertion_type", JWT_BEARER),
            ("baseAddress", base_address),
        ],
        None,
    )
    .await;
    match reply.body["access_token"].as_str() {
        Some(t) if (200..300).contains(&reply.status) && !t.is_empty() => Ok(()),
        _ => Err(format!(
            "the federated token request answered {}: {}",
            reply.status, reply.body
        )),
    }
}

/// Microsoft's whole validation against one host: the 22 directory tests of `entra_gallery` run
/// concurrently with `scim` (whose bearer is a Secret Token or an access token), and both
/// credential tests for tenant `tenant` (an OAuth client and a federated client made for them).
pub(crate) async fn microsofts_validation(
    root: &str,
    tenant_url: &str,
    store: &dyn Store,
    tenant_id: &str,
    scim: &Scim,
) {
    let (client, secret) = clients::create(store, tenant_id, None)
        .await
        .expect("client");
    let key = IssuerKey::load("issuer-key-1.pem", "key-1");
    let keys = KeyServer::start(&[&key]).await;
    let (federated, _) = clients::create(store, tenant_id, Some(federation(&keys.url)))
        .await
        .expect("federated client");
    let secret = secret.expect("secret");
    let assertion = key.sign(&entra_claims());
    let (report, credentials, federated) = tokio::join!(
        crate::entra_gallery::every_test(scim),
        validate_credentials_test(root, tenant_url, &client.id, &secret),
        federated_identity_test(root, &federated.id, &assertion, tenant_url),
    );
    report.verdict().unwrap_or_else(|e| panic!("{e}"));
    credentials.unwrap_or_else(|e| panic!("Validate_Credentials_Test: {e}"));
    federated.unwrap_or_else(|e| panic!("Federated_Identity_Test: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsofts_validation_passes_with_a_client_credentials_token_and_a_federated_one() {
    let srv = TestServer::start().await;
    let root = srv.root();
    let by_secret = client_credentials_scim(root, &srv.base, &*srv.store, "gallery-cc").await;
    microsofts_validation(root, &srv.base, &*srv.store, "gallery-cc", &by_secret).await;
    let by_assertion = federated_scim(root, &srv.base, &*srv.store, "gallery-wif").await;
    microsofts_validation(root, &srv.base, &*srv.store, "gallery-wif", &by_assertion).await;
}
