//! The PATCH engine (RFC 7644 §3.5.2): parses a PatchOp request body and applies its operations
//! to a stored resource in canonical form (see [`crate::protocol::resource`]).
//!
//! Where the RFC leaves room, the choice is documented at the function that makes it:
//!
//! - `add` to a valuePath that matches nothing creates the element when the filter is a plain
//!   `sub eq value [and ...]` (`synthesize`); `replace` and `remove` answer `noTarget`.
//! - `replace` of a valuePath replaces the matching records whole; `replace` of a single-valued
//!   complex attribute merges the given sub-attributes (`set_single`).
//! - Removing or unassigning a required attribute is `mutability` (§3.5.2.2), checked once all
//!   operations ran, so that `remove` followed by `add` of the same attribute succeeds.
//! - Attribute names at the top level of a path-less (or bare extension URN) value act as paths:
//!   an unknown one is `invalidPath`; unknown sub-attributes inside values are `invalidValue`.
//! - readOnly sub-attributes inside values (`members[].display`) are dropped silently, as for
//!   POST (§3.3); a path or value key naming a readOnly attribute is `mutability`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::filter::{CompareOp, Filter, parse_patch_path};
use crate::protocol::resource::{
    MAX_VALUES, canonical_single, canonical_value, enforce_single_primary, is_unassigned,
    schemas_of, too_many_values,
};
use crate::protocol::schema::{AttrPath, AttrType, Attribute, Mutability, ResourceType, Schema};

/// The PatchOp message schema URN (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The three PATCH operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

impl OpKind {
    /// The operation spelled exactly as RFC 7644 §3.5.2 does ("add", "replace", "remove").
    pub fn parse(text: &str) -> Option<OpKind> {
        match text {
            "add" => Some(OpKind::Add),
            "replace" => Some(OpKind::Replace),
            "remove" => Some(OpKind::Remove),
            _ => None,
        }
    }

    /// The RFC spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }
}

/// One PATCH operation. `value` is `Some(Value::Null)` when the request sent `"value": null`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Parses a PatchOp request body (RFC 7644 §3.5.2).
///
/// `schemas` must list [`PATCH_OP_SCHEMA`] and `Operations` must be a non-empty array
/// (`invalidSyntax`); each `op` must be exactly "add", "replace" or "remove" (`invalidSyntax`);
/// `path`, when present, a string (`invalidPath`); `remove` without a path is `noTarget`
/// (§3.5.2.2); `add` and `replace` need a `value` member (`invalidValue`, §3.5.2.1, §3.5.2.3).
/// Member names are matched case-insensitively (RFC 7643 §2.1).
pub fn parse_request(body: &Value) -> ScimResult<Vec<PatchOp>> {
    let Value::Object(obj) = body else {
        return Err(syntax("the PATCH request body must be a JSON object"));
    };
    check_patch_schema(member(obj, "schemas"))?;
    let ops = match member(obj, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => return Err(syntax("'Operations' must be a non-empty array")),
    };
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(op).map_err(|e| at_operation(i, e)))
        .collect()
}

/// A member of a JSON object by case-insensitive name, an exact match preferred.
fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// `schemas` must be an array that contains the PatchOp URN.
fn check_patch_schema(schemas: Option<&Value>) -> ScimResult<()> {
    let listed = schemas.and_then(Value::as_array).is_some_and(|s| {
        s.iter().any(|u| {
            u.as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
        })
    });
    if listed {
        Ok(())
    } else {
        Err(syntax(&format!(
            "'schemas' must be an array containing \"{PATCH_OP_SCHEMA}\""
        )))
    }
}

/// Parses one element of `Operations`.
fn parse_op(op: &Value) -> ScimResult<PatchOp> {
    let Value::Object(obj) = op else {
        return Err(syntax("each operation must be a JSON object"));
    };
    let kind = member(obj, "op")
        .and_then(Value::as_str)
        .and_then(OpKind::parse)
        .ok_or_else(|| syntax("'op' must be \"add\", \"replace\" or \"remove\""))?;
    let path = match member(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(ScimError::InvalidPath("'path' must be a string".into())),
    };
    let parsed = PatchOp {
        op: kind,
        path,
        value: member(obj, "value").cloned(),
    };
    if parsed.op == OpKind::Remove && parsed.path.is_none() {
        return Err(no_path_remove());
    }
    if parsed.op != OpKind::Remove && parsed.value.is_none() {
        return Err(ScimError::InvalidValue(format!(
            "'{}' requires a 'value'",
            parsed.op.as_str()
        )));
    }
    Ok(parsed)
}

/// Applies operations in order to a canonical resource document, atomically: on error `doc` is
/// left unchanged (RFC 7644 §3.5.2: "the original SCIM resource MUST be restored").
///
/// Afterwards the document is canonical again: values checked and spelled as the schema spells
/// them, unassigned values (null, `[]`, `{}`) removed, at most one `primary` per multi-valued
/// attribute, required attributes still assigned (`mutability` otherwise, §3.5.2.2), and
/// `schemas` recomputed.
pub fn apply(rt: &ResourceType, doc: &mut Value, ops: &[PatchOp]) -> ScimResult<()> {
    let Value::Object(original) = &*doc else {
        return Err(ScimError::Internal(
            "a stored resource is not a JSON object".into(),
        ));
    };
    let mut work = original.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(rt, &mut work, op).map_err(|e| at_operation(i, e))?;
    }
    finish(rt, original, &mut work)?;
    *doc = Value::Object(work);
    Ok(())
}

/// Prefixes an error message with the index of the operation that failed.
fn at_operation(index: usize, error: ScimError) -> ScimError {
    let prefix = |m: String| format!("Operations[{index}]: {m}");
    match error {
        ScimError::InvalidSyntax(m) => ScimError::InvalidSyntax(prefix(m)),
        ScimError::InvalidPath(m) => ScimError::InvalidPath(prefix(m)),
        ScimError::InvalidValue(m) => ScimError::InvalidValue(prefix(m)),
        ScimError::Mutability(m) => ScimError::Mutability(prefix(m)),
        ScimError::NoTarget(m) => ScimError::NoTarget(prefix(m)),
        other => other,
    }
}

