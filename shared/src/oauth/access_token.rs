//! Access tokens: JWTs (RFC 9068 in shape, HS256) that the token endpoint signs with a key of
//! the deployment and the SCIM API accepts wherever it accepts a Secret Token. Nothing of them is
//! stored: a token names its tenant, its client and (for a secret client) the secret it was
//! issued for, and expires after [`LIFETIME_SECONDS`].
//!
//! Authorizing one is a signature check and one read of its client (the read a Secret Token
//! costs as well): a revoked client or secret, or a deleted tenant (its clients go first),
//! refuses the token at the next authorization, and the client's copy of the tenant's settings
//! is current. The key is derived from the deployment's cursor key (`ops::cursor`) and read
//! once per process (the token endpoint creates the cursor key if the deployment has none).

use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::ops::cursor;
use crate::protocol::clock;
use crate::protocol::error::{ScimError, ScimResult};
use crate::store::Store;
use crate::tenant::Principal;
use crate::tenant::clients::{self, Client};

/// How long an access token is valid (`expires_in`).
pub const LIFETIME_SECONDS: i64 = 3600;
/// The `iss` and `aud` of every access token.
const ISSUER: &str = "scim-serverless";
const AUDIENCE: &str = "scim";

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    /// The client.
    sub: String,
    /// The tenant.
    tid: String,
    /// The secret the client authenticated with; absent for a federated client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    iat: i64,
    exp: i64,
    jti: String,
}

/// Signs and checks access tokens with the deployment's key, read on first use.
#[derive(Debug, Default)]
pub struct AccessTokens {
    key: OnceCell<Vec<u8>>,
}

impl AccessTokens {
    pub fn new() -> Self {
        AccessTokens::default()
    }

    /// The access-token key, derived from the deployment's cursor key. With `create`, the
    /// cursor key is made if the deployment has none yet (the token endpoint, which issues);
    /// without, a deployment without one has no key (the authorizer, which only reads: no token
    /// can have been issued).
    async fn key(&self, store: &dyn Store, create: bool) -> ScimResult<Option<&[u8]>> {
        if let Some(key) = self.key.get() {
            return Ok(Some(key));
        }
        let base = if create {
            Some(cursor::signing_key(store).await?)
        } else {
            cursor::existing_signing_key(store).await?
        };
        let Some(base) = base else {
            return Ok(None);
        };
        // A key of its own, so that no cursor MAC is ever a token signature.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&base)
            .map_err(|e| ScimError::Internal(format!("access token key: {e}")))?;
        mac.update(b"scim-serverless oauth access token v1");
        let derived = mac.finalize().into_bytes().to_vec();
        Ok(Some(self.key.get_or_init(|| async { derived }).await))
    }

    /// A new access token for `client`, authenticated with `secret_id` (or federated), and its
    /// lifetime in seconds.
    pub async fn issue(
        &self,
        store: &dyn Store,
        client: &Client,
        secret_id: Option<&str>,
    ) -> ScimResult<(String, i64)> {
        let now = clock::now().unix_timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: client.id.clone(),
            tid: client.tenant.clone(),
            sid: secret_id.map(str::to_string),
            iat: now,
            exp: now + LIFETIME_SECONDS,
            jti: uuid::Uuid::now_v7().to_string(),
        };
        let secret = self
            .key(store, true)
            .await?
            .ok_or_else(|| ScimError::Internal("no access token key".into()))?;
        let key = EncodingKey::from_secret(secret)
            .map_err(|e| ScimError::Internal(format!("access token key: {e}")))?;
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
            .map_err(|e| ScimError::Internal(format!("signing an access token: {e}")))?;
        Ok((token, LIFETIME_SECONDS))
    }

    /// The caller an access token stands for, or `None` when it is not one of ours, is expired,
    /// or its client (or secret) is revoked.
    pub async fn authorize(&self, store: &dyn Store, token: &str) -> ScimResult<Option<Principal>> {
        let Some(secret) = self.key(store, false).await? else {
            return Ok(None);
        };
        let key = DecodingKey::from_secret(secret)
            .map_err(|e| ScimError::Internal(format!("access token key: {e}")))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let Ok(data) = jsonwebtoken::decode::<Claims>(token, &key, &validation) else {
            return Ok(None);
        };
        let claims = data.claims;
        let client = clients::get(store, &claims.sub).await?;
        let Some(client) = client.filter(|c| c.tenant == claims.tid) else {
            return Ok(None);
        };
        let live = match (&claims.sid, &client.federation) {
            (Some(sid), None) => client.has_secret(sid),
            (None, Some(_)) => true,
            _ => false,
        };
        Ok(live.then_some(Principal {
            tenant: client.tenant,
            settings: client.settings,
        }))
    }
}

