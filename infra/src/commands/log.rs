//! `scimctl log`: a tenant's audit log, as a table or JSON lines.

use std::sync::Arc;

use scimctl::report;

use super::since;

pub async fn run(
    store: Arc<dyn scim_shared::store::Store>,
    tenant: &str,
    since_arg: &str,
    failed: bool,
    json: bool,
) -> anyhow::Result<()> {
    let from = since(since_arg)?;
    let mut records =
        scim_shared::audit::read(&*store, tenant, from, time::OffsetDateTime::now_utc()).await?;
    records.retain(|r| !failed || r.failed());
    if json {
        for r in &records {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        print!("{}", report::log_table(&records));
    }
    Ok(())
}
