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

use std::path::Path;

use scim_tests::TestServer;
use scim_tests::replay::{self, ANY, Vars, encode_query, fixtures, load, subset, substitute};

/// Replays one fixture file against a fresh server.
async fn replay_file(file: &Path) -> replay::Replayed {
    match load(file) {
        Ok(fixture) => replay::replay(&fixture, &TestServer::start().await.client).await,
        Err(e) => replay::Replayed {
            failure: Some(e),
            ..replay::Replayed::default()
        },
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
        let r = replay_file(file).await;
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