/// Whether a bearer token has the shape of an access token (three base64url parts), so that
/// the service knows which check applies.
pub fn looks_like_access_token(token: &str) -> bool {
    token.len() <= 4096
        && token.split('.').count() == 3
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EmbeddedStore;
    use crate::tenant;

    /// A store with tenant `acme`, a secret client of it and the id of its secret.
    async fn acme_client() -> (EmbeddedStore, Client, Option<String>) {
        let store = EmbeddedStore::in_memory().expect("store");
        tenant::create_tenant(&store, "acme").await.expect("tenant");
        let (client, secret) = clients::create(&store, "acme", None).await.expect("client");
        let sid = client
            .secret_id(&secret.expect("secret"))
            .map(str::to_string);
        (store, client, sid)
    }

    #[tokio::test]
    async fn a_token_stands_for_its_tenant_until_its_secret_or_client_is_revoked() {
        let (store, client, sid) = acme_client().await;
        let tokens = AccessTokens::new();
        let (token, lifetime) = tokens
            .issue(&store, &client, sid.as_deref())
            .await
            .expect("issue");
        assert_eq!(lifetime, 3600);
        assert!(looks_like_access_token(&token));
        let principal = tokens.authorize(&store, &token).await.expect("authorize");
        assert_eq!(principal.map(|p| p.tenant).as_deref(), Some("acme"));

        // Another deployment's key (another process reading another store) signs tokens that
        // this one refuses.
        let other = EmbeddedStore::in_memory().expect("store");
        assert_eq!(tokens_of_other(&other, &token).await, None);

        let (_, _) = clients::add_secret(&store, "acme", &client.id)
            .await
            .expect("rotate");
        clients::revoke_secret(&store, "acme", &client.id, sid.as_deref().expect("sid"))
            .await
            .expect("revoke secret");
        assert_eq!(
            tokens.authorize(&store, &token).await.expect("authorize"),
            None
        );
    }

    async fn tokens_of_other(store: &EmbeddedStore, token: &str) -> Option<String> {
        AccessTokens::new()
            .authorize(store, token)
            .await
            .expect("authorize")
            .map(|p| p.tenant)
    }

    #[tokio::test]
    async fn a_tampered_or_expired_token_is_refused() {
        let (store, client, sid) = acme_client().await;
        let tokens = AccessTokens::new();
        let key = tokens
            .key(&store, true)
            .await
            .expect("key")
            .expect("created")
            .to_vec();
        let now = clock::now().unix_timestamp();
        let sign = |claims: &Claims| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                claims,
                &EncodingKey::from_secret(&key).expect("key"),
            )
            .expect("sign")
        };
        let valid = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: client.id.clone(),
            tid: "acme".into(),
            sid,
            iat: now,
            exp: now + 60,
            jti: "j".into(),
        };
        assert!(
            tokens
                .authorize(&store, &sign(&valid))
                .await
                .expect("ok")
                .is_some()
        );
        let expired = Claims {
            exp: now - 1,
            ..valid.clone()
        };
        let other_tenant = Claims {
            tid: "beta".into(),
            ..valid.clone()
        };
        let no_secret = Claims {
            sid: None,
            ..valid.clone()
        };
        for claims in [expired, other_tenant, no_secret] {
            assert_eq!(
                tokens.authorize(&store, &sign(&claims)).await.expect("ok"),
                None,
                "{claims:?}"
            );
        }
        // Another token's claims under this one's signature.
        let signed = sign(&valid);
        let forged = sign(&Claims {
            tid: "beta".into(),
            ..valid.clone()
        });
        let parts: Vec<&str> = signed.split('.').collect();
        let forged_parts: Vec<&str> = forged.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], forged_parts[1], parts[2]);
        assert_eq!(tokens.authorize(&store, &tampered).await.expect("ok"), None);
    }
}
