//! Users over HTTP: create, read, replace, delete, versions (ETags), uniqueness, PATCH and the
//! derived `groups` attribute.

use scim_shared::protocol::clock::parse_datetime;
use scim_shared::protocol::schema::ResourceKind;
use scim_shared::store::keys;
use scim_shared::store::{Condition, Item, Key, Write};
use scim_tests::{ENTERPRISE, GROUP_SCHEMA, Reply, Scim, TestServer, USER_SCHEMA, enc, user_path};
use serde_json::{Value, json};

/// A User body with this userName and the attributes of `extra` (which may override `schemas`).
fn user(user_name: &str, extra: Value) -> Value {
    let mut body = json!({"schemas": [USER_SCHEMA], "userName": user_name});
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    body
}

async fn create(srv: &TestServer, body: &Value) -> Reply {
    srv.client.post("/Users", body).await.expect(201)
}

async fn read(srv: &TestServer, id: &str) -> Value {
    srv.client.get(&user_path(id)).await.expect(200).body
}

/// A request with one conditional header (If-Match / If-None-Match).
async fn conditional(
    srv: &TestServer,
    method: &str,
    path: &str,
    body: Option<&Value>,
    header: (&str, &str),
) -> Reply {
    srv.client
        .send(
            method,
            path,
            body.map(|b| b.to_string().into_bytes()),
            &[header],
        )
        .await
}

/// The number in an ETag such as `W/"3"`.
fn version_number(etag: &str) -> u64 {
    etag.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .expect("numeric version")
}

fn etag(reply: &Reply) -> String {
    reply.header("etag").expect("ETag header").to_string()
}

#[track_caller]
fn assert_uuid_v7(id: &str) {
    let groups: Vec<&str> = id.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    assert_eq!(lengths, [8, 4, 4, 4, 12], "not a UUID: {id}");
    assert!(
        id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
        "not a UUID: {id}"
    );
    assert!(groups[2].starts_with('7'), "not version 7: {id}");
    assert!(
        groups[3].starts_with(['8', '9', 'a', 'b', 'A', 'B']),
        "not the RFC 9562 variant: {id}"
    );
}

/// A timestamp as an instant (RFC 3339 text compares wrongly when fractions differ in length).
#[track_caller]
fn instant(v: &Value) -> impl Ord + std::fmt::Debug {
    let s = v.as_str().expect("a string timestamp");
    parse_datetime(s).unwrap_or_else(|| panic!("not RFC 3339: {s}"))
}

/// The userNames of a list response.
fn user_names_of(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r["userName"].as_str().expect("userName").to_string())
        .collect()
}

async fn find_by_user_name(srv: &TestServer, user_name: &str) -> Value {
    let filter = enc(&format!("userName eq \"{user_name}\""));
    srv.client
        .get(&format!("/Users?filter={filter}"))
        .await
        .expect(200)
        .body
}

// ---- create and read ----

