//! The DynamoDB backend: one pay-per-request table (docs/table-design.md). Attribute names are
//! short because the vendor pays for them on every item: `pk`, `sk`, `gsi1pk`, `gsi1sk`,
//! `v` (version), `n` (counter), `b` (JSON body), `ttl` (expiry, DynamoDB TTL).
//!
//! A single write is a plain conditional PutItem / DeleteItem / UpdateItem (half the cost of a
//! transaction); several writes are one TransactWriteItems. Transaction conflicts are retried with
//! capped exponential backoff and full jitter; throttling is retried by the SDK's standard retry
//! policy. A write that finally fails has written nothing.

#![warn(missing_docs)]

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
    TransactWriteItem, Update,
};

use super::{
    Condition, Index, Item, Key, Page, PageKey, Query, Store, StoreError, Write, check_batch,
    check_transaction,
};

/// Name of the global secondary index.
pub const GSI1: &str = "gsi1";
/// Name of the TTL attribute.
pub const TTL_ATTRIBUTE: &str = "ttl";
/// How many times a conflicting transaction or unprocessed batch is tried.
const MAX_ATTEMPTS: u32 = 6;
const BACKOFF_BASE_MS: u64 = 20;
const BACKOFF_CAP_MS: u64 = 1000;

type Attrs = HashMap<String, AttributeValue>;

/// The store on one DynamoDB table of the production key schema ([`create_table`]): every
/// [`Store`] call is one DynamoDB call (a batch get or a transaction may be retried for its
/// unprocessed keys or conflicts).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store for `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// A store for `table` with a client configured from the standard AWS environment
    /// (region, credentials, `AWS_ENDPOINT_URL`). Makes no network call.
    pub async fn from_env(table: impl Into<String>) -> Self {
        let config = aws_config::load_from_env().await;
        let retry = aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(5);
        let conf = aws_sdk_dynamodb::config::Builder::from(&config)
            .retry_config(retry)
            .build();
        Self::new(Client::from_conf(conf), table)
    }

    /// The DynamoDB client (for table administration).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

fn backend<E: std::fmt::Debug>(e: E) -> StoreError {
    StoreError::Backend(format!("{e:?}"))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn key_attrs(key: &Key) -> Attrs {
    HashMap::from([
        ("pk".to_string(), s(&key.pk)),
        ("sk".to_string(), s(&key.sk)),
    ])
}

fn item_attrs(item: &Item) -> Attrs {
    let mut a = key_attrs(&item.key);
    if let Some(g) = &item.gsi1 {
        a.insert("gsi1pk".into(), s(&g.pk));
        a.insert("gsi1sk".into(), s(&g.sk));
    }
    a.insert("v".into(), AttributeValue::N(item.version.to_string()));
    if item.count != 0 {
        a.insert("n".into(), AttributeValue::N(item.count.to_string()));
    }
    if !item.body.is_empty() {
        a.insert("b".into(), s(&item.body));
    }
    if let Some(t) = item.expires_at {
        a.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(t.to_string()));
    }
    a
}

/// The most bytes DynamoDB counts for the value of a number attribute: one byte per two
/// significant digits plus one, and a number has at most 38 digits. [`item_size`] counts every
/// number at this bound, so an item's size does not depend on its version or counter.
const NUMBER_BYTES: usize = 21;

/// The size of an item as DynamoDB counts it against its 400 KB limit, attribute by attribute as
/// [`item_attrs`] writes them: the UTF-8 length of the attribute's name plus its value's size, a
/// string's UTF-8 length or a number's [`NUMBER_BYTES`]. Exact for strings, an upper bound for
/// numbers: never less than DynamoDB counts.
pub fn item_size(item: &Item) -> usize {
    let string = |name: &str, value: &str| name.len() + value.len();
    let number = |name: &str| name.len() + NUMBER_BYTES;
    let mut size = string("pk", &item.key.pk) + string("sk", &item.key.sk) + number("v");
    if let Some(g) = &item.gsi1 {
        size += string("gsi1pk", &g.pk) + string("gsi1sk", &g.sk);
    }
    if item.count != 0 {
        size += number("n");
    }
    if !item.body.is_empty() {
        size += string("b", &item.body);
    }
    if item.expires_at.is_some() {
        size += number(TTL_ATTRIBUTE);
    }
    size
}

