//! The replay engine: request/response sequences taken from the identity providers' own documentation
//! (tests/data/entra/*.json, tests/data/okta/*.json), replayed in order over HTTP against a fresh
//! local server per file.
//!
//! A fixture is `{"source": URL, "steps": [step...]}`; a step is
//!
//! ```json
//! {"name": "Create User",
//!  "request": {"method": "POST", "path": "/Users?x=y", "body": {...}, "authorization": "..."},
//!  "expect": {"status": 201, "body": {...subset...}, "absent": ["/password"],
//!             "headers": {"content-type": "application/scim+json"}},
//!  "save": {"userId": "/id"}}
//! ```
//!
//! `${name}` in paths, bodies and expectations is replaced by a saved value (`${base}` is the
//! Tenant URL); `"${any}"` as an expected value matches any non-null value. The expected body is
//! a subset of the actual one: objects may have more members, arrays must have as many elements,
//! each matched by a distinct actual element in any order. `"body": null` expects no body. Saves
//! are taken before the expectations are checked, so a step can refer to what it created.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use crate::{Reply, Scim, enc};
use serde_json::Value;

/// Saved values of one replay, by name.
pub type Vars = BTreeMap<String, String>;

/// The wildcard expected value.
pub const ANY: &str = "${any}";

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// The fixture files of one suite (`entra`, `okta`), sorted.
pub fn fixtures(suite: &str) -> Vec<PathBuf> {
    let dir = data_dir().join(suite);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

pub fn load(file: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))
}