fn syntax(message: &str) -> ScimError {
    ScimError::InvalidSyntax(message.to_string())
}

/// RFC 7644 §3.5.2.2: "If 'path' is unspecified, the operation fails with ... 'noTarget'."
fn no_path_remove() -> ScimError {
    ScimError::NoTarget("'remove' requires a 'path'".into())
}

/// Applies one operation to the working copy.
fn apply_op(rt: &ResourceType, doc: &mut Map<String, Value>, op: &PatchOp) -> ScimResult<()> {
    let Some(path) = op.path.as_deref().map(str::trim) else {
        return match op.op {
            OpKind::Remove => Err(no_path_remove()),
            kind => apply_pathless(rt, doc, kind, op_value(op)?),
        };
    };
    if let Some(ext) = rt.extension(path) {
        return match op.op {
            OpKind::Remove => remove_extension(doc, ext),
            kind => write_extension(doc, ext, kind, op_value(op)?),
        };
    }
    let target = resolve_path(rt, path)?;
    match op.op {
        OpKind::Remove => remove(doc, &target, op.value.as_ref()),
        kind => write(doc, &target, kind, op_value(op)?),
    }
}

/// The `value` of an add or replace: required; `null` only for replace, where it unassigns
/// (RFC 7643 §2.5: null and unassigned are equivalent).
fn op_value(op: &PatchOp) -> ScimResult<&Value> {
    match &op.value {
        None => Err(ScimError::InvalidValue(format!(
            "'{}' requires a 'value'",
            op.op.as_str()
        ))),
        Some(Value::Null) if op.op == OpKind::Add => Err(ScimError::InvalidValue(
            "'add' requires a non-null 'value'".into(),
        )),
        Some(v) => Ok(v),
    }
}

/// What an operation (or one key of a path-less value) points at.
struct Target {
    /// The path as written, for error messages.
    path: String,
    /// The extension URN whose object holds the attribute; `None` for core attributes.
    ext: Option<&'static str>,
    attr: &'static Attribute,
    /// The valuePath filter selecting elements of a multi-valued attribute.
    filter: Option<Filter>,
    /// The sub-attribute: `name.givenName` or `emails[type eq "work"].value`.
    sub: Option<&'static Attribute>,
}

/// Resolves a PATCH path (RFC 7644 §3.5.2 PATH rule) against the resource type.
fn resolve_path(rt: &ResourceType, path: &str) -> ScimResult<Target> {
    let parsed = parse_patch_path(path)?;
    let base = AttrPath {
        sub: None,
        ..parsed.attr.clone()
    };
    let resolved = rt.resolve(&base).ok_or_else(|| {
        ScimError::InvalidPath(format!("unknown attribute '{base}' in path '{path}'"))
    })?;
    let attr = resolved.attr;
    let sub_name = parsed.attr.sub.as_deref().or(parsed.sub.as_deref());
    let sub = sub_name.map(|n| sub_attribute(attr, n, path)).transpose()?;
    if let Some(filter) = &parsed.filter {
        if !attr.multi_valued || attr.ty != AttrType::Complex {
            return Err(ScimError::InvalidPath(format!(
                "'{}' is not a multi-valued complex attribute and cannot take a value filter",
                attr.name
            )));
        }
        let whole = Filter::ValuePath {
            path: base,
            filter: Box::new(filter.clone()),
        };
        whole
            .validate(rt)
            .map_err(|e| ScimError::InvalidPath(e.to_string()))?;
    }
    let target = Target {
        path: path.to_string(),
        ext: resolved.extension,
        attr,
        filter: parsed.filter,
        sub,
    };
    check_writable(&target)?;
    Ok(target)
}

/// The sub-attribute `name` of `attr`, or `invalidPath`.
fn sub_attribute(
    attr: &'static Attribute,
    name: &str,
    path: &str,
) -> ScimResult<&'static Attribute> {
    attr.sub_attribute(name).ok_or_else(|| {
        ScimError::InvalidPath(format!(
            "unknown sub-attribute '{name}' of '{}' in path '{path}'",
            attr.name
        ))
    })
}

/// RFC 7644 §3.5.2: "a client MUST NOT modify an attribute that has mutability 'readOnly'".
fn check_writable(t: &Target) -> ScimResult<()> {
    let read_only = t.attr.mutability == Mutability::ReadOnly
        || t.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly);
    if read_only {
        return Err(ScimError::Mutability(format!("'{}' is readOnly", t.path)));
    }
    Ok(())
}

/// Add or replace without a path: the value is an object of attributes, each applied as an
/// operation on that attribute (RFC 7644 §3.5.2.1, §3.5.2.3). `schemas` is ignored; an
/// extension URN key holds an object of the extension's attributes. Keys may be URN-qualified
/// or dotted (`name.givenName`).
fn apply_pathless(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    value: &Value,
) -> ScimResult<()> {
    let Value::Object(fields) = value else {
        return Err(ScimError::InvalidValue(
            "without a 'path', 'value' must be an object of attributes".into(),
        ));
    };
    for (key, v) in fields {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = rt.extension(key) {
            write_extension(doc, ext, kind, v)?;
            continue;
        }
        let target = resolve_key(rt, key)?;
        write_key(doc, &target, kind, v)?;
    }
    Ok(())
}

/// Resolves an attribute name used as a key of a path-less value.
fn resolve_key(rt: &ResourceType, key: &str) -> ScimResult<Target> {
    let unknown = || ScimError::InvalidPath(format!("unknown attribute '{key}'"));
    let path = AttrPath::parse(key).ok_or_else(unknown)?;
    let resolved = rt.resolve(&path).ok_or_else(unknown)?;
    let target = Target {
        path: key.to_string(),
        ext: resolved.extension,
        attr: resolved.attr,
        filter: None,
        sub: resolved.sub,
    };
    check_writable(&target)?;
    Ok(target)
}

