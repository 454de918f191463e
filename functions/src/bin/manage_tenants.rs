//! The management API's tenants routes (`/admin/v1/tenants/...`, IAM-authorised; see
//! `scim_functions::manage`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run_management(
        scim_shared::manage::Concern::Tenants,
    )?)
}