/// Replaces `${name}` by saved values in a string; an unknown name is an error. `${any}` is left.
pub fn substitute(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .ok_or_else(|| format!("unterminated '${{' in {text:?}"))?;
        let name = &rest[start + 2..end];
        match (name, vars.get(name)) {
            ("any", _) => out.push_str(ANY),
            (_, Some(v)) => out.push_str(v),
            (_, None) => return Err(format!("unknown variable ${{{name}}}")),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// [`substitute`] in every string of a JSON value, keys included.
pub fn substitute_value(v: &Value, vars: &Vars) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(substitute(s, vars)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| substitute_value(i, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((substitute(k, vars)?, substitute_value(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Percent-encodes the query parameter values of a path (`?filter=userName eq "x"`) as an
/// identity provider's HTTP client does. A parameter without `=` (`aadOptscim062020`) is kept.
pub fn encode_query(path: &str) -> String {
    let Some((p, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => format!("{k}={}", enc(v)),
            None => kv.to_string(),
        })
        .collect();
    format!("{p}?{}", params.join("&"))
}

/// Whether `expected` is a subset of `actual`; `Err` names the first difference by JSON pointer.
pub fn subset(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(s), a) if s == ANY => {
            if a.is_null() {
                Err(format!("{at}: expected a value, found none"))
            } else {
                Ok(())
            }
        }
        (Value::Object(e), Value::Object(a)) => e.iter().try_for_each(|(k, ev)| {
            let here = format!("{at}/{k}");
            match a.get(k) {
                Some(av) => subset(ev, av, &here),
                None => Err(format!("{here}: missing")),
            }
        }),
        (Value::Array(e), Value::Array(a)) => array_subset(e, a, at),
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{at}: expected {e}, got {a}")),
    }
}

/// Arrays of equal length whose expected elements each match a distinct actual element.
fn array_subset(expected: &[Value], actual: &[Value], at: &str) -> Result<(), String> {
    if expected.len() != actual.len() {
        return Err(format!(
            "{at}: expected {} elements, got {}: {}",
            expected.len(),
            actual.len(),
            Value::Array(actual.to_vec())
        ));
    }
    let mut used = vec![false; actual.len()];
    for (i, e) in expected.iter().enumerate() {
        let found = (0..actual.len()).find(|&j| !used[j] && subset(e, &actual[j], at).is_ok());
        match found {
            Some(j) => used[j] = true,
            None => {
                return Err(format!(
                    "{at}/{i}: no element matches {e} in {}",
                    Value::Array(actual.to_vec())
                ));
            }
        }
    }
    Ok(())
}

/// Sends a step's request.
async fn send(client: &Scim, request: &Value, vars: &Vars) -> Result<Reply, String> {
    let method = request["method"].as_str().ok_or("request.method missing")?;
    let path = request["path"].as_str().ok_or("request.path missing")?;
    let path = encode_query(&substitute(path, vars)?);
    let body = match request.get("body") {
        None => None,
        Some(Value::String(raw)) => Some(substitute(raw, vars)?.into_bytes()),
        Some(b) => Some(substitute_value(b, vars)?.to_string().into_bytes()),
    };
    Ok(match request["authorization"].as_str() {
        Some(auth) => {
            let anonymous = client.with_token(None);
            let headers = [("authorization", auth)];
            anonymous.send(method, &path, body, &headers).await
        }
        None => client.send(method, &path, body, &[]).await,
    })
}

/// Saves values of the response by JSON pointer.
fn save(step: &Value, reply: &Reply, vars: &mut Vars) -> Result<(), String> {
    let Some(Value::Object(saves)) = step.get("save") else {
        return Ok(());
    };
    for (name, pointer) in saves {
        let pointer = pointer.as_str().ok_or("save pointers are strings")?;
        let value = reply
            .body
            .pointer(pointer)
            .ok_or_else(|| format!("nothing at {pointer} to save as {name}: {}", reply.body))?;
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        vars.insert(name.clone(), text);
    }
    Ok(())
}

/// Checks a reply against a step's `expect`.
fn check(expect: &Value, reply: &Reply, vars: &Vars) -> Result<(), String> {
    let status = expect["status"].as_u64().ok_or("expect.status missing")?;
    if u64::from(reply.status) != status {
        return Err(format!(
            "expected status {status}, got {}: {}",
            reply.status, reply.body
        ));
    }
    if let Some(body) = expect.get("body") {
        let body = substitute_value(body, vars)?;
        subset(&body, &reply.body, "").map_err(|e| format!("body {e}\nactual: {}", reply.body))?;
    }
    for pointer in expect["absent"].as_array().into_iter().flatten() {
        let pointer = pointer.as_str().ok_or("absent pointers are strings")?;
        if let Some(v) = reply.body.pointer(pointer) {
            return Err(format!("{pointer} must be absent, found {v}"));
        }
    }
    for (name, value) in expect["headers"].as_object().into_iter().flatten() {
        let value = substitute(value.as_str().ok_or("header values are strings")?, vars)?;
        if reply.header(name) != Some(value.as_str()) {
            return Err(format!(
                "header {name}: expected {value:?}, got {:?}",
                reply.header(name)
            ));
        }
    }
    Ok(())
}

/// One step: send, save, check. Returns the request's round-trip time.
pub async fn run_step(client: &Scim, step: &Value, vars: &mut Vars) -> Result<Duration, String> {
    let started = Instant::now();
    let reply = send(client, &step["request"], vars).await?;
    let elapsed = started.elapsed();
    save(step, &reply, vars)?;
    check(&step["expect"], &reply, vars)?;
    Ok(elapsed)
}

/// What a replay of one file came to.
#[derive(Debug, Default)]
pub struct Replayed {
    pub passed: usize,
    pub total: usize,
    /// The first failing step and why; later steps are not run, as they depend on it.
    pub failure: Option<String>,
    /// Round-trip time of each passed step.
    pub latencies: Vec<Duration>,
}

/// Replays a loaded fixture with a client of a tenant that holds no data yet.
pub async fn replay(fixture: &Value, client: &Scim) -> Replayed {
    let steps = fixture["steps"].as_array().cloned().unwrap_or_default();
    let mut vars = Vars::from([("base".to_string(), client.base.clone())]);
    let mut out = Replayed {
        total: steps.len(),
        ..Replayed::default()
    };
    for step in &steps {
        match run_step(client, step, &mut vars).await {
            Ok(latency) => {
                out.passed += 1;
                out.latencies.push(latency);
            }
            Err(e) => {
                let name = step["name"].as_str().unwrap_or("(unnamed)");
                out.failure = Some(format!("step '{name}': {e}"));
                return out;
            }
        }
    }
    out
}
