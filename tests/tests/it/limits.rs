//! Size limits over HTTP, on the backend `SCIM_TEST_BACKEND` selects: a resource whose stored
//! item would be larger than DynamoDB's 400 KB item limit is refused with 413 before anything is
//! written, whether it comes from POST, PUT, PATCH or one operation of a bulk request; a resource
//! whose item is just under the limit is stored and reads back whole. (That the limit is exact to
//! the byte is shown on the store itself: `store_conformance::items_over_the_size_limit_are_refused`.)
//!
//! Work limits: a PATCH holds at most `Limits::max_patch_operations` operations (413 above) and a
//! multi-valued attribute at most `resource::MAX_VALUES` values (400 above), which together bound
//! what one PATCH costs.

use scim_shared::ops::Limits;
use scim_shared::protocol::resource::MAX_VALUES;
use scim_shared::protocol::schema::ResourceKind;
use scim_shared::store::keys;
use scim_shared::store::{MAX_ITEM_BYTES, item_size};
use scim_tests::{Scim, TestServer, USER_SCHEMA};
use serde_json::{Value, json};

/// A user whose `name.formatted` is `len` characters long (ASCII: one byte each when stored).
fn user(user_name: &str, len: usize) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"formatted": "x".repeat(len)},
    })
}

/// The stored size of user `id`, as the store counts it against its item limit.
async fn stored_size(srv: &TestServer, id: &str) -> usize {
    let item = srv
        .store
        .get(&keys::resource("acme", ResourceKind::User, id))
        .await
        .expect("get")
        .expect("the user is stored");
    item_size(&item)
}

/// How far a user's stored size may be from a probe's with the same attributes: `meta.created`
/// and `meta.lastModified` are RFC 3339 with as many fractional digits as their milliseconds need
/// (none to three, and the dot), so each may be up to four bytes longer or shorter.
const SLACK: usize = 8;

/// The `name.formatted` length that made a probe user's stored item exactly [`MAX_ITEM_BYTES`]:
/// a user whose userName has the probe's length and whose formatted name has this length is
/// stored within [`SLACK`] bytes of the limit.
async fn largest_formatted(srv: &TestServer) -> usize {
    let probe = srv
        .client
        .post("/Users", &user("probe-0", 1))
        .await
        .expect(201);
    let overhead = stored_size(srv, &probe.id()).await - 1;
    srv.client
        .delete(&format!("/Users/{}", probe.id()))
        .await
        .expect(204);
    MAX_ITEM_BYTES - overhead
}

#[tokio::test]
async fn a_user_over_the_item_limit_is_refused_with_413_and_nothing_is_written() {
    let srv = TestServer::start().await;
    let huge = user("huge-user", 450 * 1024);
    let r = srv
        .client
        .post("/Users", &huge)
        .await
        .expect_error(413, None);
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(detail.contains(&MAX_ITEM_BYTES.to_string()), "{detail}");

    // No user, no count, no userName reserved.
    assert_eq!(srv.client.count_users("userName eq \"huge-user\"").await, 0);
    let all = srv.client.get("/Users?count=0").await.expect(200);
    assert_eq!(all.body["totalResults"], 0);
    srv.client
        .post("/Users", &user("huge-user", 10))
        .await
        .expect(201);
}

#[tokio::test]
async fn a_user_just_under_the_item_limit_is_stored_and_one_just_over_is_refused() {
    let srv = TestServer::start().await;
    let largest = largest_formatted(&srv).await;

    let under = srv
        .client
        .post("/Users", &user("limit-1", largest - SLACK))
        .await
        .expect(201);
    let size = stored_size(&srv, &under.id()).await;
    assert!(
        (MAX_ITEM_BYTES - 2 * SLACK..=MAX_ITEM_BYTES).contains(&size),
        "{size}"
    );
    let read = srv
        .client
        .get(&format!("/Users/{}", under.id()))
        .await
        .expect(200);
    assert_eq!(
        read.body["name"]["formatted"].as_str().map(str::len),
        Some(largest - SLACK)
    );

    srv.client
        .post("/Users", &user("limit-2", largest + SLACK + 1))
        .await
        .expect_error(413, None);
    assert_eq!(srv.client.count_users("userName eq \"limit-2\"").await, 0);
}

#[tokio::test]
async fn an_update_that_would_grow_a_user_over_the_limit_leaves_it_unchanged() {
    let srv = TestServer::start().await;
    let largest = largest_formatted(&srv).await;
    let created = srv
        .client
        .post("/Users", &user("grow-01", 10))
        .await
        .expect(201);
    let at = format!("/Users/{}", created.id());
    let etag = created.header("etag").expect("etag").to_string();

    srv.client
        .put(&at, &user("grow-01", largest + SLACK + 1))
        .await
        .expect_error(413, None);
    let patch = Scim::patch_body(json!([
        {"op": "replace", "path": "name.formatted", "value": "x".repeat(largest + SLACK + 1)}
    ]));
    srv.client.patch(&at, &patch).await.expect_error(413, None);

    let read = srv.client.get(&at).await.expect(200);
    assert_eq!(read.header("etag"), Some(etag.as_str()));
    assert_eq!(read.body["name"]["formatted"], "x".repeat(10));
}

