//! Paging: RFC 9865 cursors (opaque, signed, bound to tenant and query) and index paging whose
//! cost does not grow with startIndex. Sizes are small on DynamoDB Local.

use scim_shared::protocol::http::Method;
use scim_tests::{Backend, TestServer, USER_SCHEMA, backend, enc};
use serde_json::{Value, json};

/// Creates `n` users in-process; their ids in listing (creation) order.
async fn users(srv: &TestServer, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let body = json!({"schemas": [USER_SCHEMA], "userName": format!("u{i:05}"), "title": if i % 2 == 0 { "even" } else { "odd" }});
        let out = srv.call(Method::Post, "/Users", Some(&body)).await;
        assert_eq!(out.response.status, 201);
        let id = out.response.body.as_ref().and_then(|b| b["id"].as_str());
        ids.push(id.expect("id").to_string());
    }
    ids.sort();
    ids
}

fn ids_of(page: &Value) -> Vec<String> {
    page["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

/// Pages through `query` (a path with a query string) with cursors from the first page (an
/// empty cursor) to the end; every id seen, in order, and the number of pages.
async fn walk(srv: &TestServer, query: &str) -> (Vec<String>, usize) {
    let (mut seen, mut pages, mut path) = (Vec::new(), 0, format!("{query}&cursor="));
    loop {
        let r = srv.client.get(&path).await.expect(200);
        pages += 1;
        seen.extend(ids_of(&r.body));
        match r.body["nextCursor"].as_str() {
            Some(next) => path = format!("{query}&cursor={}", enc(next)),
            None => return (seen, pages),
        }
    }
}

#[tokio::test]
async fn a_cursor_walk_returns_every_user_once_in_creation_order() {
    let srv = TestServer::start().await;
    let ids = users(&srv, 25).await;
    let first = srv.client.get("/Users?cursor&count=10").await.expect(200);
    assert_eq!(first.body["totalResults"], 25);
    assert_eq!(first.body["itemsPerPage"], 10);
    assert!(first.body.get("startIndex").is_none());
    let index = srv.client.get("/Users?count=10").await.expect(200);
    assert!(
        index.body.get("nextCursor").is_none(),
        "index paging has no cursor"
    );
    let (seen, pages) = walk(&srv, "/Users?count=10").await;
    assert_eq!(seen, ids);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn a_cursor_follows_the_filter_and_search_carries_it_in_the_body() {
    let srv = TestServer::start().await;
    let ids = users(&srv, 12).await;
    let even: Vec<String> = ids.iter().step_by(2).cloned().collect();
    let (seen, _) = walk(
        &srv,
        &format!("/Users?count=4&filter={}", enc("title eq \"even\"")),
    )
    .await;
    assert_eq!(seen, even);
    let search = |cursor: Option<&str>| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "count": 5, "cursor": cursor.unwrap_or("")})
    };
    let first = srv
        .client
        .post("/Users/.search", &search(None))
        .await
        .expect(200);
    let next = first.body["nextCursor"].as_str().expect("nextCursor");
    let second = srv
        .client
        .post("/Users/.search", &search(Some(next)))
        .await
        .expect(200);
    assert_eq!(ids_of(&second.body), ids[5..10]);
}

#[tokio::test]
async fn a_cursor_is_bound_to_its_tenant_and_query_and_cannot_be_forged() {
    let srv = TestServer::start().await;
    users(&srv, 3).await;
    let first = srv.client.get("/Users?cursor&count=1").await.expect(200);
    let cursor = first.body["nextCursor"].as_str().expect("nextCursor");
    let other = srv.tenant("globex").await;
    other
        .get(&format!("/Users?count=1&cursor={}", enc(cursor)))
        .await
        .expect_error(400, Some("invalidCursor"));
    let filtered = format!(
        "/Users?count=1&filter={}&cursor={}",
        enc("title pr"),
        enc(cursor)
    );
    srv.client
        .get(&filtered)
        .await
        .expect_error(400, Some("invalidCursor"));
    let forged = format!("{}x", cursor);
    srv.client
        .get(&format!("/Users?count=1&cursor={}", enc(&forged)))
        .await
        .expect_error(400, Some("invalidCursor"));
    srv.client
        .get("/Users?count=1&cursor=not-a-cursor")
        .await
        .expect_error(400, Some("invalidCursor"));
}

#[tokio::test]
async fn cursor_paging_refuses_a_bad_count_and_mixing_with_start_index() {
    let srv = TestServer::start().await;
    srv.client
        .get("/Users?cursor&count=-1")
        .await
        .expect_error(400, Some("invalidCount"));
    srv.client
        .get("/Users?cursor&count=100000")
        .await
        .expect_error(400, Some("invalidCount"));
    srv.client
        .get("/Users?cursor&startIndex=2")
        .await
        .expect_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn service_provider_config_states_both_paging_methods() {
    let srv = TestServer::start().await;
    let spc = srv.client.get("/ServiceProviderConfig").await.expect(200);
    let p = &spc.body["pagination"];
    assert_eq!(p["cursor"], true);
    assert_eq!(p["index"], true);
    assert_eq!(p["defaultPaginationMethod"], "index");
    assert_eq!(p["maxPageSize"], 1000);
    assert_eq!(p["cursorTimeout"], 3600);
}

#[tokio::test]
async fn a_deep_index_page_reads_from_a_checkpoint_not_from_the_start() {
    let srv = TestServer::start().await;
    // Checkpoints are every 1,000 positions: on DynamoDB Local only correctness is checked.
    let n = match backend() {
        Backend::Embedded => 2300,
        Backend::DynamoDb => 250,
    };
    let ids = users(&srv, n).await;
    let start = n - 150;
    let path = format!("/Users?startIndex={start}&count=100");
    let first = srv.call(Method::Get, &path, None).await;
    let page = first.response.body.expect("body");
    assert_eq!(ids_of(&page), ids[start - 1..start + 99]);
    assert_eq!(page["totalResults"], n);
    assert_eq!(page["startIndex"], start);
    let again = srv.call(Method::Get, &path, None).await;
    assert_eq!(
        ids_of(&again.response.body.expect("body")),
        ids[start - 1..start + 99]
    );
    if backend() == Backend::Embedded {
        // The first read passed the checkpoints at 1,000 and 2,000; the second starts at 2,000.
        assert!(first.usage.items_read > 2000, "{:?}", first.usage);
        assert!(again.usage.items_read < 300, "{:?}", again.usage);
    }
}
