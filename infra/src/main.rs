//! `scimctl`: run the SCIM service locally and administer tenants and tokens.
//!
//! The command line is defined in [`cli`] (its doc comments are the help text) and each command
//! runs in its module of [`commands`]; this file parses, sets up logging and dispatches. The
//! server, the operator HTTP API and the import are in the library (`scimctl::…`).

mod cli;
mod commands;

use std::sync::Arc;

use clap::Parser as _;
use scim_shared::ops::Limits;
use scim_shared::service::Service;
use scim_shared::store::Store;
use scimctl::management_client::ManagementClient;
use scimctl::store_url::StoreUrl;

use crate::cli::{Cli, Command, EventsCommand, TableCommand};

/// mimalloc instead of glibc's allocator: the server allocates per request on every worker
/// thread, where glibc malloc/free showed as ~15% of CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the command; a failure is one line on stderr (its causes joined with `: `, never a
/// backtrace) and exit status 1.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scimctl: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
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
    match &cli.command {
        Command::Serve {
            addr,
            public_url,
            operator_token_file,
            auth_cache_ttl,
        } => {
            store_only(&cli)?;
            commands::serve::run(
                &cli.store,
                *addr,
                public_url.clone(),
                operator_token_file.as_deref(),
                *auth_cache_ttl,
            )
            .await
        }
        Command::EmergencyLogout { tenant, user } => match &cli.api {
            Some(_) => {
                let client = management(&cli, None).await?;
                commands::emergency_logout::through_api(&client, tenant, user).await
            }
            None => commands::emergency_logout::run(cli.store.open().await?, tenant, user).await,
        },
        Command::Tenant(cmd) => {
            let store = match cli.api {
                Some(_) => None,
                None => Some(cli.store.open().await?),
            };
            commands::tenant::run(&management(&cli, store.clone()).await?, store, cmd).await
        }
        Command::Token(cmd) => commands::token::run(&management(&cli, None).await?, cmd).await,
        Command::Client(cmd) => commands::client::run(&management(&cli, None).await?, cmd).await,
        Command::Table(TableCommand::Create) => {
            store_only(&cli)?;
            commands::table::run(&cli.store).await
        }
        Command::Log {
            tenant,
            since,
            failed,
            json,
        } => {
            let client = management(&cli, None).await?;
            commands::log::run(&client, tenant, since, *failed, *json).await
        }
        Command::Events(EventsCommand::Tail {
            tenant,
            since,
            follow,
            json,
        }) => {
            let client = management(&cli, None).await?;
            commands::events::run(&client, tenant, since, *follow, *json).await
        }
        Command::Events(EventsCommand::Republish {
            tenant,
            since,
            until,
        }) => {
            if cli.api.is_none() && matches!(cli.store, StoreUrl::DynamoDb(_)) {
                eprintln!(
                    "republishing to the tenants' webhooks; a stack's EventBridge bus is reached \
                     through --api"
                );
            }
            let client = management(&cli, None).await?;
            commands::events::republish(&client, tenant.as_deref(), since, until.as_deref()).await
        }
        Command::Webhook(cmd) => commands::webhook::run(local(&cli).await?, cmd.clone()).await,
        Command::Roles(cmd) => commands::roles::run(local(&cli).await?, cmd.clone()).await,
        Command::Import(args) => {
            commands::import::run(local(&cli).await?, args, &args.options()).await
        }
    }
}

/// The management API the tenant, token, log and events commands call: through `--api`, or in
/// process over `--store` (`store`, when the caller opened it already).
async fn management(cli: &Cli, store: Option<Arc<dyn Store>>) -> anyhow::Result<ManagementClient> {
    Ok(match &cli.api {
        Some(url) => {
            let token = std::env::var(scimctl::operator_api::OPERATOR_TOKEN_ENV).ok();
            ManagementClient::from_env(url, token).await?
        }
        None => {
            let store = match store {
                Some(s) => s,
                None => cli.store.open().await?,
            };
            ManagementClient::local(Arc::new(Service::new(store, Limits::default())))
        }
    })
}

/// The store of a command that has no management API route.
async fn local(cli: &Cli) -> anyhow::Result<Arc<dyn Store>> {
    store_only(cli)?;
    cli.store.open().await
}

/// Refuses `--api` for a command that works on a store.
fn store_only(cli: &Cli) -> anyhow::Result<()> {
    if cli.api.is_some() {
        anyhow::bail!(
            "this command works on a store (--store), not through --api: the management API \
             serves tenants, tokens, the audit log and events"
        );
    }
    Ok(())
}
