//! Writes docs/cost.md: what each SCIM request costs in DynamoDB calls, items and request units.
//!
//! `cargo run --profile local -p scim-tests --bin cost-report -- [MEMBERS] > docs/cost.md`
//! (MEMBERS: size of the large group, default 100000).

use scim_tests::TestServer;
use scim_tests::cost::{self, PRICE_DATE, USD_PER_MILLION_READ_UNITS, USD_PER_MILLION_WRITE_UNITS};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let members: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let srv = TestServer::start().await;
    let bar = indicatif::ProgressBar::new(members as u64)
        .with_message("creating the large group's users");
    let rows = cost::measure(&srv, members, &|n| bar.set_position(n as u64)).await;
    bar.finish_and_clear();
    println!("# Cost per request\n");
    println!(
        "What each SCIM request costs on DynamoDB, counted by the store for every call it makes\n\
         (`shared/src/store/metered.rs`): item sizes rounded as DynamoDB rounds them (reads per\n\
         4 KB, strongly consistent except GSI queries at half; writes per 1 KB; a call with several\n\
         writes is a transaction and counts double). Deletes are counted as one write unit each.\n\
         A request with lifecycle events writes one outbox item holding them all in its own\n\
         transaction (docs/events.md), which the table's stream carries to EventBridge; each\n\
         member a group request adds is checked to exist in the same transaction (a\n\
         ConditionCheck, counted as a read); a group request that adds or removes users also\n\
         reads the tenant's role rules: all included in the request's columns. Every\n\
         provisioning request also writes its audit record (one PutItem), shown apart and\n\
         included in the price. A list or search whose filter is a key lookup (`eq` on id,\n\
         userName, displayName or externalId) answers each resource as a GET does, `groups` or\n\
         `members` included: the lookup plus one Query per resource of its memberships (a\n\
         group's whole member list: send `excludedAttributes=members`, as Entra does, to skip\n\
         it). The token check (one GetItem, cached by the API Gateway authorizer; an OAuth access\n\
         token costs the same one GetItem, of its client) and the publication of the events\n\
         (docs/events.md, cost per event) are not included.\n"
    );
    println!(
        "Prices: on-demand, US East (N. Virginia), ${USD_PER_MILLION_READ_UNITS} per million read\n\
         request units and ${USD_PER_MILLION_WRITE_UNITS} per million write request units, as of\n\
         {PRICE_DATE}. Lambda and API Gateway are not included.\n"
    );
    println!(
        "Made by `cargo run --profile local -p scim-tests --bin cost-report -- {members} > docs/cost.md`\n\
         on the embedded store; the calls are the same on DynamoDB (`tests/tests/it/cost.rs` checks\n\
         the targets on both backends).\n"
    );
    print!("{}", cost::markdown(&rows));
    Ok(())
}
