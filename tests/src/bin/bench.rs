//! Benchmarks of the local server on loopback, bounded by count and time, printed as Markdown:
//! mixed load at two concurrencies next to a bare "hello" server on the same stack (axum, hyper,
//! tokio) as the machine's ceiling; add/remove of one member and GET of a group at growing group
//! sizes; index paging far into 100,000 users; import speed.
//!
//! `cargo build --profile local -p scim-tests --bin bench && target/local/bench [--quick]`
//!
//! The server is the one `scimctl serve` runs (the same axum app and service) over a durable file
//! store in a fresh temporary directory: every acknowledged write is committed to disk.
//! `--quick` shrinks every size and duration for a smoke run. `--bulk-import` runs only the
//! import through `POST /Bulk`, on a store of its own; `--import` only `scimctl import`'s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use scim_shared::ops::Limits;
use scim_shared::protocol::http::Method;
use scim_shared::store::EmbeddedStore;
use scim_tests::{Scim, TestServer, USER_SCHEMA};
use serde_json::{Value, json};

/// The allocator `scimctl` runs with, so that the server measured here is the one it serves.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sizes of one run.
#[derive(Debug, Clone)]
struct Plan {
    /// Users the mixed load creates (over HTTP) before it starts.
    mixed_users: usize,
    /// How long each mixed-load run lasts.
    seconds: u64,
    /// Most requests one mixed-load run sends, whatever the time.
    max_requests: usize,
    /// Group sizes at which single-member changes are measured.
    group_sizes: Vec<usize>,
    /// Users of the paging tenant (also the pool of group members).
    paging_users: usize,
    /// Repetitions of each single-request measurement (the median is reported).
    repeat: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            mixed_users: 1000,
            seconds: 10,
            max_requests: 2_000_000,
            group_sizes: vec![10, 1000, 10_000, 100_000],
            paging_users: 100_000,
            repeat: 51,
        }
    }

    fn quick() -> Plan {
        Plan {
            mixed_users: 200,
            seconds: 2,
            max_requests: 200_000,
            group_sizes: vec![10, 1000],
            paging_users: 2000,
            repeat: 5,
        }
    }
}

/// Latencies of one kind of request, and how many failed.
#[derive(Debug, Default, Clone)]
struct Samples {
    latencies: Vec<Duration>,
    errors: usize,
}

impl Samples {
    fn merge(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(i).copied().unwrap_or_default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One request of the mixed load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    GetById,
    FilterUserName,
    PatchReplace,
    Hello,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::GetById => "GET /Users/{id}",
            Op::FilterUserName => "GET /Users?filter=userName eq",
            Op::PatchReplace => "PATCH /Users/{id} replace",
            Op::Hello => "GET /hello (bare axum)",
        }
    }
}

/// A raw HTTP client for the load: one connection pool shared by the workers.
#[derive(Debug, Clone)]
struct Load {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Load {
    async fn send(&self, op: Op, user: &(String, String), n: usize) -> bool {
        let rb = match op {
            Op::GetById => self.http.get(format!("{}/Users/{}", self.base, user.0)),
            Op::FilterUserName => self.http.get(format!(
                "{}/Users?filter={}",
                self.base,
                scim_tests::enc(&format!("userName eq \"{}\"", user.1))
            )),
            Op::PatchReplace => self
                .http
                .patch(format!("{}/Users/{}", self.base, user.0))
                .header("content-type", "application/scim+json")
                .body(
                    Scim::patch_body(json!([
                        {"op": "replace", "path": "title", "value": format!("title {n}")}
                    ]))
                    .to_string(),
                ),
            Op::Hello => self.http.get(format!("{}/hello", self.base)),
        };
        match rb.bearer_auth(&self.token).send().await {
            Ok(r) => {
                let ok = r.status().is_success();
                r.bytes().await.is_ok() && ok
            }
            Err(_) => false,
        }
    }
}

/// Runs `concurrency` workers cycling through `ops` over `users` until the time or the request
/// budget runs out; the samples per op and the elapsed time.
async fn run_load(
    load: &Load,
    ops: &[Op],
    users: &Arc<Vec<(String, String)>>,
    concurrency: usize,
    plan: &Plan,
) -> (BTreeMap<Op, Samples>, Duration) {
    let deadline = Instant::now() + Duration::from_secs(plan.seconds);
    let budget = Arc::new(std::sync::atomic::AtomicUsize::new(plan.max_requests));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (load, users, ops, budget) =
            (load.clone(), users.clone(), ops.to_vec(), budget.clone());
        workers.push(tokio::spawn(async move {
            let mut samples: BTreeMap<Op, Samples> = BTreeMap::new();
            let mut n = w;
            while Instant::now() < deadline
                && budget
                    .fetch_update(
                        std::sync::atomic::Ordering::Relaxed,
                        std::sync::atomic::Ordering::Relaxed,
                        |b| b.checked_sub(1),
                    )
                    .is_ok()
            {
                let op = ops[n % ops.len()];
                let user = &users[(n * 7919) % users.len().max(1)];
                let t = Instant::now();
                let ok = load.send(op, user, n).await;
                let s = samples.entry(op).or_default();
                s.latencies.push(t.elapsed());
                s.errors += usize::from(!ok);
                n += concurrency;
            }
            samples
        }));
    }
    let mut all: BTreeMap<Op, Samples> = BTreeMap::new();
    for w in workers {
        if let Ok(samples) = w.await {
            for (op, s) in samples {
                all.entry(op).or_default().merge(s);
            }
        }
    }
    (all, started.elapsed())
}

