//! The management API (`/admin/v1`, docs/management-api.md): what the vendor's product and
//! operators call with the operator token to manage tenants and tokens and to read a tenant's
//! directory, events and audit log, never with a tenant's Secret Token.

use std::collections::BTreeSet;

use scim_shared::events::webhook;
use scim_tests::receiver::Receiver;
use scim_tests::{OPERATOR_TOKEN, Reply, Scim, TestServer};
use serde_json::{Value, json};

/// A client of the management API of `srv`, with the operator token.
fn api(srv: &TestServer) -> Scim {
    Scim::new(
        &format!("{}{}", srv.root(), scim_shared::manage::BASE_PATH),
        Some(OPERATOR_TOKEN),
    )
}

/// Asserts a management error: its status and that the body says why.
#[track_caller]
fn expect_error(reply: Reply, status: u16) -> Reply {
    let reply = reply.expect(status);
    assert_eq!(reply.body["error"]["status"], status, "{}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        reply.body
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
    reply
}

/// The `id`s of a JSON array.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

/// Every item of a paged activity list (`events` or `records`), following `cursor` until
/// `more` is false; returns them and the last cursor.
async fn all_pages(api: &Scim, path: &str, name: &str) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut query = String::from("limit=2");
    loop {
        let page = api.get(&format!("{path}?{query}")).await.expect(200);
        let got = page.body[name].as_array().expect(name).clone();
        assert!(got.len() <= 2, "{}", page.body);
        items.extend(got);
        let cursor = page.body["cursor"].as_str().expect("cursor").to_string();
        if page.body["more"] == false {
            return (items, cursor);
        }
        query = format!("limit=2&cursor={cursor}");
    }
}

#[tokio::test]
async fn tenants_and_their_tokens_are_managed_over_the_api() {
    let srv = TestServer::start().await;
    let api = api(&srv);

    let created = api
        .post("/tenants", &json!({"id": "globex"}))
        .await
        .expect(201);
    assert_eq!(created.body["id"], "globex");
    assert_eq!(
        created.body["settings"],
        json!({"dialect": "auto", "log_retention_days": 90, "deactivation": "leaver"})
    );
    expect_error(api.post("/tenants", &json!({"id": "globex"})).await, 409);
    expect_error(api.post("/tenants", &json!({"id": "Not Valid"})).await, 400);
    expect_error(api.post("/tenants", &json!({"name": "x"})).await, 400);

    let listed = api.get("/tenants").await.expect(200);
    assert_eq!(ids(&listed.body["tenants"]), ["acme", "globex"]);
    assert_eq!(
        api.get("/tenants/globex").await.expect(200).body,
        created.body
    );

    let set = api
        .patch(
            "/tenants/globex",
            &json!({"settings": {"dialect": "strict", "log_retention_days": 30}}),
        )
        .await
        .expect(200);
    assert_eq!(
        set.body["settings"],
        json!({"dialect": "strict", "log_retention_days": 30, "deactivation": "leaver"})
    );
    expect_error(
        api.patch(
            "/tenants/globex",
            &json!({"settings": {"dialect": "loose"}}),
        )
        .await,
        400,
    );

    // The token is shown once, works at once, and is listed without its secret.
    let issued = api
        .post("/tenants/globex/tokens", &json!({}))
        .await
        .expect(201);
    let token = issued.body["token"].as_str().expect("token").to_string();
    let globex = Scim::new(&srv.base, Some(&token));
    globex.create_user("first@globex.example").await;
    let tokens = api.get("/tenants/globex/tokens").await.expect(200);
    assert_eq!(ids(&tokens.body["tokens"]), [issued.body["id"].clone()]);
    assert!(!tokens.body.to_string().contains(&token), "{}", tokens.body);
    api.post("/tenants/globex/tokens", &json!({}))
        .await
        .expect(201);
    expect_error(api.post("/tenants/globex/tokens", &json!({})).await, 409);

    let token_id = issued.body["id"].as_str().expect("id");
    let revoked = api
        .delete(&format!("/tenants/globex/tokens/{token_id}"))
        .await
        .expect(204);
    assert_eq!(revoked.body, Value::Null);
    globex.get("/Users").await.expect_error(401, None);
    expect_error(
        api.delete(&format!("/tenants/globex/tokens/{token_id}"))
            .await,
        404,
    );

    let deleted = api.delete("/tenants/globex").await.expect(200);
    assert!(
        deleted.body["deleted"].as_u64().is_some_and(|n| n >= 2),
        "{}",
        deleted.body
    );
    expect_error(api.get("/tenants/globex").await, 404);
    expect_error(api.get("/tenants/globex/users").await, 404);
    assert_eq!(
        ids(&api.get("/tenants").await.expect(200).body["tenants"]),
        ["acme"]
    );
}

