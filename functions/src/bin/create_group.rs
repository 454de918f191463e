//! `POST /Groups`: creates a group (see `scim_functions::catalog`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run(&scim_functions::CREATE_GROUP)?)
}