/// A bare axum server on loopback answering `GET /scim/v2/hello` with a short text.
async fn hello_server() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route("/scim/v2/hello", axum::routing::get(|| async { "hello" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/scim/v2"))
}

/// The median latency of `n` runs of `f`, which reports whether it succeeded.
async fn median<F, Fut>(n: usize, mut f: F) -> anyhow::Result<Duration>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut s = Samples::default();
    for i in 0..n {
        let t = Instant::now();
        f(i).await?;
        s.latencies.push(t.elapsed());
    }
    Ok(s.percentile(0.5))
}

fn user_body(name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": name, "name": {"givenName": "Bench", "familyName": name},
        "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}], "active": true})
}

/// Creates `n` users of tenant `acme` in-process, 32 at a time; their ids in creation order and
/// the creates/s.
async fn fill_users(
    srv: &Arc<TestServer>,
    prefix: &str,
    n: usize,
) -> anyhow::Result<(Vec<String>, f64)> {
    let started = Instant::now();
    let mut ids = Vec::with_capacity(n);
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i:06}")).collect();
    for chunk in names.chunks(32) {
        let mut tasks = Vec::new();
        for name in chunk {
            let (srv, body) = (srv.clone(), user_body(name));
            tasks.push(tokio::spawn(async move {
                srv.call(Method::Post, "/Users", Some(&body)).await
            }));
        }
        for t in tasks {
            let out = t.await?;
            if out.response.status != 201 {
                bail!("creating a user answered {}", out.response.status);
            }
            let id = out.response.body.as_ref().and_then(|b| b["id"].as_str());
            ids.push(id.context("created user without id")?.to_string());
        }
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "created {n} users in {:.1} s ({rate:.0}/s)",
        started.elapsed().as_secs_f64()
    );
    // Creation order of concurrent creates is the order of their ids (UUID v7).
    ids.sort();
    Ok((ids, rate))
}

fn members(ids: &[String]) -> Value {
    let values: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    Scim::patch_body(json!([{"op": "add", "path": "members", "value": values}]))
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gb = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cores} cores, {mem_gb:.0} GB RAM, Linux")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let only_bulk = std::env::args().any(|a| a == "--bulk-import");
    let only_import = std::env::args().any(|a| a == "--import");
    let plan = if quick { Plan::quick() } else { Plan::full() };
    let dir = std::env::temp_dir().join(format!("scim-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let result = if only_bulk {
        bulk_import_only(&plan, &dir).await
    } else if only_import {
        scim_tests::import_bench::run(&dir, plan.paging_users, 256)
            .await
            .map(|(s, _)| format!("## Import\n\n{s}"))
    } else {
        run(&plan, &dir).await
    };
    std::fs::remove_dir_all(&dir).ok();
    let out = result?;
    println!("# Benchmarks\n");
    println!(
        "Machine: {}. Command: `cargo build --profile local -p scim-tests --bin bench && target/local/bench{}{}{}`.\n",
        machine(),
        if quick { " --quick" } else { "" },
        if only_bulk { " --bulk-import" } else { "" },
        if only_import { " --import" } else { "" }
    );
    print!("{out}");
    Ok(())
}

