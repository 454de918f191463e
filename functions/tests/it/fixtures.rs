//! API Gateway REST proxy events (tests/data/apigw/*.json, with the authorizer's context) drive
//! each function's handler in-process, and every answer equals what the local server
//! (`scimctl serve`) gives for the same request: status, SCIM headers and body, up to ids,
//! timestamps and the base URL. The same runs show which DynamoDB actions each function needs,
//! and template.yaml must grant exactly those.
//!
//! A fixture's file name is `<binary>.<case>.json` (or `<binary>.json`): the function it is
//! sent to. `{{user1}}`, `{{user2}}` and `{{group1}}` stand for the ids of the resources every
//! run starts with, and group1's role rule grants its members a role (see [`seed`]); the
//! fixtures of [`LONG_LISTING`] start with 1,000 more users.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use lambda_http::{Body, Request, Response};
use scim_functions::{FUNCTIONS, Function, Handler};
use scim_shared::events::lifecycle::AttributeChange;
use scim_shared::events::outbox;
use scim_shared::ops::Limits;
use scim_shared::protocol::clock;
use scim_shared::protocol::http::{Method, ScimRequest};
use scim_shared::protocol::router::route_request;
use scim_shared::roles::EFFECTIVE_ROLES;
use scim_shared::service::Service;
use scim_shared::store::{EmbeddedStore, Store};
use scim_shared::tenant;
use scim_tests::faults::PanicOnRead;
use scim_tests::{GROUP_SCHEMA, Scim, TestServer, USER_SCHEMA, enc};
use serde_json::{Value, json};
use support::{Permission, Recording, lines};

fn fixture_dir() -> PathBuf {
    support::repo_root().join("tests/data/apigw")
}

/// The fixtures compared with the local server, by file name.
fn fixtures() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(fixture_dir())
        .expect("tests/data/apigw")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().to_string();
            (name, read(&p))
        })
        .collect();
    out.sort();
    assert!(
        !out.is_empty(),
        "no fixtures in {}",
        fixture_dir().display()
    );
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The function a fixture is sent to: the file name up to the first dot.
fn function_of(name: &str) -> &'static Function {
    let binary = name.split('.').next().unwrap_or_default();
    Function::by_binary(binary).unwrap_or_else(|| {
        panic!("{name}: '{binary}' is not a function (scim_functions::FUNCTIONS)")
    })
}

/// Resources every run starts with, created in this order on each side.
const SEEDS: &[(&str, &str)] = &[
    ("user1", "/Users"),
    ("user2", "/Users"),
    ("group1", "/Groups"),
];

/// The role group1's rule grants its members, so that a change of a user's `roles` or of
/// group1's members computes effective roles from a rule and the user's groups.
const GROUP1_ROLE: &str = "tour-guide";

/// Fixtures that page deep into the listing: their runs add [`LONG_LISTING_USERS`] users, so
/// that an index page past position 1,000 looks for a checkpoint and records the one it passes.
const LONG_LISTING: &[&str] = &["list_users.deep-page.json"];
const LONG_LISTING_USERS: usize = 1000;

/// How many users a fixture's run adds after the seeds.
fn more_users(fixture: &str) -> usize {
    if LONG_LISTING.contains(&fixture) {
        LONG_LISTING_USERS
    } else {
        0
    }
}

fn seed_body(name: &str, ids: &Ids) -> Value {
    match name {
        "user1" => json!({
            "schemas": [USER_SCHEMA], "userName": "bjensen@example.com", "externalId": "00u1bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"}, "title": "Tour Guide",
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "active": true
        }),
        "user2" => json!({
            "schemas": [USER_SCHEMA], "userName": "jsmith@example.com",
            "emails": [{"value": "jsmith@example.com", "type": "work"}]
        }),
        _ => json!({
            "schemas": [GROUP_SCHEMA], "displayName": "Tour Guides",
            "members": [{"value": ids.get("user1")}]
        }),
    }
}

/// Placeholder name -> id on one side.
#[derive(Debug, Default, Clone)]
struct Ids(Vec<(String, String)>);

impl Ids {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id.as_str())
            .unwrap_or_else(|| panic!("no id for {name}"))
    }

    fn fill(&self, text: &str) -> String {
        self.0.iter().fold(text.to_string(), |t, (name, id)| {
            t.replace(&format!("{{{{{name}}}}}"), id)
        })
    }
}

