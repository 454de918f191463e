//! The API Gateway REQUEST authorizer: bearer token -> tenant (see `scim_functions::authorizer`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run_authorizer()?)
}