/// Add or replace with a bare extension URN as path, or an extension URN key of a path-less
/// value: each attribute of the value object is added or replaced; the extension's own
/// `schemas` key is ignored. Replace with `null` removes the extension.
fn write_extension(
    doc: &mut Map<String, Value>,
    ext: &'static Schema,
    kind: OpKind,
    value: &Value,
) -> ScimResult<()> {
    if value.is_null() {
        return match kind {
            OpKind::Replace => remove_extension(doc, ext),
            _ => Ok(()),
        };
    }
    let Value::Object(fields) = value else {
        return Err(ScimError::InvalidValue(format!(
            "the value of '{}' must be an object",
            ext.id
        )));
    };
    for (key, v) in fields {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let target = extension_key(ext, key)?;
        write_key(doc, &target, kind, v)?;
    }
    Ok(())
}

/// Resolves an attribute name (possibly dotted) inside an extension's value object.
fn extension_key(ext: &'static Schema, key: &str) -> ScimResult<Target> {
    let unknown = || ScimError::InvalidPath(format!("unknown attribute '{key}' of {}", ext.id));
    let path = AttrPath::parse(key).ok_or_else(unknown)?;
    if path
        .schema
        .as_deref()
        .is_some_and(|s| !s.eq_ignore_ascii_case(ext.id))
    {
        return Err(unknown());
    }
    let attr = ext.attribute(&path.name).ok_or_else(unknown)?;
    let sub = path
        .sub
        .as_deref()
        .map(|n| sub_attribute(attr, n, key))
        .transpose()?;
    let target = Target {
        path: format!("{}:{key}", ext.id),
        ext: Some(ext.id),
        attr,
        filter: None,
        sub,
    };
    check_writable(&target)?;
    Ok(target)
}

/// Removes a whole extension object (`remove` with a bare extension URN path).
fn remove_extension(doc: &mut Map<String, Value>, ext: &'static Schema) -> ScimResult<()> {
    if let Some(Value::Object(fields)) = doc.get(ext.id) {
        for attr in ext
            .attributes
            .iter()
            .filter(|a| a.mutability == Mutability::Immutable)
        {
            guard_immutable(attr, fields.get(attr.name), None, attr.name)?;
        }
    }
    doc.remove(ext.id);
    Ok(())
}

/// One key of a path-less or extension value: a nested `null` is ignored by add (nothing to
/// add) and unassigns for replace.
fn write_key(
    doc: &mut Map<String, Value>,
    t: &Target,
    kind: OpKind,
    value: &Value,
) -> ScimResult<()> {
    if value.is_null() && kind == OpKind::Add {
        return Ok(());
    }
    write(doc, t, kind, value)
}

/// Add or replace at a resolved target. Replace with `null` unassigns the target.
fn write(doc: &mut Map<String, Value>, t: &Target, kind: OpKind, value: &Value) -> ScimResult<()> {
    if value.is_null() {
        return remove(doc, t, None);
    }
    guarded(doc, t, |c| match (&t.filter, t.sub) {
        (Some(f), _) => write_selected(c, t, Some(f), kind, value),
        (None, Some(_)) if t.attr.multi_valued => write_selected(c, t, None, kind, value),
        (None, Some(sub)) => set_sub(c, t, sub, value),
        (None, None) if t.attr.multi_valued && kind == OpKind::Add => append(c, t, value),
        (None, None) if t.attr.multi_valued => replace_all(c, t, value),
        (None, None) => set_single(c, t, value),
    })
}

/// Remove at a resolved target (RFC 7644 §3.5.2.2). A `value` on a multi-valued target without
/// filter removes just the listed values (as Azure AD sends for members).
fn remove(doc: &mut Map<String, Value>, t: &Target, value: Option<&Value>) -> ScimResult<()> {
    guarded(doc, t, |c| match (&t.filter, t.sub) {
        (Some(f), sub) => remove_selected(c, t, Some(f), sub),
        (None, Some(sub)) if t.attr.multi_valued => remove_selected(c, t, None, Some(sub)),
        (None, Some(sub)) => remove_sub(c, t, sub),
        (None, None) => match value {
            Some(v) if t.attr.multi_valued && !v.is_null() => remove_listed(c, t, v),
            _ => {
                c.remove(t.attr.name);
                Ok(())
            }
        },
    })
}

/// Runs `change` on the object holding the target's attribute, then enforces immutability of
/// the attribute as a whole: "a client MAY 'add' a value to an 'immutable' attribute if the
/// attribute had no previous value" (RFC 7644 §3.5.2).
fn guarded(
    doc: &mut Map<String, Value>,
    t: &Target,
    change: impl FnOnce(&mut Map<String, Value>) -> ScimResult<()>,
) -> ScimResult<()> {
    let c = container_mut(doc, t.ext)?;
    let before = c.get(t.attr.name).cloned();
    change(c)?;
    guard_immutable(t.attr, before.as_ref(), c.get(t.attr.name), &t.path)
}

/// Fails with `mutability` when an immutable attribute that had a value would change.
fn guard_immutable(
    attr: &Attribute,
    old: Option<&Value>,
    new: Option<&Value>,
    name: &str,
) -> ScimResult<()> {
    if attr.mutability != Mutability::Immutable {
        return Ok(());
    }
    match old.filter(|v| !is_unassigned(v)) {
        Some(old) if new != Some(old) => Err(ScimError::Mutability(format!(
            "'{name}' is immutable and already has a value"
        ))),
        _ => Ok(()),
    }
}

/// The object holding attributes of `ext` (the document itself for core attributes), created
/// when absent; empty objects are pruned at the end.
fn container_mut<'a>(
    doc: &'a mut Map<String, Value>,
    ext: Option<&str>,
) -> ScimResult<&'a mut Map<String, Value>> {
    match ext {
        None => Ok(doc),
        Some(urn) => object_slot(doc.entry(urn.to_string()).or_insert(Value::Null)),
    }
}

/// Makes `slot` an object (replacing an unassigned or malformed value) and returns it.
fn object_slot(slot: &mut Value) -> ScimResult<&mut Map<String, Value>> {
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| ScimError::Internal("object slot".into()))
}

