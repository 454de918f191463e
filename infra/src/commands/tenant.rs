//! `scimctl tenant`: create, list, delete tenants and change their settings.

use std::sync::Arc;

use anyhow::bail;
use scim_shared::purge;
use scim_shared::store::Store;
use scimctl::management_client::ManagementClient;
use serde_json::json;

use crate::cli::TenantCommand;

/// `store`: the store the client works on in process, if it does; a deletion there reports its
/// progress.
pub async fn run(
    client: &ManagementClient,
    store: Option<Arc<dyn Store>>,
    cmd: &TenantCommand,
) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create { tenant } => {
            let t = client.create_tenant(tenant).await?;
            eprintln!(
                "created tenant '{}'; issue its Secret Token with `scimctl token issue {}`",
                t.id, t.id
            );
            println!("{}", t.id);
        }
        TenantCommand::List => {
            for t in client.list_tenants().await? {
                let state = if t.deleting { "\tdeleting" } else { "" };
                println!("{}\t{}{state}", t.id, t.created);
            }
        }
        TenantCommand::Delete { tenant } => {
            let steps: Vec<(String, u64)> = match store {
                Some(store) => {
                    // A spinner on a terminal; nothing when stderr is not one (scripts read the
                    // summary).
                    let spinner = indicatif::ProgressBar::new_spinner();
                    let steps = purge::delete_tenant(&*store, tenant, &mut |p| {
                        spinner.set_message(format!("{}: {} deleted", p.reach, p.deleted));
                        spinner.tick();
                    })
                    .await;
                    spinner.finish_and_clear();
                    steps?
                        .into_iter()
                        .map(|s| (s.reach.to_string(), s.deleted))
                        .collect()
                }
                None => client
                    .delete_tenant(tenant)
                    .await?
                    .steps
                    .into_iter()
                    .map(|s| (s.items, s.deleted))
                    .collect(),
            };
            let mut total = 0;
            for (items, deleted) in steps {
                if deleted > 0 {
                    eprintln!("  {items}: {deleted}");
                }
                total += deleted;
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
            let mut settings = serde_json::Map::new();
            if let Some(d) = dialect {
                settings.insert(
                    "dialect".into(),
                    json!(scim_shared::tenant::Dialect::from(*d)),
                );
            }
            if let Some(days) = log_retention_days {
                settings.insert("log_retention_days".into(), json!(days));
            }
            if let Some(d) = deactivation {
                let d = scim_shared::tenant::Deactivation::from(*d);
                settings.insert("deactivation".into(), json!(d));
            }
            let t = client.set_settings(tenant, settings.into()).await?;
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
