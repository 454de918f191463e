//! Emergency Logout latency on loopback: from the operator's request to the webhook's receipt of
//! the emergency leaver, and to the operator's answer, over a bounded run of logouts against a
//! local server with a durable file store.
//!
//! `cargo run --profile local -p scim-tests --bin emergency-latency -- [LOGOUTS]`
//!
//! Creates LOGOUTS users (default 1000), each in one group, then logs them out one after the
//! other through `POST /admin/tenants/acme/users/{id}/emergency-logout`; the receiver is an
//! HTTP server on another loopback port. Prints p50, p90, p99 and max.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use scim_shared::events::webhook;
use scim_shared::ops::Limits;
use scim_shared::protocol::http::Method;
use scim_shared::store::EmbeddedStore;
use scim_tests::receiver::Receiver;
use scim_tests::{GROUP_SCHEMA, OPERATOR_TOKEN, TestServer, USER_SCHEMA};
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn line(name: &str, mut v: Vec<Duration>) -> String {
    v.sort_unstable();
    format!(
        "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
        v.len(),
        ms(percentile(&v, 0.5)),
        ms(percentile(&v, 0.9)),
        ms(percentile(&v, 0.99)),
        ms(v.last().copied().unwrap_or_default())
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1000);
    let dir = std::env::temp_dir().join(format!("emergency-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(EmbeddedStore::open(&dir.join("scim.redb")).context("opening the store")?);
    let srv = TestServer::with_store(store, Limits::default()).await;
    let mut rx = Receiver::start(0).await;
    webhook::set(&*srv.store, "acme", &rx.url).await?;

    let group = srv
        .call(
            Method::Post,
            "/Groups",
            Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "Staff"})),
        )
        .await;
    let gid = group.changes.first().context("group created")?.id.clone();
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let out = srv
            .call(
                Method::Post,
                "/Users",
                Some(&json!({"schemas": [USER_SCHEMA], "userName": format!("user{i}")})),
            )
            .await;
        users.push(out.changes.first().context("user created")?.id.clone());
    }
    for chunk in users.chunks(99) {
        let values: Vec<_> = chunk.iter().map(|id| json!({"value": id})).collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": values}]});
        srv.call(Method::Patch, &format!("/Groups/{gid}"), Some(&body))
            .await;
    }

    let client = reqwest::Client::new();
    let root = srv.root().to_string();
    let (mut to_receipt, mut to_answer) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let started = Instant::now();
    for id in &users {
        let t0 = Instant::now();
        let resp = client
            .post(format!(
                "{root}/admin/tenants/acme/users/{id}/emergency-logout"
            ))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await?;
        let answered = t0.elapsed();
        if !status.is_success() || body["webhook"] != "delivered" {
            bail!("logout of {id}: {status} {body}");
        }
        let d = rx.next(5).await;
        to_receipt.push(d.at.duration_since(t0));
        to_answer.push(answered);
    }
    let total = started.elapsed();
    println!(
        "{n} Emergency Logouts on loopback in {:.1} s (embedded file store, one group each)\n",
        total.as_secs_f64()
    );
    println!("| measure | logouts | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    println!("{}", line("request → webhook receipt", to_receipt));
    println!("{}", line("request → operator's answer", to_answer));
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
