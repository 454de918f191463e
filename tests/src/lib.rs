//! Helpers for the end-to-end tests: a server on a loopback port with a fresh store, and a small
//! SCIM client. Each test gets its own server, so tests never share data.

pub mod cost;
pub mod faults;
pub mod gateway;
pub mod import_bench;
pub mod oauth;
pub mod receiver;
pub mod replay;

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue};
use scim_shared::events::lifecycle::Event;
use scim_shared::ops::Limits;
use scim_shared::protocol::http::{Method, ScimRequest};
use scim_shared::service::{Outcome, Service};
use scim_shared::store::{DynamoStore, EmbeddedStore, Store, create_table};
use scim_shared::tenant;
use serde_json::Value;
use tokio::sync::oneshot;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The operator token of every test server's admin API.
pub const OPERATOR_TOKEN: &str = "op_test_operator_token";

/// The store backend the tests run against: `SCIM_TEST_BACKEND=dynamodb` selects a DynamoDB
/// table on the endpoint in `AWS_ENDPOINT_URL` (the emulator tests/run.sh starts); anything else
/// the embedded store in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    DynamoDb,
}

pub fn backend() -> Backend {
    match std::env::var("SCIM_TEST_BACKEND").as_deref() {
        Ok("dynamodb") => Backend::DynamoDb,
        _ => Backend::Embedded,
    }
}

/// A fresh, empty store of the selected backend: a new in-memory database, or a new DynamoDB
/// table with the production key schema.
pub async fn fresh_store() -> Arc<dyn Store> {
    fresh_table().await.0
}

/// A fresh store and, on DynamoDB, the name of its table.
async fn fresh_table() -> (Arc<dyn Store>, Option<String>) {
    match backend() {
        Backend::Embedded => (Arc::new(EmbeddedStore::in_memory().expect("store")), None),
        Backend::DynamoDb => {
            let table = format!("scim-test-{}", uuid::Uuid::now_v7());
            let store = DynamoStore::from_env(&table).await;
            create_table(store.client(), &table)
                .await
                .expect("create table on the DynamoDB endpoint");
            (Arc::new(store), Some(table))
        }
    }
}

/// Deletes a test's table once the test is done with it: DynamoDB Local is one process for the
/// whole run, and it slows down with every table and stream it keeps. Runs on a thread of its
/// own, as a test's runtime may be single-threaded and is being dropped.
fn delete_test_table(table: String) {
    let deleted = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let store = DynamoStore::from_env(&table).await;
            scim_shared::store::delete_table(store.client(), &table).await
        })
    })
    .join();
    if let Ok(Err(e)) = deleted {
        eprintln!("test table not deleted: {e}");
    }
}

/// A running server with one tenant (`acme`) and its token.
#[derive(Debug)]
pub struct TestServer {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub service: Arc<Service>,
    pub client: Scim,
    stop: Option<oneshot::Sender<()>>,
    /// The DynamoDB table made for this server alone, deleted with it.
    table: Option<String>,
}

impl TestServer {
    /// Starts a server on a free loopback port with a fresh in-memory store.
    pub async fn start() -> TestServer {
        Self::with_limits(Limits::default()).await
    }

    pub async fn with_limits(limits: Limits) -> TestServer {
        let (store, table) = fresh_table().await;
        let mut srv = Self::with_store(store, limits).await;
        srv.table = table;
        srv
    }

    /// Starts a server on a free loopback port over the given store.
    pub async fn with_store(store: Arc<dyn Store>, limits: Limits) -> TestServer {
        let service = Service::new(store.clone(), limits);
        Self::with_service(store, service).await
    }

    /// Starts a server over the given store that keeps authorizations as `scimctl serve` does by
    /// default (the other constructors read the token on every request, so that revocations in
    /// tests take effect at once).
    pub async fn as_served(store: Arc<dyn Store>, limits: Limits) -> TestServer {
        let service = Service::new(store.clone(), limits);
        Self::serve(store, service, scimctl::server::DEFAULT_AUTH_CACHE_TTL).await
    }

