//! `GET /ServiceProviderConfig, /Schemas, /ResourceTypes`: the discovery endpoints (see `scim_functions::catalog`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run(&scim_functions::DISCOVERY)?)
}
