//! The OAuth 2.0 token endpoint (`POST /oauth/token`, no Lambda authorizer; see
//! `scim_functions::oauth`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run_oauth_token()?)
}
