//! `scimctl import` through its library entry point, on the selected store backend: JSONL users
//! and groups, CSV with a mapping, idempotent re-runs, failed rows, resume from a checkpoint,
//! dry runs. Fixtures are under tests/data/import.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use scim_shared::ops::Limits;
use scim_tests::{ENTERPRISE, TestServer, enc, member_ids};
use scimctl::import::{self, Checkpoint, Format, Options, Phase, Summary};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/import")
        .join(name)
}

/// A copy of a fixture in a fresh directory (so that its checkpoint lands there).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scim-import-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let to = dir.join(name);
    std::fs::copy(fixture(name), &to).expect("copy fixture");
    to
}

async fn server() -> TestServer {
    TestServer::with_store(scim_tests::fresh_store().await, Limits::default()).await
}

async fn run(srv: &TestServer, opts: &Options) -> Summary {
    import::run(srv.store.clone(), "acme", opts, &AtomicBool::new(false))
        .await
        .expect("import runs")
}

async fn user(srv: &TestServer, user_name: &str) -> Value {
    let filter = enc(&format!("userName eq \"{user_name}\""));
    let r = srv.client.get(&format!("/Users?filter={filter}")).await;
    r.body["Resources"][0].clone()
}

async fn group_members(srv: &TestServer, name: &str) -> Vec<String> {
    let filter = enc(&format!("displayName eq \"{name}\""));
    let r = srv.client.get(&format!("/Groups?filter={filter}")).await;
    let id = r.body["Resources"][0]["id"]
        .as_str()
        .expect("group")
        .to_string();
    let g = srv.client.get(&format!("/Groups/{id}")).await.expect(200);
    member_ids(&g.body)
}

async fn events(srv: &TestServer) -> usize {
    let now = time::OffsetDateTime::now_utc();
    scim_shared::events::outbox::read(&*srv.store, "acme", now - time::Duration::hours(1), now)
        .await
        .expect("outbox")
        .len()
}

#[tokio::test]
async fn jsonl_imports_users_before_groups_with_members_by_user_name() {
    let srv = server().await;
    let input = scratch("directory.jsonl");
    let s = run(&srv, &Options::new(&input)).await;
    assert_eq!((s.users.created, s.groups.created), (3, 2), "{s:?}");
    assert!(s.failures.is_empty(), "{:?}", s.failures);
    let alice = user(&srv, "alice@example.com").await;
    assert_eq!(alice[ENTERPRISE]["department"], "R&D");
    let bob = user(&srv, "bob@example.com").await;
    let mut expected = vec![
        alice["id"].as_str().expect("id").to_string(),
        bob["id"].as_str().expect("id").to_string(),
    ];
    expected.sort();
    assert_eq!(group_members(&srv, "Engineering").await, expected);
    assert_eq!(group_members(&srv, "Everyone").await.len(), 3);
    assert!(
        !import::default_checkpoint(&input).exists(),
        "a finished run removes its checkpoint"
    );
    assert!(s.store.transactions >= 5, "the summary meters the store");
}

#[tokio::test]
async fn a_second_run_changes_nothing_and_a_changed_row_is_replaced() {
    let srv = server().await;
    let input = scratch("directory.jsonl");
    run(&srv, &Options::new(&input)).await;
    let before = events(&srv).await;
    let again = run(&srv, &Options::new(&input)).await;
    assert_eq!(
        (again.users.unchanged, again.groups.unchanged),
        (3, 2),
        "{again:?}"
    );
    assert_eq!(again.users.created + again.users.updated, 0);
    assert_eq!(
        again.store.transactions + again.store.single_writes,
        0,
        "nothing written"
    );
    assert_eq!(events(&srv).await, before, "no new event");
    // A changed title, and a user matched by externalId under a new userName.
    let text = std::fs::read_to_string(&input)
        .expect("read")
        .replace("\"title\":\"Manager\"", "\"title\":\"Director\"")
        .replace(
            "\"userName\":\"bob@example.com\"",
            "\"userName\":\"robert@example.com\"",
        )
        .replace("userName:bob@example.com", "userName:robert@example.com")
        .replace("userName:BOB@example.com", "userName:Robert@example.com");
    std::fs::write(&input, text).expect("write");
    let changed = run(&srv, &Options::new(&input)).await;
    assert_eq!(
        (
            changed.users.updated,
            changed.users.unchanged,
            changed.users.created
        ),
        (2, 1, 0),
        "{changed:?}"
    );
    assert_eq!(user(&srv, "carol@example.com").await["title"], "Director");
    assert_eq!(user(&srv, "robert@example.com").await["externalId"], "e-2");
    assert_eq!(changed.groups.unchanged, 2, "members are the same users");
}

