//! `scimctl log`: a tenant's audit log, as a table or JSON lines.

use scimctl::management_client::ManagementClient;
use scimctl::report;

pub async fn run(
    client: &ManagementClient,
    tenant: &str,
    since: &str,
    failed: bool,
    json: bool,
) -> anyhow::Result<()> {
    let records = client.audit(tenant, since, failed).await?;
    if json {
        for r in &records {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        print!("{}", report::log_table(&records));
    }
    Ok(())
}
