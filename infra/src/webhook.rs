//! Webhook delivery for `scimctl serve`: each request's events, once stored in the outbox, are
//! handed to a background task that POSTs them, one event per request and in order, to the
//! tenant's webhook, signed (see [`scim_shared::events::webhook`]), retrying with exponential backoff.
//! The SCIM response never waits: [`WebhookSink::publish`] only queues.

use std::sync::Arc;
use std::time::Duration;

use scim_shared::events::Retry;
use scim_shared::events::lifecycle::Event;
use scim_shared::events::outbox::EventSink;
use scim_shared::events::publish::{PublishError, Publisher};
use scim_shared::events::webhook::{self, EVENT_ID_HEADER, SIGNATURE_HEADER, Webhook};
use scim_shared::store::Store;
use tokio::sync::{Semaphore, mpsc};

/// Batches (one per request) waiting for the dispatcher; beyond this, new batches are dropped
/// from delivery (they stay in the outbox) and a warning is logged.
const QUEUE: usize = 10_000;
/// Deliveries in flight at once.
const CONCURRENCY: usize = 64;

/// Why one delivery attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the webhook could not be reached: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the webhook answered {0}")]
    Status(u16),
}

/// The HTTP client for deliveries: HTTP or HTTPS (rustls, the platform's certificate
/// verifier), short timeouts.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// One signed POST of one event; any 2xx is success.
pub async fn deliver(
    client: &reqwest::Client,
    hook: &Webhook,
    event: &Event,
) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(event).unwrap_or_default();
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let response = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header(
            SIGNATURE_HEADER,
            webhook::sign(&hook.secret, timestamp, &body),
        )
        .header(EVENT_ID_HEADER, &event.id)
        .body(body)
        .send()
        .await?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status(status.as_u16()))
    }
}

/// Delivers one event, retrying with backoff; `Err` with the last failure when every attempt
/// failed.
pub async fn deliver_with_retries(
    client: &reqwest::Client,
    hook: &Webhook,
    event: &Event,
    retry: Retry,
) -> Result<(), DeliveryError> {
    let mut attempt = 1;
    loop {
        match deliver(client, hook, event).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= retry.attempts => return Err(e),
            Err(e) => {
                tracing::debug!(event = %event.id, attempt, error = %e, "webhook retry");
                tokio::time::sleep(retry.delay(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// The [`Publisher`] that republishes events locally (the management API's `events/republish`):
/// each event POSTed to its tenant's webhook, in order; after a failed one, the later ones are
/// not sent (the retry sends them after it, keeping the order).
#[derive(Debug, Clone)]
pub struct WebhookPublisher {
    store: Arc<dyn Store>,
    client: reqwest::Client,
}

impl WebhookPublisher {
    pub fn new(store: Arc<dyn Store>) -> Self {
        WebhookPublisher {
            store,
            client: client(),
        }
    }
}

#[async_trait::async_trait]
impl Publisher for WebhookPublisher {
    async fn put(&self, events: &[Event]) -> Result<Vec<Result<(), String>>, PublishError> {
        let mut hooks: Vec<(String, Option<Webhook>)> = Vec::new();
        let mut out = Vec::with_capacity(events.len());
        let mut failed = false;
        for event in events {
            if failed {
                out.push(Err(
                    "not sent: an earlier event was not delivered".to_string()
                ));
                continue;
            }
            if !hooks.iter().any(|(t, _)| *t == event.tenant) {
                let hook = webhook::get(&*self.store, &event.tenant)
                    .await
                    .map_err(|e| PublishError::Call(e.to_string()))?;
                hooks.push((event.tenant.clone(), hook));
            }
            let hook = hooks
                .iter()
                .find(|(t, _)| *t == event.tenant)
                .and_then(|(_, h)| h.as_ref());
            let result = match hook {
                None => Err(format!("tenant '{}' has no webhook", event.tenant)),
                Some(hook) => deliver(&self.client, hook, event)
                    .await
                    .map_err(|e| e.to_string()),
            };
            failed = result.is_err();
            out.push(result);
        }
        Ok(out)
    }
}

/// The [`EventSink`] of `scimctl serve`: queues each request's events for the dispatcher.
#[derive(Debug)]
pub struct WebhookSink {
    queue: mpsc::Sender<(String, Vec<Event>)>,
}

impl WebhookSink {
    /// Starts the dispatcher on the current Tokio runtime.
    pub fn spawn(store: Arc<dyn Store>, retry: Retry) -> Arc<WebhookSink> {
        let (queue, batches) = mpsc::channel(QUEUE);
        tokio::spawn(dispatch(store, client(), retry, batches));
        Arc::new(WebhookSink { queue })
    }
}

impl EventSink for WebhookSink {
    fn publish(&self, tenant: &str, events: Vec<Event>) {
        if self.queue.try_send((tenant.to_string(), events)).is_err() {
            tracing::warn!(tenant, "webhook queue full: events kept in the outbox only");
        }
    }
}

/// Receives batches and delivers each in its own task (at most [`CONCURRENCY`] at once), the
/// events of one batch in order.
async fn dispatch(
    store: Arc<dyn Store>,
    client: reqwest::Client,
    retry: Retry,
    mut batches: mpsc::Receiver<(String, Vec<Event>)>,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    while let Some((tenant, events)) = batches.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (store, client) = (store.clone(), client.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let hook = match webhook::get(&*store, &tenant).await {
                Ok(Some(hook)) => hook,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(tenant, error = %e, "webhook settings not readable");
                    return;
                }
            };
            for event in &events {
                if let Err(e) = deliver_with_retries(&client, &hook, event, retry).await {
                    tracing::warn!(
                        tenant,
                        event = %event.id,
                        error = %e,
                        "webhook delivery failed after retries; the event stays in the outbox"
                    );
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without TLS in the build, an https URL is refused before any connection is tried
    /// ("scheme is not http"); with it, the client connects: here to a closed port of the
    /// loopback interface, which refuses the connection.
    #[tokio::test]
    async fn the_delivery_client_speaks_https() {
        let err = client()
            .post("https://127.0.0.1:1/hook")
            .send()
            .await
            .expect_err("nothing listens on port 1");
        let mut cause: Option<&dyn std::error::Error> = Some(&err);
        let mut refused = false;
        while let Some(e) = cause {
            refused |= e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
            cause = e.source();
        }
        assert!(refused, "{err:?}");
    }
}
