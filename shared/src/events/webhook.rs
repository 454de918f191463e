//! A tenant's webhook for local event delivery: where to POST events (an `http://` or `https://`
//! URL) and the secret that signs them. The signature is HMAC-SHA256 over `"{timestamp}.{body}"`, sent as
//! `X-Scim-Signature: t={timestamp},v1={hex}`; receivers check it with [`verify`] (or the same
//! few lines in their language) and refuse timestamps far from their clock to stop replays.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::store::keys;
use crate::store::{Condition, Item, Store, StoreError, Write};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-scim-signature";
/// The header carrying the event id (also in the body), for deduplication.
pub const EVENT_ID_HEADER: &str = "x-scim-event-id";

/// Webhook administration and signature failures.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook URL must be an http:// or https:// URL with a host")]
    Url,
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A tenant's webhook as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
}

/// Sets a tenant's webhook with a new random secret and returns it (the caller shows it once).
pub async fn set(store: &dyn Store, tenant: &str, url: &str) -> Result<Webhook, WebhookError> {
    if !deliverable(url) {
        return Err(WebhookError::Url);
    }
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| WebhookError::Random(e.to_string()))?;
    let hook = Webhook {
        url: url.to_string(),
        secret: format!("whsec_{}", URL_SAFE_NO_PAD.encode(raw)),
    };
    let item = Item {
        key: keys::webhook(tenant),
        body: serde_json::to_string(&hook).unwrap_or_default(),
        ..Item::default()
    };
    store
        .transact(vec![Write::Put {
            item,
            condition: Condition::None,
        }])
        .await?;
    Ok(hook)
}

/// Whether events can be delivered to `url`: `http://` or `https://` (TLS, certificates checked
/// against the platform's roots) followed by a host, with no whitespace or control character.
/// Every other scheme is refused.
fn deliverable(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && !host.is_empty()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A tenant's webhook, if it has one.
pub async fn get(store: &dyn Store, tenant: &str) -> Result<Option<Webhook>, StoreError> {
    Ok(store
        .get(&keys::webhook(tenant))
        .await?
        .and_then(|i| serde_json::from_str(&i.body).ok()))
}

/// Removes a tenant's webhook.
pub async fn delete(store: &dyn Store, tenant: &str) -> Result<(), StoreError> {
    store
        .transact(vec![Write::Delete {
            key: keys::webhook(tenant),
            condition: Condition::None,
        }])
        .await
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Scim-Signature` value of a body sent at `timestamp` (Unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Checks a signature header against a body (constant-time), refusing timestamps more than
/// `tolerance_secs` away from `now`.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), WebhookError> {
    let mut timestamp = None;
    let mut tag = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => tag = decode_hex(v),
            _ => {}
        }
    }
    let (Some(timestamp), Some(tag)) = (timestamp, tag) else {
        return Err(WebhookError::Malformed);
    };
    if now.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(WebhookError::Stale);
    }
    mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| WebhookError::Mismatch)
}

/// The 32 bytes of a hex HMAC-SHA256 tag.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EmbeddedStore;

    #[test]
    fn signatures_verify_and_detect_tampering_and_replays() {
        let header = sign("whsec_x", 1_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1000,v1="));
        assert_eq!(header.len(), "t=1000,v1=".len() + 64);
        verify("whsec_x", &header, b"{\"a\":1}", 1_010, 300).expect("valid");
        assert!(matches!(
            verify("whsec_x", &header, b"{\"a\":2}", 1_010, 300),
            Err(WebhookError::Mismatch)
        ));
        assert!(matches!(
            verify("whsec_y", &header, b"{\"a\":1}", 1_010, 300),
            Err(WebhookError::Mismatch)
        ));
        assert!(matches!(
            verify("whsec_x", &header, b"{\"a\":1}", 2_000, 300),
            Err(WebhookError::Stale)
        ));
        assert!(matches!(
            verify("whsec_x", "v1=zz", b"", 0, 300),
            Err(WebhookError::Malformed)
        ));
        let tag = "0".repeat(64);
        for extreme in [i64::MIN, i64::MAX] {
            let header = format!("t={extreme},v1={tag}");
            assert!(matches!(
                verify("whsec_x", &header, b"", 1_000, 300),
                Err(WebhookError::Stale)
            ));
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"whsec_test",
        // b'1700000000.{"id":"e1"}', hashlib.sha256).hexdigest().
        assert_eq!(
            sign("whsec_test", 1_700_000_000, br#"{"id":"e1"}"#),
            "t=1700000000,v1=6a85cb117c993612a34c72b4cfb5a16baed25a80d26e298ce0e6671320fd07c8"
        );
    }

    #[test]
    fn webhooks_are_delivered_over_http_or_https_and_nothing_else() {
        for url in [
            "https://hooks.example.com/scim?tenant=acme",
            "HTTPS://hooks.example.com",
            "http://127.0.0.1:9000/hook",
            "https://[::1]:8443/hook",
        ] {
            assert!(deliverable(url), "{url}");
        }
        for url in [
            "ftp://hooks.example.com/scim",
            "file:///etc/passwd",
            "wss://hooks.example.com",
            "javascript:alert(1)",
            "hooks.example.com/scim",
            "https://",
            "https:///path",
            "https://hooks.example.com/a b",
            "https://hooks.example.com/\nx",
        ] {
            assert!(!deliverable(url), "{url}");
        }
    }

    #[tokio::test]
    async fn a_webhook_is_stored_per_tenant_with_a_fresh_secret() {
        let store = EmbeddedStore::in_memory().expect("store");
        assert!(matches!(
            set(&store, "acme", "ftp://x").await,
            Err(WebhookError::Url)
        ));
        let a = set(&store, "acme", "http://127.0.0.1:9/hook")
            .await
            .expect("set");
        assert!(a.secret.starts_with("whsec_") && a.secret.len() > 40);
        assert_eq!(get(&store, "acme").await.expect("get"), Some(a.clone()));
        assert_eq!(get(&store, "other").await.expect("get"), None);
        let b = set(&store, "acme", "http://127.0.0.1:9/hook")
            .await
            .expect("set");
        assert_ne!(a.secret, b.secret);
        delete(&store, "acme").await.expect("delete");
        assert_eq!(get(&store, "acme").await.expect("get"), None);
    }
}