    /// Starts a server that delivers events to tenants' webhooks, as `scimctl serve` does.
    pub async fn with_webhooks(retry: scim_shared::events::Retry) -> TestServer {
        let (store, table) = fresh_table().await;
        let sink = scimctl::webhook::WebhookSink::spawn(store.clone(), retry);
        let service = Service::new(store.clone(), Limits::default()).with_sink(sink);
        let mut srv = Self::with_service(store, service).await;
        srv.table = table;
        srv
    }

    async fn with_service(store: Arc<dyn Store>, service: Service) -> TestServer {
        Self::serve(store, service, std::time::Duration::ZERO).await
    }

    async fn serve(
        store: Arc<dyn Store>,
        service: Service,
        auth_ttl: std::time::Duration,
    ) -> TestServer {
        let service = Arc::new(service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let app = scimctl::operator_api::router(service.clone(), OPERATOR_TOKEN, None).merge(
            scimctl::server::app(
                service.clone(),
                None,
                auth_ttl,
                Arc::new(oauth::test_jwks()),
            ),
        );
        tokio::spawn(scimctl::server::serve(listener, app, async {
            let _ = stopped.await;
        }));
        let base = scimctl::server::tenant_url(addr);
        tenant::create_tenant(&*store, "acme")
            .await
            .expect("tenant");
        let (token, _) = tenant::issue_token(&*store, "acme").await.expect("token");
        let client = Scim::new(&base, Some(&token));
        TestServer {
            base,
            store,
            service,
            client,
            stop: Some(stop),
            table: None,
        }
    }

    /// Handles a request in-process (no socket) for tenant `acme` and returns the response with
    /// the store usage it caused.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Outcome {
        let mut req = ScimRequest::new(method, path, &self.base);
        if let Some((p, q)) = path.split_once('?') {
            req.path = p.to_string();
            req.query = q
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.replace("%20", " ").replace("%22", "\"")))
                .collect();
        }
        if let Some(b) = body {
            req.body = b.to_string().into_bytes();
        }
        self.service.handle("acme", &req).await
    }

    /// Creates `n` users named `{prefix}-{i}` in-process and returns their ids in that order;
    /// `progress` hears how many are created after each one.
    pub async fn create_users(
        &self,
        prefix: &str,
        n: usize,
        progress: &dyn Fn(usize),
    ) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let body =
                serde_json::json!({"schemas": [USER_SCHEMA], "userName": format!("{prefix}-{i}")});
            let out = self.call(Method::Post, "/Users", Some(&body)).await;
            assert_eq!(out.response.status, 201);
            ids.push(
                out.response
                    .body
                    .as_ref()
                    .and_then(|b| b["id"].as_str())
                    .expect("id")
                    .to_string(),
            );
            progress(i + 1);
        }
        ids
    }

    /// Creates `n` users named `{prefix}-{i}` and adds them to group `gid` in PATCH batches of
    /// 100, in-process; returns their ids.
    pub async fn fill_group(
        &self,
        gid: &str,
        prefix: &str,
        n: usize,
        progress: &dyn Fn(usize),
    ) -> Vec<String> {
        let ids = self.create_users(prefix, n, progress).await;
        for chunk in ids.chunks(100) {
            let body = Scim::members_patch("add", chunk);
            let out = self
                .call(Method::Patch, &format!("/Groups/{gid}"), Some(&body))
                .await;
            assert_eq!(out.response.status, 204);
        }
        ids
    }

    /// Tenant `acme`'s events in the outbox from `since` until now, oldest first.
    pub async fn events_since(&self, since: scim_shared::protocol::clock::Time) -> Vec<Event> {
        scim_shared::events::outbox::read(
            &*self.store,
            "acme",
            since,
            scim_shared::protocol::clock::now(),
        )
        .await
        .expect("outbox")
        .into_iter()
        .map(|s| s.event)
        .collect()
    }

    /// The server's root URL (the admin API lives under `/admin`).
    pub fn root(&self) -> &str {
        self.base
            .trim_end_matches(scim_shared::protocol::http::BASE_PATH)
    }

    /// A client for a second tenant of the same server.
    pub async fn tenant(&self, id: &str) -> Scim {
        tenant::create_tenant(&*self.store, id)
            .await
            .expect("tenant");
        let (token, _) = tenant::issue_token(&*self.store, id).await.expect("token");
        Scim::new(&self.base, Some(&token))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(table) = self.table.take() {
            delete_test_table(table);
        }
    }
}

