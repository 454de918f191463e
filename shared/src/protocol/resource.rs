//! Resource documents: validation and canonical form of client input, and projection of output.
//!
//! A stored resource is a JSON object in *canonical form*: attribute names spelled as the schema
//! spells them, core and common attributes at the top level, extension attributes inside an object
//! keyed by the extension URN, no nulls and no empty arrays (RFC 7643 §2.5: unassigned), and no
//! readOnly attributes that the server derives (`meta`, `groups`, `id` are added on output).

use serde_json::{Map, Value};

use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::schema::{AttrType, Attribute, Mutability, ResourceType, Returned};

/// Validates a resource sent by a client (POST or PUT body) and returns it in canonical form.
/// Unknown attributes and wrong types are `invalidValue`/`invalidSyntax` errors; readOnly
/// attributes are ignored (RFC 7644 §3.3, §3.5.1).
pub fn canonicalize(rt: &ResourceType, body: Value) -> ScimResult<Value> {
    let Value::Object(input) = body else {
        return Err(ScimError::InvalidSyntax(
            "the request body must be a JSON object".into(),
        ));
    };
    let mut out = Map::new();
    let mut schemas_seen = None;
    for (key, value) in input {
        if key.eq_ignore_ascii_case("schemas") {
            schemas_seen = Some(value);
            continue;
        }
        if let Some(ext) = rt.extension(&key) {
            if value.is_null() {
                continue;
            }
            let Value::Object(fields) = value else {
                return Err(ScimError::InvalidSyntax(format!("{key} must be an object")));
            };
            let mut ext_out = Map::new();
            for (name, v) in fields {
                let attr = ext.attribute(&name).ok_or_else(|| unknown(&name, ext.id))?;
                insert_canonical(&mut ext_out, attr, v, &format!("{}:{}", ext.id, attr.name))?;
            }
            if !ext_out.is_empty() {
                out.insert(ext.id.to_string(), Value::Object(ext_out));
            }
            continue;
        }
        let attr = rt
            .core_attribute(&key)
            .ok_or_else(|| unknown(&key, rt.schema.id))?;
        insert_canonical(&mut out, attr, value, attr.name)?;
    }
    let schemas = check_schemas(rt, schemas_seen, &out)?;
    out.insert("schemas".into(), schemas);
    Ok(Value::Object(out))
}

fn unknown(name: &str, schema: &str) -> ScimError {
    ScimError::InvalidValue(format!("unknown attribute '{name}' for schema {schema}"))
}

/// The `schemas` attribute: required, must list the core schema and only known extensions.
/// The result lists the core schema and each extension the resource has values for.
fn check_schemas(
    rt: &ResourceType,
    given: Option<Value>,
    doc: &Map<String, Value>,
) -> ScimResult<Value> {
    let Some(Value::Array(given)) = given else {
        return Err(ScimError::InvalidSyntax(
            "the 'schemas' attribute is required and must be an array".into(),
        ));
    };
    let mut has_core = false;
    for s in &given {
        let s = s
            .as_str()
            .ok_or_else(|| ScimError::InvalidSyntax("'schemas' must hold strings".into()))?;
        if s.eq_ignore_ascii_case(rt.schema.id) {
            has_core = true;
        } else if rt.extension(s).is_none() {
            return Err(ScimError::InvalidValue(format!(
                "unknown schema {s} for {}",
                rt.name
            )));
        }
    }
    if !has_core {
        return Err(ScimError::InvalidValue(format!(
            "'schemas' must contain {}",
            rt.schema.id
        )));
    }
    Ok(schemas_of(rt, doc))
}

/// The `schemas` value for a canonical document: the core schema plus extensions in use.
pub fn schemas_of(rt: &ResourceType, doc: &Map<String, Value>) -> Value {
    rt.schema_ids()
        .filter(|id| *id == rt.schema.id || doc.contains_key(*id))
        .map(Value::from)
        .collect()
}

/// Inserts one attribute's canonical value unless it is readOnly or unassigned.
fn insert_canonical(
    out: &mut Map<String, Value>,
    attr: &Attribute,
    value: Value,
    path: &str,
) -> ScimResult<()> {
    if attr.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    let v = canonical_value(attr, value, path)?;
    if !is_unassigned(&v) {
        out.insert(attr.name.to_string(), v);
    }
    Ok(())
}

