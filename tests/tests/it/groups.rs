//! Groups and memberships: members as separate items, so a membership change costs the same
//! number of store operations whatever the size of the group.

use std::sync::Arc;

use scim_shared::ops::Limits;
use scim_shared::protocol::http::Method;
use scim_shared::protocol::schema::ResourceKind;
use scim_shared::store::keys;
use scim_shared::store::{Condition, Item, Write};
use scim_tests::faults::Interleave;
use scim_tests::{GROUP_SCHEMA, Scim, TestServer, fresh_store, member_ids};
use serde_json::json;

#[tokio::test]
async fn a_group_created_with_members_lists_them_and_users_list_the_group() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let alice = c.create_user("alice").await;
    let bob = c.create_user("bob").await;
    let created = c
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering",
                "members": [{"value": alice}, {"value": bob, "type": "User"}]}),
        )
        .await
        .expect(201);
    let gid = created.id();
    let mut expected = vec![alice.clone(), bob.clone()];
    expected.sort();
    assert_eq!(member_ids(&created.body), expected);
    let group = c.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(member_ids(&group.body), expected);
    let member = &group.body["members"][0];
    assert_eq!(member["type"], "User");
    assert!(
        member["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with(&format!(
                "/Users/{}",
                member["value"].as_str().unwrap_or_default()
            )))
    );

    let user = c.get(&format!("/Users/{alice}")).await.expect(200);
    assert_eq!(user.body["groups"][0]["value"], gid);
    assert_eq!(user.body["groups"][0]["type"], "direct");
}

#[tokio::test]
async fn patch_adds_and_removes_members_in_every_rfc_shape() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let users: Vec<String> = futures_join(c, &["u1", "u2", "u3", "u4"]).await;
    let gid = c.create_group("Sales").await;
    let path = format!("/Groups/{gid}");

    c.patch(&path, &Scim::members_patch("add", &users))
        .await
        .expect(204);
    assert_eq!(member_ids(&c.get(&path).await.body).len(), 4);

    // Adding an existing member again changes nothing.
    c.patch(&path, &Scim::members_patch("add", &users[..1]))
        .await
        .expect(204);
    assert_eq!(member_ids(&c.get(&path).await.body).len(), 4);

    // remove with a valuePath filter
    let op = json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[0])}]);
    c.patch(&path, &Scim::patch_body(op)).await.expect(204);
    // remove with path `members` and a value list (as Entra sends it)
    let op = json!([{"op": "remove", "path": "members", "value": [{"value": users[1]}]}]);
    c.patch(&path, &Scim::patch_body(op)).await.expect(204);
    let mut left = vec![users[2].clone(), users[3].clone()];
    left.sort();
    assert_eq!(member_ids(&c.get(&path).await.body), left);

    // replace the whole list
    let op = json!([{"op": "replace", "path": "members", "value": [{"value": users[0]}]}]);
    c.patch(&path, &Scim::patch_body(op)).await.expect(204);
    assert_eq!(member_ids(&c.get(&path).await.body), vec![users[0].clone()]);

    // remove all members
    let op = json!([{"op": "remove", "path": "members"}]);
    c.patch(&path, &Scim::patch_body(op)).await.expect(204);
    assert!(c.get(&path).await.body.get("members").is_none());
    assert!(
        c.get(&format!("/Users/{}", users[0]))
            .await
            .body
            .get("groups")
            .is_none()
    );
}

async fn futures_join(c: &Scim, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for n in names {
        ids.push(c.create_user(n).await);
    }
    ids
}

#[tokio::test]
async fn group_patch_returns_the_resource_when_attributes_are_requested() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let u = c.create_user("carol").await;
    let gid = c.create_group("Ops").await;
    let r = c
        .patch(
            &format!("/Groups/{gid}?excludedAttributes=members"),
            &Scim::members_patch("add", &[u]),
        )
        .await
        .expect(200);
    assert_eq!(r.body["displayName"], "Ops");
    assert!(r.body.get("members").is_none());
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
}

#[tokio::test]
async fn unknown_members_are_rejected_and_nothing_is_written() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let u = c.create_user("dave").await;
    let gid = c.create_group("QA").await;
    let before = c.get(&format!("/Groups/{gid}")).await.body;
    let body = Scim::members_patch("add", &[u, "no-such-id".to_string()]);
    c.patch(&format!("/Groups/{gid}"), &body)
        .await
        .expect_error(400, Some("invalidValue"));
    assert_eq!(c.get(&format!("/Groups/{gid}")).await.body, before);
}

