//! The local server's cache of authorizations, as API Gateway caches its Lambda authorizer's
//! answers: a valid Secret Token's tenant and settings are kept for a TTL, so that most requests
//! skip the token read. Only successes are cached (an unknown token is looked up every time);
//! entries are keyed by the token's SHA-256, never the token. A revoked token or changed tenant
//! settings take effect within the TTL (`serve --auth-cache-ttl`, 0 turns the cache off).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use scim_shared::ScimResult;
use scim_shared::service::Service;
use scim_shared::tenant::{self, Principal};

/// Most tokens kept at once; beyond, the cache starts over (tokens are few per tenant).
const MAX_ENTRIES: usize = 10_000;

/// Authorizations by token hash, each with the time it was looked up.
#[derive(Debug)]
pub struct AuthCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Principal, Instant)>>,
}

impl AuthCache {
    pub fn new(ttl: Duration) -> Self {
        AuthCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// [`Service::authenticate`], answered from the cache while an entry is younger than the TTL.
    pub async fn authenticate(
        &self,
        service: &Service,
        authorization: Option<&str>,
    ) -> ScimResult<Principal> {
        let key = authorization
            .and_then(tenant::bearer)
            .filter(|_| !self.ttl.is_zero())
            .map(tenant::token_hash);
        let Some(key) = key else {
            return service.authenticate(authorization).await;
        };
        if let Ok(entries) = self.entries.read()
            && let Some((principal, at)) = entries.get(&key)
            && at.elapsed() < self.ttl
        {
            return Ok(principal.clone());
        }
        let principal = service.authenticate(authorization).await?;
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (principal.clone(), Instant::now()));
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use scim_shared::ops::Limits;
    use scim_shared::store::EmbeddedStore;

    use super::*;

    async fn service_with_token() -> (Service, String, String) {
        let store = Arc::new(EmbeddedStore::in_memory().expect("store"));
        tenant::create_tenant(&*store, "acme")
            .await
            .expect("tenant");
        let (token, info) = tenant::issue_token(&*store, "acme").await.expect("token");
        (Service::new(store, Limits::default()), token, info.id)
    }

    #[tokio::test]
    async fn a_revoked_token_is_refused_at_once_without_a_ttl_and_within_it_with_one() {
        for ttl in [Duration::ZERO, Duration::from_secs(60)] {
            let (service, token, id) = service_with_token().await;
            let cache = AuthCache::new(ttl);
            let header = format!("Bearer {token}");
            let p = cache
                .authenticate(&service, Some(&header))
                .await
                .expect("valid");
            assert_eq!(p.tenant, "acme");
            tenant::revoke_token(&**service.store(), "acme", &id)
                .await
                .expect("revoked");
            let again = cache.authenticate(&service, Some(&header)).await;
            assert_eq!(again.is_ok(), !ttl.is_zero(), "ttl {ttl:?}");
        }
    }

    #[tokio::test]
    async fn unknown_tokens_are_looked_up_every_time() {
        let (service, _, _) = service_with_token().await;
        let cache = AuthCache::new(Duration::from_secs(60));
        for _ in 0..2 {
            let e = cache
                .authenticate(&service, Some("Bearer nope"))
                .await
                .expect_err("unknown");
            assert_eq!(e.status(), 401);
        }
        assert!(cache.entries.read().expect("lock").is_empty());
    }
}
