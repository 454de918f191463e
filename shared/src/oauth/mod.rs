//! The OAuth 2.0 token endpoint (`POST /oauth/token`, beside the SCIM base path): the client
//! credentials grant (RFC 6749 §4.4) for a tenant's OAuth clients, authenticated with a secret
//! (`client_secret_basic` or `client_secret_post`, §2.3.1) or, for a federated client, with a
//! JWT its identity provider signed (RFC 7523 §2.2: Microsoft Entra's Workload Identity
//! Federation). It answers a short-lived access token ([`access_token`]) that the SCIM API takes
//! wherever it takes a Secret Token, for the client's tenant only; failures are RFC 6749 §5.2
//! errors, each mapped to its status in [`OAuthError::response`].

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::store::{Store, StoreError};
use crate::tenant::clients::{self, Client};

pub mod access_token;
pub mod assertion;
pub mod jwks;

pub use access_token::AccessTokens;
pub use jwks::Jwks;

/// Where the token endpoint is served below a host (and, on AWS, below the stage).
pub const TOKEN_PATH: &str = "/oauth/token";
/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The largest request body read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A token request as it arrived.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A token endpoint response: a status, a JSON body, and the challenge of a 401 to a client
/// that used HTTP Basic (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenResponse {
    pub status: u16,
    pub body: Value,
    pub www_authenticate: Option<&'static str>,
}

impl TokenResponse {
    /// The response's headers: JSON, never cached (RFC 6749 §5.1).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("content-type", "application/json".to_string()),
            ("cache-control", "no-store".to_string()),
            ("pragma", "no-cache".to_string()),
        ];
        if let Some(challenge) = self.www_authenticate {
            h.push(("www-authenticate", challenge.to_string()));
        }
        h
    }

    /// The body's bytes.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body).unwrap_or_default()
    }

    /// The HTTP response, with `body` as its body.
    pub fn to_http<B>(&self, body: B) -> http::Response<B> {
        crate::protocol::http::http_response(self.status, self.headers(), body)
    }
}

/// A failed token request (RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    /// The client is unknown, its credentials are wrong, or its assertion is refused. `basic`:
    /// it authenticated with HTTP Basic (the answer then carries a Basic challenge).
    #[error("{message}")]
    InvalidClient { message: String, basic: bool },
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("the service is busy; retry")]
    Unavailable,
    #[error("the service failed: {0}")]
    Server(String),
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => OAuthError::Unavailable,
            other => OAuthError::Server(other.to_string()),
        }
    }
}

impl From<crate::ScimError> for OAuthError {
    fn from(e: crate::ScimError) -> Self {
        OAuthError::Server(e.to_string())
    }
}

impl OAuthError {
    /// The one mapping of failures to a status, an `error` code and its description.
    pub fn response(&self) -> TokenResponse {
        let (status, code) = match self {
            OAuthError::InvalidRequest(_) => (400, "invalid_request"),
            OAuthError::InvalidClient { .. } => (401, "invalid_client"),
            OAuthError::UnsupportedGrantType(_) => (400, "unsupported_grant_type"),
            OAuthError::Unavailable => (503, "temporarily_unavailable"),
            OAuthError::Server(_) => (500, "server_error"),
        };
        let description = match self {
            // A store failure's text is for the log, not for the client.
            OAuthError::Server(_) => "the service failed; retry later".to_string(),
            other => other.to_string(),
        };
        let basic = matches!(self, OAuthError::InvalidClient { basic: true, .. });
        TokenResponse {
            status,
            body: json!({"error": code, "error_description": description}),
            www_authenticate: basic.then_some("Basic realm=\"oauth\""),
        }
    }
}

/// How the client authenticated.
#[derive(Debug)]
enum Credentials {
    Secret {
        client_id: String,
        secret: String,
        basic: bool,
    },
    Assertion {
        client_id: String,
        assertion: String,
    },
}

/// The token endpoint over a store.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    store: Arc<dyn Store>,
    tokens: Arc<AccessTokens>,
    jwks: Arc<Jwks>,
}

impl TokenEndpoint {
    pub fn new(store: Arc<dyn Store>, jwks: Arc<Jwks>) -> Self {
        TokenEndpoint {
            store,
            tokens: Arc::new(AccessTokens::new()),
            jwks,
        }
    }

    /// Answers one token request; logs the client and the outcome, never a credential.
    pub async fn handle(&self, req: &TokenRequest) -> TokenResponse {
        match self.grant(req).await {
            Ok((client, token, expires_in)) => {
                tracing::info!(
                    tenant = client.tenant,
                    client = client.id,
                    federated = client.federation.is_some(),
                    status = 200,
                    "oauth token issued"
                );
                TokenResponse {
                    status: 200,
                    body: json!({
                        "access_token": token,
                        "token_type": "Bearer",
                        "expires_in": expires_in,
                    }),
                    www_authenticate: None,
                }
            }
            Err(e) => {
                let response = e.response();
                tracing::warn!(
                    status = response.status,
                    error = response.body["error"].as_str(),
                    reason = %e,
                    "oauth token refused"
                );
                response
            }
        }
    }

