//! Listing, paging, sorting, projection, POST .search, and the discovery endpoints.

use std::collections::BTreeSet;

use scim_shared::ops::Limits;
use scim_tests::{ENTERPRISE, GROUP_SCHEMA, Reply, Scim, TestServer, USER_SCHEMA, enc, string_set};
use serde_json::{Value, json};

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// Creates users `user00`, `user01`, ... and returns their ids in creation order.
async fn create_users(client: &Scim, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(client.create_user(&format!("user{i:02}")).await);
    }
    ids
}

/// A successful ListResponse: checks its schema and that itemsPerPage counts Resources.
async fn list(client: &Scim, path: &str) -> Value {
    checked_list(client.get(path).await)
}

async fn search(client: &Scim, path: &str, body: Value) -> Value {
    checked_list(client.post(path, &body).await)
}

#[track_caller]
fn checked_list(reply: Reply) -> Value {
    let body = reply.expect(200).body;
    assert_eq!(body["schemas"], json!([LIST_RESPONSE]), "{body}");
    assert_eq!(body["itemsPerPage"], resources(&body).len(), "{body}");
    body
}

/// The Resources of a list response (absent means none).
fn resources(list: &Value) -> Vec<Value> {
    list["Resources"].as_array().cloned().unwrap_or_default()
}

fn strings(list: &Value, attr: &str) -> Vec<String> {
    resources(list)
        .iter()
        .map(|r| r[attr].as_str().expect(attr).to_string())
        .collect()
}

fn keys(resource: &Value) -> BTreeSet<String> {
    resource
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

/// A user with a name, emails, a title and an enterprise department.
async fn create_full_user(client: &Scim, user_name: &str) -> String {
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE], "userName": user_name, "displayName": "Babs",
        "title": "Guide", "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "b@example.com", "type": "work"}],
        ENTERPRISE: {"department": "R&D", "costCenter": "42"},
    });
    client.post("/Users", &body).await.expect(201).id()
}

fn search_body(extra: Value) -> Value {
    let mut body = json!({"schemas": [SEARCH_REQUEST]});
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    body
}

// ---- paging ----

