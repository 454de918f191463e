//! `scimctl import`: users and groups from a JSONL or CSV file (the work is in
//! [`scimctl::import`]).

use std::sync::Arc;

use anyhow::Context as _;

use super::shutdown_signal;

/// `scimctl import`: the summary on stderr (or as JSON on stdout); exit status 2 when rows
/// failed, 130 when interrupted (the checkpoint resumes it).
pub async fn run(
    store: Arc<dyn scim_shared::store::Store>,
    args: &scimctl::import::ImportArgs,
    opts: &scimctl::import::Options,
) -> anyhow::Result<()> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        eprintln!("stopping after the rows in flight; Ctrl-C again to quit at once");
        on_signal.store(true, std::sync::atomic::Ordering::Relaxed);
        shutdown_signal().await;
        std::process::exit(130);
    });
    let summary = scimctl::import::run(store, &args.tenant, opts, &stop).await?;
    if let Some(path) = &args.failures {
        let mut lines = String::new();
        for f in &summary.failures {
            lines.push_str(&serde_json::to_string(f)?);
            lines.push('\n');
        }
        std::fs::write(path, lines).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.render(20));
    }
    if summary.interrupted {
        std::process::exit(130);
    }
    if !summary.failures.is_empty() {
        std::process::exit(2);
    }
    Ok(())
}
