//! `scimctl webhook`: set, show and delete a tenant's webhook.

use std::sync::Arc;

use anyhow::bail;
use scim_shared::tenant;

use crate::cli::WebhookCommand;

pub async fn run(
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
