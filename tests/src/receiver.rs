//! A webhook receiver on a loopback port for tests and measurements: it checks nothing itself
//! and hands every delivery attempt (arrival time, headers, body, its answer) to a channel,
//! answering 500 to the first `fail_first` attempts so that retries can be observed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::{mpsc, oneshot};

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub at: Instant,
    pub signature: Option<String>,
    pub event_id: Option<String>,
    pub body: Bytes,
    /// The status the receiver answered (500 for the first `fail_first` attempts, else 204).
    pub answered: u16,
}

#[derive(Debug, Clone)]
struct ReceiverState {
    deliveries: mpsc::UnboundedSender<Delivery>,
    fail_first: usize,
    seen: Arc<AtomicUsize>,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    /// The URL to register as the webhook.
    pub url: String,
    pub deliveries: mpsc::UnboundedReceiver<Delivery>,
    stop: Option<oneshot::Sender<()>>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let (tx, deliveries) = mpsc::unbounded_channel();
        let state = ReceiverState {
            deliveries: tx,
            fail_first,
            seen: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new().fallback(receive).with_state(state);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            deliveries,
            stop: Some(stop),
        }
    }

    /// The next delivery, or a panic after `secs` seconds.
    pub async fn next(&mut self, secs: u64) -> Delivery {
        tokio::time::timeout(std::time::Duration::from_secs(secs), self.deliveries.recv())
            .await
            .expect("a delivery in time")
            .expect("receiver running")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let n = state.seen.fetch_add(1, Ordering::SeqCst);
    let status = if n < state.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let _ = state.deliveries.send(Delivery {
        at,
        signature: header("x-scim-signature"),
        event_id: header("x-scim-event-id"),
        body,
        answered: status.as_u16(),
    });
    status
}
