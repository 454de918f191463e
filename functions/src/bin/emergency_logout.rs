//! `POST /admin/tenants/{tenant}/users/{id}/emergency-logout`, signed with SigV4 (see
//! `scim_functions::emergency`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run_emergency_logout()?)
}
