//! `scimctl events tail`: a tenant's lifecycle events from the outbox, optionally followed;
//! `scimctl events republish`: the redrive of a time window's events.

use scim_shared::events::lifecycle::Event;
use scimctl::management_client::ManagementClient;
use scimctl::report;

use super::shutdown_signal;

pub async fn run(
    client: &ManagementClient,
    tenant: &str,
    since: &str,
    follow: bool,
    json: bool,
) -> anyhow::Result<()> {
    let (events, mut cursor) = client.events_since(tenant, since).await?;
    print(&events, json)?;
    if !follow {
        return Ok(());
    }
    loop {
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            () = shutdown_signal() => return Ok(()),
        }
        let (events, next) = match cursor.take() {
            Some(c) => client
                .events_after(tenant, c)
                .await
                .map(|(e, n)| (e, Some(n)))?,
            // No event yet: keep reading from the same start.
            None => client.events_since(tenant, since).await?,
        };
        print(&events, json)?;
        cursor = next;
    }
}

/// Republishes the events of `tenant` (every tenant when `None`) from `since` until `until`;
/// fails when any event could not be sent.
pub async fn republish(
    client: &ManagementClient,
    tenant: Option<&str>,
    since: &str,
    until: Option<&str>,
) -> anyhow::Result<()> {
    let tenants = match tenant {
        Some(t) => vec![t.to_string()],
        None => client
            .list_tenants()
            .await?
            .into_iter()
            .filter(|t| !t.deleting)
            .map(|t| t.id)
            .collect(),
    };
    let mut failed = 0;
    for tenant in &tenants {
        let r = client.republish(tenant, since, until).await?;
        eprintln!(
            "tenant '{tenant}': {} events republished from {} to {}{}",
            r.republished,
            r.since,
            r.until,
            if r.failed > 0 {
                format!(", {} failed", r.failed)
            } else {
                String::new()
            }
        );
        for f in &r.failures {
            eprintln!(
                "  {}: {}",
                f["id"].as_str().unwrap_or("?"),
                f["error"].as_str().unwrap_or("?")
            );
        }
        failed += r.failed;
    }
    if failed > 0 {
        anyhow::bail!("{failed} events were not republished; run the command again");
    }
    Ok(())
}

fn print(events: &[Event], json: bool) -> anyhow::Result<()> {
    for event in events {
        if json {
            println!("{}", serde_json::to_string(event)?);
        } else {
            println!("{}", report::event_line(event));
        }
    }
    Ok(())
}
