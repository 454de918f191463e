//! `scimctl serve`: the SCIM API under /scim/v2 and the operator HTTP API (the management API
//! and Emergency Logout) under /admin, on one
//! listener, until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use scim_shared::ops::Limits;
use scim_shared::service::Service;
use scim_shared::tenant;
use scimctl::server;
use scimctl::store_url::StoreUrl;

use super::shutdown_signal;

/// Reads the operator token (`--operator-token-file` or `SCIM_OPERATOR_TOKEN`), opens the store
/// and serves.
pub async fn run(
    store: &StoreUrl,
    addr: SocketAddr,
    public_url: Option<String>,
    operator_token_file: Option<&Path>,
    auth_cache_ttl: u64,
) -> anyhow::Result<()> {
    let operator_token = scimctl::operator_api::operator_token(
        operator_token_file,
        std::env::var(scimctl::operator_api::OPERATOR_TOKEN_ENV).ok(),
    )?;
    let auth_ttl = std::time::Duration::from_secs(auth_cache_ttl);
    let opened = store.open_exclusive().await?;
    // Commands run beside the server reach a directory store through it.
    let _shared = match store {
        StoreUrl::Dir(dir) => Some(
            scimctl::store_socket::share(opened.clone(), dir)
                .with_context(|| format!("sharing the store in {}", dir.display()))?,
        ),
        _ => None,
    };
    serve(opened, addr, public_url, operator_token, auth_ttl).await
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
    eprintln!(
        "OAuth token endpoint: {}",
        scim_shared::manage::token_url(&tenant_url)
    );
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
    let app = scimctl::operator_api::router(service.clone(), &operator_token, public_url.clone())
        .merge(server::app(
            service,
            public_url,
            auth_ttl,
            Arc::new(scim_shared::oauth::Jwks::from_env()),
        ));
    scim_shared::boundary::log_panics();
    server::serve(listener, app, shutdown_signal()).await?;
    eprintln!("scimctl stopped");
    Ok(())
}
