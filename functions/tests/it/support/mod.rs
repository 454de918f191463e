//! Shared by the tests of the Lambda side: template.yaml as data, a store that records the
//! DynamoDB actions its calls need, a one-route HTTP stub, and seeding through the service.

pub mod bus;
pub mod http;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use scim_shared::protocol::http::{Method, ScimRequest};
use scim_shared::service::Service;
use scim_shared::store::{Index, Item, Key, Page, PageKey, Query, Store, StoreError, Write};
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("functions/ has a parent")
        .to_path_buf()
}

// ---------------------------------------------------------------------------------------------
// template.yaml

/// template.yaml, parsed. CloudFormation's short tags (`!Ref`, `!Sub`, `!GetAtt`) stay tagged
/// values; [`render`] spells them the way `Fn::Sub` would.
pub fn template() -> Yaml {
    let path = repo_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template.yaml");
    serde_yaml_ng::from_str(&text).expect("template.yaml is YAML")
}

/// Walks a path of mapping keys.
pub fn at<'a>(v: &'a Yaml, path: &[&str]) -> Option<&'a Yaml> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

pub fn str_at<'a>(v: &'a Yaml, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Yaml::as_str)
}

/// A value as text: plain scalars as they are, `!Ref X` as `${X}`, `!GetAtt X.Y` as `${X.Y}`,
/// `!Sub "..."` as its string.
pub fn render(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Tagged(t) if t.tag == "Ref" || t.tag == "GetAtt" => {
            format!("${{{}}}", render(&t.value))
        }
        Yaml::Tagged(t) if t.tag == "Sub" => render(&t.value),
        other => format!("{other:?}"),
    }
}

/// A scalar or a list of scalars, rendered.
pub fn strings(v: Option<&Yaml>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Yaml::Sequence(items)) => items.iter().map(render).collect(),
        Some(one) => vec![render(one)],
    }
}

/// The template's resources of one type, by logical id.
pub fn resources<'a>(template: &'a Yaml, kind: &str) -> Vec<(String, &'a Yaml)> {
    at(template, &["Resources"])
        .and_then(Yaml::as_mapping)
        .expect("Resources")
        .iter()
        .filter(|(_, r)| str_at(r, &["Type"]) == Some(kind))
        .map(|(id, r)| (render(id), r))
        .collect()
}

/// The Lambda functions of the template as (logical id, binary, resource).
pub fn functions(template: &Yaml) -> Vec<(String, String, &Yaml)> {
    resources(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, r)| {
            let binary = str_at(r, &["Metadata", "BuildProperties", "Binary"])
                .unwrap_or_else(|| panic!("{id} names no BuildProperties: Binary"))
                .to_string();
            (id, binary, r)
        })
        .collect()
}

/// The function resource of a binary.
pub fn function<'a>(template: &'a Yaml, binary: &str) -> &'a Yaml {
    functions(template)
        .into_iter()
        .find(|(_, b, _)| b == binary)
        .map(|(_, _, r)| r)
        .unwrap_or_else(|| panic!("template.yaml has no function with Binary: {binary}"))
}

/// One IAM permission: an action on a resource, as template.yaml writes them
/// (`${Table.Arn}`, `${Table.Arn}/index/gsi1`).
pub type Permission = (String, String);

/// One IAM permission with the condition of its statement, flattened to `[key, operator,
/// values...]` per condition key (empty when the statement has none).
pub type Grant = (String, String, Vec<String>);

/// The permissions a function's inline policies grant (conditions aside).
pub fn granted(template: &Yaml, binary: &str) -> BTreeSet<Permission> {
    grants(template, binary)
        .into_iter()
        .map(|(action, resource, _)| (action, resource))
        .collect()
}

/// The permissions a function's inline policies grant, with their conditions.
pub fn grants(template: &Yaml, binary: &str) -> BTreeSet<Grant> {
    let f = function(template, binary);
    let mut out = BTreeSet::new();
    let policies = at(f, &["Properties", "Policies"])
        .and_then(Yaml::as_sequence)
        .cloned()
        .unwrap_or_default();
    for policy in &policies {
        let statements = at(policy, &["Statement"])
            .and_then(Yaml::as_sequence)
            .unwrap_or_else(|| panic!("{binary}: policies are inline statements"));
        for s in statements {
            assert_eq!(str_at(s, &["Effect"]), Some("Allow"), "{binary}: {s:?}");
            let condition = condition(s.get("Condition"));
            for action in strings(s.get("Action")) {
                for resource in strings(s.get("Resource")) {
                    out.insert((action.clone(), resource, condition.clone()));
                }
            }
        }
    }
    out
}

