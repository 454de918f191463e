//! The event source mapping of the table's stream, as Lambda runs it: it reads the stream with
//! the consuming function's role (through that function's IAM-checked endpoint), keeps the
//! records that pass the mapping's filter patterns, and invokes the function with batches of at
//! most `BatchSize` records in stream order. A batch whose answer names failed items is sent
//! again from the first failed record; a batch that keeps failing past `MaximumRetryAttempts`
//! goes to the on-failure list (the SQS queue on AWS).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::AwsJson;
use super::runtime::Pool;
use super::template::StreamMapping;

/// How often the stream is read when it had nothing new.
const POLL: Duration = Duration::from_millis(100);

/// What the mapping has done, for tests and the end-of-run summary.
#[derive(Debug, Default, Clone)]
pub struct StreamStats {
    /// Records that passed the filter and were delivered (answered without failure).
    pub delivered: usize,
    /// Batches the function answered with failures or an error, retried.
    pub retried: usize,
    /// Records given up on (the on-failure destination on AWS).
    pub dead_letters: Vec<Value>,
    /// Errors reading the stream (an IAM denial among them).
    pub read_errors: Vec<String>,
}

/// EventBridge-style pattern matching on a stream record: every key of the pattern must be in
/// the record; a list matches when one of its values (or `{"prefix": ...}`) matches.
pub fn matches(pattern: &Value, value: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(k, p)| value.get(k).is_some_and(|v| matches(p, v))),
        Value::Array(options) => options.iter().any(|o| match o {
            Value::Object(rule) => match rule.get("prefix").and_then(Value::as_str) {
                Some(prefix) => value.as_str().is_some_and(|v| v.starts_with(prefix)),
                None => false,
            },
            literal => literal == value,
        }),
        literal => literal == value,
    }
}

/// Where the mapping is in one shard.
#[derive(Debug, Default)]
struct Shard {
    iterator: Option<String>,
    /// The sequence number of the last record read.
    last: Option<String>,
    /// The shard ended (no next iterator).
    closed: bool,
}

/// Runs the mapping until the task is aborted.
pub async fn run(
    mapping: StreamMapping,
    stream_arn: String,
    aws: AwsJson,
    function: Arc<Pool>,
    stats: Arc<Mutex<StreamStats>>,
) {
    let region = aws.region.clone();
    let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
    let mut pending: Vec<Value> = Vec::new();
    let note_error = |e: String| {
        if let Ok(mut s) = stats.lock() {
            s.read_errors.push(e);
        }
    };
    loop {
        let mut read_any = false;
        match aws
            .call(
                "DynamoDBStreams_20120810.DescribeStream",
                &json!({"StreamArn": stream_arn}),
            )
            .await
        {
            Ok(d) => {
                for shard in d["StreamDescription"]["Shards"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    if let Some(id) = shard["ShardId"].as_str() {
                        shards.entry(id.to_string()).or_default();
                    }
                }
            }
            Err(e) => note_error(e),
        }
        for (id, shard) in shards.iter_mut().filter(|(_, s)| !s.closed) {
            if shard.iterator.is_none() {
                // From the oldest record, or after the last one read when the iterator was lost.
                let position = match &shard.last {
                    Some(seq) => json!({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                                        "SequenceNumber": seq}),
                    None => json!({"ShardIteratorType": "TRIM_HORIZON"}),
                };
                let mut request = json!({"StreamArn": stream_arn, "ShardId": id});
                if let (Some(r), Some(p)) = (request.as_object_mut(), position.as_object()) {
                    r.extend(p.clone());
                }
                match aws
                    .call("DynamoDBStreams_20120810.GetShardIterator", &request)
                    .await
                {
                    Ok(it) => shard.iterator = it["ShardIterator"].as_str().map(str::to_string),
                    Err(e) => note_error(e),
                }
            }
            let Some(current) = shard.iterator.clone() else {
                continue;
            };
            match aws
                .call(
                    "DynamoDBStreams_20120810.GetRecords",
                    &json!({"ShardIterator": current, "Limit": 1000}),
                )
                .await
            {
                Ok(r) => {
                    for record in r["Records"].as_array().into_iter().flatten() {
                        read_any = true;
                        let mut record = record.clone();
                        shard.last = record["dynamodb"]["SequenceNumber"]
                            .as_str()
                            .map(str::to_string);
                        record["eventSourceARN"] = json!(stream_arn);
                        record["awsRegion"] = json!(region);
                        if mapping.filters.is_empty()
                            || mapping.filters.iter().any(|f| matches(f, &record))
                        {
                            pending.push(record);
                        }
                    }
                    shard.iterator = r["NextShardIterator"].as_str().map(str::to_string);
                    shard.closed = shard.iterator.is_none();
                }
                // An iterator that expired or points before the oldest record (DynamoDB Local's
                // TRIM_HORIZON on a shard that was empty) is taken again, as Lambda does.
                Err(e)
                    if e.contains("TrimmedDataAccessException")
                        || e.contains("ExpiredIteratorException") =>
                {
                    shard.iterator = None;
                }
                Err(e) => note_error(e),
            }
        }
        while !pending.is_empty() {
            let n = pending.len().min(mapping.batch_size.max(1));
            let batch: Vec<Value> = pending.drain(..n).collect();
            deliver(&mapping, &function, batch, &stats).await;
        }
        if !read_any {
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Delivers one batch, retrying from the first failed record.
async fn deliver(
    mapping: &StreamMapping,
    function: &Pool,
    mut batch: Vec<Value>,
    stats: &Mutex<StreamStats>,
) {
    let mut attempts = 0;
    while !batch.is_empty() {
        let answer = function.invoke(&json!({"Records": batch})).await;
        let failed_from = match &answer {
            Ok(a) => {
                // Each itemIdentifier must be the SequenceNumber of a record of the batch; any
                // other value fails the whole batch on AWS, and is a problem of the run here.
                let positions: Vec<Option<usize>> = a["batchItemFailures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| {
                        let id = f["itemIdentifier"].as_str()?;
                        batch
                            .iter()
                            .position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(id))
                    })
                    .collect();
                if positions.iter().any(Option::is_none) {
                    if let Ok(mut s) = stats.lock() {
                        s.read_errors.push(format!(
                            "batchItemFailures names records not in the batch by their \
                             SequenceNumber: {}",
                            a["batchItemFailures"]
                        ));
                    }
                    Some(0)
                } else {
                    positions.into_iter().flatten().min()
                }
            }
            Err(_) => Some(0),
        };
        {
            let Ok(mut s) = stats.lock() else { return };
            match failed_from {
                None => {
                    s.delivered += batch.len();
                    return;
                }
                Some(i) => {
                    s.delivered += i;
                    batch.drain(..i);
                    attempts += 1;
                    if attempts > mapping.max_retries {
                        s.dead_letters.append(&mut batch);
                        return;
                    }
                    s.retried += 1;
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_filter_passes_outbox_inserts_only() {
        let pattern = json!({"eventName": ["INSERT"],
            "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "EVT#"}]}}}});
        let record = |name: &str, sk: &str| json!({"eventName": name, "dynamodb": {"Keys": {"pk": {"S": "T#a#EVT"}, "sk": {"S": sk}}}});
        assert!(matches(&pattern, &record("INSERT", "EVT#0001")));
        assert!(!matches(&pattern, &record("MODIFY", "EVT#0001")));
        assert!(!matches(&pattern, &record("INSERT", "#")));
        assert!(!matches(&pattern, &json!({"eventName": "INSERT"})));
    }
}