#[tokio::test]
async fn csv_rows_map_columns_to_attributes() {
    let srv = server().await;
    let input = scratch("people.csv");
    let mut opts = Options::new(&input);
    assert_eq!(opts.format, Format::Csv);
    opts.map = vec![
        ("Cell".into(), "phoneNumbers.mobile".into()),
        ("Notes".into(), "-".into()),
    ];
    let s = run(&srv, &opts).await;
    assert_eq!((s.users.created, s.unreadable), (3, 1), "{s:?}");
    assert_eq!(s.failures[0].line, 6, "the failed row starts on line 6");
    assert!(s.failures[0].detail.contains("active"), "{:?}", s.failures);
    let bob = user(&srv, "bob@example.com").await;
    assert_eq!(bob["name"]["familyName"], "Builder, Jr.");
    assert_eq!(bob["active"], false);
    assert_eq!(bob[ENTERPRISE]["department"], "Ops");
    let alice = user(&srv, "alice@example.com").await;
    assert_eq!(alice["phoneNumbers"][0]["type"], "mobile");
    assert_eq!(alice["emails"][0]["value"], "alice@example.com");
    // Without a target for `Cell` and `Notes`, the run stops before any row.
    let err = import::run(
        srv.store.clone(),
        "acme",
        &Options::new(&input),
        &AtomicBool::new(false),
    )
    .await;
    assert!(matches!(err, Err(import::ImportError::Mapping { .. })));
}

#[tokio::test]
async fn failed_rows_are_listed_with_lines_and_the_others_imported() {
    let srv = server().await;
    let s = run(&srv, &Options::new(scratch("bad.jsonl"))).await;
    let lines: Vec<u64> = s.failures.iter().map(|f| f.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 7], "{:?}", s.failures);
    assert_eq!(s.failures[1].status, Some(400));
    assert!(s.failures[1].detail.contains("userName"));
    assert_eq!(s.failures[2].scim_type.as_deref(), Some("invalidValue"));
    assert!(s.failures[4].detail.contains("nobody@example.com"));
    assert_eq!((s.users.created, s.unreadable), (2, 2));
    assert!(user(&srv, "grace@example.com").await["id"].is_string());
}

#[tokio::test]
async fn a_run_resumes_after_the_checkpointed_line() {
    let srv = server().await;
    let input = scratch("directory.jsonl");
    let opts = Options::new(&input);
    // As if a run had stopped with every user up to line 4 done (alice, bob).
    Checkpoint {
        tenant: "acme".into(),
        format: Format::Jsonl,
        input_bytes: std::fs::metadata(&input).expect("meta").len(),
        phase: Phase::Users,
        line: 4,
    }
    .save(opts.checkpoint.as_deref().expect("checkpoint path"))
    .expect("save");
    let s = run(&srv, &opts).await;
    assert_eq!(s.resumed.map(|r| r.after_line), Some(4));
    assert_eq!(s.users.created, 1, "only carol is after line 4");
    assert!(user(&srv, "alice@example.com").await.is_null());
    // Group members named by userName are looked up when this run did not create them: alice
    // and bob do not exist, so both groups fail and say why.
    assert_eq!(s.groups.failed, 2);
    assert!(!opts.checkpoint.as_deref().expect("path").exists());

    // An interrupted run saves where it stopped; the next one finishes the file.
    let stop = AtomicBool::new(true);
    let s = import::run(srv.store.clone(), "acme", &opts, &stop)
        .await
        .expect("run");
    assert!(s.interrupted);
    assert!(opts.checkpoint.as_deref().expect("path").exists());
    let s = run(&srv, &opts).await;
    assert_eq!((s.users.created, s.users.unchanged), (2, 1), "{s:?}");
    assert_eq!(s.groups.created, 2);
}

#[tokio::test]
async fn a_checkpoint_of_another_input_is_refused() {
    let srv = server().await;
    let input = scratch("directory.jsonl");
    let opts = Options::new(&input);
    Checkpoint {
        tenant: "acme".into(),
        format: Format::Jsonl,
        input_bytes: 1,
        phase: Phase::Users,
        line: 3,
    }
    .save(opts.checkpoint.as_deref().expect("path"))
    .expect("save");
    let err = import::run(srv.store.clone(), "acme", &opts, &AtomicBool::new(false)).await;
    assert!(matches!(err, Err(import::ImportError::Checkpoint { .. })));
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let srv = server().await;
    let input = scratch("directory.jsonl");
    let mut opts = Options::new(&input);
    opts.dry_run = true;
    let s = run(&srv, &opts).await;
    assert_eq!((s.users.created, s.groups.created), (3, 2), "{s:?}");
    assert!(s.dry_run);
    assert_eq!(s.store.transactions + s.store.single_writes, 0);
    let list = srv.client.get("/Users").await.expect(200);
    assert_eq!(list.body["totalResults"], 0);
    assert_eq!(events(&srv).await, 0);
    assert!(!import::default_checkpoint(&input).exists());
    let bad = run(&srv, &{
        let mut o = Options::new(scratch("bad.jsonl"));
        o.dry_run = true;
        o
    })
    .await;
    assert_eq!(bad.failures.len(), 5, "{:?}", bad.failures);
}

#[tokio::test]
async fn an_unknown_tenant_is_an_error() {
    let srv = server().await;
    let err = import::run(
        srv.store.clone(),
        "nobody",
        &Options::new(scratch("directory.jsonl")),
        &AtomicBool::new(false),
    )
    .await;
    assert!(matches!(err, Err(import::ImportError::UnknownTenant(_))));
}
