//! `scimctl roles`: role rules granting application roles to the members of a group.

use std::sync::Arc;

use anyhow::bail;
use scim_shared::ops::{Ctx, Limits};
use scim_shared::service::Service;
use scim_shared::tenant;
use scimctl::report;

use crate::cli::RolesCommand;

pub async fn run(
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
