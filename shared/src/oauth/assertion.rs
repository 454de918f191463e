//! Client assertions (RFC 7523 §2.2, §3): a JWT a federated client's identity provider signed,
//! checked against the four values the client holds: the signature with a key of its JWKS URL
//! (asymmetric algorithms only), `iss`, `sub`, `aud`, `exp` and `nbf` with [`LEEWAY_SECONDS`] of
//! clock skew, and its `jti`, when it has one, accepted once while the assertion is valid.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::jwks::Jwks;
use crate::protocol::clock;
use crate::store::{Condition, Item, Store, StoreError, Write, keys};
use crate::tenant::clients::{Client, Federation};

/// The clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;

/// The signature algorithms accepted: the asymmetric ones. A symmetric (HS*) assertion would be
/// signed with a secret, which is what federation does away with; `none` is never accepted.
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why an assertion was refused: said to the client as `invalid_client` with this description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("the client assertion is not a JWT: {0}")]
    Malformed(String),
    #[error("the client assertion's algorithm {0:?} is not accepted (asymmetric algorithms only)")]
    Algorithm(Algorithm),
    #[error("the client assertion has no 'kid' header")]
    NoKeyId,
    #[error(transparent)]
    Keys(#[from] super::jwks::JwksError),
    #[error("the client assertion was refused: {0}")]
    Invalid(String),
    #[error("the client assertion was already used (jti)")]
    Replayed,
}

#[derive(Debug, Deserialize)]
struct Claims {
    exp: i64,
    #[serde(default)]
    jti: Option<String>,
}

/// Checks `assertion` for the federated `client` and records its `jti`; `Err` says why not.
/// A store failure is `Ok(Err)`'s outer error.
pub async fn verify(
    store: &dyn Store,
    jwks: &Jwks,
    client: &Client,
    federation: &Federation,
    assertion: &str,
) -> Result<Result<(), AssertionError>, StoreError> {
    let claims = match check(jwks, federation, assertion).await {
        Ok(claims) => claims,
        Err(e) => return Ok(Err(e)),
    };
    // Microsoft Entra's tokens carry no `jti` (their `uti` is not a single-use id: Entra
    // presents one token again while it is valid), so an assertion without one is taken as
    // often as it is presented within its lifetime; one with a `jti` is taken once.
    let Some(jti) = claims.jti.filter(|j| !j.is_empty()) else {
        return Ok(Ok(()));
    };
    // Kept until the assertion could no longer pass `exp`; DynamoDB's TTL removes it after.
    let marker = Item {
        key: keys::assertion_id(&client.tenant, &client.id, &jti),
        expires_at: Some(claims.exp + LEEWAY_SECONDS as i64),
        body: format!("{{\"recorded\":\"{}\"}}", clock::format(clock::now())),
        ..Item::default()
    };
    let write = Write::Put {
        item: marker,
        condition: Condition::NotExists,
    };
    match store.transact(vec![write]).await {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::ConditionFailed { .. }) => Ok(Err(AssertionError::Replayed)),
        Err(e) => Err(e),
    }
}

/// The signature and claims of an assertion.
async fn check(
    jwks: &Jwks,
    federation: &Federation,
    assertion: &str,
) -> Result<Claims, AssertionError> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| AssertionError::Malformed(e.to_string()))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(AssertionError::Algorithm(header.alg));
    }
    let kid = header.kid.ok_or(AssertionError::NoKeyId)?;
    let jwk = jwks.key(&federation.jwks_url, &kid).await?;
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|e| AssertionError::Invalid(format!("key '{kid}' is unusable: {e}")))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&federation.issuer]);
    validation.set_audience(&federation.audiences());
    validation.sub = Some(federation.subject.clone());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<Claims>(assertion, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| AssertionError::Invalid(describe(&e)))
}

/// What failed, in words an admin can act on.
fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::InvalidSignature => "the signature does not verify with the issuer's key".into(),
        ErrorKind::ExpiredSignature => "it has expired (exp)".into(),
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "its issuer (iss) is not the client's issuer".into(),
        ErrorKind::InvalidAudience => "its audience (aud) is not the client's audience".into(),
        ErrorKind::InvalidSubject => "its subject (sub) is not the client's subject".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("it has no '{c}' claim"),
        ErrorKind::InvalidAlgorithm => "its algorithm does not match the key".into(),
        other => format!("{other:?}"),
    }
}