/// The array of a multi-valued attribute, created when absent.
fn array_slot<'a>(c: &'a mut Map<String, Value>, name: &str) -> ScimResult<&'a mut Vec<Value>> {
    let slot = c.entry(name.to_string()).or_insert(Value::Null);
    if !slot.is_array() {
        let old = std::mem::take(slot);
        *slot = Value::Array(if is_unassigned(&old) {
            Vec::new()
        } else {
            vec![old]
        });
    }
    slot.as_array_mut()
        .ok_or_else(|| ScimError::Internal("array slot".into()))
}

/// Single-valued attribute without sub-attribute path: add and replace both set it (§3.5.2.1
/// "the existing value is replaced"). For a complex attribute the given sub-attributes are
/// merged, "sub-attributes that are not specified in the value parameter are left unchanged"
/// (§3.5.2.3).
fn set_single(c: &mut Map<String, Value>, t: &Target, value: &Value) -> ScimResult<()> {
    let new = canonical_single(t.attr, value.clone(), &t.path)?;
    if t.attr.ty != AttrType::Complex {
        c.insert(t.attr.name.to_string(), new);
        return Ok(());
    }
    let slot = c.entry(t.attr.name.to_string()).or_insert(Value::Null);
    object_slot(slot)?;
    merge_fields(t.attr, slot, new, false, &t.path)
}

/// `name.givenName` style target on a single-valued complex attribute: sets the sub-attribute,
/// creating the parent when absent (§3.5.2.1 "the attribute and value are added").
fn set_sub(
    c: &mut Map<String, Value>,
    t: &Target,
    sub: &Attribute,
    value: &Value,
) -> ScimResult<()> {
    let new = canonical_single(sub, value.clone(), &t.path)?;
    let slot = c.entry(t.attr.name.to_string()).or_insert(Value::Null);
    object_slot(slot)?;
    set_field(slot, sub, new, &t.path)
}

/// Sets one sub-attribute of a complex value, honouring its immutability.
fn set_field(item: &mut Value, sub: &Attribute, new: Value, name: &str) -> ScimResult<()> {
    let Some(obj) = item.as_object_mut() else {
        return Ok(());
    };
    guard_immutable(sub, obj.get(sub.name), Some(&new), name)?;
    obj.insert(sub.name.to_string(), new);
    Ok(())
}

/// Merges the sub-attributes of the canonical complex value `new` into `item`. Immutable
/// sub-attributes that already have a value are kept when `keep_immutable` (adding a value that
/// is already present), otherwise changing them is `mutability`.
fn merge_fields(
    attr: &Attribute,
    item: &mut Value,
    new: Value,
    keep_immutable: bool,
    name: &str,
) -> ScimResult<()> {
    let (Some(obj), Value::Object(fields)) = (item.as_object_mut(), new) else {
        return Ok(());
    };
    for (key, v) in fields {
        let immutable = attr
            .sub_attribute(&key)
            .is_some_and(|s| s.mutability == Mutability::Immutable);
        let existing = obj.get(&key).filter(|e| !is_unassigned(e));
        if immutable && let Some(existing) = existing {
            if keep_immutable {
                continue;
            }
            if *existing != v {
                return Err(ScimError::Mutability(format!(
                    "'{name}.{key}' is immutable and already has a value"
                )));
            }
        }
        obj.insert(key, v);
    }
    Ok(())
}

/// `add` to a multi-valued attribute without filter: appends the value or values (§3.5.2.1
/// "a new value is added"). A value that is already present is not added twice ("no changes
/// SHOULD be made"); a record with the same `value` (and `type`, if both have one) is the same
/// record and receives the given sub-attributes. The existing values are indexed once, so an
/// operation costs in proportion to the values it adds plus the values present, and it stops as
/// soon as the attribute would hold more than [`MAX_VALUES`].
fn append(c: &mut Map<String, Value>, t: &Target, value: &Value) -> ScimResult<()> {
    let incoming = match value {
        Value::Array(items) => items.clone(),
        v => vec![v.clone()],
    };
    let items = array_slot(c, t.attr.name)?;
    let mut index = RecordIndex::of(t.attr, items);
    for v in incoming {
        let v = canonical_single(t.attr, v, &t.path)?;
        if is_unassigned(&v) {
            continue;
        }
        let found = index
            .candidates(t.attr, &v)
            .iter()
            .copied()
            .find(|&i| items.get(i).is_some_and(|e| same_record(t.attr, e, &v)));
        let index_of = match found {
            Some(i) => {
                if let Some(existing) = items.get_mut(i) {
                    merge_fields(t.attr, existing, v, true, &t.path)?;
                }
                i
            }
            None => {
                if items.len() >= MAX_VALUES {
                    return Err(too_many_values(t.attr.name, items.len() + 1));
                }
                index.insert(t.attr, &v, items.len());
                items.push(v);
                items.len() - 1
            }
        };
        if items.get(index_of).is_some_and(is_primary) {
            demote_others(items, index_of);
        }
    }
    Ok(())
}

/// The values of a multi-valued attribute by the key [`same_record`] compares first (a complex
/// value's `value`, case-folded unless case-exact; a simple value as JSON), so that finding the
/// record a new value denotes does not scan the list. Candidates are in list order.
struct RecordIndex(HashMap<String, Vec<usize>>);

impl RecordIndex {
    fn of(attr: &Attribute, items: &[Value]) -> Self {
        let mut index = RecordIndex(HashMap::with_capacity(items.len()));
        for (i, item) in items.iter().enumerate() {
            index.insert(attr, item, i);
        }
        index
    }

    /// Records equal to `v` share its key; so do records with its `value`, whatever their other
    /// sub-attributes. An object without `value` is only ever the same record as an equal one:
    /// its key is its JSON, with sub-attributes in a fixed order.
    fn key(attr: &Attribute, v: &Value) -> String {
        match v.as_object() {
            Some(o) => match o.get("value") {
                Some(Value::String(s))
                    if attr.sub_attribute("value").is_some_and(|a| !a.case_exact) =>
                {
                    format!("v:{}", s.to_lowercase())
                }
                Some(value) => format!("v:{value}"),
                None => {
                    let sorted: std::collections::BTreeMap<&String, &Value> = o.iter().collect();
                    format!("o:{}", serde_json::to_string(&sorted).unwrap_or_default())
                }
            },
            None => format!("s:{v}"),
        }
    }

