//! Resources as stored items, and their rendering for clients.

use serde_json::{Map, Value, json};

use super::Ctx;
use crate::events::lifecycle;
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::resource::{Projection, schemas_of};
use crate::protocol::schema::{ResourceKind, ResourceType};
use crate::store::keys;
use crate::store::{Item, Key};

/// A resource as stored: canonical document (with `id` and `meta.created/lastModified`) and its
/// version.
#[derive(Debug, Clone)]
pub struct Stored {
    pub kind: ResourceKind,
    pub id: String,
    pub version: u64,
    pub doc: Value,
}

impl Stored {
    pub fn from_item(kind: ResourceKind, item: &Item) -> ScimResult<Stored> {
        let doc: Value = serde_json::from_str(&item.body)
            .map_err(|_| ScimError::Internal("a stored resource could not be read".into()))?;
        let id = doc
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(Stored {
            kind,
            id,
            version: item.version,
            doc,
        })
    }

    pub fn to_item(&self, tenant: &str) -> Item {
        Item {
            key: keys::resource(tenant, self.kind, &self.id),
            gsi1: Some(Key::new(keys::listing(tenant, self.kind), self.id.clone())),
            version: self.version,
            body: self.doc.to_string(),
            ..Item::default()
        }
    }

    pub fn rt(&self) -> &'static ResourceType {
        ResourceType::of(self.kind)
    }

    pub fn etag(&self) -> String {
        etag(self.version)
    }

    pub fn location(&self, base_url: &str) -> String {
        format!("{base_url}{}/{}", self.rt().endpoint, self.id)
    }

    /// The output document: the stored one, derived attributes added, meta completed, projected.
    pub fn render(
        &self,
        ctx: &Ctx<'_>,
        derived: Option<(&str, Vec<Value>)>,
        projection: &Projection,
    ) -> Value {
        let mut doc = self.served(ctx, derived);
        projection.apply(self.rt(), &mut doc);
        doc
    }

    /// The whole resource as a client sees it: derived attribute added, `meta` completed,
    /// `schemas` listing the extensions in use. Filters are evaluated on this view.
    pub fn served(&self, ctx: &Ctx<'_>, derived: Option<(&str, Vec<Value>)>) -> Value {
        let mut doc = self.doc.clone();
        if let Value::Object(obj) = &mut doc {
            if let Some((name, values)) = derived
                && !values.is_empty()
            {
                obj.insert(name.to_string(), Value::Array(values));
            }
            let meta = obj
                .entry("meta")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(m) = meta.as_object_mut() {
                m.remove(lifecycle::EVER_ACTIVE);
            }
            meta["resourceType"] = Value::from(self.rt().name);
            meta["location"] = Value::from(self.location(ctx.base_url));
            meta["version"] = Value::from(self.etag());
            let schemas = schemas_of(self.rt(), obj);
            obj.insert("schemas".into(), schemas);
        }
        doc
    }
}

pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// Whether an If-Match / If-None-Match header value names this version ("*" matches any).
pub fn etag_matches(header: &str, version: u64) -> bool {
    let current = etag(version);
    header.split(',').map(str::trim).any(|t| {
        t == "*"
            || t == current
            || t.strip_prefix("W/").unwrap_or(t) == current.trim_start_matches("W/")
    })
}

/// A reference to a member or group for `members` and `groups` values.
pub fn reference(ctx: &Ctx<'_>, kind: ResourceKind, id: &str) -> Value {
    let rt = ResourceType::of(kind);
    json!({"value": id, "$ref": format!("{}{}/{id}", ctx.base_url, rt.endpoint), "type": rt.name})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_match_weak_strong_and_star() {
        assert!(etag_matches("W/\"3\"", 3));
        assert!(etag_matches("\"3\"", 3));
        assert!(etag_matches("*", 9));
        assert!(etag_matches("W/\"1\", W/\"3\"", 3));
        assert!(!etag_matches("W/\"2\"", 3));
    }
}
