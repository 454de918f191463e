//! `scimctl import`: users and groups from a JSONL or CSV file into a tenant, through the same
//! service an identity provider talks to.
//!
//! - Users first, then groups: a JSONL file is read twice (users, then groups), so a group's
//!   members (`{"value": id}`, or `{"value": "userName:NAME"}`) may be users anywhere in the file.
//! - Idempotent: a row whose resource exists (userName or externalId; a group's displayName or
//!   externalId) is replaced with PUT when some attribute or membership differs and left alone
//!   when nothing would change, so a second run of the same file writes nothing.
//! - Resumable: the line up to which every row is done is saved to a checkpoint file about once
//!   a second; a run that finds one continues after it and removes it when it finishes.
//! - Concurrent: up to `concurrency` rows in flight, so that the embedded store group-commits
//!   their writes into shared fsyncs.

mod args;
mod checkpoint;
pub mod csv;
mod source;
mod summary;
mod upsert;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scim_shared::ops::Limits;
use scim_shared::protocol::schema::{ResourceKind, ResourceType};
use scim_shared::service::Service;
use scim_shared::store::{Metered, Store};
use scim_shared::tenant;
use tokio::task::{self, JoinSet};

pub use args::{FormatArg, ImportArgs};
pub use checkpoint::{Checkpoint, Phase};
pub use source::Format;
pub use summary::{Counts, Failure, Resumed, Summary, failure_line};
pub use upsert::USER_NAME_PREFIX;

use checkpoint::Watermark;
use summary::Done;
use upsert::{RowError, Target};

/// How often the checkpoint is saved while rows complete.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Failures of a run as a whole (a failed row is not one: it is listed in the [`Summary`]).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading {path}: {source}")]
    Csv { path: PathBuf, source: ::csv::Error },
    #[error("column '{column}': {reason}")]
    Mapping { column: String, reason: String },
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error("tenant '{0}' does not exist; create it with `scimctl tenant create {0}`")]
    UnknownTenant(String),
    #[error(transparent)]
    Tenant(#[from] tenant::TenantError),
}

/// What to import and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub input: PathBuf,
    pub format: Format,
    /// `--map COLUMN=PATH` entries for CSV (see [`csv`]).
    pub map: Vec<(String, String)>,
    /// Rows in flight at once.
    pub concurrency: usize,
    /// Where progress is saved; `None` saves none (and a dry run saves none either).
    pub checkpoint: Option<PathBuf>,
    /// Look up and validate every row, write nothing.
    pub dry_run: bool,
    /// Show a progress bar on stderr (it stays hidden when stderr is not a terminal).
    pub progress: bool,
}

impl Options {
    /// Defaults for an input file: format from its extension, checkpoint next to it.
    pub fn new(input: impl Into<PathBuf>) -> Options {
        let input = input.into();
        Options {
            format: Format::of_path(&input),
            checkpoint: Some(default_checkpoint(&input)),
            input,
            map: Vec::new(),
            concurrency: 64,
            dry_run: false,
            progress: false,
        }
    }
}

/// `FILE.checkpoint` next to the input.
pub fn default_checkpoint(input: &Path) -> PathBuf {
    let mut name = input.file_name().unwrap_or_default().to_os_string();
    name.push(".checkpoint");
    input.with_file_name(name)
}

/// The rows in flight: their tasks, and the line of each task.
#[derive(Debug, Default)]
struct Tasks {
    set: JoinSet<Result<Done, RowError>>,
    lines: HashMap<task::Id, u64>,
}

/// One import run.
#[derive(Debug)]
struct Run<'a> {
    opts: &'a Options,
    target: Arc<Target>,
    /// The checkpoint being written, with the file it goes to.
    checkpoint: Option<(PathBuf, Checkpoint)>,
    stop: &'a AtomicBool,
    bar: ProgressBar,
    summary: Summary,
    last_saved: Instant,
}

/// Imports `opts.input` into `tenant` of `store`, through a [`Service`] over the metered store.
/// Returns when the file is done or, once `stop` is set (Ctrl-C), when the rows in flight are
/// done; the checkpoint then says where the next run resumes.
pub async fn run(
    store: Arc<dyn Store>,
    tenant: &str,
    opts: &Options,
    stop: &AtomicBool,
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let settings = tenant::get_live_tenant(&*store, tenant)
        .await?
        .ok_or_else(|| ImportError::UnknownTenant(tenant.to_string()))?
        .settings;
    let metered = Metered::new(store);
    let service = Service::new(Arc::new(metered.clone()), Limits::default());
    let service = Arc::new(service);
    let input_bytes = std::fs::metadata(&opts.input)
        .map_err(|source| ImportError::Read {
            path: opts.input.clone(),
            source,
        })?
        .len();
    let checkpoint_path = opts.checkpoint.as_ref().filter(|_| !opts.dry_run);
    let fresh = Checkpoint {
        tenant: tenant.to_string(),
        format: opts.format,
        input_bytes,
        phase: Phase::Users,
        line: 0,
    };
    let previous = match checkpoint_path {
        Some(p) => Checkpoint::load(p)?,
        None => None,
    };
    if let (Some(p), Some(c)) = (checkpoint_path, &previous)
        && (c.tenant != fresh.tenant || c.format != fresh.format || c.input_bytes != input_bytes)
    {
        return Err(ImportError::Checkpoint {
            path: p.clone(),
            reason: format!(
                "it belongs to another import (tenant '{}', {} bytes of {:?}); delete it to \
                 start over",
                c.tenant, c.input_bytes, c.format
            ),
        });
    }
    let bar = progress_bar(opts)?;
    let mut run = Run {
        opts,
        target: Arc::new(Target::new(
            service,
            tenant.to_string(),
            settings,
            opts.dry_run,
        )),
        checkpoint: checkpoint_path.map(|p| (p.clone(), previous.clone().unwrap_or(fresh))),
        stop,
        bar,
        summary: Summary {
            dry_run: opts.dry_run,
            resumed: previous.as_ref().map(|c| Resumed {
                phase: c.phase,
                after_line: c.line,
            }),
            ..Summary::default()
        },
        last_saved: Instant::now(),
    };
    let phases: &[Phase] = match opts.format {
        Format::Jsonl => &[Phase::Users, Phase::Groups],
        Format::Csv => &[Phase::Users],
    };
    for &phase in phases {
        let after = match &previous {
            Some(c) if c.phase > phase => continue,
            Some(c) if c.phase == phase => c.line,
            _ => 0,
        };
        run.pass(phase, after).await?;
        if run.summary.interrupted {
            break;
        }
    }
    run.bar.finish_and_clear();
    if let Some((path, _)) = &run.checkpoint
        && !run.summary.interrupted
    {
        Checkpoint::remove(path)?;
    }
    run.summary.failures.sort_by_key(|f| f.line);
    run.summary.seconds = started.elapsed().as_secs_f64();
    run.summary.store = metered.usage();
    Ok(run.summary)
}

