//! What the properties feed the service: arbitrary unicode, and valid inputs (attribute paths,
//! filters, PATCH and bulk bodies, list parameters) with random characters spliced in, runs cut
//! out or the rest cut off, at character positions that fall anywhere in the input's bytes.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use scim_shared::protocol::http::Method;
use scim_shared::protocol::patch::PATCH_OP_SCHEMA;
use scim_shared::protocol::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{Map, Number, Value, json};

pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

const SCHEMAS: [&str; 3] = [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA];

/// Attribute and sub-attribute names of the registered schemas, and a few that are not.
const NAMES: [&str; 26] = [
    "userName",
    "name",
    "givenName",
    "familyName",
    "displayName",
    "emails",
    "value",
    "type",
    "primary",
    "members",
    "display",
    "manager",
    "employeeNumber",
    "department",
    "active",
    "meta",
    "lastModified",
    "id",
    "externalId",
    "groups",
    "roles",
    "addresses",
    "$ref",
    "schemas",
    "nickName",
    "shoeSize",
];

/// Multi-valued attributes, for value filters.
const MULTI: [&str; 5] = ["emails", "members", "roles", "addresses", "groups"];

/// Characters that mean something to a grammar, multi-byte characters (one whose lower case is
/// longer, one whose lower case is ASCII), controls, and any character at all.
pub fn a_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => select(vec![
            '[', ']', '(', ')', '"', '\\', '.', ':', ',', ' ', '$', '-', '_', '/', '?', '=', '&',
            '%', '#', '\'', '{', '}',
        ]),
        3 => prop::char::range('a', 'z'),
        3 => select(vec![
            'é', 'ß', '€', '中', '𝄞', '\u{301}', '\u{200B}', '\u{FEFF}', '\0', '\u{7F}', '\t',
            '\n', 'İ', '\u{212A}',
        ]),
        2 => any::<char>(),
    ]
}

/// Any of the methods the service knows.
pub fn method() -> impl Strategy<Value = Method> {
    select(vec![
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
    ])
}

/// A short run of [`a_char`]s.
pub fn noise() -> impl Strategy<Value = String> {
    vec(a_char(), 0..12).prop_map(String::from_iter)
}

/// Any text: arbitrary unicode, or a longer run of [`a_char`]s.
pub fn unicode() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        vec(a_char(), 0..64).prop_map(String::from_iter)
    ]
}

/// One edit of a text, at a character position chosen by a seed.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<usize>(), noise()).prop_map(|(at, s)| Edit::Insert(at, s)),
        1 => (any::<usize>(), 1..6usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: String, edit: &Edit) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = |seed: usize, len: usize| seed % (len + 1);
    match edit {
        Edit::Insert(seed, s) => {
            let i = at(*seed, chars.len());
            chars.splice(i..i, s.chars());
        }
        Edit::Delete(seed, n) => {
            let i = at(*seed, chars.len());
            let end = (i + n).min(chars.len());
            chars.drain(i..end);
        }
        Edit::Truncate(seed) => chars.truncate(at(*seed, chars.len())),
    }
    chars.into_iter().collect()
}

/// `base` as generated, or with up to three edits.
pub fn mutated(base: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    (base, vec(edit(), 0..4)).prop_map(|(text, edits)| edits.iter().fold(text, apply))
}

fn cased(text: &str, upper: bool) -> String {
    if upper {
        text.to_ascii_uppercase()
    } else {
        text.to_string()
    }
}

/// A valid attribute path: `[urn ":"] name ["." sub]`, the URN in either case.
pub fn attr_path() -> impl Strategy<Value = String> {
    (
        option::of((select(SCHEMAS.to_vec()), any::<bool>())),
        select(NAMES.to_vec()),
        option::of(select(NAMES.to_vec())),
    )
        .prop_map(|(urn, name, sub)| {
            let mut path =
                urn.map_or_else(String::new, |(u, upper)| format!("{}:", cased(u, upper)));
            path.push_str(name);
            if let Some(sub) = sub {
                path.push('.');
                path.push_str(sub);
            }
            path
        })
}

/// A comparison value: a JSON string of any text, a number, a literal or a bare word.
fn comp_value() -> impl Strategy<Value = String> {
    prop_oneof![
        unicode().prop_map(|s| Value::String(s).to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:e}")),
        select(vec![
            "true",
            "false",
            "null",
            "jyoung",
            "2026-01-01T00:00:00Z"
        ])
        .prop_map(String::from),
    ]
}

