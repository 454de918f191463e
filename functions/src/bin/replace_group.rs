//! `PUT /Groups/{id}`: replaces a group and its members (see `scim_functions::catalog`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run(&scim_functions::REPLACE_GROUP)?)
}
