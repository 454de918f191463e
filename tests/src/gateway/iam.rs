//! IAM enforced at the table: every function reaches "AWS" (`AWS_ENDPOINT_URL`) through an
//! endpoint of its own, which knows its role's statements from template.yaml. Each DynamoDB,
//! DynamoDB Streams and EventBridge call is checked as IAM would check it, action by action and
//! resource by resource (a transaction is authorised as the PutItem, UpdateItem, DeleteItem or
//! ConditionCheckItem of each of its items; a Query on the index needs the index's ARN;
//! `dynamodb:LeadingKeys` conditions see every partition key the call touches). An allowed call
//! goes on to DynamoDB Local unchanged; a refused one is answered with AccessDeniedException, as
//! on AWS, and recorded so that the run fails. PutEvents goes to the EventBridge stand-in.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::bus::Bus;
use super::template::Statement;

/// A call a function's role does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub function: String,
    pub action: String,
    pub resource: String,
    pub leading_keys: Vec<String>,
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} may not {} on {}",
            self.function, self.action, self.resource
        )?;
        if !self.leading_keys.is_empty() {
            write!(f, " (partition keys {:?})", self.leading_keys)?;
        }
        Ok(())
    }
}

/// One permission a call needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub action: String,
    pub resource: String,
    /// The partition keys the call touches (`dynamodb:LeadingKeys`).
    pub leading_keys: Vec<String>,
}

/// `*` and `?` wildcards, as IAM matches actions, ARNs and `StringLike` values.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether one of the statements allows what the call needs.
pub fn allows(statements: &[Statement], need: &Need) -> bool {
    statements.iter().any(|s| {
        s.actions.iter().any(|a| glob(a, &need.action))
            && s.resources.iter().any(|r| glob(r, &need.resource))
            && s.leading_keys.as_ref().is_none_or(|patterns| {
                // ForAllValues: every key the call touches matches one of the patterns.
                need.leading_keys
                    .iter()
                    .all(|k| patterns.iter().any(|p| glob(p, k)))
            })
    })
}

/// Where the stack's ARNs point.
#[derive(Debug, Clone)]
pub struct Arns {
    pub region: String,
    pub account: String,
    /// The table's stream.
    pub stream: String,
}

impl Arns {
    fn table(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            return name.to_string();
        }
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            self.region, self.account
        )
    }

    fn bus(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            return name.to_string();
        }
        format!(
            "arn:aws:events:{}:{}:event-bus/{name}",
            self.region, self.account
        )
    }
}

/// The partition key of an item or key (`pk`).
fn partition_key(item: &Value) -> Vec<String> {
    item["pk"]["S"]
        .as_str()
        .map(|k| vec![k.to_string()])
        .unwrap_or_default()
}

/// The partition key value of a Query: the value compared with `=` to the table's or the
/// index's partition key attribute in `KeyConditionExpression`.
fn query_partition_key(body: &Value) -> Vec<String> {
    let expression = body["KeyConditionExpression"].as_str().unwrap_or_default();
    for clause in expression.split(" AND ") {
        let Some((name, value)) = clause.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        let name = body["ExpressionAttributeNames"][name]
            .as_str()
            .unwrap_or(name);
        if name == "pk" || name == "gsi1pk" {
            return body["ExpressionAttributeValues"][value]["S"]
                .as_str()
                .map(|k| vec![k.to_string()])
                .unwrap_or_default();
        }
    }
    Vec::new()
}

fn need(action: &str, resource: String, leading_keys: Vec<String>) -> Need {
    Need {
        action: action.to_string(),
        resource,
        leading_keys,
    }
}

