//! Lifecycle events and the audit log, end to end: an identity provider's sequence of requests
//! becomes the exact list of events in the outbox, and every provisioning request, failed or
//! not, one audit record with names but never values.

use scim_shared::audit::{self, AuditRecord};
use scim_shared::events::lifecycle::{EventKind, LeaveReason};
use scim_shared::protocol::clock;
use scim_shared::protocol::http::Method;
use scim_tests::{ENTERPRISE, GROUP_SCHEMA, Scim, TestServer, USER_SCHEMA};
use serde_json::json;

fn replace(path: &str, value: serde_json::Value) -> serde_json::Value {
    Scim::patch_body(json!([{"op": "replace", "path": path, "value": value}]))
}

async fn audit_records(srv: &TestServer, since: clock::Time) -> Vec<AuditRecord> {
    audit::read(&*srv.store, "acme", since, clock::now())
        .await
        .expect("audit log")
}

#[tokio::test]
async fn an_idp_sequence_yields_the_exact_event_list() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let t0 = clock::now();
    let user = c
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "alice", "active": true,
                ENTERPRISE: {"department": "Sales"}}),
        )
        .await
        .expect(201)
        .id();
    let u = format!("/Users/{user}");
    let dept = format!("{ENTERPRISE}:department");
    c.patch(&u, &replace(&dept, json!("Legal")))
        .await
        .expect(200);
    let group = c
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"}),
        )
        .await
        .expect(201)
        .id();
    let add =
        Scim::patch_body(json!([{"op": "add", "path": "members", "value": [{"value": user}]}]));
    c.patch(&format!("/Groups/{group}"), &add).await.expect(204);
    c.patch(&u, &replace("active", json!(false)))
        .await
        .expect(200);
    // Deactivating again changes nothing and publishes nothing.
    c.patch(&u, &replace("active", json!(false)))
        .await
        .expect(200);
    c.patch(&u, &replace("active", json!(true)))
        .await
        .expect(200);
    c.delete(&u).await.expect(204);

    let events = srv.events_since(t0).await;
    let seen: Vec<(EventKind, &str, Vec<&str>)> = events
        .iter()
        .map(|e| {
            let attrs = e.changes.iter().map(|c| c.attribute.as_str()).collect();
            (e.kind, e.resource.id.as_str(), attrs)
        })
        .collect();
    assert_eq!(
        seen,
        [
            (EventKind::Joiner, user.as_str(), vec!["department"]),
            (EventKind::Mover, user.as_str(), vec!["department"]),
            (EventKind::GroupCreated, group.as_str(), vec![]),
            (EventKind::GroupMembersAdded, group.as_str(), vec![]),
            (EventKind::Mover, user.as_str(), vec!["groups"]),
            (EventKind::Leaver, user.as_str(), vec![]),
            (EventKind::Rehire, user.as_str(), vec![]),
            (EventKind::Leaver, user.as_str(), vec![]),
        ]
    );
    assert_eq!(events[1].changes[0].old, Some(json!("Sales")));
    assert_eq!(events[1].changes[0].new, Some(json!("Legal")));
    assert_eq!(events[3].members, [user.as_str()]);
    assert_eq!(events[4].changes[0].added, [group.as_str()]);
    assert_eq!(events[5].reason, Some(LeaveReason::Deactivated));
    assert_eq!(events[7].reason, Some(LeaveReason::Deleted));
    assert!(
        events
            .iter()
            .all(|e| e.tenant == "acme" && e.actor == "idp:auto")
    );

    // One audit record per provisioning request, reads excluded.
    c.get(&format!("/Groups/{group}")).await.expect(200);
    let records = audit_records(&srv, t0).await;
    let ops: Vec<&str> = records.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(
        ops,
        [
            "CreateUser",
            "PatchUser",
            "CreateGroup",
            "PatchGroup",
            "PatchUser",
            "PatchUser",
            "PatchUser",
            "DeleteUser"
        ]
    );
    assert_eq!(records[1].attributes, ["department"]);
    assert!(records[5].attributes.is_empty(), "a no-op changes nothing");
    assert_eq!(records[3].attributes, ["members"]);
    let text = serde_json::to_string(&records).expect("json");
    assert!(
        !text.contains("Legal") && !text.contains("alice"),
        "the audit log holds names, never values: {text}"
    );
}

#[tokio::test]
async fn a_staged_user_joins_on_its_first_activation_and_is_rehired_after_leaving() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let t0 = clock::now();
    let user = c
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "staged", "active": false}),
        )
        .await
        .expect(201)
        .id();
    let u = format!("/Users/{user}");
    for active in [true, false, true] {
        c.patch(&u, &replace("active", json!(active)))
            .await
            .expect(200);
    }
    let served = c.get(&u).await.expect(200);
    assert!(
        served.body["meta"].get("everActive").is_none(),
        "the stored history is not served: {}",
        served.body
    );
    let kinds: Vec<EventKind> = srv.events_since(t0).await.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::Joiner, EventKind::Leaver, EventKind::Rehire],
        "created inactive: no event until the first activation"
    );
}

#[tokio::test]
async fn a_failed_request_is_logged_with_its_scim_type_and_the_dialect_rules_that_fired() {
    let srv = TestServer::start().await;
    let t0 = clock::now();
    let alice = srv.client.create_user("alice").await;
    srv.client.create_user("bob").await;
    // Entra ID capitalises the op (rule op-case); the userName is taken: 409 uniqueness.
    let entra = Scim::patch_body(json!([{"op": "Replace", "path": "userName", "value": "bob"}]));
    let out = srv
        .call(Method::Patch, &format!("/Users/{alice}"), Some(&entra))
        .await;
    assert_eq!(out.response.status, 409);
    assert!(out.events.is_empty());

    let failed: Vec<AuditRecord> = audit_records(&srv, t0)
        .await
        .into_iter()
        .filter(AuditRecord::failed)
        .collect();
    assert_eq!(failed.len(), 1);
    let r = &failed[0];
    assert_eq!(r.request_id, out.request_id);
    assert_eq!(
        (r.operation.as_str(), r.status, r.scim_type.as_deref()),
        ("PatchUser", 409, Some("uniqueness"))
    );
    assert_eq!(r.rules, ["op-case"]);
    assert_eq!(r.resource_id.as_deref(), Some(alice.as_str()));
    assert!(r.store_calls >= 2 && r.latency_us > 0);

    let table = scimctl::report::log_table(&failed);
    println!("{table}");
    let line = table.lines().nth(1).expect("one row");
    for field in ["PatchUser", "409", "uniqueness", "op-case"] {
        assert!(line.contains(field), "{field} in {line}");
    }
}

#[tokio::test]
async fn recording_is_the_audit_record_and_the_events_ride_in_the_requests_transaction() {
    let srv = TestServer::start().await;
    let out = srv
        .call(
            Method::Post,
            "/Users",
            Some(&json!({"schemas": [USER_SCHEMA], "userName": "carol"})),
        )
        .await;
    assert_eq!(out.response.status, 201);
    // One transaction: the user, its userName marker, its counter and the outbox item of its
    // joiner.
    assert_eq!((out.usage.calls, out.usage.transactions), (1, 1));
    assert_eq!(out.usage.items_written, 4);
    assert_eq!(out.events.len(), 1);
    // Apart from it, the audit record: one single write.
    assert_eq!(out.recording.calls, 1);
    assert_eq!(out.recording.single_writes, 1);
    let get = srv
        .call(Method::Get, &format!("/Users/{}", out.changes[0].id), None)
        .await;
    assert_eq!(get.recording.calls, 0, "reads are not audited");
}