/// Whether a value counts as unassigned (RFC 7643 §2.5).
pub fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Checks a value against an attribute definition and returns it in canonical form: a
/// multi-valued attribute as an array, complex values with canonical sub-attribute names,
/// readOnly sub-attributes dropped. `path` names the attribute in error messages.
pub fn canonical_value(attr: &Attribute, value: Value, path: &str) -> ScimResult<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if attr.multi_valued {
        let Value::Array(items) = value else {
            return Err(ScimError::InvalidValue(format!(
                "'{path}' is multi-valued and must be an array"
            )));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let v = canonical_single(attr, item, path)?;
            if !is_unassigned(&v) {
                out.push(v);
            }
        }
        return Ok(Value::Array(out));
    }
    canonical_single(attr, value, path)
}

/// Checks and canonicalizes one (non-array) value of an attribute.
pub fn canonical_single(attr: &Attribute, value: Value, path: &str) -> ScimResult<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if attr.ty != AttrType::Complex {
        if !attr.accepts_single(&value) {
            return Err(ScimError::InvalidValue(format!(
                "'{path}' must be a {} value",
                type_name(attr.ty)
            )));
        }
        return Ok(value);
    }
    let Value::Object(fields) = value else {
        return Err(ScimError::InvalidValue(format!(
            "'{path}' must be a complex (object) value"
        )));
    };
    let mut out = Map::new();
    for (name, v) in fields {
        let sub = attr.sub_attribute(&name).ok_or_else(|| {
            ScimError::InvalidValue(format!("unknown sub-attribute '{name}' of '{path}'"))
        })?;
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let v = canonical_single(sub, v, &format!("{path}.{}", sub.name))?;
        if !v.is_null() {
            out.insert(sub.name.to_string(), v);
        }
    }
    Ok(Value::Object(out))
}

fn type_name(t: AttrType) -> &'static str {
    match t {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime (RFC 3339)",
        AttrType::Binary => "binary (base64 string)",
        AttrType::Reference => "reference (string)",
        AttrType::Complex => "complex",
    }
}

/// Fails with `invalidValue` when a required attribute is unassigned.
pub fn check_required(rt: &ResourceType, doc: &Value) -> ScimResult<()> {
    for attr in &rt.schema.attributes {
        if attr.required
            && attr.mutability != Mutability::ReadOnly
            && doc.get(attr.name).is_none_or(is_unassigned)
        {
            return Err(ScimError::InvalidValue(format!(
                "'{}' is required",
                attr.name
            )));
        }
    }
    Ok(())
}

/// Makes at most one value of each multi-valued attribute `primary` (RFC 7643 §2.4): the last
/// value marked primary wins; the flag is removed from the others.
pub fn enforce_single_primary(rt: &ResourceType, doc: &mut Value) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    for attr in rt
        .schema
        .attributes
        .iter()
        .filter(|a| a.multi_valued && a.sub_attribute("primary").is_some())
    {
        if let Some(Value::Array(items)) = obj.get_mut(attr.name) {
            let last = items
                .iter()
                .rposition(|i| i.get("primary") == Some(&Value::Bool(true)));
            if let Some(last) = last {
                for (i, item) in items.iter_mut().enumerate() {
                    if i != last
                        && let Some(o) = item.as_object_mut()
                        && o.get("primary") == Some(&Value::Bool(true))
                    {
                        o.remove("primary");
                    }
                }
            }
        }
    }
}

/// Most values one multi-valued attribute of a stored resource holds (400 above it). It bounds
/// the work of a PATCH: an operation on a multi-valued attribute examines at most this many
/// values, so a PATCH costs at most this much per operation.
pub const MAX_VALUES: usize = 1000;

/// The error for a multi-valued attribute holding more than [`MAX_VALUES`] values.
pub fn too_many_values(name: &str, count: usize) -> ScimError {
    ScimError::InvalidValue(format!(
        "'{name}' would hold {count} values; a multi-valued attribute holds at most {MAX_VALUES}"
    ))
}

