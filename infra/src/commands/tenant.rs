//! `scimctl tenant`: create, list, delete tenants and change their settings.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use scim_shared::{purge, tenant};

use crate::cli::TenantCommand;

pub async fn run(
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
