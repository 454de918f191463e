//! Role-based provisioning: a tenant's rules grant roles to the members of a group; a user's
//! effective roles are its own `roles` plus what its groups grant, and every change of them is
//! reported as an `effectiveRoles` change on a `mover` (or the joiner / leaver of the request).

use scim_shared::events::lifecycle::{AttributeChange, Event, EventKind};
use scim_shared::protocol::clock;
use scim_shared::roles::EFFECTIVE_ROLES;
use scim_tests::{Scim, TestServer, USER_SCHEMA};
use serde_json::json;

/// The `effectiveRoles` changes among `events`, by user: (user, added, removed).
fn role_changes(events: &[Event]) -> Vec<(String, Vec<String>, Vec<String>)> {
    events
        .iter()
        .flat_map(|e| {
            e.changes
                .iter()
                .filter(|c| c.attribute == EFFECTIVE_ROLES)
                .map(|c: &AttributeChange| {
                    (e.resource.id.clone(), c.added.clone(), c.removed.clone())
                })
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn set_rule(srv: &TestServer, group: &str, roles: &[&str]) -> usize {
    let grant = roles.iter().map(|r| r.to_string()).collect();
    srv.service
        .update_role_rule("acme", group, Some(grant), "scimctl")
        .await
        .expect("rule set")
        .events
        .len()
}

async fn effective(srv: &TestServer, user: &str) -> Vec<String> {
    let ctx = scim_shared::ops::Ctx::new("acme", &*srv.store, srv.service.limits());
    scim_shared::ops::effective_roles::of_user(&ctx, user)
        .await
        .expect("effective roles")
        .into_iter()
        .collect()
}

#[tokio::test]
async fn joining_and_leaving_a_group_with_a_rule_moves_the_members_effective_roles() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let eng = c.create_group("Engineering").await;
    let ops = c.create_group("Operations").await;
    // By displayName (resolved to the id) and by id.
    assert_eq!(
        set_rule(&srv, "engineering", &["deployer", "editor"]).await,
        0
    );
    assert_eq!(set_rule(&srv, &ops, &["deployer"]).await, 0);
    let alice = c.create_user("alice").await;
    let t0 = clock::now();

    c.patch(
        &format!("/Groups/{eng}"),
        &Scim::members_patch("add", &[&alice]),
    )
    .await
    .expect(204);
    c.patch(
        &format!("/Groups/{ops}"),
        &Scim::members_patch("add", &[&alice]),
    )
    .await
    .expect(204);
    assert_eq!(effective(&srv, &alice).await, ["deployer", "editor"]);
    c.patch(
        &format!("/Groups/{eng}"),
        &Scim::members_patch("remove", &[&alice]),
    )
    .await
    .expect(204);
    assert_eq!(effective(&srv, &alice).await, ["deployer"]);

    let events = srv.events_since(t0).await;
    assert_eq!(
        role_changes(&events),
        [
            (alice.clone(), strings(&["deployer", "editor"]), vec![]),
            // deployer is still granted by Operations: only editor is lost.
            (alice.clone(), vec![], strings(&["editor"])),
        ],
        "joining Operations grants nothing new, so its mover has no effectiveRoles change"
    );
    let movers = events
        .iter()
        .filter(|e| e.kind == EventKind::Mover && e.resource.id == alice)
        .count();
    assert_eq!(movers, 3, "one membership mover per request");
}

#[tokio::test]
async fn the_users_own_roles_count_and_a_joiner_carries_them() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let eng = c.create_group("Engineering").await;
    set_rule(&srv, &eng, &["editor"]).await;
    let t0 = clock::now();
    let bob = c
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "bob",
                "roles": [{"value": "viewer"}]}),
        )
        .await
        .expect(201)
        .id();
    c.patch(
        &format!("/Groups/{eng}"),
        &Scim::members_patch("add", &[&bob]),
    )
    .await
    .expect(204);
    // The IdP now assigns editor directly too: nothing changes in effect.
    let direct = Scim::patch_body(json!([{"op": "add", "path": "roles",
        "value": [{"value": "editor"}]}]));
    c.patch(&format!("/Users/{bob}"), &direct).await.expect(200);
    // Leaving the group keeps editor (direct) and loses nothing.
    c.patch(
        &format!("/Groups/{eng}"),
        &Scim::members_patch("remove", &[&bob]),
    )
    .await
    .expect(204);
    let drop_viewer =
        Scim::patch_body(json!([{"op": "remove", "path": "roles[value eq \"viewer\"]"}]));
    c.patch(&format!("/Users/{bob}"), &drop_viewer)
        .await
        .expect(200);

    let events = srv.events_since(t0).await;
    let first = events
        .iter()
        .find(|e| e.resource.id == bob)
        .expect("bob's events");
    assert_eq!(first.kind, EventKind::Joiner);
    assert_eq!(
        role_changes(&events),
        [
            (bob.clone(), strings(&["viewer"]), vec![]),
            (bob.clone(), strings(&["editor"]), vec![]),
            (bob.clone(), vec![], strings(&["viewer"])),
        ]
    );
    assert_eq!(effective(&srv, &bob).await, ["editor"]);
}