async fn run(plan: &Plan, dir: &std::path::Path) -> anyhow::Result<String> {
    let store = Arc::new(EmbeddedStore::open(&dir.join("scim.redb")).context("opening the store")?);
    let srv = Arc::new(TestServer::as_served(store, Limits::default()).await);
    let mut out = String::new();

    // --- mixed load -------------------------------------------------------------------------
    let bench = srv.tenant("bench").await;
    let token = bench_token(&srv).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let load = Load {
        http,
        base: srv.base.clone(),
        token,
    };
    let created = Instant::now();
    let mut users = Vec::with_capacity(plan.mixed_users);
    for chunk in (0..plan.mixed_users).collect::<Vec<_>>().chunks(32) {
        let mut tasks = Vec::new();
        for &i in chunk {
            let c = bench.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("mixed{i:06}");
                let r = c.post("/Users", &user_body(&name)).await;
                (r.status, r.body["id"].as_str().map(str::to_string), name)
            }));
        }
        for t in tasks {
            let (status, id, name) = t.await?;
            match (status, id) {
                (201, Some(id)) => users.push((id, name)),
                (s, _) => bail!("creating a mixed-load user answered {s}"),
            }
        }
    }
    let create_rate = plan.mixed_users as f64 / created.elapsed().as_secs_f64();
    let users = Arc::new(users);
    let hello = Load {
        base: hello_server().await?,
        ..load.clone()
    };
    out.push_str(&format!(
        "## Mixed load\n\n{} users created over HTTP at concurrency 32 ({create_rate:.0} creates/s), \
         then GET by id, filter `userName eq` and PATCH replace in turn for {} s per row; \
         the bare axum server answers `GET /hello` on the same stack in the same process.\n\n",
        plan.mixed_users, plan.seconds
    ));
    out.push_str("| concurrency | request | requests | errors | req/s | p50 ms | p99 ms |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    let mut hello_rate = 0.0;
    let mut get_rate = 0.0;
    let mut targets = Targets::default();
    for concurrency in [8, 32] {
        let mixed = [Op::GetById, Op::FilterUserName, Op::PatchReplace];
        let (mut samples, elapsed) = run_load(&load, &mixed, &users, concurrency, plan).await;
        let mut all = Samples::default();
        for (op, s) in samples.iter_mut() {
            let n = s.latencies.len();
            out.push_str(&format!(
                "| {concurrency} | {} | {n} | {} | {:.0} | {:.2} | {:.2} |\n",
                op.name(),
                s.errors,
                n as f64 / elapsed.as_secs_f64(),
                ms(s.percentile(0.5)),
                ms(s.percentile(0.99)),
            ));
            all.merge(s.clone());
        }
        let n = all.latencies.len();
        if concurrency == 32 {
            targets.mixed = (
                n as f64 / elapsed.as_secs_f64(),
                ms(all.percentile(0.99)),
                all.errors,
            );
        }
        out.push_str(&format!(
            "| {concurrency} | **mixed** | {n} | {} | **{:.0}** | {:.2} | **{:.2}** |\n",
            all.errors,
            n as f64 / elapsed.as_secs_f64(),
            ms(all.percentile(0.5)),
            ms(all.percentile(0.99)),
        ));
        if concurrency == 32 {
            let (mut s, elapsed) = run_load(&load, &[Op::GetById], &users, 32, plan).await;
            let s = s.entry(Op::GetById).or_default();
            get_rate = s.latencies.len() as f64 / elapsed.as_secs_f64();
            out.push_str(&format!(
                "| 32 | GET /Users/{{id}} alone | {} | {} | {get_rate:.0} | {:.2} | {:.2} |\n",
                s.latencies.len(),
                s.errors,
                ms(s.percentile(0.5)),
                ms(s.percentile(0.99)),
            ));
        }
        let (mut h, elapsed) = run_load(&hello, &[Op::Hello], &users, concurrency, plan).await;
        let h = h.entry(Op::Hello).or_default();
        let rate = h.latencies.len() as f64 / elapsed.as_secs_f64();
        if concurrency == 32 {
            hello_rate = rate;
        }
        out.push_str(&format!(
            "| {concurrency} | {} | {} | {} | {rate:.0} | {:.2} | {:.2} |\n",
            Op::Hello.name(),
            h.latencies.len(),
            h.errors,
            ms(h.percentile(0.5)),
            ms(h.percentile(0.99)),
        ));
    }
    out.push_str(&format!(
        "\nGET by id at c=32 alone: {get_rate:.0} req/s = {:.0}% of the bare server's {hello_rate:.0} req/s.\n\n",
        100.0 * get_rate / hello_rate.max(1.0)
    ));
    targets.get_share = get_rate / hello_rate.max(1.0);

    // --- large group ---------------------------------------------------------------------------
    let (ids, fill_rate) = fill_users(&srv, "user", plan.paging_users).await?;
    let c = &srv.client;
    let gid = c.create_group("big").await;
    let gat = format!("/Groups/{gid}");
    out.push_str(&format!(
        "## Large group\n\nMembers added in-process in PATCH batches of 100; then, over HTTP, the \
         median of {} runs of: adding one member (PATCH add), removing it (PATCH remove \
         `members[value eq \"id\"]`), and `GET /Groups/{{id}}?excludedAttributes=members`.\n\n",
        plan.repeat
    ));
    out.push_str("| members | add 1 ms | remove 1 ms | GET excludedAttributes=members ms |\n");
    out.push_str("|---|---|---|---|\n");
    let mut filled = 0;
    let mut add_at = Vec::new();
    let spare = &ids[ids.len() - plan.repeat..];
    for &size in &plan.group_sizes {
        let target = size.min(ids.len() - plan.repeat);
        while filled < target {
            let end = (filled + 100).min(target);
            let r = srv
                .call(Method::Patch, &gat, Some(&members(&ids[filled..end])))
                .await;
            if r.response.status >= 300 {
                bail!("adding members answered {}", r.response.status);
            }
            filled = end;
        }
        let mut remove_times = Samples::default();
        let add = median(plan.repeat, |i| {
            let body = members(&spare[i..=i]);
            let gat = gat.clone();
            async move {
                c.patch(&gat, &body).await.expect(204);
                Ok(())
            }
        })
        .await?;
        for id in spare {
            let body = Scim::patch_body(
                json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]),
            );
            let t = Instant::now();
            c.patch(&gat, &body).await.expect(204);
            remove_times.latencies.push(t.elapsed());
        }
        let get = median(plan.repeat, |_| {
            let path = format!("{gat}?excludedAttributes=members");
            async move {
                c.get(&path).await.expect(200);
                Ok(())
            }
        })
        .await?;
        add_at.push(add);
        out.push_str(&format!(
            "| {filled} | {:.2} | {:.2} | {:.2} |\n",
            ms(add),
            ms(remove_times.percentile(0.5)),
            ms(get)
        ));
    }
    if let (Some(first), Some(last)) = (add_at.first(), add_at.last()) {
        targets.add_ratio = last.as_secs_f64() / first.as_secs_f64().max(1e-9);
        out.push_str(&format!(
            "\nAdd 1 member at {} ÷ at {} members: {:.2}.\n\n",
            filled,
            plan.group_sizes[0],
            last.as_secs_f64() / first.as_secs_f64().max(1e-9)
        ));
    }

    // --- paging ----------------------------------------------------------------------------------
    let n = plan.paging_users;
    let deep = n / 10 * 9 + 1;
    let first = median(plan.repeat, |_| async {
        c.get("/Users?startIndex=1&count=100").await.expect(200);
        Ok(())
    })
    .await?;
    let deep_path = format!("/Users?startIndex={deep}&count=100");
    let deep_t = median(plan.repeat, |_| {
        let p = deep_path.clone();
        async move {
            let r = c.get(&p).await.expect(200);
            if r.body["Resources"].as_array().map_or(0, Vec::len) != 100 {
                bail!("the deep page is not full");
            }
            Ok(())
        }
    })
    .await?;
    out.push_str(&format!(
        "## Paging\n\n{n} users (the tenant holds them and nothing else), pages of 100, median of {} requests over HTTP.\n\n",
        plan.repeat
    ));
    out.push_str("| page | ms |\n|---|---|\n");
    out.push_str(&format!("| startIndex=1 | {:.2} |\n", ms(first)));
    out.push_str(&format!("| startIndex={deep} | {:.2} |\n", ms(deep_t)));
    targets.page_ratio = deep_t.as_secs_f64() / first.as_secs_f64().max(1e-9);
    out.push_str(&format!(
        "\nPage at startIndex {deep} ÷ first page: {:.2}.\n\n",
        targets.page_ratio
    ));
    let (walk, duplicates, missing) = cursor_walk(c, &ids).await?;
    targets.cursor = (n, duplicates, missing);
    out.push_str(&walk);

    // --- import ----------------------------------------------------------------------------------
    out.push_str("## Import\n\n");
    out.push_str(&format!(
        "- one POST /Users per user, in-process, 32 in flight (the large-group and paging users above): {n} users, **{fill_rate:.0} users/s**\n"
    ));
    let (bulk, bulk_rate) = bulk_import(&srv, plan.paging_users).await?;
    out.push_str(&bulk);
    let import_dir = dir.join("import");
    std::fs::create_dir_all(&import_dir)?;
    let (import, import_rate) =
        scim_tests::import_bench::run(&import_dir, plan.paging_users, 256).await?;
    out.push_str(&import);
    targets.import = (plan.paging_users, bulk_rate, import_rate);
    out.push_str(&targets.table());
    Ok(out)
}

