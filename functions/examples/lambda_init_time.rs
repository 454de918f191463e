//! Measures each function's bootstrap: its size, and the time from process start to its first
//! `/next` call (initialisation done) and to its first handled event, against a loopback stub of
//! the Lambda runtime API that also answers DynamoDB calls with empty results. Prints a Markdown
//! table (docs/lambda.md).
//!
//! ```sh
//! cargo lambda build --release                        # the deploy profile -> target/lambda/<bin>/bootstrap
//! cargo run -p scim-functions --example lambda_init_time -- target/lambda
//! cargo run -p scim-functions --example lambda_init_time -- .aws-sam/build   # after `sam build`
//! ```
//!
//! Each function gets the event of its fixture: tests/data/apigw for the API's functions,
//! tests/data/streams for the events function (whose PutEvents and marker writes the stub
//! accepts). Every run starts a fresh process; the table shows the median of `RUNS` runs. A
//! function that calls the network before its first `/next` (initialisation must not) or never
//! answers fails the run.

#[path = "../tests/it/support/http.rs"]
mod http;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use scim_functions::{
    AUTHORIZER_BINARY, EMERGENCY_LOGOUT_BINARY, EVENTS_BINARY, Function, MANAGEMENT_BINARIES,
};
use tokio::net::TcpListener;

const RUNS: usize = 5;
const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
const SOME_ID: &str = "0190c0de-0000-7000-8000-000000000001";

/// What the stub saw of one process.
#[derive(Debug, Default)]
struct Seen {
    first_next: Option<Instant>,
    answered: Option<(Instant, String)>,
    init_error: Option<String>,
    /// Requests other than the runtime API's before the first `/next`: network calls in init.
    calls_in_init: usize,
}

#[derive(Debug)]
struct Measure {
    init: Duration,
    first_event: Duration,
    outcome: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/lambda"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("repository root")?
        .to_path_buf();
    let mut bootstraps: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("bootstrap").is_file())
        .filter_map(|e| {
            let name = binary_name(&e.file_name().to_string_lossy())?;
            let known = Function::by_binary(&name).is_some()
                || [AUTHORIZER_BINARY, EVENTS_BINARY, EMERGENCY_LOGOUT_BINARY]
                    .contains(&name.as_str())
                || MANAGEMENT_BINARIES.contains(&name.as_str());
            known.then(|| (name, e.path().join("bootstrap")))
        })
        .collect();
    bootstraps.sort();
    if bootstraps.is_empty() {
        bail!("no <function>/bootstrap under {}", dir.display());
    }
    println!(
        "| function | bootstrap size | init (process start → first /next) | first event handled | first answer |"
    );
    println!("|---|---:|---:|---:|---|");
    let mut worst = (0u64, Duration::ZERO);
    for (name, bootstrap) in &bootstraps {
        let size = std::fs::metadata(bootstrap)?.len();
        let event = event_of(&root, name)?;
        let mut runs = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            runs.push(measure(bootstrap, name, &event).await?);
        }
        let median = |f: fn(&Measure) -> Duration| {
            let mut v: Vec<Duration> = runs.iter().map(f).collect();
            v.sort();
            v[v.len() / 2]
        };
        let (init, first) = (median(|m| m.init), median(|m| m.first_event));
        worst = (worst.0.max(size), worst.1.max(first));
        println!(
            "| {name} | {:.2} MB ({size} B) | {:.1} ms | {:.1} ms | {} |",
            size as f64 / 1e6,
            init.as_secs_f64() * 1e3,
            first.as_secs_f64() * 1e3,
            runs[0].outcome
        );
    }
    println!(
        "\nlargest bootstrap {:.2} MB, slowest first event {:.1} ms (median of {RUNS} runs each; MB = 10^6 bytes)",
        worst.0 as f64 / 1e6,
        worst.1.as_secs_f64() * 1e3
    );
    Ok(())
}

/// `create_user` from `create_user` (cargo lambda) or `CreateUserFunction` (sam build).
fn binary_name(dir: &str) -> Option<String> {
    let Some(logical) = dir.strip_suffix("Function") else {
        return Some(dir.to_string());
    };
    let mut out = String::new();
    for (i, c) in logical.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    Some(out)
}

/// The event a function is timed with: its fixture from tests/data/apigw (or streams).
fn event_of(root: &Path, binary: &str) -> Result<String> {
    let data = root.join("tests/data/apigw");
    // The management functions: a request of their concern, from the IAM proxy event template.
    let management_route = match binary {
        "manage_tenants" => Some(("GET", "/admin/v1/tenants")),
        "manage_directory" => Some(("GET", "/admin/v1/tenants/acme/users")),
        "manage_activity" => Some(("GET", "/admin/v1/tenants/acme/events")),
        "manage_republish" => Some(("POST", "/admin/v1/tenants/acme/events/republish")),
        _ => None,
    };
    if let Some((method, route)) = management_route {
        let file = data.join("manage/request.json");
        let text = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
        return Ok(text
            .replace("{{resource}}", route)
            .replace("{{path}}", route)
            .replace("{{method}}", method));
    }
    let file = match binary {
        "authorizer" => data.join("authorizer/request.json"),
        "events" => root.join("tests/data/streams/outbox-inserts.json"),
        "emergency_logout" => data.join("admin/emergency_logout.json"),
        "discovery" => data.join("discovery.service-provider-config.json"),
        "search" => data.join("search.root.json"),
        "oauth_token" => data.join("oauth/token.json"),
        other => data.join(format!("{other}.json")),
    };
    let text = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
    Ok(text
        .replace("{{authorization}}", "Bearer scim_timing-token-not-issued")
        .replace("{{client_id}}", "acme.timing-client-not-created")
        .replace("{{client_secret}}", "scimcs_timing-secret")
        .replace("{{user1}}", SOME_ID)
        .replace("{{user2}}", SOME_ID)
        .replace("{{group1}}", SOME_ID))
}

