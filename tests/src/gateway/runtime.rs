//! The Lambda service for one function: its bootstrap runs as processes that speak the Lambda
//! Runtime API to a loopback server of this module, one invocation at a time each. An
//! invocation waits in a queue until a process asks for the next event; when every process is
//! busy or starting and the queue grows, another process starts, up to a bound, so concurrent
//! requests overlap as they do across Lambda sandboxes. Processes stay warm until the pool is
//! dropped, which kills them.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// How an invocation ended other than with the function's answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeError {
    /// The handler returned an error (`/runtime/invocation/{id}/error`): type and message.
    #[error("the function failed: {0} {1}")]
    Function(String, String),
    #[error("the function did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the function's answer is not JSON: {0}")]
    Malformed(String),
    #[error("the function could not start: {0}")]
    Start(String),
}

impl InvokeError {
    /// The error type a handler reported (`Unauthorized` from the authorizer).
    pub fn function_error_type(&self) -> Option<&str> {
        match self {
            InvokeError::Function(t, _) => Some(t),
            _ => None,
        }
    }
}

/// What a function process is started with.
#[derive(Debug, Clone)]
pub struct Launch {
    pub name: String,
    pub bootstrap: PathBuf,
    /// The function's environment (template.yaml) plus what Lambda sets in a sandbox.
    pub environment: BTreeMap<String, String>,
    pub function_arn: String,
    pub timeout: Duration,
    /// Most processes at once.
    pub max_processes: usize,
    /// Where the processes' stdout and stderr go (appended).
    pub log: PathBuf,
}

type Reply = oneshot::Sender<Result<Bytes, InvokeError>>;

struct Invocation {
    id: String,
    event: Bytes,
    reply: Reply,
}

struct Shared {
    launch: Launch,
    runtime_api: String,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    in_flight: Mutex<HashMap<String, Reply>>,
    queued: AtomicUsize,
    idle: AtomicUsize,
    starting: AtomicUsize,
    children: Mutex<Vec<tokio::process::Child>>,
    init_error: Mutex<Option<String>>,
    invocations: AtomicUsize,
}

/// One function's processes and runtime API.
pub struct Pool {
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Invocation>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("function", &self.shared.launch.name)
            .field("runtime_api", &self.shared.runtime_api)
            .finish()
    }
}

impl Pool {
    /// Starts the runtime API of a function; processes start on the first invocations.
    pub async fn start(launch: Launch) -> std::io::Result<Pool> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let runtime_api = listener.local_addr()?.to_string();
        let (queue, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            launch,
            runtime_api,
            queue: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::default(),
            queued: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            starting: AtomicUsize::new(0),
            children: Mutex::default(),
            init_error: Mutex::default(),
            invocations: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Pool {
            shared,
            queue,
            server,
        })
    }

    /// Invokes the function with an event and waits for its answer, at most its timeout.
    pub async fn invoke(&self, event: &Value) -> Result<Value, InvokeError> {
        let s = &self.shared;
        if let Some(e) = s.init_error.lock().ok().and_then(|e| e.clone()) {
            return Err(InvokeError::Start(e));
        }
        let n = s.invocations.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), n);
        let (reply, answer) = oneshot::channel();
        let queued = s.queued.fetch_add(1, Ordering::SeqCst) + 1;
        let ready = s.idle.load(Ordering::SeqCst) + s.starting.load(Ordering::SeqCst);
        if queued > ready {
            self.spawn()?;
        }
        let invocation = Invocation {
            id: id.clone(),
            event: Bytes::from(event.to_string()),
            reply,
        };
        if self.queue.send(invocation).is_err() {
            return Err(InvokeError::Start("the pool is stopped".into()));
        }
        let answer = tokio::time::timeout(s.launch.timeout, answer).await;
        let bytes = match answer {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => return Err(InvokeError::Start("the function process ended".into())),
            Err(_) => {
                if let Ok(mut m) = s.in_flight.lock() {
                    m.remove(&id);
                }
                return Err(InvokeError::Timeout(s.launch.timeout));
            }
        };
        serde_json::from_slice(&bytes).map_err(|e| {
            InvokeError::Malformed(format!("{e}: {}", String::from_utf8_lossy(&bytes)))
        })
    }

    /// Starts one more process unless the pool is at its bound.
    fn spawn(&self) -> Result<(), InvokeError> {
        let s = &self.shared;
        let mut children = s
            .children
            .lock()
            .map_err(|_| InvokeError::Start("lock".into()))?;
        children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        if children.len() >= s.launch.max_processes {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&s.launch.log)
            .map_err(|e| InvokeError::Start(format!("{}: {e}", s.launch.log.display())))?;
        let err_log = log
            .try_clone()
            .map_err(|e| InvokeError::Start(e.to_string()))?;
        let child = tokio::process::Command::new(&s.launch.bootstrap)
            .env_clear()
            .envs(&s.launch.environment)
            .env("AWS_LAMBDA_RUNTIME_API", &s.runtime_api)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| InvokeError::Start(format!("{}: {e}", s.launch.bootstrap.display())))?;
        s.starting.fetch_add(1, Ordering::SeqCst);
        children.push(child);
        Ok(())
    }

    /// How many processes have started so far (alive or not).
    pub fn processes(&self) -> usize {
        self.shared.children.lock().map(|c| c.len()).unwrap_or(0)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.server.abort();
        if let Ok(mut children) = self.shared.children.lock() {
            for c in children.iter_mut() {
                let _ = c.start_kill();
            }
        }
    }
}

/// Counts a process as idle while it waits for an event, however the wait ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    // A process's first `/next` ends its start (counted by the pool, not per process).
    let _ = s
        .starting
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    s.idle.fetch_add(1, Ordering::SeqCst);
    let waiting = Waiting(&s.idle);
    let invocation = s.queue.lock().await.recv().await;
    drop(waiting);
    let Some(inv) = invocation else {
        return StatusCode::GONE.into_response();
    };
    s.queued.fetch_sub(1, Ordering::SeqCst);
    let deadline = (SystemTime::now() + s.launch.timeout)
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis().to_string())
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put("content-type", "application/json");
    put("lambda-runtime-aws-request-id", &inv.id);
    put("lambda-runtime-deadline-ms", &deadline);
    put(
        "lambda-runtime-invoked-function-arn",
        &s.launch.function_arn,
    );
    put(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0",
    );
    if let Ok(mut m) = s.in_flight.lock() {
        m.insert(inv.id, inv.reply);
    }
    (StatusCode::OK, headers, inv.event).into_response()
}

fn finish(s: &Shared, id: &str, result: Result<Bytes, InvokeError>) -> StatusCode {
    let reply = s.in_flight.lock().ok().and_then(|mut m| m.remove(id));
    match reply {
        Some(r) => {
            let _ = r.send(result);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&s, &id, Ok(body))
}

async fn error(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    finish(
        &s,
        &id,
        Err(InvokeError::Function(
            text("errorType"),
            text("errorMessage"),
        )),
    )
}

async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    if let Ok(mut e) = s.init_error.lock() {
        *e = Some(String::from_utf8_lossy(&body).to_string());
    }
    StatusCode::ACCEPTED
}