fn get_s<'a>(a: &'a Attrs, name: &str) -> Option<&'a str> {
    a.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n<T: std::str::FromStr>(a: &Attrs, name: &str) -> Option<T> {
    a.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

fn from_attrs(a: &Attrs) -> Result<Item, StoreError> {
    let pk = get_s(a, "pk").ok_or_else(|| StoreError::Backend("item without pk".into()))?;
    let sk = get_s(a, "sk").ok_or_else(|| StoreError::Backend("item without sk".into()))?;
    let gsi1 = match (get_s(a, "gsi1pk"), get_s(a, "gsi1sk")) {
        (Some(p), Some(s)) => Some(Key::new(p, s)),
        _ => None,
    };
    Ok(Item {
        key: Key::new(pk, sk),
        gsi1,
        version: get_n(a, "v").unwrap_or(0),
        count: get_n(a, "n").unwrap_or(0),
        body: get_s(a, "b").unwrap_or_default().to_string(),
        expires_at: get_n(a, TTL_ATTRIBUTE),
    })
}

/// The condition expression and its values.
fn condition_expr(c: Condition) -> Option<(String, Option<Attrs>)> {
    match c {
        Condition::None => None,
        Condition::NotExists => Some(("attribute_not_exists(pk)".into(), None)),
        Condition::Exists => Some(("attribute_exists(pk)".into(), None)),
        Condition::VersionIs(v) => Some((
            "v = :expected".into(),
            Some(HashMap::from([(
                ":expected".to_string(),
                AttributeValue::N(v.to_string()),
            )])),
        )),
    }
}

fn add_expr(delta: i64) -> (String, Attrs) {
    (
        "ADD n :delta".into(),
        HashMap::from([(":delta".to_string(), AttributeValue::N(delta.to_string()))]),
    )
}

fn transact_item(table: &str, w: &Write) -> Result<TransactWriteItem, StoreError> {
    let b = TransactWriteItem::builder();
    Ok(match w {
        Write::Put { item, condition } => {
            let (expr, values) = condition_expr(*condition).unzip();
            b.put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(item_attrs(item)))
                    .set_condition_expression(expr)
                    .set_expression_attribute_values(values.flatten())
                    .build()
                    .map_err(backend)?,
            )
            .build()
        }
        Write::Delete { key, condition } => {
            let (expr, values) = condition_expr(*condition).unzip();
            b.delete(
                Delete::builder()
                    .table_name(table)
                    .set_key(Some(key_attrs(key)))
                    .set_condition_expression(expr)
                    .set_expression_attribute_values(values.flatten())
                    .build()
                    .map_err(backend)?,
            )
            .build()
        }
        Write::Check { key, condition } => {
            let (expr, values) = condition_expr(*condition).unwrap_or_else(|| {
                (
                    "attribute_exists(pk) OR attribute_not_exists(pk)".into(),
                    None,
                )
            });
            b.condition_check(
                ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key_attrs(key)))
                    .condition_expression(expr)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(backend)?,
            )
            .build()
        }
        Write::Add { key, delta } => {
            let (expr, values) = add_expr(*delta);
            b.update(
                Update::builder()
                    .table_name(table)
                    .set_key(Some(key_attrs(key)))
                    .update_expression(expr)
                    .set_expression_attribute_values(Some(values))
                    .build()
                    .map_err(backend)?,
            )
            .build()
        }
    })
}

/// Sleeps before attempt `attempt` (1-based) of a DynamoDB call.
async fn backoff(attempt: u32) {
    super::backoff(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS).await;
}

