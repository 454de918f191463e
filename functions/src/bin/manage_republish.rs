//! The management API's republish route (`POST /admin/v1/tenants/{tenant}/events/republish`,
//! IAM-authorised; see `scim_functions::manage`): a tenant's events sent to the bus again.

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run_management(
        scim_shared::manage::Concern::Republish,
    )?)
}