/// Starts the bootstrap against a fresh stub and times its first event.
async fn measure(bootstrap: &Path, name: &str, event: &str) -> Result<Measure> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stub = tokio::spawn(serve(listener, seen.clone(), event.to_string()));
    let home = std::env::temp_dir().join("lambda-init-time-home");
    std::fs::create_dir_all(&home)?;
    let started = Instant::now();
    let child = std::process::Command::new(bootstrap)
        .env_clear()
        .env("HOME", &home)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/scim/{name}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/02/03/[$LATEST]0000")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "ASIASTUBSTUBSTUBSTUB")
        .env("AWS_SECRET_ACCESS_KEY", "stub")
        .env("AWS_SESSION_TOKEN", "stub")
        .env("AWS_ENDPOINT_URL", format!("http://{addr}"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TABLE_NAME", "scim")
        .env(
            "EVENT_BUS_NAME",
            "arn:aws:events:eu-west-1:123456789012:event-bus/scim-scim-lifecycle",
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bootstrap.display()))?;
    let mut child = Child(child);
    let deadline = started + Duration::from_secs(10);
    loop {
        {
            let s = seen.lock().map_err(|_| anyhow::anyhow!("lock"))?;
            if let Some(e) = &s.init_error {
                bail!("{name}: init error: {e}");
            }
            if s.calls_in_init > 0 {
                bail!(
                    "{name} made {} network calls before it was ready",
                    s.calls_in_init
                );
            }
            if let (Some(next), Some((answered, outcome))) = (s.first_next, &s.answered) {
                let m = Measure {
                    init: next - started,
                    first_event: *answered - started,
                    outcome: outcome.clone(),
                };
                stub.abort();
                return Ok(m);
            }
        }
        if let Some(status) = child.0.try_wait()? {
            let mut err = String::new();
            if let Some(mut e) = child.0.stderr.take() {
                use std::io::Read;
                e.read_to_string(&mut err)?;
            }
            bail!("{name} exited ({status}) before answering: {err}");
        }
        if Instant::now() > deadline {
            bail!("{name} did not answer within 10 s");
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// The bootstrap process, stopped (by its handle) when the measurement ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The runtime API (first `/next` gets the event, later ones wait) and DynamoDB (`{}`).
async fn serve(listener: TcpListener, seen: Arc<Mutex<Seen>>, event: String) {
    let mut served = false;
    while let Ok((mut socket, _)) = listener.accept().await {
        let Ok(Some(req)) = http::read_request(&mut socket).await else {
            continue;
        };
        let now = Instant::now();
        let path = req.path.as_str();
        if path.ends_with("/runtime/invocation/next") {
            if served {
                // The function is waiting for its second event: leave it waiting.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    drop(socket);
                });
                continue;
            }
            served = true;
            if let Ok(mut s) = seen.lock() {
                s.first_next.get_or_insert(now);
            }
            let deadline = (std::time::SystemTime::now() + Duration::from_secs(10))
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis().to_string())
                .unwrap_or_default();
            let headers = [
                ("content-type", "application/json"),
                ("lambda-runtime-aws-request-id", REQUEST_ID),
                ("lambda-runtime-deadline-ms", deadline.as_str()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:eu-west-1:123456789012:function:scim",
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700",
                ),
            ];
            let _ = http::respond(&mut socket, 200, &headers, event.as_bytes()).await;
        } else if path.contains("/runtime/invocation/") {
            let outcome = if path.ends_with("/error") {
                format!("error {}", String::from_utf8_lossy(&req.body))
            } else {
                let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
                match body["batchItemFailures"].as_array() {
                    Some(failures) => format!("batchItemFailures {}", failures.len()),
                    None => format!("statusCode {}", body["statusCode"]),
                }
            };
            if let Ok(mut s) = seen.lock() {
                s.answered.get_or_insert((now, outcome));
            }
            let _ = http::respond(&mut socket, 202, &[], b"").await;
        } else if path.contains("/runtime/init/error") {
            if let Ok(mut s) = seen.lock() {
                s.init_error = Some(String::from_utf8_lossy(&req.body).to_string());
            }
            let _ = http::respond(&mut socket, 202, &[], b"").await;
        } else {
            if let Ok(mut s) = seen.lock()
                && s.first_next.is_none()
            {
                s.calls_in_init += 1;
            }
            // DynamoDB: nothing stored; EventBridge: every entry accepted.
            let json = [("content-type", "application/x-amz-json-1.0")];
            let _ = http::respond(&mut socket, 200, &json, b"{}").await;
        }
    }
}
