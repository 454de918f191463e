//! Bad requests: each gets a 4xx SCIM error (RFC 7644 §3.12) and leaves the stored data exactly
//! as it was, which every test checks by reading the resource back and comparing it whole.

use scim_shared::tenant::issue_token;
use scim_tests::{ENTERPRISE, GROUP_SCHEMA, Reply, Scim, TestServer, USER_SCHEMA, enc, user_path};
use serde_json::{Value, json};

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A user with values in most kinds of attribute: simple, complex, multi-valued, extension.
fn full_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE], "userName": user_name, "externalId": format!("ext-{user_name}"),
        "displayName": "Babs", "active": true, "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}, {"value": "b@home.org", "type": "home"}],
        ENTERPRISE: {"department": "R&D"},
    })
}

/// A server with one full user `bjensen`: the server, the user's id and its stored state.
async fn server_with_user() -> (TestServer, String, Value) {
    let srv = TestServer::start().await;
    let reply = srv
        .client
        .post("/Users", &full_user("bjensen"))
        .await
        .expect(201);
    let id = reply.id();
    let stored = srv.client.get(&user_path(&id)).await.expect(200).body;
    (srv, id, stored)
}

/// Asserts that the user still reads back exactly as `before` and that no user was added.
async fn assert_unchanged(client: &Scim, id: &str, before: &Value, after_what: &str) {
    let now = client.get(&user_path(id)).await.expect(200).body;
    assert_eq!(&now, before, "the user changed after {after_what}");
    let total = client.get("/Users?count=0").await.expect(200).body["totalResults"].clone();
    assert_eq!(total, 1, "the number of users changed after {after_what}");
}

async fn send_bytes(client: &Scim, method: &str, path: &str, body: &[u8]) -> Reply {
    client.send(method, path, Some(body.to_vec()), &[]).await
}

#[track_caller]
fn detail(reply: &Reply) -> &str {
    reply.body["detail"].as_str().expect("an error detail")
}

// ---- malformed and invalid bodies ----

#[tokio::test]
async fn malformed_json_is_400_invalid_syntax_and_changes_nothing() {
    let (srv, id, before) = server_with_user().await;
    let bodies: [&[u8]; 5] = [
        b"{\"schemas\": [",
        b"not json",
        b"",
        b"[1, 2]",
        b"\"bjensen\"",
    ];
    for body in bodies {
        let what = String::from_utf8_lossy(body).to_string();
        for (method, path) in [
            ("POST", "/Users".to_string()),
            ("PUT", user_path(&id)),
            ("PATCH", user_path(&id)),
        ] {
            send_bytes(&srv.client, method, &path, body)
                .await
                .expect_error(400, Some("invalidSyntax"));
            assert_unchanged(&srv.client, &id, &before, &format!("{method} {what:?}")).await;
        }
    }
}