/// A well-formed filter (RFC 7644 §3.4.2.2), nested a few levels.
pub fn filter() -> impl Strategy<Value = String> {
    let ops = vec![
        "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Co",
    ];
    let leaf = prop_oneof![
        3 => (attr_path(), select(ops), comp_value()).prop_map(|(p, o, v)| format!("{p} {o} {v}")),
        1 => attr_path().prop_map(|p| format!("{p} pr")),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                select(vec!["and", "or", "AND", "Or"]),
                inner.clone()
            )
                .prop_map(|(a, k, b)| format!("{a} {k} {b}")),
            inner.clone().prop_map(|f| format!("({f})")),
            inner.clone().prop_map(|f| format!("not ({f})")),
            (select(MULTI.to_vec()), inner).prop_map(|(n, f)| format!("{n}[{f}]")),
        ]
    })
}

/// A well-formed PATCH path: an attribute path, or a value filter with an optional sub-attribute.
pub fn patch_path() -> impl Strategy<Value = String> {
    prop_oneof![
        attr_path(),
        (
            select(MULTI.to_vec()),
            filter(),
            option::of(select(NAMES.to_vec()))
        )
            .prop_map(|(n, f, sub)| match sub {
                Some(s) => format!("{n}[{f}].{s}"),
                None => format!("{n}[{f}]"),
            }),
        select(SCHEMAS.to_vec()).prop_map(String::from),
    ]
}

/// What a client may write where an attribute path goes: valid, mutated, or any text.
pub fn path_like() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => mutated(patch_path()),
        1 => unicode(),
        1 => Just("aéé".to_string()),
    ]
}

/// What a client may send as a filter: valid, mutated, or any text.
pub fn filter_like() -> impl Strategy<Value = String> {
    prop_oneof![3 => mutated(filter()), 1 => unicode()]
}

/// A comma-separated list of attribute paths (`attributes`, `excludedAttributes`).
pub fn attribute_list() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => vec(prop_oneof![3 => mutated(attr_path()), 1 => noise()], 0..5).prop_map(|p| p.join(",")),
        1 => unicode(),
    ]
}

/// A JSON object key: an attribute name or path, a schema URN, or any text.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(NAMES.to_vec()).prop_map(String::from),
        1 => select(SCHEMAS.to_vec()).prop_map(String::from),
        1 => mutated(attr_path()),
        1 => noise(),
    ]
}

/// Any JSON value, its object keys mostly attribute names.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        unicode().prop_map(Value::from),
        select(vec!["True", "bulkId:u1", "bulkId:", "work", "W/\"1\""]).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((key(), inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A JSON object, as resource bodies and path-less PATCH values are.
pub fn json_object() -> impl Strategy<Value = Value> {
    vec((key(), json_value()), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect()))
}

/// Resource ids a request may name: the stored ones and one that names nothing.
#[derive(Debug, Clone)]
pub struct Ids {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl Ids {
    /// Ids of resources that do not exist, for the parser properties.
    pub fn made_up() -> Ids {
        Ids {
            users: vec!["0197aaaa-0000-7000-8000-000000000001".into()],
            groups: vec!["0197aaaa-0000-7000-8000-000000000002".into()],
        }
    }

    fn any(&self) -> Vec<String> {
        let mut all = self.users.clone();
        all.extend(self.groups.iter().cloned());
        all.push("0197aaaa-0000-7000-8000-00000000beef".into());
        all
    }
}

/// An email address, or text that only looks like one.
fn email() -> impl Strategy<Value = Value> {
    let address = prop_oneof!["[a-z]{1,8}@example\\.com".prop_map(String::from), unicode()];
    (
        address,
        select(vec!["work", "home", "other"]),
        any::<bool>(),
    )
        .prop_map(
            |(value, kind, primary)| json!({"value": value, "type": kind, "primary": primary}),
        )
}

/// A resource body: mostly a User or a Group with values of the right types and a few random
/// members, sometimes any JSON.
pub fn resource_body(ids: &Ids) -> impl Strategy<Value = Value> + use<> {
    let user = (
        prop_oneof![3 => "[a-z]{1,12}".prop_map(String::from), 1 => unicode()],
        vec(email(), 0..3),
        any::<bool>(),
        option::of(unicode()),
        json_object(),
    )
        .prop_map(|(name, emails, active, department, extra)| {
            let mut body = json!({"schemas": [USER_SCHEMA], "userName": name, "emails": emails, "active": active});
            if let Some(d) = department {
                body["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
                body[ENTERPRISE_USER_SCHEMA] = json!({"department": d});
            }
            if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
                b.extend(e);
            }
            body
        });
    let group = (unicode(), vec(select(ids.any()), 0..3)).prop_map(|(name, members)| {
        let members: Vec<Value> = members.into_iter().map(|m| json!({"value": m})).collect();
        json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members})
    });
    prop_oneof![3 => user, 2 => group, 1 => json_value()]
}

