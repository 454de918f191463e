//! The events function as a specification: DynamoDB stream batches (tests/data/streams/*.json,
//! as Lambda delivers them) go through `scim_functions::events::handle` to an in-memory bus.
//! Publication markers live in a fresh store of the selected backend (`SCIM_TEST_BACKEND`):
//! the embedded store, or a table on DynamoDB Local.

use crate::support;

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use scim_functions::emergency::EmergencyLogout;
use scim_functions::events::{self, record};
use scim_shared::events::lifecycle::Event;
use scim_shared::events::publish;
use scim_shared::events::stream::{self, MARKER_TTL_SECONDS};
use scim_shared::ops::Limits;
use scim_shared::protocol::clock;
use scim_shared::protocol::http::{Method, ScimRequest};
use scim_shared::service::Service;
use scim_shared::store::keys;
use scim_shared::store::{Index, Item, Query, Store};
use scim_shared::tenant;
use scim_tests::{GROUP_SCHEMA, USER_SCHEMA, fresh_store};
use serde_json::{Value, json};
use support::bus::{Bus, NO_WAIT};
use support::{Recording, TABLE, at, lines, render, str_at};

fn fixture(name: &str) -> StreamEvent {
    let path = support::repo_root().join("tests/data/streams").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not a stream event: {e}"))
}

/// The batch Lambda sends again from the `n`-th record on.
fn from(event: &StreamEvent, n: usize) -> StreamEvent {
    let mut again = event.clone();
    again.records = event.records[n..].to_vec();
    again
}

/// The events the outbox items of a batch hold, in order.
fn outbox_events(event: &StreamEvent) -> Vec<Value> {
    event
        .records
        .iter()
        .map(record)
        .filter_map(|r| stream::events_of(&r).ok())
        .flatten()
        .map(|e| serde_json::to_value(e).expect("JSON"))
        .collect()
}

fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

/// The records' sequence numbers: what `batchItemFailures` names (`itemIdentifier`), so that
/// Lambda checkpoints before the first failed record.
fn sequence_numbers(event: &StreamEvent) -> Vec<String> {
    event
        .records
        .iter()
        .map(|r| r.change.sequence_number.clone().expect("a sequence number"))
        .collect()
}

#[tokio::test]
async fn a_batch_of_outbox_inserts_is_published_in_order_ten_entries_per_call() {
    let store = fresh_store().await;
    let bus = Bus::default();
    let batch = fixture("outbox-inserts.json");
    let response = events::handle(&*store, &bus, &batch, NO_WAIT).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(bus.calls(), [10, 3]);
    let entries = bus.entries();
    let details: Vec<Value> = entries.iter().map(|e| e.detail.clone()).collect();
    assert_eq!(
        details,
        outbox_events(&batch),
        "details are the events, in order"
    );
    for e in &entries {
        assert_eq!(e.source, publish::SOURCE);
        assert_eq!(Some(e.detail_type.as_str()), e.detail["type"].as_str());
    }
    let kinds: Vec<&str> = entries.iter().map(|e| e.detail_type.as_str()).collect();
    assert_eq!(
        kinds[..3],
        ["joiner", "group.created", "group.members_added"]
    );
    assert!(kinds[3..].iter().all(|k| *k == "mover"));
}

#[tokio::test]
async fn resource_items_audit_records_markers_counters_ttl_removals_and_delivered_events_are_ignored()
 {
    let store = fresh_store().await;
    let bus = Bus::default();
    let batch = fixture("mixed-records.json");
    let response = events::handle(&*store, &bus, &batch, NO_WAIT).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    let kinds: Vec<String> = bus.entries().into_iter().map(|e| e.detail_type).collect();
    assert_eq!(kinds, ["rehire"], "only the outbox insert is published");
    assert!(
        bus.entries()
            .iter()
            .all(|e| e.detail["emergency"].is_null()),
        "the emergency leaver (stored as delivered, EVD#) is not published again"
    );
}

