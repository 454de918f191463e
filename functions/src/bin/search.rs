//! `POST /.search`: searches users, groups or both (see `scim_functions::catalog`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run(&scim_functions::SEARCH)?)
}
