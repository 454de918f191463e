//! Identity-provider dialects end to end: what Microsoft Entra ID, Okta and OneLogin really send
//! is accepted in a tenant's `auto` dialect (the default) and the rules that rewrote it are
//! reported; `strict` tenants get SCIM errors instead; shapes the core already accepts fire no
//! rule; and the responses identity providers rely on.

use std::collections::BTreeSet;

use scim_shared::protocol::http::{Method, ScimRequest};
use scim_shared::store::Metered;
use scim_shared::tenant::{self, Dialect, Principal, TenantSettings};
use scim_tests::{ENTERPRISE, GROUP_SCHEMA, Scim, TestServer, USER_SCHEMA, enc};
use serde_json::{Value, json};

fn patch(ops: Value) -> Value {
    Scim::patch_body(ops)
}

/// A PATCH handled in-process for tenant `acme`: the status and the dialect rules that fired.
async fn patch_rules(srv: &TestServer, path: &str, ops: Value) -> (u16, Vec<&'static str>) {
    let outcome = srv.call(Method::Patch, path, Some(&patch(ops))).await;
    (outcome.response.status, outcome.rules)
}

/// A second tenant of the server in the strict dialect, and a client holding its token.
async fn strict_tenant(srv: &TestServer) -> Scim {
    let client = srv.tenant("strict-co").await;
    let strict = TenantSettings {
        dialect: Dialect::Strict,
        ..TenantSettings::default()
    };
    tenant::set_settings(&*srv.store, "strict-co", strict)
        .await
        .expect("set dialect");
    client
}

fn entra_disable() -> Value {
    patch(json!([{"op": "Replace", "path": "active", "value": "False"}]))
}

#[tokio::test]
async fn auto_dialect_accepts_entra_shapes_and_reports_the_rules_that_fired() {
    let srv = TestServer::start().await;
    let id = srv.client.create_user("bjensen").await;
    let outcome = srv
        .call(
            Method::Patch,
            &format!("/Users/{id}"),
            Some(&entra_disable()),
        )
        .await;
    assert_eq!(outcome.response.status, 200);
    assert_eq!(outcome.rules, ["op-case", "boolean-string"]);
    let body = outcome.response.body.expect("body");
    assert_eq!(body["active"], false, "{body}");

    let rfc = patch(json!([{"op": "replace", "path": "active", "value": true}]));
    let outcome = srv
        .call(Method::Patch, &format!("/Users/{id}"), Some(&rfc))
        .await;
    assert_eq!(outcome.response.status, 200);
    assert!(outcome.rules.is_empty(), "strict RFC fires no rule");
}

