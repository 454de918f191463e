//! `scimctl`: run the SCIM service locally and administer tenants and tokens.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use scim_shared::ops::{Ctx, Limits};
use scim_shared::service::Service;
use scim_shared::{purge, tenant};
use scimctl::store_url::StoreUrl;
use scimctl::{report, server};

/// mimalloc instead of glibc's allocator: the server allocates per request on every worker
/// thread, where glibc malloc/free showed as ~15% of CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        /// File whose first line is the token of the operator API (/admin/...). The token may
        /// come from the environment variable SCIM_OPERATOR_TOKEN instead, never from the
        /// command line, where every user of the machine sees it (`ps`). When neither is set, a
        /// random token is generated and printed.
        #[arg(long, value_name = "PATH", env = "SCIM_OPERATOR_TOKEN_FILE")]
        operator_token_file: Option<std::path::PathBuf>,
        /// Seconds a Secret Token's authorization is kept, as API Gateway caches its
        /// authorizer's answers: a revoked token or changed settings take effect within it.
        /// 0 reads the token on every request.
        #[arg(long, env = "SCIM_AUTH_CACHE_TTL", default_value_t = server::DEFAULT_AUTH_CACHE_TTL.as_secs())]
        auth_cache_ttl: u64,
    },
    /// Deactivate a user and remove its group memberships at once, and deliver the emergency
    /// leaver event to the tenant's webhook before returning.
    EmergencyLogout { tenant: String, user: String },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage a tenant's Secret Tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the DynamoDB table (for emulators; on AWS the table comes from template.yaml).
    #[command(subcommand)]
    Table(TableCommand),
    /// Print a tenant's audit log: one line per provisioning request (names, never values).
    Log {
        tenant: String,
        /// From when: an RFC 3339 time, a day (2026-11-23) or an age (30m, 12h, 7d).
        #[arg(long, default_value = "1d")]
        since: String,
        /// Only requests that failed (status 400 and above).
        #[arg(long)]
        failed: bool,
        /// One JSON record per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Lifecycle events of the local outbox.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Manage a tenant's webhook: `serve` POSTs its events there, signed with HMAC-SHA256.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Role-based provisioning: rules granting application roles to the members of a group.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Import users and groups from a JSONL or CSV file, idempotently and resumably (README,
    /// "Import").
    Import(scimctl::import::ImportArgs),
}

