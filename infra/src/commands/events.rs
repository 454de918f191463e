//! `scimctl events tail`: a tenant's lifecycle events from the outbox, optionally followed;
//! `scimctl events republish`: the redrive of a time window's events.

use std::collections::HashMap;

use scim_shared::events::lifecycle::Event;
use scim_shared::manage::IN_FLIGHT;
use scim_shared::protocol::clock;
use scimctl::management_client::ManagementClient;
use scimctl::report;
use time::OffsetDateTime;

use super::shutdown_signal;

pub async fn run(
    client: &ManagementClient,
    tenant: &str,
    since: &str,
    follow: bool,
    json: bool,
) -> anyhow::Result<()> {
    let mut polled = clock::now();
    let (events, _) = client.events_since(tenant, since).await?;
    print(&events, json)?;
    if !follow {
        return Ok(());
    }
    // Each poll reads again the IN_FLIGHT before the previous one: a request still running
    // then can store its events with a time before it. Ids already printed are skipped.
    let mut seen: HashMap<String, OffsetDateTime> =
        events.into_iter().map(|e| (e.id, polled)).collect();
    loop {
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            () = shutdown_signal() => return Ok(()),
        }
        let from = clock::format(polled - IN_FLIGHT);
        polled = clock::now();
        let (events, _) = client.events_since(tenant, &from).await?;
        let new: Vec<Event> = events
            .into_iter()
            .filter(|e| !seen.contains_key(&e.id))
            .collect();
        print(&new, json)?;
        seen.extend(new.into_iter().map(|e| (e.id, polled)));
        seen.retain(|_, at| polled - *at <= IN_FLIGHT * 2);
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
