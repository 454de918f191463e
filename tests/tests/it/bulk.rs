//! `POST /Bulk` (RFC 7644 §3.7) over HTTP: the RFC's example, bulkId references (forward,
//! unresolvable, circular), failOnErrors, the limits the service states, versions as If-Match,
//! and that every result the response lists is what reads back. Request bodies are files under
//! tests/data/bulk with `{{name}}` placeholders.

use scim_shared::protocol::http::Method;
use scim_shared::protocol::router::Operation;
use scim_tests::{Reply, Scim, TestServer, USER_SCHEMA};
use serde_json::{Value, json};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// A request body from tests/data/bulk, placeholders filled in.
fn fixture(name: &str, values: &[(&str, &str)]) -> Value {
    let path = format!("{}/data/bulk/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let filled = values.iter().fold(text, |t, (k, v)| {
        t.replace(&format!("{{{{{k}}}}}"), &v.replace('"', "\\\""))
    });
    serde_json::from_str(&filled).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Sends a bulk request; asserts the 200 BulkResponse and returns its operations.
async fn bulk(c: &Scim, body: &Value) -> Vec<Value> {
    let r = c.post("/Bulk", body).await.expect(200);
    assert_eq!(r.body["schemas"], json!([BULK_RESPONSE]), "{}", r.body);
    r.body["Operations"].as_array().expect("Operations").clone()
}

fn statuses(ops: &[Value]) -> Vec<&str> {
    ops.iter()
        .map(|o| o["status"].as_str().expect("status is a string"))
        .collect()
}

/// The id at the end of a result's location.
fn id_of(op: &Value) -> String {
    let l = op["location"].as_str().expect("location");
    l.rsplit('/').next().expect("id").to_string()
}

#[tokio::test]
async fn the_rfc_example_creates_a_user_and_a_group_that_refers_to_it_by_bulk_id() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let ops = bulk(c, &fixture("rfc-example", &[])).await;
    assert_eq!(statuses(&ops), ["201", "201"]);
    for (op, bulk_id, endpoint) in [(&ops[0], "qwerty", "Users"), (&ops[1], "ytrewq", "Groups")] {
        assert_eq!(op["method"], "POST");
        assert_eq!(op["bulkId"], bulk_id);
        assert_eq!(op["version"], "W/\"1\"");
        assert!(
            op["location"]
                .as_str()
                .is_some_and(|l| l.starts_with(&format!("{}/{endpoint}/", srv.base))),
            "{op}"
        );
        assert!(op.get("response").is_none(), "no body on success: {op}");
    }
    let (user, group) = (id_of(&ops[0]), id_of(&ops[1]));
    let g = c.get(&format!("/Groups/{group}")).await.expect(200).body;
    assert_eq!(g["members"][0]["value"], user.as_str());
    let u = c.get(&format!("/Users/{user}")).await.expect(200).body;
    assert_eq!(u["userName"], "Alice");
    assert_eq!(u["groups"][0]["value"], group.as_str());
}

#[tokio::test]
async fn a_forward_reference_runs_the_referenced_post_first_and_results_keep_request_order() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let ops = bulk(c, &fixture("forward-reference", &[])).await;
    assert_eq!(statuses(&ops), ["201", "200", "201"]);
    assert_eq!(ops[0]["bulkId"], "group");
    assert_eq!(ops[1]["method"], "PATCH");
    assert_eq!(ops[1]["version"], "W/\"2\"");
    assert_eq!(ops[2]["bulkId"], "user");
    let user = id_of(&ops[2]);
    assert_eq!(id_of(&ops[1]), user, "the PATCH path's reference resolved");
    let u = c.get(&format!("/Users/{user}")).await.expect(200).body;
    assert_eq!(u["title"], "Lead");
    assert_eq!(u["groups"][0]["value"], id_of(&ops[0]).as_str());
}