/// A statement's `Condition` (`{operator: {key: values}}`) as `[key, operator, values...]`.
fn condition(v: Option<&Yaml>) -> Vec<String> {
    let mut out = Vec::new();
    for (operator, keys) in v.and_then(Yaml::as_mapping).into_iter().flatten() {
        for (key, values) in keys.as_mapping().into_iter().flatten() {
            out.extend([render(key), render(operator)]);
            out.extend(strings(Some(values)));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Recording the DynamoDB actions a store call needs

/// The table, as template.yaml names it in policies.
pub const TABLE: &str = "${Table.Arn}";
/// The index, as template.yaml names it in policies.
pub const INDEX: &str = "${Table.Arn}/index/gsi1";

/// A store that records, for every call, the DynamoDB actions `DynamoStore` makes for it and
/// so the IAM permissions it needs (shared/src/store/dynamodb.rs): `get` is GetItem;
/// `batch_get` BatchGetItem (none for no keys); `query` Query on the table or the index; a
/// transaction of one write is a single PutItem / DeleteItem / UpdateItem (a lone check is a
/// GetItem), and of several writes one TransactWriteItems, which IAM authorises as the
/// PutItem / DeleteItem / UpdateItem / ConditionCheckItem of each write.
#[derive(Debug, Clone)]
pub struct Recording {
    inner: Arc<dyn Store>,
    used: Arc<Mutex<BTreeSet<Permission>>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Recording {
            inner,
            used: Arc::default(),
        }
    }

    /// The permissions used since the last call, and forgets them.
    pub fn take(&self) -> BTreeSet<Permission> {
        std::mem::take(&mut *self.used.lock().expect("lock"))
    }

    fn note(&self, action: &str, resource: &str) {
        self.used
            .lock()
            .expect("lock")
            .insert((format!("dynamodb:{action}"), resource.to_string()));
    }
}

#[async_trait]
impl Store for Recording {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.note("GetItem", TABLE);
        self.inner.get(key).await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if !keys.is_empty() {
            self.note("BatchGetItem", TABLE);
        }
        self.inner.batch_get(keys).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let single = writes.len() == 1;
        for w in &writes {
            let action = match w {
                Write::Put { .. } => "PutItem",
                Write::Delete { .. } => "DeleteItem",
                Write::Add { .. } => "UpdateItem",
                Write::Check { .. } if single => "GetItem",
                Write::Check { .. } => "ConditionCheckItem",
            };
            self.note(action, TABLE);
        }
        self.inner.transact(writes).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        match query.index {
            Index::Primary => self.note("Query", TABLE),
            Index::Gsi1 => self.note("Query", INDEX),
        }
        self.inner.query(query).await
    }

    async fn scan(&self, start_after: Option<&PageKey>, limit: usize) -> Result<Page, StoreError> {
        self.note("Scan", TABLE);
        self.inner.scan(start_after, limit).await
    }
}

/// Permissions as readable lines for assertion messages.
pub fn lines(set: &BTreeSet<Permission>) -> String {
    set.iter()
        .map(|(a, r)| format!("  {a} on {r}"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Seeding

/// The base URL the admin tests call the service with directly.
pub const BASE: &str = "https://x/scim/v2";

/// Tenant `acme` as the Lambda functions build the service, with a user (userName
/// `bjensen@example.com`, active) in a group (`Tour Guides`), over a recording store of the
/// selected backend (what seeding used is forgotten) and an in-memory bus. The admin routes'
/// tests (`emergency`, `management`) add what they send in their own `impl Side`.
pub struct Side {
    pub store: Recording,
    pub service: Arc<Service>,
    pub bus: Arc<bus::Bus>,
    pub user: String,
    pub group: String,
}

impl Side {
    pub async fn start() -> Side {
        let store = Recording::new(scim_tests::fresh_store().await);
        scim_shared::tenant::create_tenant(&store, "acme")
            .await
            .expect("tenant");
        let service = Arc::new(Service::new(
            Arc::new(store.clone()) as Arc<dyn Store>,
            scim_shared::ops::Limits::default(),
        ));
        let user = create(
            &service,
            BASE,
            "/Users",
            serde_json::json!({"schemas": [scim_tests::USER_SCHEMA], "userName": "bjensen@example.com", "active": true}),
        )
        .await;
        let group = create(
            &service,
            BASE,
            "/Groups",
            serde_json::json!({"schemas": [scim_tests::GROUP_SCHEMA], "displayName": "Tour Guides", "members": [{"value": user}]}),
        )
        .await;
        store.take();
        Side {
            store,
            service,
            bus: Arc::default(),
            user,
            group,
        }
    }
}

/// Creates a resource of tenant `acme` through the service (`POST {base}{path}`); its id.
pub async fn create(service: &Service, base: &str, path: &str, body: Value) -> String {
    let mut req = ScimRequest::new(Method::Post, path, base);
    req.body = body.to_string().into_bytes();
    let out = service.handle("acme", &req).await.response;
    assert_eq!(out.status, 201, "creating {body}: {:?}", out.body);
    out.body
        .as_ref()
        .and_then(|b| b["id"].as_str())
        .expect("id")
        .to_string()
}