/// Creates the seed resources for `acme` through the service, group1's role rule, and `more`
/// users after them, `user3` onwards (user N is at position N of the users' listing); returns
/// their ids.
async fn seed(service: &Service, base: &str, more: usize) -> Ids {
    let mut ids = Ids::default();
    for (name, path) in SEEDS {
        let id = support::create(service, base, path, seed_body(name, &ids)).await;
        ids.0.push((name.to_string(), id));
    }
    let grant = BTreeSet::from([GROUP1_ROLE.to_string()]);
    service
        .update_role_rule("acme", ids.get("group1"), Some(grant), "fixtures")
        .await
        .expect("group1's role rule");
    for n in 3..3 + more {
        let name = format!("user{n}");
        let body = json!({"schemas": [USER_SCHEMA], "userName": format!("{name}@example.com")});
        let id = support::create(service, base, "/Users", body).await;
        ids.0.push((name, id));
    }
    ids
}

/// The Lambda side: a handler per function over an in-memory store that records DynamoDB
/// actions, with tenants `acme` (seeded) and `globex`.
struct LambdaSide {
    store: Recording,
    service: Arc<Service>,
    ids: Ids,
}

impl LambdaSide {
    async fn start() -> LambdaSide {
        Self::start_with(0).await
    }

    /// With `more` users after the seeds.
    async fn start_with(more: usize) -> LambdaSide {
        let store = Recording::new(Arc::new(EmbeddedStore::in_memory().expect("store")));
        for t in ["acme", "globex"] {
            tenant::create_tenant(&store, t).await.expect("tenant");
        }
        // As `scim_functions::run` builds it: the outbox on, no sink.
        let service = Arc::new(Service::new(
            Arc::new(store.clone()) as Arc<dyn Store>,
            Limits::default(),
        ));
        let ids = seed(&service, "https://seed.invalid/scim/v2", more).await;
        store.take();
        LambdaSide {
            store,
            service,
            ids,
        }
    }

    fn handler(&self, function: &'static Function) -> Handler {
        Handler::new(self.service.clone(), function, None)
    }

    /// Sends a fixture (with this side's ids) to a function; returns the answer and the
    /// permissions it used.
    async fn send(
        &self,
        function: &'static Function,
        fixture: &str,
    ) -> (Answer, BTreeSet<Permission>) {
        let request: Request =
            lambda_http::request::from_str(&self.ids.fill(fixture)).expect("a REST proxy event");
        let response = self.handler(function).handle(request).await;
        (Answer::of_lambda(response), self.store.take())
    }
}

/// The local server with the same tenants and seeds.
struct LocalSide {
    server: TestServer,
    globex: Scim,
    ids: Ids,
}

impl LocalSide {
    /// With `more` users after the seeds.
    async fn start_with(more: usize) -> LocalSide {
        let server = TestServer::start().await;
        let globex = server.tenant("globex").await;
        let ids = seed(&server.service, &server.base, more).await;
        LocalSide {
            server,
            globex,
            ids,
        }
    }

    /// Sends the HTTP request a fixture describes, with the token of the tenant its authorizer
    /// context names.
    async fn send(&self, fixture: &str) -> Answer {
        let event: Value = serde_json::from_str(&self.ids.fill(fixture)).expect("JSON");
        let method = event["httpMethod"].as_str().expect("httpMethod");
        let path = event["path"].as_str().expect("path");
        let path = &path[path.find("/scim/v2").expect("under /scim/v2") + "/scim/v2".len()..];
        let mut url = path.to_string();
        if let Some(q) = event["multiValueQueryStringParameters"].as_object() {
            let pairs: Vec<String> = q
                .iter()
                .flat_map(|(k, vs)| {
                    vs.as_array()
                        .expect("values")
                        .iter()
                        .map(move |v| format!("{}={}", enc(k), enc(v.as_str().expect("value"))))
                })
                .collect();
            url = format!("{url}?{}", pairs.join("&"));
        }
        let headers: Vec<(&str, &str)> = ["If-Match", "If-None-Match"]
            .into_iter()
            .filter_map(|h| event["headers"][h].as_str().map(|v| (h, v)))
            .collect();
        let body = event["body"].as_str().map(|b| {
            if event["isBase64Encoded"] == true {
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .expect("base64 body")
            } else {
                b.as_bytes().to_vec()
            }
        });
        let client = match event["requestContext"]["authorizer"]["tenantId"].as_str() {
            Some("acme") => &self.server.client,
            Some("globex") => &self.globex,
            other => panic!("no tenant {other:?} on the local server"),
        };
        let reply = client.send(method, &url, body, &headers).await;
        let header = |name: &str| reply.header(name).map(str::to_string);
        Answer {
            status: reply.status,
            headers: SCIM_HEADERS.iter().map(|h| (*h, header(h))).collect(),
            body: reply.body,
        }
    }
}

