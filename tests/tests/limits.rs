//! Size limits over HTTP, on the backend `SCIM_TEST_BACKEND` selects: a resource whose stored
//! item would be larger than DynamoDB's 400 KB item limit is refused with 413 before anything is
//! written, whether it comes from POST, PUT, PATCH or one operation of a bulk request; a resource
//! whose item is exactly at the limit is stored and reads back whole.

use scim_shared::keys;
use scim_shared::ops::Limits;
use scim_shared::schema::ResourceKind;
use scim_shared::store::{MAX_ITEM_BYTES, item_size};
use scim_tests::{Scim, TestServer, USER_SCHEMA, enc};
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

/// The `name.formatted` length that makes a user's stored item exactly [`MAX_ITEM_BYTES`],
/// measured on a probe user whose userName has the length of the ones the tests use (ids and
/// timestamps have fixed lengths).
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

async fn total_users(c: &Scim, filter: &str) -> u64 {
    c.get(&format!("/Users?filter={}&count=0", enc(filter)))
        .await
        .expect(200)
        .body["totalResults"]
        .as_u64()
        .expect("totalResults")
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
    assert_eq!(
        total_users(&srv.client, "userName eq \"huge-user\"").await,
        0
    );
    let all = srv.client.get("/Users?count=0").await.expect(200);
    assert_eq!(all.body["totalResults"], 0);
    srv.client
        .post("/Users", &user("huge-user", 10))
        .await
        .expect(201);
}

#[tokio::test]
async fn a_user_exactly_at_the_item_limit_is_stored_and_one_byte_more_is_refused() {
    let srv = TestServer::start().await;
    let largest = largest_formatted(&srv).await;

    let at_limit = srv
        .client
        .post("/Users", &user("limit-1", largest))
        .await
        .expect(201);
    assert_eq!(stored_size(&srv, &at_limit.id()).await, MAX_ITEM_BYTES);
    let read = srv
        .client
        .get(&format!("/Users/{}", at_limit.id()))
        .await
        .expect(200);
    assert_eq!(
        read.body["name"]["formatted"].as_str().map(str::len),
        Some(largest)
    );

    srv.client
        .post("/Users", &user("limit-2", largest + 1))
        .await
        .expect_error(413, None);
    assert_eq!(total_users(&srv.client, "userName eq \"limit-2\"").await, 0);
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
        .put(&at, &user("grow-01", largest + 1))
        .await
        .expect_error(413, None);
    let patch = Scim::patch_body(json!([
        {"op": "replace", "path": "name.formatted", "value": "x".repeat(largest + 1)}
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
    assert_eq!(
        total_users(&srv.client, "userName eq \"bulk-big\"").await,
        0
    );
}

/// The request body limit (`maxPayloadSize`, of every request and of /Bulk) lets a client send any
/// resource the store can hold: the body limit is checked first, on bytes, and the item limit
/// after, on the stored document.
#[test]
fn the_largest_storable_resource_fits_in_one_request() {
    assert!(Limits::default().max_payload_bytes > MAX_ITEM_BYTES);
}