/// What the run measured against each target, for the closing table.
#[derive(Debug, Default)]
struct Targets {
    /// Mixed load at c=32: req/s, p99 ms, errors.
    mixed: (f64, f64, usize),
    /// GET by id alone ÷ the bare server, at c=32.
    get_share: f64,
    /// Add one member at the largest size ÷ at the smallest.
    add_ratio: f64,
    /// Deep page ÷ first page.
    page_ratio: f64,
    /// Cursor walk: users, duplicates, missing.
    cursor: (usize, usize, usize),
    /// Import: users, best users/s through /Bulk, users/s through `scimctl import`.
    import: (usize, f64, f64),
}

impl Targets {
    fn table(&self) -> String {
        let verdict = |ok: bool| if ok { "met" } else { "missed" };
        let (rate, p99, errors) = self.mixed;
        let (users, duplicates, missing) = self.cursor;
        let (imported, bulk, import) = self.import;
        let rows = [
            (
                "mixed load at c=32: ≥ 4,000 req/s, p99 ≤ 50 ms, no errors".to_string(),
                rate >= 4000.0 && p99 <= 50.0 && errors == 0,
                format!("{rate:.0} req/s, p99 {p99:.2} ms, {errors} errors"),
            ),
            (
                "GET by id ≥ 50% of the bare server".into(),
                self.get_share >= 0.5,
                format!("{:.0}%", 100.0 * self.get_share),
            ),
            (
                "add 1 member at the largest size ÷ at 10 ≤ 1.2".into(),
                self.add_ratio <= 1.2,
                format!("{:.2}", self.add_ratio),
            ),
            (
                "page at startIndex 90,001 ÷ first ≤ 2".into(),
                self.page_ratio <= 2.0,
                format!("{:.2}", self.page_ratio),
            ),
            (
                format!("cursor walk over {users} users: no duplicate, none missing"),
                duplicates == 0 && missing == 0,
                format!("{duplicates} duplicates, {missing} missing"),
            ),
            (
                format!("import of {imported} users ≥ 5,000 users/s"),
                bulk >= 5000.0 && import >= 5000.0,
                format!("/Bulk {bulk:.0} users/s, `scimctl import` {import:.0} users/s"),
            ),
        ];
        let mut out = String::from(
            "\n## Against the targets (this run)\n\n| target | | measured |\n|---|---|---|\n",
        );
        for (target, ok, measured) in rows {
            out.push_str(&format!("| {target} | {} | {measured} |\n", verdict(ok)));
        }
        out
    }
}

