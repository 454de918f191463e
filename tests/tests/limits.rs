//! Size limits over HTTP, on the backend `SCIM_TEST_BACKEND` selects: a resource whose stored
//! item would be larger than DynamoDB's 400 KB item limit is refused with 413 before anything is
//! written, whether it comes from POST, PUT, PATCH or one operation of a bulk request; a resource
//! whose item is just under the limit is stored and reads back whole. (That the limit is exact to
//! the byte is shown on the store itself: `store_conformance::items_over_the_size_limit_are_refused`.)

use scim_shared::keys;
use scim_shared::ops::Limits;
use scim_shared::schema::ResourceKind;
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
