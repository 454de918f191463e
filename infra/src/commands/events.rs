//! `scimctl events tail`: a tenant's lifecycle events from the outbox, optionally followed.

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