#[tokio::test]
async fn a_redelivered_batch_whole_or_bisected_publishes_nothing_twice() {
    let store = fresh_store().await;
    let bus = Bus::default();
    let batch = fixture("outbox-inserts.json");
    events::handle(&*store, &bus, &batch, NO_WAIT).await;
    let first = bus.ids();
    let again = events::handle(&*store, &bus, &batch, NO_WAIT).await;
    assert!(failures(&again).is_empty());
    let mut halves = from(&batch, 0);
    halves.records.truncate(6);
    events::handle(&*store, &bus, &halves, NO_WAIT).await;
    events::handle(&*store, &bus, &from(&batch, 6), NO_WAIT).await;
    assert_eq!(bus.ids(), first, "redeliveries published nothing");
    assert_eq!(bus.calls(), [10, 3], "not even a call");
    let unique: BTreeSet<String> = first.iter().cloned().collect();
    assert_eq!(unique.len(), batch.records.len());
}

#[tokio::test]
async fn a_refused_record_is_reported_with_every_later_one_and_the_retry_publishes_only_the_rest() {
    let store = fresh_store().await;
    let bus = Bus::default();
    let batch = fixture("outbox-inserts.json");
    let events = outbox_events(&batch);
    let refused = events[4]["id"].as_str().expect("id");
    bus.refuse(refused);

    let response = events::handle(&*store, &bus, &batch, NO_WAIT).await;
    let ids = sequence_numbers(&batch);
    assert_eq!(
        failures(&response),
        ids[4..],
        "the refused record and every later one"
    );
    let published: Vec<String> = bus.ids();
    let expected_first: Vec<String> = [&events[..4], &events[5..10]]
        .concat()
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(
        published, expected_first,
        "the rest of the refused record's call went out; the next call did not"
    );
    assert_eq!(
        bus.calls(),
        [10, 1, 1],
        "the refused entry alone, retried twice"
    );

    // Lambda delivers the batch again from the reported record on.
    bus.accept_all();
    let retry = events::handle(&*store, &bus, &from(&batch, 4), NO_WAIT).await;
    assert!(failures(&retry).is_empty(), "{retry:?}");
    let second: Vec<String> = bus.ids()[published.len()..].to_vec();
    let expected_second: Vec<String> = [&events[4..5], &events[10..]]
        .concat()
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(second, expected_second, "only what was not published");
    let all: BTreeSet<String> = bus.ids().into_iter().collect();
    assert_eq!(all.len(), events.len(), "every event once");
}

#[tokio::test]
async fn a_request_item_is_published_whole_and_marked_only_when_all_its_events_are_out() {
    let store = fresh_store().await;
    let bus = Bus::default();
    // One item per request: the first holds 1 event, the second 12.
    let batch = fixture("request-items.json");
    let events = outbox_events(&batch);
    assert_eq!((batch.records.len(), events.len()), (2, 13));
    bus.refuse(events[4]["id"].as_str().expect("id"));

    let response = events::handle(&*store, &bus, &batch, NO_WAIT).await;
    let ids = sequence_numbers(&batch);
    assert_eq!(failures(&response), ids[1..], "the half-published request");
    // Delivered again: the second request's events all go out (some a second time, with the
    // same ids), the first request's not at all.
    bus.accept_all();
    let before = bus.ids().len();
    let retry = events::handle(&*store, &bus, &batch, NO_WAIT).await;
    assert!(failures(&retry).is_empty(), "{retry:?}");
    let second: Vec<String> = bus.ids()[before..].to_vec();
    let expected: Vec<String> = events[1..]
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(second, expected);
    let again = events::handle(&*store, &bus, &batch, NO_WAIT).await;
    assert!(failures(&again).is_empty());
    assert_eq!(
        bus.ids().len(),
        before + 12,
        "both requests marked: nothing twice"
    );
}

#[tokio::test]
async fn a_failed_call_reports_the_whole_batch_and_publishes_nothing() {
    let store = fresh_store().await;
    let bus = Bus::default();
    let batch = fixture("outbox-inserts.json");
    bus.go_down();
    let response = events::handle(&*store, &bus, &batch, NO_WAIT).await;
    assert_eq!(failures(&response), sequence_numbers(&batch));
    assert!(bus.ids().is_empty());
    bus.accept_all();
    let retry = events::handle(&*store, &bus, &batch, NO_WAIT).await;
    assert!(failures(&retry).is_empty());
    assert_eq!(bus.ids().len(), batch.records.len());
}

