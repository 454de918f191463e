//! `POST /Bulk`: many user and group operations in one request (see `scim_functions::catalog`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run(&scim_functions::BULK)?)
}