/// The import through `POST /Bulk` alone, on a fresh durable store.
async fn bulk_import_only(plan: &Plan, dir: &std::path::Path) -> anyhow::Result<String> {
    let store = Arc::new(EmbeddedStore::open(&dir.join("scim.redb")).context("opening the store")?);
    let srv = TestServer::with_store(store, Limits::default()).await;
    let (text, _) = bulk_import(&srv, plan.paging_users).await?;
    Ok(format!("## Import\n\n{text}"))
}

/// Operations per bulk request of the import (the service's maxOperations).
const BULK_BATCH: usize = 1000;

/// Imports `n` users over HTTP through `POST /Bulk`, `BULK_BATCH` creates per request, with 1
/// and with 4 bulk requests in flight, each into a tenant of its own; checks every operation
/// answered 201 and the tenant holds `n` users. A Markdown list item per run.
async fn bulk_import(srv: &TestServer, n: usize) -> anyhow::Result<(String, f64)> {
    let mut out = String::new();
    let mut best: f64 = 0.0;
    for concurrency in [1, 4] {
        let tenant = format!("bulk{concurrency}");
        srv.tenant(&tenant).await;
        let (token, _) = scim_shared::tenant::issue_token(&*srv.store, &tenant).await?;
        let client = Scim::new(&srv.base, Some(&token));
        let batches: Vec<Vec<usize>> = (0..n)
            .collect::<Vec<_>>()
            .chunks(BULK_BATCH)
            .map(<[usize]>::to_vec)
            .collect();
        let queue = Arc::new(std::sync::Mutex::new(batches));
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let (queue, client) = (queue.clone(), client.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    let batch = match queue.lock() {
                        Ok(mut q) => q.pop(),
                        Err(_) => None,
                    };
                    let Some(batch) = batch else {
                        return anyhow::Ok(());
                    };
                    let ops: Vec<Value> = batch
                        .iter()
                        .map(|i| {
                            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                                "data": user_body(&format!("bulk{i:06}"))})
                        })
                        .collect();
                    let body = json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                        "Operations": ops,
                    });
                    let r = client.post("/Bulk", &body).await;
                    let results = r.body["Operations"]
                        .as_array()
                        .map_or(0, |o| o.iter().filter(|op| op["status"] == "201").count());
                    if r.status != 200 || results != batch.len() {
                        bail!(
                            "a bulk import request answered {} with {results} creates",
                            r.status
                        );
                    }
                }
            }));
        }
        for w in workers {
            w.await??;
        }
        let elapsed = started.elapsed();
        let total = client.get("/Users?count=0").await.expect(200).body["totalResults"].clone();
        if total != json!(n) {
            bail!("the bulk import left {total} users, not {n}");
        }
        let rate = n as f64 / elapsed.as_secs_f64();
        best = best.max(rate);
        eprintln!(
            "bulk import, {concurrency} request(s) in flight: {n} users in {:.1} s ({rate:.0}/s)",
            elapsed.as_secs_f64()
        );
        out.push_str(&format!(
            "- through /Bulk over HTTP, {BULK_BATCH} creates per request, {concurrency} request{} in flight: {n} users in {:.1} s, **{rate:.0} users/s**\n",
            if concurrency == 1 { "" } else { "s" },
            elapsed.as_secs_f64()
        ));
    }
    Ok((out, best))
}