    fn candidates(&self, attr: &Attribute, v: &Value) -> &[usize] {
        self.0
            .get(&Self::key(attr, v))
            .map_or(&[], |found| found.as_slice())
    }

    fn insert(&mut self, attr: &Attribute, v: &Value, at: usize) {
        self.0.entry(Self::key(attr, v)).or_default().push(at);
    }
}

/// `replace` of a multi-valued attribute without filter: "the attribute and all values are
/// replaced" (§3.5.2.3). A single value is accepted as a one-element list; more than
/// [`MAX_VALUES`] are refused before any work on them.
fn replace_all(c: &mut Map<String, Value>, t: &Target, value: &Value) -> ScimResult<()> {
    let list = match value {
        Value::Array(_) => value.clone(),
        v => Value::Array(vec![v.clone()]),
    };
    if list.as_array().is_some_and(|l| l.len() > MAX_VALUES) {
        return Err(too_many_values(
            t.attr.name,
            list.as_array().map_or(0, Vec::len),
        ));
    }
    let mut items = match canonical_value(t.attr, list, &t.path)? {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    if let Some(last) = items.iter().rposition(is_primary) {
        demote_others(&mut items, last);
    }
    c.insert(t.attr.name.to_string(), Value::Array(items));
    Ok(())
}

/// Indexes of the elements a filter selects (all elements when `filter` is `None`).
fn selected(items: &[Value], attr: &Attribute, filter: Option<&Filter>) -> Vec<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, e)| filter.is_none_or(|f| f.matches_element(attr, e)))
        .map(|(i, _)| i)
        .collect()
}

/// The error for a valuePath filter that matches no element: RFC 7644 §3.5.2.3 for replace,
/// Table 9 ("the specified path value contains a filter that yields no match") for remove.
fn no_match(t: &Target) -> ScimError {
    ScimError::NoTarget(format!(
        "no value of '{}' matches the path '{}'",
        t.attr.name, t.path
    ))
}

/// add/replace on elements of a multi-valued attribute selected by a valuePath filter (or all
/// elements for `emails.type` style paths). With a sub-attribute, it is set on every selected
/// element (§3.5.2.3 "the matching sub-attribute of all matching records is replaced").
/// Without, replace substitutes the records ("all matching record values SHALL be replaced")
/// and add merges the given sub-attributes into them.
fn write_selected(
    c: &mut Map<String, Value>,
    t: &Target,
    filter: Option<&Filter>,
    kind: OpKind,
    value: &Value,
) -> ScimResult<()> {
    let new = canonical_single(t.sub.unwrap_or(t.attr), value.clone(), &t.path)?;
    let items = array_slot(c, t.attr.name)?;
    let hits = selected(items, t.attr, filter);
    if hits.is_empty() {
        return match (kind, filter) {
            (OpKind::Add, Some(f)) => {
                let element = synthesize(t, f, new).ok_or_else(|| no_match(t))?;
                let primary = is_primary(&element);
                items.push(element);
                if primary {
                    let last = items.len() - 1;
                    demote_others(items, last);
                }
                Ok(())
            }
            (_, Some(_)) => Err(no_match(t)),
            (_, None) => Err(ScimError::NoTarget(format!(
                "'{}' has no values",
                t.attr.name
            ))),
        };
    }
    for &i in &hits {
        let Some(item) = items.get_mut(i) else {
            continue;
        };
        match (t.sub, kind) {
            (Some(sub), _) => set_field(item, sub, new.clone(), &t.path)?,
            (None, OpKind::Add) => merge_fields(t.attr, item, new.clone(), false, &t.path)?,
            (None, _) => replace_record(t.attr, item, new.clone(), &t.path)?,
        }
    }
    if let Some(&last) = hits
        .iter()
        .rev()
        .find(|&&i| items.get(i).is_some_and(is_primary))
    {
        demote_others(items, last);
    }
    Ok(())
}

/// `add` to a valuePath that matches nothing: §3.5.2.1 says "if the target location does not
/// exist, the attribute and value are added", so when the filter is a conjunction of
/// `sub eq value` comparisons the element it describes is created with the added value, e.g.
/// `addresses[type eq "work"].locality`. Other filters do not describe an element: `None`.
fn synthesize(t: &Target, filter: &Filter, new: Value) -> Option<Value> {
    let mut element = Map::new();
    equalities(filter, &mut element)?;
    let mut element = canonical_single(t.attr, Value::Object(element), &t.path).ok()?;
    match t.sub {
        Some(sub) => {
            element.as_object_mut()?.insert(sub.name.to_string(), new);
        }
        None => {
            let Value::Object(fields) = new else {
                return None;
            };
            element.as_object_mut()?.extend(fields);
        }
    }
    filter.matches_element(t.attr, &element).then_some(element)
}

