//! `scimctl emergency-logout`: the Emergency Logout of the operator HTTP API
//! ([`scimctl::operator_api::emergency_logout`]), run against the store directly, or with
//! `--api` the route of a deployed stack (published to its EventBridge bus).

use std::sync::Arc;

use scim_shared::ops::Limits;
use scim_shared::service::Service;

/// What was done on stderr, the leaver event as JSON on stdout.
pub async fn run(
    store: Arc<dyn scim_shared::store::Store>,
    tenant: &str,
    user: &str,
) -> anyhow::Result<()> {
    let service = Service::new(store, Limits::default());
    let client = scimctl::webhook::client();
    let r =
        scimctl::operator_api::emergency_logout(&service, &client, tenant, user, "scimctl").await?;
    eprintln!(
        "user {user} of tenant '{tenant}' logged out: deactivated, removed from {} \
         groups; webhook: {} ({:.1} ms)",
        r.event
            .changes
            .iter()
            .find(|c| c.attribute == "groups")
            .map_or(0, |c| c.removed.len()),
        r.webhook,
        r.elapsed.as_secs_f64() * 1000.0
    );
    println!("{}", serde_json::to_string(&r.event)?);
    Ok(())
}

/// Emergency Logout through a stack's route: the same report, the bus instead of a webhook.
pub async fn through_api(
    client: &scimctl::management_client::ManagementClient,
    tenant: &str,
    user: &str,
) -> anyhow::Result<()> {
    let answer = client.emergency_logout(tenant, user).await?;
    let groups = answer["event"]["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["attribute"] == "groups")
        .and_then(|c| c["removed"].as_array())
        .map_or(0, Vec::len);
    eprintln!(
        "user {user} of tenant '{tenant}' logged out: deactivated, removed from {groups} \
         groups; EventBridge: {} ({:.1} ms)",
        answer["eventBridge"].as_str().unwrap_or("?"),
        answer["elapsedMs"].as_f64().unwrap_or_default()
    );
    println!("{}", answer["event"]);
    Ok(())
}