fn progress_bar(opts: &Options) -> Result<ProgressBar, ImportError> {
    if !opts.progress {
        return Ok(ProgressBar::hidden());
    }
    let rows = source::count(&opts.input, opts.format)?;
    let bar = ProgressBar::with_draw_target(Some(rows), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} rows, {per_sec}, ETA {eta} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Ok(bar)
}

impl Run<'_> {
    /// One pass over the input: the rows of `phase` after line `after`.
    async fn pass(&mut self, phase: Phase, after: u64) -> Result<(), ImportError> {
        let kind = match phase {
            Phase::Users => ResourceKind::User,
            Phase::Groups => ResourceKind::Group,
        };
        self.bar
            .set_message(format!("({})", ResourceType::of(kind).endpoint));
        let mut watermark = Watermark::default();
        watermark.read(after);
        let mut tasks = Tasks::default();
        for row in source::rows(&self.opts.input, self.opts.format, &self.opts.map)? {
            let row = row?;
            if row.line <= after {
                // Done by an earlier run; in the users pass, groups are counted in theirs.
                if phase == Phase::Users || matches!(row.doc, Ok((k, _)) if k == kind) {
                    self.bar.inc(1);
                }
                continue;
            }
            if self.stop.load(Ordering::Relaxed) {
                self.summary.interrupted = true;
                break;
            }
            match row.doc {
                Err(detail) => {
                    watermark.read(row.line);
                    // Unreadable rows are reported once, in the first pass.
                    if phase == Phase::Users {
                        self.summary.unreadable += 1;
                        self.summary.failures.push(Failure {
                            line: row.line,
                            kind: None,
                            status: None,
                            scim_type: None,
                            detail,
                        });
                        self.bar.inc(1);
                    }
                }
                Ok((k, _)) if k != kind => watermark.read(row.line),
                Ok((_, doc)) => {
                    while tasks.set.len() >= self.opts.concurrency.max(1) {
                        self.join_one(&mut tasks, &mut watermark, kind, phase)
                            .await?;
                    }
                    watermark.start(row.line);
                    let target = self.target.clone();
                    let handle = tasks
                        .set
                        .spawn(async move { target.upsert(kind, doc).await });
                    tasks.lines.insert(handle.id(), row.line);
                }
            }
        }
        while !tasks.set.is_empty() {
            self.join_one(&mut tasks, &mut watermark, kind, phase)
                .await?;
        }
        let next = match (self.summary.interrupted, phase) {
            (false, Phase::Users) => (Phase::Groups, 0),
            _ => (phase, watermark.done()),
        };
        self.save(next.0, next.1)
    }

    async fn join_one(
        &mut self,
        tasks: &mut Tasks,
        watermark: &mut Watermark,
        kind: ResourceKind,
        phase: Phase,
    ) -> Result<(), ImportError> {
        let Some(joined) = tasks.set.join_next_with_id().await else {
            return Ok(());
        };
        let (id, result) = match joined {
            Ok(done) => done,
            // A row whose task panicked is a failed row.
            Err(e) => (
                e.id(),
                Err(RowError {
                    status: None,
                    scim_type: None,
                    detail: format!("the row's task failed: {e}"),
                }),
            ),
        };
        let line = tasks.lines.remove(&id).unwrap_or_default();
        watermark.finish(line);
        let counts = self.summary.counts_mut(kind);
        match result {
            Ok(done) => counts.add(done),
            Err(e) => {
                counts.failed += 1;
                self.summary.failures.push(Failure {
                    line,
                    kind: Some(ResourceType::of(kind).name),
                    status: e.status,
                    scim_type: e.scim_type,
                    detail: e.detail,
                });
            }
        }
        self.bar.inc(1);
        if self.last_saved.elapsed() >= CHECKPOINT_EVERY {
            self.save(phase, watermark.done())?;
        }
        Ok(())
    }

    fn save(&mut self, phase: Phase, line: u64) -> Result<(), ImportError> {
        self.last_saved = Instant::now();
        let Some((path, c)) = &mut self.checkpoint else {
            return Ok(());
        };
        c.phase = phase;
        c.line = line;
        c.save(path)
    }
}