#[tokio::test]
async fn paging_with_start_index_and_count_returns_every_user_exactly_once_in_a_stable_order() {
    let srv = TestServer::start().await;
    let created = create_users(&srv.client, 25).await;
    let walk = || async {
        let mut seen = Vec::new();
        for start in (1..=25).step_by(7) {
            let page = list(&srv.client, &format!("/Users?startIndex={start}&count=7")).await;
            assert_eq!(page["totalResults"], 25, "page at {start}");
            assert_eq!(page["startIndex"], start, "startIndex is echoed");
            assert_eq!(
                page["itemsPerPage"],
                if start == 22 { 4 } else { 7 },
                "page at {start}"
            );
            seen.extend(strings(&page, "id"));
        }
        seen
    };
    let first = walk().await;
    assert_eq!(first.len(), 25);
    assert_eq!(
        first.iter().collect::<BTreeSet<_>>(),
        created.iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(walk().await, first, "a second walk sees the same order");

    let everything = list(&srv.client, "/Users").await;
    assert_eq!(everything["startIndex"], 1);
    assert_eq!(
        strings(&everything, "id"),
        first,
        "unpaged order is the paged order"
    );
}

#[tokio::test]
async fn count_zero_returns_only_the_total() {
    let srv = TestServer::start().await;
    create_users(&srv.client, 25).await;
    let page = list(&srv.client, "/Users?count=0").await;
    assert_eq!(page["totalResults"], 25);
    assert_eq!(page["itemsPerPage"], 0);
    assert!(resources(&page).is_empty());
    let filtered = list(
        &srv.client,
        &format!("/Users?count=0&filter={}", enc("userName sw \"user1\"")),
    )
    .await;
    assert_eq!(filtered["totalResults"], 10);
    assert!(resources(&filtered).is_empty());
}

#[tokio::test]
async fn a_start_index_beyond_the_end_returns_no_resources() {
    let srv = TestServer::start().await;
    create_users(&srv.client, 25).await;
    for start in [26, 1000] {
        let page = list(&srv.client, &format!("/Users?startIndex={start}")).await;
        assert_eq!(page["totalResults"], 25);
        assert_eq!(page["startIndex"], start);
        assert!(resources(&page).is_empty());
    }
}

#[tokio::test]
async fn a_start_index_below_one_is_read_as_one_and_a_negative_count_as_zero() {
    let srv = TestServer::start().await;
    create_users(&srv.client, 3).await;
    let page = list(&srv.client, "/Users?startIndex=0&count=2").await;
    assert_eq!(page["startIndex"], 1);
    assert_eq!(page["itemsPerPage"], 2);
    let page = list(&srv.client, "/Users?count=-5").await;
    assert_eq!(page["totalResults"], 3);
    assert!(resources(&page).is_empty());
}

#[tokio::test]
async fn count_is_capped_at_the_advertised_max_results() {
    let srv = TestServer::with_limits(Limits {
        max_results: 5,
        ..Limits::default()
    })
    .await;
    let spc = srv
        .client
        .get("/ServiceProviderConfig")
        .await
        .expect(200)
        .body;
    let max = spc["filter"]["maxResults"]
        .as_u64()
        .expect("filter.maxResults");
    assert_eq!(max, 5);
    create_users(&srv.client, 8).await;
    for query in ["", "?count=6", "?count=100", "?startIndex=2&count=1000"] {
        let page = list(&srv.client, &format!("/Users{query}")).await;
        assert_eq!(page["totalResults"], 8, "{query}");
        assert_eq!(page["itemsPerPage"], max, "{query}");
    }
    let tail = list(&srv.client, "/Users?startIndex=6&count=100").await;
    assert_eq!(tail["itemsPerPage"], 3);
}

// ---- sorting ----

#[tokio::test]
async fn sort_by_user_name_orders_ascending_or_descending_ignoring_case() {
    let srv = TestServer::start().await;
    for name in ["delta", "alpha", "Charlie", "bravo", "Echo"] {
        srv.client.create_user(name).await;
    }
    let ascending = ["alpha", "bravo", "Charlie", "delta", "Echo"];
    let page = list(&srv.client, "/Users?sortBy=userName").await;
    assert_eq!(strings(&page, "userName"), ascending);
    let page = list(&srv.client, "/Users?sortBy=userName&sortOrder=ascending").await;
    assert_eq!(strings(&page, "userName"), ascending);
    let page = list(&srv.client, "/Users?sortBy=userName&sortOrder=descending").await;
    let descending: Vec<&str> = ascending.iter().rev().copied().collect();
    assert_eq!(strings(&page, "userName"), descending);
}

#[tokio::test]
async fn sorting_applies_to_the_filtered_set_before_paging() {
    let srv = TestServer::start().await;
    for name in ["delta", "alpha", "Charlie", "bravo", "Echo"] {
        srv.client.create_user(name).await;
    }
    let filter = enc("userName ne \"delta\"");
    let page = list(
        &srv.client,
        &format!(
            "/Users?filter={filter}&sortBy=userName&sortOrder=descending&startIndex=2&count=2"
        ),
    )
    .await;
    assert_eq!(page["totalResults"], 4);
    assert_eq!(strings(&page, "userName"), ["Charlie", "bravo"]);
}

/// Users a..d where b has no title; the titles sort alpha (c), Beta (a), Gamma (d).
async fn create_users_with_titles(client: &Scim) {
    for (name, title) in [
        ("a", Some("Beta")),
        ("b", None),
        ("c", Some("alpha")),
        ("d", Some("Gamma")),
    ] {
        let mut body = json!({"schemas": [USER_SCHEMA], "userName": name});
        if let Some(t) = title {
            body["title"] = json!(t);
        }
        client.post("/Users", &body).await.expect(201);
    }
}

#[tokio::test]
async fn resources_without_the_sort_attribute_sort_last_when_ascending() {
    let srv = TestServer::start().await;
    create_users_with_titles(&srv.client).await;
    let page = list(&srv.client, "/Users?sortBy=title").await;
    assert_eq!(strings(&page, "userName"), ["c", "a", "d", "b"]);
}

/// RFC 7644 §3.4.2.3: resources without data for sortBy "are ordered last if ascending and first
/// if descending".
#[tokio::test]

async fn resources_without_the_sort_attribute_sort_first_when_descending() {
    let srv = TestServer::start().await;
    create_users_with_titles(&srv.client).await;
    let page = list(&srv.client, "/Users?sortBy=title&sortOrder=descending").await;
    assert_eq!(strings(&page, "userName"), ["b", "d", "a", "c"]);
}

/// RFC 7644 §3.4.2.3: a multi-valued sortBy attribute sorts by the primary value, if any, else by
/// the first value.
#[tokio::test]

async fn sorting_by_a_multi_valued_attribute_uses_the_primary_value() {
    let srv = TestServer::start().await;
    let users = [
        (
            "first-is-z",
            json!([{"value": "z@example.com"}, {"value": "a@example.com", "primary": true}]),
        ),
        (
            "only-m",
            json!([{"value": "m@example.com", "primary": true}]),
        ),
    ];
    for (name, emails) in users {
        let body = json!({"schemas": [USER_SCHEMA], "userName": name, "emails": emails});
        srv.client.post("/Users", &body).await.expect(201);
    }
    for sort_by in ["emails", "emails.value"] {
        let page = list(&srv.client, &format!("/Users?sortBy={sort_by}")).await;
        assert_eq!(
            strings(&page, "userName"),
            ["first-is-z", "only-m"],
            "sortBy={sort_by}"
        );
    }
}

// ---- projection ----

#[tokio::test]
async fn attributes_returns_only_the_named_attributes_with_id_and_schemas() {
    let srv = TestServer::start().await;
    let id = create_full_user(&srv.client, "bjensen").await;
    let one = srv
        .client
        .get(&format!("/Users/{id}?attributes=userName"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        one,
        json!({"schemas": [USER_SCHEMA], "id": id, "userName": "bjensen"})
    );
    let page = list(&srv.client, "/Users?attributes=userName").await;
    assert_eq!(resources(&page), [one]);
    let page = list(&srv.client, "/Users?attributes=USERNAME,title").await;
    assert_eq!(
        keys(&resources(&page)[0]),
        string_set(&["schemas", "id", "userName", "title"])
    );
}

#[tokio::test]
async fn excluded_attributes_drops_the_named_attributes() {
    let srv = TestServer::start().await;
    let id = create_full_user(&srv.client, "bjensen").await;
    let full = srv
        .client
        .get(&format!("/Users/{id}"))
        .await
        .expect(200)
        .body;
    let mut expected = full.clone();
    let obj = expected.as_object_mut().expect("object");
    obj.remove("emails");
    obj.remove("name");
    let one = srv
        .client
        .get(&format!("/Users/{id}?excludedAttributes=emails,name"))
        .await
        .expect(200)
        .body;
    assert_eq!(one, expected);
    let page = list(&srv.client, "/Users?excludedAttributes=emails,name").await;
    assert_eq!(resources(&page), [expected]);
    // id and schemas are always returned.
    let one = srv
        .client
        .get(&format!("/Users/{id}?excludedAttributes=id,userName"))
        .await
        .expect(200)
        .body;
    assert_eq!(one["id"], id.as_str());
    assert!(one.get("userName").is_none());
}

#[tokio::test]
async fn attributes_can_name_a_sub_attribute() {
    let srv = TestServer::start().await;
    let id = create_full_user(&srv.client, "bjensen").await;
    let one = srv
        .client
        .get(&format!("/Users/{id}?attributes=name.givenName"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        one,
        json!({"schemas": [USER_SCHEMA], "id": id, "name": {"givenName": "Barbara"}})
    );
    let page = list(&srv.client, "/Users?attributes=emails.value").await;
    assert_eq!(
        resources(&page)[0]["emails"],
        json!([{"value": "b@example.com"}])
    );
}

#[tokio::test]
async fn attributes_can_name_an_extension_attribute() {
    let srv = TestServer::start().await;
    let id = create_full_user(&srv.client, "bjensen").await;
    let path = format!(
        "/Users/{id}?attributes={}",
        enc(&format!("{ENTERPRISE}:department"))
    );
    let one = srv.client.get(&path).await.expect(200).body;
    assert_eq!(
        one,
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "id": id, ENTERPRISE: {"department": "R&D"}})
    );
    let page = list(
        &srv.client,
        &format!(
            "/Users?attributes={}",
            enc(&format!("userName,{ENTERPRISE}:department"))
        ),
    )
    .await;
    assert_eq!(
        resources(&page),
        [
            json!({"schemas": [USER_SCHEMA, ENTERPRISE], "id": id, "userName": "bjensen",
                ENTERPRISE: {"department": "R&D"}})
        ]
    );
    // Naming the extension URN returns all of its attributes.
    let one = srv
        .client
        .get(&format!("/Users/{id}?attributes={}", enc(ENTERPRISE)))
        .await
        .expect(200)
        .body;
    assert_eq!(
        one[ENTERPRISE],
        json!({"department": "R&D", "costCenter": "42"})
    );
}

#[tokio::test]
async fn groups_and_members_are_listed_only_when_named_in_attributes() {
    let srv = TestServer::start().await;
    let user = srv.client.create_user("bjensen").await;
    let group = srv
        .client
        .post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Guides", "members": [{"value": user}]}))
        .await
        .expect(201)
        .id();

    let users = list(&srv.client, "/Users").await;
    assert!(resources(&users)[0].get("groups").is_none(), "{users}");
    let users = list(&srv.client, "/Users?attributes=userName,groups").await;
    assert_eq!(resources(&users)[0]["groups"][0]["value"], group.as_str());

    let groups = list(&srv.client, "/Groups").await;
    assert!(resources(&groups)[0].get("members").is_none(), "{groups}");
    let groups = list(&srv.client, "/Groups?attributes=displayName,members").await;
    assert_eq!(resources(&groups)[0]["members"][0]["value"], user.as_str());
    assert_eq!(resources(&groups)[0]["displayName"], "Guides");

    // A single resource returns its derived attribute by default.
    let one = srv
        .client
        .get(&format!("/Users/{user}"))
        .await
        .expect(200)
        .body;
    assert_eq!(one["groups"][0]["value"], group.as_str());
}

// ---- POST .search ----

#[tokio::test]
async fn post_users_search_takes_the_query_in_a_search_request() {
    let srv = TestServer::start().await;
    for name in ["delta", "alpha", "Charlie", "bravo", "Echo"] {
        srv.client.create_user(name).await;
    }
    srv.client.create_group("alpha").await;
    let body = search_body(json!({
        "filter": "userName ne \"delta\"", "attributes": ["userName"], "sortBy": "userName",
        "sortOrder": "descending", "startIndex": 2, "count": 2,
    }));
    let page = search(&srv.client, "/Users/.search", body).await;
    assert_eq!(page["totalResults"], 4);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(strings(&page, "userName"), ["Charlie", "bravo"]);
    assert_eq!(
        keys(&resources(&page)[0]),
        string_set(&["schemas", "id", "userName"])
    );

    let all = search(&srv.client, "/Users/.search", search_body(json!({}))).await;
    assert_eq!(all["totalResults"], 5);
}

#[tokio::test]
async fn post_groups_search_finds_groups() {
    let srv = TestServer::start().await;
    srv.client.create_user("Engineering").await;
    for name in ["Engineering", "Engineering Managers", "Sales"] {
        srv.client.create_group(name).await;
    }
    let body = search_body(json!({"filter": "displayName sw \"eng\"", "sortBy": "displayName"}));
    let page = search(&srv.client, "/Groups/.search", body).await;
    assert_eq!(page["totalResults"], 2);
    assert_eq!(
        strings(&page, "displayName"),
        ["Engineering", "Engineering Managers"]
    );
}

#[tokio::test]
async fn root_search_returns_users_and_groups_and_counts_both() {
    let srv = TestServer::start().await;
    let users = create_users(&srv.client, 3).await;
    let groups = vec![
        srv.client.create_group("g1").await,
        srv.client.create_group("g2").await,
    ];

    let all = search(&srv.client, "/.search", search_body(json!({}))).await;
    assert_eq!(all["totalResults"], 5);
    let types: Vec<String> = resources(&all)
        .iter()
        .map(|r| r["meta"]["resourceType"].to_string())
        .collect();
    assert_eq!(
        types.iter().filter(|t| *t == "\"User\"").count(),
        3,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "\"Group\"").count(),
        2,
        "{types:?}"
    );
    let ids: BTreeSet<String> = strings(&all, "id").into_iter().collect();
    assert_eq!(ids, users.iter().chain(&groups).cloned().collect());

    // Pages run across the resource types; totalResults counts both on every page.
    let mut walked = Vec::new();
    for start in [1, 3, 5] {
        let page = search(
            &srv.client,
            "/.search",
            search_body(json!({"startIndex": start, "count": 2})),
        )
        .await;
        assert_eq!(page["totalResults"], 5);
        walked.extend(strings(&page, "id"));
    }
    assert_eq!(walked, strings(&all, "id"));

    // An attribute only users have restricts the search to users.
    let body = search_body(json!({"filter": "userName sw \"user\""}));
    assert_eq!(
        search(&srv.client, "/.search", body).await["totalResults"],
        3
    );
    let body = search_body(json!({"filter": "displayName sw \"g\""}));
    assert_eq!(
        search(&srv.client, "/.search", body).await["totalResults"],
        2
    );
}