#[tokio::test]
async fn a_published_record_leaves_a_marker_that_outlives_the_stream() {
    let store = fresh_store().await;
    let bus = Bus::default();
    let batch = fixture("mixed-records.json");
    events::handle(&*store, &bus, &batch, NO_WAIT).await;
    let published: Vec<&str> = batch
        .records
        .iter()
        .filter(|r| stream::events_of(&record(r)).is_ok())
        .map(|r| r.event_id.as_str())
        .collect();
    assert_eq!(published.len(), 1);
    let marker = store
        .get(&keys::published(published[0]))
        .await
        .expect("get")
        .expect("the marker");
    let expires = marker.expires_at.expect("a TTL");
    let ttl = expires - clock::now().unix_timestamp();
    assert!(
        ttl > 24 * 3600 && ttl <= MARKER_TTL_SECONDS,
        "expires in {ttl} s"
    );
    for r in &batch.records {
        if !published.contains(&r.event_id.as_str()) {
            let other = store.get(&keys::published(&r.event_id)).await.expect("get");
            assert!(other.is_none(), "no marker for an ignored record");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// From the SCIM functions' writes to the bus

/// A stream batch of the INSERTs of these items, as the table's stream would carry them.
fn inserts(items: &[Item]) -> StreamEvent {
    let records: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(n, i)| {
            json!({
                "eventID": format!("{:032x}", 0xfeed_0000_u64 + n as u64),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-west-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1795424522,
                    "Keys": {"pk": {"S": i.key.pk}, "sk": {"S": i.key.sk}},
                    "NewImage": {"pk": {"S": i.key.pk}, "sk": {"S": i.key.sk}, "v": {"N": "0"},
                                 "b": {"S": i.body}, "ttl": {"N": i.expires_at.unwrap_or_default().to_string()}},
                    "SequenceNumber": format!("{}", 4_200_000_000_000_u64 + n as u64),
                    "SizeBytes": i.body.len() + 100,
                    "StreamViewType": "NEW_IMAGE"
                },
                "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/scim/stream/2026-11-20T08:41:17.512"
            })
        })
        .collect();
    serde_json::from_value(json!({"Records": records})).expect("a stream event")
}

/// Every item of `acme`'s outbox partitions of today (and of the day a test started, if the
/// date changed meanwhile), in key order.
async fn outbox_items(store: &dyn Store, days: &[String]) -> Vec<Item> {
    let mut out = Vec::new();
    for day in days {
        let q = Query::new(Index::Primary, keys::outbox("acme", day), "", 1000);
        out.extend(store.query(&q).await.expect("query").items);
    }
    out
}

async fn create(service: &Service, path: &str, body: Value) -> (String, Vec<Event>) {
    let mut req = ScimRequest::new(Method::Post, path, "https://x/scim/v2");
    req.body = body.to_string().into_bytes();
    let out = service.handle("acme", &req).await;
    assert_eq!(out.response.status, 201, "{:?}", out.response.body);
    let id = out
        .response
        .body
        .as_ref()
        .and_then(|b| b["id"].as_str())
        .expect("id");
    (id.to_string(), out.events)
}

#[tokio::test]
async fn scim_requests_events_reach_the_bus_as_the_service_computed_them_and_an_emergency_logout_once()
 {
    let store = fresh_store().await;
    tenant::create_tenant(&*store, "acme")
        .await
        .expect("tenant");
    let first_day = clock::day(clock::now());
    // As the Lambda functions build it: outbox on, no sink.
    let service = Arc::new(Service::new(store.clone(), Limits::default()));
    let (user, mut computed) = create(
        &service,
        "/Users",
        json!({"schemas": [USER_SCHEMA], "userName": "alice@example.com", "title": "Guide"}),
    )
    .await;
    let (_, group_events) = create(
        &service,
        "/Groups",
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Guides", "members": [{"value": user}]}),
    )
    .await;
    computed.extend(group_events);
    let sync_bus = Arc::new(Bus::default());
    let logout = EmergencyLogout::new(service.clone(), sync_bus.clone(), NO_WAIT);
    let report = logout.logout("acme", &user).await.expect("logout");
    assert_eq!(report.event_bridge, "published");
    assert_eq!(sync_bus.ids(), std::slice::from_ref(&report.event.id));

    let days: BTreeSet<String> = [first_day, clock::day(clock::now())].into_iter().collect();
    let items = outbox_items(&*store, &days.into_iter().collect::<Vec<_>>()).await;
    assert_eq!(
        items.len(),
        3,
        "one outbox item per request: two creates, one logout"
    );
    let stream_bus = Bus::default();
    let response = events::handle(&*store, &stream_bus, &inserts(&items), NO_WAIT).await;
    assert!(failures(&response).is_empty());
    let expected: Vec<Value> = computed
        .iter()
        .map(|e| serde_json::to_value(e).expect("JSON"))
        .collect();
    let details: Vec<Value> = stream_bus.entries().into_iter().map(|e| e.detail).collect();
    assert_eq!(
        details, expected,
        "the stream publishes what the service computed, in order, and not the emergency leaver"
    );
}

// ---------------------------------------------------------------------------------------------
// template.yaml: what the function may do, and which records reach it

#[tokio::test]
async fn the_events_function_is_granted_exactly_what_it_uses() {
    let recording = Recording::new(fresh_store().await);
    let bus = Bus::default();
    let batch = fixture("outbox-inserts.json");
    events::handle(&recording, &bus, &batch, NO_WAIT).await;
    events::handle(&recording, &bus, &batch, NO_WAIT).await;
    events::handle(&recording, &bus, &fixture("mixed-records.json"), NO_WAIT).await;
    let used = recording.take();

    let template = support::template();
    let granted = support::granted(&template, scim_functions::EVENTS_BINARY);
    let on_table: BTreeSet<_> = granted
        .iter()
        .filter(|(_, r)| r == TABLE)
        .cloned()
        .collect();
    assert_eq!(
        on_table,
        used,
        "table actions granted:\n{}\nused:\n{}",
        lines(&on_table),
        lines(&used)
    );
    let others: BTreeSet<(&str, &str)> = granted
        .iter()
        .filter(|(_, r)| r != TABLE)
        .map(|(a, r)| (a.as_str(), r.as_str()))
        .collect();
    let stream = "${Table.StreamArn}";
    assert_eq!(
        others,
        BTreeSet::from([
            ("dynamodb:DescribeStream", stream),
            ("dynamodb:GetRecords", stream),
            ("dynamodb:GetShardIterator", stream),
            ("dynamodb:ListStreams", "${Table.Arn}/stream/*"),
            ("events:PutEvents", "${EventBus.Arn}"),
            ("sqs:SendMessage", "${EventsFailureQueue.Arn}"),
        ])
    );
    // The table statement is limited to the markers' partitions.
    let f = support::function(&template, scim_functions::EVENTS_BINARY);
    let statements = at(f, &["Properties", "Policies"])
        .and_then(|p| p.as_sequence())
        .and_then(|p| p.first())
        .and_then(|p| at(p, &["Statement"]))
        .and_then(|s| s.as_sequence())
        .expect("statements");
    let table = statements
        .iter()
        .find(|s| at(s, &["Resource"]).map(render).as_deref() == Some(TABLE))
        .expect("the table statement");
    let leading = at(
        table,
        &[
            "Condition",
            "ForAllValues:StringLike",
            "dynamodb:LeadingKeys",
        ],
    )
    .and_then(|v| v.as_sequence())
    .map(|v| v.iter().map(render).collect::<Vec<_>>());
    assert_eq!(leading, Some(vec![format!("{}*", keys::PUBLISHED_PREFIX)]));
}

/// Whether a record matches a Lambda event filter pattern: every key of the pattern must
/// match; a list matches when one of its values does (a string equal, or `{"prefix": p}`).
fn matches(pattern: &Value, value: &Value) -> bool {
    match pattern {
        Value::Object(p) => p
            .iter()
            .all(|(k, sub)| value.get(k).is_some_and(|v| matches(sub, v))),
        Value::Array(options) => options.iter().any(|o| match o {
            Value::Object(op) => match (op.get("prefix"), value.as_str()) {
                (Some(Value::String(prefix)), Some(v)) => v.starts_with(prefix.as_str()),
                _ => false,
            },
            other => other == value,
        }),
        other => other == value,
    }
}

#[test]
fn the_stream_filter_lets_exactly_the_outbox_inserts_through() {
    let template = support::template();
    let mapping = at(&template, &["Resources", "EventsStream"]).expect("EventsStream");
    let filters = at(mapping, &["Properties", "FilterCriteria", "Filters"])
        .and_then(|f| f.as_sequence())
        .expect("filters");
    assert_eq!(filters.len(), 1);
    let pattern: Value =
        serde_json::from_str(str_at(&filters[0], &["Pattern"]).expect("Pattern")).expect("JSON");
    let mut seen = (0, 0);
    for name in ["outbox-inserts.json", "mixed-records.json"] {
        let path = support::repo_root().join("tests/data/streams").join(name);
        let raw: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON");
        let parsed = fixture(name);
        for (json, r) in raw["Records"]
            .as_array()
            .expect("Records")
            .iter()
            .zip(&parsed.records)
        {
            let through = matches(&pattern, json);
            let carries = stream::events_of(&record(r)).is_ok();
            assert_eq!(through, carries, "{name} {}: {json}", r.event_id);
            if through {
                seen.0 += 1;
            } else {
                seen.1 += 1;
            }
        }
    }
    assert_eq!(seen, (14, 6), "(let through, kept out)");
}

#[test]
fn the_stream_mapping_retries_bisects_reports_item_failures_and_keeps_what_it_gives_up() {
    let template = support::template();
    let p = at(&template, &["Resources", "EventsStream", "Properties"]).expect("EventsStream");
    let get = |k: &str| at(p, &[k]).map(render);
    assert_eq!(
        str_at(&template, &["Resources", "EventsStream", "Type"]),
        Some("AWS::Lambda::EventSourceMapping")
    );
    assert_eq!(get("EventSourceArn").as_deref(), Some("${Table.StreamArn}"));
    assert_eq!(get("FunctionName").as_deref(), Some("${EventsFunction}"));
    assert_eq!(get("BisectBatchOnFunctionError").as_deref(), Some("true"));
    let batch: usize = get("BatchSize")
        .expect("BatchSize")
        .parse()
        .expect("a number");
    assert!(
        batch <= scim_shared::store::MAX_BATCH_GET,
        "one BatchGetItem reads a batch's markers"
    );
    for k in [
        "MaximumBatchingWindowInSeconds",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
    ] {
        assert!(get(k).is_some(), "{k}");
    }
    let age: i64 = get("MaximumRecordAgeInSeconds")
        .expect("age")
        .parse()
        .expect("n");
    assert!(age <= MARKER_TTL_SECONDS, "markers outlive every retry");
    assert_eq!(
        support::strings(at(p, &["FunctionResponseTypes"])),
        ["ReportBatchItemFailures"]
    );
    assert_eq!(
        at(p, &["DestinationConfig", "OnFailure", "Destination"])
            .map(render)
            .as_deref(),
        Some("${EventsFailureQueue.Arn}")
    );
    let f = support::function(&template, scim_functions::EVENTS_BINARY);
    assert_eq!(
        at(
            f,
            &[
                "Properties",
                "Environment",
                "Variables",
                scim_functions::EVENT_BUS_ENV
            ]
        )
        .map(render)
        .as_deref(),
        Some("${EventBus.Arn}")
    );
    assert!(
        at(f, &["Properties", "Events"]).is_none(),
        "the mapping is explicit (a SAM Stream event would attach a managed policy on every stream)"
    );
    assert_eq!(
        str_at(&template, &["Resources", "EventBus", "Type"]),
        Some("AWS::Events::EventBus")
    );
    assert_eq!(
        str_at(&template, &["Resources", "EventsFailureQueue", "Type"]),
        Some("AWS::SQS::Queue")
    );
    assert_eq!(
        str_at(
            &template,
            &[
                "Resources",
                "Table",
                "Properties",
                "StreamSpecification",
                "StreamViewType"
            ]
        ),
        Some("NEW_IMAGE")
    );
}