impl DynamoStore {
    /// One write without a transaction.
    async fn write_one(&self, w: &Write) -> Result<(), StoreError> {
        match w {
            Write::Put { item, condition } => {
                let (expr, values) = condition_expr(*condition).unzip();
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item_attrs(item)))
                    .set_condition_expression(expr)
                    .set_expression_attribute_values(values.flatten())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(single_write_error)
            }
            Write::Delete { key, condition } => {
                let (expr, values) = condition_expr(*condition).unzip();
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .set_condition_expression(expr)
                    .set_expression_attribute_values(values.flatten())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(single_write_error)
            }
            Write::Add { key, delta } => {
                let (expr, values) = add_expr(*delta);
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .update_expression(expr)
                    .set_expression_attribute_values(Some(values))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| StoreError::Backend(e_str(&e)))
            }
            Write::Check { key, condition } => {
                let item = self.get(key).await?;
                let holds = match condition {
                    Condition::None => true,
                    Condition::NotExists => item.is_none(),
                    Condition::Exists => item.is_some(),
                    Condition::VersionIs(v) => item.is_some_and(|i| i.version == *v),
                };
                if holds {
                    Ok(())
                } else {
                    Err(StoreError::ConditionFailed { index: 0 })
                }
            }
        }
    }

    async fn transact_many(&self, writes: &[Write]) -> Result<(), StoreError> {
        let items = writes
            .iter()
            .map(|w| transact_item(&self.table, w))
            .collect::<Result<Vec<_>, _>>()?;
        for attempt in 1..=MAX_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let text = e_str(&err);
            let service = err.into_service_error();
            let reasons = match &service {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    c.cancellation_reasons.clone()
                }
                _ => None,
            };
            if let Some(reasons) = reasons {
                let codes: Vec<Option<String>> = reasons.into_iter().map(|r| r.code).collect();
                if let Some(index) = codes
                    .iter()
                    .position(|c| c.as_deref() == Some("ConditionalCheckFailed"))
                {
                    return Err(StoreError::ConditionFailed { index });
                }
                if codes
                    .iter()
                    .any(|c| c.as_deref() == Some("TransactionConflict"))
                {
                    if attempt < MAX_ATTEMPTS {
                        backoff(attempt).await;
                        continue;
                    }
                    return Err(StoreError::Conflict);
                }
            }
            if service.is_transaction_in_progress_exception() && attempt < MAX_ATTEMPTS {
                backoff(attempt).await;
                continue;
            }
            return Err(StoreError::Backend(text));
        }
        Err(StoreError::Conflict)
    }
}

fn e_str<E: std::fmt::Debug>(e: &E) -> String {
    format!("{e:?}")
}

/// The error of a single conditional write: a failed condition, or a backend failure.
fn single_write_error<E: ProvideErrorMetadata + std::fmt::Debug>(e: E) -> StoreError {
    if e.code() == Some("ConditionalCheckFailedException") {
        StoreError::ConditionFailed { index: 0 }
    } else {
        StoreError::Backend(e_str(&e))
    }
}

