//! The deployed shape, end to end: the real Lambda bootstraps behind the local API Gateway
//! (`scim_tests::gateway`, driven by template.yaml) over DynamoDB Local, every function's IAM
//! policy enforced at the table. Each test starts its own gateway over a fresh table and ends by
//! asserting that nothing would have failed on AWS: no call IAM refused, no failed invocation,
//! no stream record given up on.
//!
//! These tests need the bootstraps (`cargo lambda build --release`) and DynamoDB Local, so they
//! are ignored by a plain `cargo test`; tests/run.sh runs them with
//! `SCIM_LAMBDA_BOOTSTRAPS=target/lambda cargo test -p scim-tests --test it -- --ignored gateway::`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use scim_shared::ops::Limits;
use scim_shared::protocol::http::{Method, ScimRequest};
use scim_shared::roles::{self, RoleRule, RoleRules};
use scim_shared::service::Service;
use scim_shared::store::{DynamoStore, Store, create_table};
use scim_shared::tenant;
use scim_tests::gateway::{Config, Gateway, sigv4};
use scim_tests::replay::{self, fixtures, load};
use scim_tests::{ENTERPRISE, GROUP_SCHEMA, Scim, USER_SCHEMA, enc};
use serde_json::{Value, json};

const NEEDS: &str = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// A gateway over a fresh table, and the table as the operator reaches it.
struct Deployed {
    gateway: Gateway,
    store: Arc<dyn Store>,
    dynamo: DynamoStore,
}

fn bootstraps() -> PathBuf {
    let dir = std::env::var("SCIM_LAMBDA_BOOTSTRAPS")
        .unwrap_or_else(|_| panic!("SCIM_LAMBDA_BOOTSTRAPS is not set ({NEEDS})"));
    let dir = PathBuf::from(dir);
    if dir.is_absolute() {
        dir
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(dir)
    }
}

impl Deployed {
    async fn start() -> Deployed {
        Self::with(|_| {}).await
    }

    /// Starts a gateway whose configuration `adjust` may change first.
    async fn with(adjust: impl FnOnce(&mut Config)) -> Deployed {
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .unwrap_or_else(|_| panic!("AWS_ENDPOINT_URL is not set ({NEEDS})"));
        let table = format!("scim-gw-{}", uuid::Uuid::now_v7());
        let store = DynamoStore::from_env(&table).await;
        create_table(store.client(), &table)
            .await
            .expect("create the table on DynamoDB Local");
        let mut config = Config::new(bootstraps(), endpoint, table);
        adjust(&mut config);
        let gateway = Gateway::start(config).await.expect("start the gateway");
        Deployed {
            gateway,
            store: Arc::new(store.clone()),
            dynamo: store,
        }
    }

    /// A new tenant with a Secret Token, as the operator makes them.
    async fn tenant(&self, id: &str) -> Scim {
        tenant::create_tenant(&*self.store, id)
            .await
            .expect("tenant");
        let (token, _) = tenant::issue_token(&*self.store, id).await.expect("token");
        Scim::new(&self.gateway.tenant_url(), Some(&token))
    }

    /// Waits for the bus entry of an event type about a resource.
    async fn event(&self, kind: &str, id: &str) -> Value {
        self.event_where(kind, id, |_| true).await
    }

    /// Waits for the bus entry of an event type about a resource whose detail satisfies `found`.
    async fn event_where(&self, kind: &str, id: &str, found: impl Fn(&Value) -> bool) -> Value {
        let entry = self
            .gateway
            .bus
            .wait_for(Duration::from_secs(20), |e| {
                let d = detail(e);
                e["DetailType"] == kind && d["resource"]["id"] == id && found(&d)
            })
            .await;
        let entries: Vec<Value> = self.gateway.bus.entries();
        let problems = self.gateway.problems();
        detail(&entry.unwrap_or_else(|| {
            panic!(
                "no such {kind} of {id} on the bus; it has {entries:#?}; problems: {problems:#?}"
            )
        }))
    }

    /// Nothing the run did would have failed on AWS; then the table goes (DynamoDB Local slows
    /// down with every table it keeps).
    async fn finish(self) {
        self.assert_clean();
        self.delete_table().await;
    }

