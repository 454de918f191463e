//! A bounded load run of the identity providers' replay flows (tests/data/entra, tests/data/okta)
//! against a local server on loopback with a durable file store: per-request latency (p50, p99)
//! and throughput, overall and per tenant.
//!
//! `cargo run --profile local -p scim-tests --bin replay-load -- [SECONDS] [CONCURRENCY]`
//!
//! Each worker replays every flow in turn, each time as a new tenant, for SECONDS (default 10);
//! CONCURRENCY workers (default 8) run at once. A worker is one tenant at a time, so its rate is
//! what one tenant's sequential provisioning gets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use scim_shared::ops::Limits;
use scim_shared::store::EmbeddedStore;
use scim_tests::TestServer;
use scim_tests::replay::{self, fixtures, load};
use serde_json::Value;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let concurrency: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(8);
    let flows: Vec<(String, Value)> = ["entra", "okta"]
        .iter()
        .flat_map(|suite| fixtures(suite).into_iter().map(move |f| (suite, f)))
        .map(|(suite, f)| {
            let name = format!(
                "{suite}/{}",
                f.file_name().unwrap_or_default().to_string_lossy()
            );
            load(&f).map(|v| (name, v)).map_err(anyhow::Error::msg)
        })
        .collect::<anyhow::Result<_>>()?;
    let dir = tempfile_dir()?;
    let store = Arc::new(EmbeddedStore::open(&dir.join("scim.redb")).context("opening the store")?);
    let srv = Arc::new(TestServer::with_store(store, Limits::default()).await);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let flows = Arc::new(flows);
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (srv, flows) = (srv.clone(), flows.clone());
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut failures, mut n) = (Vec::new(), Vec::new(), 0);
            while Instant::now() < deadline {
                for (name, flow) in flows.iter() {
                    let client = srv.tenant(&format!("w{w}-{n}")).await;
                    n += 1;
                    let r = replay::replay(flow, &client).await;
                    latencies.extend(r.latencies);
                    if let Some(f) = r.failure {
                        failures.push(format!("{name}: {f}"));
                    }
                }
            }
            (latencies, failures)
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    for w in workers {
        let (l, f) = w.await?;
        latencies.extend(l);
        failures.extend(f);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let n = latencies.len();
    let rate = n as f64 / elapsed;
    println!(
        "| flows | workers (tenants at once) | requests | failed flows | req/s | req/s per tenant | p50 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} Entra + Okta replay flows | {concurrency} | {n} | {} | {rate:.0} | {:.0} | {:.2} | {:.2} | {:.2} |",
        flows.len(),
        failures.len(),
        rate / concurrency as f64,
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    std::fs::remove_dir_all(&dir).ok();
    if let Some(f) = failures.first() {
        anyhow::bail!("{} flow replays failed; first: {f}", failures.len());
    }
    Ok(())
}

/// A fresh directory for the run's file store.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("scim-replay-load-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