/// 400 invalidValue when a multi-valued attribute of the document (of its core schema or of an
/// extension) holds more than [`MAX_VALUES`] values.
pub fn check_value_counts(doc: &Value) -> ScimResult<()> {
    let Some(obj) = doc.as_object() else {
        return Ok(());
    };
    let extensions = obj.values().filter_map(Value::as_object).flatten();
    for (name, value) in obj.iter().chain(extensions) {
        if let Value::Array(items) = value
            && items.len() > MAX_VALUES
        {
            return Err(too_many_values(name, items.len()));
        }
    }
    Ok(())
}

/// Which attributes to return: `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5).
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// Lower-cased full paths ("emails", "name.givenname", "urn:...:user:department").
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl Projection {
    pub fn new(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let split = |s: Option<&str>| {
            s.map(|s| {
                s.split(',')
                    .map(|p| p.trim().to_ascii_lowercase())
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default()
        };
        Projection {
            attributes: split(attributes),
            excluded: split(excluded),
        }
    }

    /// Whether a top-level attribute (core or extension) will appear in the output. Used to skip
    /// store reads for derived attributes (`groups`, `members`) nobody asked for.
    pub fn wants(&self, rt: &ResourceType, extension: Option<&str>, attr: &Attribute) -> bool {
        self.decide(rt, extension, attr, None)
    }

    fn decide(
        &self,
        rt: &ResourceType,
        extension: Option<&str>,
        attr: &Attribute,
        sub: Option<&Attribute>,
    ) -> bool {
        let target = sub.unwrap_or(attr);
        match target.returned {
            Returned::Never => return false,
            Returned::Always => return true,
            _ => {}
        }
        let full = full_name(rt, extension, attr, sub);
        let short = match sub {
            Some(s) => format!("{}.{}", attr.name, s.name).to_ascii_lowercase(),
            None => attr.name.to_ascii_lowercase(),
        };
        let matches = |list: &[String], allow_parent: bool, allow_child: bool| {
            list.iter().any(|p| {
                let p = p.as_str();
                p == full
                    || (extension.is_none() && p == short)
                    || (extension.is_some_and(|e| p == e.to_ascii_lowercase()))
                    || (allow_parent && sub.is_some() && {
                        let parent_full = full_name(rt, extension, attr, None);
                        p == parent_full
                            || (extension.is_none() && p == attr.name.to_ascii_lowercase())
                    })
                    || (allow_child
                        && sub.is_none()
                        && (p.starts_with(&format!("{full}."))
                            || (extension.is_none() && p.starts_with(&format!("{short}.")))))
            })
        };
        if !self.attributes.is_empty() {
            return matches(&self.attributes, true, true);
        }
        if target.returned == Returned::Request {
            return false;
        }
        !matches(&self.excluded, true, false)
    }

    /// Applies the projection to a full output document.
    pub fn apply(&self, rt: &ResourceType, doc: &mut Value) {
        let Some(obj) = doc.as_object_mut() else {
            return;
        };
        let keys: Vec<String> = obj.keys().cloned().collect();
        for key in keys {
            if key == "schemas" {
                continue;
            }
            if let Some(ext) = rt.extension(&key) {
                let keep_ext = if let Some(Value::Object(fields)) = obj.get_mut(&key) {
                    project_fields(self, rt, Some(ext.id), fields, |n| ext.attribute(n));
                    !fields.is_empty()
                } else {
                    false
                };
                if !keep_ext {
                    obj.remove(&key);
                }
                continue;
            }
            let Some(attr) = rt.core_attribute(&key) else {
                continue;
            };
            if !self.decide(rt, None, attr, None) {
                obj.remove(&key);
                continue;
            }
            project_subs(self, rt, None, attr, obj.get_mut(&key));
        }
        let schemas = schemas_of(rt, obj);
        obj.insert("schemas".into(), schemas);
    }
}

fn project_fields(
    p: &Projection,
    rt: &ResourceType,
    ext: Option<&'static str>,
    fields: &mut Map<String, Value>,
    lookup: impl Fn(&str) -> Option<&'static Attribute>,
) {
    let names: Vec<String> = fields.keys().cloned().collect();
    for name in names {
        match lookup(&name) {
            Some(attr) if p.decide(rt, ext, attr, None) => {
                project_subs(p, rt, ext, attr, fields.get_mut(&name))
            }
            _ => {
                fields.remove(&name);
            }
        }
    }
}

fn project_subs(
    p: &Projection,
    rt: &ResourceType,
    ext: Option<&str>,
    attr: &Attribute,
    value: Option<&mut Value>,
) {
    if attr.ty != AttrType::Complex {
        return;
    }
    let prune = |v: &mut Value| {
        if let Some(o) = v.as_object_mut() {
            o.retain(|k, _| {
                attr.sub_attribute(k)
                    .is_some_and(|s| p.decide(rt, ext, attr, Some(s)))
            });
        }
    };
    match value {
        Some(Value::Array(items)) => items.iter_mut().for_each(prune),
        Some(v) => prune(v),
        None => {}
    }
}

fn full_name(
    rt: &ResourceType,
    ext: Option<&str>,
    attr: &Attribute,
    sub: Option<&Attribute>,
) -> String {
    let schema = ext.unwrap_or(rt.schema.id);
    let mut s = format!("{schema}:{}", attr.name);
    if let Some(sub) = sub {
        s.push('.');
        s.push_str(sub.name);
    }
    s.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::REGISTRY;
    use serde_json::json;

    fn user(v: Value) -> ScimResult<Value> {
        canonicalize(&REGISTRY.user, v)
    }

    #[test]
    fn canonical_form_fixes_case_and_drops_read_only_and_nulls() {
        let doc = user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "USERNAME": "bjensen", "id": "x", "meta": {"version": "1"}, "nickName": null,
            "emails": [{"VALUE": "b@x.com", "type": "work"}], "groups": [{"value": "g"}],
        }))
        .expect("valid");
        assert_eq!(doc["userName"], "bjensen");
        assert_eq!(doc["emails"][0]["value"], "b@x.com");
        for absent in ["id", "meta", "nickName", "groups", "USERNAME"] {
            assert!(doc.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn wrong_types_unknown_attributes_and_missing_schemas_are_rejected() {
        let core = "urn:ietf:params:scim:schemas:core:2.0:User";
        let e = user(json!({"schemas": [core], "userName": "a", "active": "yes"})).unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidValue"));
        let e = user(json!({"schemas": [core], "userName": "a", "shoeSize": 9})).unwrap_err();
        assert!(e.to_string().contains("shoeSize"));
        let e = user(json!({"schemas": [core], "userName": "a", "emails": {"value": "x"}}))
            .unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidValue"));
        let e = user(json!({"userName": "a"})).unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidSyntax"));
    }

    #[test]
    fn extension_attributes_live_under_their_urn() {
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let doc = user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ext],
            "userName": "a", ext: {"Department": "R&D", "manager": {"value": "m1"}},
        }))
        .expect("valid");
        assert_eq!(doc[ext]["department"], "R&D");
        assert_eq!(
            doc["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User", ext])
        );
    }

    #[test]
    fn projection_honours_returned_and_lists() {
        let rt = &REGISTRY.user;
        let full = json!({"schemas": [rt.schema.id], "id": "1", "userName": "a", "displayName": "A",
            "name": {"givenName": "G", "familyName": "F"}, "password": "p"});
        let mut d = full.clone();
        Projection::new(Some("name.givenName"), None).apply(rt, &mut d);
        assert_eq!(
            d,
            json!({"schemas": [rt.schema.id], "id": "1", "name": {"givenName": "G"}})
        );
        let mut d = full;
        Projection::new(None, Some("displayName,name")).apply(rt, &mut d);
        assert_eq!(
            d,
            json!({"schemas": [rt.schema.id], "id": "1", "userName": "a"})
        );
    }

    #[test]
    fn one_primary_at_most() {
        let mut doc =
            json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]});
        enforce_single_primary(&REGISTRY.user, &mut doc);
        assert_eq!(doc["emails"][0].get("primary"), None);
        assert_eq!(doc["emails"][1]["primary"], true);
    }
}