#[derive(Debug, Subcommand)]
enum RolesCommand {
    /// Grant roles to the members of a group (its id or displayName), replacing the group's
    /// rule; members whose effective roles change get a `mover` event.
    Set {
        tenant: String,
        group: String,
        /// A role to grant; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// List a tenant's rules; with --user, that user's effective roles.
    List {
        tenant: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// Remove the rule of a group (its id or displayName).
    Delete { tenant: String, group: String },
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Set the webhook URL (http:// or https://) and print its new signing secret, once.
    Set { tenant: String, url: String },
    /// Print the webhook URL (never the secret).
    Show { tenant: String },
    /// Stop delivering to a webhook.
    Delete { tenant: String },
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Print a tenant's events, oldest first; with --follow, keep printing new ones.
    Tail {
        tenant: String,
        /// From when: an RFC 3339 time, a day or an age (30m, 12h, 7d).
        #[arg(long, default_value = "1d")]
        since: String,
        /// Poll for new events every 500 ms until interrupted.
        #[arg(long)]
        follow: bool,
        /// The events as JSON, one per line (with attribute values).
        #[arg(long)]
        json: bool,
    },
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
    /// Delete a tenant and everything keyed by it: tokens, users, groups, memberships, counters,
    /// audit log, events, role rules and webhook. Resumable: run it again if it was interrupted.
    Delete { tenant: String },
    /// Change a tenant's settings (they reach its tokens at once; a Lambda authorizer's cache
    /// picks them up within its TTL).
    Set {
        tenant: String,
        /// `auto` rewrites what identity providers really send into strict RFC 7644 form
        /// (docs/dialects.md); `strict` answers anything else with a SCIM error.
        #[arg(long, value_enum)]
        dialect: Option<DialectArg>,
        /// Days the audit log keeps each record (default 90).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        log_retention_days: Option<u16>,
        /// `emergency` treats an identity provider's deactivation of a user as an Emergency
        /// Logout (the leaver is marked emergency and delivered before the answer); `leaver`
        /// (the default) delivers it like any event.
        #[arg(long, value_enum)]
        deactivation: Option<DeactivationArg>,
    },
}

/// The `--deactivation` values of `tenant set`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DeactivationArg {
    Leaver,
    Emergency,
}

impl From<DeactivationArg> for tenant::Deactivation {
    fn from(d: DeactivationArg) -> Self {
        match d {
            DeactivationArg::Leaver => tenant::Deactivation::Leaver,
            DeactivationArg::Emergency => tenant::Deactivation::Emergency,
        }
    }
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
    let cli = Cli::parse();
    // An import reports every row in its summary, not one log line per request.
    let default_log = match cli.command {
        Command::Import(_) => "warn",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log)),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve {
            addr,
            public_url,
            operator_token_file,
            auth_cache_ttl,
        } => {
            let operator_token = scimctl::operator_api::operator_token(
                operator_token_file.as_deref(),
                std::env::var(scimctl::operator_api::OPERATOR_TOKEN_ENV).ok(),
            )?;
            let auth_ttl = std::time::Duration::from_secs(auth_cache_ttl);
            serve(
                cli.store.open().await?,
                addr,
                public_url,
                operator_token,
                auth_ttl,
            )
            .await
        }
        Command::EmergencyLogout { tenant, user } => {
            let service = Service::new(cli.store.open().await?, Limits::default());
            let client = scimctl::webhook::client();
            let r = scimctl::operator_api::emergency_logout(&service, &client, &tenant, &user, "scimctl")
                .await?;
            eprintln!(
                "user {user} of tenant '{tenant}' logged out: deactivated, removed from {} \
                 groups; webhook: {} ({:.1} ms)",
                r.event
                    .changes
                    .iter()
                    .find(|c| c.attribute == "groups")
                    .map_or(0, |c| c.removed.len()),
                r.webhook,
                r.elapsed.as_secs_f64() * 1000.0
            );
            println!("{}", serde_json::to_string(&r.event)?);
            Ok(())
        }
        Command::Tenant(cmd) => tenant_command(cli.store.open().await?, cmd).await,
        Command::Token(cmd) => token_command(cli.store.open().await?, cmd).await,
        Command::Table(TableCommand::Create) => create_table(&cli.store).await,
        Command::Log {
            tenant,
            since,
            failed,
            json,
        } => log(cli.store.open().await?, &tenant, &since, failed, json).await,
        Command::Events(EventsCommand::Tail {
            tenant,
            since,
            follow,
            json,
        }) => events_tail(cli.store.open().await?, &tenant, &since, follow, json).await,
        Command::Webhook(cmd) => webhook_command(cli.store.open().await?, cmd).await,
        Command::Roles(cmd) => roles_command(cli.store.open().await?, cmd).await,
        Command::Import(args) => import(cli.store.open().await?, &args, &args.options()).await,
    }
}

/// `scimctl import`: the summary on stderr (or as JSON on stdout); exit status 2 when rows
/// failed, 130 when interrupted (the checkpoint resumes it).
async fn import(
    store: Arc<dyn scim_shared::store::Store>,
    args: &scimctl::import::ImportArgs,
    opts: &scimctl::import::Options,
) -> anyhow::Result<()> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        eprintln!("stopping after the rows in flight; Ctrl-C again to quit at once");
        on_signal.store(true, std::sync::atomic::Ordering::Relaxed);
        shutdown_signal().await;
        std::process::exit(130);
    });
    let summary = scimctl::import::run(store, &args.tenant, opts, &stop).await?;
    if let Some(path) = &args.failures {
        let mut lines = String::new();
        for f in &summary.failures {
            lines.push_str(&serde_json::to_string(f)?);
            lines.push('\n');
        }
        std::fs::write(path, lines).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.render(20));
    }
    if summary.interrupted {
        std::process::exit(130);
    }
    if !summary.failures.is_empty() {
        std::process::exit(2);
    }
    Ok(())
}

