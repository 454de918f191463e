//! `scimctl token`: issue, list and revoke a tenant's Secret Tokens.

use scimctl::management_client::ManagementClient;

use crate::cli::TokenCommand;

pub async fn run(client: &ManagementClient, cmd: &TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Issue { tenant } => {
            let (token, info) = client.issue_token(tenant).await?;
            eprintln!(
                "issued token {} for tenant '{tenant}'; it is shown only this once",
                info.id
            );
            println!("{token}");
        }
        TokenCommand::List { tenant } => {
            for t in client.list_tokens(tenant).await? {
                println!("{}\t{}", t.id, t.created);
            }
        }
        TokenCommand::Revoke { tenant, token_id } => {
            client.revoke_token(tenant, token_id).await?;
            eprintln!("revoked token {token_id} of tenant '{tenant}'");
        }
    }
    Ok(())
}