#[tokio::test]
async fn creating_a_user_returns_201_with_location_etag_and_server_assigned_metadata() {
    let srv = TestServer::start().await;
    let body = user(
        "bjensen",
        json!({"name": {"givenName": "Barbara", "familyName": "Jensen"},
               "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]}),
    );
    let reply = create(&srv, &body).await;
    let created = &reply.body;
    let id = reply.id();
    assert_uuid_v7(&id);
    assert_eq!(created["schemas"], json!([USER_SCHEMA]));
    assert_eq!(created["userName"], "bjensen");
    assert_eq!(
        created["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen"})
    );
    assert_eq!(created["emails"], body["emails"]);

    let meta = &created["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert_eq!(meta["location"], format!("{}/Users/{id}", srv.base));
    assert_eq!(
        reply.header("location"),
        meta["location"].as_str(),
        "Location header == meta.location"
    );
    assert_eq!(
        Some(etag(&reply).as_str()),
        meta["version"].as_str(),
        "ETag header == meta.version"
    );
    assert!(
        etag(&reply).starts_with("W/\""),
        "a weak ETag: {}",
        etag(&reply)
    );
    // Both RFC 3339 (instant() panics otherwise), and equal on creation.
    assert_eq!(instant(&meta["created"]), instant(&meta["lastModified"]));
    assert_eq!(reply.header("content-type"), Some("application/scim+json"));
}

#[tokio::test]
async fn reading_a_user_by_id_returns_the_created_resource_with_its_etag() {
    let srv = TestServer::start().await;
    let created = create(
        &srv,
        &user("bjensen", json!({"displayName": "Babs", "active": true})),
    )
    .await;
    let reply = srv.client.get(&user_path(&created.id())).await.expect(200);
    assert_eq!(reply.body, created.body);
    assert_eq!(reply.header("etag"), created.header("etag"));
    assert_eq!(reply.header("location"), created.header("location"));
}

#[tokio::test]
async fn the_password_is_accepted_but_never_returned() {
    let srv = TestServer::start().await;
    let created = create(&srv, &user("bjensen", json!({"password": "t1meMa$heen"}))).await;
    let id = created.id();
    assert!(
        created.body.get("password").is_none(),
        "create: {}",
        created.body
    );

    let mut seen = vec![
        (
            "GET",
            srv.client.get(&user_path(&id)).await.expect(200).body,
        ),
        (
            "GET attributes=password",
            srv.client
                .get(&format!("{}?attributes=password", user_path(&id)))
                .await
                .expect(200)
                .body,
        ),
    ];
    for query in ["", "?attributes=password", "?attributes=password,userName"] {
        let list = srv
            .client
            .get(&format!("/Users{query}"))
            .await
            .expect(200)
            .body;
        assert_eq!(list["totalResults"], 1);
        seen.push(("list", list["Resources"][0].clone()));
    }
    let put = user("bjensen", json!({"password": "n3w"}));
    seen.push((
        "PUT",
        srv.client.put(&user_path(&id), &put).await.expect(200).body,
    ));
    let patch = Scim::patch_body(json!([{"op": "replace", "path": "password", "value": "n3wer"}]));
    seen.push((
        "PATCH",
        srv.client
            .patch(&user_path(&id), &patch)
            .await
            .expect(200)
            .body,
    ));
    for (what, body) in seen {
        assert_eq!(body["id"], id.as_str(), "{what}: {body}");
        assert!(
            body.get("password").is_none(),
            "{what} returned the password: {body}"
        );
    }
    // Nor can a filter find a user by its password.
    for filter in ["password pr", "password eq \"n3wer\""] {
        let page = srv
            .client
            .get(&format!("/Users?filter={}", enc(filter)))
            .await
            .expect(200)
            .body;
        assert_eq!(page["totalResults"], 0, "{filter}");
    }
}

// ---- replace ----

#[tokio::test]
async fn put_replaces_the_user_and_clears_attributes_it_omits() {
    let srv = TestServer::start().await;
    let created = create(
        &srv,
        &user(
            "bjensen",
            json!({"displayName": "Babs", "title": "Tour Guide", "name": {"givenName": "Barbara"},
                   "emails": [{"value": "b@example.com"}], "active": true}),
        ),
    )
    .await;
    let id = created.id();
    let replaced = srv
        .client
        .put(&user_path(&id), &user("bjensen", json!({"nickName": "B"})))
        .await
        .expect(200);
    for gone in ["displayName", "title", "name", "emails", "active"] {
        assert!(
            replaced.body.get(gone).is_none(),
            "{gone} survived PUT: {}",
            replaced.body
        );
    }
    assert_eq!(replaced.body["nickName"], "B");
    assert_eq!(replaced.body["userName"], "bjensen");
    assert_eq!(
        replaced.body["meta"]["created"],
        created.body["meta"]["created"]
    );
    assert_ne!(replaced.header("etag"), created.header("etag"));
    assert_eq!(
        replaced.header("etag"),
        replaced.body["meta"]["version"].as_str()
    );
    assert_eq!(
        read(&srv, &id).await,
        replaced.body,
        "GET returns what PUT returned"
    );
}

#[tokio::test]
async fn put_ignores_read_only_id_and_meta_in_the_body() {
    let srv = TestServer::start().await;
    let created = create(&srv, &user("bjensen", json!({}))).await;
    let id = created.id();
    let body = user(
        "bjensen",
        json!({"id": "not-the-id", "displayName": "Babs",
               "meta": {"created": "2000-01-01T00:00:00Z", "resourceType": "Group", "version": "W/\"99\""}}),
    );
    let replaced = srv
        .client
        .put(&user_path(&id), &body)
        .await
        .expect(200)
        .body;
    assert_eq!(replaced["id"], id.as_str());
    assert_eq!(replaced["meta"]["created"], created.body["meta"]["created"]);
    assert_eq!(replaced["meta"]["resourceType"], "User");
    assert_ne!(replaced["meta"]["version"], "W/\"99\"");
    assert_eq!(replaced["displayName"], "Babs");
    srv.client
        .get("/Users/not-the-id")
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn renaming_a_user_frees_the_old_user_name_for_another_user() {
    let srv = TestServer::start().await;
    let id = srv.client.create_user("alice").await;
    srv.client
        .put(&user_path(&id), &user("alice.smith", json!({})))
        .await
        .expect(200);

    let newcomer = srv.client.create_user("alice").await;
    assert_ne!(newcomer, id);
    srv.client
        .post("/Users", &user("Alice.Smith", json!({})))
        .await
        .expect_error(409, Some("uniqueness"));
    assert_eq!(
        user_names_of(&find_by_user_name(&srv, "alice").await),
        ["alice"]
    );
    assert_eq!(
        find_by_user_name(&srv, "alice").await["Resources"][0]["id"],
        newcomer.as_str()
    );
}

#[tokio::test]
async fn changing_only_the_case_of_a_user_name_is_not_a_conflict_with_itself() {
    let srv = TestServer::start().await;
    let id = srv.client.create_user("alice").await;
    let replaced = srv
        .client
        .put(&user_path(&id), &user("ALICE", json!({})))
        .await
        .expect(200);
    assert_eq!(replaced.body["userName"], "ALICE");
    srv.client
        .post("/Users", &user("alice", json!({})))
        .await
        .expect_error(409, Some("uniqueness"));
}

// ---- delete ----

#[tokio::test]
async fn deleting_a_user_returns_204_then_404_and_frees_the_user_name() {
    let srv = TestServer::start().await;
    let id = srv.client.create_user("bjensen").await;
    let deleted = srv.client.delete(&user_path(&id)).await.expect(204);
    assert_eq!(deleted.body, Value::Null, "204 has no body");

    srv.client
        .get(&user_path(&id))
        .await
        .expect_error(404, None);
    srv.client
        .delete(&user_path(&id))
        .await
        .expect_error(404, None);
    let list = srv.client.get("/Users").await.expect(200).body;
    assert_eq!(list["totalResults"], 0);

    let again = srv.client.create_user("BJensen").await;
    assert_ne!(again, id);
    let found = find_by_user_name(&srv, "bjensen").await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], again.as_str());
}

// ---- enterprise extension ----

#[tokio::test]
async fn the_enterprise_extension_round_trips_and_is_listed_in_schemas() {
    let srv = TestServer::start().await;
    let manager = srv.client.create_user("boss").await;
    let body = user(
        "bjensen",
        json!({"schemas": [USER_SCHEMA, ENTERPRISE],
               ENTERPRISE: {"department": "R&D", "employeeNumber": "701", "manager": {"value": manager}}}),
    );
    let created = create(&srv, &body).await;
    assert_eq!(created.body["schemas"], json!([USER_SCHEMA, ENTERPRISE]));
    assert_eq!(created.body[ENTERPRISE]["department"], "R&D");
    assert_eq!(created.body[ENTERPRISE]["employeeNumber"], "701");
    assert_eq!(
        created.body[ENTERPRISE]["manager"]["value"],
        manager.as_str()
    );
    let id = created.id();
    assert_eq!(read(&srv, &id).await, created.body);

    let patch = Scim::patch_body(json!([
        {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Sales"}
    ]));
    let patched = srv
        .client
        .patch(&user_path(&id), &patch)
        .await
        .expect(200)
        .body;
    assert_eq!(patched[ENTERPRISE]["department"], "Sales");
    assert_eq!(patched[ENTERPRISE]["manager"]["value"], manager.as_str());

    // A PUT without the extension removes it, and `schemas` no longer lists it.
    let replaced = srv
        .client
        .put(&user_path(&id), &user("bjensen", json!({})))
        .await
        .expect(200)
        .body;
    assert_eq!(replaced["schemas"], json!([USER_SCHEMA]));
    assert!(replaced.get(ENTERPRISE).is_none(), "{replaced}");
}

// ---- versions ----

#[tokio::test]
async fn if_none_match_with_the_current_etag_answers_304_without_a_body() {
    let srv = TestServer::start().await;
    let created = create(&srv, &user("bjensen", json!({}))).await;
    let id = created.id();
    let current = etag(&created);
    let reply = conditional(
        &srv,
        "GET",
        &user_path(&id),
        None,
        ("if-none-match", &current),
    )
    .await
    .expect(304);
    assert_eq!(reply.body, Value::Null);
    assert_eq!(reply.header("etag"), Some(current.as_str()));

    conditional(
        &srv,
        "GET",
        &user_path(&id),
        None,
        ("if-none-match", "W/\"999\""),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn a_stale_if_match_is_412_on_put_patch_and_delete_and_changes_nothing() {
    let srv = TestServer::start().await;
    let created = create(&srv, &user("bjensen", json!({"displayName": "Babs"}))).await;
    let id = created.id();
    let stale = etag(&created);
    let patch = Scim::patch_body(json!([{"op": "replace", "path": "title", "value": "Guide"}]));
    srv.client.patch(&user_path(&id), &patch).await.expect(200);
    let before = read(&srv, &id).await;

    let put = user("bjensen", json!({"displayName": "Changed"}));
    let patch =
        Scim::patch_body(json!([{"op": "replace", "path": "displayName", "value": "Changed"}]));
    for (method, body) in [
        ("PUT", Some(&put)),
        ("PATCH", Some(&patch)),
        ("DELETE", None),
    ] {
        conditional(&srv, method, &user_path(&id), body, ("if-match", &stale))
            .await
            .expect_error(412, None);
        assert_eq!(
            read(&srv, &id).await,
            before,
            "{method} with a stale If-Match changed the user"
        );
    }
}

#[tokio::test]
async fn a_current_if_match_succeeds_and_each_change_increments_the_version() {
    let srv = TestServer::start().await;
    let created = create(&srv, &user("bjensen", json!({}))).await;
    let id = created.id();
    let v1 = etag(&created);

    let put = user("bjensen", json!({"displayName": "Babs"}));
    let replaced = conditional(&srv, "PUT", &user_path(&id), Some(&put), ("if-match", &v1))
        .await
        .expect(200);
    let v2 = etag(&replaced);
    assert!(version_number(&v2) > version_number(&v1), "{v1} -> {v2}");
    assert_eq!(replaced.body["meta"]["version"], v2.as_str());
    assert!(
        instant(&replaced.body["meta"]["lastModified"])
            >= instant(&created.body["meta"]["lastModified"]),
        "lastModified moves forward"
    );

    let patch = Scim::patch_body(json!([{"op": "replace", "path": "title", "value": "Guide"}]));
    let patched = conditional(
        &srv,
        "PATCH",
        &user_path(&id),
        Some(&patch),
        ("if-match", &v2),
    )
    .await
    .expect(200);
    let v3 = etag(&patched);
    assert!(version_number(&v3) > version_number(&v2), "{v2} -> {v3}");

    conditional(&srv, "DELETE", &user_path(&id), None, ("if-match", &v3))
        .await
        .expect(204);
    srv.client
        .get(&user_path(&id))
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn a_patch_that_changes_nothing_keeps_the_version() {
    let srv = TestServer::start().await;
    let created = create(&srv, &user("bjensen", json!({"displayName": "Babs"}))).await;
    let patch =
        Scim::patch_body(json!([{"op": "replace", "path": "displayName", "value": "Babs"}]));
    let patched = srv
        .client
        .patch(&user_path(&created.id()), &patch)
        .await
        .expect(200);
    assert_eq!(patched.header("etag"), created.header("etag"));
    assert_eq!(patched.body, created.body);
}

// ---- uniqueness ----

#[tokio::test]
async fn user_name_uniqueness_ignores_case() {
    let srv = TestServer::start().await;
    srv.client.create_user("Bob").await;
    for taken in ["Bob", "bob", "BOB"] {
        srv.client
            .post("/Users", &user(taken, json!({})))
            .await
            .expect_error(409, Some("uniqueness"));
    }

    // Renaming another user to a case variant is refused too, by PUT and by PATCH.
    let other = srv.client.create_user("robert").await;
    let before = read(&srv, &other).await;
    srv.client
        .put(&user_path(&other), &user("bOb", json!({})))
        .await
        .expect_error(409, Some("uniqueness"));
    let patch = Scim::patch_body(json!([{"op": "replace", "path": "userName", "value": "BoB"}]));
    srv.client
        .patch(&user_path(&other), &patch)
        .await
        .expect_error(409, Some("uniqueness"));
    assert_eq!(read(&srv, &other).await, before);
    assert_eq!(
        srv.client.get("/Users").await.expect(200).body["totalResults"],
        2
    );
}

/// The ids of the users an `externalId eq` filter finds.
async fn with_external_id(srv: &TestServer, value: &str) -> Vec<String> {
    let filter = format!("externalId eq \"{value}\"");
    srv.client.ids_where("/Users", &filter).await
}

/// RFC 7643 section 3.1: the server does not enforce externalId's uniqueness (the client
/// controls it). A reused value is accepted, and `externalId eq` (case-exact) finds every
/// resource holding it.
#[tokio::test]
async fn external_id_is_not_unique_and_its_filter_finds_every_holder_case_exactly() {
    let srv = TestServer::start().await;
    let a = create(&srv, &user("a", json!({"externalId": "Ext-1"})))
        .await
        .id();
    let b = create(&srv, &user("b", json!({"externalId": "Ext-1"})))
        .await
        .id();
    let c = create(&srv, &user("c", json!({"externalId": "ext-1"})))
        .await
        .id();
    let mut both = vec![a, b];
    both.sort();
    assert_eq!(with_external_id(&srv, "Ext-1").await, both);
    assert_eq!(with_external_id(&srv, "ext-1").await, vec![c]);
    assert!(with_external_id(&srv, "EXT-1").await.is_empty());
    assert_eq!(
        srv.client.get("/Users").await.expect(200).body["totalResults"],
        3
    );
}

/// A store written when externalId was kept unique has one marker per value (sort key `#`): the
/// filter still finds its resource, next to resources that share the value since.
#[tokio::test]
async fn an_external_id_marker_of_an_earlier_store_is_still_found() {
    let srv = TestServer::start().await;
    let old = create(&srv, &user("old", json!({"externalId": "Legacy-1"})))
        .await
        .id();
    let index = keys::external_id("acme", ResourceKind::User, "Legacy-1", &old);
    srv.store
        .transact(vec![
            Write::Delete {
                key: index.clone(),
                condition: Condition::None,
            },
            Write::Put {
                item: Item {
                    key: Key::new(index.pk, keys::ITEM),
                    body: json!({"id": old}).to_string(),
                    ..Item::default()
                },
                condition: Condition::None,
            },
        ])
        .await
        .expect("the earlier store's marker");
    let new = create(&srv, &user("new", json!({"externalId": "Legacy-1"})))
        .await
        .id();
    let mut both = vec![old, new];
    both.sort();
    assert_eq!(with_external_id(&srv, "Legacy-1").await, both);
}

#[tokio::test]
async fn removing_or_changing_an_external_id_moves_it_in_the_filter() {
    let srv = TestServer::start().await;
    let a = create(&srv, &user("a", json!({"externalId": "Ext-1"})))
        .await
        .id();
    let b = create(&srv, &user("b", json!({"externalId": "Ext-2"})))
        .await
        .id();
    let remove = Scim::patch_body(json!([{"op": "remove", "path": "externalId"}]));
    srv.client.patch(&user_path(&a), &remove).await.expect(200);
    assert!(with_external_id(&srv, "Ext-1").await.is_empty());
    srv.client
        .put(&user_path(&b), &user("b", json!({"externalId": "Ext-3"})))
        .await
        .expect(200);
    assert!(with_external_id(&srv, "Ext-2").await.is_empty());
    assert_eq!(with_external_id(&srv, "Ext-3").await, vec![b.clone()]);
    srv.client.delete(&user_path(&b)).await.expect(204);
    assert!(with_external_id(&srv, "Ext-3").await.is_empty());
}

// ---- PATCH ----

#[tokio::test]
async fn patch_replace_display_name_returns_200_with_the_full_resource() {
    let srv = TestServer::start().await;
    let created = create(
        &srv,
        &user("bjensen", json!({"displayName": "Babs", "title": "Guide", "emails": [{"value": "b@example.com"}]})),
    )
    .await;
    let patch =
        Scim::patch_body(json!([{"op": "replace", "path": "displayName", "value": "Barbara"}]));
    let patched = srv
        .client
        .patch(&user_path(&created.id()), &patch)
        .await
        .expect(200);
    let mut expected = created.body.clone();
    expected["displayName"] = json!("Barbara");
    expected["meta"]["lastModified"] = patched.body["meta"]["lastModified"].clone();
    expected["meta"]["version"] = patched.body["meta"]["version"].clone();
    assert_eq!(
        patched.body, expected,
        "everything else is returned unchanged"
    );
    assert_eq!(
        patched.header("etag"),
        patched.body["meta"]["version"].as_str()
    );
    assert_eq!(patched.header("location"), created.header("location"));
    assert_eq!(read(&srv, &created.id()).await, patched.body);
}

#[tokio::test]
async fn patch_add_emails_appends_to_the_existing_values() {
    let srv = TestServer::start().await;
    let id = create(
        &srv,
        &user(
            "bjensen",
            json!({"emails": [{"value": "b@example.com", "type": "work"}]}),
        ),
    )
    .await
    .id();
    let patch = Scim::patch_body(json!([
        {"op": "add", "path": "emails", "value": [{"value": "babs@home.org", "type": "home"}]}
    ]));
    let patched = srv
        .client
        .patch(&user_path(&id), &patch)
        .await
        .expect(200)
        .body;
    assert_eq!(
        patched["emails"],
        json!([{"value": "b@example.com", "type": "work"}, {"value": "babs@home.org", "type": "home"}])
    );
}

#[tokio::test]
async fn patch_remove_by_value_path_removes_only_the_matching_values() {
    let srv = TestServer::start().await;
    let emails = json!([
        {"value": "b@example.com", "type": "work"},
        {"value": "babs@home.org", "type": "home"},
        {"value": "b2@example.com", "type": "work"},
    ]);
    let id = create(&srv, &user("bjensen", json!({"emails": emails})))
        .await
        .id();
    let patch = Scim::patch_body(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]));
    let patched = srv
        .client
        .patch(&user_path(&id), &patch)
        .await
        .expect(200)
        .body;
    assert_eq!(
        patched["emails"],
        json!([{"value": "babs@home.org", "type": "home"}])
    );

    let patch =
        Scim::patch_body(json!([{"op": "remove", "path": "emails[value eq \"babs@home.org\"]"}]));
    let patched = srv
        .client
        .patch(&user_path(&id), &patch)
        .await
        .expect(200)
        .body;
    assert!(
        patched.get("emails").is_none(),
        "removing the last value unassigns emails: {patched}"
    );
}

#[tokio::test]
async fn pathless_patch_replace_can_deactivate_a_user() {
    let srv = TestServer::start().await;
    let id = create(
        &srv,
        &user("bjensen", json!({"active": true, "displayName": "Babs"})),
    )
    .await
    .id();
    let patch = Scim::patch_body(json!([{"op": "replace", "value": {"active": false}}]));
    let patched = srv
        .client
        .patch(&user_path(&id), &patch)
        .await
        .expect(200)
        .body;
    assert_eq!(patched["active"], false);
    assert_eq!(patched["displayName"], "Babs");
    assert_eq!(read(&srv, &id).await["active"], false);
}

// ---- groups ----

#[tokio::test]
async fn a_users_groups_attribute_lists_the_groups_it_is_a_member_of() {
    let srv = TestServer::start().await;
    let id = srv.client.create_user("bjensen").await;
    assert!(
        read(&srv, &id).await.get("groups").is_none(),
        "no memberships, no groups"
    );

    let group = srv
        .client
        .post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides", "members": [{"value": id}]}))
        .await
        .expect(201)
        .id();
    let groups = &read(&srv, &id).await["groups"];
    let groups = groups.as_array().expect("groups after joining a group");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["value"], group.as_str());
    assert_eq!(groups[0]["$ref"], format!("{}/Groups/{group}", srv.base));

    srv.client
        .delete(&format!("/Groups/{group}"))
        .await
        .expect(204);
    assert!(
        read(&srv, &id).await.get("groups").is_none(),
        "deleting the group ends the membership"
    );
}

#[tokio::test]
async fn groups_is_read_only_for_patch_and_ignored_by_put() {
    let srv = TestServer::start().await;
    let id = srv.client.create_user("bjensen").await;
    let group = srv.client.create_group("Tour Guides").await;
    let other = srv.client.create_group("Other").await;
    let add = Scim::patch_body(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    srv.client
        .patch(&format!("/Groups/{group}"), &add)
        .await
        .expect(204);
    let before = read(&srv, &id).await;

    for op in [
        json!({"op": "add", "path": "groups", "value": [{"value": other}]}),
        json!({"op": "replace", "path": "groups", "value": [{"value": other}]}),
        json!({"op": "remove", "path": "groups"}),
    ] {
        srv.client
            .patch(&user_path(&id), &Scim::patch_body(json!([op])))
            .await
            .expect_error(400, Some("mutability"));
        assert_eq!(read(&srv, &id).await, before, "after {op}");
    }

    // readOnly attributes in a PUT body are ignored (RFC 7644 §3.5.1): membership is unchanged.
    let put = user("bjensen", json!({"groups": [{"value": other}]}));
    let replaced = srv.client.put(&user_path(&id), &put).await.expect(200).body;
    assert_eq!(replaced["groups"], before["groups"]);
}