#[tokio::test]
async fn values_of_the_wrong_type_are_400_invalid_value_and_change_nothing() {
    let (srv, id, before) = server_with_user().await;
    let cases = [
        ("active", json!("yes")),
        ("emails", json!("x")),
        ("name", json!(5)),
        ("userName", json!(42)),
        ("emails", json!([{"value": 5}])),
        ("name", json!({"givenName": true})),
        ("displayName", json!(["Babs"])),
    ];
    for (attr, value) in cases {
        let what = format!("{attr}: {value}");
        let mut body = full_user("other");
        body[attr] = value.clone();
        let reply = srv
            .client
            .post("/Users", &body)
            .await
            .expect_error(400, Some("invalidValue"));
        assert!(
            detail(&reply).contains(attr),
            "POST {what}: {}",
            detail(&reply)
        );
        assert_unchanged(&srv.client, &id, &before, &format!("POST {what}")).await;

        body["userName"] = if attr == "userName" {
            value.clone()
        } else {
            json!("bjensen")
        };
        srv.client
            .put(&user_path(&id), &body)
            .await
            .expect_error(400, Some("invalidValue"));
        assert_unchanged(&srv.client, &id, &before, &format!("PUT {what}")).await;

        let with_path = Scim::patch_body(json!([{"op": "replace", "path": attr, "value": value}]));
        srv.client
            .patch(&user_path(&id), &with_path)
            .await
            .expect_error(400, Some("invalidValue"));
        assert_unchanged(&srv.client, &id, &before, &format!("PATCH path {what}")).await;

        let pathless = Scim::patch_body(json!([{"op": "replace", "value": {attr: value}}]));
        srv.client
            .patch(&user_path(&id), &pathless)
            .await
            .expect_error(400, Some("invalidValue"));
        assert_unchanged(
            &srv.client,
            &id,
            &before,
            &format!("PATCH without path {what}"),
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_attributes_and_schemas_are_400_and_change_nothing() {
    let (srv, id, before) = server_with_user().await;
    let cases = [
        ("shoeSize", json!({"shoeSize": 44})),
        (
            "middle",
            json!({"name": {"givenName": "Barbara", "middle": "X"}}),
        ),
        (
            "height",
            json!({"emails": [{"value": "b@example.com", "height": 3}]}),
        ),
        ("shoeSize", json!({ENTERPRISE: {"shoeSize": 44}})),
        ("urn:example:ext", json!({"urn:example:ext": {"a": 1}})),
        (
            "urn:example:ext",
            json!({"schemas": [USER_SCHEMA, "urn:example:ext"], "urn:example:ext": {"a": 1}}),
        ),
    ];
    for (name, extra) in cases {
        let mut body = json!({"schemas": [USER_SCHEMA, ENTERPRISE]});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        for (method, path) in [("POST", "/Users".to_string()), ("PUT", user_path(&id))] {
            body["userName"] = json!(if method == "POST" {
                "newcomer"
            } else {
                "bjensen"
            });
            let reply = srv
                .client
                .send(method, &path, Some(body.to_string().into_bytes()), &[])
                .await;
            let reply = reply.expect_error(400, None);
            assert!(
                detail(&reply).contains(name),
                "{method} {extra}: {}",
                detail(&reply)
            );
            assert_unchanged(&srv.client, &id, &before, &format!("{method} {extra}")).await;
        }
    }
}

#[tokio::test]
async fn a_body_without_the_core_schema_in_schemas_is_400_and_changes_nothing() {
    let (srv, id, before) = server_with_user().await;
    for schemas in [
        None,
        Some(json!("urn:ietf:params:scim:schemas:core:2.0:User")),
        Some(json!([ENTERPRISE])),
    ] {
        let mut body = json!({"userName": "bjensen", "displayName": "Changed"});
        if let Some(s) = &schemas {
            body["schemas"] = s.clone();
        }
        let reply = srv
            .client
            .post("/Users", &body)
            .await
            .expect_error(400, None);
        assert!(detail(&reply).contains("schemas"), "{}", detail(&reply));
        srv.client
            .put(&user_path(&id), &body)
            .await
            .expect_error(400, None);
        assert_unchanged(&srv.client, &id, &before, &format!("schemas {schemas:?}")).await;
    }
}

#[tokio::test]
async fn a_missing_user_name_is_400_on_post_put_and_patch_and_changes_nothing() {
    let (srv, id, before) = server_with_user().await;
    for body in [
        json!({"schemas": [USER_SCHEMA], "displayName": "Changed"}),
        json!({"schemas": [USER_SCHEMA], "userName": null, "displayName": "Changed"}),
    ] {
        let reply = srv
            .client
            .post("/Users", &body)
            .await
            .expect_error(400, Some("invalidValue"));
        assert!(detail(&reply).contains("userName"), "{}", detail(&reply));
        let reply = srv
            .client
            .put(&user_path(&id), &body)
            .await
            .expect_error(400, Some("invalidValue"));
        assert!(detail(&reply).contains("userName"), "{}", detail(&reply));
        assert_unchanged(&srv.client, &id, &before, &format!("{body}")).await;
    }
    // Removing the required userName is refused as well.
    for op in [
        json!({"op": "remove", "path": "userName"}),
        json!({"op": "replace", "path": "userName", "value": null}),
    ] {
        srv.client
            .patch(&user_path(&id), &Scim::patch_body(json!([op])))
            .await
            .expect_error(400, Some("mutability"));
        assert_unchanged(&srv.client, &id, &before, &format!("PATCH {op}")).await;
    }
}

// ---- PATCH ----

#[tokio::test]
async fn a_malformed_patch_request_is_400_and_changes_nothing() {
    let (srv, id, before) = server_with_user().await;
    let op = json!({"op": "replace", "path": "displayName", "value": "Changed"});
    let cases = [
        (json!({"Operations": [op]}), "invalidSyntax"),
        (
            json!({"schemas": [USER_SCHEMA], "Operations": [op]}),
            "invalidSyntax",
        ),
        (Scim::patch_body(json!([])), "invalidSyntax"),
        (Scim::patch_body(json!(op)), "invalidSyntax"),
        (
            Scim::patch_body(json!([{"op": "delete", "path": "displayName"}])),
            "invalidSyntax",
        ),
        (Scim::patch_body(json!([{"op": "remove"}])), "noTarget"),
        (
            Scim::patch_body(json!([{"op": "add", "path": "displayName"}])),
            "invalidValue",
        ),
        (
            Scim::patch_body(json!([{"op": "replace", "path": 5, "value": "x"}])),
            "invalidPath",
        ),
    ];
    for (body, scim_type) in cases {
        srv.client
            .patch(&user_path(&id), &body)
            .await
            .expect_error(400, Some(scim_type));
        assert_unchanged(&srv.client, &id, &before, &format!("PATCH {body}")).await;
    }
}

#[tokio::test]
async fn an_invalid_filter_in_a_patch_path_is_400_invalid_path_and_changes_nothing() {
    let (srv, id, before) = server_with_user().await;
    for path in [
        r#"emails[type eq "work""#,
        r#"emails[type zz "work"]"#,
        r#"emails[type eq]"#,
        r#"emails[shoe eq "x"]"#,
        r#"emails[type eq "work"]value"#,
        r#"name[givenName eq "Barbara"]"#,
    ] {
        for op in [
            json!({"op": "remove", "path": path}),
            json!({"op": "replace", "path": path, "value": {"value": "x@example.com"}}),
        ] {
            srv.client
                .patch(&user_path(&id), &Scim::patch_body(json!([op])))
                .await
                .expect_error(400, Some("invalidPath"));
            assert_unchanged(&srv.client, &id, &before, &format!("PATCH {op}")).await;
        }
    }
}

#[tokio::test]
async fn an_unknown_attribute_in_a_patch_path_is_400_invalid_path_and_changes_nothing() {
    let (srv, id, before) = server_with_user().await;
    let ext_unknown = format!("{ENTERPRISE}:shoeSize");
    let ops = [
        (
            "shoeSize",
            json!({"op": "replace", "path": "shoeSize", "value": 44}),
        ),
        (
            "middle",
            json!({"op": "add", "path": "name.middle", "value": "X"}),
        ),
        (
            "height",
            json!({"op": "remove", "path": "emails[type eq \"work\"].height"}),
        ),
        (
            "shoeSize",
            json!({"op": "replace", "path": ext_unknown, "value": "44"}),
        ),
        (
            "shoeSize",
            json!({"op": "replace", "value": {"shoeSize": 44}}),
        ),
        (
            "shoeSize",
            json!({"op": "add", "value": {ENTERPRISE: {"shoeSize": 44}}}),
        ),
    ];
    for (name, op) in ops {
        let reply = srv
            .client
            .patch(&user_path(&id), &Scim::patch_body(json!([op])))
            .await
            .expect_error(400, Some("invalidPath"));
        assert!(detail(&reply).contains(name), "{op}: {}", detail(&reply));
        assert_unchanged(&srv.client, &id, &before, &format!("PATCH {op}")).await;
    }
}

#[tokio::test]
async fn patching_read_only_attributes_is_400_mutability_and_changes_nothing() {
    let (srv, id, before) = server_with_user().await;
    let ops = [
        json!({"op": "replace", "path": "id", "value": "0190f0d6-0000-7000-8000-000000000000"}),
        json!({"op": "remove", "path": "id"}),
        json!({"op": "replace", "path": "meta.created", "value": "2000-01-01T00:00:00Z"}),
        json!({"op": "replace", "path": "meta", "value": {"created": "2000-01-01T00:00:00Z"}}),
        json!({"op": "remove", "path": "meta.lastModified"}),
        json!({"op": "replace", "value": {"id": "x"}}),
        json!({"op": "replace", "value": {"meta.created": "2000-01-01T00:00:00Z"}}),
    ];
    for op in ops {
        srv.client
            .patch(&user_path(&id), &Scim::patch_body(json!([op])))
            .await
            .expect_error(400, Some("mutability"));
        assert_unchanged(&srv.client, &id, &before, &format!("PATCH {op}")).await;
    }
}

#[tokio::test]
async fn a_value_filter_that_matches_nothing_is_400_no_target_and_changes_nothing() {
    let (srv, id, before) = server_with_user().await;
    for op in [
        json!({"op": "remove", "path": "emails[type eq \"fax\"]"}),
        json!({"op": "remove", "path": "emails[value eq \"nobody@example.com\"].type"}),
        json!({"op": "replace", "path": "emails[value sw \"nobody\"]", "value": {"value": "f@example.com"}}),
        json!({"op": "add", "path": "emails[value sw \"nobody\"].type", "value": "fax"}),
        json!({"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}),
    ] {
        srv.client
            .patch(&user_path(&id), &Scim::patch_body(json!([op])))
            .await
            .expect_error(400, Some("noTarget"));
        assert_unchanged(&srv.client, &id, &before, &format!("PATCH {op}")).await;
    }
}

#[tokio::test]
async fn a_patch_whose_later_operation_fails_applies_none_of_its_operations() {
    let (srv, id, before) = server_with_user().await;
    srv.client.create_user("taken").await;
    let before_total = 2;
    let first = json!({"op": "replace", "path": "displayName", "value": "Changed"});
    let cases = [
        (
            json!({"op": "replace", "path": "active", "value": "yes"}),
            400,
            "invalidValue",
        ),
        (
            json!({"op": "remove", "path": "emails[type eq \"fax\"]"}),
            400,
            "noTarget",
        ),
        (
            json!({"op": "replace", "path": "id", "value": "x"}),
            400,
            "mutability",
        ),
        (
            json!({"op": "replace", "path": "shoeSize", "value": 1}),
            400,
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": "userName", "value": "TAKEN"}),
            409,
            "uniqueness",
        ),
    ];
    for (second, status, scim_type) in cases {
        let body = Scim::patch_body(
            json!([first, {"op": "add", "path": "nickName", "value": "B"}, second]),
        );
        let reply = srv
            .client
            .patch(&user_path(&id), &body)
            .await
            .expect_error(status, Some(scim_type));
        if status == 400 {
            assert!(
                detail(&reply).contains("Operations[2]"),
                "the failing operation is named: {}",
                detail(&reply)
            );
        }
        let now = srv.client.get(&user_path(&id)).await.expect(200).body;
        assert_eq!(now, before, "after a PATCH failing on {second}");
    }
    let total = srv.client.get("/Users?count=0").await.expect(200).body["totalResults"].clone();
    assert_eq!(total, before_total);
}

// ---- size limit ----

#[tokio::test]
async fn a_body_over_max_payload_size_is_413_and_changes_nothing() {
    let (srv, id, before) = server_with_user().await;
    let spc = srv
        .client
        .get("/ServiceProviderConfig")
        .await
        .expect(200)
        .body;
    let limit = spc["bulk"]["maxPayloadSize"]
        .as_u64()
        .expect("bulk.maxPayloadSize") as usize;
    assert_eq!(limit, 1024 * 1024);

    // A valid user whose serialization is exactly one byte over the limit.
    let mut body = json!({"schemas": [USER_SCHEMA], "userName": "big", "displayName": ""});
    let padding = limit + 1 - body.to_string().len();
    body["displayName"] = json!("x".repeat(padding));
    let bytes = body.to_string().into_bytes();
    assert_eq!(bytes.len(), limit + 1);

    let reply = send_bytes(&srv.client, "POST", "/Users", &bytes)
        .await
        .expect_error(413, None);
    assert!(
        detail(&reply).contains(&limit.to_string()),
        "the detail states the limit: {}",
        detail(&reply)
    );
    assert_unchanged(&srv.client, &id, &before, "an oversize POST").await;
    send_bytes(&srv.client, "PUT", &user_path(&id), &bytes)
        .await
        .expect_error(413, None);
    assert_unchanged(&srv.client, &id, &before, "an oversize PUT").await;

    let mut patch =
        Scim::patch_body(json!([{"op": "replace", "path": "displayName", "value": ""}]));
    let padding = limit + 1 - patch.to_string().len();
    patch["Operations"][0]["value"] = json!("x".repeat(padding));
    srv.client
        .patch(&user_path(&id), &patch)
        .await
        .expect_error(413, None);
    assert_unchanged(&srv.client, &id, &before, "an oversize PATCH").await;

    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": format!("userName eq \"{}\"", "x".repeat(limit))});
    srv.client
        .post("/Users/.search", &search)
        .await
        .expect_error(413, None);
}

// ---- unknown ids ----

#[tokio::test]
async fn unknown_ids_are_404_scim_errors_on_every_method() {
    let (srv, id, before) = server_with_user().await;
    let deleted = srv.client.create_user("gone").await;
    srv.client.delete(&user_path(&deleted)).await.expect(204);
    let group_body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Ghosts"});
    let user_body = json!({"schemas": [USER_SCHEMA], "userName": "ghost"});
    let patch =
        Scim::patch_body(json!([{"op": "replace", "path": "displayName", "value": "Ghost"}]));
    for unknown in [
        "does-not-exist",
        deleted.as_str(),
        "0190f0d6-0000-7000-8000-000000000000",
    ] {
        for (endpoint, body) in [("/Users", &user_body), ("/Groups", &group_body)] {
            let path = format!("{endpoint}/{unknown}");
            for reply in [
                srv.client.get(&path).await,
                srv.client.put(&path, body).await,
                srv.client.patch(&path, &patch).await,
                srv.client.delete(&path).await,
            ] {
                let reply = reply.expect_error(404, None);
                assert!(!detail(&reply).is_empty());
            }
        }
    }
    assert_unchanged(&srv.client, &id, &before, "requests to unknown ids").await;
    let groups = srv.client.get("/Groups").await.expect(200).body;
    assert_eq!(groups["totalResults"], 0, "PUT does not create");
}

// ---- authentication ----

#[tokio::test]
async fn requests_without_valid_credentials_are_401_scim_errors() {
    let (srv, id, before) = server_with_user().await;
    let (token, _) = issue_token(&*srv.store, "acme")
        .await
        .expect("a second token");
    let anonymous = srv.client.with_token(None);
    let wrong = srv.client.with_token(Some("not-a-valid-token"));
    // (client, Authorization header sent in addition to the client's own, if any)
    let mut attempts: Vec<(&Scim, Option<String>)> = vec![(&anonymous, None), (&wrong, None)];
    for malformed in [
        format!("Basic {token}"),
        token.clone(),
        "Bearer".to_string(),
        "Bearer    ".to_string(),
        format!("Bearer{token}"),
    ] {
        attempts.push((&anonymous, Some(malformed)));
    }
    let body = json!({"schemas": [USER_SCHEMA], "userName": "intruder"})
        .to_string()
        .into_bytes();
    let requests = [
        ("GET", "/Users".to_string(), None),
        ("GET", user_path(&id), None),
        ("POST", "/Users".to_string(), Some(body.clone())),
        ("PUT", user_path(&id), Some(body)),
        ("DELETE", user_path(&id), None),
        ("GET", "/ServiceProviderConfig".to_string(), None),
    ];
    for (client, header) in &attempts {
        let headers: Vec<(&str, &str)> = header
            .iter()
            .map(|h| ("authorization", h.as_str()))
            .collect();
        for (method, path, body) in &requests {
            let reply = client
                .send(method, path, body.clone(), &headers)
                .await
                .expect_error(401, None);
            assert!(
                reply
                    .header("www-authenticate")
                    .is_some_and(|h| h.starts_with("Bearer")),
                "{method} {path} with {header:?}: {:?}",
                reply.headers
            );
        }
    }
    assert_unchanged(&srv.client, &id, &before, "unauthenticated requests").await;

    // The scheme name is case-insensitive (RFC 7235 §2.1).
    let lower = format!("bearer {token}");
    anonymous
        .send("GET", &user_path(&id), None, &[("authorization", &lower)])
        .await
        .expect(200);
}

// ---- tenant isolation ----

#[tokio::test]
async fn another_tenant_gets_404_for_a_users_or_groups_id_on_every_method() {
    let (srv, id, _) = server_with_user().await;
    let group = srv
        .client
        .post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Guides", "members": [{"value": id}]}))
        .await
        .expect(201)
        .id();
    let before = srv.client.get(&user_path(&id)).await.expect(200).body;
    assert_eq!(before["groups"][0]["value"], group.as_str());
    let group_before = srv
        .client
        .get(&format!("/Groups/{group}"))
        .await
        .expect(200)
        .body;
    let other = srv.tenant("other").await;

    let user_patch =
        Scim::patch_body(json!([{"op": "replace", "path": "displayName", "value": "Pwned"}]));
    let group_patch = Scim::patch_body(json!([{"op": "remove", "path": "members"}]));
    let user_put = json!({"schemas": [USER_SCHEMA], "userName": "bjensen", "displayName": "Pwned"});
    let group_put = json!({"schemas": [GROUP_SCHEMA], "displayName": "Pwned"});
    for (path, put, patch) in [
        (user_path(&id), &user_put, &user_patch),
        (format!("/Groups/{group}"), &group_put, &group_patch),
    ] {
        other.get(&path).await.expect_error(404, None);
        other.put(&path, put).await.expect_error(404, None);
        other.patch(&path, patch).await.expect_error(404, None);
        other.delete(&path).await.expect_error(404, None);
    }
    assert_unchanged(&srv.client, &id, &before, "another tenant's requests").await;
    assert_eq!(
        srv.client
            .get(&format!("/Groups/{group}"))
            .await
            .expect(200)
            .body,
        group_before
    );
}

#[tokio::test]
async fn another_tenant_never_sees_the_users_in_lists_searches_or_filters() {
    let (srv, id, before) = server_with_user().await;
    srv.client.create_group("Guides").await;
    let other = srv.tenant("other").await;
    for filter in [
        "userName eq \"bjensen\"".to_string(),
        format!("id eq \"{id}\""),
        "externalId eq \"ext-bjensen\"".to_string(),
        "userName pr".to_string(),
    ] {
        let page = other
            .get(&format!("/Users?filter={}", enc(&filter)))
            .await
            .expect(200)
            .body;
        assert_eq!(page["totalResults"], 0, "{filter}");
    }
    for path in [
        "/Users",
        "/Groups",
        &format!("/Groups?filter={}", enc("displayName eq \"Guides\"")),
    ] {
        assert_eq!(
            other.get(path).await.expect(200).body["totalResults"],
            0,
            "{path}"
        );
    }
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]});
    assert_eq!(
        other.post("/.search", &search).await.expect(200).body["totalResults"],
        0
    );

    // Nor can it make the user a member of its own group.
    let group =
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Mine", "members": [{"value": id}]});
    other
        .post("/Groups", &group)
        .await
        .expect_error(400, Some("invalidValue"));
    assert_unchanged(&srv.client, &id, &before, "another tenant's group").await;
}

