//! The BulkRequest message (RFC 7644 §3.7): the envelope, its operations, and the `bulkId:`
//! references in their paths and data. A request that is not a well-formed BulkRequest is
//! refused as a whole (400 invalidSyntax, 413 over a limit); whatever can go wrong with one
//! operation is that operation's result.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::ops::Limits;
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::http::{Method, ScimRequest};
use crate::protocol::router::{Operation, route_request};

/// The BulkRequest schema URN.
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// What a value starts with when it stands for the id of a resource a POST of the same request
/// creates (RFC 7644 §3.7.2).
const BULK_ID_PREFIX: &str = "bulkId:";

/// A parsed BulkRequest.
#[derive(Debug)]
pub(super) struct BulkRequest {
    /// Errors after which the remaining operations are not run (`failOnErrors`).
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<BulkOperation>,
}

/// One element of `Operations`.
#[derive(Debug)]
pub(super) struct BulkOperation {
    pub method: Method,
    /// The path as sent, references unresolved.
    pub path: String,
    pub bulk_id: Option<String>,
    /// `version`: the ETag the resource must have (If-Match).
    pub version: Option<String>,
    pub data: Option<Value>,
    /// The bulkIds the path and the data refer to, each once, in first-seen order.
    pub refs: Vec<String>,
    /// The resource operation the path routes to, or why it is not one a bulk may run.
    pub route: Result<Operation, ScimError>,
}

fn syntax(detail: String) -> ScimError {
    ScimError::InvalidSyntax(detail)
}

/// A member of a JSON object by case-insensitive name, an exact match preferred.
fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// Parses and checks a BulkRequest: 413 above `maxPayloadSize` or `maxOperations`, 400
/// invalidSyntax when it is not a BulkRequest.
pub(super) fn parse(limits: &Limits, req: &ScimRequest) -> ScimResult<BulkRequest> {
    if req.body.len() > limits.max_payload_bytes {
        return Err(ScimError::PayloadTooLarge(format!(
            "the bulk request exceeds maxPayloadSize ({} bytes)",
            limits.max_payload_bytes
        )));
    }
    let Value::Object(obj) = req.json()? else {
        return Err(syntax("the BulkRequest body must be a JSON object".into()));
    };
    let listed = member(&obj, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA))
            })
        });
    if !listed {
        return Err(syntax(format!(
            "'schemas' must be an array containing \"{BULK_REQUEST_SCHEMA}\""
        )));
    }
    let Some(Value::Array(ops)) = member(&obj, "Operations") else {
        return Err(syntax("'Operations' must be an array".into()));
    };
    if ops.len() > limits.max_bulk_operations {
        return Err(ScimError::PayloadTooLarge(format!(
            "the bulk request has {} operations, more than maxOperations ({})",
            ops.len(),
            limits.max_bulk_operations
        )));
    }
    let fail_on_errors = match member(&obj, "failOnErrors") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n > 0)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| syntax("'failOnErrors' must be a positive integer".into()))?,
        ),
    };
    let operations = ops
        .iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect::<ScimResult<Vec<_>>>()?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, op) in operations.iter().enumerate() {
        if let Some(b) = &op.bulk_id
            && let Some(first) = seen.insert(b, i)
        {
            return Err(syntax(format!(
                "Operations[{first}] and Operations[{i}] have the same bulkId '{b}'"
            )));
        }
    }
    Ok(BulkRequest {
        fail_on_errors,
        operations,
    })
}

fn parse_operation(i: usize, op: &Value) -> ScimResult<BulkOperation> {
    let Value::Object(obj) = op else {
        return Err(syntax(format!("Operations[{i}] must be a JSON object")));
    };
    let text = |name: &str| -> ScimResult<Option<String>> {
        match member(obj, name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(syntax(format!(
                "Operations[{i}].{name} must be a non-empty string"
            ))),
        }
    };
    let method = text("method")?
        .and_then(|m| Method::parse(&m))
        .filter(|m| *m != Method::Get)
        .ok_or_else(|| {
            syntax(format!(
                "Operations[{i}].method must be POST, PUT, PATCH or DELETE"
            ))
        })?;
    let path = text("path")?
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| {
            syntax(format!(
                "Operations[{i}].path must be a path such as /Users"
            ))
        })?;
    let bulk_id = text("bulkId")?;
    if method == Method::Post && bulk_id.is_none() {
        return Err(syntax(format!(
            "Operations[{i}] is a POST and has no bulkId"
        )));
    }
    let data = member(obj, "data").cloned();
    let mut refs = Vec::new();
    for segment in path.split('/') {
        add_ref(segment, &mut refs);
    }
    if let Some(d) = &data {
        collect_refs(d, &mut refs);
    }
    let route = route_request(method, &path).and_then(|m| match m.operation {
        op @ (Operation::Create(_)
        | Operation::Replace(_)
        | Operation::Patch(_)
        | Operation::Delete(_)) => Ok(op),
        other => Err(syntax(format!(
            "a bulk operation creates, replaces, patches or deletes a user or a group, not {}",
            other.name()
        ))),
    });
    Ok(BulkOperation {
        method,
        path,
        bulk_id,
        version: text("version")?,
        data,
        refs,
        route,
    })
}

