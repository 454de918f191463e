//! OAuth test kit: a JWKS server on a loopback port publishing the test issuer's keys
//! (tests/data/oauth), client assertions signed as Microsoft Entra signs them, and token
//! requests to a host's `/oauth/token`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use scim_shared::oauth::Jwks;
use scim_shared::protocol::clock;
use scim_shared::tenant::clients::Federation;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::Reply;

/// How soon the test hosts fetch a key set again (the deployed default is longer).
pub const TEST_REFETCH: Duration = Duration::from_millis(1500);

/// The key cache of a test host: plain HTTP from loopback allowed, quick re-fetches.
pub fn test_jwks() -> Jwks {
    Jwks::new(TEST_REFETCH, true)
}

/// Microsoft Entra's tenant id in the test federation.
pub const ENTRA_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The workload identity app id (the audience) and its service principal (the subject).
pub const WORKLOAD_APP: &str = "b5ba7a93-4bb1-4c9a-9f7c-6b0d9f1e2a11";
pub const WORKLOAD_SUBJECT: &str = "5d2b9e1c-0f4a-4b8e-9a3d-7c6e1f2a3b4c";

/// A signing key of the test issuer, with its key id.
#[derive(Clone)]
pub struct IssuerKey {
    pub kid: String,
    encoding: Arc<EncodingKey>,
    pub jwk: Jwk,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey").field("kid", &self.kid).finish()
    }
}

impl IssuerKey {
    /// The RSA key `tests/data/oauth/{file}` under key id `kid`.
    pub fn load(file: &str, kid: &str) -> IssuerKey {
        let path = format!("{}/data/oauth/{file}", env!("CARGO_MANIFEST_DIR"));
        let pem = std::fs::read(&path).expect(&path);
        let encoding = EncodingKey::from_rsa_pem(&pem).expect("RSA key");
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("jwk");
        jwk.common.key_id = Some(kid.to_string());
        // Entra publishes its keys without `alg`; so does this issuer.
        jwk.common.key_algorithm = None;
        IssuerKey {
            kid: kid.to_string(),
            encoding: Arc::new(encoding),
            jwk,
        }
    }

    /// `claims` signed with RS256 under this key's id.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// `claims` signed with this key but naming key id `kid` (a forged assertion).
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

/// A key set served over plain HTTP on a loopback port; counts its fetches.
#[derive(Debug)]
pub struct KeyServer {
    pub url: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
}

impl KeyServer {
    /// Serves `keys`.
    pub async fn start(keys: &[&IssuerKey]) -> KeyServer {
        let published = Arc::new(Mutex::new(
            keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>(),
        ));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (set, count) = (published.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/discovery/v2.0/keys",
            axum::routing::get(move || {
                let (set, count) = (set.clone(), count.clone());
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    let keys = set.lock().map(|k| k.clone()).unwrap_or_default();
                    let body = serde_json::to_string(&JwkSet { keys }).unwrap_or_default();
                    ([("content-type", "application/json")], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        KeyServer {
            url: format!("http://{addr}/discovery/v2.0/keys"),
            keys: published,
            fetches,
            stop: Some(stop),
        }
    }

    /// Adds a key to the set (a key rotation at the issuer).
    pub fn publish(&self, key: &IssuerKey) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.push(key.jwk.clone());
        }
    }

    /// How many times the set was fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The four values Entra shows the admin, for a key set at `jwks_url`.
pub fn federation(jwks_url: &str) -> Federation {
    Federation {
        issuer: format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"),
        jwks_url: jwks_url.to_string(),
        subject: WORKLOAD_SUBJECT.to_string(),
        audience: format!("api://{WORKLOAD_APP}/.default"),
    }
}

/// The claims of the app-only access token Entra presents as the client assertion (Microsoft's
/// Workload Identity Federation guide: no `jti`, `aud` the app id URI), valid for an hour.
pub fn entra_claims() -> Value {
    let now = clock::now().unix_timestamp();
    json!({
        "aud": format!("api://{WORKLOAD_APP}"),
        "iss": format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "sub": WORKLOAD_SUBJECT,
        "oid": WORKLOAD_SUBJECT,
        "tid": ENTRA_TENANT,
        "appid": WORKLOAD_APP,
        "ver": "2.0",
    })
}

/// A form POST to `{root}/oauth/token`, with HTTP Basic credentials when given.
pub async fn token_request(
    root: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Reply {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut rb = reqwest::Client::new()
        .post(format!(
            "{}{}",
            root.trim_end_matches('/'),
            scim_shared::oauth::TOKEN_PATH
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        rb = rb.basic_auth(id, Some(secret));
    }
    let resp = rb.send().await.expect("token request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// The access token of a successful token response, after checking its RFC 6749 §5.1 shape.
#[track_caller]
pub fn access_token(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "token response: {}", reply.body);
    assert_eq!(reply.body["token_type"], "Bearer");
    let expires_in = reply.body["expires_in"].as_i64().expect("expires_in");
    // Microsoft's validation takes 3600 to 21600 seconds.
    assert!(
        (3600..=21600).contains(&expires_in),
        "expires_in {expires_in}"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("pragma"), Some("no-cache"));
    reply.body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}
