//! The `scimctl import` benchmark: a generated JSONL file of users imported into a fresh durable
//! file store with the import's library entry point (what `scimctl import` runs), then imported
//! again (every row unchanged). Used by `bench` (`--import` runs only this).

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, bail};
use scim_shared::protocol::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
use scim_shared::store::{EmbeddedStore, Store};
use scimctl::import::{self, Options, Summary};
use serde_json::json;

/// Writes `n` users, one SCIM User per line, as an identity provider's export would hold them.
pub fn write_users(path: &Path, n: usize) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..n {
        let name = format!("user{i:06}");
        let user = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": format!("{name}@example.com"),
            "externalId": format!("ext-{i}"),
            "name": {"givenName": "Given", "familyName": name},
            "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}],
            "title": "Engineer",
            "active": true,
            ENTERPRISE_USER_SCHEMA: {"department": format!("dept{}", i % 50), "employeeNumber": i.to_string()},
        });
        writeln!(out, "{user}")?;
    }
    out.flush()?;
    Ok(())
}

/// Imports `n` generated users into tenant `import` of a fresh file store under `dir`, at
/// `concurrency` rows in flight, then once more; a Markdown section with both runs and the users/s
/// of the first.
pub async fn run(dir: &Path, n: usize, concurrency: usize) -> anyhow::Result<(String, f64)> {
    let input = dir.join("users.jsonl");
    write_users(&input, n)?;
    let store: Arc<dyn Store> = Arc::new(
        EmbeddedStore::open(&dir.join("import.redb")).context("opening the import store")?,
    );
    scim_shared::tenant::create_tenant(&*store, "import").await?;
    let mut opts = Options::new(&input);
    opts.concurrency = concurrency;
    let stop = AtomicBool::new(false);
    let first = import::run(store.clone(), "import", &opts, &stop).await?;
    if first.users.created != n as u64 || !first.failures.is_empty() {
        bail!("the import created {} of {n} users", first.users.created);
    }
    let again = import::run(store, "import", &opts, &stop).await?;
    if again.users.unchanged != n as u64 {
        bail!(
            "the second import left {} of {n} users unchanged",
            again.users.unchanged
        );
    }
    let text = format!(
        "`scimctl import` of {n} users (JSONL, {concurrency} rows in flight) into a fresh durable \
         file store, through the service in-process (lookup by userName and externalId, POST, \
         audit record, outbox event):\n\n{}\n{}\n",
        line("first run (all created)", &first),
        line("second run (all unchanged)", &again)
    );
    Ok((text, first.rate()))
}

fn line(what: &str, s: &Summary) -> String {
    let rows = s.rows().max(1) as f64;
    format!(
        "- {what}: {} users in {:.1} s, **{:.0} users/s**; store calls per user: {:.2} transact, \
         {:.2} single writes, {:.2} reads",
        s.rows(),
        s.seconds,
        s.rate(),
        s.store.transactions as f64 / rows,
        s.store.single_writes as f64 / rows,
        (s.store.gets + s.store.batch_gets + s.store.queries) as f64 / rows,
    )
}
