//! `PUT /Users/{id}`: replaces a user (see `scim_functions::catalog`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run(&scim_functions::REPLACE_USER)?)
}
