//! A local API Gateway (REST API) for the real Lambda bootstraps, driven by template.yaml: the
//! deployed shape of the service on one machine, without Docker or an AWS account.
//!
//! - **Routes, authorizer, gateway responses** come from template.yaml ([`template`]). A
//!   request is matched against the stage's resources, authorised by the REQUEST authorizer
//!   function (identity source headers, answer cached per identity for the template's TTL,
//!   policy evaluated against the method ARN) or, on `AWS_IAM` routes, by its SigV4 signature
//!   ([`sigv4`]), and becomes the REST proxy event API Gateway builds (stage prefix, percent-
//!   encoded `path`, decoded query strings and path parameters, multi-value headers and query
//!   strings, `requestContext.authorizer` from the authorizer's context, base64 bodies when
//!   asked). The function's answer maps back to HTTP; API Gateway's own answers use the
//!   template's gateway responses.
//! - **Functions** are the bootstraps `cargo lambda build` makes, run as processes that speak
//!   the Lambda Runtime API ([`runtime`]), with the environment the template gives them.
//! - **IAM at the table**: each function reaches AWS through an endpoint that checks every call
//!   against its role's statements ([`iam`]) before DynamoDB Local sees it; a refusal is an
//!   AccessDeniedException to the function and a [`Denial`] the run reports.
//! - **Events**: the stream's event source mapping ([`stream`]) feeds the events function,
//!   whose PutEvents reach an EventBridge stand-in ([`bus`]).

pub mod bus;
pub mod iam;
pub mod runtime;
pub mod sigv4;
pub mod stream;
pub mod template;
pub mod waf;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

pub use bus::Bus;
pub use iam::Denial;
use runtime::{InvokeError, Launch, Pool};
pub use sigv4::Caller;
pub use stream::StreamStats;
use template::{Route, RouteAuth, Stack};

/// The largest request body API Gateway accepts (10 MB).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("DynamoDB Local: {0}")]
    DynamoDb(String),
    #[error("no bootstrap for {binary} at {path} (build them with `cargo lambda build`)")]
    NoBootstrap { binary: String, path: String },
}

/// What the gateway serves and where it finds it.
#[derive(Debug, Clone)]
pub struct Config {
    pub template: PathBuf,
    /// A folder with `<binary>/bootstrap` for every function (`target/lambda`).
    pub bootstraps: PathBuf,
    /// DynamoDB Local's endpoint.
    pub dynamodb: String,
    /// The table (it must exist, with its stream).
    pub table: String,
    pub region: String,
    /// The credentials every function gets, as Lambda gives a role's (DynamoDB Local keeps one
    /// database per access key and region).
    pub access_key: String,
    pub secret_key: String,
    /// The identity `AWS_IAM` routes accept.
    pub caller: Caller,
    /// Template parameters that replace their defaults.
    pub parameters: BTreeMap<String, String>,
    /// Where each function's output goes (`<binary>.log`).
    pub logs: PathBuf,
    /// Most processes per function.
    pub max_processes: usize,
    /// Send every body base64-encoded (`isBase64Encoded`), as API Gateway does for binary media
    /// types.
    pub base64_bodies: bool,
    /// The loopback port (0: any free one).
    pub port: u16,
    /// Variables every function gets beside the template's (a test's setting, such as
    /// `SCIM_ALLOW_LOOPBACK_JWKS` for a key server on loopback; a stack sets them in
    /// `Environment`).
    pub environment: BTreeMap<String, String>,
}

impl Config {
    /// The defaults of a local run: the repository's template.yaml, credentials `local`.
    pub fn new(bootstraps: PathBuf, dynamodb: String, table: String) -> Config {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        Config {
            template: root.join("template.yaml"),
            bootstraps,
            dynamodb,
            logs: std::env::temp_dir().join(format!("local-gateway-{table}")),
            table,
            region: "us-east-1".into(),
            access_key: "local".into(),
            secret_key: "local".into(),
            caller: Caller {
                access_key: "AKIALOCALOPERATOR".into(),
                secret_key: "local-operator-secret".into(),
                arn: "arn:aws:iam::123456789012:user/local-operator".into(),
                region: "us-east-1".into(),
            },
            parameters: BTreeMap::new(),
            max_processes: 4,
            base64_bodies: false,
            port: 0,
            environment: BTreeMap::new(),
        }
    }
}

