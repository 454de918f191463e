//! RFC 9865 cursors: opaque, HMAC-SHA256-signed tokens that carry the last id a page returned
//! (DynamoDB's LastEvaluatedKey, reduced to the id: the listing index sorts by id) and an
//! expiry. The signature covers the tenant, the resource type and the query (filter, sort), so a
//! cursor works only for the tenant and the query that produced it.
//!
//! The signing key is one per deployment: `SCIM_CURSOR_KEY` when set (any string), otherwise a
//! random 32-byte secret kept as one item of the table (`CURSORKEY` / `#`), created by the first
//! cursor request with a not-exists condition. The table item needs no extra configuration or
//! secret store, every Lambda function and `scimctl serve` over the same table agree on it, and
//! it costs one GetItem per cursor request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::protocol::error::{ScimError, ScimResult};
use crate::store::{Condition, Item, Key, Store, StoreError, Write};

/// How long a cursor stays valid (`pagination.cursorTimeout`), in seconds.
pub const CURSOR_TIMEOUT_SECONDS: i64 = 3600;
/// The environment variable that sets the signing key for a deployment.
pub const KEY_ENV: &str = "SCIM_CURSOR_KEY";

/// The table item holding the deployment's signing key.
fn key_item() -> Key {
    Key::new("CURSORKEY", crate::store::keys::ITEM)
}

/// What a cursor is bound to: it is valid only for the same tenant, endpoint and query.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub tenant: &'a str,
    /// The resource type listed (`User`, `Group`).
    pub resource_type: &'a str,
    /// The query as given: filter, sortBy, sortOrder.
    pub query: &'a str,
}

/// The deployment's signing key: from [`KEY_ENV`], else from the table (created on first use).
pub async fn signing_key(store: &dyn Store) -> ScimResult<Vec<u8>> {
    if let Some(k) = std::env::var(KEY_ENV).ok().filter(|k| !k.is_empty()) {
        return Ok(k.into_bytes());
    }
    if let Some(item) = store.get(&key_item()).await? {
        return decode_key(&item);
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| ScimError::Internal(format!("no randomness for the cursor key: {e}")))?;
    let item = Item {
        key: key_item(),
        body: URL_SAFE_NO_PAD.encode(secret),
        ..Item::default()
    };
    match store
        .transact(vec![Write::Put {
            item,
            condition: Condition::NotExists,
        }])
        .await
    {
        Ok(()) => Ok(secret.to_vec()),
        // Another request created it first: use theirs.
        Err(StoreError::ConditionFailed { .. }) => match store.get(&key_item()).await? {
            Some(item) => decode_key(&item),
            None => Err(ScimError::Internal("the cursor key vanished".into())),
        },
        Err(e) => Err(e.into()),
    }
}

/// The deployment's signing key if it exists (from [`KEY_ENV`] or the table), without creating
/// it: for readers that may only read (the authorizer checking an access token).
pub async fn existing_signing_key(store: &dyn Store) -> ScimResult<Option<Vec<u8>>> {
    if let Some(k) = std::env::var(KEY_ENV).ok().filter(|k| !k.is_empty()) {
        return Ok(Some(k.into_bytes()));
    }
    match store.get(&key_item()).await? {
        Some(item) => decode_key(&item).map(Some),
        None => Ok(None),
    }
}

fn decode_key(item: &Item) -> ScimResult<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(&item.body)
        .map_err(|_| ScimError::Internal("the stored cursor key is malformed".into()))
}

fn mac(key: &[u8], scope: Scope<'_>, payload: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in [scope.tenant, scope.resource_type, scope.query, payload] {
        // Length-prefixed, so that no two different scopes sign the same bytes.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac
}

/// A cursor that continues after `last_id`, valid until `expires` (Unix seconds).
pub fn encode(key: &[u8], scope: Scope<'_>, last_id: &str, expires: i64) -> String {
    let payload = format!("{expires}:{last_id}");
    let tag = mac(key, scope, &payload).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// The last id a cursor carries: 400 `invalidCursor` when it is malformed, forged or made for
/// another tenant or query, 400 `expiredCursor` when older than [`CURSOR_TIMEOUT_SECONDS`].
pub fn decode(key: &[u8], scope: Scope<'_>, cursor: &str, now: i64) -> ScimResult<String> {
    let invalid = || {
        ScimError::InvalidCursor(
            "the cursor is not one this service issued for this query; start again without one"
                .into(),
        )
    };
    let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|p| String::from_utf8(p).ok())
        .ok_or_else(invalid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
    let expected = mac(key, scope, &payload).finalize().into_bytes();
    if !bool::from(expected.as_slice().ct_eq(&tag)) {
        return Err(invalid());
    }
    let (expires, last) = payload.split_once(':').ok_or_else(invalid)?;
    let expires: i64 = expires.parse().map_err(|_| invalid())?;
    if now > expires {
        return Err(ScimError::ExpiredCursor(format!(
            "the cursor expired (cursors last {CURSOR_TIMEOUT_SECONDS} s); start again without one"
        )));
    }
    Ok(last.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: Scope<'static> = Scope {
        tenant: "acme",
        resource_type: "User",
        query: "",
    };

    #[test]
    fn a_cursor_round_trips_within_its_scope_and_lifetime() {
        let c = encode(b"k", SCOPE, "0191-id", 1000);
        assert_eq!(decode(b"k", SCOPE, &c, 999), Ok("0191-id".to_string()));
        assert!(!c.contains("0191"), "opaque: {c}");
    }

    #[test]
    fn another_tenant_query_key_or_a_changed_byte_is_invalid() {
        let c = encode(b"k", SCOPE, "id", 1000);
        let other = Scope {
            tenant: "evil",
            ..SCOPE
        };
        let filtered = Scope {
            query: "title pr",
            ..SCOPE
        };
        for (key, scope, cursor) in [
            (&b"k"[..], other, c.clone()),
            (b"k", filtered, c.clone()),
            (b"other key", SCOPE, c.clone()),
            (b"k", SCOPE, c.replacen('.', "A.", 1)),
            (b"k", SCOPE, "garbage".to_string()),
        ] {
            let e = decode(key, scope, &cursor, 0).unwrap_err();
            assert_eq!(e.scim_type(), Some("invalidCursor"), "{cursor}");
        }
    }

    #[test]
    fn an_old_cursor_is_expired() {
        let c = encode(b"k", SCOPE, "id", 1000);
        let e = decode(b"k", SCOPE, &c, 1001).unwrap_err();
        assert_eq!((e.status(), e.scim_type()), (400, Some("expiredCursor")));
    }
}