/// The headers a SCIM response is compared on.
const SCIM_HEADERS: &[&str] = &["content-type", "location", "etag", "www-authenticate"];

/// A response as compared.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: u16,
    headers: BTreeMap<&'static str, Option<String>>,
    body: Value,
}

impl Answer {
    fn of_lambda(response: Response<Body>) -> Answer {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let body = match response.body() {
            Body::Empty => Value::Null,
            Body::Text(t) => serde_json::from_str(t).expect("a JSON body"),
            Body::Binary(b) => panic!("a binary body ({} bytes) where JSON was due", b.len()),
            _ => panic!("an unknown body type"),
        };
        Answer {
            status: response.status().as_u16(),
            headers: SCIM_HEADERS.iter().map(|h| (*h, header(h))).collect(),
            body,
        }
    }

    /// The answer with this side's base URL, ids and timestamps replaced by placeholders.
    fn normalised(&self, base: &str, ids: &Ids) -> Answer {
        let mut ids = ids.clone();
        if self.status == 201
            && let Some(id) = self.body["id"].as_str()
        {
            ids.0.push(("created".into(), id.to_string()));
        }
        // A bulk response: the resources its POSTs created, by bulkId.
        for op in self.body["Operations"].as_array().into_iter().flatten() {
            if let (Some(b), Some(l)) = (op["bulkId"].as_str(), op["location"].as_str())
                && let Some(id) = l.rsplit('/').next()
            {
                ids.0.push((format!("bulkId {b}"), id.to_string()));
            }
        }
        let text = |s: &str| {
            ids.0
                .iter()
                .fold(s.replace(base, "{base}"), |s, (name, id)| {
                    s.replace(id, &format!("{{{name}}}"))
                })
        };
        Answer {
            status: self.status,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (*k, v.as_deref().map(text)))
                .collect(),
            body: normalise_value(&self.body, &text),
        }
    }
}