/// Collects `name eq value` pairs of a conjunction; `None` for any other filter shape.
fn equalities(filter: &Filter, out: &mut Map<String, Value>) -> Option<()> {
    match filter {
        Filter::And(a, b) => {
            equalities(a, out)?;
            equalities(b, out)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.schema.is_none() && path.sub.is_none() && !value.is_null() => {
            if out.contains_key(&path.name) {
                return None;
            }
            out.insert(path.name.clone(), value.clone());
            Some(())
        }
        _ => None,
    }
}

/// Replaces a whole record selected by a valuePath, refusing to change immutable
/// sub-attributes that have a value.
fn replace_record(attr: &Attribute, item: &mut Value, new: Value, name: &str) -> ScimResult<()> {
    for sub in attr
        .sub_attributes
        .iter()
        .filter(|s| s.mutability == Mutability::Immutable)
    {
        let label = format!("{name}.{}", sub.name);
        guard_immutable(sub, item.get(sub.name), new.get(sub.name), &label)?;
    }
    *item = new;
    Ok(())
}

/// remove on elements selected by a valuePath filter (or all, for `emails.display` style
/// paths): the records, or just their sub-attribute, are removed (§3.5.2.2). A filter that
/// matches nothing is `noTarget` (RFC 7644 Table 9).
fn remove_selected(
    c: &mut Map<String, Value>,
    t: &Target,
    filter: Option<&Filter>,
    sub: Option<&Attribute>,
) -> ScimResult<()> {
    let Some(Value::Array(items)) = c.get_mut(t.attr.name) else {
        return match filter {
            Some(_) => Err(no_match(t)),
            None => Ok(()),
        };
    };
    let hits = selected(items, t.attr, filter);
    if hits.is_empty() && filter.is_some() {
        return Err(no_match(t));
    }
    match sub {
        None => {
            let mut index = 0;
            items.retain(|_| {
                let keep = !hits.contains(&index);
                index += 1;
                keep
            });
        }
        Some(sub) => {
            for &i in &hits {
                if let Some(obj) = items.get_mut(i).and_then(Value::as_object_mut) {
                    guard_immutable(sub, obj.get(sub.name), None, &t.path)?;
                    obj.remove(sub.name);
                }
            }
        }
    }
    Ok(())
}

/// remove of `name.givenName` on a single-valued complex attribute.
fn remove_sub(c: &mut Map<String, Value>, t: &Target, sub: &Attribute) -> ScimResult<()> {
    if let Some(obj) = c.get_mut(t.attr.name).and_then(Value::as_object_mut) {
        guard_immutable(sub, obj.get(sub.name), None, &t.path)?;
        obj.remove(sub.name);
    }
    Ok(())
}

/// remove with a value on a multi-valued attribute: removes the listed values. A listed complex
/// value matches every element that has all of its sub-attributes with equal values (so
/// `{"value": id}` matches the member with that id). Values not present are ignored.
fn remove_listed(c: &mut Map<String, Value>, t: &Target, value: &Value) -> ScimResult<()> {
    let listed = match value {
        Value::Array(items) => items.clone(),
        v => vec![v.clone()],
    };
    let listed = listed
        .into_iter()
        .map(|v| canonical_single(t.attr, v, &t.path))
        .collect::<ScimResult<Vec<_>>>()?;
    if let Some(Value::Array(items)) = c.get_mut(t.attr.name) {
        items.retain(|e| !listed.iter().any(|l| contains_listed(t.attr, e, l)));
    }
    Ok(())
}

/// Whether `element` is described by the listed value `listed`.
fn contains_listed(attr: &Attribute, element: &Value, listed: &Value) -> bool {
    match (element, listed) {
        (Value::Object(e), Value::Object(l)) => {
            !l.is_empty()
                && l.iter().all(|(k, v)| {
                    e.get(k)
                        .is_some_and(|ev| field_eq(attr.sub_attribute(k), ev, v))
                })
        }
        _ => field_eq(Some(attr), element, listed),
    }
}

/// Whether a new value of a multi-valued attribute denotes a record already present: equal, or
/// complex with equal `value` and no conflicting `type`.
fn same_record(attr: &Attribute, existing: &Value, new: &Value) -> bool {
    if existing == new {
        return true;
    }
    let (Some(e), Some(n)) = (existing.as_object(), new.as_object()) else {
        return false;
    };
    let same = |name: &str, required: bool| match (e.get(name), n.get(name)) {
        (Some(a), Some(b)) => field_eq(attr.sub_attribute(name), a, b),
        _ => !required,
    };
    same("value", true) && same("type", false)
}

/// Equality of two values of an attribute, honouring `caseExact` for strings.
fn field_eq(attr: Option<&Attribute>, a: &Value, b: &Value) -> bool {
    match (a, b, attr) {
        (Value::String(x), Value::String(y), Some(attr)) if !attr.case_exact => {
            x.to_lowercase() == y.to_lowercase()
        }
        _ => a == b,
    }
}

/// Whether a value is marked `primary: true`.
fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// "a patch operation that sets a value's 'primary' sub-attribute to 'true' SHALL cause the
/// server to automatically set 'primary' to 'false' for any other values in the array"
/// (§3.5.2). As in [`enforce_single_primary`], the flag is removed rather than set to false.
fn demote_others(items: &mut [Value], keep: usize) {
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep
            && is_primary(item)
            && let Some(obj) = item.as_object_mut()
        {
            obj.remove("primary");
        }
    }
}

/// Canonical form after all operations: unassigned values pruned, one primary, required
/// attributes still assigned, `schemas` recomputed.
fn finish(
    rt: &ResourceType,
    original: &Map<String, Value>,
    work: &mut Map<String, Value>,
) -> ScimResult<()> {
    for v in work.values_mut() {
        prune(v);
    }
    work.retain(|_, v| !is_unassigned(v));
    let mut doc = Value::Object(std::mem::take(work));
    enforce_single_primary(rt, &mut doc);
    if let Value::Object(map) = doc {
        *work = map;
    }
    check_still_assigned(rt, original, work)?;
    let schemas = schemas_of(rt, work);
    work.insert("schemas".into(), schemas);
    Ok(())
}

/// Removes nulls, empty arrays and empty objects at every depth (RFC 7643 §2.5).
fn prune(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(prune);
            map.retain(|_, v| !is_unassigned(v));
        }
        Value::Array(items) => {
            items.iter_mut().for_each(prune);
            items.retain(|v| !is_unassigned(v));
        }
        _ => {}
    }
}