#[tokio::test]
async fn one_oversized_operation_of_a_bulk_request_fails_alone() {
    let srv = TestServer::start().await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "big", "data": user("bulk-big", 450 * 1024)},
            {"method": "POST", "path": "/Users", "bulkId": "small", "data": user("bulk-small", 10)},
        ]
    });
    let r = srv.client.post("/Bulk", &body).await.expect(200);
    let ops = r.body["Operations"].as_array().expect("Operations");
    let status = |bulk_id: &str| {
        ops.iter()
            .find(|o| o["bulkId"] == bulk_id)
            .map(|o| o["status"].clone())
    };
    assert_eq!(status("big"), Some(json!("413")), "{}", r.body);
    assert_eq!(status("small"), Some(json!("201")), "{}", r.body);
    assert_eq!(srv.client.count_users("userName eq \"bulk-big\"").await, 0);
}

/// The request body limit (`maxPayloadSize`, of every request and of /Bulk) lets a client send any
/// resource the store can hold: the body limit is checked first, on bytes, and the item limit
/// after, on the stored document.
#[test]
fn the_largest_storable_resource_fits_in_one_request() {
    assert!(Limits::default().max_payload_bytes > MAX_ITEM_BYTES);
}

fn emails(range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| json!({"value": format!("user{i}@example.com"), "type": "work"}))
        .collect()
}

#[tokio::test]
async fn a_patch_of_more_operations_than_the_limit_is_refused_with_413_before_any_work() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let id = c.create_user("many-ops").await;
    let limit = Limits::default().max_patch_operations;
    let titles = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"op": "replace", "path": "title", "value": format!("t{i}")}))
            .collect()
    };
    let at_limit = Scim::patch_body(Value::Array(titles(limit)));
    let user = c
        .patch(&format!("/Users/{id}"), &at_limit)
        .await
        .expect(200);
    assert_eq!(user.body["title"], format!("t{}", limit - 1));
    let over = Scim::patch_body(Value::Array(titles(limit + 1)));
    c.patch(&format!("/Users/{id}"), &over)
        .await
        .expect_error(413, None);
    let after = c.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(after.body["title"], format!("t{}", limit - 1));
}

#[tokio::test]
async fn a_multi_valued_attribute_holds_at_most_the_limit_whatever_request_adds_the_values() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let at_limit = json!({"schemas": [USER_SCHEMA], "userName": "full",
        "emails": emails(0..MAX_VALUES)});
    let id = c.post("/Users", &at_limit).await.expect(201).id();
    let over = json!({"schemas": [USER_SCHEMA], "userName": "overfull",
        "emails": emails(0..MAX_VALUES + 1)});
    c.post("/Users", &over)
        .await
        .expect_error(400, Some("invalidValue"));
    let one_more = Scim::patch_body(json!([{"op": "add", "path": "emails",
        "value": emails(MAX_VALUES..MAX_VALUES + 1)}]));
    c.patch(&format!("/Users/{id}"), &one_more)
        .await
        .expect_error(400, Some("invalidValue"));
    let replace_all = Scim::patch_body(json!([{"op": "replace", "path": "emails",
        "value": emails(0..MAX_VALUES + 1)}]));
    c.patch(&format!("/Users/{id}"), &replace_all)
        .await
        .expect_error(400, Some("invalidValue"));
    // Values already present are the same records, not new ones.
    let again = Scim::patch_body(json!([{"op": "add", "path": "emails",
        "value": emails(0..MAX_VALUES)}]));
    c.patch(&format!("/Users/{id}"), &again).await.expect(200);
    let stored = c.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(
        stored.body["emails"].as_array().map(Vec::len),
        Some(MAX_VALUES)
    );
}

/// The costliest PATCH the limits allow: every operation selects one of the most values an
/// attribute may hold by a filter. It completes, and the time it took is printed.
#[tokio::test]
async fn the_costliest_patch_within_the_limits_completes() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let body = json!({"schemas": [USER_SCHEMA], "userName": "costly",
        "emails": emails(0..MAX_VALUES)});
    let id = c.post("/Users", &body).await.expect(201).id();
    let ops: Vec<Value> = (0..Limits::default().max_patch_operations)
        .map(|i| {
            let n = MAX_VALUES - 1 - i % MAX_VALUES;
            json!({"op": "replace", "path": format!("emails[value eq \"user{n}@example.com\"].type"),
                "value": "home"})
        })
        .collect();
    let started = std::time::Instant::now();
    let user = c
        .patch(
            &format!("/Users/{id}"),
            &Scim::patch_body(Value::Array(ops)),
        )
        .await
        .expect(200);
    println!(
        "{} filtered operations over {MAX_VALUES} values: {:?}",
        Limits::default().max_patch_operations,
        started.elapsed()
    );
    let homes = user.body["emails"]
        .as_array()
        .map(|e| e.iter().filter(|e| e["type"] == "home").count());
    assert_eq!(homes, Some(MAX_VALUES));
}
