//! The dialect normaliser: rewrites what identity providers really send into strict RFC 7644
//! form, after routing and before the operations see the request. Each rewrite is a named
//! [`Rule`]; [`normalise`] returns the rules that changed something, for the request log and the
//! audit trail. Tenants with the `strict` dialect skip it (see [`crate::tenant::Dialect`]).
//!
//! Only shapes the core rejects or misreads are rewritten. Shapes the core already accepts are
//! left alone and fire no rule; they are covered by tests/tests/it/dialects.rs:
//!
//! - path-less add/replace with dotted (`name.givenName`) or URN-qualified keys (PATCH engine);
//! - `remove` of `members` with a value list, and `members[value eq "id"]` (group operations);
//! - `add` to a valuePath that matches nothing creates the element (PATCH engine);
//! - unquoted filter values and attribute names in any case (filter parser);
//! - nulls for defined attributes in POST/PUT bodies, and `replace` with `null` (unassigned);
//! - unknown query parameters such as Entra's `aadOptscim062020` (ignored).
//!
//! Values are converted only where the schema registry says so: a "False" for `active` becomes
//! `false`, a "False" for `title` stays a string.

use serde_json::{Map, Value};

use crate::protocol::filter::{CompareOp, Filter, parse_patch_path};
use crate::protocol::http::ScimRequest;
use crate::protocol::router::Operation;
use crate::protocol::schema::{
    AttrPath, AttrType, Attribute, ENTERPRISE_USER, ResourceType, Schema,
};

/// One named rewrite. [`Rule::name`] is stable: it appears in logs and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// PATCH `op` in another case (`"Replace"`, Entra) becomes lowercase.
    OpCase,
    /// `"True"`/`"False"` (any case) for a boolean attribute (`active`, `primary`) becomes a
    /// JSON boolean, in POST/PUT bodies and PATCH values (Entra without `aadOptscim062020`).
    BooleanString,
    /// The enterprise `manager` as a bare id string becomes `{"value": id}`; an empty string
    /// becomes `null` (unassigned).
    ManagerString,
    /// The enterprise `manager` as a one-element array `[{"$ref": .., "value": id}]` (Entra)
    /// becomes that element; an empty array becomes `null`.
    ManagerArray,
    /// `remove` with path `manager[value eq "id"]` becomes `remove` of `manager`: the core
    /// allows value filters only on multi-valued attributes.
    ManagerValueFilter,
    /// `replace` at `attr[sub eq "x"].sub2` (Entra's `emails[type eq "work"].value`) becomes
    /// `add`, which sets the matching elements exactly as replace does and, unlike replace,
    /// creates the element when none matches. A `replace` with `null` stays a replace: it
    /// unassigns the sub-attribute of the matching elements.
    ValuePathReplace,
    /// `add` with `"value": null` adds nothing: it becomes an empty path-less add.
    NullAdd,
    /// A POST/PUT member with a `null` value whose name this service does not define (Entra
    /// sends unmapped `department`, `manager` at the top level as null) is dropped.
    NullUnknownAttribute,
    /// A `schemas` entry this resource type does not define and no member of the body uses
    /// (Entra's `http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group`) is
    /// dropped.
    ForeignSchema,
    /// A path-less PATCH value that repeats the resource's own `id` (Okta's group rename) loses
    /// the `id` key; another id is left for the core to refuse.
    PathlessId,
    /// A filter comparing a sub-attribute after a value filter, `emails[type eq "work"].value
    /// eq "x"` (Entra's query on a matching attribute; not in the RFC 7644 filter grammar),
    /// becomes `emails[(type eq "work") and value eq "x"]`. In `?filter=` and `/.search` bodies.
    FilterValuePath,
}

impl Rule {
    /// Every rule, in documentation order.
    pub const ALL: [Rule; 11] = [
        Rule::OpCase,
        Rule::BooleanString,
        Rule::ManagerString,
        Rule::ManagerArray,
        Rule::ManagerValueFilter,
        Rule::ValuePathReplace,
        Rule::NullAdd,
        Rule::NullUnknownAttribute,
        Rule::ForeignSchema,
        Rule::PathlessId,
        Rule::FilterValuePath,
    ];

    /// The stable kebab-case name used in logs and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Rule::OpCase => "op-case",
            Rule::BooleanString => "boolean-string",
            Rule::ManagerString => "manager-string",
            Rule::ManagerArray => "manager-array",
            Rule::ManagerValueFilter => "manager-value-filter",
            Rule::ValuePathReplace => "value-path-replace",
            Rule::NullAdd => "null-add",
            Rule::NullUnknownAttribute => "null-unknown-attribute",
            Rule::ForeignSchema => "foreign-schema",
            Rule::PathlessId => "pathless-id",
            Rule::FilterValuePath => "filter-value-path",
        }
    }
}

/// What the normaliser changed: a new body, new query parameters, and the rules that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    pub body: Option<Vec<u8>>,
    pub query: Option<Vec<(String, String)>>,
    pub rules: Vec<Rule>,
}

impl Rewrite {
    /// Applies the rewrite to a request and returns the rules that fired.
    pub fn apply(self, req: &mut ScimRequest) -> Vec<Rule> {
        if let Some(body) = self.body {
            req.body = body;
        }
        if let Some(query) = self.query {
            req.query = query;
        }
        self.rules
    }
}