    async fn grant(&self, req: &TokenRequest) -> Result<(Client, String, i64), OAuthError> {
        let form = parse_form(req)?;
        match form.get("grant_type").map(String::as_str) {
            None => {
                return Err(OAuthError::InvalidRequest(
                    "the request has no grant_type".into(),
                ));
            }
            Some("client_credentials") => {}
            Some(other) => {
                return Err(OAuthError::UnsupportedGrantType(format!(
                    "grant_type '{other}' is not supported; use client_credentials"
                )));
            }
        }
        let store = &*self.store;
        let credentials = credentials(req.authorization.as_deref(), &form)?;
        let (client_id, basic) = match &credentials {
            Credentials::Secret {
                client_id, basic, ..
            } => (client_id.as_str(), *basic),
            Credentials::Assertion { client_id, .. } => (client_id.as_str(), false),
        };
        let refused = |message: String| OAuthError::InvalidClient { message, basic };
        let client = clients::get(store, client_id)
            .await?
            .ok_or_else(|| refused(format!("no OAuth client has the id '{client_id}'")))?;
        let secret_id = match (&credentials, &client.federation) {
            (Credentials::Secret { secret, .. }, None) => Some(
                client
                    .secret_id(secret)
                    .ok_or_else(|| refused("the client secret is wrong or revoked".into()))?
                    .to_string(),
            ),
            (Credentials::Assertion { assertion, .. }, Some(federation)) => {
                assertion::verify(store, &self.jwks, &client, federation, assertion)
                    .await?
                    .map_err(|e| refused(e.to_string()))?;
                None
            }
            (Credentials::Secret { .. }, Some(_)) => {
                return Err(refused(
                    "this client is federated: authenticate with a client assertion".into(),
                ));
            }
            (Credentials::Assertion { .. }, None) => {
                return Err(refused(
                    "this client has a secret: authenticate with it, not an assertion".into(),
                ));
            }
        };
        let (token, lifetime) = self
            .tokens
            .issue(store, &client, secret_id.as_deref())
            .await?;
        Ok((client, token, lifetime))
    }
}

/// A form's parameters by name.
type Form = BTreeMap<String, String>;

/// The form's parameters; a parameter sent twice, a body that is not a form, or an over-long
/// body is `invalid_request` (RFC 6749 §3.2).
fn parse_form(req: &TokenRequest) -> Result<Form, OAuthError> {
    let form_type = req.content_type.as_deref().is_some_and(|t| {
        t.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    if !form_type {
        return Err(OAuthError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    if req.body.len() > MAX_BODY_BYTES {
        return Err(OAuthError::InvalidRequest(format!(
            "the body is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    let mut form = Form::new();
    for (name, value) in form_urlencoded::parse(&req.body) {
        if form.insert(name.to_string(), value.to_string()).is_some() {
            return Err(OAuthError::InvalidRequest(format!(
                "the parameter '{name}' is sent more than once"
            )));
        }
    }
    Ok(form)
}

/// How the client authenticates: exactly one of HTTP Basic, `client_id` with `client_secret`
/// in the form, or `client_id` with a JWT `client_assertion` (RFC 6749 §2.3: no more than one
/// method per request; the same secret in the header and the form counts as one). Unknown
/// parameters (`scope`, Microsoft's validation's `baseAddress`) are ignored.
fn credentials(authorization: Option<&str>, form: &Form) -> Result<Credentials, OAuthError> {
    let param = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let basic = authorization.map(basic_credentials).transpose()?;
    let assertion = match (param("client_assertion_type"), param("client_assertion")) {
        (None, None) => None,
        (Some(JWT_BEARER), Some(assertion)) => Some(assertion),
        (Some(other), Some(_)) if other != JWT_BEARER => {
            return Err(OAuthError::InvalidRequest(format!(
                "client_assertion_type must be {JWT_BEARER}"
            )));
        }
        _ => {
            return Err(OAuthError::InvalidRequest(
                "client_assertion_type and client_assertion go together".into(),
            ));
        }
    };
    // Entra's "Both" setting sends the secret in the header and the form; the same secret
    // twice is one method.
    let same_secret_twice = basic
        .as_ref()
        .is_some_and(|(_, secret)| param("client_secret") == Some(secret.as_str()));
    let methods = usize::from(basic.is_some())
        + usize::from(param("client_secret").is_some() && !same_secret_twice)
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(OAuthError::InvalidRequest(
            "the client authenticates in more than one way; use exactly one".into(),
        ));
    }
    let form_id = param("client_id");
    if let (Some((id, _)), Some(form_id)) = (&basic, form_id)
        && id != form_id
    {
        return Err(OAuthError::InvalidRequest(
            "client_id differs from the client of the Authorization header".into(),
        ));
    }
    let missing = |what: &str| OAuthError::InvalidClient {
        message: format!("the request has no {what}"),
        basic: false,
    };
    match (basic, assertion) {
        (Some((client_id, secret)), _) => Ok(Credentials::Secret {
            client_id,
            secret,
            basic: true,
        }),
        (None, Some(assertion)) => Ok(Credentials::Assertion {
            client_id: form_id.ok_or_else(|| missing("client_id"))?.to_string(),
            assertion: assertion.to_string(),
        }),
        (None, None) => Ok(Credentials::Secret {
            client_id: form_id
                .ok_or_else(|| missing("client authentication (client_id and client_secret, HTTP Basic, or a client assertion)"))?
                .to_string(),
            secret: param("client_secret")
                .ok_or_else(|| missing("client_secret"))?
                .to_string(),
            basic: false,
        }),
    }
}

/// The client id and secret of an `Authorization: Basic` header, each form-decoded after the
/// base64 (RFC 6749 §2.3.1).
fn basic_credentials(header: &str) -> Result<(String, String), OAuthError> {
    let malformed = || OAuthError::InvalidClient {
        message: "the Authorization header is not HTTP Basic with a client id and secret".into(),
        basic: true,
    };
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let decode = |s: &str| -> String {
        let plus_as_space = s.replace('+', " ");
        percent_encoding::percent_decode_str(&plus_as_space)
            .decode_utf8_lossy()
            .into_owned()
    };
    Ok((decode(id), decode(secret)))
}
