//! `scimctl`: run the SCIM service locally and administer tenants and tokens.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use scim_shared::ops::{self, Ctx, Limits};
use scim_shared::service::Service;
use scim_shared::tenant;
use scimctl::server;
use scimctl::store_url::StoreUrl;

#[derive(Debug, Parser)]
#[command(
    name = "scimctl",
    version,
    about = "Multi-tenant SCIM 2.0 service: local server and administration"
)]
struct Cli {
    /// Where data lives: a directory for the embedded file store, or `memory`.
    #[arg(long, global = true, env = "SCIM_STORE", default_value = "./scim-data")]
    store: StoreUrl,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the SCIM API under /scim/v2.
    Serve {
        #[arg(long, env = "SCIM_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Public base URL of the API, if not http://<Host header>/scim/v2.
        #[arg(long, env = "SCIM_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage a tenant's Secret Tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the DynamoDB table (for emulators; on AWS the table comes from template.yaml).
    #[command(subcommand)]
    Table(TableCommand),
}

#[derive(Debug, Subcommand)]
enum TableCommand {
    /// Create the table named by `--store dynamodb://TABLE` with the key schema, index, stream
    /// and TTL that template.yaml declares.
    Create,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create { tenant: String },
    /// List tenants.
    List,
    /// Delete a tenant with all its users, groups and tokens.
    Delete { tenant: String },
    /// Change a tenant's settings (they reach its tokens at once; a Lambda authorizer's cache
    /// picks them up within its TTL).
    Set {
        tenant: String,
        /// `auto` rewrites what identity providers really send into strict RFC 7644 form
        /// (docs/dialects.md); `strict` answers anything else with a SCIM error.
        #[arg(long, value_enum)]
        dialect: Option<DialectArg>,
    },
}

/// The `--dialect` values of `tenant set`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DialectArg {
    Auto,
    Strict,
}

impl From<DialectArg> for tenant::Dialect {
    fn from(d: DialectArg) -> Self {
        match d {
            DialectArg::Auto => tenant::Dialect::Auto,
            DialectArg::Strict => tenant::Dialect::Strict,
        }
    }
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue a Secret Token: printed once on stdout, stored only as a hash.
    Issue { tenant: String },
    /// List a tenant's tokens (ids and creation times, never the secrets).
    List { tenant: String },
    /// Revoke a token by its id.
    Revoke { tenant: String, token_id: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { addr, public_url } => {
            serve(cli.store.open().await?, addr, public_url).await
        }
        Command::Tenant(cmd) => tenant_command(cli.store.open().await?, cmd).await,
        Command::Token(cmd) => token_command(cli.store.open().await?, cmd).await,
        Command::Table(TableCommand::Create) => create_table(&cli.store).await,
    }
}

async fn create_table(store: &StoreUrl) -> anyhow::Result<()> {
    let StoreUrl::DynamoDb(table) = store else {
        bail!("`table create` needs --store dynamodb://TABLE");
    };
    let store = scim_shared::store::DynamoStore::from_env(table.clone()).await;
    scim_shared::store::create_table(store.client(), table).await?;
    eprintln!("created DynamoDB table '{table}'");
    Ok(())
}

async fn serve(
    store: Arc<dyn scim_shared::store::Store>,
    addr: SocketAddr,
    public_url: Option<String>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    let tenant_url = public_url
        .clone()
        .unwrap_or_else(|| server::tenant_url(local));
    if tenant::list_tenants(&*store).await?.is_empty() {
        tenant::create_tenant(&*store, "default").await?;
        let (token, _) = tenant::issue_token(&*store, "default").await?;
        println!("Created tenant 'default'. Paste these into your identity provider:");
        println!("  Tenant URL:   {tenant_url}");
        println!("  Secret Token: {token}");
        println!("The token is shown only this once; `scimctl token issue default` makes another.");
    }
    eprintln!("scimctl serving {tenant_url}");
    let service = Arc::new(Service::new(store, Limits::default()));
    server::serve(
        listener,
        server::app(service, public_url),
        shutdown_signal(),
    )
    .await?;
    eprintln!("scimctl stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

async fn tenant_command(
    store: Arc<dyn scim_shared::store::Store>,
    cmd: TenantCommand,
) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create { tenant } => {
            let t = tenant::create_tenant(&*store, &tenant).await?;
            eprintln!(
                "created tenant '{}'; issue its Secret Token with `scimctl token issue {}`",
                t.id, t.id
            );
            println!("{}", t.id);
        }
        TenantCommand::List => {
            for t in tenant::list_tenants(&*store).await? {
                println!("{}\t{}", t.id, t.created);
            }
        }
        TenantCommand::Delete { tenant } => {
            if tenant::get_tenant(&*store, &tenant).await?.is_none() {
                bail!("tenant '{tenant}' does not exist");
            }
            let limits = Limits::default();
            let ctx = Ctx {
                tenant: &tenant,
                store: &*store,
                base_url: "",
                limits: &limits,
            };
            let n = ops::purge_tenant(&ctx)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tenant::delete_tenant(&*store, &tenant).await?;
            eprintln!("deleted tenant '{tenant}' with {n} resources");
        }
        TenantCommand::Set { tenant, dialect } => {
            let Some(dialect) = dialect else {
                bail!("nothing to set; give a setting such as --dialect strict");
            };
            let current = tenant::get_tenant(&*store, &tenant)
                .await?
                .with_context(|| format!("tenant '{tenant}' does not exist"))?;
            let mut settings = current.settings;
            settings.dialect = dialect.into();
            let t = tenant::set_settings(&*store, &tenant, settings).await?;
            eprintln!("tenant '{}': dialect {}", t.id, t.settings.dialect.as_str());
        }
    }
    Ok(())
}

async fn token_command(
    store: Arc<dyn scim_shared::store::Store>,
    cmd: TokenCommand,
) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Issue { tenant } => {
            let (token, info) = tenant::issue_token(&*store, &tenant).await?;
            eprintln!(
                "issued token {} for tenant '{tenant}'; it is shown only this once",
                info.id
            );
            println!("{token}");
        }
        TokenCommand::List { tenant } => {
            for t in tenant::list_tokens(&*store, &tenant).await? {
                println!("{}\t{}", t.id, t.created);
            }
        }
        TokenCommand::Revoke { tenant, token_id } => {
            tenant::revoke_token(&*store, &tenant, &token_id).await?;
            eprintln!("revoked token {token_id} of tenant '{tenant}'");
        }
    }
    Ok(())
}