/// The permissions a DynamoDB or DynamoDB Streams call needs (`operation` from `X-Amz-Target`).
pub fn dynamodb_needs(operation: &str, body: &Value, arns: &Arns) -> Vec<Need> {
    let table = |b: &Value| arns.table(b["TableName"].as_str().unwrap_or_default());
    let action = format!("dynamodb:{operation}");
    match operation {
        "GetItem" | "DeleteItem" | "UpdateItem" => {
            vec![need(&action, table(body), partition_key(&body["Key"]))]
        }
        "PutItem" => vec![need(&action, table(body), partition_key(&body["Item"]))],
        "Query" | "Scan" => {
            let mut resource = table(body);
            if let Some(index) = body["IndexName"].as_str() {
                resource = format!("{resource}/index/{index}");
            }
            let keys = if operation == "Query" {
                query_partition_key(body)
            } else {
                Vec::new()
            };
            vec![need(&action, resource, keys)]
        }
        "BatchGetItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(t, r)| {
                let keys = r["Keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(partition_key)
                    .collect();
                need(&action, arns.table(t), keys)
            })
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(t, writes)| {
                let keys = writes
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|w| {
                        let mut k = partition_key(&w["PutRequest"]["Item"]);
                        k.extend(partition_key(&w["DeleteRequest"]["Key"]));
                        k
                    })
                    .collect();
                need(&action, arns.table(t), keys)
            })
            .collect(),
        // No action of their own: IAM authorises each item as the single-item action.
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, op) = item.as_object()?.iter().next()?;
                let action = match kind.as_str() {
                    "Put" => "dynamodb:PutItem",
                    "Update" => "dynamodb:UpdateItem",
                    "Delete" => "dynamodb:DeleteItem",
                    "ConditionCheck" => "dynamodb:ConditionCheckItem",
                    "Get" => "dynamodb:GetItem",
                    _ => return None,
                };
                let mut keys = partition_key(&op["Key"]);
                keys.extend(partition_key(&op["Item"]));
                Some(need(action, table(op), keys))
            })
            .collect(),
        "DescribeStream" | "GetShardIterator" => {
            let stream = body["StreamArn"].as_str().unwrap_or_default().to_string();
            vec![need(&action, stream, Vec::new())]
        }
        "GetRecords" => vec![need(&action, arns.stream.clone(), Vec::new())],
        "ListStreams" => {
            let t = arns.table(body["TableName"].as_str().unwrap_or("*"));
            vec![need(&action, format!("{t}/stream/*"), Vec::new())]
        }
        _ => vec![need(&action, table(body), Vec::new())],
    }
}

/// One function's way to AWS.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub function: String,
    pub statements: Vec<Statement>,
    pub arns: Arns,
    /// DynamoDB Local.
    pub dynamodb: String,
    pub http: reqwest::Client,
    pub bus: Arc<Bus>,
    pub denials: Arc<Mutex<Vec<Denial>>>,
}

impl Endpoint {
    /// Serves the endpoint on a loopback port; returns its URL.
    pub async fn serve(self) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = Router::new().fallback(call).with_state(Arc::new(self));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((url, task))
    }

    /// Records every need no statement allows; true when all are allowed.
    fn check(&self, needs: &[Need]) -> Result<(), Denial> {
        for n in needs {
            if !allows(&self.statements, n) {
                let denial = Denial {
                    function: self.function.clone(),
                    action: n.action.clone(),
                    resource: n.resource.clone(),
                    leading_keys: n.leading_keys.clone(),
                };
                if let Ok(mut d) = self.denials.lock() {
                    d.push(denial.clone());
                }
                return Err(denial);
            }
        }
        Ok(())
    }
}

fn access_denied(denial: &Denial, content_type: &str) -> Response {
    let body = json!({
        "__type": "com.amazon.coral.service#AccessDeniedException",
        "Message": format!(
            "User: arn:aws:sts::000000000000:assumed-role/{0}-role/{0} is not authorized to perform: {1} on resource: {2} because no identity-based policy allows the {1} action",
            denial.function, denial.action, denial.resource
        ),
    });
    (
        StatusCode::BAD_REQUEST,
        [("content-type", content_type.to_string())],
        body.to_string(),
    )
        .into_response()
}

async fn call(State(e): State<Arc<Endpoint>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (service, operation) = target.split_once('.').unwrap_or(("", ""));
    let json: Value = serde_json::from_slice(&body).unwrap_or_default();
    match service {
        "DynamoDB_20120810" | "DynamoDBStreams_20120810" => {
            let needs = dynamodb_needs(operation, &json, &e.arns);
            if let Err(d) = e.check(&needs) {
                return access_denied(&d, "application/x-amz-json-1.0");
            }
            forward(&e, &headers, body).await
        }
        "AWSEvents" if operation == "PutEvents" => {
            let entries = json["Entries"].as_array().cloned().unwrap_or_default();
            let needs: Vec<Need> = entries
                .iter()
                .map(|entry| {
                    let bus = entry["EventBusName"].as_str().unwrap_or("default");
                    need("events:PutEvents", e.arns.bus(bus), Vec::new())
                })
                .collect();
            if let Err(d) = e.check(&needs) {
                return access_denied(&d, "application/x-amz-json-1.1");
            }
            if e.bus.refusing() {
                let failed: Vec<Value> = entries
                    .iter()
                    .map(|_| json!({"ErrorCode": "InternalFailure", "ErrorMessage": "refused by the test"}))
                    .collect();
                let answer = json!({"FailedEntryCount": failed.len(), "Entries": failed});
                return (
                    StatusCode::OK,
                    [("content-type", "application/x-amz-json-1.1")],
                    answer.to_string(),
                )
                    .into_response();
            }
            let ids = e.bus.put(entries);
            let answer = json!({
                "FailedEntryCount": 0,
                "Entries": ids.into_iter().map(|id| json!({"EventId": id})).collect::<Vec<_>>(),
            });
            (
                StatusCode::OK,
                [("content-type", "application/x-amz-json-1.1")],
                answer.to_string(),
            )
                .into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            format!("the local AWS endpoint does not serve {target:?}"),
        )
            .into_response(),
    }
}

