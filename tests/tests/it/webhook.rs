//! Signed webhook delivery of lifecycle events: in order, verifiable with the tenant's secret,
//! retried after failures with the same event id, and never in the way of the SCIM response.

use std::time::Duration;

use scim_shared::events::Retry;
use scim_shared::events::lifecycle::{Event, EventKind};
use scim_shared::events::webhook;
use scim_tests::TestServer;
use scim_tests::receiver::Receiver;

fn quick_retry() -> Retry {
    Retry {
        attempts: 5,
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    }
}

fn now() -> i64 {
    scim_shared::protocol::clock::now().unix_timestamp()
}

#[tokio::test]
async fn events_arrive_signed_and_in_order() {
    let srv = TestServer::with_webhooks(quick_retry()).await;
    let mut rx = Receiver::start(0).await;
    let hook = webhook::set(&*srv.store, "acme", &rx.url)
        .await
        .expect("set webhook");
    let gid = srv.client.create_group("Eng").await;
    let uid = srv.client.create_user("alice").await;

    let mut kinds = Vec::new();
    for _ in 0..2 {
        let d = rx.next(5).await;
        let signature = d.signature.expect("signed");
        webhook::verify(&hook.secret, &signature, &d.body, now(), 300).expect("valid signature");
        assert!(
            webhook::verify("whsec_other", &signature, &d.body, now(), 300).is_err(),
            "another secret does not verify"
        );
        let event: Event = serde_json::from_slice(&d.body).expect("event JSON");
        assert_eq!(d.event_id.as_deref(), Some(event.id.as_str()));
        kinds.push((event.kind, event.resource.id));
    }
    assert_eq!(
        kinds,
        [(EventKind::GroupCreated, gid), (EventKind::Joiner, uid)]
    );
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_event_id() {
    let srv = TestServer::with_webhooks(quick_retry()).await;
    let mut rx = Receiver::start(2).await;
    webhook::set(&*srv.store, "acme", &rx.url)
        .await
        .expect("set webhook");
    let uid = srv.client.create_user("bob").await;
    let mut attempts = Vec::new();
    for _ in 0..3 {
        attempts.push(rx.next(5).await);
    }
    let answers: Vec<u16> = attempts.iter().map(|d| d.answered).collect();
    assert_eq!(answers, [500, 500, 204]);
    let ids: Vec<Option<&str>> = attempts.iter().map(|d| d.event_id.as_deref()).collect();
    assert!(
        ids.iter().all(|id| id.is_some() && *id == ids[0]),
        "{ids:?}"
    );
    let event: Event = serde_json::from_slice(&attempts[2].body).expect("event JSON");
    assert_eq!((event.kind, event.resource.id), (EventKind::Joiner, uid));
    assert!(
        attempts[1].at.duration_since(attempts[0].at) >= Duration::from_millis(20),
        "backoff between attempts"
    );
}

#[tokio::test]
async fn an_unreachable_webhook_does_not_slow_the_scim_response() {
    let srv = TestServer::with_webhooks(Retry::default()).await;
    // A port nothing listens on: every attempt fails, retries take seconds.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", dead.local_addr().expect("addr"));
    drop(dead);
    webhook::set(&*srv.store, "acme", &url)
        .await
        .expect("set webhook");
    // Delivering one event fails for about six seconds (Retry::default); a response that waited
    // for it would take at least that long. Half of it leaves room for a slow store.
    for i in 0..5 {
        let started = std::time::Instant::now();
        srv.client.create_user(&format!("u{i}")).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "response {i} waited for delivery: {:?}",
            started.elapsed()
        );
    }
}