async fn roles_command(
    store: Arc<dyn scim_shared::store::Store>,
    cmd: RolesCommand,
) -> anyhow::Result<()> {
    use scim_shared::ops::effective_roles;
    let service = Service::new(store.clone(), Limits::default());
    let tenant = match &cmd {
        RolesCommand::Set { tenant, .. }
        | RolesCommand::List { tenant, .. }
        | RolesCommand::Delete { tenant, .. } => tenant.clone(),
    };
    if tenant::get_live_tenant(&*store, &tenant).await?.is_none() {
        bail!("tenant '{tenant}' does not exist");
    }
    let scim = |e: scim_shared::ScimError| anyhow::anyhow!("{e}");
    match cmd {
        RolesCommand::Set { group, roles, .. } => {
            let grant = roles.into_iter().collect();
            let update = service
                .update_role_rule(&tenant, &group, Some(grant), "scimctl")
                .await
                .map_err(scim)?;
            if let Some(rule) = &update.rule {
                eprintln!(
                    "members of group {} ({}) get: {}; {} mover events",
                    rule.display_name,
                    rule.group,
                    rule.roles.iter().cloned().collect::<Vec<_>>().join(", "),
                    update.events.len()
                );
            }
        }
        RolesCommand::Delete { group, .. } => {
            let update = service
                .update_role_rule(&tenant, &group, None, "scimctl")
                .await
                .map_err(scim)?;
            match &update.rule {
                Some(rule) => eprintln!(
                    "rule of group {} ({}) removed; {} mover events",
                    rule.display_name,
                    rule.group,
                    update.events.len()
                ),
                None => eprintln!("group '{group}' has no rule"),
            }
        }
        RolesCommand::List {
            user: Some(user), ..
        } => {
            let limits = Limits::default();
            let ctx = Ctx::new(&tenant, &*store, &limits);
            let roles = effective_roles::of_user(&ctx, &user).await.map_err(scim)?;
            for role in roles {
                println!("{role}");
            }
        }
        RolesCommand::List { user: None, .. } => {
            let rules = scim_shared::roles::load(&*store, &tenant).await?;
            print!("{}", report::roles_table(&rules));
        }
    }
    Ok(())
}

async fn webhook_command(
    store: Arc<dyn scim_shared::store::Store>,
    cmd: WebhookCommand,
) -> anyhow::Result<()> {
    use scim_shared::events::webhook;
    match cmd {
        WebhookCommand::Set { tenant, url } => {
            if tenant::get_live_tenant(&*store, &tenant).await?.is_none() {
                bail!("tenant '{tenant}' does not exist");
            }
            let hook = webhook::set(&*store, &tenant, &url).await?;
            eprintln!(
                "tenant '{tenant}' delivers events to {}; verify X-Scim-Signature with this \
                 secret (shown only this once):",
                hook.url
            );
            println!("{}", hook.secret);
        }
        WebhookCommand::Show { tenant } => match webhook::get(&*store, &tenant).await? {
            Some(hook) => println!("{}", hook.url),
            None => eprintln!("tenant '{tenant}' has no webhook"),
        },
        WebhookCommand::Delete { tenant } => {
            webhook::delete(&*store, &tenant).await?;
            eprintln!("tenant '{tenant}' has no webhook now");
        }
    }
    Ok(())
}

fn since(s: &str) -> anyhow::Result<time::OffsetDateTime> {
    report::parse_since(s, time::OffsetDateTime::now_utc()).with_context(|| {
        format!("--since '{s}': give an RFC 3339 time, a day (2026-11-23) or an age (30m, 12h, 7d)")
    })
}