    async fn delete_table(self) {
        let table = self.dynamo.table();
        let _ = self
            .dynamo
            .client()
            .delete_table()
            .table_name(table)
            .send()
            .await;
    }

    fn assert_clean(&self) {
        let problems = self.gateway.problems();
        assert!(
            problems.is_empty(),
            "would fail on AWS (function logs in {}):\n{}",
            self.gateway.logs().display(),
            problems.join("\n")
        );
    }
}

fn detail(entry: &Value) -> Value {
    entry["Detail"]
        .as_str()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default()
}

fn user(name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": name, "active": true})
}

/// Replays every file of an IdP's suite, each for a tenant of its own.
async fn replay_suite(suite: &str) {
    let deployed = Deployed::start().await;
    let files = fixtures(suite);
    assert!(!files.is_empty(), "no fixtures in tests/data/{suite}");
    let (mut passed, mut total, mut failures) = (0, 0, Vec::new());
    for (n, file) in files.iter().enumerate() {
        let fixture = load(file).expect("fixture");
        let client = deployed.tenant(&format!("{suite}-{n}")).await;
        let r = replay::replay(&fixture, &client).await;
        passed += r.passed;
        total += r.total;
        if let Some(f) = r.failure {
            failures.push(format!("{}: {f}", file.display()));
        }
    }
    println!(
        "replay {suite} through the local API Gateway: {passed}/{total} steps passed in {} files",
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    deployed.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn the_entra_replay_suite_passes_through_the_deployed_shape() {
    replay_suite("entra").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn the_okta_replay_suite_passes_through_the_deployed_shape() {
    replay_suite("okta").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn okta_group_import_lists_every_group_unfiltered() {
    let d = Deployed::start().await;
    let scim = d.tenant("acme").await;
    for name in ["Admins", "Sales", "Support"] {
        scim.create_group(name).await;
    }
    let page = scim.get("/Groups?startIndex=1&count=100").await.expect(200);
    assert_eq!(page.body["totalResults"], 3);
    assert_eq!(page.body["Resources"].as_array().map(Vec::len), Some(3));
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn the_first_cursor_page_on_a_fresh_table_and_every_later_one() {
    let d = Deployed::start().await;
    let scim = d.tenant("acme").await;
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(scim.create_user(&format!("u{n}@example.com")).await);
    }
    scim.create_group("Everyone").await;
    for listing in ["/Users", "/Groups"] {
        let first = scim
            .get(&format!("{listing}?cursor&count=2"))
            .await
            .expect(200);
        assert!(
            first.body["Resources"].is_array(),
            "{listing}: {:?}",
            first.body
        );
    }
    let mut seen = Vec::new();
    let mut path = "/Users?count=2&cursor=".to_string();
    for _ in 0..10 {
        let page = scim.get(&path).await.expect(200);
        for r in page.body["Resources"].as_array().into_iter().flatten() {
            seen.push(r["id"].as_str().unwrap_or_default().to_string());
        }
        match page.body["nextCursor"].as_str() {
            Some(next) => path = format!("/Users?count=2&cursor={}", enc(next)),
            None => break,
        }
    }
    assert_eq!(
        seen, created,
        "a cursor walk returns every user once, in order"
    );
    let search = scim
        .post(
            "/Users/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "cursor": "", "count": 2}),
        )
        .await
        .expect(200);
    assert!(search.body["nextCursor"].is_string(), "{:?}", search.body);
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn index_paging_reaches_deep_pages_from_checkpoints_written_by_the_list_function() {
    let d = Deployed::start().await;
    let scim = d.tenant("acme").await;
    // 1,100 users, past the first checkpoint (every 1,000 positions), written into the table
    // by the service in-process, eight at a time (the same writes as POST /Users, without a
    // Lambda round trip each).
    let total = 1100;
    let started = std::time::Instant::now();
    let service = Arc::new(Service::new(d.store.clone(), Limits::default()));
    let base = scim.base.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..8 {
        let (service, base) = (service.clone(), base.clone());
        tasks.spawn(async move {
            for n in (lane..total).step_by(8) {
                let mut req = ScimRequest::new(Method::Post, "/Users", &base);
                req.body = user(&format!("deep{n:04}@example.com"))
                    .to_string()
                    .into_bytes();
                let created = service.handle("acme", &req).await;
                assert_eq!(created.response.status, 201, "{:?}", created.response.body);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("seeding lane");
    }
    println!("{total} users created in {:?}", started.elapsed());
    // The whole listing in two pages (at most 1,000 a page); the walk writes the checkpoint.
    let mut names = Vec::new();
    for start in [1, 1001] {
        let page = scim
            .get(&format!(
                "/Users?startIndex={start}&count=1000&attributes=userName"
            ))
            .await
            .expect(200);
        assert_eq!(page.body["totalResults"], total);
        names.extend(
            page.body["Resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["userName"].as_str().map(str::to_string)),
        );
    }
    assert_eq!(names.len(), total);
    // The first walk wrote the checkpoint; a deep page starts from it.
    for start in [1001, 1090] {
        let page = scim
            .get(&format!(
                "/Users?startIndex={start}&count=5&attributes=userName"
            ))
            .await
            .expect(200);
        let got: Vec<String> = page.body["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["userName"].as_str().map(str::to_string))
            .collect();
        assert_eq!(got, names[start - 1..start + 4], "startIndex={start}");
        assert_eq!(page.body["startIndex"], start);
    }
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn membership_filters_find_groups_by_member_and_users_by_group() {
    let d = Deployed::start().await;
    let scim = d.tenant("acme").await;
    let u = scim.create_user("member@example.com").await;
    let other = scim.create_user("other@example.com").await;
    let g = scim.create_group("Engineering").await;
    scim.create_group("Empty").await;
    scim.patch(
        &format!("/Groups/{g}"),
        &Scim::patch_body(json!([{"op": "add", "path": "members", "value": [{"value": u}]}])),
    )
    .await
    .expect(204);
    let groups = scim
        .get(&format!(
            "/Groups?filter={}",
            enc(&format!("members.value eq \"{u}\""))
        ))
        .await
        .expect(200);
    assert_eq!(groups.body["totalResults"], 1);
    assert_eq!(groups.body["Resources"][0]["id"], g.as_str());
    let users = scim
        .get(&format!(
            "/Users?filter={}",
            enc(&format!("groups.value eq \"{g}\""))
        ))
        .await
        .expect(200);
    assert_eq!(users.body["totalResults"], 1);
    assert_eq!(users.body["Resources"][0]["id"], u.as_str());
    let searched = scim
        .post(
            "/Users/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": format!("groups.value eq \"{g}\"")}),
        )
        .await
        .expect(200);
    assert_eq!(searched.body["totalResults"], 1);
    assert_eq!(searched.body["Resources"][0]["id"], u.as_str());
    assert_ne!(searched.body["Resources"][0]["id"], other.as_str());
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn a_change_of_roles_announces_the_effective_roles_with_those_its_groups_grant() {
    let d = Deployed::start().await;
    let scim = d.tenant("acme").await;
    let u = scim.create_user("roles@example.com").await;
    let g = scim.create_group("Admins").await;
    let rules = RoleRules {
        version: 0,
        rules: vec![RoleRule {
            group: g.clone(),
            display_name: "Admins".into(),
            roles: ["admin".to_string()].into(),
        }],
    };
    roles::save(&*d.store, "acme", &rules)
        .await
        .expect("role rules");
    scim.patch(
        &format!("/Groups/{g}"),
        &Scim::patch_body(json!([{"op": "add", "path": "members", "value": [{"value": u}]}])),
    )
    .await
    .expect(204);
    scim.patch(
        &format!("/Users/{u}"),
        &Scim::patch_body(json!([{"op": "add", "path": "roles", "value": [{"value": "auditor"}]}])),
    )
    .await
    .expect(200);
    // The mover names the new effective role next to the one the group grants.
    d.event_where("mover", &u, |mover| {
        mover["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["attribute"] == "effectiveRoles" && c["added"] == json!(["auditor"]))
    })
    .await;
    let mut replaced = scim.get(&format!("/Users/{u}")).await.expect(200).body;
    replaced["roles"] = json!([{"value": "viewer"}]);
    scim.put(&format!("/Users/{u}"), &replaced)
        .await
        .expect(200);
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn bulk_lifecycle_events_reach_eventbridge_in_order() {
    let d = Deployed::start().await;
    let scim = d.tenant("acme").await;
    let r = scim
        .post(
            "/Bulk",
            &json!({"schemas": [BULK], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "u",
                 "data": {"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "joiner@example.com",
                          "active": true, ENTERPRISE: {"department": "Sales"}}},
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"schemas": [GROUP_SCHEMA], "displayName": "Sales",
                          "members": [{"value": "bulkId:u"}]}},
            ]}),
        )
        .await
        .expect(200);
    let location = r.body["Operations"][0]["location"]
        .as_str()
        .unwrap_or_default();
    let u = location.rsplit('/').next().unwrap_or_default().to_string();
    assert!(!u.is_empty(), "{:?}", r.body);
    let joiner = d.event("joiner", &u).await;
    assert_eq!(joiner["tenant"], "acme");
    scim.patch(
        &format!("/Users/{u}"),
        &Scim::patch_body(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await
    .expect(200);
    let leaver = d.event("leaver", &u).await;
    assert_eq!(leaver["resource"]["id"], u.as_str());
    let entry = d
        .gateway
        .bus
        .entries()
        .into_iter()
        .find(|e| e["DetailType"] == "joiner")
        .unwrap_or_default();
    assert_eq!(entry["Source"], "scim.lifecycle");
    assert!(
        entry["EventBusName"]
            .as_str()
            .is_some_and(|b| b.ends_with("-scim-lifecycle"))
    );
    // The mapping counts a batch delivered once the function's answer is back, which can come
    // after its PutEvents reached the bus.
    let counted = std::time::Instant::now();
    while d.gateway.stream_stats().delivered < 2 && counted.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(d.gateway.stream_stats().delivered >= 2);
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn emergency_logout_takes_the_iam_route_and_publishes_before_answering() {
    let d = Deployed::start().await;
    let scim = d.tenant("acme").await;
    let u = scim.create_user("compromised@example.com").await;
    let url = format!(
        "{}/{}/admin/tenants/acme/users/{u}/emergency-logout",
        d.gateway.root, d.gateway.stage
    );
    let http = reqwest::Client::new();
    let unsigned = http.post(&url).send().await.expect("request");
    assert_eq!(
        unsigned.status().as_u16(),
        404,
        "no signature: API Gateway's own answer"
    );
    let caller = Config::new(PathBuf::new(), String::new(), String::new()).caller;
    let mut impostor = caller.clone();
    impostor.secret_key = "not-the-secret".into();
    let mut forged = http.post(&url);
    for (name, value) in sigv4::sign(&impostor, "POST", &url, b"") {
        forged = forged.header(name, value);
    }
    let forged = forged.send().await.expect("request");
    assert_eq!(forged.status().as_u16(), 403);
    let body: Value = forged.json().await.expect("JSON");
    assert_eq!(body["status"], "403");

    let mut signed = http.post(&url);
    for (name, value) in sigv4::sign(&caller, "POST", &url, b"") {
        signed = signed.header(name, value);
    }
    let answer = signed.send().await.expect("request");
    assert_eq!(answer.status().as_u16(), 200);
    let answer: Value = answer.json().await.expect("JSON");
    assert_eq!(answer["event"]["type"], "leaver");
    assert_eq!(answer["event"]["emergency"], true);
    // Published synchronously: on the bus by the time the operator has the answer.
    let on_bus = d.gateway.bus.entries().into_iter().any(|e| {
        e["DetailType"] == "leaver"
            && detail(&e)["emergency"] == true
            && detail(&e)["resource"]["id"] == u.as_str()
    });
    assert!(
        on_bus,
        "the emergency leaver is on the bus before the answer"
    );
    scim.get(&format!("/Users/{u}")).await.expect(200);
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn a_tenant_over_its_rate_gets_a_scim_429_and_the_others_are_served() {
    let d = Deployed::with(|c| {
        c.parameters.insert("TenantRateLimit".into(), "10".into());
        c.parameters
            .insert("TenantRateWindowSeconds".into(), "60".into());
    })
    .await;
    let busy = d.tenant("busy").await;
    let quiet = d.tenant("quiet").await;
    for _ in 0..10 {
        busy.get("/Users").await.expect(200);
    }
    let throttled = busy.get("/Users").await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert_eq!(
        throttled.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(throttled.body["status"], "429");
    assert_eq!(throttled.header("retry-after"), Some("60"));
    // Another tenant's token has its own count, and the operator's signed calls are outside it.
    quiet.get("/Users").await.expect(200);
    let (status, _) = signed_get(&d, "/tenants").await;
    assert_eq!(status, 200);
    assert_eq!(d.gateway.waf_blocked(), 1);
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn events_the_stream_gave_up_on_are_redriven_through_the_management_api() {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use scimctl::management_client::{Auth, ManagementClient};

    let d = Deployed::start().await;
    let scim = d.tenant("acme").await;
    // The bus fails: the events function retries, then the mapping gives the records up (the
    // failure queue on AWS).
    d.gateway.bus.refuse_all(true);
    let u = scim.create_user("lost@acme.example").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while d.gateway.stream_stats().dead_letters.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the record was never given up on: {:?}; problems {:?}",
            d.gateway.stream_stats(),
            d.gateway.problems()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let given_up = d.gateway.take_dead_letters();
    let lost: Vec<String> = given_up
        .iter()
        .filter_map(|r| r["dynamodb"]["NewImage"]["b"]["S"].as_str())
        .flat_map(|b| scim_shared::events::outbox::events_of(b).unwrap_or_default())
        .map(|e| e.id)
        .collect();
    assert!(!lost.is_empty(), "{given_up:?}");
    assert!(d.gateway.bus.entries().is_empty());

    // The bus is back; the operator redrives the window with scimctl's signed client.
    d.gateway.bus.refuse_all(false);
    let caller = Config::new(PathBuf::new(), String::new(), String::new()).caller;
    let credentials = Credentials::new(&caller.access_key, &caller.secret_key, None, None, "test");
    let api = ManagementClient::http(
        &format!("{}/{}", d.gateway.root, d.gateway.stage),
        Auth::SigV4 {
            credentials: SharedCredentialsProvider::new(credentials),
            region: caller.region.clone(),
        },
    );
    let r = api.republish("acme", "1h", None).await.expect("republish");
    assert_eq!((r.republished, r.failed), (lost.len() as u64, 0));
    let on_bus: Vec<String> = d
        .gateway
        .bus
        .entries()
        .iter()
        .map(|e| detail(e)["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(on_bus, lost, "every lost event, once, with its id");
    assert_eq!(
        detail(&d.gateway.bus.entries()[0])["resource"]["id"],
        u.as_str()
    );
    d.finish().await;
}

/// GET of a management API path, signed as the gateway's operator.
async fn signed_get(d: &Deployed, path: &str) -> (u16, Value) {
    let url = format!("{}/{}/admin/v1{path}", d.gateway.root, d.gateway.stage);
    let caller = Config::new(PathBuf::new(), String::new(), String::new()).caller;
    let mut request = reqwest::Client::new().get(&url);
    for (name, value) in sigv4::sign(&caller, "GET", &url, b"") {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn the_management_api_takes_the_iam_routes_with_scimctls_signed_client() {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use scimctl::management_client::{Auth, ManagementClient};

    let d = Deployed::start().await;
    let caller = Config::new(PathBuf::new(), String::new(), String::new()).caller;
    let root = format!("{}/{}", d.gateway.root, d.gateway.stage);
    let signed = |secret: &str| {
        let credentials = Credentials::new(&caller.access_key, secret, None, None, "test");
        ManagementClient::http(
            &root,
            Auth::SigV4 {
                credentials: SharedCredentialsProvider::new(credentials),
                region: caller.region.clone(),
            },
        )
    };
    let api = signed(&caller.secret_key);

    // Onboarding without table credentials: tenant, settings, token; the token works at once.
    assert_eq!(api.create_tenant("acme").await.expect("create").id, "acme");
    api.create_tenant("globex").await.expect("create");
    let set = api
        .set_settings("globex", json!({"dialect": "strict"}))
        .await
        .expect("settings");
    assert_eq!(set.settings.dialect, tenant::Dialect::Strict);
    let listed: Vec<String> = api
        .list_tenants()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, ["acme", "globex"]);
    let (token, info) = api.issue_token("acme").await.expect("token");
    let scim = Scim::new(&d.gateway.tenant_url(), Some(&token));
    let u = scim.create_user("ada@acme.example").await;
    let g = scim.create_group("Acme Staff").await;
    let (globex_token, _) = api.issue_token("globex").await.expect("token");
    let globex = Scim::new(&d.gateway.tenant_url(), Some(&globex_token));
    let gu = globex.create_user("grace@globex.example").await;
    let tokens = api.list_tokens("acme").await.expect("tokens");
    assert_eq!(tokens.iter().map(|t| &t.id).collect::<Vec<_>>(), [&info.id]);

    // The directory, each tenant's own only.
    let (status, users) = signed_get(&d, "/tenants/acme/users?count=1&cursor").await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(users["Resources"][0]["id"], u.as_str());
    let (status, group) = signed_get(&d, &format!("/tenants/acme/groups/{g}")).await;
    assert_eq!((status, &group["id"]), (200, &json!(g)));
    let (status, _) = signed_get(&d, &format!("/tenants/globex/users/{u}")).await;
    assert_eq!(
        status, 404,
        "one tenant's user is not in another's directory"
    );
    let (_, theirs) = signed_get(&d, "/tenants/globex/users").await;
    assert_eq!(theirs["totalResults"], 1);
    assert_eq!(theirs["Resources"][0]["id"], gu.as_str());

    // Activity: read with the activity function's narrowed grant (tenant, outbox, audit log).
    let (events, cursor) = api.events_since("acme", "1h").await.expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["joiner", "group.created"]);
    assert!(events.iter().all(|e| e.tenant == "acme"));
    let (status, after) = signed_get(
        &d,
        &format!("/tenants/acme/events?cursor={}", cursor.expect("a cursor")),
    )
    .await;
    assert_eq!(
        (status, &after["events"]),
        (200, &json!([])),
        "nothing after the last"
    );
    let audit = api.audit("acme", "1h", false).await.expect("audit");
    let operations: Vec<&str> = audit.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(operations, ["CreateUser", "CreateGroup"]);

    // Unsigned: API Gateway's own answer; a wrong secret: refused before any function runs.
    let unsigned = reqwest::Client::new()
        .get(format!("{root}/admin/v1/tenants"))
        .send()
        .await
        .expect("request");
    assert_eq!(unsigned.status().as_u16(), 404);
    let forged = signed("not-the-secret").list_tenants().await;
    assert!(
        matches!(
            forged,
            Err(scimctl::management_client::ClientError::Refused { status: 403, .. })
        ),
        "{forged:?}"
    );

    // Emergency Logout through the same client: its own IAM route, published before the answer.
    let logout = api
        .emergency_logout("acme", &u)
        .await
        .expect("emergency logout");
    assert_eq!(logout["event"]["type"], "leaver");
    assert_eq!(logout["eventBridge"], "published");
    let unknown = api.emergency_logout("acme", "no-such-user").await;
    assert!(
        matches!(
            unknown,
            Err(scimctl::management_client::ClientError::Refused { status: 404, .. })
        ),
        "{unknown:?}"
    );

    api.revoke_token("acme", &info.id).await.expect("revoke");
    let deleted = api.delete_tenant("globex").await.expect("delete");
    assert!(deleted.deleted > 0);
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn a_bad_or_missing_token_gets_the_gateways_scim_401() {
    let d = Deployed::start().await;
    let scim = d.tenant("acme").await;
    for client in [
        scim.with_token(Some("scim_not-a-token")),
        scim.with_token(None),
    ] {
        let r = client.get("/Users").await.expect(401);
        assert_eq!(
            r.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
        assert_eq!(r.body["status"], "401");
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"SCIM\""));
    }
    let unknown = scim.get("/Nothing/here").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["status"], "404");
    // Another tenant's resource is not found, whatever the id.
    let u = scim.create_user("mine@example.com").await;
    let other = d.tenant("globex").await;
    other.get(&format!("/Users/{u}")).await.expect(404);
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn base64_bodies_and_concurrent_requests_are_served_like_any_other() {
    let d = Deployed::with(|c| c.base64_bodies = true).await;
    let scim = d.tenant("acme").await;
    let creates = (0..8).map(|n| {
        let scim = scim.clone();
        async move {
            scim.post("/Users", &user(&format!("c{n}@example.com")))
                .await
                .expect(201)
        }
    });
    let created = futures_join(creates).await;
    assert_eq!(created.len(), 8);
    let (_, processes) = d.gateway.usage();
    assert!(
        processes.get("create_user").is_some_and(|n| *n > 1),
        "concurrent requests overlap across processes: {processes:?}"
    );
    d.finish().await;
}

async fn futures_join<F: Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn a_call_outside_a_functions_policy_is_refused_and_reported() {
    // template.yaml with get_user's grant narrowed to GetItem: its Query is outside the policy.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("template.yaml")).expect("template.yaml");
    let mut template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    template["Resources"]["GetUserFunction"]["Properties"]["Policies"][0]["Statement"][0]["Action"] =
        serde_yaml_ng::Value::Sequence(vec!["dynamodb:GetItem".into()]);
    let file = std::env::temp_dir().join(format!("template-{}.yaml", uuid::Uuid::now_v7()));
    let narrowed = serde_yaml_ng::to_string(&template).expect("YAML");
    std::fs::write(&file, narrowed).expect("write the narrowed template");
    let d = Deployed::with(|c| c.template = file.clone()).await;
    let scim = d.tenant("acme").await;
    let u = scim.create_user("denied@example.com").await;
    let r = scim.get(&format!("/Users/{u}")).await;
    assert_eq!(
        r.status, 500,
        "AccessDenied is an internal error to the client"
    );
    let denials = d.gateway.denials();
    assert!(
        denials
            .iter()
            .any(|x| x.function == "get_user" && x.action == "dynamodb:Query"),
        "{denials:?}"
    );
    assert!(!d.gateway.problems().is_empty());
    d.delete_table().await;
    let _ = std::fs::remove_file(file);
}

/// A gateway whose functions fetch key sets from a loopback key server.
async fn with_loopback_jwks() -> Deployed {
    Deployed::with(|c| {
        c.environment
            .insert(tenant::clients::LOOPBACK_JWKS_ENV.into(), "1".into());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn the_token_function_issues_access_tokens_the_authorizer_takes_for_their_tenant_only() {
    let d = with_loopback_jwks().await;
    let url = d.gateway.tenant_url();
    let root = url.trim_end_matches(scim_shared::protocol::http::BASE_PATH);
    crate::oauth::secret_clients_get_tokens_for_their_tenant_only(root, &url, &*d.store).await;
    crate::oauth::every_token_error_is_the_rfc_6749_answer(root, &url, &*d.store).await;
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn federated_clients_get_access_tokens_through_the_token_function() {
    let d = with_loopback_jwks().await;
    let url = d.gateway.tenant_url();
    let root = url.trim_end_matches(scim_shared::protocol::http::BASE_PATH);
    crate::oauth::federated_clients_are_held_to_their_four_values(
        root,
        &url,
        &*d.store,
        scim_shared::oauth::jwks::REFETCH_INTERVAL,
    )
    .await;
    d.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstraps and DynamoDB Local: tests/run.sh runs it"]
async fn microsofts_gallery_validation_passes_through_the_deployed_shape_with_each_credential() {
    let d = with_loopback_jwks().await;
    let url = d.gateway.tenant_url();
    let root = url.trim_end_matches(scim_shared::protocol::http::BASE_PATH);
    let store = &*d.store;
    let by_token = d.tenant("gallery-token").await;
    crate::oauth::microsofts_validation(root, &url, store, "gallery-token", &by_token).await;
    let by_secret = crate::oauth::client_credentials_scim(root, &url, store, "gallery-cc").await;
    crate::oauth::microsofts_validation(root, &url, store, "gallery-cc", &by_secret).await;
    let by_assertion = crate::oauth::federated_scim(root, &url, store, "gallery-wif").await;
    crate::oauth::microsofts_validation(root, &url, store, "gallery-wif", &by_assertion).await;
    d.finish().await;
}