/// Normalises a routed request in place and returns the rules that fired, in first-fired order
/// without duplicates. `id` is the resource id of the path, if any.
pub fn normalise(op: Operation, id: Option<&str>, req: &mut ScimRequest) -> Vec<Rule> {
    rewrite(op, id, req).map_or_else(Vec::new, |r| r.apply(req))
}

/// What [`normalise`] would change, or `None` when no rule fires; the request is not touched, so
/// callers copy it only when needed. Bodies that are not JSON are left for the core to answer.
pub fn rewrite(op: Operation, id: Option<&str>, req: &ScimRequest) -> Option<Rewrite> {
    let mut fired = Fired::default();
    let mut query = None;
    let mut body = None;
    match op {
        Operation::Create(kind) | Operation::Replace(kind) => {
            body = rewrite_body(&req.body, &mut fired, |v, f| {
                resource(ResourceType::of(kind), v, f);
            });
        }
        Operation::Patch(kind) => {
            body = rewrite_body(&req.body, &mut fired, |v, f| {
                patch(ResourceType::of(kind), id, v, f);
            });
        }
        Operation::List(_) => query = rewrite_query(&req.query, &mut fired),
        Operation::Search(_) => body = rewrite_body(&req.body, &mut fired, search),
        _ => {}
    }
    (!fired.0.is_empty()).then_some(Rewrite {
        body,
        query,
        rules: fired.0,
    })
}

/// Parses a JSON body, lets `fix` rewrite it, and serializes it again if a rule fired.
fn rewrite_body(
    body: &[u8],
    fired: &mut Fired,
    fix: impl FnOnce(&mut Value, &mut Fired),
) -> Option<Vec<u8>> {
    if body.is_empty() {
        return None;
    }
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let before = fired.0.len();
    fix(&mut value, fired);
    if fired.0.len() == before {
        return None;
    }
    match serde_json::to_vec(&value) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            fired.0.truncate(before);
            None
        }
    }
}

/// The rules that fired, in first-fired order, each once.
#[derive(Debug, Default)]
struct Fired(Vec<Rule>);

impl Fired {
    fn fire(&mut self, rule: Rule) {
        if !self.0.contains(&rule) {
            self.0.push(rule);
        }
    }
}