async fn log(
    store: Arc<dyn scim_shared::store::Store>,
    tenant: &str,
    since_arg: &str,
    failed: bool,
    json: bool,
) -> anyhow::Result<()> {
    let from = since(since_arg)?;
    let mut records =
        scim_shared::audit::read(&*store, tenant, from, time::OffsetDateTime::now_utc()).await?;
    records.retain(|r| !failed || r.failed());
    if json {
        for r in &records {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        print!("{}", report::log_table(&records));
    }
    Ok(())
}

async fn events_tail(
    store: Arc<dyn scim_shared::store::Store>,
    tenant: &str,
    since_arg: &str,
    follow: bool,
    json: bool,
) -> anyhow::Result<()> {
    let mut from = since(since_arg)?;
    let mut seen: Option<String> = None;
    loop {
        let now = time::OffsetDateTime::now_utc();
        for stored in scim_shared::events::outbox::read(&*store, tenant, from, now).await? {
            if seen.as_ref().is_some_and(|s| stored.position <= *s) {
                continue;
            }
            if json {
                println!("{}", serde_json::to_string(&stored.event)?);
            } else {
                println!("{}", report::event_line(&stored.event));
            }
            seen = Some(stored.position);
        }
        if !follow {
            return Ok(());
        }
        // Re-read from a little before the last poll: items of the same millisecond may land
        // after it; `seen` keeps them from printing twice.
        from = now - time::Duration::seconds(2);
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            () = shutdown_signal() => return Ok(()),
        }
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
    operator_token: Option<String>,
    auth_ttl: std::time::Duration,
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
    let operator_token = match operator_token {
        Some(t) => t,
        None => {
            let t = scimctl::operator_api::generate_token()?;
            println!("Operator token (admin API, this run only): {t}");
            t
        }
    };
    let sink = scimctl::webhook::WebhookSink::spawn(store.clone(), Default::default());
    let service = Arc::new(Service::new(store, Limits::default()).with_sink(sink));
    let app = scimctl::operator_api::router(service.clone(), &operator_token)
        .merge(server::app(service, public_url, auth_ttl));
    scim_shared::boundary::log_panics();
    server::serve(listener, app, shutdown_signal()).await?;
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
                let state = if t.deleting { "\tdeleting" } else { "" };
                println!("{}\t{}{state}", t.id, t.created);
            }
        }
        TenantCommand::Delete { tenant } => {
            // A spinner on a terminal; nothing when stderr is not one (scripts read the summary).
            let spinner = indicatif::ProgressBar::new_spinner();
            let steps = purge::delete_tenant(&*store, &tenant, &mut |p| {
                spinner.set_message(format!("{}: {} deleted", p.reach, p.deleted));
                spinner.tick();
            })
            .await;
            spinner.finish_and_clear();
            let mut total = 0;
            for step in steps? {
                if step.deleted > 0 {
                    eprintln!("  {}: {}", step.reach, step.deleted);
                }
                total += step.deleted;
            }
            eprintln!("deleted tenant '{tenant}' and all its data: {total} items");
        }
        TenantCommand::Set {
            tenant,
            dialect,
            log_retention_days,
            deactivation,
        } => {
            if dialect.is_none() && log_retention_days.is_none() && deactivation.is_none() {
                bail!("nothing to set; give a setting such as --dialect strict");
            }
            let current = tenant::get_tenant(&*store, &tenant)
                .await?
                .with_context(|| format!("tenant '{tenant}' does not exist"))?;
            let mut settings = current.settings;
            if let Some(d) = dialect {
                settings.dialect = d.into();
            }
            if let Some(days) = log_retention_days {
                settings.log_retention_days = days;
            }
            if let Some(d) = deactivation {
                settings.deactivation = d.into();
            }
            let t = tenant::set_settings(&*store, &tenant, settings).await?;
            eprintln!(
                "tenant '{}': dialect {}, audit log retention {} days, IdP deactivation = {}",
                t.id,
                t.settings.dialect.as_str(),
                t.settings.log_retention_days,
                t.settings.deactivation.as_str()
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_token_is_not_taken_from_the_command_line() {
        assert!(Cli::try_parse_from(["scimctl", "serve", "--operator-token", "op_x"]).is_err());
        let cli = Cli::try_parse_from(["scimctl", "serve", "--operator-token-file", "/run/op"])
            .expect("a file is accepted");
        assert!(matches!(
            cli.command,
            Command::Serve { operator_token_file: Some(p), .. } if p.as_os_str() == "/run/op"
        ));
    }
}
