//! `scimctl token`: issue, list and revoke a tenant's Secret Tokens.

use std::sync::Arc;

use scim_shared::tenant;

use crate::cli::TokenCommand;

pub async fn run(
    store: Arc<dyn scim_shared::store::Store>,
    cmd: TokenCommand,
) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Issue { tenant } => {
            let (token, info) = tenant::issue_token(&*store, &tenant).await?;
            eprintln!(
                "issued token {} for tenant '{tenant}'; it is shown only this once",
                info.id
            );
            println!("{token}");
        }
        TokenCommand::List { tenant } => {
            for t in tenant::list_tokens(&*store, &tenant).await? {
                println!("{}\t{}", t.id, t.created);
            }
        }
        TokenCommand::Revoke { tenant, token_id } => {
            tenant::revoke_token(&*store, &tenant, &token_id).await?;
            eprintln!("revoked token {token_id} of tenant '{tenant}'");
        }
    }
    Ok(())
}
