//! `scimctl events tail`: a tenant's lifecycle events from the local outbox, optionally followed.

use std::sync::Arc;

use scimctl::report;

use super::{shutdown_signal, since};

pub async fn run(
    store: Arc<dyn scim_shared::store::Store>,
    tenant: &str,
    since_arg: &str,
    follow: bool,
    json: bool,
) -> anyhow::Result<()> {
    let mut from = since(since_arg)?;
    let mut seen: Option<String> = None;
    loop {
        let now = time::OffsetDateTime::now_utc();
        for stored in scim_shared::events::outbox::read(&*store, tenant, from, now).await? {
            if seen.as_ref().is_some_and(|s| stored.position <= *s) {
                continue;
            }
            if json {
                println!("{}", serde_json::to_string(&stored.event)?);
            } else {
                println!("{}", report::event_line(&stored.event));
            }
            seen = Some(stored.position);
        }
        if !follow {
            return Ok(());
        }
        // Re-read from a little before the last poll: items of the same millisecond may land
        // after it; `seen` keeps them from printing twice.
        from = now - time::Duration::seconds(2);
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            () = shutdown_signal() => return Ok(()),
        }
    }
}