/// Attribute paths of single string values.
const STRINGS: [&str; 8] = [
    "displayName",
    "nickName",
    "title",
    "name.givenName",
    "externalId",
    "userName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "emails[type eq \"work\"].value",
];

/// A PATCH operation a client could mean: a known path with a value of its type, members added
/// or removed by id, a path-less value.
fn plausible_patch_operation(ids: &Ids) -> impl Strategy<Value = Value> + use<> {
    let any_id = select(ids.any());
    prop_oneof![
        (
            select(vec!["add", "replace"]),
            select(STRINGS.to_vec()),
            unicode()
        )
            .prop_map(|(op, path, v)| json!({"op": op, "path": path, "value": v})),
        (select(vec!["add", "replace"]), vec(email(), 0..3))
            .prop_map(|(op, v)| json!({"op": op, "path": "emails", "value": v})),
        (select(vec!["add", "replace"]), any::<bool>())
            .prop_map(|(op, v)| json!({"op": op, "path": "active", "value": v})),
        select(vec![
            "emails[type eq \"work\"]",
            "emails",
            "nickName",
            "title",
            "members",
            "name.givenName",
        ])
        .prop_map(|path| json!({"op": "remove", "path": path})),
        (select(vec!["add", "replace"]), vec(any_id.clone(), 0..3)).prop_map(|(op, members)| {
            let members: Vec<Value> = members.into_iter().map(|m| json!({"value": m})).collect();
            json!({"op": op, "path": "members", "value": members})
        }),
        any_id
            .prop_map(|id| json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")})),
        (
            select(vec!["add", "replace", "Replace"]),
            vec((select(STRINGS[..6].to_vec()), unicode()), 1..3)
        )
            .prop_map(|(op, kv)| {
                let value: Map<String, Value> = kv
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Value::from(v)))
                    .collect();
                json!({"op": op, "value": value})
            }),
    ]
}

/// Any PATCH operation: any op, path and value.
fn random_patch_operation() -> impl Strategy<Value = Value> {
    let op = prop_oneof![
        4 => select(vec!["add", "replace", "remove", "Add", "Replace", "Remove"]).prop_map(String::from),
        1 => noise(),
    ];
    let value = prop_oneof![json_object(), json_value()];
    (op, option::of(path_like()), option::of(value)).prop_map(|(op, path, value)| {
        let mut o = Map::new();
        o.insert("op".into(), Value::from(op));
        if let Some(p) = path {
            o.insert("path".into(), Value::from(p));
        }
        if let Some(v) = value {
            o.insert("value".into(), v);
        }
        Value::Object(o)
    })
}

/// A PatchOp body: mostly plausible operations with some random ones, sometimes any JSON.
pub fn patch_body(ids: &Ids) -> impl Strategy<Value = Value> + use<> {
    let operation = prop_oneof![
        3 => plausible_patch_operation(ids),
        1 => random_patch_operation(),
    ];
    prop_oneof![
        6 => vec(operation, 1..4)
            .prop_map(|ops| json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})),
        1 => json_value(),
    ]
}

/// A sortBy: an attribute path, or what [`path_like`] gives.
fn sort_by() -> impl Strategy<Value = String> {
    prop_oneof![attr_path(), path_like()]
}

/// List parameters as a query string would carry them, names in any case and some unknown.
/// `cursor` is one the service issued, for mutated cursors to start from.
pub fn list_query(cursor: String) -> impl Strategy<Value = Vec<(String, String)>> {
    let param = prop_oneof![
        (Just("filter"), filter_like()),
        (Just("sortBy"), sort_by()),
        (
            Just("sortOrder"),
            prop_oneof![
                select(vec!["ascending", "descending", "DESCENDING"]).prop_map(String::from),
                noise()
            ]
        ),
        (Just("attributes"), attribute_list()),
        (Just("excludedAttributes"), attribute_list()),
        (Just("startIndex"), number_like()),
        (Just("count"), number_like()),
        (Just("cursor"), cursor_like(cursor)),
        (Just("FILTER"), filter_like()),
        (Just("x"), noise()),
    ];
    vec(param, 0..5).prop_map(|ps| ps.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// An integer as text: small, extreme, or not an integer at all.
fn number_like() -> impl Strategy<Value = String> {
    prop_oneof![
        (-5i64..20).prop_map(|n| n.to_string()),
        select(vec![i64::MIN, i64::MAX, 0, -1, 1000, 1001]).prop_map(|n| n.to_string()),
        mutated((0i64..100).prop_map(|n| n.to_string())),
    ]
}

/// A cursor: the genuine one, mutated, or any text.
fn cursor_like(genuine: String) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(genuine.clone()),
        mutated(Just(genuine)),
        unicode(),
        Just(String::new()),
    ]
}