#[tokio::test]
async fn strict_dialect_answers_idp_shapes_with_scim_errors() {
    let srv = TestServer::start().await;
    let strict = strict_tenant(&srv).await;
    let id = strict.create_user("bjensen").await;
    strict
        .patch(&format!("/Users/{id}"), &entra_disable())
        .await
        .expect_error(400, Some("invalidSyntax"));
    let lower = patch(json!([{"op": "replace", "path": "active", "value": "False"}]));
    strict
        .patch(&format!("/Users/{id}"), &lower)
        .await
        .expect_error(400, Some("invalidValue"));
    let group = json!({"schemas": [GROUP_SCHEMA,
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "displayName": "Sales"});
    strict
        .post("/Groups", &group)
        .await
        .expect_error(400, Some("invalidValue"));
    // The same requests in the default tenant, over HTTP.
    let auto = &srv.client;
    let id = auto.create_user("bjensen").await;
    let user = auto
        .patch(&format!("/Users/{id}"), &entra_disable())
        .await
        .expect(200);
    assert_eq!(user.body["active"], false);
    auto.post("/Groups", &group).await.expect(201);
}

#[tokio::test]
async fn switching_back_to_auto_reaches_existing_tokens() {
    let srv = TestServer::start().await;
    let client = strict_tenant(&srv).await;
    let id = client.create_user("bjensen").await;
    let path = format!("/Users/{id}");
    client.patch(&path, &entra_disable()).await.expect(400);
    tenant::set_settings(&*srv.store, "strict-co", TenantSettings::default())
        .await
        .expect("set");
    client.patch(&path, &entra_disable()).await.expect(200);
}

#[tokio::test]
async fn settings_cost_no_store_read_beyond_the_token_lookup() {
    let srv = TestServer::start().await;
    let (token, _) = tenant::issue_token(&*srv.store, "acme")
        .await
        .expect("token");
    let metered = Metered::new(srv.store.clone());
    let principal = tenant::authorize(&metered, &token)
        .await
        .expect("auth")
        .expect("valid");
    assert_eq!(principal.settings.dialect, Dialect::Auto);
    assert_eq!(metered.usage().calls, 1, "one read: the token item");

    // Handling a request reads nothing for the settings: the same calls in both dialects.
    let strict = strict_tenant(&srv).await;
    let auto_id = srv.client.create_user("a").await;
    let strict_id = strict.create_user("a").await;
    let auto = srv
        .call(Method::Get, &format!("/Users/{auto_id}"), None)
        .await;
    let strict_principal = Principal {
        tenant: "strict-co".into(),
        settings: TenantSettings {
            dialect: Dialect::Strict,
            ..TenantSettings::default()
        },
    };
    let req = ScimRequest::new(Method::Get, format!("/Users/{strict_id}"), srv.base.clone());
    let strict_outcome = srv.service.handle(&strict_principal, &req).await;
    assert_eq!(auto.response.status, 200);
    assert_eq!(strict_outcome.response.status, 200);
    assert_eq!(auto.usage.calls, strict_outcome.usage.calls);
}

#[tokio::test]
async fn manager_in_every_entra_shape_is_stored_as_a_reference() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let boss = c.create_user("boss").await;
    let id = c.create_user("bjensen").await;
    let path = format!("/Users/{id}");
    let manager_path = format!("{ENTERPRISE}:manager");
    let shapes = [
        (
            json!([{"op": "replace", "path": manager_path, "value": boss}]),
            vec!["manager-string"],
        ),
        (
            json!([{"op": "replace", "path": manager_path, "value": {"value": boss}}]),
            vec![],
        ),
        (
            json!([{"op": "Add", "path": "manager", "value": [
                {"$ref": format!("{}/Users/{boss}", srv.base), "value": boss}]}]),
            vec!["op-case", "manager-array"],
        ),
        (
            json!([{"op": "replace", "value": {manager_path.clone(): boss}}]),
            vec!["manager-string"],
        ),
    ];
    for (ops, rules) in shapes {
        c.patch(
            &path,
            &patch(json!([{"op": "remove", "path": manager_path}])),
        )
        .await
        .expect(200);
        let (status, fired) = patch_rules(&srv, &path, ops.clone()).await;
        assert_eq!((status, fired), (200, rules), "{ops}");
        let user = c.get(&path).await.expect(200);
        assert_eq!(user.body[ENTERPRISE]["manager"]["value"], boss, "{ops}");
    }
    let (status, fired) = patch_rules(
        &srv,
        &path,
        json!([{"op": "Remove", "path": format!("manager[value eq \"{boss}\"]")}]),
    )
    .await;
    assert_eq!(
        (status, fired),
        (200, vec!["op-case", "manager-value-filter"])
    );
    assert!(c.get(&path).await.body.get(ENTERPRISE).is_none());
}

