//! `POST /Bulk` (RFC 7644 §3.7): many resource operations in one request.
//!
//! Each operation is handed, as the single request it stands for, to an executor the caller
//! supplies (the service runs it exactly as if it had been sent alone: dialect, audit record,
//! lifecycle events). A bulk request is not atomic: every operation commits on its own, and a
//! failed one leaves the others in place. [`plan`] says in which order and how many at a time
//! the operations run; `failOnErrors` stops the run after that many failed operations, and the
//! operations not run are not listed.

mod plan;
mod request;

use std::collections::HashMap;
use std::pin::Pin;
use std::task::Poll;

use serde_json::{Map, Value, json};

use request::BulkOperation;

use crate::ops::Limits;
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::http::{Method, ScimRequest, ScimResponse};

/// The BulkResponse schema URN.
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Runs a bulk request, at most `concurrency` operations at a time. `execute` answers one
/// operation's single request and returns what the caller keeps of it (its response included);
/// those are returned in the order the operations ran. 400 / 413 when the request is not a BulkRequest within the limits; else 200 with the
/// result of every operation that ran, in the order of the request.
pub async fn run<F, Fut, T>(
    limits: &Limits,
    concurrency: usize,
    req: &ScimRequest,
    execute: F,
) -> ScimResult<(ScimResponse, Vec<T>)>
where
    F: Fn(ScimRequest) -> Fut,
    Fut: Future<Output = T>,
    T: AsRef<ScimResponse>,
{
    let bulk = request::parse(limits, req)?;
    let ops = &bulk.operations;
    let plan = plan::plan(ops);
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    // bulkId -> id of the resource its POST created; `None` when the POST failed.
    let mut created: HashMap<&str, Option<String>> = HashMap::new();
    let mut executed = Vec::new();
    let mut errors = 0;
    let mut start = 0;
    while start < plan.order.len() {
        let left = bulk
            .fail_on_errors
            .map_or(usize::MAX, |f| f.saturating_sub(errors));
        // A wave never holds more operations than errors may still happen, so that a run
        // stopped by failOnErrors has run nothing after its last counted error.
        let end = plan.wave_end(ops, start, concurrency.max(1).min(left));
        let mut running = Vec::new();
        for &i in &plan.order[start..end] {
            let op = &ops[i];
            match prepare(op, plan.refused[i].as_ref(), &created, req) {
                Ok(sub) => {
                    let path = sub.path.clone();
                    running.push(((i, path), execute(sub)));
                }
                Err(e) => {
                    errors += 1;
                    // A path with an unresolved reference names no resource.
                    let path = op.refs.is_empty().then_some(op.path.as_str());
                    results[i] = Some(result(op, req, path, &ScimResponse::error(&e)));
                    if let Some(b) = op.bulk_id.as_deref() {
                        created.insert(b, None);
                    }
                }
            }
        }
        let (indices, futures): (Vec<(usize, String)>, Vec<Fut>) = running.into_iter().unzip();
        for ((i, path), out) in indices.into_iter().zip(join_all(futures).await) {
            let op = &ops[i];
            let response = out.as_ref();
            if response.status >= 400 {
                errors += 1;
            }
            if let Some(b) = op.bulk_id.as_deref()
                && op.method == Method::Post
            {
                let id = response
                    .body
                    .as_ref()
                    .filter(|_| response.status == 201)
                    .and_then(|b| b.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                created.insert(b, id);
            }
            results[i] = Some(result(op, req, Some(&path), response));
            executed.push(out);
        }
        start = end;
        if bulk.fail_on_errors.is_some_and(|f| errors >= f) {
            break;
        }
    }
    let listed: Vec<Value> = results.into_iter().flatten().collect();
    let body = json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": listed});
    Ok((ScimResponse::json(200, body), executed))
}

/// The single request of an operation, or why it cannot run: refused by the plan, or referring
/// to a bulkId whose POST failed.
fn prepare(
    op: &BulkOperation,
    refused: Option<&ScimError>,
    created: &HashMap<&str, Option<String>>,
    envelope: &ScimRequest,
) -> ScimResult<ScimRequest> {
    if let Some(e) = refused {
        return Err(e.clone());
    }
    op.route.as_ref().map_err(Clone::clone)?;
    let mut ids = HashMap::new();
    for r in &op.refs {
        match created.get(r.as_str()) {
            Some(Some(id)) => {
                ids.insert(r.as_str(), id.as_str());
            }
            _ => {
                return Err(ScimError::Conflict(format!(
                    "bulkId '{r}' refers to a POST of this request that failed"
                )));
            }
        }
    }
    Ok(op.to_request(envelope, &ids))
}

/// One element of the response's `Operations` (RFC 7644 §3.7.3): `location` except for a failed
/// POST, `version` when there is one, `status` as a string, and the Error on failure. `path` is
/// the operation's path with its references resolved, when they could be.
fn result(
    op: &BulkOperation,
    envelope: &ScimRequest,
    path: Option<&str>,
    response: &ScimResponse,
) -> Value {
    let mut r = Map::new();
    r.insert("method".into(), op.method.as_str().into());
    if let Some(b) = &op.bulk_id {
        r.insert("bulkId".into(), b.as_str().into());
    }
    if let Some(v) = &response.etag {
        r.insert("version".into(), v.as_str().into());
    }
    let location = match (&response.location, op.method, path) {
        (Some(l), _, _) => Some(l.clone()),
        (None, Method::Post, _) | (None, _, None) => None,
        (None, _, Some(p)) => Some(format!("{}{p}", envelope.base_url)),
    };
    if let Some(l) = location {
        r.insert("location".into(), l.into());
    }
    r.insert("status".into(), response.status.to_string().into());
    if response.status >= 400
        && let Some(b) = &response.body
    {
        r.insert("response".into(), b.clone());
    }
    Value::Object(r)
}

/// Runs futures at the same time on the current task and returns their outputs in order.
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
