//! `scimctl client`: a tenant's OAuth clients (create, list, revoke) and their secrets.

use scim_shared::tenant::clients::Federation;
use scimctl::management_client::ManagementClient;

use crate::cli::{ClientCommand, ClientSecretCommand};

pub async fn run(api: &ManagementClient, cmd: &ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Create {
            tenant,
            federated,
            issuer,
            jwks_url,
            subject,
            audience,
        } => {
            let federation = match (federated, issuer, jwks_url, subject, audience) {
                (true, Some(issuer), Some(jwks_url), Some(subject), Some(audience)) => {
                    Some(Federation {
                        issuer: issuer.clone(),
                        jwks_url: jwks_url.clone(),
                        subject: subject.clone(),
                        audience: audience.clone(),
                    })
                }
                (true, ..) => anyhow::bail!(
                    "a federated client needs --issuer, --jwks-url, --subject and --audience"
                ),
                _ => None,
            };
            let created = api.create_client(tenant, federation.as_ref()).await?;
            println!("{}", created.info.id);
            match &created.secret {
                Some(secret) => {
                    println!("{secret}");
                    eprintln!(
                        "created OAuth client {} for tenant '{tenant}'; its secret (second line) \
                         is shown only this once",
                        created.info.id
                    );
                }
                None => eprintln!(
                    "created federated OAuth client {} for tenant '{tenant}'",
                    created.info.id
                ),
            }
            if api.is_local() {
                eprintln!("Token URL: /oauth/token on the host of the Tenant URL");
            } else {
                eprintln!("Token URL: {}", created.token_url);
            }
        }
        ClientCommand::List { tenant } => {
            for c in api.list_clients(tenant).await? {
                let secrets: Vec<&str> = c.secrets.iter().map(|s| s.id.as_str()).collect();
                let detail = match &c.federation {
                    Some(f) => format!("issuer={} subject={}", f.issuer, f.subject),
                    None => format!("secrets={}", secrets.join(",")),
                };
                println!("{}\t{}\t{}\t{detail}", c.id, c.kind, c.created);
            }
        }
        ClientCommand::Revoke { tenant, client_id } => {
            api.revoke_client(tenant, client_id).await?;
            eprintln!("revoked OAuth client {client_id} of tenant '{tenant}'");
        }
        ClientCommand::Secret(ClientSecretCommand::Add { tenant, client_id }) => {
            let (secret, info) = api.add_client_secret(tenant, client_id).await?;
            eprintln!(
                "added secret {} to OAuth client {client_id}; it is shown only this once",
                info.id
            );
            println!("{secret}");
        }
        ClientCommand::Secret(ClientSecretCommand::Revoke {
            tenant,
            client_id,
            secret_id,
        }) => {
            api.revoke_client_secret(tenant, client_id, secret_id)
                .await?;
            eprintln!("revoked secret {secret_id} of OAuth client {client_id}");
        }
    }
    Ok(())
}
