//! Administration beside a running server: with `scimctl serve` holding an embedded store, every
//! command given the same `--store` works through the server (`scimctl::store_socket`), with the
//! output it has on a stopped server's store.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Server;

/// Runs `scimctl --store DIR ARGS…` to completion.
fn scimctl(store: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_scimctl"))
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("scimctl runs");
    assert!(
        output.status.success(),
        "scimctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_command_works_beside_a_running_server() {
    let store = tempfile::tempdir().expect("store");
    let logs = tempfile::tempdir().expect("logs");
    let server = Server::start(&store.path().display().to_string(), logs.path(), 0);
    let dir = store.path();

    let created = scimctl(dir, &["tenant", "create", "acme"]);
    assert_eq!(stdout(&created).trim(), "acme");
    assert!(stdout(&scimctl(dir, &["tenant", "list"])).contains("acme"));

    // A token issued beside the server works at once.
    let token = stdout(&scimctl(dir, &["token", "issue", "acme"]))
        .trim()
        .to_string();
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let user = post(
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada"}),
    )
    .await
    .expect("create user");
    assert_eq!(user.status(), 201);
    let group = post(
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng"}),
    )
    .await
    .expect("create group");
    assert_eq!(group.status(), 201);

    let log = stdout(&scimctl(dir, &["log", "acme"]));
    assert!(
        log.contains("CreateUser") && log.contains("CreateGroup"),
        "{log}"
    );
    let events = stdout(&scimctl(dir, &["events", "tail", "acme"]));
    assert!(
        events.contains("joiner") && events.contains("group.created"),
        "{events}"
    );

    scimctl(dir, &["roles", "set", "acme", "Eng", "--role", "admin"]);
    assert!(stdout(&scimctl(dir, &["roles", "list", "acme"])).contains("admin"));

    let secret = stdout(&scimctl(
        dir,
        &["webhook", "set", "acme", "http://127.0.0.1:9/hook"],
    ));
    assert!(!secret.trim().is_empty());
    assert!(stdout(&scimctl(dir, &["webhook", "show", "acme"])).contains("127.0.0.1:9/hook"));

    let checkpoint = logs.path().join("import.checkpoint");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/import/directory.jsonl");
    let imported = scimctl(
        dir,
        &[
            "import",
            "acme",
            &data.display().to_string(),
            "--checkpoint",
            &checkpoint.display().to_string(),
            "--quiet",
            "--json",
        ],
    );
    let summary: Value = serde_json::from_slice(&imported.stdout).expect("import summary");
    assert_eq!(summary["users"]["created"], 3, "{summary}");
    assert_eq!(summary["groups"]["created"], 2, "{summary}");

    // events tail --follow sees a change the server makes after it started.
    let follow_out = logs.path().join("follow.out");
    let mut follow = Command::new(env!("CARGO_BIN_EXE_scimctl"))
        .arg("--store")
        .arg(dir)
        .args(["events", "tail", "acme", "--follow", "--json"])
        .stdout(std::fs::File::create(&follow_out).expect("file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("follow");
    let later = post(
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "later"}),
    )
    .await
    .expect("create user");
    assert_eq!(later.status(), 201);
    let later_id = later.json::<Value>().await.expect("body")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let started = Instant::now();
    let seen = loop {
        let text = std::fs::read_to_string(&follow_out).unwrap_or_default();
        if text.contains(&later_id) || started.elapsed() > Duration::from_secs(30) {
            break text.contains(&later_id);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Later polls read the last 30 s again (requests in flight); nothing is printed twice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(
        seen,
        "events tail --follow did not show the new user's joiner"
    );
    let text = std::fs::read_to_string(&follow_out).unwrap_or_default();
    let ids: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("an event")["id"].to_string())
        .collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "an event printed twice: {text}");
    server.kill();
}