#[tokio::test]
async fn shapes_the_core_already_accepts_fire_no_rule() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let id = c.create_user("bjensen").await;
    let path = format!("/Users/{id}");

    // Path-less replace with dotted and URN-qualified keys: applied as paths.
    let keys = json!({"name.givenName": "Barbara",
        format!("{ENTERPRISE}:department"): "Tour Operations",
        format!("{ENTERPRISE}:employeeNumber"): "701984"});
    let (status, rules) = patch_rules(&srv, &path, json!([{"op": "replace", "value": keys}])).await;
    assert_eq!((status, rules), (200, vec![]));
    let user = c.get(&path).await.expect(200).body;
    assert_eq!(user["name"]["givenName"], "Barbara");
    assert_eq!(user[ENTERPRISE]["department"], "Tour Operations");
    assert!(
        user.get("name.givenName").is_none(),
        "never a literal attribute"
    );

    // add through a valuePath to a missing element creates it, once.
    let add = json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "b@x.com"}]);
    assert_eq!(patch_rules(&srv, &path, add.clone()).await, (200, vec![]));
    assert_eq!(patch_rules(&srv, &path, add).await, (200, vec![]));
    let user = c.get(&path).await.expect(200).body;
    assert_eq!(
        user["emails"],
        json!([{"type": "work", "value": "b@x.com"}])
    );

    // replace with null clears.
    let clear = json!([{"op": "replace", "path": "name.givenName", "value": null}]);
    assert_eq!(patch_rules(&srv, &path, clear).await, (200, vec![]));
    assert!(c.get(&path).await.body["name"].get("givenName").is_none());

    // Members: removed by value list and by valuePath filter, many per request.
    let users = [
        c.create_user("m1").await,
        c.create_user("m2").await,
        c.create_user("m3").await,
    ];
    let gid = c.create_group("Sales").await;
    let gpath = format!("/Groups/{gid}");
    let all: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
    let outcome = srv
        .call(
            Method::Patch,
            &gpath,
            Some(&patch(
                json!([{"op": "add", "path": "members", "value": all}]),
            )),
        )
        .await;
    assert_eq!((outcome.response.status, outcome.rules), (204, vec![]));
    let remove = json!([
        {"op": "remove", "path": "members", "value": [{"value": users[0]}]},
        {"op": "remove", "path": format!("members[value eq \"{}\"]", users[1])},
    ]);
    assert_eq!(patch_rules(&srv, &gpath, remove).await, (204, vec![]));
    let group = c.get(&gpath).await.expect(200).body;
    assert_eq!(group["members"].as_array().map(Vec::len), Some(1));

    // Filters with unquoted values and attribute names in any case.
    let found = c
        .get(&format!("/Users?filter={}", enc("USERNAME eq bjensen")))
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], 1);
}

#[tokio::test]
async fn null_values_are_absent_or_clearing() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    // Nulls of defined attributes: unassigned, accepted by the core.
    let body = json!({"schemas": [USER_SCHEMA], "userName": "jyoung", "title": null,
        "phoneNumbers": null, ENTERPRISE: null});
    let outcome = srv.call(Method::Post, "/Users", Some(&body)).await;
    assert_eq!(
        (outcome.response.status, outcome.rules.clone()),
        (201, vec![])
    );
    let id = outcome.response.body.expect("body")["id"]
        .as_str()
        .expect("id")
        .to_string();
    // Nulls of attributes this service does not define (Entra's unmapped ones): dropped.
    let body = json!({"schemas": [USER_SCHEMA], "userName": "kyoung", "department": null,
        "manager": null});
    let outcome = srv.call(Method::Post, "/Users", Some(&body)).await;
    assert_eq!(
        (outcome.response.status, outcome.rules),
        (201, vec!["null-unknown-attribute"])
    );
    // add of null adds nothing; replace of null clears.
    let path = format!("/Users/{id}");
    c.patch(
        &path,
        &patch(json!([{"op": "add", "path": "title", "value": "Guide"}])),
    )
    .await
    .expect(200);
    let (status, rules) = patch_rules(
        &srv,
        &path,
        json!([{"op": "Add", "path": "title", "value": null}]),
    )
    .await;
    assert_eq!((status, rules), (200, vec!["op-case", "null-add"]));
    assert_eq!(c.get(&path).await.body["title"], "Guide");
    let clear = json!([{"op": "replace", "path": "title", "value": null}]);
    assert_eq!(patch_rules(&srv, &path, clear).await, (200, vec![]));
    assert!(c.get(&path).await.body.get("title").is_none());
}

