//! The signing keys of federated clients' issuers (JWK Sets, RFC 7517), fetched over HTTPS and
//! kept per URL. A key id the cached set does not hold makes the set be fetched again, and a set
//! older than [`MAX_AGE`] is fetched again when next used; either way at most once per refetch
//! interval ([`REFETCH_INTERVAL`] on a host) per URL, so that a stream of assertions with
//! made-up key ids cannot make the service hammer the issuer. A cached key still answers while
//! the issuer cannot be reached.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};

use crate::tenant::clients::{LOOPBACK_JWKS_ENV, check_jwks_url};

/// How long a fetched set is used before it is fetched again.
pub const MAX_AGE: Duration = Duration::from_secs(3600);
/// The shortest time between two fetches of one URL for an unknown key id.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// The longest a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest key set read.
const MAX_BYTES: usize = 256 * 1024;

/// Why no key could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("the JWKS URL is not allowed: {0}")]
    Url(String),
    #[error("the key set at {url} could not be fetched: {reason}")]
    Fetch { url: String, reason: String },
    #[error("the key set at {0} holds no key with id '{1}'")]
    UnknownKey(String, String),
}

#[derive(Debug)]
struct Cached {
    set: JwkSet,
    fetched: Instant,
}

/// The key sets, by URL, and when each URL was last fetched.
#[derive(Debug)]
pub struct Jwks {
    /// Built on the first fetch, not when a host starts (a Lambda sandbox's init stays free of
    /// TLS set-up).
    http: OnceLock<Result<reqwest::Client, String>>,
    refetch_interval: Duration,
    allow_loopback_http: bool,
    sets: Mutex<HashMap<String, Cached>>,
    attempts: Mutex<HashMap<String, Instant>>,
}

impl Jwks {
    /// The cache of a host: HTTPS only, unless [`LOOPBACK_JWKS_ENV`] is `1` (tests), which also
    /// allows plain HTTP to a loopback address.
    pub fn from_env() -> Self {
        let loopback = std::env::var(LOOPBACK_JWKS_ENV).is_ok_and(|v| v == "1");
        Jwks::new(REFETCH_INTERVAL, loopback)
    }

    /// A cache that fetches a URL again at most once per `refetch_interval`, and fetches plain
    /// HTTP from a loopback address only if `allow_loopback_http`.
    pub fn new(refetch_interval: Duration, allow_loopback_http: bool) -> Self {
        Jwks {
            http: OnceLock::new(),
            refetch_interval,
            allow_loopback_http,
            sets: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The key `kid` of the set at `url`.
    pub async fn key(&self, url: &str, kid: &str) -> Result<Jwk, JwksError> {
        check_jwks_url(url, self.allow_loopback_http).map_err(JwksError::Url)?;
        let (cached, fresh) = self.cached(url, kid);
        if let (Some(key), true) = (&cached, fresh) {
            return Ok(key.clone());
        }
        if !self.take_attempt(url) {
            // Fetched a moment ago: what that fetch gave (a stale key still answers).
            return match (cached, self.has_set(url)) {
                (Some(key), _) => Ok(key),
                (None, true) => Err(JwksError::UnknownKey(url.into(), kid.into())),
                (None, false) => Err(JwksError::Fetch {
                    url: url.into(),
                    reason: format!(
                        "the last attempt, less than {} s ago, failed",
                        self.refetch_interval.as_secs()
                    ),
                }),
            };
        }
        match self.fetch(url).await {
            Ok(set) => {
                let found = set.find(kid).cloned();
                if let Ok(mut sets) = self.sets.lock() {
                    let fetched = Instant::now();
                    sets.insert(url.to_string(), Cached { set, fetched });
                }
                found.ok_or_else(|| JwksError::UnknownKey(url.into(), kid.into()))
            }
            // A stale key still answers while the issuer is unreachable.
            Err(e) => cached.ok_or(e),
        }
    }

    fn has_set(&self, url: &str) -> bool {
        self.sets.lock().is_ok_and(|sets| sets.contains_key(url))
    }

    /// The cached key `kid` of `url`, and whether its set is younger than [`MAX_AGE`].
    fn cached(&self, url: &str, kid: &str) -> (Option<Jwk>, bool) {
        let Ok(sets) = self.sets.lock() else {
            return (None, false);
        };
        match sets.get(url) {
            Some(c) => (c.set.find(kid).cloned(), c.fetched.elapsed() < MAX_AGE),
            None => (None, false),
        }
    }

    /// Whether a fetch of `url` may start now; records it if so.
    fn take_attempt(&self, url: &str) -> bool {
        let Ok(mut attempts) = self.attempts.lock() else {
            return false;
        };
        let now = Instant::now();
        match attempts.get(url) {
            Some(last) if now.duration_since(*last) < self.refetch_interval => false,
            _ => {
                attempts.insert(url.to_string(), now);
                true
            }
        }
    }

    async fn fetch(&self, url: &str) -> Result<JwkSet, JwksError> {
        let failed = |reason: String| JwksError::Fetch {
            url: url.to_string(),
            reason,
        };
        // No default client as a fallback: it would follow redirects.
        let http = self
            .http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| failed(format!("no HTTP client: {e}")))?;
        let mut response = http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status().as_u16())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BYTES {
                return Err(failed(format!("larger than {MAX_BYTES} bytes")));
            }
        }
        serde_json::from_slice(&body).map_err(|e| failed(format!("not a JWK Set: {e}")))
    }
}
