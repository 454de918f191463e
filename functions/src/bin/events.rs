//! The events function: the table's stream -> EventBridge (see `scim_functions::events`).

fn main() -> anyhow::Result<()> {
    Ok(scim_functions::run_events()?)
}