#[tokio::test]
async fn the_directory_is_read_with_scim_filters_and_cursor_paging() {
    let srv = TestServer::start().await;
    let (api, c) = (api(&srv), &srv.client);
    let mut users = BTreeSet::new();
    for i in 0..5 {
        users.insert(c.create_user(&format!("user{i}@acme.example")).await);
    }
    let gid = c.create_group("Engineering").await;
    let first = users.first().expect("a user").clone();
    c.patch(
        &format!("/Groups/{gid}"),
        &Scim::members_patch("add", &[&first]),
    )
    .await
    .expect(204);

    let mut seen = BTreeSet::new();
    let mut query = "count=2&cursor".to_string();
    loop {
        let page = api
            .get(&format!("/tenants/acme/users?{query}"))
            .await
            .expect(200);
        let resources = page.body["Resources"].as_array().expect("Resources");
        assert!(resources.len() <= 2, "{}", page.body);
        seen.extend(ids(&page.body["Resources"]));
        match page.body["nextCursor"].as_str() {
            Some(next) => query = format!("count=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, users);

    let filtered = api
        .get("/tenants/acme/users?filter=userName%20eq%20%22user3%40acme.example%22")
        .await
        .expect(200);
    assert_eq!(filtered.body["totalResults"], 1);
    assert_eq!(
        filtered.body["Resources"][0]["userName"],
        "user3@acme.example"
    );
    let member_of = api
        .get(&format!(
            "/tenants/acme/groups?filter=members.value%20eq%20%22{first}%22"
        ))
        .await
        .expect(200);
    assert_eq!(ids(&member_of.body["Resources"]), [gid.as_str()]);

    let user = api
        .get(&format!("/tenants/acme/users/{first}"))
        .await
        .expect(200);
    assert_eq!(user.body["id"], first.as_str());
    assert!(
        user.body["meta"]["location"]
            .as_str()
            .is_some_and(|l| l.starts_with(&srv.base)),
        "the resource's SCIM location: {}",
        user.body
    );
    let group = api
        .get(&format!("/tenants/acme/groups/{gid}"))
        .await
        .expect(200);
    assert_eq!(scim_tests::member_ids(&group.body), [first.as_str()]);

    expect_error(api.get("/tenants/acme/users/no-such-user").await, 404);
    expect_error(
        api.get("/tenants/acme/users?filter=userName%20zz%201")
            .await,
        400,
    );
    expect_error(api.get("/tenants/nobody/users").await, 404);
    // Read-only: a write to the directory is not a route.
    expect_error(
        api.post("/tenants/acme/users", &json!({"userName": "x"}))
            .await,
        405,
    );
    expect_error(
        api.delete(&format!("/tenants/acme/users/{first}")).await,
        405,
    );
    c.get(&format!("/Users/{first}")).await.expect(200);
}

#[tokio::test]
async fn events_are_replayed_from_a_time_an_event_id_or_a_cursor() {
    let srv = TestServer::start().await;
    let (api, c) = (api(&srv), &srv.client);
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(c.create_user(&format!("e{i}@acme.example")).await);
    }

    let (events, cursor) = all_pages(&api, "/tenants/acme/events", "events").await;
    let subjects: Vec<&str> = events
        .iter()
        .map(|e| e["resource"]["id"].as_str().expect("resource id"))
        .collect();
    assert_eq!(subjects, created, "one joiner per user, in order");
    assert!(
        events
            .iter()
            .all(|e| e["type"] == "joiner" && e["tenant"] == "acme")
    );

    // Polling with the last cursor gives nothing until something happens, then only that.
    let idle = api
        .get(&format!("/tenants/acme/events?cursor={cursor}"))
        .await
        .expect(200);
    assert_eq!(idle.body["events"], json!([]));
    assert_eq!(idle.body["cursor"], cursor.as_str());
    let later = c.create_user("later@acme.example").await;
    let polled = api
        .get(&format!("/tenants/acme/events?cursor={cursor}"))
        .await
        .expect(200);
    assert_eq!(polled.body["events"][0]["resource"]["id"], later.as_str());
    assert_eq!(polled.body["events"].as_array().map(Vec::len), Some(1));

    // From an event id: the events after it.
    let third = events[2]["id"].as_str().expect("event id");
    let after = api
        .get(&format!("/tenants/acme/events?after={third}"))
        .await
        .expect(200);
    let after_subjects: Vec<&str> = after.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["resource"]["id"].as_str().expect("id"))
        .collect();
    assert_eq!(after_subjects, [&created[3], &created[4], &later]);

    // From a time: nothing happened after now.
    let future = api
        .get("/tenants/acme/events?since=2999-01-01T00:00:00Z&until=2999-01-02T00:00:00Z")
        .await
        .expect(200);
    assert_eq!(future.body["events"], json!([]));

    expect_error(
        api.get("/tenants/acme/events?after=no-such-event").await,
        404,
    );
    expect_error(
        api.get(&format!(
            "/tenants/acme/events?after={third}&cursor={cursor}"
        ))
        .await,
        400,
    );
    expect_error(api.get("/tenants/acme/events?cursor=%21%21").await, 400);
    expect_error(api.get("/tenants/acme/events?since=soon").await, 400);
    expect_error(api.get("/tenants/acme/events?since=200d").await, 400);
    expect_error(api.get("/tenants/acme/events?limit=0").await, 400);
}

#[tokio::test]
async fn events_a_consumer_missed_are_republished_with_their_ids() {
    // No webhook while the users are created (a plain server delivers nothing): the events are
    // only in the outbox, as after a webhook outage or a crash before delivery.
    let srv = TestServer::start().await;
    let (api, c) = (api(&srv), &srv.client);
    let mut created = Vec::new();
    for i in 0..3 {
        created.push(c.create_user(&format!("r{i}@acme.example")).await);
    }
    let stored = api.get("/tenants/acme/events").await.expect(200);
    let ids: Vec<String> = ids(&stored.body["events"]);

    // The receiver fails its first attempt: the retry delivers it, in order.
    let mut rx = Receiver::start(1).await;
    webhook::set(&*srv.store, "acme", &rx.url)
        .await
        .expect("hook");
    let republished = api
        .post("/tenants/acme/events/republish?since=1h", &json!({}))
        .await
        .expect(200);
    assert_eq!(republished.body["republished"], 3, "{}", republished.body);
    assert_eq!(republished.body["failed"], 0);
    let mut delivered = Vec::new();
    while delivered.len() < 3 {
        let d = rx.next(5).await;
        if d.answered == 204 {
            delivered.push(d.event_id.expect("the event id header"));
        }
    }
    assert_eq!(delivered, ids, "every event, in order, with its stable id");

    // Nothing before `since`; a tenant without a webhook gets every event counted as failed.
    let later = api
        .post(
            "/tenants/acme/events/republish?since=2999-01-01",
            &json!({}),
        )
        .await
        .expect(400);
    assert!(later.body["error"]["message"].is_string());
    srv.tenant("globex")
        .await
        .create_user("g@globex.example")
        .await;
    let unhooked = api
        .post("/tenants/globex/events/republish?since=1h", &json!({}))
        .await
        .expect(200);
    assert_eq!(
        (
            unhooked.body["republished"].as_u64(),
            unhooked.body["failed"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert!(
        unhooked.body["failures"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no webhook")),
        "{}",
        unhooked.body
    );
}

#[tokio::test]
async fn the_audit_log_is_queried_by_status_and_operation() {
    let srv = TestServer::start().await;
    let (api, c) = (api(&srv), &srv.client);
    let uid = c.create_user("audited@acme.example").await;
    c.post("/Users", &json!({"schemas": [scim_tests::USER_SCHEMA]}))
        .await
        .expect_error(400, None);
    c.delete(&format!("/Users/{uid}")).await.expect(204);

    let (records, _) = all_pages(&api, "/tenants/acme/audit", "records").await;
    let operations: Vec<(&str, u64)> = records
        .iter()
        .map(|r| {
            (
                r["operation"].as_str().expect("operation"),
                r["status"].as_u64().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        operations,
        [
            ("CreateUser", 201),
            ("CreateUser", 400),
            ("DeleteUser", 204)
        ]
    );
    let failed = api
        .get("/tenants/acme/audit?status=failed")
        .await
        .expect(200);
    assert_eq!(failed.body["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(failed.body["records"][0]["status"], 400);
    let deletes = api
        .get("/tenants/acme/audit?operation=DeleteUser")
        .await
        .expect(200);
    assert_eq!(deletes.body["records"][0]["resource_id"], uid.as_str());
    let created = api.get("/tenants/acme/audit?status=201").await.expect(200);
    assert_eq!(created.body["records"].as_array().map(Vec::len), Some(1));
    expect_error(api.get("/tenants/acme/audit?status=bad").await, 400);
}

#[tokio::test]
async fn one_tenants_directory_events_and_audit_never_appear_in_anothers() {
    let srv = TestServer::start().await;
    let api = api(&srv);
    let acme_user = srv.client.create_user("a@acme.example").await;
    let acme_group = srv.client.create_group("Acme Staff").await;
    let globex = srv.tenant("globex").await;
    let globex_user = globex.create_user("g@globex.example").await;

    for (tenant, own_user) in [("acme", &acme_user), ("globex", &globex_user)] {
        let users = api
            .get(&format!("/tenants/{tenant}/users"))
            .await
            .expect(200);
        assert_eq!(ids(&users.body["Resources"]), [own_user.as_str()]);
        let events = api
            .get(&format!("/tenants/{tenant}/events"))
            .await
            .expect(200);
        let events = events.body["events"].as_array().expect("events").clone();
        assert!(!events.is_empty());
        assert!(events.iter().all(|e| e["tenant"] == tenant), "{events:?}");
        let audit = api
            .get(&format!("/tenants/{tenant}/audit"))
            .await
            .expect(200);
        let records = audit.body["records"].as_array().expect("records").clone();
        assert!(!records.is_empty());
        assert!(records.iter().all(|r| r["tenant"] == tenant), "{records:?}");
    }
    expect_error(
        api.get(&format!("/tenants/globex/users/{acme_user}")).await,
        404,
    );
    expect_error(
        api.get(&format!("/tenants/globex/groups/{acme_group}"))
            .await,
        404,
    );
    expect_error(
        api.get(&format!("/tenants/acme/users/{globex_user}")).await,
        404,
    );
    let globex_groups = api.get("/tenants/globex/groups").await.expect(200);
    assert_eq!(globex_groups.body["totalResults"], 0);

    // A tenant's Secret Token opens nothing here, for its own tenant or another.
    for tenant in ["acme", "globex"] {
        let with_secret = api.with_token(globex.token());
        expect_error(
            with_secret.get(&format!("/tenants/{tenant}/users")).await,
            401,
        );
    }
    expect_error(api.with_token(None).get("/tenants").await, 401);
    expect_error(api.with_token(Some("op_wrong")).get("/tenants").await, 401);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let srv = TestServer::start().await;
    let api = api(&srv);
    expect_error(api.get("/nothing-here").await, 404);
    expect_error(api.get("/tenants/acme/tokens/x/y").await, 404);
    expect_error(api.put("/tenants", &json!({})).await, 405);
    expect_error(
        api.send("POST", "/tenants", Some(b"{".to_vec()), &[]).await,
        400,
    );
}
