//! The deployed shape on one machine: the real Lambda bootstraps behind a local API Gateway
//! driven by template.yaml, over a DynamoDB Local table, with each function's IAM policy
//! enforced at the table (`scim_tests::gateway`).
//!
//! ```sh
//! cargo lambda build --release                  # target/lambda/<function>/bootstrap
//! AWS_ENDPOINT_URL=http://127.0.0.1:8000 AWS_REGION=us-east-1 \
//!   AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
//!   cargo run -p scim-tests --bin local-gateway -- --bootstraps target/lambda
//! ```
//!
//! It creates the table when missing, a tenant and its Secret Token (as an operator does with
//! `scimctl --store dynamodb://TABLE`), prints the Tenant URL and the token, and serves until
//! interrupted. It then prints what it saw and exits non-zero if any call was refused by IAM, an
//! invocation failed, or a stream record was given up on: what would fail on AWS fails here.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use scim_shared::store::{DynamoStore, create_table};
use scim_shared::tenant;
use scim_tests::gateway::{Config, Gateway};

#[derive(Debug, Parser)]
#[command(about = "The Lambda functions behind a local API Gateway, IAM enforced at the table")]
struct Args {
    /// The folder with <function>/bootstrap for every function of template.yaml.
    #[arg(long, default_value = "target/lambda")]
    bootstraps: PathBuf,
    /// DynamoDB Local.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    dynamodb: String,
    /// The table (created with the production key schema when missing).
    #[arg(long, default_value = "scim-local-gateway")]
    table: String,
    /// The tenant to create, with a Secret Token printed once.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// The loopback port (0: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where the functions' logs go (default: a folder under the system's temp dir).
    #[arg(long)]
    logs: Option<PathBuf>,
    /// Send request bodies base64-encoded, as API Gateway does for binary media types.
    #[arg(long)]
    base64_bodies: bool,
    /// Seconds the authorizer's answers are cached (default: the template's).
    #[arg(long)]
    auth_cache_ttl: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let store = DynamoStore::from_env(&args.table).await;
    if let Err(e) = create_table(store.client(), &args.table).await {
        let text = format!("{e:?}");
        if !text.contains("ResourceInUse") {
            bail!("creating table {}: {e}", args.table);
        }
    }
    let mut config = Config::new(args.bootstraps, args.dynamodb, args.table.clone());
    if let Some(logs) = args.logs {
        config.logs = logs;
    }
    if let Some(ttl) = args.auth_cache_ttl {
        config
            .parameters
            .insert("AuthorizerCacheTtl".into(), ttl.to_string());
    }
    config.base64_bodies = args.base64_bodies;
    config.port = args.port;
    let gateway = Gateway::start(config)
        .await
        .context("starting the gateway")?;
    if tenant::get_tenant(&store, &args.tenant).await?.is_none() {
        tenant::create_tenant(&store, &args.tenant).await?;
    }
    let (token, _) = tenant::issue_token(&store, &args.tenant).await?;
    println!(
        "Local API Gateway over table {} (template.yaml, IAM enforced)",
        args.table
    );
    println!("  Tenant URL:   {}", gateway.tenant_url());
    println!("  Secret Token: {token}");
    println!("  Function logs: {}", gateway.logs().display());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    // Let the stream's mapping deliver what the last requests stored.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (requests, processes) = gateway.usage();
    let stats = gateway.stream_stats();
    eprintln!(
        "local gateway: {requests} requests; {} events on the bus from {} stream records; processes per function: {processes:?}",
        gateway.bus.entries().len(),
        stats.delivered
    );
    let problems = gateway.problems();
    for p in &problems {
        eprintln!("local gateway: {p}");
    }
    if !problems.is_empty() {
        bail!(
            "{} call(s) would fail on AWS (function logs in {})",
            problems.len(),
            gateway.logs().display()
        );
    }
    Ok(())
}