#[tokio::test]
async fn fail_on_errors_stops_the_run_and_lists_only_what_ran() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let ops = bulk(c, &fixture("fail-on-errors", &[])).await;
    assert_eq!(statuses(&ops), ["201", "400"]);
    assert_eq!(ops[1]["bulkId"], "broken");
    assert!(
        ops[1].get("location").is_none(),
        "a failed POST has no location"
    );
    assert_eq!(ops[1]["response"]["status"], "400");
    assert_eq!(
        ops[1]["response"]["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(c.count_users("userName eq \"first@example.com\"").await, 1);
    assert_eq!(c.count_users("userName eq \"never@example.com\"").await, 0);

    // Without failOnErrors every operation runs.
    let mut body = fixture("fail-on-errors", &[]);
    body.as_object_mut().expect("object").remove("failOnErrors");
    body["Operations"][0]["data"]["userName"] = json!("again@example.com");
    let ops = bulk(c, &body).await;
    assert_eq!(statuses(&ops), ["201", "400", "201"]);
    assert_eq!(c.count_users("userName eq \"never@example.com\"").await, 1);
}

#[tokio::test]
async fn unresolvable_and_circular_references_are_409_and_the_rest_runs() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    c.create_user("taken@example.com").await;
    let ops = bulk(
        c,
        &fixture("references", &[("existing", "taken@example.com")]),
    )
    .await;
    assert_eq!(
        statuses(&ops),
        ["409", "409", "409", "409", "409", "409", "201"]
    );
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    for op in &ops[1..6] {
        assert_eq!(op["response"]["status"], "409", "{op}");
        assert!(op["response"].get("scimType").is_none(), "{op}");
    }
    assert!(
        ops[5].get("location").is_none(),
        "an unresolved path names no resource"
    );
    let groups = c.get("/Groups?count=0").await.expect(200).body;
    assert_eq!(groups["totalResults"], 1, "only 'Fine' was created");
}

#[tokio::test]
async fn a_version_is_if_match_for_its_operation() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let created = c
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "v@example.com"}),
        )
        .await
        .expect(201);
    let (user, version) = (
        created.id(),
        created.header("etag").expect("etag").to_string(),
    );
    let ops = bulk(
        c,
        &fixture("versions", &[("user", &user), ("version", &version)]),
    )
    .await;
    // The DELETE names the version the second PATCH replaced.
    assert_eq!(statuses(&ops), ["412", "200", "412"]);
    assert_eq!(ops[1]["version"], "W/\"2\"");
    let location = format!("{}/Users/{user}", srv.base);
    assert!(
        ops.iter().all(|o| o["location"] == location.as_str()),
        "{ops:?}"
    );
    let u = c.get(&format!("/Users/{user}")).await.expect(200).body;
    assert_eq!(u["title"], "Current");
}