#[tokio::test]
async fn changing_or_removing_a_rule_moves_every_member_it_affects() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let eng = c.create_group("Engineering").await;
    let (a, b) = (c.create_user("a").await, c.create_user("b").await);
    c.patch(
        &format!("/Groups/{eng}"),
        &Scim::members_patch("add", &[&a, &b]),
    )
    .await
    .expect(204);
    let t0 = clock::now();
    assert_eq!(set_rule(&srv, &eng, &["editor"]).await, 2);
    // Same grant again: nobody's effective roles change.
    assert_eq!(set_rule(&srv, &eng, &["editor"]).await, 0);
    assert_eq!(set_rule(&srv, &eng, &["admin"]).await, 2);
    let removed = srv
        .service
        .update_role_rule("acme", "Engineering", None, "scimctl")
        .await
        .expect("rule removed");
    assert_eq!(removed.rule.map(|r| r.group), Some(eng.clone()));
    assert_eq!(removed.events.len(), 2);

    // The membership requests before `t0` may share its millisecond: keep the operator's events.
    let events: Vec<Event> = srv
        .events_since(t0)
        .await
        .into_iter()
        .filter(|e| e.actor == "scimctl")
        .collect();
    assert_eq!(events.len(), 6);
    assert!(events.iter().all(|e| e.kind == EventKind::Mover));
    let mut changes = role_changes(&events);
    changes.sort();
    let mut expected = Vec::new();
    for u in [&a, &b] {
        expected.push((u.clone(), strings(&["editor"]), vec![]));
        expected.push((u.clone(), strings(&["admin"]), strings(&["editor"])));
        expected.push((u.clone(), vec![], strings(&["admin"])));
    }
    expected.sort();
    assert_eq!(changes, expected);
    let ids: std::collections::BTreeSet<_> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "distinct event ids");
}

#[tokio::test]
async fn a_rule_needs_an_existing_group_and_a_role() {
    let srv = TestServer::start().await;
    let missing = srv
        .service
        .update_role_rule("acme", "nope", Some(["x".to_string()].into()), "scimctl")
        .await
        .expect_err("no such group");
    assert_eq!(missing.status(), 404);
    let g = srv.client.create_group("G").await;
    let empty = srv
        .service
        .update_role_rule("acme", &g, Some(Default::default()), "scimctl")
        .await
        .expect_err("no role");
    assert_eq!(empty.status(), 400);
}

#[tokio::test]
async fn emergency_logout_reports_the_effective_roles_its_groups_granted() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let eng = c.create_group("Engineering").await;
    set_rule(&srv, &eng, &["deployer"]).await;
    let uid = c
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "carol",
                "roles": [{"value": "viewer"}]}),
        )
        .await
        .expect(201)
        .id();
    c.patch(
        &format!("/Groups/{eng}"),
        &Scim::members_patch("add", &[&uid]),
    )
    .await
    .expect(204);
    let event = srv
        .service
        .emergency_logout("acme".into(), &uid, "scimctl")
        .await
        .expect("logged out");
    assert_eq!(
        role_changes(std::slice::from_ref(&event)),
        [(uid.clone(), vec![], strings(&["deployer"]))]
    );
    assert_eq!(effective(&srv, &uid).await, ["viewer"]);
}
