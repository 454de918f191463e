//! `DELETE /Users/{id}`: deletes a user and its memberships (see `scim_functions::catalog`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run(&scim_functions::DELETE_USER)?)
}
