//! `GET /Groups`: lists and filters groups (see `scim_functions::catalog`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run(&scim_functions::LIST_GROUPS)?)
}
