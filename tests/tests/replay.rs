//! Replay suites: request/response sequences taken from the identity providers' own documentation
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

use scim_tests::{Reply, TestServer, enc};
use serde_json::Value;

/// Saved values of one replay, by name.
type Vars = BTreeMap<String, String>;

/// The wildcard expected value.
const ANY: &str = "${any}";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// The fixture files of one suite (`entra`, `okta`), sorted.
fn fixtures(suite: &str) -> Vec<PathBuf> {
    let dir = data_dir().join(suite);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn load(file: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))
}

/// Replaces `${name}` by saved values in a string; an unknown name is an error. `${any}` is left.
fn substitute(text: &str, vars: &Vars) -> Result<String, String> {
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
fn substitute_value(v: &Value, vars: &Vars) -> Result<Value, String> {
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
fn encode_query(path: &str) -> String {
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
fn subset(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
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
async fn send(srv: &TestServer, request: &Value, vars: &Vars) -> Result<Reply, String> {
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
            let anonymous = srv.client.with_token(None);
            let headers = [("authorization", auth)];
            anonymous.send(method, &path, body, &headers).await
        }
        None => srv.client.send(method, &path, body, &[]).await,
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

/// One step: send, save, check.
async fn run_step(srv: &TestServer, step: &Value, vars: &mut Vars) -> Result<(), String> {
    let reply = send(srv, &step["request"], vars).await?;
    save(step, &reply, vars)?;
    check(&step["expect"], &reply, vars)
}

/// What a replay of one file came to.
struct Replayed {
    passed: usize,
    total: usize,
    /// The first failing step and why; later steps are not run, as they depend on it.
    failure: Option<String>,
}

/// Replays one fixture file against a fresh server.
async fn replay(file: &Path) -> Replayed {
    let fixture = match load(file) {
        Ok(f) => f,
        Err(e) => {
            return Replayed {
                passed: 0,
                total: 0,
                failure: Some(e),
            };
        }
    };
    let steps = fixture["steps"].as_array().cloned().unwrap_or_default();
    let srv = TestServer::start().await;
    let mut vars = Vars::from([("base".to_string(), srv.base.clone())]);
    let mut passed = 0;
    for step in &steps {
        if let Err(e) = run_step(&srv, step, &mut vars).await {
            let name = step["name"].as_str().unwrap_or("(unnamed)");
            return Replayed {
                passed,
                total: steps.len(),
                failure: Some(format!("step '{name}': {e}")),
            };
        }
        passed += 1;
    }
    Replayed {
        passed,
        total: steps.len(),
        failure: None,
    }
}

/// Replays every file of a suite, prints the pass counts and fails naming file and step.
async fn replay_suite(suite: &str) {
    let files = fixtures(suite);
    assert!(!files.is_empty(), "no fixtures in tests/data/{suite}");
    let mut failures = Vec::new();
    let (mut passed, mut total) = (0, 0);
    for file in &files {
        let name = format!(
            "{suite}/{}",
            file.file_name().unwrap_or_default().to_string_lossy()
        );
        let r = replay(file).await;
        println!("replay {name}: {}/{} steps passed", r.passed, r.total);
        passed += r.passed;
        total += r.total;
        if let Some(f) = r.failure {
            failures.push(format!("{name}: {f}"));
        }
    }
    println!(
        "replay {suite}: {passed}/{total} steps passed in {} files",
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn entra_request_response_examples_replay() {
    replay_suite("entra").await;
}

#[tokio::test]
async fn okta_request_response_examples_replay() {
    replay_suite("okta").await;
}

/// Checks the shape of one fixture file.
fn well_formed(file: &Path) -> Result<(), String> {
    let fixture = load(file)?;
    let source = fixture["source"].as_str().unwrap_or_default();
    if !source.starts_with("https://") {
        return Err("'source' must be the https URL the sequence was taken from".into());
    }
    let steps = fixture["steps"]
        .as_array()
        .ok_or("'steps' must be an array")?;
    if steps.is_empty() {
        return Err("no steps".into());
    }
    let mut names = Vec::new();
    for step in steps {
        let name = step["name"].as_str().ok_or("every step needs a name")?;
        if names.contains(&name) {
            return Err(format!("step name '{name}' is used twice"));
        }
        names.push(name);
        let request = &step["request"];
        if request["method"].as_str().is_none() || request["path"].as_str().is_none() {
            return Err(format!("step '{name}': request.method and request.path"));
        }
        if step["expect"]["status"].as_u64().is_none() {
            return Err(format!("step '{name}': expect.status"));
        }
    }
    Ok(())
}

#[test]
fn every_fixture_names_its_source_and_its_steps() {
    let failures: Vec<String> = ["entra", "okta"]
        .iter()
        .flat_map(|suite| fixtures(suite))
        .filter_map(|f| {
            well_formed(&f)
                .err()
                .map(|e| format!("{}: {e}", f.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_subset_matcher_ignores_extra_members_but_not_extra_elements() {
    let actual = serde_json::json!({"id": "1", "a": [{"x": 1, "y": 2}, {"x": 3}], "b": null});
    assert!(subset(&serde_json::json!({"a": [{"x": 3}, {"x": 1}]}), &actual, "").is_ok());
    assert!(subset(&serde_json::json!({"id": ANY}), &actual, "").is_ok());
    assert!(subset(&serde_json::json!({"b": ANY}), &actual, "").is_err());
    assert!(subset(&serde_json::json!({"a": [{"x": 1}]}), &actual, "").is_err());
    assert!(subset(&serde_json::json!({"c": 1}), &actual, "").is_err());
    let vars = Vars::from([("id".to_string(), "42".to_string())]);
    assert_eq!(
        substitute("/Users/${id}?q=${any}", &vars).as_deref(),
        Ok("/Users/42?q=${any}")
    );
    assert!(substitute("${nope}", &vars).is_err());
    assert_eq!(
        encode_query("/Users?aadOptscim062020&filter=a eq \"b\""),
        "/Users?aadOptscim062020&filter=a%20eq%20%22b%22"
    );
}