#[tokio::test]
async fn each_operation_answers_as_it_would_alone_and_reads_back() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let user = c.create_user("mixed@example.com").await;
    let group = c.create_group("Mixed").await;
    let values = [
        ("user", user.as_str()),
        ("group", group.as_str()),
        ("userName", "mixed@example.com"),
    ];
    let ops = bulk(c, &fixture("mixed", &values)).await;
    assert_eq!(statuses(&ops), ["200", "204", "404", "409", "204"]);
    assert_eq!(ops[0]["version"], "W/\"2\"");
    assert_eq!(ops[1]["location"], format!("{}/Groups/{group}", srv.base));
    assert_eq!(
        ops[2]["location"],
        format!("{}/Users/00000000-0000-7000-8000-000000000000", srv.base)
    );
    assert_eq!(ops[3]["response"]["scimType"], "uniqueness");
    assert_eq!(ops[4]["location"], format!("{}/Groups/{group}", srv.base));
    let u = c.get(&format!("/Users/{user}")).await.expect(200).body;
    assert_eq!(u["title"], "Replaced");
    assert!(u.get("groups").is_none_or(|g| g == &json!([])), "{u}");
    c.get(&format!("/Groups/{group}"))
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn the_service_provider_config_states_the_limits_and_they_are_enforced() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let spc = c.get("/ServiceProviderConfig").await.expect(200).body;
    assert_eq!(spc["bulk"]["supported"], true);
    let max_ops = spc["bulk"]["maxOperations"]
        .as_u64()
        .expect("maxOperations") as usize;
    let max_bytes = spc["bulk"]["maxPayloadSize"]
        .as_u64()
        .expect("maxPayloadSize") as usize;
    assert_eq!((max_ops, max_bytes), (1000, 1024 * 1024));

    let post = |i: usize| {
        json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
            "data": {"schemas": [USER_SCHEMA], "userName": format!("limit{i}")}})
    };
    let too_many: Vec<Value> = (0..=max_ops).map(post).collect();
    let r = c
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_REQUEST], "Operations": too_many}),
        )
        .await
        .expect_error(413, None);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("maxOperations")),
        "{}",
        r.body
    );

    let mut big = json!({"schemas": [BULK_REQUEST], "Operations": [post(0)]});
    let padding = max_bytes + 1 - big.to_string().len() + "\"\"".len();
    big["Operations"][0]["data"]["displayName"] = json!("x".repeat(padding));
    let bytes = big.to_string().into_bytes();
    assert!(bytes.len() > max_bytes);
    let r = c
        .send("POST", "/Bulk", Some(bytes), &[])
        .await
        .expect_error(413, None);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&max_bytes.to_string()))
    );
    assert_eq!(
        c.count_users("userName sw \"limit\"").await,
        0,
        "nothing ran"
    );

    for body in [
        json!({"Operations": []}),
        json!({"schemas": [BULK_REQUEST], "Operations": [{"method": "GET", "path": "/Users"}]}),
        json!({"schemas": [BULK_REQUEST], "Operations": [{"method": "POST", "path": "/Users", "data": {}}]}),
    ] {
        c.post("/Bulk", &body)
            .await
            .expect_error(400, Some("invalidSyntax"));
    }
    let r: Reply = c
        .send("POST", "/Bulk", Some(b"{\"schemas\": [".to_vec()), &[])
        .await;
    r.expect_error(400, Some("invalidSyntax"));
}

#[tokio::test]
async fn a_thousand_creates_in_one_request_are_all_stored() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let n = 1000;
    let operations: Vec<Value> = (0..n)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                "data": {"schemas": [USER_SCHEMA], "userName": format!("import{i:04}@example.com"),
                    "externalId": format!("ext-{i}")}})
        })
        .collect();
    let ops = bulk(
        c,
        &json!({"schemas": [BULK_REQUEST], "Operations": operations}),
    )
    .await;
    assert_eq!(ops.len(), n);
    for (i, op) in ops.iter().enumerate() {
        assert_eq!(op["status"], "201", "{op}");
        assert_eq!(op["bulkId"], format!("u{i}"));
    }
    let mut ids: Vec<String> = ops.iter().map(id_of).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
    assert_eq!(c.count_users("userName sw \"import\"").await, n as u64);
    // Spot checks: what the response says is what is stored.
    for i in [0, 499, 999] {
        let u = c
            .get(&format!("/Users/{}", id_of(&ops[i])))
            .await
            .expect(200)
            .body;
        assert_eq!(u["userName"], format!("import{i:04}@example.com"));
        assert_eq!(u["externalId"], format!("ext-{i}"));
    }
}

#[tokio::test]
async fn each_operation_is_recorded_as_if_sent_alone() {
    let srv = TestServer::start().await;
    let since = scim_shared::protocol::clock::now() - std::time::Duration::from_secs(1);
    let out = srv
        .call(Method::Post, "/Bulk", Some(&fixture("rfc-example", &[])))
        .await;
    assert_eq!(out.response.status, 200);
    assert_eq!(out.operation, Some(Operation::Bulk));
    assert_eq!(out.changes.len(), 2, "one change per created resource");
    assert!(!out.events.is_empty(), "the operations' lifecycle events");
    let until = scim_shared::protocol::clock::now() + std::time::Duration::from_secs(1);
    let records = scim_shared::audit::read(&*srv.store, "acme", since, until)
        .await
        .expect("audit log");
    let operations: Vec<&str> = records.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(operations, ["CreateUser", "CreateGroup"]);
    assert!(records.iter().all(|r| r.status == 201));
    assert_ne!(records[0].request_id, records[1].request_id);
}