#[tokio::test]
async fn entra_work_email_filter_is_answered() {
    let srv = TestServer::start().await;
    let body = json!({"schemas": [USER_SCHEMA], "userName": "bjensen",
        "emails": [{"type": "work", "value": "bjensen@example.com"}]});
    let id = srv.client.post("/Users", &body).await.expect(201).id();
    let query = r#"/Users?filter=emails[type eq "work"].value eq "BJENSEN@example.com""#;
    let outcome = srv.call(Method::Get, query, None).await;
    assert_eq!(outcome.rules, ["filter-value-path"]);
    let body = outcome.response.body.expect("body");
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(body["Resources"][0]["id"], id);
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": r#"emails[type eq "home"].value eq "bjensen@example.com""#});
    let outcome = srv
        .call(Method::Post, "/Users/.search", Some(&search))
        .await;
    assert_eq!(outcome.rules, ["filter-value-path"]);
    assert_eq!(outcome.response.body.expect("body")["totalResults"], 0);
}

#[tokio::test]
async fn onelogin_json_template_values_are_accepted() {
    let srv = TestServer::start().await;
    // A SCIM JSON Template renders {$user.active} as text and may carry "id": null.
    let body = json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "jdoe@example.com",
        "id": null, "active": "true", "meta": {"resourceType": "User"},
        "emails": [{"value": "jdoe@example.com", "type": "work", "primary": true}],
        ENTERPRISE: {"department": "Sales",
            "manager": {"value": "m1", "displayName": "Jane Boss"}}});
    let outcome = srv.call(Method::Post, "/Users", Some(&body)).await;
    assert_eq!(outcome.response.status, 201);
    assert_eq!(outcome.rules, ["boolean-string"]);
    let user = outcome.response.body.expect("body");
    assert_eq!(user["active"], true);
    assert_eq!(user[ENTERPRISE]["department"], "Sales");
    assert_eq!(user[ENTERPRISE]["manager"]["value"], "m1");
}

#[tokio::test]
async fn the_aad_opt_scim_062020_flag_on_the_tenant_url_is_ignored() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let id = c.create_user("bjensen").await;
    let reply = c
        .get(&format!(
            "/Users?aadOptscim062020&filter={}",
            enc("userName eq \"bjensen\"")
        ))
        .await
        .expect(200);
    assert_eq!(reply.body["Resources"][0]["id"], id);
    let op = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    c.patch(&format!("/Users/{id}?aadOptscim062020"), &op)
        .await
        .expect(200);
    c.get(&format!("/Users/{id}?aadOptscim062020=1"))
        .await
        .expect(200);
}

// ---------------------------------------------------------------------------------------------
// Responses identity providers rely on
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn test_connection_with_a_random_guid_is_200_with_an_empty_list() {
    let srv = TestServer::start().await;
    let guid = uuid_like();
    for attr in ["userName", "externalId", "emails[type eq \"work\"].value"] {
        let filter = enc(&format!("{attr} eq \"{guid}\""));
        let reply = srv
            .client
            .get(&format!("/Users?filter={filter}"))
            .await
            .expect(200);
        assert_eq!(reply.header("content-type"), Some("application/scim+json"));
        assert_eq!(
            reply.body,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}),
            "{attr}"
        );
    }
}

/// A random-looking GUID (Test Connection sends a fresh one each time).
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let hex = format!("{nanos:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[tokio::test]
async fn group_patch_is_204_and_uniqueness_is_409_with_scim_type() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let uid = c.create_user("bjensen@example.com").await;
    let gid = c.create_group("Tour Guides").await;
    let reply = c
        .patch(
            &format!("/Groups/{gid}"),
            &patch(json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}])),
        )
        .await
        .expect(204);
    assert_eq!(reply.body, Value::Null);
    for (path, body) in [
        (
            "/Users",
            json!({"schemas": [USER_SCHEMA], "userName": "BJENSEN@example.com"}),
        ),
        (
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"}),
        ),
    ] {
        c.post(path, &body)
            .await
            .expect_error(409, Some("uniqueness"));
    }
}