/// The cursor walk over every user of `acme` (RFC 9865), checked against the ids created.
async fn cursor_walk(c: &Scim, ids: &[String]) -> anyhow::Result<(String, usize, usize)> {
    let probe = c.get("/Users?cursor&count=1").await;
    if probe.body.get("nextCursor").is_none() {
        bail!("cursor paging answered no nextCursor");
    }
    let started = Instant::now();
    let mut seen = Vec::with_capacity(ids.len());
    let mut path = "/Users?cursor&count=1000".to_string();
    let mut pages = 0;
    loop {
        let r = c.get(&path).await.expect(200);
        pages += 1;
        for u in r.body["Resources"].as_array().into_iter().flatten() {
            seen.push(u["id"].as_str().unwrap_or_default().to_string());
        }
        match r.body["nextCursor"].as_str() {
            Some(next) => path = format!("/Users?cursor={}&count=1000", scim_tests::enc(next)),
            None => break,
        }
    }
    let elapsed = started.elapsed();
    let n = seen.len();
    seen.sort();
    seen.dedup();
    let duplicates = n - seen.len();
    let mut expected = ids.to_vec();
    expected.sort();
    let missing = expected
        .iter()
        .filter(|id| seen.binary_search(id).is_err())
        .count();
    let text = format!(
        "Cursor walk, count=1000: {pages} pages, {n} ids in {:.2} s ({:.2} ms per page), {duplicates} duplicates, {missing} missing.\n\n",
        elapsed.as_secs_f64(),
        ms(elapsed) / pages as f64
    );
    Ok((text, duplicates, missing))
}

/// A token of tenant `bench` for the raw load client.
async fn bench_token(srv: &TestServer) -> anyhow::Result<String> {
    let (token, _) = scim_shared::tenant::issue_token(&*srv.store, "bench").await?;
    Ok(token)
}