const ACCOUNT: &str = "123456789012";
const API_ID: &str = "localapi01";
const STACK: &str = "scim";

/// Calls an AWS JSON API (DynamoDB, DynamoDB Streams) with a SigV4-shaped Authorization header
/// that names the access key and region (DynamoDB Local reads them to pick its database and
/// checks no signature).
#[derive(Debug, Clone)]
pub struct AwsJson {
    pub http: reqwest::Client,
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
}

impl AwsJson {
    pub async fn call(&self, target: &str, body: &Value) -> Result<Value, String> {
        let now = time::OffsetDateTime::now_utc();
        let format = time::macros::format_description!("[year][month][day]");
        let day = now.format(format).map_err(|e| e.to_string())?;
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{day}/{}/dynamodb/aws4_request, SignedHeaders=host;x-amz-target, Signature=0",
            self.access_key, self.region
        );
        let r = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", target)
            .header("authorization", authorization)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| format!("{target}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{target}: {status} {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{target}: {e}"))
    }
}

/// A running gateway; everything it started stops when it is dropped.
#[derive(Debug)]
pub struct Gateway {
    /// `http://127.0.0.1:<port>`.
    pub root: String,
    pub stage: String,
    pub bus: Arc<Bus>,
    denials: Arc<Mutex<Vec<Denial>>>,
    stream: Arc<Mutex<StreamStats>>,
    front: Arc<Front>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What the front door needs per request.
#[derive(Debug)]
struct Front {
    stack: Stack,
    /// The web ACL in front of the stage, when the stack has one.
    waf: Option<waf::RateLimiter>,
    pools: BTreeMap<String, Arc<Pool>>,
    config: Config,
    /// The port the gateway listens on (`X-Forwarded-Port`).
    port: u16,
    cache: Mutex<BTreeMap<String, (Instant, Value)>>,
    requests: AtomicU64,
    /// Invocations that ended in a function error, a timeout or a malformed answer.
    function_errors: Mutex<Vec<String>>,
}

impl Gateway {
    /// Reads the template, starts the functions' runtime APIs and IAM endpoints, the stream's
    /// mapping and the front door.
    pub async fn start(config: Config) -> Result<Gateway, GatewayError> {
        std::fs::create_dir_all(&config.logs)?;
        let http = reqwest::Client::new();
        let table = AwsJson {
            http: http.clone(),
            endpoint: config.dynamodb.clone(),
            region: config.region.clone(),
            access_key: config.access_key.clone(),
        }
        .call(
            "DynamoDB_20120810.DescribeTable",
            &json!({"TableName": config.table}),
        )
        .await
        .map_err(GatewayError::DynamoDb)?;
        let stream_arn = table["Table"]["LatestStreamArn"]
            .as_str()
            .ok_or_else(|| GatewayError::DynamoDb(format!("{} has no stream", config.table)))?
            .to_string();
        let local = template::Local {
            stack: STACK.into(),
            region: config.region.clone(),
            account: ACCOUNT.into(),
            api_id: API_ID.into(),
            table: config.table.clone(),
            stream_arn: stream_arn.clone(),
            parameters: config.parameters.clone(),
        };
        let stack = template::load(&config.template, &local)?;
        let arns = iam::Arns {
            region: config.region.clone(),
            account: ACCOUNT.into(),
            stream: stream_arn.clone(),
        };
        let bus = Arc::new(Bus::default());
        let denials: Arc<Mutex<Vec<Denial>>> = Arc::default();
        let mut tasks = Vec::new();
        let mut pools = BTreeMap::new();
        let mut endpoints = BTreeMap::new();
        for (binary, f) in &stack.functions {
            let bootstrap = config.bootstraps.join(binary).join("bootstrap");
            if !bootstrap.is_file() {
                return Err(GatewayError::NoBootstrap {
                    binary: binary.clone(),
                    path: bootstrap.display().to_string(),
                });
            }
            let (endpoint, task) = iam::Endpoint {
                function: binary.clone(),
                statements: f.statements.clone(),
                arns: arns.clone(),
                dynamodb: config.dynamodb.clone(),
                http: http.clone(),
                bus: bus.clone(),
                denials: denials.clone(),
            }
            .serve()
            .await?;
            tasks.push(task);
            let mut environment = f.environment.clone();
            environment.extend(config.environment.clone());
            let name = format!("{STACK}-{}", f.logical_id);
            for (k, v) in [
                ("AWS_REGION", config.region.as_str()),
                ("AWS_DEFAULT_REGION", config.region.as_str()),
                ("AWS_ACCESS_KEY_ID", config.access_key.as_str()),
                ("AWS_SECRET_ACCESS_KEY", config.secret_key.as_str()),
                ("AWS_SESSION_TOKEN", "local-session"),
                ("AWS_ENDPOINT_URL", endpoint.as_str()),
                ("AWS_EC2_METADATA_DISABLED", "true"),
                ("AWS_LAMBDA_FUNCTION_NAME", name.as_str()),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
                ("AWS_LAMBDA_LOG_STREAM_NAME", "local"),
                ("TZ", ":UTC"),
            ] {
                environment.insert(k.to_string(), v.to_string());
            }
            environment.insert(
                "AWS_LAMBDA_LOG_GROUP_NAME".into(),
                format!("/aws/lambda/{STACK}/{binary}"),
            );
            let pool = Pool::start(Launch {
                name: binary.clone(),
                bootstrap,
                environment,
                function_arn: format!("arn:aws:lambda:{}:{ACCOUNT}:function:{name}", config.region),
                timeout: f.timeout,
                max_processes: config.max_processes,
                log: config.logs.join(format!("{binary}.log")),
            })
            .await?;
            pools.insert(binary.clone(), Arc::new(pool));
            endpoints.insert(binary.clone(), endpoint);
        }
        let stream = Arc::new(Mutex::new(StreamStats::default()));
        if let Some(mapping) = stack.stream.clone()
            && let (Some(pool), Some(endpoint)) =
                (pools.get(&mapping.binary), endpoints.get(&mapping.binary))
        {
            let aws = AwsJson {
                http: http.clone(),
                endpoint: endpoint.clone(),
                region: config.region.clone(),
                access_key: config.access_key.clone(),
            };
            tasks.push(tokio::spawn(stream::run(
                mapping,
                stream_arn,
                aws,
                pool.clone(),
                stream.clone(),
            )));
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let address = listener.local_addr()?;
        let root = format!("http://{address}");
        let stage = stack.stage.clone();
        let front = Arc::new(Front {
            waf: stack.rate_rule.clone().map(waf::RateLimiter::new),
            stack,
            pools,
            config,
            port: address.port(),
            cache: Mutex::default(),
            requests: AtomicU64::new(0),
            function_errors: Mutex::default(),
        });
        let app = Router::new().fallback(serve).with_state(front.clone());
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
        Ok(Gateway {
            root,
            stage,
            bus,
            denials,
            stream,
            front,
            tasks,
        })
    }

    /// The Tenant URL: `http://127.0.0.1:<port>/<stage>/scim/v2`.
    pub fn tenant_url(&self) -> String {
        format!("{}/{}/scim/v2", self.root, self.stage)
    }

    /// Requests the web ACL blocked so far.
    pub fn waf_blocked(&self) -> u64 {
        self.front.waf.as_ref().map_or(0, waf::RateLimiter::blocked)
    }

    /// The calls IAM refused so far.
    pub fn denials(&self) -> Vec<Denial> {
        self.denials.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// What the stream's mapping has done so far.
    pub fn stream_stats(&self) -> StreamStats {
        self.stream.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Invocations that failed (function error, timeout, malformed answer) so far.
    pub fn function_errors(&self) -> Vec<String> {
        self.front
            .function_errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// Requests served so far and processes started per function.
    pub fn usage(&self) -> (u64, BTreeMap<String, usize>) {
        let processes = self
            .front
            .pools
            .iter()
            .map(|(b, p)| (b.clone(), p.processes()))
            .collect();
        (self.front.requests.load(Ordering::Relaxed), processes)
    }

    /// Where the functions' output is.
    pub fn logs(&self) -> &std::path::Path {
        &self.front.config.logs
    }

    /// The stream records given up on so far (the on-failure destination's), no longer counted
    /// as problems: for a test that redrives them.
    pub fn take_dead_letters(&self) -> Vec<Value> {
        self.stream
            .lock()
            .map(|mut s| std::mem::take(&mut s.dead_letters))
            .unwrap_or_default()
    }

    /// Everything that would fail on AWS or lose data: IAM denials, failed invocations, stream
    /// read errors and records given up on. Empty when the run was clean.
    pub fn problems(&self) -> Vec<String> {
        let stats = self.stream_stats();
        let mut out: Vec<String> = self
            .denials()
            .iter()
            .map(|d| format!("IAM denied: {d}"))
            .collect();
        out.extend(self.function_errors());
        out.extend(stats.read_errors.iter().map(|e| format!("stream: {e}")));
        out.extend(
            stats
                .dead_letters
                .iter()
                .map(|r| format!("stream record given up on: {}", r["eventID"])),
        );
        out
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One request as API Gateway sees it before the integration.
struct Incoming<'a> {
    method: String,
    /// The path after the stage, as the client sent it (percent-encoded).
    path: String,
    query: Option<String>,
    headers: &'a HeaderMap,
    body: Bytes,
    route: &'a Route,
    path_parameters: BTreeMap<String, String>,
    request_id: String,
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().to_string()
}

/// The route of a method and path: literal segments win over `{parameters}`, and a method of
/// its own over `ANY`. `None` when no resource has the path or the resource has no such method
/// (API Gateway answers both alike).
fn route<'a>(
    stack: &'a Stack,
    method: &str,
    path: &str,
) -> Option<(&'a Route, BTreeMap<String, String>)> {
    let segments: Vec<String> = path.split('/').skip(1).map(decode).collect();
    let mut best: Option<(usize, &Route, BTreeMap<String, String>)> = None;
    // A method of its own wins over the resource's ANY.
    for r in stack
        .routes
        .iter()
        .filter(|r| r.method == method || r.method == "ANY")
    {
        let pattern: Vec<&str> = r.path.split('/').skip(1).collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut params = BTreeMap::new();
        let mut literal = 0;
        let fits = pattern.iter().zip(&segments).all(|(p, s)| {
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !s.is_empty() => {
                    params.insert(name.to_string(), s.clone());
                    true
                }
                Some(_) => false,
                None => {
                    literal += 1;
                    p == s
                }
            }
        });
        let rank = 2 * literal + usize::from(r.method == method);
        if fits && best.as_ref().is_none_or(|(l, _, _)| rank > *l) {
            best = Some((rank, r, params));
        }
    }
    best.map(|(_, r, p)| (r, p))
}

/// Header names and values, single and multi-value, as API Gateway passes them.
fn header_maps(headers: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).to_string();
        single.insert(name.to_string(), json!(value));
        match multi.get_mut(name.as_str()).and_then(Value::as_array_mut) {
            Some(list) => list.push(json!(value)),
            None => {
                multi.insert(name.to_string(), json!([value]));
            }
        }
    }
    (single, multi)
}

/// Query string parameters, percent-decoded (a `+` stays a `+`, as on a REST API).
fn query_maps(query: Option<&str>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        single.insert(k.clone(), json!(v));
        match multi.get_mut(&k).and_then(Value::as_array_mut) {
            Some(list) => list.push(json!(v)),
            None => {
                multi.insert(k, json!([v]));
            }
        }
    }
    if single.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::Object(single), Value::Object(multi))
    }
}