/// RFC 7644 §3.5.2.2: "If an attribute is removed or becomes unassigned and is defined as a
/// required attribute ..., the server SHALL return ... 'mutability'." Checked for required
/// attributes that were assigned before the request.
fn check_still_assigned(
    rt: &ResourceType,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> ScimResult<()> {
    let core = rt.schema.attributes.iter().map(|a| (None, a));
    let extensions = rt.extensions.iter().flat_map(|e| {
        e.schema
            .attributes
            .iter()
            .map(move |a| (Some(e.schema.id), a))
    });
    for (ext, attr) in core.chain(extensions) {
        if attr.required
            && attr.mutability != Mutability::ReadOnly
            && is_assigned(before, ext, attr)
            && !is_assigned(after, ext, attr)
        {
            return Err(ScimError::Mutability(format!(
                "'{}' is required and cannot be removed",
                attr.name
            )));
        }
    }
    Ok(())
}

/// Whether a document has a value for an attribute.
fn is_assigned(doc: &Map<String, Value>, ext: Option<&str>, attr: &Attribute) -> bool {
    let container = match ext {
        None => Some(doc),
        Some(urn) => doc.get(urn).and_then(Value::as_object),
    };
    container
        .and_then(|c| c.get(attr.name))
        .is_some_and(|v| !is_unassigned(v))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::protocol::schema::{ENTERPRISE_USER_SCHEMA, REGISTRY, USER_SCHEMA};

    /// Builds a PatchOp body from operations.
    fn body(ops: Value) -> Value {
        let mut body = json!({"schemas": [PATCH_OP_SCHEMA]});
        body["Operations"] = ops;
        body
    }

    /// Parses and applies operations to a User document.
    fn patch_user(doc: &mut Value, ops: Value) -> ScimResult<()> {
        let ops = parse_request(&body(ops))?;
        apply(&REGISTRY.user, doc, &ops)
    }

    fn bjensen() -> Value {
        json!({"schemas": [USER_SCHEMA], "userName": "bjensen"})
    }

    #[test]
    fn a_request_is_parsed_into_operations_in_order() {
        let ops = parse_request(&json!({
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [
                {"op": "add", "path": "nickName", "value": "Babs"},
                {"op": "replace", "value": {"title": "Guide"}},
                {"op": "remove", "path": "title"},
                {"op": "replace", "path": "title", "value": null},
            ],
        }))
        .expect("valid");
        assert_eq!(ops.len(), 4);
        assert_eq!(
            ops[0],
            PatchOp {
                op: OpKind::Add,
                path: Some("nickName".into()),
                value: Some(json!("Babs"))
            }
        );
        assert_eq!(ops[1].path, None);
        assert_eq!(ops[2].value, None);
        assert_eq!(ops[3].value, Some(Value::Null), "an explicit null is kept");
    }

    #[test]
    fn malformed_requests_are_rejected_with_the_rfc_error_types() {
        let cases = [
            (json!([]), "invalidSyntax"),
            (
                json!({"Operations": [{"op": "add", "value": {}}]}),
                "invalidSyntax",
            ),
            (json!({"schemas": [PATCH_OP_SCHEMA]}), "invalidSyntax"),
            (
                json!({"schemas": [PATCH_OP_SCHEMA], "Operations": []}),
                "invalidSyntax",
            ),
            (body(json!(["add"])), "invalidSyntax"),
            (
                body(json!([{"op": "Replace", "value": {}}])),
                "invalidSyntax",
            ),
            (body(json!([{"op": "merge", "value": {}}])), "invalidSyntax"),
            (
                body(json!([{"op": "add", "path": 7, "value": 1}])),
                "invalidPath",
            ),
            (body(json!([{"op": "remove"}])), "noTarget"),
            (
                body(json!([{"op": "replace", "path": "title"}])),
                "invalidValue",
            ),
        ];
        for (request, scim_type) in cases {
            let e = parse_request(&request).expect_err(&request.to_string());
            assert_eq!(e.scim_type(), Some(scim_type), "{request}: {e}");
        }
    }

    #[test]
    fn member_names_of_the_request_are_case_insensitive() {
        let ops = parse_request(&json!({
            "SCHEMAS": [PATCH_OP_SCHEMA],
            "operations": [{"OP": "add", "PATH": "title", "VALUE": "x"}],
        }))
        .expect("valid");
        assert_eq!(ops[0].path.as_deref(), Some("title"));
    }

    #[test]
    fn add_appends_to_a_multi_valued_attribute_without_duplicates() {
        let mut doc = bjensen();
        let work = json!({"value": "b@example.com", "type": "work"});
        patch_user(
            &mut doc,
            json!([{"op": "add", "path": "emails", "value": work}]),
        )
        .expect("single value accepted");
        patch_user(
            &mut doc,
            json!([{"op": "add", "path": "emails", "value": [work]}]),
        )
        .expect("re-adding is a no-op");
        assert_eq!(doc["emails"], json!([work]));
    }

    #[test]
    fn adding_a_primary_value_clears_primary_on_the_others() {
        let mut doc = bjensen();
        doc["emails"] = json!([{"value": "a@example.com", "primary": true}]);
        let new = json!({"value": "b@example.com", "primary": true});
        patch_user(
            &mut doc,
            json!([{"op": "add", "path": "emails", "value": [new]}]),
        )
        .expect("patched");
        assert_eq!(doc["emails"], json!([{"value": "a@example.com"}, new]));
    }

    #[test]
    fn replace_of_a_multi_valued_attribute_replaces_every_value() {
        let mut doc = bjensen();
        doc["emails"] = json!([{"value": "a@example.com"}, {"value": "b@example.com"}]);
        let ops =
            json!([{"op": "replace", "path": "emails", "value": [{"value": "c@example.com"}]}]);
        patch_user(&mut doc, ops).expect("patched");
        assert_eq!(doc["emails"], json!([{"value": "c@example.com"}]));
    }

    #[test]
    fn removing_an_unassigned_attribute_is_a_no_op() {
        let mut doc = bjensen();
        patch_user(&mut doc, json!([{"op": "remove", "path": "nickName"}])).expect("patched");
        assert_eq!(doc, bjensen());
    }

    #[test]
    fn replace_with_null_unassigns() {
        let mut doc = bjensen();
        doc["title"] = json!("Guide");
        patch_user(
            &mut doc,
            json!([{"op": "replace", "path": "title", "value": null}]),
        )
        .expect("patched");
        assert_eq!(doc, bjensen());
    }

    #[test]
    fn a_failing_operation_leaves_the_document_unchanged() {
        let mut doc = bjensen();
        let ops = json!([
            {"op": "add", "path": "nickName", "value": "Babs"},
            {"op": "add", "path": "emails", "value": [{"value": "b@example.com"}]},
            {"op": "replace", "path": "meta.version", "value": "W/\"2\""},
        ]);
        let e = patch_user(&mut doc, ops).expect_err("meta is readOnly");
        assert_eq!(e.scim_type(), Some("mutability"));
        assert!(e.to_string().starts_with("Operations[2]: "), "{e}");
        assert_eq!(doc, bjensen());
    }

    #[test]
    fn unknown_attributes_are_named_in_the_error() {
        let mut doc = bjensen();
        let e = patch_user(
            &mut doc,
            json!([{"op": "add", "path": "shoeSize", "value": 9}]),
        )
        .expect_err("unknown");
        assert_eq!(e.scim_type(), Some("invalidPath"));
        assert!(e.to_string().contains("shoeSize"), "{e}");
        let e = patch_user(&mut doc, json!([{"op": "add", "value": {"shoeSize": 9}}]))
            .expect_err("unknown key");
        assert!(e.to_string().contains("shoeSize"), "{e}");
    }

    #[test]
    fn unknown_sub_attributes_inside_values_are_invalid_values() {
        let mut doc = bjensen();
        let ops = json!([{"op": "add", "path": "name", "value": {"shoeSize": "9"}}]);
        let e = patch_user(&mut doc, ops).expect_err("unknown sub-attribute");
        assert_eq!(e.scim_type(), Some("invalidValue"));
    }

    #[test]
    fn read_only_sub_attributes_cannot_be_targeted_but_are_dropped_from_values() {
        let mut doc = bjensen();
        let path = format!("{ENTERPRISE_USER_SCHEMA}:manager.displayName");
        let e = patch_user(
            &mut doc,
            json!([{"op": "add", "path": path, "value": "John"}]),
        )
        .expect_err("readOnly");
        assert_eq!(e.scim_type(), Some("mutability"));
        let path = format!("{ENTERPRISE_USER_SCHEMA}:manager");
        let value = json!({"value": "m1", "displayName": "John"});
        patch_user(
            &mut doc,
            json!([{"op": "add", "path": path, "value": value}]),
        )
        .expect("ok");
        assert_eq!(
            doc[ENTERPRISE_USER_SCHEMA],
            json!({"manager": {"value": "m1"}})
        );
    }

    #[test]
    fn write_only_password_can_be_replaced() {
        let mut doc = bjensen();
        patch_user(
            &mut doc,
            json!([{"op": "replace", "path": "password", "value": "t1meMa$heen"}]),
        )
        .expect("writeOnly is writable");
        assert_eq!(doc["password"], "t1meMa$heen");
    }

    #[test]
    fn immutable_sub_attributes_may_be_added_but_not_changed() {
        let group = &REGISTRY.group;
        let mut doc = json!({"schemas": [group.schema.id], "displayName": "G",
            "members": [{"value": "u1"}]});
        let set_type = |t: &str| {
            parse_request(&body(json!([
                {"op": "add", "path": "members[value eq \"u1\"].type", "value": t}
            ])))
            .expect("valid")
        };
        apply(group, &mut doc, &set_type("User")).expect("type had no value");
        assert_eq!(doc["members"], json!([{"value": "u1", "type": "User"}]));
        let e = apply(group, &mut doc, &set_type("Group")).expect_err("immutable");
        assert_eq!(e.scim_type(), Some("mutability"));
        let remove = parse_request(&body(json!([
            {"op": "remove", "path": "members[value eq \"u1\"].type"}
        ])))
        .expect("valid");
        let e = apply(group, &mut doc, &remove).expect_err("immutable");
        assert_eq!(e.scim_type(), Some("mutability"));
    }

    #[test]
    fn extension_attributes_are_stored_under_the_exact_urn() {
        let mut doc = bjensen();
        let path = ENTERPRISE_USER_SCHEMA.to_ascii_lowercase() + ":DEPARTMENT";
        patch_user(
            &mut doc,
            json!([{"op": "add", "path": path, "value": "R&D"}]),
        )
        .expect("ok");
        assert_eq!(doc[ENTERPRISE_USER_SCHEMA], json!({"department": "R&D"}));
        assert_eq!(doc["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    }

    #[test]
    fn a_stored_document_that_is_not_an_object_is_an_internal_error() {
        let mut doc = json!([]);
        let e = apply(&REGISTRY.user, &mut doc, &[]).expect_err("not an object");
        assert_eq!(e.status(), 500);
    }

    /// Checks one fixture; `Err` describes the mismatch.
    fn check_fixture(path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let fixture: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let rt = match fixture["resourceType"].as_str() {
            Some("User") => &REGISTRY.user,
            Some("Group") => &REGISTRY.group,
            other => return Err(format!("unknown resourceType {other:?}")),
        };
        if !fixture["source"].is_string() {
            return Err("missing 'source'".into());
        }
        let before = fixture["before"].clone();
        let mut doc = before.clone();
        let result = parse_request(&fixture["request"]).and_then(|ops| apply(rt, &mut doc, &ops));
        match (fixture.get("after"), fixture.get("error"), result) {
            (Some(after), None, Ok(())) if doc == *after => Ok(()),
            (Some(after), None, Ok(())) => Err(format!("expected {after:#}\ngot {doc:#}")),
            (Some(_), None, Err(e)) => Err(format!("unexpected error {:?}", e.to_body())),
            (None, Some(expected), Err(e)) => {
                let got = json!({"status": e.status().to_string(), "scimType": e.scim_type()});
                if got != *expected {
                    Err(format!("expected error {expected}, got {:?}", e.to_body()))
                } else if doc != before {
                    Err(format!("document changed on error: {doc:#}"))
                } else {
                    Ok(())
                }
            }
            (None, Some(expected), Ok(())) => {
                Err(format!("expected error {expected}, got {doc:#}"))
            }
            _ => Err("a fixture needs exactly one of 'after' and 'error'".into()),
        }
    }

    #[test]
    fn rfc_7644_fixtures() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/patch"));
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("fixture directory")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        assert!(files.len() >= 20, "fixtures missing in {}", dir.display());
        let failures: Vec<String> = files
            .iter()
            .filter_map(|f| {
                check_fixture(f).err().map(|e| {
                    let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
                    format!("{}: {e}", name.unwrap_or_default())
                })
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} fixture(s) failed:\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
}