/// Sends an allowed call on to DynamoDB Local as it came (DynamoDB Local checks no signature
/// but keeps one database per access key and region, which the signature names).
async fn forward(e: &Endpoint, headers: &HeaderMap, body: Bytes) -> Response {
    let mut request = e.http.post(&e.dynamodb).body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let content_type = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/x-amz-json-1.0")
                .to_string();
            let body = r.bytes().await.unwrap_or_default();
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                [("content-type", content_type)],
                body,
            )
                .into_response()
        }
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("DynamoDB Local: {err}"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arns() -> Arns {
        Arns {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            stream: "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026".into(),
        }
    }

    fn statement(actions: &[&str], resources: &[&str], keys: Option<&[&str]>) -> Statement {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect();
        Statement {
            actions: v(actions),
            resources: v(resources),
            leading_keys: keys.map(v),
        }
    }

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/t";

    #[test]
    fn wildcards_match_as_iam_matches_them() {
        assert!(glob("TOKEN#*", "TOKEN#abc"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(glob(
            "arn:*:table/t/stream/*",
            "arn:aws:table/t/stream/2026"
        ));
        assert!(!glob("TOKEN#*", "T#acme#U#1"));
        assert!(!glob("abc", "abcd"));
    }

    #[test]
    fn a_transaction_needs_the_single_item_action_of_each_write() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "T#a#U#1"}}}},
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "T#a#COUNT"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "T#a#U#2"}}}},
        ]});
        let needs = dynamodb_needs("TransactWriteItems", &body, &arns());
        let actions: Vec<&str> = needs.iter().map(|n| n.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem"
            ]
        );
        let granted = [statement(
            &["dynamodb:PutItem", "dynamodb:UpdateItem"],
            &[TABLE],
            None,
        )];
        assert!(allows(&granted, &needs[0]) && allows(&granted, &needs[1]));
        assert!(!allows(&granted, &needs[2]));
    }

    #[test]
    fn a_query_on_the_index_needs_the_index_arn() {
        let body = json!({"TableName": "t", "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": "T#a#USERS"}, ":prefix": {"S": ""}}});
        let needs = dynamodb_needs("Query", &body, &arns());
        assert_eq!(needs[0].resource, format!("{TABLE}/index/gsi1"));
        assert_eq!(needs[0].leading_keys, ["T#a#USERS"]);
        assert!(!allows(
            &[statement(&["dynamodb:Query"], &[TABLE], None)],
            &needs[0]
        ));
    }

    #[test]
    fn leading_keys_conditions_see_every_partition_key() {
        let tokens_only = [statement(
            &["dynamodb:GetItem"],
            &[TABLE],
            Some(&["TOKEN#*"]),
        )];
        let get = |pk: &str| {
            dynamodb_needs(
                "GetItem",
                &json!({"TableName": "t", "Key": {"pk": {"S": pk}, "sk": {"S": "#"}}}),
                &arns(),
            )
        };
        assert!(allows(&tokens_only, &get("TOKEN#0a1b")[0]));
        assert!(!allows(&tokens_only, &get("T#acme#U#1")[0]));
        let batch = dynamodb_needs(
            "BatchGetItem",
            &json!({"RequestItems": {"t": {"Keys": [
                {"pk": {"S": "PUBLISHED#1"}}, {"pk": {"S": "T#acme#U#1"}}]}}}),
            &arns(),
        );
        let markers = [statement(
            &["dynamodb:BatchGetItem"],
            &[TABLE],
            Some(&["PUBLISHED#*"]),
        )];
        assert!(!allows(&markers, &batch[0]));
    }
}