/// The key of an object member by case-insensitive name, an exact match preferred.
fn key_of(obj: &Map<String, Value>, name: &str) -> Option<String> {
    if obj.contains_key(name) {
        return Some(name.to_string());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// A mutable object member by case-insensitive name.
fn member_mut<'a>(obj: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    let key = key_of(obj, name)?;
    obj.get_mut(&key)
}

// ---------------------------------------------------------------------------------------------
// Values, driven by the schema registry
// ---------------------------------------------------------------------------------------------

/// Whether `attr` is the enterprise extension's `manager`.
fn is_manager(attr: &Attribute) -> bool {
    ENTERPRISE_USER
        .attribute("manager")
        .is_some_and(|m| std::ptr::eq(m, attr))
}

/// A whole value of `attr` as a client sends it: an array (or one element) for a multi-valued
/// attribute, a single value otherwise.
fn fix_whole(attr: &Attribute, value: &mut Value, fired: &mut Fired) {
    if is_manager(attr) {
        fix_manager(value, fired);
    }
    match value {
        Value::Array(items) if attr.multi_valued => {
            items.iter_mut().for_each(|v| fix_single(attr, v, fired));
        }
        v => fix_single(attr, v, fired),
    }
}

/// One value (one element of a multi-valued attribute): booleans, and sub-attributes of
/// complex values.
fn fix_single(attr: &Attribute, value: &mut Value, fired: &mut Fired) {
    match (attr.ty, value) {
        (AttrType::Boolean, v) => fix_boolean(v, fired),
        (AttrType::Complex, Value::Object(fields)) => {
            for (name, v) in fields.iter_mut() {
                if let Some(sub) = attr.sub_attribute(name) {
                    fix_whole(sub, v, fired);
                }
            }
        }
        _ => {}
    }
}

/// [`Rule::BooleanString`] on a value of a boolean attribute.
fn fix_boolean(value: &mut Value, fired: &mut Fired) {
    let parsed = match value.as_str() {
        Some(s) if s.eq_ignore_ascii_case("true") => true,
        Some(s) if s.eq_ignore_ascii_case("false") => false,
        _ => return,
    };
    *value = Value::Bool(parsed);
    fired.fire(Rule::BooleanString);
}

/// [`Rule::ManagerString`] and [`Rule::ManagerArray`] on a value of `manager`.
fn fix_manager(value: &mut Value, fired: &mut Fired) {
    match value {
        Value::String(id) if id.is_empty() => {
            *value = Value::Null;
            fired.fire(Rule::ManagerString);
        }
        Value::String(id) => {
            let id = std::mem::take(id);
            *value = serde_json::json!({ "value": id });
            fired.fire(Rule::ManagerString);
        }
        Value::Array(items) if items.len() <= 1 => {
            *value = items.pop().unwrap_or(Value::Null);
            fired.fire(Rule::ManagerArray);
        }
        _ => {}
    }
}

/// The attributes of an extension object (`{"manager": .., "department": ..}`).
fn fix_extension(ext: &Schema, value: &mut Value, fired: &mut Fired) {
    let Value::Object(fields) = value else {
        return;
    };
    for (name, v) in fields.iter_mut() {
        if let Some(path) = AttrPath::parse(name)
            && path
                .schema
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(ext.id))
            && let Some(attr) = ext.attribute(&path.name)
        {
            match path.sub.as_deref().and_then(|s| attr.sub_attribute(s)) {
                Some(sub) => fix_whole(sub, v, fired),
                None if path.sub.is_none() => fix_whole(attr, v, fired),
                None => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// POST and PUT bodies
// ---------------------------------------------------------------------------------------------

/// A resource sent with POST or PUT.
fn resource(rt: &ResourceType, body: &mut Value, fired: &mut Fired) {
    let Value::Object(fields) = body else {
        return;
    };
    drop_foreign_schemas(rt, fields, fired);
    drop_unknown_nulls(rt, fields, fired);
    for (key, v) in fields.iter_mut() {
        if let Some(ext) = rt.extension(key) {
            fix_extension(ext, v, fired);
        } else if let Some(attr) = rt.core_attribute(key) {
            fix_whole(attr, v, fired);
        }
    }
}

/// [`Rule::ForeignSchema`]: drops `schemas` entries this resource type does not define, unless a
/// member of the body is keyed by them (then the core names the unknown attributes).
fn drop_foreign_schemas(rt: &ResourceType, fields: &mut Map<String, Value>, fired: &mut Fired) {
    let used: Vec<String> = fields.keys().map(|k| k.to_ascii_lowercase()).collect();
    let Some(Value::Array(schemas)) = member_mut(fields, "schemas") else {
        return;
    };
    let before = schemas.len();
    schemas.retain(|s| {
        s.as_str().is_none_or(|urn| {
            urn.eq_ignore_ascii_case(rt.schema.id)
                || rt.extension(urn).is_some()
                || used.contains(&urn.to_ascii_lowercase())
        })
    });
    if schemas.len() != before {
        fired.fire(Rule::ForeignSchema);
    }
}

/// [`Rule::NullUnknownAttribute`]: drops `null` members that name no attribute, at the top level
/// and inside extension objects. Nulls of defined attributes are unassigned values the core
/// already accepts.
fn drop_unknown_nulls(rt: &ResourceType, fields: &mut Map<String, Value>, fired: &mut Fired) {
    let before = fields.len();
    fields.retain(|k, v| {
        !v.is_null()
            || k.eq_ignore_ascii_case("schemas")
            || rt.core_attribute(k).is_some()
            || rt.extension(k).is_some()
    });
    let mut dropped = fields.len() != before;
    for (key, v) in fields.iter_mut() {
        if let (Some(ext), Value::Object(ext_fields)) = (rt.extension(key), v) {
            let n = ext_fields.len();
            ext_fields.retain(|k, v| !v.is_null() || ext.attribute(k).is_some());
            dropped |= ext_fields.len() != n;
        }
    }
    if dropped {
        fired.fire(Rule::NullUnknownAttribute);
    }
}

// ---------------------------------------------------------------------------------------------
// Filters: `?filter=` of a list, `filter` of a search body
// ---------------------------------------------------------------------------------------------

/// The query parameters with the `filter` rewritten, if a rule fired.
fn rewrite_query(query: &[(String, String)], fired: &mut Fired) -> Option<Vec<(String, String)>> {
    let index = query
        .iter()
        .position(|(k, _)| k.eq_ignore_ascii_case("filter"))?;
    let filter = rewrite_filter(&query.get(index)?.1)?;
    let mut out = query.to_vec();
    if let Some(param) = out.get_mut(index) {
        param.1 = filter;
    }
    fired.fire(Rule::FilterValuePath);
    Some(out)
}

/// The `filter` of a SearchRequest body.
fn search(body: &mut Value, fired: &mut Fired) {
    let Value::Object(fields) = body else {
        return;
    };
    if let Some(Value::String(filter)) = member_mut(fields, "filter")
        && let Some(rewritten) = rewrite_filter(filter)
    {
        *filter = rewritten;
        fired.fire(Rule::FilterValuePath);
    }
}

/// [`Rule::FilterValuePath`]: every `attr[f].sub op value` becomes `attr[(f) and sub op value]`;
/// `None` when the filter has no such comparison. Quoted strings are skipped while scanning.
/// Every offset is a character boundary (they follow ASCII delimiters); slicing is checked all
/// the same, and a filter it cannot cut is left as sent.
fn rewrite_filter(filter: &str) -> Option<String> {
    let mut out = String::with_capacity(filter.len() + 8);
    let mut rest = filter;
    let mut changed = false;
    while let Some((open, close)) = next_brackets(rest) {
        let (through_close, after) = rest.split_at_checked(close + 1)?;
        let Some(len) = sub_comparison(after) else {
            out.push_str(through_close);
            rest = after;
            continue;
        };
        out.push_str(rest.get(..=open)?);
        out.push('(');
        out.push_str(rest.get(open + 1..close)?);
        out.push_str(") and ");
        out.push_str(after.get(1..len)?);
        out.push(']');
        rest = after.get(len..)?;
        changed = true;
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// Byte offsets of the next `[` and the `]` closing it, outside quoted strings.
fn next_brackets(text: &str) -> Option<(usize, usize)> {
    let (mut in_string, mut escaped, mut open) = (false, false, None);
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (b, open) {
            (b'"', _) => in_string = true,
            (b'[', None) => open = Some(i),
            (b']', Some(o)) => return Some((o, i)),
            _ => {}
        }
    }
    None
}

/// The byte length of `.sub op value` (or `.sub pr`) at the start of `text`, if it is one.
fn sub_comparison(text: &str) -> Option<usize> {
    let after_dot = text.strip_prefix('.')?;
    let name = span(after_dot, |c| {
        c.is_ascii_alphanumeric() || "_-$".contains(c)
    });
    if name == 0 {
        return None;
    }
    let mut at = 1 + name;
    let spaces = span(text.get(at..)?, |c| c == ' ');
    if spaces == 0 {
        return None;
    }
    at += spaces;
    let op_len = span(text.get(at..)?, |c| c.is_ascii_alphabetic());
    let op = text.get(at..at + op_len)?.to_ascii_lowercase();
    at += op_len;
    if op == "pr" {
        return Some(at);
    }
    let comparison = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];
    if !comparison.contains(&op.as_str()) {
        return None;
    }
    let spaces = span(text.get(at..)?, |c| c == ' ');
    if spaces == 0 {
        return None;
    }
    at += spaces;
    let value = comparison_value(text.get(at..)?)?;
    Some(at + value)
}

/// The byte length of a comparison value at the start of `text`: a JSON string, or a bare word.
fn comparison_value(text: &str) -> Option<usize> {
    if !text.starts_with('"') {
        let len = span(text, |c| c != ' ' && c != ')' && c != ']');
        return (len > 0).then_some(len);
    }
    let mut escaped = false;
    for (i, b) in text.bytes().enumerate().skip(1) {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The byte length of the longest prefix of `text` whose characters satisfy `pred`.
fn span(text: &str, pred: impl Fn(char) -> bool) -> usize {
    text.find(|c: char| !pred(c)).unwrap_or(text.len())
}

// ---------------------------------------------------------------------------------------------
// PATCH bodies
// ---------------------------------------------------------------------------------------------

/// A PatchOp request: each operation of `Operations`.
fn patch(rt: &ResourceType, id: Option<&str>, body: &mut Value, fired: &mut Fired) {
    let Value::Object(fields) = body else {
        return;
    };
    let Some(Value::Array(ops)) = member_mut(fields, "Operations") else {
        return;
    };
    for op in ops.iter_mut() {
        if let Value::Object(op) = op {
            patch_op(rt, id, op, fired);
        }
    }
}

/// One PATCH operation.
fn patch_op(rt: &ResourceType, id: Option<&str>, op: &mut Map<String, Value>, fired: &mut Fired) {
    fix_op_case(op, fired);
    let kind = key_of(op, "op")
        .and_then(|k| op.get(&k))
        .and_then(Value::as_str)
        .map(str::to_string);
    let path = key_of(op, "path")
        .and_then(|k| op.get(&k))
        .and_then(Value::as_str)
        .map(str::to_string);
    match (kind.as_deref(), path) {
        (Some("remove"), Some(path)) => fix_manager_filter(rt, op, &path, fired),
        (Some("add" | "replace"), None) => {
            if let Some(value) = member_mut(op, "value") {
                fix_pathless(rt, id, value, fired);
            }
        }
        (Some(kind @ ("add" | "replace")), Some(path)) => {
            fix_path_value(rt, op, &path, kind == "replace", fired);
        }
        _ => {}
    }
    fix_null_add(op, fired);
}

/// [`Rule::OpCase`].
fn fix_op_case(op: &mut Map<String, Value>, fired: &mut Fired) {
    let Some(Value::String(kind)) = member_mut(op, "op") else {
        return;
    };
    let lower = kind.to_ascii_lowercase();
    if *kind != lower && matches!(lower.as_str(), "add" | "replace" | "remove") {
        *kind = lower;
        fired.fire(Rule::OpCase);
    }
}

/// [`Rule::NullAdd`]: `add` of `null` becomes `{"op": "add", "value": {}}`, which the core
/// applies as adding nothing.
fn fix_null_add(op: &mut Map<String, Value>, fired: &mut Fired) {
    let is_add = member_mut(op, "op").is_some_and(|k| k.as_str() == Some("add"));
    let null_value = member_mut(op, "value").is_some_and(|v| v.is_null());
    if is_add && null_value {
        op.clear();
        op.insert("op".into(), Value::from("add"));
        op.insert("value".into(), Value::Object(Map::new()));
        fired.fire(Rule::NullAdd);
    }
}

/// Path-less add/replace: each key of the value object is an attribute path (dotted or
/// URN-qualified keys resolve like paths; the engine applies them).
fn fix_pathless(rt: &ResourceType, id: Option<&str>, value: &mut Value, fired: &mut Fired) {
    let Value::Object(fields) = value else {
        return;
    };
    drop_own_id(id, fields, fired);
    for (key, v) in fields.iter_mut() {
        if let Some(ext) = rt.extension(key) {
            fix_extension(ext, v, fired);
        } else if let Some(resolved) = AttrPath::parse(key).and_then(|p| rt.resolve(&p)) {
            fix_whole(resolved.target(), v, fired);
        }
    }
}

/// [`Rule::PathlessId`].
fn drop_own_id(id: Option<&str>, fields: &mut Map<String, Value>, fired: &mut Fired) {
    let Some(id) = id else {
        return;
    };
    if let Some(key) = key_of(fields, "id")
        && fields.get(&key).and_then(Value::as_str) == Some(id)
    {
        fields.remove(&key);
        fired.fire(Rule::PathlessId);
    }
}

/// add/replace with a path: the value is checked against what the path targets, and Entra's
/// replace of a missing valuePath element becomes an add.
fn fix_path_value(
    rt: &ResourceType,
    op: &mut Map<String, Value>,
    path: &str,
    replace: bool,
    fired: &mut Fired,
) {
    if let Some(ext) = rt.extension(path.trim()) {
        if let Some(value) = member_mut(op, "value") {
            fix_extension(ext, value, fired);
        }
        return;
    }
    let Ok(parsed) = parse_patch_path(path) else {
        return;
    };
    let base = AttrPath {
        sub: None,
        ..parsed.attr.clone()
    };
    let Some(resolved) = rt.resolve(&base) else {
        return;
    };
    let attr = resolved.attr;
    let sub_name = parsed.attr.sub.as_deref().or(parsed.sub.as_deref());
    let sub = sub_name.and_then(|n| attr.sub_attribute(n));
    if let Some(value) = member_mut(op, "value") {
        match (sub, &parsed.filter) {
            (Some(sub), _) => fix_whole(sub, value, fired),
            (None, Some(_)) => fix_single(attr, value, fired),
            (None, None) => fix_whole(attr, value, fired),
        }
    }
    let creates = parsed.filter.as_ref().is_some_and(is_equality_conjunction);
    // A `replace` with `null` unassigns (RFC 7643 §2.5): as an `add` it would add nothing.
    let unassigns = member_mut(op, "value").is_none_or(|v| v.is_null());
    if replace && creates && sub.is_some() && attr.name != "members" && !unassigns {
        if let Some(kind) = member_mut(op, "op") {
            *kind = Value::from("add");
        }
        fired.fire(Rule::ValuePathReplace);
    }
}

/// Whether a valuePath filter describes one element: `sub eq value [and sub eq value ...]`, the
/// shape for which the engine creates a missing element on add.
fn is_equality_conjunction(filter: &Filter) -> bool {
    match filter {
        Filter::And(a, b) => is_equality_conjunction(a) && is_equality_conjunction(b),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => path.schema.is_none() && path.sub.is_none() && !value.is_null(),
        _ => false,
    }
}

/// [`Rule::ManagerValueFilter`]: `remove` of `manager[value eq "id"]` becomes `remove` of
/// `manager`. The condition cannot be kept (the core has no value filter on a single-valued
/// attribute); Entra sends it only to clear the manager it set.
fn fix_manager_filter(
    rt: &ResourceType,
    op: &mut Map<String, Value>,
    path: &str,
    fired: &mut Fired,
) {
    let Ok(parsed) = parse_patch_path(path) else {
        return;
    };
    if parsed.filter.is_none() || parsed.sub.is_some() || parsed.attr.sub.is_some() {
        return;
    }
    let is_manager_path = rt
        .resolve(&parsed.attr)
        .is_some_and(|r| r.sub.is_none() && is_manager(r.attr));
    if !is_manager_path {
        return;
    }
    if let Some(p) = member_mut(op, "path") {
        *p = Value::from(parsed.attr.to_string());
        fired.fire(Rule::ManagerValueFilter);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protocol::http::Method;
    use crate::protocol::patch::{self, PATCH_OP_SCHEMA};
    use crate::protocol::resource;
    use crate::protocol::schema::{
        ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, REGISTRY, ResourceKind, USER_SCHEMA,
    };

    const USER: ResourceKind = ResourceKind::User;
    const GROUP: ResourceKind = ResourceKind::Group;
    const ADSCIM: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

    /// Runs the normaliser on a body; returns the rewritten body (or the original when no rule
    /// fired) and the names of the rules that fired.
    fn run(op: Operation, id: Option<&str>, body: &Value) -> (Value, Vec<&'static str>) {
        let mut req = ScimRequest::new(Method::Post, "/", "http://localhost/scim/v2");
        req.body = body.to_string().into_bytes();
        let rules = normalise(op, id, &mut req);
        let out = serde_json::from_slice(&req.body).expect("JSON body");
        (out, rules.into_iter().map(Rule::name).collect())
    }

    fn patch_ops(kind: ResourceKind, ops: Value) -> (Value, Vec<&'static str>) {
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
        let (out, rules) = run(Operation::Patch(kind), Some("u1"), &body);
        (out["Operations"].clone(), rules)
    }

    /// Applies a normalised PATCH to a user document with the real engine.
    fn apply_user(doc: &mut Value, ops: Value) -> Vec<&'static str> {
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
        let (body, rules) = run(Operation::Patch(USER), Some("u1"), &body);
        let ops = patch::parse_request(&body).expect("strict RFC after normalising");
        patch::apply(&REGISTRY.user, doc, &ops).expect("applies");
        rules
    }

    fn bjensen() -> Value {
        json!({"schemas": [USER_SCHEMA], "userName": "bjensen"})
    }

    #[test]
    fn every_rule_has_a_unique_kebab_case_name() {
        let mut names: Vec<_> = Rule::ALL.iter().map(|r| r.name()).collect();
        for n in &names {
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{n}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Rule::ALL.len());
    }

    #[test]
    fn strict_rfc_requests_fire_no_rule_and_keep_their_bytes() {
        let bodies = [
            (
                Operation::Patch(USER),
                json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [
                    {"op": "replace", "path": "active", "value": false},
                    {"op": "add", "path": "emails[type eq \"work\"]", "value": {"value": "a@b.c"}},
                    {"op": "replace", "value": {"name.givenName": "B", "title": "False"}},
                    {"op": "remove", "path": format!("{ENTERPRISE_USER_SCHEMA}:manager")},
                ]}),
            ),
            (
                Operation::Create(USER),
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "userName": "b",
                    "active": true, "title": null,
                    ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m1"}}}),
            ),
            (
                Operation::Patch(GROUP),
                json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [
                    {"op": "remove", "path": "members", "value": [{"value": "u1"}]},
                    {"op": "remove", "path": "members[value eq \"u2\"]"},
                ]}),
            ),
        ];
        for (op, body) in bodies {
            let mut req = ScimRequest::new(Method::Patch, "/", "http://localhost/scim/v2");
            req.body = body.to_string().into_bytes();
            assert_eq!(rewrite(op, Some("u1"), &req), None, "{body}");
        }
    }

    #[test]
    fn bodies_that_are_not_json_and_reads_are_left_to_the_core() {
        let mut req = ScimRequest::new(Method::Patch, "/", "http://localhost/scim/v2");
        for body in [&b"{not json"[..], b"", b"[\"Add\"]"] {
            req.body = body.to_vec();
            assert_eq!(rewrite(Operation::Patch(USER), None, &req), None);
        }
        req.body = b"{\"op\":\"Add\"}".to_vec();
        assert_eq!(rewrite(Operation::Get(USER), Some("u1"), &req), None);
    }

    #[test]
    fn op_case_lowercases_entra_operations() {
        let (ops, rules) = patch_ops(
            USER,
            json!([{"op": "Replace", "path": "title", "value": "x"},
                   {"OP": "Add", "path": "nickName", "value": "Babs"},
                   {"op": "Remove", "path": "title"}]),
        );
        assert_eq!(rules, ["op-case"]);
        assert_eq!(ops[0]["op"], "replace");
        assert_eq!(ops[1]["OP"], "add");
        assert_eq!(ops[2]["op"], "remove");
        let (ops, rules) = patch_ops(
            USER,
            json!([{"op": "Merge", "path": "title", "value": "x"}]),
        );
        assert!(
            rules.is_empty(),
            "unknown ops are left for the core to refuse"
        );
        assert_eq!(ops[0]["op"], "Merge");
    }

    #[test]
    fn boolean_string_converts_only_boolean_attributes() {
        let mut doc = bjensen();
        doc["emails"] = json!([{"value": "a@b.c", "type": "work"}]);
        let rules = apply_user(
            &mut doc,
            json!([{"op": "Replace", "path": "active", "value": "False"},
                   {"op": "replace", "path": "title", "value": "True"},
                   {"op": "add", "path": "emails[type eq \"work\"].primary", "value": "TRUE"}]),
        );
        assert_eq!(rules, ["op-case", "boolean-string"]);
        assert_eq!(doc["active"], false);
        assert_eq!(doc["title"], "True", "title is a string attribute");
        assert_eq!(doc["emails"][0]["primary"], true);
    }

    #[test]
    fn boolean_string_in_pathless_and_resource_bodies() {
        let mut doc = bjensen();
        let rules = apply_user(
            &mut doc,
            json!([{"op": "replace", "value": {"active": "false"}}]),
        );
        assert_eq!(rules, ["boolean-string"]);
        assert_eq!(doc["active"], false);

        let (body, rules) = run(
            Operation::Create(USER),
            None,
            &json!({"schemas": [USER_SCHEMA], "userName": "b", "active": "True",
                "emails": [{"value": "a@b.c", "primary": "True"}], "nickName": "False"}),
        );
        assert_eq!(rules, ["boolean-string"]);
        assert_eq!(body["active"], true);
        assert_eq!(body["emails"][0]["primary"], true);
        assert_eq!(body["nickName"], "False");
        resource::canonicalize(&REGISTRY.user, body).expect("valid after normalising");
    }

    #[test]
    fn manager_string_becomes_a_complex_value() {
        let manager = format!("{ENTERPRISE_USER_SCHEMA}:manager");
        let mut doc = bjensen();
        let rules = apply_user(
            &mut doc,
            json!([{"op": "Replace", "path": manager, "value": "m1"}]),
        );
        assert_eq!(rules, ["op-case", "manager-string"]);
        assert_eq!(
            doc[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "m1"})
        );
        let rules = apply_user(
            &mut doc,
            json!([{"op": "replace", "value": {manager.clone(): "m2"}}]),
        );
        assert_eq!(rules, ["manager-string"]);
        assert_eq!(
            doc[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "m2"})
        );
        let rules = apply_user(
            &mut doc,
            json!([{"op": "replace", "path": manager, "value": ""}]),
        );
        assert_eq!(rules, ["manager-string"]);
        assert!(doc.get(ENTERPRISE_USER_SCHEMA).is_none(), "empty id clears");

        let (body, rules) = run(
            Operation::Create(USER),
            None,
            &json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "userName": "b",
                ENTERPRISE_USER_SCHEMA: {"manager": "123456"}}),
        );
        assert_eq!(rules, ["manager-string"]);
        assert_eq!(
            body[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "123456"})
        );
    }

    #[test]
    fn manager_array_becomes_its_single_element() {
        let mut doc = bjensen();
        let rules = apply_user(
            &mut doc,
            json!([{"op": "Add", "path": "manager", "value": [
                {"$ref": "http://x/scim/Users/m1", "value": "m1"}]}]),
        );
        assert_eq!(rules, ["op-case", "manager-array"]);
        assert_eq!(
            doc[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"$ref": "http://x/scim/Users/m1", "value": "m1"})
        );
        let ext = json!({"manager": [{"value": "m2"}]});
        let rules = apply_user(
            &mut doc,
            json!([{"op": "replace", "path": ENTERPRISE_USER_SCHEMA, "value": ext}]),
        );
        assert_eq!(rules, ["manager-array"]);
        assert_eq!(doc[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "m2");
        let (ops, rules) = patch_ops(
            USER,
            json!([{"op": "replace", "path": "manager", "value": [{"value": "a"}, {"value": "b"}]}]),
        );
        assert!(
            rules.is_empty(),
            "two managers are left for the core to refuse"
        );
        assert_eq!(ops[0]["value"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn manager_value_filter_remove_becomes_remove_of_manager() {
        let mut doc = bjensen();
        doc[ENTERPRISE_USER_SCHEMA] = json!({"manager": {"value": "m1"}, "department": "R&D"});
        let rules = apply_user(
            &mut doc,
            json!([{"op": "Remove", "path": "manager[value eq \"m1\"]"}]),
        );
        assert_eq!(rules, ["op-case", "manager-value-filter"]);
        assert_eq!(doc[ENTERPRISE_USER_SCHEMA], json!({"department": "R&D"}));
        let (ops, rules) = patch_ops(
            USER,
            json!([{"op": "remove",
                "path": format!("{ENTERPRISE_USER_SCHEMA}:manager[value eq \"m1\"]")}]),
        );
        assert_eq!(rules, ["manager-value-filter"]);
        assert_eq!(ops[0]["path"], format!("{ENTERPRISE_USER_SCHEMA}:manager"));
    }

    #[test]
    fn value_path_replace_creates_the_missing_element_once() {
        let mut doc = bjensen();
        let set_work = |v: &str| json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": v}]);
        let rules = apply_user(&mut doc, set_work("a@example.com"));
        assert_eq!(rules, ["op-case", "value-path-replace"]);
        assert_eq!(
            doc["emails"],
            json!([{"type": "work", "value": "a@example.com"}])
        );
        apply_user(&mut doc, set_work("b@example.com"));
        assert_eq!(
            doc["emails"],
            json!([{"type": "work", "value": "b@example.com"}]),
            "the existing element is updated, not duplicated"
        );
        let (ops, rules) = patch_ops(
            USER,
            json!([{"op": "replace", "path": "emails[value co \"@\"].type", "value": "home"},
                   {"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "x"}}]),
        );
        assert!(
            rules.is_empty(),
            "no element to create, or a whole-record replace"
        );
        assert_eq!(ops[0]["op"], "replace");
        assert_eq!(ops[1]["op"], "replace");
    }

    #[test]
    fn value_path_replace_with_null_unassigns_the_sub_attribute() {
        let mut doc = bjensen();
        doc["emails"] = json!([{"type": "work", "value": "a@example.com"},
            {"type": "home", "value": "b@example.com"}]);
        let rules = apply_user(
            &mut doc,
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": null}]),
        );
        assert_eq!(
            rules,
            ["op-case"],
            "no rule turns the unassignment into an add"
        );
        assert_eq!(
            doc["emails"],
            json!([{"type": "work"}, {"type": "home", "value": "b@example.com"}])
        );
    }

    #[test]
    fn null_add_adds_nothing() {
        let mut doc = bjensen();
        doc["title"] = json!("Guide");
        let rules = apply_user(
            &mut doc,
            json!([{"op": "Add", "path": "title", "value": null}]),
        );
        assert_eq!(rules, ["op-case", "null-add"]);
        assert_eq!(doc["title"], "Guide");
        let (ops, _) = patch_ops(USER, json!([{"op": "add", "value": null}]));
        assert_eq!(ops[0], json!({"op": "add", "value": {}}));
    }

    #[test]
    fn null_unknown_attribute_is_dropped_from_resource_bodies() {
        let (body, rules) = run(
            Operation::Create(USER),
            None,
            &json!({"schemas": [USER_SCHEMA], "userName": "jyoung", "addresses": null,
                "department": null, "manager": null, "title": null,
                ENTERPRISE_USER_SCHEMA: {"costCenter": null, "nope": null}}),
        );
        assert_eq!(rules, ["null-unknown-attribute"]);
        assert_eq!(
            body,
            json!({"schemas": [USER_SCHEMA], "userName": "jyoung", "addresses": null,
                "title": null, ENTERPRISE_USER_SCHEMA: {"costCenter": null}})
        );
        resource::canonicalize(&REGISTRY.user, body).expect("valid after normalising");
        let (_, rules) = run(
            Operation::Create(USER),
            None,
            &json!({"schemas": [USER_SCHEMA], "userName": "b", "department": "R&D"}),
        );
        assert!(
            rules.is_empty(),
            "a value for an unknown attribute stays an error"
        );
    }

    #[test]
    fn foreign_schema_is_dropped_unless_the_body_uses_it() {
        let (body, rules) = run(
            Operation::Create(GROUP),
            None,
            &json!({"schemas": [GROUP_SCHEMA, ADSCIM], "displayName": "G",
                "externalId": "8aa1a0c0", "meta": {"resourceType": "Group"}}),
        );
        assert_eq!(rules, ["foreign-schema"]);
        assert_eq!(body["schemas"], json!([GROUP_SCHEMA]));
        resource::canonicalize(&REGISTRY.group, body).expect("valid after normalising");
        let typo = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User";
        let (body, rules) = run(
            Operation::Replace(USER),
            Some("u1"),
            &json!({"schemas": [USER_SCHEMA, typo], "userName": "b"}),
        );
        assert_eq!(rules, ["foreign-schema"]);
        assert_eq!(body["schemas"], json!([USER_SCHEMA]));
        let custom = "urn:example:custom:2.0:User";
        let (_, rules) = run(
            Operation::Create(USER),
            None,
            &json!({"schemas": [USER_SCHEMA, custom], "userName": "b", custom: {"tag": "x"}}),
        );
        assert!(
            rules.is_empty(),
            "data under an unknown schema stays an error"
        );
    }

    #[test]
    fn pathless_id_is_dropped_when_it_is_the_resources_own() {
        let (ops, rules) = patch_ops(
            GROUP,
            json!([{"op": "replace", "value": {"id": "u1", "displayName": "Test SCIMv20"}}]),
        );
        assert_eq!(rules, ["pathless-id"]);
        assert_eq!(ops[0]["value"], json!({"displayName": "Test SCIMv20"}));
        let (ops, rules) = patch_ops(
            GROUP,
            json!([{"op": "replace", "value": {"id": "other", "displayName": "x"}}]),
        );
        assert!(rules.is_empty(), "changing the id stays a mutability error");
        assert_eq!(ops[0]["value"]["id"], "other");
    }

    #[test]
    fn filter_value_path_moves_the_sub_attribute_comparison_into_the_brackets() {
        let cases = [
            (
                r#"emails[type eq "work"].value eq "a@b.c""#,
                r#"emails[(type eq "work") and value eq "a@b.c"]"#,
            ),
            (
                r#"userName eq "x" and emails[type eq "work" or type eq "other"].value EQ "a]b\"c""#,
                r#"userName eq "x" and emails[(type eq "work" or type eq "other") and value EQ "a]b\"c"]"#,
            ),
            (
                r#"addresses[type eq "work"].postalCode pr"#,
                r#"addresses[(type eq "work") and postalCode pr]"#,
            ),
            (
                r#"(emails[type eq "]."].value eq jdoe)"#,
                r#"(emails[(type eq "].") and value eq jdoe])"#,
            ),
        ];
        for (entra, rfc) in cases {
            assert_eq!(rewrite_filter(entra).as_deref(), Some(rfc), "{entra}");
            crate::protocol::filter::parse(rfc).expect("valid RFC 7644 filter");
        }
        for untouched in [
            r#"emails[type eq "work"]"#,
            r#"emails[type eq "work"] and userName eq "a.b""#,
            r#"userName eq "emails[type eq \"work\"].value eq 1""#,
            r#"emails[type eq "work"].value"#,
        ] {
            assert_eq!(rewrite_filter(untouched), None, "{untouched}");
        }
    }

    #[test]
    fn filter_value_path_applies_to_list_queries_and_search_bodies() {
        let mut req = ScimRequest::new(Method::Get, "/Users", "http://localhost/scim/v2");
        req.query = vec![
            ("aadOptscim062020".into(), String::new()),
            (
                "filter".into(),
                r#"emails[type eq "work"].value eq "a@b.c""#.into(),
            ),
        ];
        let rules = normalise(Operation::List(USER), None, &mut req);
        assert_eq!(rules, [Rule::FilterValuePath]);
        assert_eq!(
            req.query[1].1,
            r#"emails[(type eq "work") and value eq "a@b.c"]"#
        );
        assert_eq!(req.query[0].0, "aadOptscim062020");
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": r#"emails[type eq "work"].value eq "a@b.c""#});
        let (body, rules) = run(Operation::Search(Some(USER)), None, &body);
        assert_eq!(rules, ["filter-value-path"]);
        assert_eq!(
            body["filter"],
            r#"emails[(type eq "work") and value eq "a@b.c"]"#
        );
    }

    #[test]
    fn rules_are_reported_once_in_first_fired_order() {
        let (_, rules) = patch_ops(
            USER,
            json!([{"op": "Replace", "path": "active", "value": "False"},
                   {"op": "Replace", "path": "active", "value": "True"},
                   {"op": "Add", "path": "manager", "value": "m1"}]),
        );
        assert_eq!(rules, ["op-case", "boolean-string", "manager-string"]);
    }
}