#[tokio::test]
async fn a_search_body_without_the_search_request_schema_is_rejected() {
    let srv = TestServer::start().await;
    srv.client.create_user("a").await;
    for path in ["/Users/.search", "/Groups/.search", "/.search"] {
        srv.client
            .post(path, &json!({"filter": "userName pr"}))
            .await
            .expect_error(400, Some("invalidSyntax"));
        let wrong = json!({"schemas": [USER_SCHEMA], "filter": "userName pr"});
        srv.client
            .post(path, &wrong)
            .await
            .expect_error(400, Some("invalidSyntax"));
    }
}

#[tokio::test]
async fn a_test_connection_filter_for_an_unknown_user_name_returns_an_empty_list() {
    let srv = TestServer::start().await;
    srv.client.create_user("bjensen").await;
    let filter = enc("userName eq \"7d1f4c9e-0b6a-4a57-9a1d-3c0f2e8b5a61\"");
    let page = list(&srv.client, &format!("/Users?filter={filter}")).await;
    assert_eq!(page["totalResults"], 0);
    assert_eq!(page["startIndex"], 1);
    assert!(resources(&page).is_empty());
}

// ---- discovery ----

#[tokio::test]
async fn the_service_provider_config_states_what_the_service_supports() {
    let srv = TestServer::start().await;
    let spc = srv
        .client
        .get("/ServiceProviderConfig")
        .await
        .expect(200)
        .body;
    assert_eq!(spc["schemas"], json!([SPC_SCHEMA]));
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(
        spc["bulk"]["maxOperations"],
        Limits::default().max_bulk_operations
    );
    assert_eq!(
        spc["bulk"]["maxPayloadSize"],
        Limits::default().max_payload_bytes
    );
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], Limits::default().max_results);
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        spc["meta"]["location"],
        format!("{}/ServiceProviderConfig", srv.base)
    );
}

