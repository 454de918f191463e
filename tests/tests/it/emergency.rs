//! Emergency Logout: an operator deactivates a user and removes its memberships in one step,
//! and the emergency leaver reaches the tenant's webhook before the answer.

use scim_shared::audit;
use scim_shared::events::lifecycle::{Event, EventKind};
use scim_shared::events::outbox;
use scim_shared::events::webhook;
use scim_shared::protocol::clock;
use scim_tests::receiver::Receiver;
use scim_tests::{OPERATOR_TOKEN, Scim, TestServer};
use serde_json::json;

async fn logout(
    srv: &TestServer,
    token: Option<&str>,
    tenant: &str,
    user: &str,
) -> (u16, serde_json::Value) {
    let url = format!(
        "{}/admin/tenants/{tenant}/users/{user}/emergency-logout",
        srv.root()
    );
    let mut rb = reqwest::Client::new().post(url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let resp = rb.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn emergency_logout_deactivates_removes_memberships_and_delivers_before_answering() {
    let srv = TestServer::with_webhooks(Default::default()).await;
    let mut rx = Receiver::start(0).await;
    let hook = webhook::set(&*srv.store, "acme", &rx.url)
        .await
        .expect("hook");
    let c = &srv.client;
    let t0 = clock::now();
    let uid = c.create_user("alice").await;
    let gid = c.create_group("Admins").await;
    let add =
        Scim::patch_body(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    c.patch(&format!("/Groups/{gid}"), &add).await.expect(204);
    // The asynchronous deliveries of those requests: joiner, group.created, members_added, mover.
    for _ in 0..4 {
        rx.next(5).await;
    }

    let (status, body) = logout(&srv, Some(OPERATOR_TOKEN), "acme", &uid).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["webhook"], "delivered");
    // Delivered before the answer: the delivery is already waiting.
    let d = rx
        .deliveries
        .try_recv()
        .expect("delivered before the response");
    webhook::verify(
        &hook.secret,
        d.signature.as_deref().expect("signed"),
        &d.body,
        t0.unix_timestamp(),
        300,
    )
    .expect("signature");
    let event: Event = serde_json::from_slice(&d.body).expect("event");
    assert_eq!((event.kind, event.emergency), (EventKind::Leaver, true));
    assert_eq!(event.actor, "operator");
    assert_eq!(
        event
            .changes
            .iter()
            .find(|c| c.attribute == "groups")
            .map(|c| c.removed.clone()),
        Some(vec![gid.clone()])
    );

    let user = c.get(&format!("/Users/{uid}")).await.expect(200);
    assert_eq!(user.body["active"], false);
    assert!(user.body.get("groups").is_none(), "{}", user.body);
    let group = c.get(&format!("/Groups/{gid}")).await.expect(200);
    assert!(group.body.get("members").is_none(), "{}", group.body);

    let stored = outbox::read(&*srv.store, "acme", t0, clock::now())
        .await
        .expect("outbox");
    assert!(
        stored.iter().any(|s| s.event.id == event.id),
        "in the outbox"
    );
    let records = audit::read(&*srv.store, "acme", t0, clock::now())
        .await
        .expect("audit");
    let last = records.last().expect("record");
    assert_eq!(
        (last.operation.as_str(), last.status, last.actor.as_str()),
        ("EmergencyLogout", 200, "operator")
    );
    // Nothing else arrives: the event is not delivered a second time by the background sink.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(rx.deliveries.try_recv().is_err());
}

#[tokio::test]
async fn the_admin_api_takes_the_operator_token_only() {
    let srv = TestServer::start().await;
    let uid = srv.client.create_user("bob").await;
    assert_eq!(logout(&srv, None, "acme", &uid).await.0, 401);
    assert_eq!(logout(&srv, Some("op_wrong"), "acme", &uid).await.0, 401);
    // A tenant's Secret Token is not an operator token.
    let (token, _) = scim_shared::tenant::issue_token(&*srv.store, "acme")
        .await
        .expect("token");
    assert_eq!(logout(&srv, Some(&token), "acme", &uid).await.0, 401);
    assert_eq!(
        logout(&srv, Some(OPERATOR_TOKEN), "nope", &uid).await.0,
        404
    );
    assert_eq!(
        logout(&srv, Some(OPERATOR_TOKEN), "acme", "missing")
            .await
            .0,
        404
    );
    let (status, body) = logout(&srv, Some(OPERATOR_TOKEN), "acme", &uid).await;
    assert_eq!(
        (status, body["webhook"].as_str()),
        (200, Some("no webhook"))
    );
    srv.client.get(&format!("/Users/{uid}")).await.expect(200);
}

#[tokio::test]
async fn with_the_emergency_policy_an_idp_deactivation_is_delivered_before_the_answer() {
    let srv = TestServer::with_webhooks(Default::default()).await;
    let mut rx = Receiver::start(0).await;
    webhook::set(&*srv.store, "acme", &rx.url)
        .await
        .expect("hook");
    let settings = scim_shared::tenant::TenantSettings {
        deactivation: scim_shared::tenant::Deactivation::Emergency,
        ..Default::default()
    };
    scim_shared::tenant::set_settings(&*srv.store, "acme", settings)
        .await
        .expect("policy");
    let c = &srv.client;
    let uid = c.create_user("dave").await;
    let joiner: Event = serde_json::from_slice(&rx.next(5).await.body).expect("joiner");
    assert_eq!(joiner.kind, EventKind::Joiner);

    let deactivate = Scim::patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    c.patch(&format!("/Users/{uid}"), &deactivate)
        .await
        .expect(200);
    let d = rx
        .deliveries
        .try_recv()
        .expect("delivered before the SCIM response");
    let event: Event = serde_json::from_slice(&d.body).expect("event");
    assert_eq!((event.kind, event.emergency), (EventKind::Leaver, true));
    assert_eq!(event.actor, "idp:auto");
    // Unlike an operator's Emergency Logout, the IdP's memberships stay as the IdP set them.
    let user = c.get(&format!("/Users/{uid}")).await.expect(200);
    assert_eq!(user.body["active"], false);
    // Not delivered a second time by the background sink; a deletion stays routine.
    c.delete(&format!("/Users/{uid}")).await.expect(204);
    let leaver: Event = serde_json::from_slice(&rx.next(5).await.body).expect("leaver");
    assert_eq!((leaver.kind, leaver.emergency), (EventKind::Leaver, false));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(rx.deliveries.try_recv().is_err());
}
