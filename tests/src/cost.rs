//! The cost scenarios of docs/cost.md: each SCIM request a provisioning client makes, with the
//! store calls, items and DynamoDB request units it costs. Usage is counted above the Store trait,
//! so the numbers are the same on both backends.

use scim_shared::protocol::http::Method;
use scim_shared::store::Usage;
use serde_json::{Value, json};

use crate::{ENTERPRISE, GROUP_SCHEMA, Scim, TestServer, USER_SCHEMA};

/// DynamoDB on-demand list prices, US East (N. Virginia), per million request units.
pub const PRICE_DATE: &str =
    "2026-11-23 (published prices since the 2024-11-01 on-demand reduction)";
pub const USD_PER_MILLION_READ_UNITS: f64 = 0.125;
pub const USD_PER_MILLION_WRITE_UNITS: f64 = 0.625;

/// One measured request.
#[derive(Debug, Clone)]
pub struct Row {
    pub operation: String,
    pub status: u16,
    pub usage: Usage,
    /// The audit record and outbox items written for the request (provisioning requests only).
    pub recording: Usage,
}

impl Row {
    /// Dollars per million such requests.
    pub fn usd_per_million(&self) -> f64 {
        (self.usage.read_units + self.recording.read_units) * USD_PER_MILLION_READ_UNITS
            + (self.usage.write_units + self.recording.write_units) * USD_PER_MILLION_WRITE_UNITS
    }
}

fn user_body(name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": format!("{name}@example.com"),
        "externalId": format!("ext-{name}"),
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
        "displayName": "Barbara Jensen",
        "title": "Tour Guide",
        "active": true,
        "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations", "costCenter": "4130"},
    })
}

fn patch(ops: Value) -> Value {
    Scim::patch_body(ops)
}

fn members(ids: &[String]) -> Value {
    Scim::members_patch("add", ids)
}

struct Recorder<'a> {
    srv: &'a TestServer,
    rows: Vec<Row>,
}

impl Recorder<'_> {
    async fn call(
        &mut self,
        operation: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Option<Value> {
        let out = self.srv.call(method, path, body).await;
        assert!(
            out.response.status < 300,
            "{operation}: status {} {:?}",
            out.response.status,
            out.response.body
        );
        self.rows.push(Row {
            operation: operation.to_string(),
            status: out.response.status,
            usage: out.usage,
            recording: out.recording,
        });
        out.response.body
    }
}

/// Runs every scenario; the large group has `group_size` members. `progress` is told how many
/// users of the large group exist so far.
pub async fn measure(srv: &TestServer, group_size: usize, progress: &dyn Fn(usize)) -> Vec<Row> {
    let mut r = Recorder {
        srv,
        rows: Vec::new(),
    };
    let user = r
        .call(
            "CreateUser",
            Method::Post,
            "/Users",
            Some(&user_body("bjensen")),
        )
        .await;
    let id = user
        .as_ref()
        .and_then(|u| u["id"].as_str())
        .unwrap_or_default()
        .to_string();
    let at = format!("/Users/{id}");
    r.call("GetUser", Method::Get, &at, None).await;
    r.call(
        "GetUser, excludedAttributes=groups",
        Method::Get,
        &format!("{at}?excludedAttributes=groups"),
        None,
    )
    .await;
    r.call(
        "Filter userName eq",
        Method::Get,
        "/Users?filter=userName eq \"bjensen@example.com\"",
        None,
    )
    .await;
    let mut replaced = user_body("bjensen");
    replaced["title"] = json!("Senior Tour Guide");
    r.call("PUT user", Method::Put, &at, Some(&replaced)).await;
    let title = patch(json!([{"op": "replace", "path": "title", "value": "Lead Tour Guide"}]));
    r.call(
        "PATCH user (replace title)",
        Method::Patch,
        &at,
        Some(&title),
    )
    .await;
    let deactivate = patch(json!([{"op": "replace", "value": {"active": false}}]));
    r.call(
        "Deactivate user (PATCH active=false)",
        Method::Patch,
        &at,
        Some(&deactivate),
    )
    .await;
    r.call("DELETE user", Method::Delete, &at, None).await;

    let group = r
        .call(
            "CreateGroup",
            Method::Post,
            "/Groups",
            Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "All staff"})),
        )
        .await;
    let gid = group
        .as_ref()
        .and_then(|g| g["id"].as_str())
        .unwrap_or_default()
        .to_string();
    let gat = format!("/Groups/{gid}");
    srv.fill_group(&gid, "staff", group_size, progress).await;
    let newcomers = srv.create_users("new", 1 + 100 + 1000, &|_| {}).await;
    let label = |k: usize| {
        format!(
            "Add {k} member{} to a {group_size}-member group",
            if k == 1 { "" } else { "s" }
        )
    };
    r.call(
        &label(1),
        Method::Patch,
        &gat,
        Some(&members(&newcomers[..1])),
    )
    .await;
    r.call(
        &label(100),
        Method::Patch,
        &gat,
        Some(&members(&newcomers[1..101])),
    )
    .await;
    r.call(
        &label(1000),
        Method::Patch,
        &gat,
        Some(&members(&newcomers[101..])),
    )
    .await;
    let remove =
        patch(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", newcomers[0])}]));
    r.call("Remove 1 member", Method::Patch, &gat, Some(&remove))
        .await;
    r.call(
        "GetGroup, excludedAttributes=members",
        Method::Get,
        &format!("{gat}?excludedAttributes=members"),
        None,
    )
    .await;
    r.call(
        "List a page of 100 users",
        Method::Get,
        "/Users?startIndex=1&count=100",
        None,
    )
    .await;
    r.rows
}

/// The rows as the Markdown table of docs/cost.md.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| request | store calls | items read / written | read units | write units | audit record write units | USD per million |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let u = &row.usage;
        let mut calls = Vec::new();
        for (n, name) in [
            (u.gets, "GetItem"),
            (u.queries, "Query"),
            (u.batch_gets, "BatchGetItem"),
            (u.single_writes, "single write"),
            (u.transactions, "TransactWriteItems"),
        ] {
            if n > 0 {
                calls.push(format!("{n} {name}"));
            }
        }
        out.push_str(&format!(
            "| {} | {} | {} / {} | {} | {} | {} | {:.2} |\n",
            row.operation,
            calls.join(", "),
            u.items_read,
            u.items_written,
            u.read_units,
            u.write_units,
            row.recording.write_units,
            row.usd_per_million()
        ));
    }
    out
}