/// A SearchRequest body: the list parameters as JSON members, mostly of their types.
pub fn search_body(cursor: String) -> impl Strategy<Value = Value> {
    let text =
        |s: BoxedStrategy<String>| prop_oneof![4 => s.prop_map(Value::from), 1 => json_value()];
    let int = || prop_oneof![4 => (-2i64..10).prop_map(Value::from), 1 => json_value()];
    (
        option::of(text(filter_like().boxed())),
        option::weighted(0.3, text(sort_by().boxed())),
        option::of(text(attribute_list().boxed())),
        option::of(text(attribute_list().boxed())),
        option::weighted(0.3, int()),
        option::weighted(0.3, int()),
        option::weighted(0.15, text(cursor_like(cursor).boxed())),
    )
        .prop_map(
            |(filter, sort_by, attributes, excluded, start, count, cursor)| {
                let mut o = Map::new();
                o.insert("schemas".into(), json!([SEARCH_REQUEST]));
                let members = [
                    ("filter", filter),
                    ("sortBy", sort_by),
                    ("attributes", attributes),
                    ("excludedAttributes", excluded),
                    ("startIndex", start),
                    ("count", count),
                    ("cursor", cursor),
                ];
                for (k, v) in members {
                    if let Some(v) = v {
                        o.insert(k.into(), v);
                    }
                }
                Value::Object(o)
            },
        )
}

/// One bulk operation before its bulkIds are numbered: what it does and whom it names.
#[derive(Debug, Clone)]
enum BulkOp {
    PostUser(Value),
    PostGroup(Vec<usize>),
    Patch(String, Value),
    Put(String, Value),
    Delete(String),
    Any(Value),
}

/// A BulkRequest body: mostly well-formed operations (POSTs with bulkIds, references to them,
/// operations on stored resources), some of any shape, and any `failOnErrors`.
pub fn bulk_body(ids: &Ids) -> impl Strategy<Value = Value> + use<> {
    let target = prop_oneof![
        select(ids.any()).prop_map(|id| format!("/Users/{id}")),
        select(ids.groups.clone()).prop_map(|id| format!("/Groups/{id}")),
        (0..6usize).prop_map(|n| format!("/Users/bulkId:b{n}")),
        mutated(Just("/Users/bulkId:b0".to_string())),
    ];
    let any_operation = (
        prop_oneof![4 => select(vec!["POST", "PUT", "PATCH", "DELETE", "GET", "post"]).prop_map(String::from), 1 => noise()],
        prop_oneof![select(vec!["/Users", "/Groups", "/Bulk", "Users"]).prop_map(String::from), unicode()],
        option::of(noise()),
        option::of(json_value()),
    )
        .prop_map(|(method, path, version, data)| {
            json!({"method": method, "path": path, "bulkId": "any", "version": version, "data": data})
        });
    let operation = prop_oneof![
        3 => resource_body(ids).prop_map(BulkOp::PostUser),
        1 => vec(0..6usize, 0..3).prop_map(BulkOp::PostGroup),
        2 => (target.clone(), patch_body(ids)).prop_map(|(p, b)| BulkOp::Patch(p, b)),
        1 => (target.clone(), resource_body(ids)).prop_map(|(p, b)| BulkOp::Put(p, b)),
        1 => target.prop_map(BulkOp::Delete),
        1 => any_operation.prop_map(BulkOp::Any),
    ];
    let fail_on_errors = prop_oneof![
        3 => Just(None),
        2 => (1u64..4).prop_map(|n| Some(Value::from(n))),
        1 => json_value().prop_map(Some),
    ];
    (vec(operation, 0..6), fail_on_errors).prop_map(|(ops, fail_on_errors)| {
        let operations: Vec<Value> = ops
            .into_iter()
            .enumerate()
            .map(|(i, op)| match op {
                BulkOp::PostUser(data) => {
                    json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": data})
                }
                BulkOp::PostGroup(members) => {
                    let members: Vec<Value> =
                        members.iter().map(|m| json!({"value": format!("bulkId:b{m}")})).collect();
                    let data = json!({"schemas": [GROUP_SCHEMA], "displayName": format!("g{i}"), "members": members});
                    json!({"method": "POST", "path": "/Groups", "bulkId": format!("b{i}"), "data": data})
                }
                BulkOp::Patch(path, data) => json!({"method": "PATCH", "path": path, "data": data}),
                BulkOp::Put(path, data) => json!({"method": "PUT", "path": path, "data": data}),
                BulkOp::Delete(path) => json!({"method": "DELETE", "path": path}),
                BulkOp::Any(op) => op,
            })
            .collect();
        let mut body = json!({"schemas": [BULK_REQUEST], "Operations": operations});
        if let Some(f) = fail_on_errors {
            body["failOnErrors"] = f;
        }
        body
    })
}
