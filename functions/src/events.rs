//! The events function: batches of the table's DynamoDB stream (only outbox inserts reach it,
//! by the event source mapping's filter) become lifecycle events on the stack's EventBridge
//! bus. The delivery rules (order, at most once per stream record, which records to retry) are
//! `scim_shared::events::stream`'s; this module translates Lambda's stream event into its records, its
//! report into `batchItemFailures`, and publishes with PutEvents ([`EventBridge`]).

use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::primitives::{DateTime, DateTimeFormat};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use scim_shared::events::Retry;
use scim_shared::events::lifecycle::Event;
use scim_shared::events::publish::{self, PublishError, Publisher};
use scim_shared::events::stream::{self, Action, Record};
use scim_shared::store::{Key, Store};
use serde_json::Value;

/// The environment variable naming the EventBridge bus (its name or ARN).
pub const EVENT_BUS_ENV: &str = "EVENT_BUS_NAME";

/// Retries of entries PutEvents did not accept, within one invocation; beyond them the
/// records are reported as failures and Lambda delivers them again.
pub const STREAM_RETRY: Retry = Retry {
    attempts: 3,
    first_delay: Duration::from_millis(100),
    max_delay: Duration::from_millis(400),
};

/// Publishes to an EventBridge bus with PutEvents.
#[derive(Debug, Clone)]
pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridge {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        EventBridge {
            client,
            bus: bus.into(),
        }
    }

    fn entry(&self, event: &Event) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(publish::SOURCE)
            .detail_type(event.kind.as_str())
            .detail(publish::detail(event))
            .set_time(DateTime::from_str(&event.time, DateTimeFormat::DateTime).ok())
            .build()
    }
}

#[async_trait]
impl Publisher for EventBridge {
    async fn put(&self, events: &[Event]) -> Result<Vec<Result<(), String>>, PublishError> {
        let out = self
            .client
            .put_events()
            .set_entries(Some(events.iter().map(|e| self.entry(e)).collect()))
            .send()
            .await
            .map_err(|e| PublishError::Call(DisplayErrorContext(e).to_string()))?;
        if out.failed_entry_count() == 0 {
            return Ok(vec![Ok(()); events.len()]);
        }
        // Entries answer the request's entries one to one; a failed one has an error code.
        let entries = out.entries();
        Ok((0..events.len())
            .map(|i| match entries.get(i) {
                Some(e) if e.error_code().is_none() => Ok(()),
                Some(e) => Err(format!(
                    "{}: {}",
                    e.error_code().unwrap_or_default(),
                    e.error_message().unwrap_or_default()
                )),
                None => Err("PutEvents returned no result for the entry".into()),
            })
            .collect())
    }
}

/// A string attribute of a stream image (`{"pk": {"S": "..."}}`).
fn string_attribute(image: &Value, name: &str) -> Option<String> {
    image
        .get(name)
        .and_then(|v| v.get("S"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The consumer's view of one stream record: its id, action, key and body.
pub fn record(r: &EventRecord) -> Record {
    let keys = serde_json::to_value(&r.change.keys).unwrap_or_default();
    let image = serde_json::to_value(&r.change.new_image).unwrap_or_default();
    Record {
        id: r.event_id.clone(),
        action: Action::parse(&r.event_name),
        key: Key::new(
            string_attribute(&keys, "pk").unwrap_or_default(),
            string_attribute(&keys, "sk").unwrap_or_default(),
        ),
        body: string_attribute(&image, "b"),
    }
}

/// Handles one stream batch: publishes its outbox events and answers the records to retry
/// (`ReportBatchItemFailures`).
pub async fn handle(
    store: &dyn Store,
    publisher: &dyn Publisher,
    event: &StreamEvent,
    retry: Retry,
) -> DynamoDbEventResponse {
    let records: Vec<Record> = event.records.iter().map(record).collect();
    let report = stream::deliver(store, publisher, &records, retry).await;
    tracing::info!(
        records = records.len(),
        published = report.published,
        duplicates = report.duplicates,
        ignored = report.ignored,
        dropped = report.dropped,
        retried = report.failed.len(),
        "stream batch"
    );
    // Lambda names a failed record by its sequence number (`itemIdentifier`) and checkpoints
    // before the first one; the report names records by their eventID.
    let sequence_of = |id: &str| {
        event
            .records
            .iter()
            .find(|r| r.event_id == id)
            .and_then(|r| r.change.sequence_number.clone())
    };
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = report
        .failed
        .iter()
        .map(|id| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence_of(id);
            failure
        })
        .collect();
    response
}