/// A response as the tests look at it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts a SCIM error with this status and scimType (None: no scimType required).
    #[track_caller]
    pub fn expect_error(self, status: u16, scim_type: Option<&str>) -> Reply {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], status.to_string());
        if let Some(t) = scim_type {
            assert_eq!(self.body["scimType"], t, "{}", self.body);
        }
        assert_eq!(self.header("content-type"), Some("application/scim+json"));
        self
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("id").to_string()
    }
}

/// A minimal SCIM client bound to a base URL and a token.
#[derive(Debug, Clone)]
pub struct Scim {
    pub base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Scim {
    pub fn new(base: &str, token: Option<&str>) -> Scim {
        Scim {
            base: base.to_string(),
            http: reqwest::Client::new(),
            token: token.map(str::to_string),
        }
    }

    /// The Secret Token the client sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn with_token(&self, token: Option<&str>) -> Scim {
        Scim {
            token: token.map(str::to_string),
            ..self.clone()
        }
    }

    /// Sends a request; `path` is relative to the base URL, `body` raw bytes if any.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(method, url);
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.header("content-type", "application/scim+json").body(b);
        }
        for (k, v) in headers {
            rb = rb.header(*k, HeaderValue::from_str(v).expect("header"));
        }
        let resp = rb.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(body.to_string().into_bytes()), &[])
            .await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send("PUT", path, Some(body.to_string().into_bytes()), &[])
            .await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send("PATCH", path, Some(body.to_string().into_bytes()), &[])
            .await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None, &[]).await
    }

    /// Creates a user with this userName and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        self.post(
            "/Users",
            &serde_json::json!({"schemas": [USER_SCHEMA], "userName": user_name}),
        )
        .await
        .expect(201)
        .id()
    }

    /// The ids, sorted, of the resources under `endpoint` (`/Users`) a filter finds.
    pub async fn ids_where(&self, endpoint: &str, filter: &str) -> Vec<String> {
        let r = self
            .get(&format!("{endpoint}?filter={}", enc(filter)))
            .await
            .expect(200);
        let mut ids: Vec<String> = r.body["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["id"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }

    /// Creates a group with this displayName and returns its id.
    pub async fn create_group(&self, name: &str) -> String {
        self.post(
            "/Groups",
            &serde_json::json!({"schemas": [GROUP_SCHEMA], "displayName": name}),
        )
        .await
        .expect(201)
        .id()
    }

    /// How many users match a filter: the `totalResults` of a list of none of them.
    pub async fn count_users(&self, filter: &str) -> u64 {
        self.get(&format!("/Users?filter={}&count=0", enc(filter)))
            .await
            .expect(200)
            .body["totalResults"]
            .as_u64()
            .expect("totalResults")
    }

    /// A PatchOp body from a list of operations.
    pub fn patch_body(ops: Value) -> Value {
        serde_json::json!({"schemas": [PATCH_OP], "Operations": ops})
    }

    /// A PatchOp body of one operation `op` (`add`, `remove`) on a group's `members`, with these
    /// user ids as its values.
    pub fn members_patch<S: AsRef<str>>(op: &str, ids: &[S]) -> Value {
        let values: Vec<Value> = ids
            .iter()
            .map(|id| serde_json::json!({"value": id.as_ref()}))
            .collect();
        Self::patch_body(serde_json::json!([{"op": op, "path": "members", "value": values}]))
    }
}

/// The path of a user: `/Users/{id}`.
pub fn user_path(id: &str) -> String {
    format!("/Users/{id}")
}

/// The `value`s of a group's `members`, sorted (none when it lists no member).
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

/// A set of owned strings, to compare with the set of names a request found.
pub fn string_set(names: &[&str]) -> std::collections::BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// URL-encodes a query parameter value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