fn normalise_value(v: &Value, text: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(text(s)),
        Value::Array(a) => Value::Array(a.iter().map(|v| normalise_value(v, text)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("created" | "lastModified", Value::String(_)) => json!("{time}"),
                        _ => normalise_value(v, text),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The base URL the Lambda side derives for the fixtures' execute-api host and stage.
const LAMBDA_BASE: &str = "https://k7x2m9q4ab.execute-api.eu-west-1.amazonaws.com/v1/scim/v2";

/// Runs every fixture on both sides (fresh and seeded for each); returns the mismatches and the
/// permissions each function used.
async fn run_fixtures() -> (Vec<String>, BTreeMap<&'static str, BTreeSet<Permission>>) {
    let mut mismatches = Vec::new();
    let mut used: BTreeMap<&'static str, BTreeSet<Permission>> = BTreeMap::new();
    for (name, fixture) in fixtures() {
        let function = function_of(&name);
        let more = more_users(&name);
        let lambda = LambdaSide::start_with(more).await;
        let local = LocalSide::start_with(more).await;
        let (answer, permissions) = lambda.send(function, &fixture).await;
        used.entry(function.binary).or_default().extend(permissions);
        let expected = local.send(&fixture).await;
        let (got, want) = (
            answer.normalised(LAMBDA_BASE, &lambda.ids),
            expected.normalised(&local.server.base, &local.ids),
        );
        if got != want {
            mismatches.push(format!(
                "{name}:\n  lambda: {} {:?} {}\n  local:  {} {:?} {}",
                got.status, got.headers, got.body, want.status, want.headers, want.body
            ));
        }
    }
    (mismatches, used)
}

#[tokio::test]
async fn every_fixture_answers_as_the_local_server_does() {
    let (mismatches, _) = run_fixtures().await;
    assert!(
        mismatches.is_empty(),
        "{} fixtures differ from the local server:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn each_function_is_granted_exactly_the_dynamodb_actions_its_fixtures_use() {
    let (_, used) = run_fixtures().await;
    let template = support::template();
    let mut problems = Vec::new();
    for f in FUNCTIONS {
        let used = used.get(f.binary).cloned().unwrap_or_default();
        let granted = support::granted(&template, f.binary);
        let missing: BTreeSet<_> = used.difference(&granted).cloned().collect();
        let unused: BTreeSet<_> = granted.difference(&used).cloned().collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{} uses permissions template.yaml does not grant (AccessDenied on AWS):\n{}",
                f.binary,
                lines(&missing)
            ));
        }
        if !unused.is_empty() {
            problems.push(format!(
                "{} is granted permissions no fixture uses (not least privilege, or a fixture is missing):\n{}",
                f.binary,
                lines(&unused)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Sends a fixture and returns the permissions it used and the `effectiveRoles` changes of the
/// events it stored for `user`.
async fn effective_role_changes(
    lambda: &LambdaSide,
    name: &str,
    fixture: &str,
    user: &str,
) -> (BTreeSet<Permission>, Vec<AttributeChange>) {
    let events = || async {
        let now = clock::now();
        outbox::read(&lambda.store, "acme", now - Duration::from_secs(300), now)
            .await
            .expect("outbox")
    };
    let before: BTreeSet<String> = events().await.into_iter().map(|s| s.event.id).collect();
    lambda.store.take(); // what reading the outbox used
    let (answer, used) = lambda.send(function_of(name), fixture).await;
    assert_eq!(answer.status, 200, "{name}: {}", answer.body);
    let changes = events()
        .await
        .into_iter()
        .filter(|s| !before.contains(&s.event.id) && s.event.resource.id == lambda.ids.get(user))
        .flat_map(|s| s.event.changes)
        .filter(|c| c.attribute == EFFECTIVE_ROLES)
        .collect();
    (used, changes)
}

#[tokio::test]
async fn a_change_of_roles_reads_the_role_rules_and_reports_the_effective_roles() {
    let rules_read = ("dynamodb:GetItem".to_string(), support::TABLE.to_string());
    for (name, user, role) in [
        ("patch_user.roles.json", "user1", "tour-lead"),
        ("replace_user.roles.json", "user2", "auditor"),
    ] {
        let lambda = LambdaSide::start().await;
        let (used, changes) = effective_role_changes(&lambda, name, &special(name), user).await;
        assert!(used.contains(&rules_read), "{name}:\n{}", lines(&used));
        assert_eq!(changes.len(), 1, "{name}: {changes:?}");
        assert_eq!(changes[0].added, [role], "{name}");
        assert!(changes[0].removed.is_empty(), "{name}");
    }
    // user1 has group1's role through the rule already: naming it in `roles` too changes no
    // effective role, which only a lookup of the rule and of user1's groups can tell.
    let lambda = LambdaSide::start().await;
    let name = "patch_user.roles.json";
    let same_role = special(name).replace("tour-lead", GROUP1_ROLE);
    let (used, changes) = effective_role_changes(&lambda, name, &same_role, "user1").await;
    assert!(used.contains(&rules_read), "{}", lines(&used));
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn every_operation_of_every_function_has_a_fixture() {
    let mut covered: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, fixture) in fixtures() {
        let function = function_of(&name);
        let event: Value = serde_json::from_str(&fixture).expect("JSON");
        let method = Method::parse(event["httpMethod"].as_str().expect("method")).expect("method");
        let path = event["path"]
            .as_str()
            .expect("path")
            .replace("{{", "")
            .replace("}}", "");
        let path = path.strip_prefix("/scim/v2").expect("under /scim/v2");
        let op = route_request(method, path)
            .unwrap_or_else(|e| panic!("{name}: not a route: {e}"))
            .operation;
        assert!(
            function.serves(op),
            "{name} is sent to {} but is a {}",
            function.binary,
            op.name()
        );
        covered
            .entry(function.binary)
            .or_default()
            .insert(op.name());
    }
    for f in FUNCTIONS {
        let ops: BTreeSet<&str> = f.operations.iter().map(|o| o.name()).collect();
        assert_eq!(
            covered.get(f.binary),
            Some(&ops),
            "{} lacks fixtures",
            f.binary
        );
    }
}

fn special(name: &str) -> String {
    read(&fixture_dir().join(name))
}

#[tokio::test]
async fn a_function_refuses_a_request_of_another_functions_operation() {
    let lambda = LambdaSide::start().await;
    let (answer, used) = lambda
        .send(
            &scim_functions::GET_USER,
            &special("refused/delete-sent-to-get_user.json"),
        )
        .await;
    assert_eq!(answer.status, 500);
    assert_eq!(answer.body["status"], "500");
    assert_eq!(
        answer.headers["content-type"].as_deref(),
        Some("application/scim+json")
    );
    assert!(
        used.is_empty(),
        "a refused request touches no data: {used:?}"
    );
    let mut get = ScimRequest::new(
        Method::Get,
        format!("/Users/{}", lambda.ids.get("user1")),
        "https://x/scim/v2",
    );
    get.if_none_match = None;
    assert_eq!(
        lambda.service.handle("acme", &get).await.response.status,
        200,
        "still there"
    );
}

#[tokio::test]
async fn without_a_tenant_from_the_authorizer_a_function_answers_401_and_reads_nothing() {
    let lambda = LambdaSide::start().await;
    let (answer, used) = lambda
        .send(
            &scim_functions::GET_USER,
            &special("refused/no-authorizer-context.json"),
        )
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["status"], "401");
    assert_eq!(
        answer.headers["www-authenticate"].as_deref(),
        Some("Bearer realm=\"SCIM\"")
    );
    assert!(used.is_empty(), "{used:?}");
}

#[tokio::test]
async fn the_tenant_comes_from_the_authorizer_context_not_the_authorization_header() {
    let lambda = LambdaSide::start().await;
    let (acme_token, _) = tenant::issue_token(&lambda.store, "acme")
        .await
        .expect("token");
    // The event carries a valid acme token, but the authorizer said globex.
    let fixture = special("get_user.other-tenant.json")
        .replace("scim_fixture-token-never-read-by-functions", &acme_token);
    let (answer, _) = lambda.send(&scim_functions::GET_USER, &fixture).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
}

#[tokio::test]
async fn locations_follow_the_stage_the_custom_domain_or_the_configured_public_url() {
    let lambda = LambdaSide::start().await;
    let user = lambda.ids.get("user1");
    let location = |answer: &Answer| answer.body["meta"]["location"].as_str().map(str::to_string);

    let (answer, _) = lambda
        .send(&scim_functions::GET_USER, &special("get_user.json"))
        .await;
    assert_eq!(
        location(&answer),
        Some(format!("{LAMBDA_BASE}/Users/{user}"))
    );

    let (answer, _) = lambda
        .send(
            &scim_functions::GET_USER,
            &special("locations/custom-domain.json"),
        )
        .await;
    assert_eq!(
        location(&answer),
        Some(format!(
            "https://scim.example.com/identity/scim/v2/Users/{user}"
        ))
    );

    let handler = Handler::new(
        lambda.service.clone(),
        &scim_functions::GET_USER,
        Some("https://scim.example.com/scim/v2/".into()),
    );
    let request =
        lambda_http::request::from_str(&lambda.ids.fill(&special("get_user.json"))).expect("event");
    let answer = Answer::of_lambda(handler.handle(request).await);
    assert_eq!(
        location(&answer),
        Some(format!("https://scim.example.com/scim/v2/Users/{user}"))
    );
}

#[tokio::test]
async fn a_panic_while_answering_is_a_scim_500_for_that_event_only() {
    let lambda = LambdaSide::start().await;
    // The store panics when a request reads user1.
    let store = PanicOnRead::new(Arc::new(lambda.store.clone()), lambda.ids.get("user1"));
    let service = Arc::new(Service::new(Arc::new(store), Limits::default()));
    let handler = Handler::new(service, &scim_functions::GET_USER, None);
    let event = |fixture: &str| {
        lambda_http::request::from_str(&lambda.ids.fill(&special(fixture))).expect("an event")
    };

    let answer = Answer::of_lambda(handler.handle(event("get_user.json")).await);
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(
        answer.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(answer.body["status"], "500");
    assert_eq!(
        answer.headers["content-type"].as_deref(),
        Some("application/scim+json")
    );

    // The sandbox goes on: the same handler answers the next event.
    let answer = Answer::of_lambda(handler.handle(event("get_user.unknown.json")).await);
    assert_eq!(answer.status, 404, "{}", answer.body);
}
