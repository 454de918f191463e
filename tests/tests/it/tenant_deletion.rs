//! `scimctl tenant delete` (`purge::delete_tenant`) on the backend `SCIM_TEST_BACKEND` selects:
//! it removes every item keyed by the tenant, of every kind the key scheme lists
//! (`keys::TenantItem::ALL`), and nothing of any other tenant; it works in bounded batches with
//! progress, can be run again after an interruption, and a tenant re-created with the same id
//! inherits nothing: no webhook, role rules, audit records or events.

use std::time::Duration;

use scim_shared::audit;
use scim_shared::events::Retry;
use scim_shared::events::lifecycle::Event;
use scim_shared::events::{outbox, webhook};
use scim_shared::protocol::clock;
use scim_shared::protocol::schema::ResourceKind;
use scim_shared::purge::{self, Progress};
use scim_shared::roles;
use scim_shared::store::keys::{self, Reach, TenantItem};
use scim_shared::store::{Condition, Item, Key, PageKey, Store, Write};
use scim_shared::tenant::{self, TenantError};
use scim_tests::receiver::Receiver;
use scim_tests::{GROUP_SCHEMA, Scim, TestServer, USER_SCHEMA};
use serde_json::json;

/// Every item of the table.
async fn every_item(store: &dyn Store) -> Vec<Item> {
    let mut items = Vec::new();
    let mut after: Option<PageKey> = None;
    loop {
        let page = store.scan(after.as_ref(), 500).await.expect("scan");
        items.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    items.sort_by(|a, b| a.key.cmp(&b.key));
    items
}

/// Whether any key of the item, index keys included, names the tenant.
fn keyed_by(t: &str, item: &Item) -> bool {
    let names = |k: &Key| k.pk.contains(t) || k.sk.contains(t);
    names(&item.key) || item.gsi1.as_ref().is_some_and(names)
}

/// Gives tenant `t` items of every kind through the service, as an identity provider and an
/// operator would, and writes directly the kinds no request writes any more or that need a
/// thousand resources: a counter item from before the counter was sharded, listing checkpoints,
/// and a membership edge whose user is gone.
async fn populate(srv: &TestServer, client: &Scim, t: &str) {
    // Users and groups with externalIds: a userName / displayName marker and an externalId
    // marker each.
    let create = |path: &'static str, name_attr: &'static str, name: &'static str| async move {
        let schema = if path == "/Users" {
            USER_SCHEMA
        } else {
            GROUP_SCHEMA
        };
        let body =
            json!({"schemas": [schema], name_attr: name, "externalId": format!("ext-{name}")});
        client.post(path, &body).await.expect(201).id()
    };
    let alice = create("/Users", "userName", "alice").await;
    let bob = create("/Users", "userName", "bob").await;
    let child = create("/Groups", "displayName", "Platform").await;
    let eng = create("/Groups", "displayName", "Engineering").await;
    let add = Scim::patch_body(json!([{"op": "add", "path": "members", "value": [
        {"value": alice}, {"value": bob}, {"value": child}
    ]}]));
    client
        .patch(&format!("/Groups/{eng}"), &add)
        .await
        .expect(204);
    srv.service
        .update_role_rule(
            t,
            "Engineering",
            Some(["deployer".to_string()].into()),
            "scimctl",
        )
        .await
        .expect("role rule");
    webhook::set(&*srv.store, t, "http://127.0.0.1:9/previous-owner")
        .await
        .expect("webhook");
    tenant::clients::create(&*srv.store, t, None)
        .await
        .expect("OAuth client");

    let now = clock::now().unix_timestamp();
    let mut writes = Vec::new();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        writes.push(Write::Add {
            key: Key::new(keys::counters(t), keys::counter_prefix(kind)),
            delta: 1,
        });
        writes.push(Write::Put {
            item: Item {
                key: Key::new(keys::listing_checkpoints(t, kind), "0000001000"),
                body: alice.clone(),
                expires_at: Some(now + 600),
                ..Item::default()
            },
            condition: Condition::None,
        });
    }
    // The replay marker of a federated client's assertion.
    writes.push(Write::Put {
        item: Item {
            key: keys::assertion_id(t, &format!("{t}.client"), "jti-1"),
            expires_at: Some(now + 600),
            ..Item::default()
        },
        condition: Condition::None,
    });
    writes.push(Write::Put {
        item: Item {
            key: keys::member_edge(t, ResourceKind::User, "gone", &eng),
            gsi1: Some(keys::member_edge_gsi(t, &eng, "gone")),
            ..Item::default()
        },
        condition: Condition::None,
    });
    srv.store.transact(writes).await.expect("direct writes");
}