/// The bulkId a value refers to, if it is a reference.
fn reference(s: &str) -> Option<&str> {
    s.strip_prefix(BULK_ID_PREFIX).filter(|b| !b.is_empty())
}

fn add_ref(s: &str, refs: &mut Vec<String>) {
    if let Some(b) = reference(s)
        && !refs.iter().any(|r| r == b)
    {
        refs.push(b.to_string());
    }
}

fn collect_refs(v: &Value, refs: &mut Vec<String>) {
    match v {
        Value::String(s) => add_ref(s, refs),
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, refs)),
        Value::Object(o) => o.values().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

fn substitute(v: &mut Value, ids: &HashMap<&str, &str>) {
    match v {
        Value::String(s) => {
            if let Some(id) = reference(s).and_then(|b| ids.get(b)) {
                *s = (*id).to_string();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| substitute(v, ids)),
        Value::Object(o) => o.values_mut().for_each(|v| substitute(v, ids)),
        _ => {}
    }
}

impl BulkOperation {
    /// The single request this operation stands for, each reference replaced by the id of the
    /// resource its POST created (`ids`: bulkId -> id, holding every reference of `refs`).
    pub(super) fn to_request(
        &self,
        envelope: &ScimRequest,
        ids: &HashMap<&str, &str>,
    ) -> ScimRequest {
        let path = self
            .path
            .split('/')
            .map(|s| reference(s).and_then(|b| ids.get(b).copied()).unwrap_or(s))
            .collect::<Vec<_>>()
            .join("/");
        let mut req = ScimRequest::new(self.method, path, envelope.base_url.clone());
        req.if_match = self.version.clone();
        if let Some(data) = &self.data {
            let mut data = data.clone();
            substitute(&mut data, ids);
            req.body = data.to_string().into_bytes();
        }
        req
    }

    /// A value of the data by case-insensitive attribute name.
    pub(super) fn data_str(&self, name: &str) -> Option<&str> {
        match &self.data {
            Some(Value::Object(o)) => member(o, name).and_then(Value::as_str),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: Value) -> ScimRequest {
        let mut req = ScimRequest::new(Method::Post, "/Bulk", "https://x/scim/v2");
        req.body = body.to_string().into_bytes();
        req
    }

    fn parse_body(body: Value) -> ScimResult<BulkRequest> {
        parse(&Limits::default(), &request(body))
    }

    #[test]
    fn references_are_found_in_paths_and_anywhere_in_data() {
        let r = parse_body(json!({
            "schemas": [BULK_REQUEST_SCHEMA],
            "Operations": [
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"displayName": "G", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}, {"value": "bulkId:u1"}]}},
                {"method": "patch", "path": "/Users/bulkId:u3", "data": {}}
            ]
        }))
        .expect("a bulk request");
        assert_eq!(r.operations[0].refs, ["u1", "u2"]);
        assert_eq!(r.operations[1].refs, ["u3"]);
        assert_eq!(r.operations[1].method, Method::Patch);
        let ids = HashMap::from([("u1", "id-1"), ("u2", "id-2"), ("u3", "id-3")]);
        let env = request(json!({}));
        let sub = r.operations[1].to_request(&env, &ids);
        assert_eq!(sub.path, "/Users/id-3");
        let sub = r.operations[0].to_request(&env, &ids);
        let data: Value = serde_json::from_slice(&sub.body).expect("json");
        assert_eq!(data["members"][1]["value"], "id-2");
    }

    #[test]
    fn malformed_requests_are_invalid_syntax() {
        let op = json!({"method": "POST", "path": "/Users", "bulkId": "a", "data": {}});
        for body in [
            json!([]),
            json!({"Operations": []}),
            json!({"schemas": [BULK_REQUEST_SCHEMA]}),
            json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [1]}),
            json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [{"method": "GET", "path": "/Users"}]}),
            json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [{"method": "POST", "path": "/Users"}]}),
            json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [{"method": "DELETE", "path": "Users/1"}]}),
            json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [op, op]}),
            json!({"schemas": [BULK_REQUEST_SCHEMA], "failOnErrors": 0, "Operations": []}),
        ] {
            let e = parse_body(body.clone()).expect_err("refused");
            assert_eq!(e.scim_type(), Some("invalidSyntax"), "{body}: {e}");
        }
    }

    #[test]
    fn operations_beyond_the_limit_are_413() {
        let op = json!({"method": "DELETE", "path": "/Users/1"});
        let limits = Limits {
            max_bulk_operations: 2,
            ..Limits::default()
        };
        let body = json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [op, op, op]});
        let e = parse(&limits, &request(body)).expect_err("refused");
        assert_eq!(e.status(), 413);
    }

    #[test]
    fn only_resource_operations_route() {
        let r = parse_body(json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [
            {"method": "POST", "path": "/Users/.search", "bulkId": "s", "data": {}},
            {"method": "POST", "path": "/Bulk", "bulkId": "b", "data": {}},
            {"method": "PUT", "path": "/Groups/1", "data": {}},
        ]}))
        .expect("a bulk request");
        assert!(r.operations[0].route.is_err());
        assert!(r.operations[1].route.is_err());
        assert!(r.operations[2].route.is_ok());
    }
}