/// The attribute `name` of a Schema resource.
fn schema_attribute<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no attribute {name} in {}", schema["id"]))
}

#[tokio::test]
async fn schemas_lists_user_group_and_enterprise_user_with_attribute_characteristics() {
    let srv = TestServer::start().await;
    let all = list(&srv.client, "/Schemas").await;
    assert_eq!(all["totalResults"], 3);
    let ids: BTreeSet<String> = strings(&all, "id").into_iter().collect();
    assert_eq!(ids, string_set(&[USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE]));
    let user = resources(&all)
        .into_iter()
        .find(|s| s["id"] == USER_SCHEMA)
        .expect("User schema");
    assert_eq!(user["schemas"], json!([SCHEMA_SCHEMA]));
    assert_eq!(user["name"], "User");

    let user_name = schema_attribute(&user, "userName");
    assert_eq!(user_name["type"], "string");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    let password = schema_attribute(&user, "password");
    assert_eq!(password["returned"], "never");
    assert_eq!(password["mutability"], "writeOnly");
    let groups = schema_attribute(&user, "groups");
    assert_eq!(groups["mutability"], "readOnly");
    assert_eq!(groups["multiValued"], true);
    let emails = schema_attribute(&user, "emails");
    assert_eq!(emails["multiValued"], true);
    assert_eq!(emails["type"], "complex");
    let subs: BTreeSet<String> = emails["subAttributes"]
        .as_array()
        .expect("subAttributes")
        .iter()
        .map(|s| s["name"].to_string())
        .collect();
    assert!(
        subs.contains("\"value\"") && subs.contains("\"type\"") && subs.contains("\"primary\""),
        "{subs:?}"
    );
    assert_eq!(schema_attribute(&user, "active")["type"], "boolean");
}

