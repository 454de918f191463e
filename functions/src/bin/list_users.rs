//! `GET /Users`: lists and filters users (see `scim_functions::catalog`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run(&scim_functions::LIST_USERS)?)
}