#[tokio::test]
async fn okta_user_lifecycle_responses() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let filter = enc("userName eq \"test.user@okta.local\"");
    let lookup = format!("/Users?filter={filter}&startIndex=1&count=100");
    let none = c.get(&lookup).await.expect(200);
    assert_eq!(none.body["totalResults"], 0);
    assert_eq!(none.body["Resources"], json!([]));

    let user = json!({"schemas": [USER_SCHEMA], "userName": "test.user@okta.local",
        "password": "1mz050nq", "active": true});
    let created = c.post("/Users", &user).await.expect(201);
    assert!(created.body.get("password").is_none());
    let id = created.id();
    let path = format!("/Users/{id}");
    let found = c.get(&lookup).await.expect(200);
    assert_eq!(found.body["Resources"][0]["id"], id);

    // PUT is Okta's update path: the password is accepted and never returned.
    let mut put = user.clone();
    put["password"] = json!("t1meMa$heen");
    put["displayName"] = json!("Test User");
    let replaced = c.put(&path, &put).await.expect(200);
    assert!(replaced.body.get("password").is_none());
    assert_eq!(replaced.body["displayName"], "Test User");
    assert!(c.get(&path).await.body.get("password").is_none());

    // Deactivate with a path-less replace, as Okta sends it, and as Entra's string.
    for value in [json!(false), json!("False")] {
        let on = patch(json!([{"op": "replace", "value": {"active": true}}]));
        c.patch(&path, &on).await.expect(200);
        let off = patch(json!([{"op": "replace", "value": {"active": value}}]));
        let reply = c.patch(&path, &off).await.expect(200);
        assert_eq!(reply.body["active"], false, "{value}");
        assert_eq!(c.get(&path).await.body["active"], false);
    }
}

#[tokio::test]
async fn paging_with_count_100_is_stable_across_pages() {
    let srv = TestServer::start().await;
    for i in 0..150 {
        let body = json!({"schemas": [USER_SCHEMA], "userName": format!("user{i:03}")});
        let outcome = srv.call(Method::Post, "/Users", Some(&body)).await;
        assert_eq!(outcome.response.status, 201);
    }
    let page = |start: usize| {
        let c = srv.client.clone();
        async move {
            c.get(&format!("/Users?startIndex={start}&count=100"))
                .await
                .expect(200)
                .body
        }
    };
    let ids = |body: &Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|u| u["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (first, second) = (page(1).await, page(101).await);
    assert_eq!(first["totalResults"], 150);
    assert_eq!(
        (
            first["itemsPerPage"].clone(),
            second["itemsPerPage"].clone()
        ),
        (json!(100), json!(50))
    );
    assert_eq!(second["startIndex"], 101);
    let mut all: BTreeSet<String> = ids(&first).into_iter().collect();
    all.extend(ids(&second));
    assert_eq!(all.len(), 150, "no resource twice, none missing");
    assert_eq!(
        ids(&page(1).await),
        ids(&first),
        "the same order on every read"
    );
    assert_eq!(ids(&page(101).await), ids(&second));
}

#[tokio::test]
async fn okta_group_rename_with_its_own_id_is_accepted() {
    let srv = TestServer::start().await;
    let gid = srv.client.create_group("Test SCIMv2").await;
    let path = format!("/Groups/{gid}");
    let (status, rules) = patch_rules(
        &srv,
        &path,
        json!([{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv20"}}]),
    )
    .await;
    assert_eq!((status, rules), (204, vec!["pathless-id"]));
    let group = srv.client.get(&path).await.expect(200);
    assert_eq!(group.body["displayName"], "Test SCIMv20");
    // Another id is still refused.
    let other = patch(json!([{"op": "replace", "value": {"id": "x", "displayName": "y"}}]));
    srv.client
        .patch(&path, &other)
        .await
        .expect_error(400, Some("mutability"));
}