#[tokio::test]
async fn a_schema_is_served_by_its_urn_and_an_unknown_urn_is_404() {
    let srv = TestServer::start().await;
    let ent = srv
        .client
        .get(&format!("/Schemas/{ENTERPRISE}"))
        .await
        .expect(200)
        .body;
    assert_eq!(ent["id"], ENTERPRISE);
    assert_eq!(schema_attribute(&ent, "department")["type"], "string");
    assert_eq!(schema_attribute(&ent, "manager")["type"], "complex");
    assert_eq!(
        ent["meta"]["location"],
        format!("{}/Schemas/{ENTERPRISE}", srv.base)
    );
    let group = srv
        .client
        .get(&format!("/Schemas/{GROUP_SCHEMA}"))
        .await
        .expect(200)
        .body;
    assert_eq!(schema_attribute(&group, "members")["multiValued"], true);

    srv.client
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Nope")
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn resource_types_list_user_with_the_enterprise_extension_and_group() {
    let srv = TestServer::start().await;
    let all = list(&srv.client, "/ResourceTypes").await;
    assert_eq!(all["totalResults"], 2);
    let by_name = |name: &str| {
        resources(&all)
            .into_iter()
            .find(|r| r["name"] == name)
            .expect(name)
    };
    let user = by_name("User");
    assert_eq!(user["schemas"], json!([RESOURCE_TYPE_SCHEMA]));
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], USER_SCHEMA);
    assert_eq!(
        user["schemaExtensions"],
        json!([{"schema": ENTERPRISE, "required": false}])
    );
    let group = by_name("Group");
    assert_eq!(group["endpoint"], "/Groups");
    assert_eq!(group["schema"], GROUP_SCHEMA);
    assert!(
        group["schemaExtensions"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );

    let one = srv.client.get("/ResourceTypes/User").await.expect(200).body;
    assert_eq!(one, user);
    assert_eq!(
        one["meta"]["location"],
        format!("{}/ResourceTypes/User", srv.base)
    );
    srv.client
        .get("/ResourceTypes/Device")
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn a_method_a_path_does_not_support_is_405_and_an_unknown_path_404_both_as_scim_errors() {
    let srv = TestServer::start().await;
    srv.client
        .post("/ServiceProviderConfig", &json!({}))
        .await
        .expect_error(405, None);
    srv.client.delete("/Users").await.expect_error(405, None);
    srv.client.get("/Nope").await.expect_error(404, None);
    srv.client
        .get("/Users/some-id/extra")
        .await
        .expect_error(404, None);
}
