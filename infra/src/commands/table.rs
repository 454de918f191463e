//! `scimctl table create`: the DynamoDB table, for emulators.

use anyhow::bail;
use scimctl::store_url::StoreUrl;

pub async fn run(store: &StoreUrl) -> anyhow::Result<()> {
    let StoreUrl::DynamoDb(table) = store else {
        bail!("`table create` needs --store dynamodb://TABLE");
    };
    let store = scim_shared::store::DynamoStore::from_env(table.clone()).await;
    scim_shared::store::create_table(store.client(), table).await?;
    eprintln!("created DynamoDB table '{table}'");
    Ok(())
}
