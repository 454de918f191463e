//! In which order, and how many at a time, the operations of a bulk request run.
//!
//! Operations run in the order of the request, except that a POST runs before the first
//! operation that refers to its bulkId (RFC 7644 §3.7.2 lets a reference come before the POST).
//! Operations on a cycle of references do not run and answer 409 (§3.7.1 allows it), as does an
//! operation referring to a bulkId no operation of the request has.
//!
//! Consecutive POSTs run at the same time (in waves of at most `concurrency`) when none refers
//! to another POST of its wave and no two of them claim the same unique value (userName,
//! externalId, displayName), so that the outcome is the one of running them one by one. Every
//! other operation runs alone. How many at a time is the store's to say
//! ([`crate::store::Store::concurrent_writes`]).

use std::collections::{HashMap, HashSet};

use super::request::BulkOperation;
use crate::protocol::error::ScimError;
use crate::protocol::router::Operation;
use crate::store::keys::Unique;

/// The run order and the operations that must not run, with their error.
#[derive(Debug)]
pub(super) struct Plan {
    /// Indices into the request's operations, in the order they run.
    pub order: Vec<usize>,
    /// Per operation, why it does not run.
    pub refused: Vec<Option<ScimError>>,
}

pub(super) fn plan(ops: &[BulkOperation]) -> Plan {
    let definer: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.method == crate::protocol::http::Method::Post)
        .filter_map(|(i, op)| op.bulk_id.as_deref().map(|b| (b, i)))
        .collect();
    let mut refused: Vec<Option<ScimError>> = vec![None; ops.len()];
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let mut d = Vec::new();
        for r in &op.refs {
            match definer.get(r.as_str()) {
                Some(&j) => d.push(j),
                None => {
                    refused[i].get_or_insert_with(|| {
                        ScimError::Conflict(format!(
                            "bulkId '{r}' is not the bulkId of a POST of this request"
                        ))
                    });
                }
            }
        }
        deps.push(d);
    }
    // Depth-first post-order without recursion: a POST is emitted before what refers to it.
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let mut state = vec![State::New; ops.len()];
    let mut order = Vec::with_capacity(ops.len());
    for start in 0..ops.len() {
        if state[start] != State::New {
            continue;
        }
        state[start] = State::OnPath;
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some(top) = path.last_mut() {
            let (node, next) = *top;
            if let Some(&dep) = deps[node].get(next) {
                top.1 += 1;
                match state[dep] {
                    State::New => {
                        state[dep] = State::OnPath;
                        path.push((dep, 0));
                    }
                    State::OnPath => {
                        let from = path.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        for &(n, _) in &path[from..] {
                            refused[n].get_or_insert_with(|| {
                                ScimError::Conflict(format!(
                                    "the bulkId references of Operations[{n}] are circular"
                                ))
                            });
                        }
                    }
                    State::Done => {}
                }
            } else {
                state[node] = State::Done;
                order.push(node);
                path.pop();
            }
        }
    }
    Plan { order, refused }
}

/// The markers of the unique values a POST claims (case folded as the store folds them).
fn claims(op: &BulkOperation) -> Vec<String> {
    let Ok(Operation::Create(kind)) = op.route else {
        return Vec::new();
    };
    let u = Unique::of(kind);
    op.data_str(u.attribute())
        .map(|v| u.marker("", v).pk)
        .into_iter()
        .collect()
}

impl Plan {
    /// The end (exclusive, into `order`) of the wave that starts at `start`: at least one
    /// operation, at most `limit`.
    pub fn wave_end(&self, ops: &[BulkOperation], start: usize, limit: usize) -> usize {
        let concurrent = |i: usize| {
            matches!(ops[i].route, Ok(Operation::Create(_))) && self.refused[i].is_none()
        };
        let first = self.order[start];
        if !concurrent(first) {
            return start + 1;
        }
        let mut in_wave: HashSet<&str> = HashSet::new();
        let mut claimed: HashSet<String> = claims(&ops[first]).into_iter().collect();
        in_wave.extend(ops[first].bulk_id.as_deref());
        let mut end = start + 1;
        while end < self.order.len() && end - start < limit {
            let i = self.order[end];
            let op = &ops[i];
            let c = claims(op);
            if !concurrent(i)
                || op.refs.iter().any(|r| in_wave.contains(r.as_str()))
                || c.iter().any(|m| claimed.contains(m))
            {
                break;
            }
            claimed.extend(c);
            in_wave.extend(op.bulk_id.as_deref());
            end += 1;
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::super::request::{BULK_REQUEST_SCHEMA, parse};
    use super::*;
    use crate::ops::Limits;
    use crate::protocol::http::{Method, ScimRequest};
    use serde_json::{Value, json};

    fn ops(list: Value) -> Vec<BulkOperation> {
        let mut req = ScimRequest::new(Method::Post, "/Bulk", "https://x/scim/v2");
        req.body = json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": list})
            .to_string()
            .into_bytes();
        parse(&Limits::default(), &req)
            .expect("a bulk request")
            .operations
    }

    fn user(bulk_id: &str, name: &str) -> Value {
        json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": {"userName": name}})
    }

    fn group(bulk_id: &str, members: &[&str]) -> Value {
        let m: Vec<Value> = members
            .iter()
            .map(|b| json!({"value": format!("bulkId:{b}")}))
            .collect();
        json!({"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": {"displayName": bulk_id, "members": m}})
    }

    #[test]
    fn a_forward_reference_runs_its_post_first() {
        let o = ops(json!([group("g", &["u"]), user("u", "alice")]));
        let p = plan(&o);
        assert_eq!(p.order, [1, 0]);
        assert!(p.refused.iter().all(Option::is_none));
    }

    #[test]
    fn cycles_and_unknown_references_are_refused_with_409() {
        let o = ops(json!([
            group("a", &["b"]),
            group("b", &["a"]),
            group("c", &["nope"]),
            group("d", &["a"]),
            group("e", &["e"]),
        ]));
        let p = plan(&o);
        let status: Vec<Option<u16>> = p
            .refused
            .iter()
            .map(|e| e.as_ref().map(ScimError::status))
            .collect();
        // d refers to a refused POST: it fails when it runs, not in the plan.
        assert_eq!(status, [Some(409), Some(409), Some(409), None, Some(409)]);
        let mut order = p.order;
        order.sort_unstable();
        assert_eq!(order, [0, 1, 2, 3, 4], "every operation is placed once");
    }

    #[test]
    fn independent_posts_share_a_wave_and_the_rest_run_alone() {
        let o = ops(json!([
            user("u1", "a"),
            user("u2", "b"),
            user("u3", "A"),
            user("u4", "c"),
            group("g", &["u4"]),
            {"method": "DELETE", "path": "/Users/1"},
            user("u5", "d"),
        ]));
        let p = plan(&o);
        assert_eq!(p.order, [0, 1, 2, 3, 4, 5, 6]);
        // u3 claims the userName of u1 (case-insensitively): a new wave.
        assert_eq!(p.wave_end(&o, 0, 16), 2);
        // g refers to u4 of the same wave.
        assert_eq!(p.wave_end(&o, 2, 16), 4);
        assert_eq!(p.wave_end(&o, 4, 16), 5);
        assert_eq!(p.wave_end(&o, 5, 16), 6);
        assert_eq!(p.wave_end(&o, 0, 1), 1);
    }
}