#[tokio::test]
async fn another_tenant_may_use_the_same_user_name_external_id_and_group_name() {
    let (srv, id, before) = server_with_user().await;
    srv.client.create_group("Guides").await;
    let other = srv.tenant("other").await;
    let theirs = other
        .post("/Users", &full_user("bjensen"))
        .await
        .expect(201)
        .id();
    assert_ne!(theirs, id);
    other.create_group("Guides").await;

    let filter = format!("/Users?filter={}", enc("userName eq \"bjensen\""));
    let mine = srv.client.get(&filter).await.expect(200).body;
    assert_eq!(mine["totalResults"], 1);
    assert_eq!(mine["Resources"][0]["id"], id.as_str());
    let found = other.get(&filter).await.expect(200).body;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], theirs.as_str());
    assert_unchanged(&srv.client, &id, &before, "another tenant's create").await;
}

// ---- the error format ----

#[tokio::test]
async fn every_error_is_a_scim_error_with_its_media_type_and_status_as_a_string() {
    let (srv, id, _) = server_with_user().await;
    let root = srv
        .base
        .strip_suffix("/scim/v2")
        .expect("base under /scim/v2");
    let outside = Scim::new(root, None);
    let filter = format!("/Users?filter={}", enc("userName eq"));
    let stale = [("if-match", "W/\"999\"")];
    let big = vec![b' '; 2 * 1024 * 1024];
    let replies = [
        srv.client.get(&filter).await,
        srv.client
            .post(
                "/Users",
                &json!({"schemas": [USER_SCHEMA], "userName": "bjensen"}),
            )
            .await,
        srv.client.with_token(None).get("/Users").await,
        srv.client.get("/Users/nope").await,
        srv.client.post("/ResourceTypes", &json!({})).await,
        srv.client
            .send("DELETE", &user_path(&id), None, &stale)
            .await,
        send_bytes(&srv.client, "POST", "/Users", &big).await,
        outside.get("/elsewhere").await,
    ];
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 409, 401, 404, 405, 412, 413, 404]);
    for reply in replies {
        assert_eq!(
            reply.header("content-type"),
            Some("application/scim+json"),
            "{}",
            reply.status
        );
        assert_eq!(reply.body["schemas"], json!([ERROR_SCHEMA]));
        assert_eq!(reply.body["status"], reply.status.to_string());
        assert!(
            reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            reply.body
        );
    }
}