/// Runs a deletion to its end, keeping every progress report.
async fn delete(store: &dyn Store, t: &str) -> (Vec<Progress>, Vec<Progress>) {
    let mut reports = Vec::new();
    let steps = purge::delete_tenant(store, t, &mut |p| reports.push(p.clone()))
        .await
        .expect("tenant deleted");
    (steps, reports)
}

#[tokio::test]
async fn deleting_a_tenant_removes_every_kind_of_its_items_and_nothing_of_another() {
    let srv = TestServer::start().await;
    let beta = srv.tenant("beta").await;
    populate(&srv, &srv.client, "acme").await;
    populate(&srv, &beta, "beta").await;

    let before = every_item(&*srv.store).await;
    let mut missing: Vec<TenantItem> = TenantItem::ALL.to_vec();
    for item in &before {
        match TenantItem::of("acme", item) {
            Some(kind) => missing.retain(|k| *k != kind),
            None => assert!(
                !keyed_by("acme", item),
                "an item of acme of no kind the key scheme lists: {item:?}"
            ),
        }
    }
    assert!(missing.is_empty(), "no item of these kinds: {missing:?}");

    let (steps, _) = delete(&*srv.store, "acme").await;
    assert_eq!(steps.first().map(|s| &s.reach), Some(&Reach::Tokens));
    assert_eq!(steps.last().map(|s| &s.reach), Some(&Reach::Tenant));

    let after = every_item(&*srv.store).await;
    let survivors: Vec<&Item> = after.iter().filter(|i| keyed_by("acme", i)).collect();
    assert!(survivors.is_empty(), "left behind: {survivors:#?}");
    let others: Vec<Item> = before
        .into_iter()
        .filter(|i| TenantItem::of("acme", i).is_none())
        .collect();
    assert_eq!(after, others, "items of other tenants changed");

    srv.client.get("/Users").await.expect_error(401, None);
    let users = beta.get("/Users").await.expect(200);
    assert_eq!(users.body["Resources"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_tenant_re_created_with_the_same_id_inherits_nothing() {
    let srv = TestServer::with_webhooks(Retry::default()).await;
    let mut previous_owner = Receiver::start(0).await;
    populate(&srv, &srv.client, "acme").await;
    webhook::set(&*srv.store, "acme", &previous_owner.url)
        .await
        .expect("webhook");
    srv.client.create_user("carol").await;
    previous_owner.next(5).await;
    let first_life = clock::now() - time::Duration::DAY;

    delete(&*srv.store, "acme").await;
    tenant::create_tenant(&*srv.store, "acme")
        .await
        .expect("the id is free again");
    let (token, _) = tenant::issue_token(&*srv.store, "acme")
        .await
        .expect("token");
    let acme = srv.client.with_token(Some(&token));

    let store = &*srv.store;
    let now = clock::now() + time::Duration::DAY;
    assert_eq!(webhook::get(store, "acme").await.expect("webhook"), None);
    let rules = roles::load(store, "acme").await.expect("role rules");
    assert!(rules.rules.is_empty(), "{rules:?}");
    let log = audit::read(store, "acme", first_life, now)
        .await
        .expect("log");
    assert!(log.is_empty(), "{log:?}");
    let events = outbox::read(store, "acme", first_life, now)
        .await
        .expect("events");
    assert!(events.is_empty(), "{events:?}");
    let users = acme.get("/Users").await.expect(200);
    assert_eq!(users.body["totalResults"], 0);
    let groups = acme.get("/Groups").await.expect(200);
    assert_eq!(groups.body["totalResults"], 0);

    // The new owner's events go nowhere until it sets a webhook of its own. (Deliveries of the
    // first life's events may still be under way; none is about the new owner's user.)
    let dave = acme.create_user("dave").await;
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(d)) = tokio::time::timeout_at(until, previous_owner.deliveries.recv()).await {
        let event: Event = serde_json::from_slice(&d.body).expect("event");
        assert_ne!(
            event.resource.id, dave,
            "the previous owner's webhook received {event:?}"
        );
    }
}

#[tokio::test]
async fn a_tenant_being_deleted_keeps_its_id_until_a_rerun_finishes() {
    let srv = TestServer::start().await;
    populate(&srv, &srv.client, "acme").await;

    // A deletion that stopped after marking the tenant.
    tenant::mark_deleting(&*srv.store, "acme")
        .await
        .expect("marked");
    let listed = tenant::list_tenants(&*srv.store).await.expect("list");
    assert!(listed.iter().any(|t| t.id == "acme" && t.deleting));
    let live = tenant::get_live_tenant(&*srv.store, "acme").await;
    assert!(
        matches!(live, Ok(None)),
        "operator commands see no tenant: {live:?}"
    );
    assert!(matches!(
        tenant::create_tenant(&*srv.store, "acme").await,
        Err(TenantError::Deleting(_))
    ));
    assert!(matches!(
        tenant::issue_token(&*srv.store, "acme").await,
        Err(TenantError::Deleting(_))
    ));

    delete(&*srv.store, "acme").await;
    let left: Vec<Item> = every_item(&*srv.store)
        .await
        .into_iter()
        .filter(|i| keyed_by("acme", i))
        .collect();
    assert!(left.is_empty(), "{left:#?}");
    assert!(matches!(
        purge::delete_tenant(&*srv.store, "acme", &mut |_| {}).await,
        Err(TenantError::NotFound(_))
    ));
    tenant::create_tenant(&*srv.store, "acme")
        .await
        .expect("the id is free again");
}

#[tokio::test]
async fn a_large_tenant_is_deleted_in_bounded_batches_with_progress() {
    let srv = TestServer::start().await;
    let users = 150;
    let operations: Vec<_> = (0..users)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                   "data": {"schemas": [USER_SCHEMA], "userName": format!("user-{i:03}")}})
        })
        .collect();
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": operations,
    });
    srv.client.post("/Bulk", &bulk).await.expect(200);
    let listed = srv.client.get("/Users?count=1000").await.expect(200);
    let ids: Vec<_> = listed.body["Resources"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| json!({"value": u["id"]}))
        .collect();
    assert_eq!(ids.len() as u64, users);
    srv.client
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Everyone", "members": ids}),
        )
        .await
        .expect(201);

    let (steps, reports) = delete(&*srv.store, "acme").await;
    let deleted = |reach: &Reach| steps.iter().find(|s| &s.reach == reach).map(|s| s.deleted);
    assert_eq!(deleted(&Reach::Resources(ResourceKind::User)), Some(users));
    assert_eq!(deleted(&Reach::Resources(ResourceKind::Group)), Some(1));
    let user_reports: Vec<u64> = reports
        .iter()
        .filter(|p| p.reach == Reach::Resources(ResourceKind::User))
        .map(|p| p.deleted)
        .collect();
    assert!(user_reports.len() > 2, "{user_reports:?}");
    for pair in user_reports.windows(2) {
        let batch = pair[1] - pair[0];
        assert!(batch <= 100, "a batch of {batch}: {user_reports:?}");
    }
}