/// A server whose store lets a test land a concurrent request's writes inside another request.
async fn interleaving() -> (TestServer, Arc<Interleave>) {
    let store = Arc::new(Interleave::new(fresh_store().await));
    let srv = TestServer::with_store(store.clone(), Limits::default()).await;
    (srv, store)
}

/// Whether a transaction writes (or checks) the stored user `id`.
fn touches_user(id: &str) -> scim_tests::faults::Trigger {
    let key = keys::resource("acme", ResourceKind::User, id);
    Box::new(move |writes: &[Write]| writes.iter().any(|w| *w.key() == key))
}

/// Group `gid` lists no member, and no group is found by `user` as a member.
async fn assert_no_member(c: &Scim, gid: &str, user: &str) {
    let group = c.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(member_ids(&group.body), Vec::<String>::new());
    let filter = format!("members.value eq \"{user}\"");
    assert_eq!(c.ids_where("/Groups", &filter).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_member_deleted_before_the_edge_is_written_is_refused_and_never_listed() {
    let (srv, store) = interleaving().await;
    let c = &srv.client;
    let user = c.create_user("gone-early").await;
    let gid = c.create_group("Race A").await;
    // The user's DELETE commits after the PATCH read the member and before it writes the edge.
    let delete_user = Write::Delete {
        key: keys::resource("acme", ResourceKind::User, &user),
        condition: Condition::None,
    };
    store.before(touches_user(&user), vec![delete_user]);
    c.patch(
        &format!("/Groups/{gid}"),
        &Scim::members_patch("add", &[user.as_str()]),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    assert!(store.fired());
    assert_no_member(c, &gid, &user).await;
}

#[tokio::test]
async fn an_edge_written_while_its_member_is_deleted_is_swept_with_it() {
    let (srv, store) = interleaving().await;
    let c = &srv.client;
    let user = c.create_user("gone-late").await;
    let gid = c.create_group("Race B").await;
    // A PATCH adding the user commits its edge after the user's DELETE read the user's edges
    // and before the DELETE's transaction.
    let edge = Write::Put {
        item: Item {
            key: keys::member_edge("acme", ResourceKind::User, &user, &gid),
            gsi1: Some(keys::member_edge_gsi("acme", &gid, &user)),
            ..Item::default()
        },
        condition: Condition::None,
    };
    let user_key = keys::resource("acme", ResourceKind::User, &user);
    let deletes_user = Box::new(move |writes: &[Write]| {
        writes
            .iter()
            .any(|w| matches!(w, Write::Delete { key, .. } if *key == user_key))
    });
    store.before(deletes_user, vec![edge]);
    c.delete(&format!("/Users/{user}")).await.expect(204);
    assert!(store.fired());
    assert_no_member(c, &gid, &user).await;
}

#[tokio::test]
async fn deleting_a_user_removes_its_memberships_and_deleting_a_group_removes_the_users_groups() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let a = c.create_user("erin").await;
    let b = c.create_user("frank").await;
    let g1 = c.create_group("G1").await;
    let g2 = c.create_group("G2").await;
    c.patch(
        &format!("/Groups/{g1}"),
        &Scim::members_patch("add", &[a.clone(), b.clone()]),
    )
    .await
    .expect(204);
    c.patch(
        &format!("/Groups/{g2}"),
        &Scim::members_patch("add", &[a.as_str()]),
    )
    .await
    .expect(204);

    c.delete(&format!("/Users/{b}")).await.expect(204);
    assert_eq!(
        member_ids(&c.get(&format!("/Groups/{g1}")).await.body),
        vec![a.clone()]
    );

    c.delete(&format!("/Groups/{g1}")).await.expect(204);
    let user = c.get(&format!("/Users/{a}")).await.expect(200);
    let groups: Vec<&str> = user.body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["value"].as_str())
        .collect();
    assert_eq!(groups, vec![g2.as_str()]);
}

#[tokio::test]
async fn nested_groups_are_members_of_type_group() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let parent = c.create_group("Parent").await;
    let child = c.create_group("Child").await;
    c.patch(
        &format!("/Groups/{parent}"),
        &Scim::members_patch("add", &[child.as_str()]),
    )
    .await
    .expect(204);
    let g = c.get(&format!("/Groups/{parent}")).await.expect(200);
    assert_eq!(g.body["members"][0]["type"], "Group");
    // A group cannot contain itself.
    c.patch(
        &format!("/Groups/{parent}"),
        &Scim::members_patch("add", &[parent.as_str()]),
    )
    .await
    .expect_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn group_display_names_are_unique_per_tenant() {
    let srv = TestServer::start().await;
    srv.client.create_group("Finance").await;
    srv.client
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "FINANCE"}),
        )
        .await
        .expect_error(409, Some("uniqueness"));
    let other = srv.tenant("globex").await;
    other.create_group("Finance").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_or_removing_a_member_costs_the_same_at_1_and_10000_members() {
    // DynamoDB Local serves a few hundred requests per second here: a smaller large group.
    let large_size = match scim_tests::backend() {
        scim_tests::Backend::Embedded => 10_000,
        scim_tests::Backend::DynamoDb => 1_000,
    };
    let srv = TestServer::start().await;
    let small = srv.client.create_group("small").await;
    let large = srv.client.create_group("large").await;
    srv.fill_group(&small, &small, 1, &|_| {}).await;
    srv.fill_group(&large, &large, large_size, &|_| {}).await;
    let newcomer = srv.client.create_user("newcomer").await;

    let mut costs = Vec::new();
    for gid in [&small, &large] {
        let add = srv
            .call(
                Method::Patch,
                &format!("/Groups/{gid}"),
                Some(&Scim::members_patch("add", &[newcomer.as_str()])),
            )
            .await;
        assert_eq!(add.response.status, 204);
        let remove_op =
            json!([{"op": "remove", "path": format!("members[value eq \"{newcomer}\"]")}]);
        let remove = srv
            .call(
                Method::Patch,
                &format!("/Groups/{gid}"),
                Some(&Scim::patch_body(remove_op)),
            )
            .await;
        assert_eq!(remove.response.status, 204);
        let get = srv
            .call(
                Method::Get,
                &format!("/Groups/{gid}?excludedAttributes=members"),
                None,
            )
            .await;
        assert_eq!(get.response.status, 200);
        costs.push((add.usage, remove.usage, get.usage));
    }
    let (small_cost, large_cost) = (costs[0], costs[1]);
    println!("1 member: {small_cost:?}\n{large_size} members: {large_cost:?}");
    assert_eq!(small_cost.0.calls, large_cost.0.calls, "add: store calls");
    assert_eq!(
        small_cost.0.items_written, large_cost.0.items_written,
        "add: items written"
    );
    assert_eq!(
        small_cost.1.calls, large_cost.1.calls,
        "remove: store calls"
    );
    assert_eq!(
        small_cost.1.items_written, large_cost.1.items_written,
        "remove: items written"
    );
    // excludedAttributes=members reads the group item only.
    assert_eq!(large_cost.2.calls, 1);
    assert_eq!(large_cost.2.items_read, 1);
    // And the large group really has that many members.
    let full = srv
        .call(Method::Get, &format!("/Groups/{large}"), None)
        .await;
    let n = full
        .response
        .body
        .as_ref()
        .and_then(|b| b["members"].as_array().map(Vec::len));
    assert_eq!(n, Some(large_size));
}

/// The `display` a client sends with a member is kept on the membership and returned with it;
/// a member added without one has none.
#[tokio::test]
async fn a_members_display_is_returned_as_the_client_sent_it() {
    let srv = TestServer::start().await;
    let (barbara, kim) = (
        srv.client.create_user("barbara").await,
        srv.client.create_user("kim").await,
    );
    let group = srv
        .client
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides",
                    "members": [{"value": barbara, "display": "Barbara Jensen"}]}),
        )
        .await
        .expect(201)
        .id();
    srv.client
        .patch(
            &format!("/Groups/{group}"),
            &Scim::patch_body(json!([{"op": "add", "path": "members", "value": [{"value": kim}]}])),
        )
        .await
        .expect(204);
    let got = srv
        .client
        .get(&format!("/Groups/{group}"))
        .await
        .expect(200);
    let display_of = |id: &str| {
        got.body["members"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["value"] == id)
            .map(|m| m.get("display").cloned())
    };
    assert_eq!(display_of(&barbara), Some(Some(json!("Barbara Jensen"))));
    assert_eq!(display_of(&kim), Some(None));
}
