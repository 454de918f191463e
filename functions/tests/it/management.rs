//! The management API on AWS: IAM-authorised proxy events (built from
//! tests/data/apigw/manage/request.json, as API Gateway sends them after checking the caller's
//! SigV4 signature) drive each concern's function over a store of the selected backend: every
//! route answers with its status, template.yaml routes each route to its concern's function with
//! IAM authorisation, and grants each function exactly what it uses.

use crate::support;

use std::collections::BTreeSet;

use lambda_http::{Body, Request};
use scim_functions::manage::{ManageHandler, binary};
use scim_functions::{GET_GROUP, GET_USER, LIST_GROUPS, LIST_USERS};
use scim_shared::manage::{BASE_PATH, Concern};
use serde_json::{Value, json};
use support::{Side, at, lines, str_at};

/// One request of a test: method, the route as template.yaml declares it (below
/// [`BASE_PATH`]), its path parameters, query and body, and the status it must answer.
struct Call {
    method: &'static str,
    route: &'static str,
    params: Vec<(&'static str, String)>,
    query: Vec<(&'static str, &'static str)>,
    body: Option<Value>,
    status: u16,
}

fn call(method: &'static str, route: &'static str, status: u16) -> Call {
    Call {
        method,
        route,
        params: Vec::new(),
        query: Vec::new(),
        body: None,
        status,
    }
}

impl Call {
    fn param(mut self, name: &'static str, value: &str) -> Self {
        self.params.push((name, value.to_string()));
        self
    }
    fn query(mut self, name: &'static str, value: &'static str) -> Self {
        self.query.push((name, value));
        self
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The proxy event of this call.
    fn event(&self) -> Request {
        let resource = format!("{BASE_PATH}{}", self.route);
        let mut path = resource.clone();
        for (name, value) in &self.params {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        let text = std::fs::read_to_string(
            support::repo_root().join("tests/data/apigw/manage/request.json"),
        )
        .expect("fixture")
        .replace("{{resource}}", &resource)
        .replace("{{path}}", &path)
        .replace("{{method}}", self.method);
        let mut event: Value = serde_json::from_str(&text).expect("JSON");
        if !self.params.is_empty() {
            event["pathParameters"] = json!(
                self.params
                    .iter()
                    .cloned()
                    .collect::<std::collections::BTreeMap<_, _>>()
            );
        }
        if !self.query.is_empty() {
            let single: serde_json::Map<String, Value> = self
                .query
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            let multi: serde_json::Map<String, Value> = self
                .query
                .iter()
                .map(|(k, v)| (k.to_string(), json!([v])))
                .collect();
            event["queryStringParameters"] = Value::Object(single);
            event["multiValueQueryStringParameters"] = Value::Object(multi);
        }
        if let Some(b) = &self.body {
            event["body"] = json!(b.to_string());
        }
        lambda_http::request::from_str(&event.to_string()).expect("a REST proxy event")
    }
}

impl Side {
    /// Sends each call to the function of `concern` and checks its status; returns the
    /// DynamoDB permissions they used and the last body.
    async fn run(
        &self,
        concern: Concern,
        calls: &[Call],
    ) -> (BTreeSet<support::Permission>, Value) {
        let handler = ManageHandler::new(self.service.clone(), concern, None)
            .with_publisher(self.bus.clone());
        let mut last = Value::Null;
        for c in calls {
            let response = handler.handle(c.event()).await;
            let body = match response.body() {
                Body::Text(t) => serde_json::from_str(t).expect("JSON"),
                Body::Empty => Value::Null,
                other => panic!("not a text body: {other:?}"),
            };
            assert_eq!(
                response.status().as_u16(),
                c.status,
                "{} {}: {body}",
                c.method,
                c.route
            );
            last = body;
        }
        (self.store.take(), last)
    }
}

fn tenants_calls() -> Vec<Call> {
    vec![
        call("POST", "/tenants", 201).body(json!({"id": "globex"})),
        call("GET", "/tenants", 200),
        call("GET", "/tenants/{tenant}", 200).param("tenant", "globex"),
        call("PATCH", "/tenants/{tenant}", 200)
            .param("tenant", "globex")
            .body(json!({"settings": {"dialect": "strict"}})),
        call("POST", "/tenants/{tenant}/tokens", 201).param("tenant", "globex"),
        call("GET", "/tenants/{tenant}/tokens", 200).param("tenant", "globex"),
        call("DELETE", "/tenants/{tenant}/tokens/{token}", 404)
            .param("tenant", "globex")
            .param("token", "nosuchtoken"),
        call("POST", "/tenants/{tenant}/clients", 201).param("tenant", "globex"),
        call("GET", "/tenants/{tenant}/clients", 200).param("tenant", "globex"),
        call("POST", "/tenants/{tenant}/clients/{client}/secrets", 404)
            .param("tenant", "globex")
            .param("client", "globex.nosuchclient"),
        call(
            "DELETE",
            "/tenants/{tenant}/clients/{client}/secrets/{secret}",
            404,
        )
        .param("tenant", "globex")
        .param("client", "globex.nosuchclient")
        .param("secret", "nosuchsecret"),
        call("DELETE", "/tenants/{tenant}/clients/{client}", 404)
            .param("tenant", "globex")
            .param("client", "globex.nosuchclient"),
        call("DELETE", "/tenants/{tenant}", 200).param("tenant", "acme"),
    ]
}

fn directory_calls(user: &str, group: &str) -> Vec<Call> {
    vec![
        call("GET", "/tenants/{tenant}/users", 200).param("tenant", "acme"),
        call("GET", "/tenants/{tenant}/users", 200)
            .param("tenant", "acme")
            .query("filter", "userName eq \"bjensen@example.com\""),
        call("GET", "/tenants/{tenant}/users", 200)
            .param("tenant", "acme")
            .query("cursor", "")
            .query("count", "1"),
        call("GET", "/tenants/{tenant}/users/{id}", 200)
            .param("tenant", "acme")
            .param("id", user),
        call("GET", "/tenants/{tenant}/groups", 200)
            .param("tenant", "acme")
            .query("filter", "members.value eq \"x\""),
        call("GET", "/tenants/{tenant}/groups/{id}", 200)
            .param("tenant", "acme")
            .param("id", group),
    ]
}

fn republish_calls() -> Vec<Call> {
    vec![
        call("POST", "/tenants/{tenant}/events/republish", 200)
            .param("tenant", "acme")
            .query("since", "1h"),
    ]
}

fn activity_calls() -> Vec<Call> {
    vec![
        call("GET", "/tenants/{tenant}/events", 200)
            .param("tenant", "acme")
            .query("limit", "1"),
        call("GET", "/tenants/{tenant}/audit", 200)
            .param("tenant", "acme")
            .query("status", "201"),
    ]
}

#[tokio::test]
async fn each_concern_answers_its_routes_and_is_granted_exactly_the_dynamodb_actions_it_uses() {
    let side = Side::start().await;
    let template = support::template();
    let (directory, group) = side
        .run(
            Concern::Directory,
            &directory_calls(&side.user, &side.group),
        )
        .await;
    assert_eq!(group["id"], side.group.as_str());
    assert_eq!(
        group["meta"]["location"],
        format!(
            "https://k7x2m9q4ab.execute-api.eu-west-1.amazonaws.com/v1/scim/v2/Groups/{}",
            side.group
        ),
        "directory resources carry their SCIM location on the same API"
    );
    let (activity, audit) = side.run(Concern::Activity, &activity_calls()).await;
    let (republish, republished) = side.run(Concern::Republish, &republish_calls()).await;
    let on_bus = side.bus.entries().len();
    assert!(
        on_bus >= 2,
        "the user's and the group's events: {republished}"
    );
    assert_eq!(republished["republished"], on_bus);
    assert_eq!(
        audit["records"].as_array().map(Vec::len),
        Some(2),
        "{audit}"
    );
    let (tenants, deleted) = side.run(Concern::Tenants, &tenants_calls()).await;
    assert!(
        deleted["deleted"].as_u64().is_some_and(|n| n > 0),
        "{deleted}"
    );

    for (concern, used) in [
        (Concern::Tenants, tenants),
        (Concern::Activity, activity),
        (Concern::Republish, republish),
    ] {
        let granted: BTreeSet<_> = support::granted(&template, binary(concern))
            .into_iter()
            .filter(|(action, _)| action.starts_with("dynamodb:"))
            .collect();
        assert_eq!(
            granted,
            used,
            "{}: granted:\n{}\nused:\n{}",
            binary(concern),
            lines(&granted),
            lines(&used)
        );
    }
    // The directory runs the SCIM reads themselves, so it needs what their functions need
    // (held to their fixtures by `fixtures::`, deep paging and filters included), no more.
    let reads: BTreeSet<_> = [GET_USER, LIST_USERS, GET_GROUP, LIST_GROUPS]
        .iter()
        .flat_map(|f| support::granted(&template, f.binary))
        .collect();
    let granted = support::granted(&template, binary(Concern::Directory));
    assert_eq!(
        granted,
        reads,
        "granted:\n{}\nthe SCIM reads:\n{}",
        lines(&granted),
        lines(&reads)
    );
    assert!(
        directory.is_subset(&granted),
        "used:\n{}",
        lines(&directory)
    );
}

#[tokio::test]
async fn a_function_answers_only_its_own_concern() {
    let side = Side::start().await;
    let handler = ManageHandler::new(side.service.clone(), Concern::Activity, None);
    let users = call("GET", "/tenants/{tenant}/users", 200).param("tenant", "acme");
    let response = handler.handle(users.event()).await;
    assert_eq!(response.status().as_u16(), 404);
    assert!(
        side.store.take().is_empty(),
        "refused before any store call"
    );
}

/// The routes of each concern, as the calls above use them.
fn routes(concern: Concern) -> BTreeSet<(String, String)> {
    let calls = match concern {
        Concern::Tenants => tenants_calls(),
        Concern::Directory => directory_calls("u", "g"),
        Concern::Activity => activity_calls(),
        Concern::Republish => republish_calls(),
    };
    calls
        .iter()
        .map(|c| {
            (
                format!("{BASE_PATH}{}", c.route),
                c.method.to_ascii_lowercase(),
            )
        })
        .collect()
}

#[test]
fn every_route_goes_to_its_concerns_function_authorised_by_iam() {
    let template = support::template();
    for concern in Concern::ALL {
        let f = support::function(&template, binary(concern));
        let events = at(f, &["Properties", "Events"])
            .and_then(|e| e.as_mapping())
            .expect("Events");
        let mut routed = BTreeSet::new();
        for (_, event) in events {
            assert_eq!(str_at(event, &["Type"]), Some("Api"));
            let p = at(event, &["Properties"]).expect("Properties");
            assert_eq!(str_at(p, &["Auth", "Authorizer"]), Some("AWS_IAM"), "{p:?}");
            assert_eq!(str_at(p, &["Auth", "InvokeRole"]), Some("NONE"), "{p:?}");
            routed.insert((
                str_at(p, &["Path"]).expect("Path").to_string(),
                str_at(p, &["Method"]).expect("Method").to_string(),
            ));
        }
        assert_eq!(routed, routes(concern), "{}", binary(concern));
    }
}

/// docs/management-api.openapi.json describes exactly the routes template.yaml gives the
/// management functions.
#[test]
fn the_openapi_file_describes_every_route_and_no_other() {
    let template = support::template();
    let mut routed = BTreeSet::new();
    for concern in Concern::ALL {
        let f = support::function(&template, binary(concern));
        for (_, event) in at(f, &["Properties", "Events"])
            .and_then(|e| e.as_mapping())
            .expect("Events")
        {
            let p = at(event, &["Properties"]).expect("Properties");
            routed.insert((
                str_at(p, &["Path"]).expect("Path").to_string(),
                str_at(p, &["Method"]).expect("Method").to_string(),
            ));
        }
    }
    let text =
        std::fs::read_to_string(support::repo_root().join("docs/management-api.openapi.json"))
            .expect("the OpenAPI file");
    let openapi: Value = serde_json::from_str(&text).expect("JSON");
    let mut described = BTreeSet::new();
    for (path, item) in openapi["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                described.insert((path.clone(), method.clone()));
            }
        }
    }
    assert_eq!(described, routed);
}
