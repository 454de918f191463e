//! Emergency Logout on AWS: the admin route's proxy events (tests/data/apigw/admin/*.json, as
//! API Gateway sends them after checking the caller's SigV4 signature) drive the function's
//! handler over a store of the selected backend and an in-memory bus; template.yaml routes it
//! with IAM authorisation and grants exactly what it uses.

use crate::support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Request, Response};
use scim_functions::emergency::{self, EmergencyLogout};
use scim_shared::events::outbox;
use scim_shared::ops::Limits;
use scim_shared::protocol::clock;
use scim_shared::protocol::http::{Method, ScimRequest};
use scim_shared::service::Service;
use scim_tests::faults::PanicOnRead;
use serde_json::{Value, json};
use support::bus::NO_WAIT;
use support::{BASE, Side, at, lines, render, str_at, strings};

impl Side {
    fn handler(&self) -> EmergencyLogout {
        EmergencyLogout::new(self.service.clone(), self.bus.clone(), NO_WAIT)
    }

    async fn send(&self, fixture: &str) -> (u16, Value) {
        self.send_to(&self.handler(), fixture).await
    }

    async fn send_to(&self, handler: &EmergencyLogout, fixture: &str) -> (u16, Value) {
        let path = support::repo_root()
            .join("tests/data/apigw/admin")
            .join(fixture);
        let text = std::fs::read_to_string(&path).expect("fixture");
        let request: Request =
            lambda_http::request::from_str(&text.replace("{{user1}}", &self.user))
                .expect("a REST proxy event");
        answer(handler.handle(request).await)
    }

    async fn get_user(&self) -> Value {
        let req = ScimRequest::new(Method::Get, format!("/Users/{}", self.user), BASE);
        let out = self.service.handle("acme", &req).await.response;
        out.body.expect("a user")
    }
}

fn answer(response: Response<Body>) -> (u16, Value) {
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).expect("JSON"),
        other => panic!("not a text body: {other:?}"),
    };
    (response.status().as_u16(), body)
}

#[tokio::test]
async fn the_user_is_logged_out_and_the_emergency_leaver_is_on_the_bus_before_the_answer() {
    let side = Side::start().await;
    let (status, body) = side.send("emergency_logout.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["eventBridge"], "published");
    assert!(body["elapsedMs"].as_f64().is_some());
    let event = &body["event"];
    assert_eq!(event["type"], "leaver");
    assert_eq!(event["emergency"], true);
    assert_eq!(event["reason"], "deactivated");
    assert_eq!(event["actor"], emergency::ACTOR);
    assert_eq!(event["resource"]["id"], side.user.as_str());
    assert!(
        event["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| c["attribute"] == "groups" && c["removed"] == json!([side.group])),
        "{event}"
    );
    let entries = side.bus.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].detail_type, "leaver");
    assert_eq!(
        &entries[0].detail, event,
        "the detail is the answered event"
    );

    let user = side.get_user().await;
    assert_eq!(user["active"], false);
    assert!(user.get("groups").is_none_or(|g| g == &json!([])), "{user}");
    // The outbox keeps it, as delivered.
    let now = clock::now();
    let stored = outbox::read(&side.store, "acme", now - Duration::from_secs(300), now)
        .await
        .expect("outbox");
    assert!(
        stored
            .iter()
            .any(|s| s.event.emergency && s.event.id == event["id"])
    );
}

#[tokio::test]
async fn a_bus_that_refuses_the_event_does_not_undo_the_logout() {
    let side = Side::start().await;
    side.bus.go_down();
    let (status, body) = side.send("emergency_logout.json").await;
    assert_eq!(status, 200, "{body}");
    let said = body["eventBridge"].as_str().expect("eventBridge");
    assert!(said.starts_with("not published: "), "{said}");
    assert_eq!(side.bus.calls(), [1, 1, 1], "three attempts");
    assert_eq!(side.get_user().await["active"], false);
}

#[tokio::test]
async fn an_unknown_user_or_tenant_is_a_404_and_publishes_nothing() {
    let side = Side::start().await;
    let (status, body) = side.send("emergency_logout.unknown-user.json").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["status"], "404", "a SCIM error: {body}");
    let (status, body) = side.send("emergency_logout.unknown-tenant.json").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "tenant 'initech' does not exist");
    assert!(side.bus.entries().is_empty());
    assert_eq!(side.get_user().await["active"], true);
}

#[tokio::test]
async fn a_panic_during_the_logout_is_a_scim_500_and_the_function_answers_the_next_event() {
    let side = Side::start().await;
    // The store panics when the logout reads the user.
    let store = PanicOnRead::new(Arc::new(side.store.clone()), &side.user);
    let service = Arc::new(Service::new(Arc::new(store), Limits::default()));
    let handler = EmergencyLogout::new(service, side.bus.clone(), NO_WAIT);

    let (status, body) = side.send_to(&handler, "emergency_logout.json").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], "500");
    assert!(side.bus.entries().is_empty());

    let (status, body) = side
        .send_to(&handler, "emergency_logout.unknown-user.json")
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn the_function_is_granted_exactly_the_dynamodb_actions_it_uses_and_publishes_to_the_bus_only()
 {
    let side = Side::start().await;
    let mut used = BTreeSet::new();
    for fixture in [
        "emergency_logout.json",
        "emergency_logout.unknown-user.json",
        "emergency_logout.unknown-tenant.json",
    ] {
        side.send(fixture).await;
        used.extend(side.store.take());
    }
    let template = support::template();
    let granted = support::granted(&template, scim_functions::EMERGENCY_LOGOUT_BINARY);
    let dynamodb: BTreeSet<_> = granted
        .iter()
        .filter(|(a, _)| a.starts_with("dynamodb:"))
        .cloned()
        .collect();
    assert_eq!(
        dynamodb,
        used,
        "granted:\n{}\nused:\n{}",
        lines(&dynamodb),
        lines(&used)
    );
    let others: Vec<_> = granted.difference(&dynamodb).cloned().collect();
    assert_eq!(
        others,
        [(
            "events:PutEvents".to_string(),
            "${EventBus.Arn}".to_string()
        )]
    );
}

#[test]
fn the_route_is_authorised_by_iam_not_by_the_tenant_token_authorizer() {
    let template = support::template();
    let f = support::function(&template, scim_functions::EMERGENCY_LOGOUT_BINARY);
    let events = at(f, &["Properties", "Events"])
        .and_then(|e| e.as_mapping())
        .expect("Events");
    assert_eq!(events.len(), 1);
    let (_, event) = events.iter().next().expect("one event");
    assert_eq!(str_at(event, &["Type"]), Some("Api"));
    let p = at(event, &["Properties"]).expect("Properties");
    assert_eq!(at(p, &["RestApiId"]).map(render).as_deref(), Some("${Api}"));
    assert_eq!(str_at(p, &["Path"]), Some(emergency::PATH));
    assert_eq!(str_at(p, &["Method"]), Some("post"));
    assert_eq!(str_at(p, &["Auth", "Authorizer"]), Some("AWS_IAM"));
    assert_eq!(
        str_at(p, &["Auth", "InvokeRole"]),
        Some("NONE"),
        "API Gateway invokes the function itself, not with the caller's credentials"
    );
    assert_eq!(
        strings(at(
            f,
            &[
                "Properties",
                "Environment",
                "Variables",
                scim_functions::EVENT_BUS_ENV
            ]
        )),
        ["${EventBus.Arn}"]
    );
}