#[async_trait]
impl Store for DynamoStore {
    /// DynamoDB cancels concurrent transactions that touch the same item (`TransactionConflict`),
    /// and every create of a tenant adds to one of its [`keys::COUNTER_SHARDS`] counter shards:
    /// as many creates at a time as there are shards meet about one other create on their shard
    /// on average (retried with backoff); more would mostly add cancellations.
    ///
    /// [`keys::COUNTER_SHARDS`]: crate::store::keys::COUNTER_SHARDS
    fn concurrent_writes(&self) -> usize {
        crate::store::keys::COUNTER_SHARDS
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Backend(e_str(&e)))?;
        out.item.as_ref().map(from_attrs).transpose()
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        check_batch(keys)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys.iter().map(key_attrs).collect()))
            .consistent_read(true)
            .build()
            .map_err(backend)?;
        let mut out = Vec::with_capacity(keys.len());
        for attempt in 1..=MAX_ATTEMPTS {
            let resp = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending.clone())
                .send()
                .await
                .map_err(|e| StoreError::Backend(e_str(&e)))?;
            for a in resp
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                out.push(from_attrs(&a)?);
            }
            match resp
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
            {
                Some(rest) if !rest.keys.is_empty() => {
                    pending = rest;
                    backoff(attempt).await;
                }
                _ => return Ok(out),
            }
        }
        Err(StoreError::Backend(
            "batch get left keys unprocessed".into(),
        ))
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        check_transaction(&writes)?;
        match writes.as_slice() {
            [one] => self.write_one(one).await,
            many => self.transact_many(many).await,
        }
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let (pk_name, sk_name) = match q.index {
            Index::Primary => ("pk", "sk"),
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
        };
        let mut values = HashMap::from([(":pk".to_string(), s(&q.pk))]);
        let mut expr = format!("{pk_name} = :pk");
        if !q.sk_prefix.is_empty() {
            expr.push_str(&format!(" AND begins_with({sk_name}, :prefix)"));
            values.insert(":prefix".into(), s(&q.sk_prefix));
        }
        let start = q.start_after.as_ref().map(|p| {
            let mut a = key_attrs(&p.key);
            if let (Index::Gsi1, Some(g)) = (q.index, &p.gsi1) {
                a.insert("gsi1pk".into(), s(&g.pk));
                a.insert("gsi1sk".into(), s(&g.sk));
            }
            a
        });
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(expr)
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(q.limit.max(1)).unwrap_or(i32::MAX))
            .scan_index_forward(q.forward);
        req = match q.index {
            Index::Primary => req.consistent_read(true),
            Index::Gsi1 => req.index_name(GSI1),
        };
        let out = req
            .send()
            .await
            .map_err(|e| StoreError::Backend(e_str(&e)))?;
        page(out.items, out.last_evaluated_key.is_some())
    }

    async fn scan(&self, start_after: Option<&PageKey>, limit: usize) -> Result<Page, StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .set_exclusive_start_key(start_after.map(|p| key_attrs(&p.key)))
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Backend(e_str(&e)))?;
        page(out.items, out.last_evaluated_key.is_some())
    }
}

/// A page of a Query or Scan: its items, and where the next page starts if DynamoDB says there
/// may be one (a `LastEvaluatedKey`).
fn page(items: Option<Vec<Attrs>>, more: bool) -> Result<Page, StoreError> {
    let items = items
        .unwrap_or_default()
        .iter()
        .map(from_attrs)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        items.last().map(PageKey::of)
    } else {
        None
    };
    Ok(Page { items, next })
}

/// Creates the table with exactly the key schema, index, stream and TTL that template.yaml
/// declares (used on emulators and by tests; production tables come from the template).
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(backend)
    };
    let key = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .map_err(backend)
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(vec![
            attr("pk")?,
            attr("sk")?,
            attr("gsi1pk")?,
            attr("gsi1sk")?,
        ]))
        .set_key_schema(Some(vec![
            key("pk", KeyType::Hash)?,
            key("sk", KeyType::Range)?,
        ]))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(GSI1)
                .set_key_schema(Some(vec![
                    key("gsi1pk", KeyType::Hash)?,
                    key("gsi1sk", KeyType::Range)?,
                ]))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(backend)?,
        )
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(backend)?,
        )
        .send()
        .await
        .map_err(|e| StoreError::Backend(e_str(&e)))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()
                .map_err(backend)?,
        )
        .send()
        .await
        .map_err(|e| StoreError::Backend(e_str(&e)))?;
    Ok(())
}

/// Deletes a table (tests).
pub async fn delete_table(client: &Client, table: &str) -> Result<(), StoreError> {
    client
        .delete_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| StoreError::Backend(e_str(&e)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size DynamoDB counts for the attributes as sent.
    fn size_of_attrs(attrs: &Attrs) -> usize {
        attrs
            .iter()
            .map(|(name, value)| name.len() + value.as_s().map_or(NUMBER_BYTES, String::len))
            .sum()
    }

    #[test]
    fn item_size_counts_every_attribute_the_table_receives() {
        let bare = Item {
            key: Key::new("T#a#COUNT", "USERS#07"),
            ..Item::default()
        };
        let full = Item {
            key: Key::new("T#a#U#1", "#"),
            gsi1: Some(Key::new("T#a#USERS", "1")),
            version: 12_345,
            count: -3,
            body: "{\"userName\":\"\u{e9}l\u{e8}ve\"}".into(),
            expires_at: Some(1_900_000_000),
        };
        for item in [bare, full] {
            assert_eq!(
                item_size(&item),
                size_of_attrs(&item_attrs(&item)),
                "{item:?}"
            );
        }
    }
}