impl Front {
    fn method_arn(&self, incoming: &Incoming<'_>) -> String {
        format!(
            "arn:aws:execute-api:{}:{ACCOUNT}:{API_ID}/{}/{}{}",
            self.config.region, self.stack.stage, incoming.method, incoming.path
        )
    }

    /// The proxy event's fields other than `body` and the authorizer's context.
    fn event(&self, incoming: &Incoming<'_>, identity: Value) -> Value {
        // What API Gateway adds to the client's headers; the scheme is this gateway's own.
        let mut forwarded = incoming.headers.clone();
        for (name, value) in [
            ("x-forwarded-for", "127.0.0.1".to_string()),
            ("x-forwarded-proto", "http".to_string()),
            ("x-forwarded-port", self.port.to_string()),
            ("x-amzn-trace-id", format!("Root=1-{}", incoming.request_id)),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                forwarded.insert(name, v);
            }
        }
        let (headers, multi_headers) = header_maps(&forwarded);
        let (query, multi_query) = query_maps(incoming.query.as_deref());
        let host = incoming
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let now = time::OffsetDateTime::now_utc();
        let path_parameters = if incoming.path_parameters.is_empty() {
            Value::Null
        } else {
            json!(incoming.path_parameters)
        };
        json!({
            "resource": incoming.route.path,
            "path": incoming.path,
            "httpMethod": incoming.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": path_parameters,
            "stageVariables": null,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": incoming.route.path,
                "httpMethod": incoming.method,
                "extendedRequestId": incoming.request_id,
                "requestTime": now.to_string(),
                "path": format!("/{}{}", self.stack.stage, incoming.path),
                "accountId": ACCOUNT,
                "protocol": "HTTP/1.1",
                "stage": self.stack.stage,
                "domainPrefix": API_ID,
                "requestTimeEpoch": now.unix_timestamp() * 1000,
                "requestId": incoming.request_id,
                "identity": identity,
                "domainName": host,
                "apiId": API_ID,
            },
        })
    }

    fn identity(&self, incoming: &Incoming<'_>, caller: Option<&Caller>) -> Value {
        let agent = incoming
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok());
        json!({
            "sourceIp": "127.0.0.1",
            "userAgent": agent,
            "accessKey": caller.map(|c| c.access_key.clone()),
            "userArn": caller.map(|c| c.arn.clone()),
            "caller": caller.map(|c| c.access_key.clone()),
            "user": caller.map(|c| c.access_key.clone()),
            "accountId": caller.map(|_| ACCOUNT),
        })
    }

    /// One of API Gateway's own answers, from the template's gateway responses
    /// (`DEFAULT_4XX` / `DEFAULT_5XX` for a type the template does not list).
    fn gateway_response(&self, kind: &str, status: u16, message: &str) -> Response {
        let fallback = if status >= 500 {
            "DEFAULT_5XX"
        } else {
            "DEFAULT_4XX"
        };
        let Some(r) = self
            .stack
            .gateway_responses
            .get(kind)
            .or_else(|| self.stack.gateway_responses.get(fallback))
        else {
            return (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                json!({"message": message}).to_string(),
            )
                .into_response();
        };
        let quoted = serde_json::to_string(message).unwrap_or_default();
        let body = r.body.replace("$context.error.messageString", &quoted);
        // A listed type keeps its status; an unlisted one keeps the status of the situation.
        let status = if self.stack.gateway_responses.contains_key(kind) {
            r.status
        } else {
            status
        };
        let response = (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
            .into_response();
        with_headers(response, &r.headers)
    }

    /// The REQUEST authorizer's answer for the request's identity: from the cache, or by
    /// invoking the authorizer. `Err` is the gateway response to give.
    async fn authorize(&self, incoming: &Incoming<'_>) -> Result<Value, Response> {
        let spec = &self.stack.authorizer;
        let mut identity = Vec::new();
        for name in &spec.headers {
            match incoming
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
            {
                Some(v) if !v.is_empty() => identity.push(v.to_string()),
                _ => return Err(self.gateway_response("UNAUTHORIZED", 401, "Unauthorized")),
            }
        }
        let key = identity.join("\u{0}");
        let cached = self.cache.lock().ok().and_then(|c| {
            c.get(&key)
                .filter(|(at, _)| at.elapsed() < spec.ttl)
                .map(|(_, v)| v.clone())
        });
        let answer = match cached {
            Some(a) => a,
            None => {
                let mut event = self.event(incoming, self.identity(incoming, None));
                event["type"] = json!("REQUEST");
                event["methodArn"] = json!(self.method_arn(incoming));
                let pool = self.pools.get(&spec.binary).ok_or_else(|| {
                    self.gateway_response("AUTHORIZER_FAILURE", 500, "no authorizer")
                })?;
                match pool.invoke(&event).await {
                    Ok(a) => {
                        if !spec.ttl.is_zero()
                            && let Ok(mut c) = self.cache.lock()
                        {
                            c.insert(key, (Instant::now(), a.clone()));
                        }
                        a
                    }
                    Err(e) if e.function_error_type() == Some("Unauthorized") => {
                        return Err(self.gateway_response("UNAUTHORIZED", 401, "Unauthorized"));
                    }
                    Err(e) => {
                        self.note_error(format!("authorizer: {e}"));
                        return Err(self.gateway_response(
                            "AUTHORIZER_FAILURE",
                            500,
                            "Internal server error",
                        ));
                    }
                }
            }
        };
        let arn = self.method_arn(incoming);
        let statements: Vec<&Value> = match &answer["policyDocument"]["Statement"] {
            Value::Array(list) => list.iter().collect(),
            one => vec![one],
        };
        let matching = |effect: &str| {
            statements.iter().any(|s| {
                s["Effect"].as_str() == Some(effect)
                    && as_list(&s["Action"])
                        .iter()
                        .any(|a| iam::glob(a, "execute-api:Invoke"))
                    && as_list(&s["Resource"]).iter().any(|r| iam::glob(r, &arn))
            })
        };
        if matching("Deny") || !matching("Allow") {
            return Err(self.gateway_response(
                "ACCESS_DENIED",
                403,
                "User is not authorized to access this resource",
            ));
        }
        let mut context = answer["context"].as_object().cloned().unwrap_or_default();
        context.insert("principalId".into(), answer["principalId"].clone());
        context.insert("integrationLatency".into(), json!(0));
        Ok(Value::Object(context))
    }

    fn note_error(&self, e: String) {
        if let Ok(mut errors) = self.function_errors.lock() {
            errors.push(e);
        }
    }

    async fn handle(&self, request: Request<Body>) -> Response {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let (parts, body) = request.into_parts();
        if let Some(waf) = &self.waf {
            let key = parts
                .headers
                .get(waf.rule.header.as_str())
                .and_then(|v| v.to_str().ok());
            if waf.blocks(parts.uri.path(), key) {
                return waf_response(&waf.rule);
            }
        }
        let body = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(_) => {
                return self.gateway_response("REQUEST_TOO_LARGE", 413, "Request Too Long");
            }
        };
        let raw = parts.uri.path();
        let stage_prefix = format!("/{}", self.stack.stage);
        let path = raw
            .strip_prefix(&stage_prefix)
            .filter(|p| p.starts_with('/'))
            .map(str::to_string);
        let method = parts.method.as_str().to_string();
        let Some((route, path_parameters)) =
            path.as_deref().and_then(|p| route(&self.stack, &method, p))
        else {
            return self.gateway_response(
                "MISSING_AUTHENTICATION_TOKEN",
                403,
                "Missing Authentication Token",
            );
        };
        let n = self.requests.load(Ordering::Relaxed);
        let incoming = Incoming {
            method,
            path: path.unwrap_or_default(),
            query: parts.uri.query().map(str::to_string),
            headers: &parts.headers,
            body,
            route,
            path_parameters,
            request_id: format!("00000000-0000-4000-8000-{n:012x}"),
        };
        let (identity, authorizer) = match route.auth {
            RouteAuth::Authorizer => match self.authorize(&incoming).await {
                Ok(context) => (self.identity(&incoming, None), Some(context)),
                Err(response) => return response,
            },
            RouteAuth::Open => (self.identity(&incoming, None), None),
            RouteAuth::Iam => {
                let host = incoming
                    .headers
                    .get("host")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let url = format!("http://{host}{}", parts.uri);
                let header = |name: &str| {
                    incoming
                        .headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                match sigv4::verify(
                    &self.config.caller,
                    &incoming.method,
                    &url,
                    header,
                    &incoming.body,
                ) {
                    Ok(caller) => (self.identity(&incoming, Some(caller)), None),
                    Err(sigv4::SignatureError::Missing) => {
                        return self.gateway_response(
                            "MISSING_AUTHENTICATION_TOKEN",
                            403,
                            "Missing Authentication Token",
                        );
                    }
                    Err(e) => {
                        return self.gateway_response("INVALID_SIGNATURE", 403, &e.to_string());
                    }
                }
            }
        };
        let mut event = self.event(&incoming, identity);
        if let Some(a) = authorizer {
            event["requestContext"]["authorizer"] = a;
        }
        let body = &incoming.body;
        let text = std::str::from_utf8(body).ok();
        event["isBase64Encoded"] = json!(self.config.base64_bodies || text.is_none());
        event["body"] = match text {
            _ if body.is_empty() => Value::Null,
            Some(t) if !self.config.base64_bodies => json!(t),
            _ => json!(base64::engine::general_purpose::STANDARD.encode(body)),
        };
        let Some(pool) = self.pools.get(&route.binary) else {
            return self.gateway_response("DEFAULT_5XX", 500, "no integration");
        };
        match pool.invoke(&event).await.and_then(proxy_response) {
            Ok(mut r) => {
                if let Ok(v) = HeaderValue::from_str(&incoming.request_id) {
                    r.headers_mut().insert("x-amzn-requestid", v);
                }
                r
            }
            Err(e) => {
                self.note_error(format!("{} {}: {e}", route.binary, incoming.path));
                match e {
                    InvokeError::Timeout(_) => self.gateway_response(
                        "INTEGRATION_TIMEOUT",
                        504,
                        "Endpoint request timed out",
                    ),
                    _ => self.gateway_response("DEFAULT_5XX", 502, "Internal server error"),
                }
            }
        }
    }
}

fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The HTTP answer of a Lambda proxy response (statusCode, headers, multiValueHeaders, body,
/// isBase64Encoded); an answer without a status is malformed, as API Gateway says with a 502.
fn proxy_response(v: Value) -> Result<Response, InvokeError> {
    let status = v["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| InvokeError::Malformed(format!("no statusCode: {v}")))?;
    let body = match v["body"].as_str() {
        None => Vec::new(),
        Some(b) if v["isBase64Encoded"] == json!(true) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| InvokeError::Malformed(format!("body is not base64: {e}")))?,
        Some(b) => b.as_bytes().to_vec(),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.remove("content-type");
    let mut add = |name: &str, value: &Value| {
        if let (Ok(n), Some(Ok(v))) = (
            HeaderName::try_from(name),
            value.as_str().map(HeaderValue::from_str),
        ) {
            headers.append(n, v);
        }
    };
    if let Some(multi) = v["multiValueHeaders"].as_object() {
        for (name, values) in multi {
            for value in values.as_array().into_iter().flatten() {
                add(name, value);
            }
        }
    }
    if let Some(single) = v["headers"].as_object() {
        for (name, value) in single {
            let seen = v["multiValueHeaders"].get(name).is_some();
            if !seen {
                add(name, value);
            }
        }
    }
    Ok(response)
}

/// The web ACL rule's own answer to a request it blocks.
fn waf_response(rule: &waf::RateRule) -> Response {
    let response = (
        StatusCode::from_u16(rule.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS),
        [(axum::http::header::CONTENT_TYPE, rule.content_type.clone())],
        rule.body.clone(),
    )
        .into_response();
    with_headers(response, &rule.headers)
}

/// A response with these headers set (those that are not valid HTTP are left out).
fn with_headers(mut response: Response, headers: &[(String, String)]) -> Response {
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

async fn serve(State(front): State<Arc<Front>>, request: Request<Body>) -> Response {
    front.handle(request).await
}
