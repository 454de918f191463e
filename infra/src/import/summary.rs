//! What an import did: counts per kind, the rows that failed and why, and the store calls made.

use serde::Serialize;

use scim_shared::protocol::schema::ResourceKind;
use scim_shared::store::Usage;

use super::checkpoint::Phase;

/// What happened to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Created,
    /// Replaced with PUT: some attribute or membership differed.
    Updated,
    /// Already as the row says: nothing written.
    Unchanged,
}

/// Counts of one resource kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
}

impl Counts {
    pub fn add(&mut self, done: Done) {
        match done {
            Done::Created => self.created += 1,
            Done::Updated => self.updated += 1,
            Done::Unchanged => self.unchanged += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.created + self.updated + self.unchanged + self.failed
    }
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// 1-based line of the input where the row starts.
    pub line: u64,
    /// `User` or `Group`, when the row got that far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// HTTP status of the SCIM error, when the service answered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    pub detail: String,
}

/// Where a resumed run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Resumed {
    pub phase: Phase,
    pub after_line: u64,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub dry_run: bool,
    /// Stopped before the end (Ctrl-C); the checkpoint tells where to resume.
    pub interrupted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<Resumed>,
    pub users: Counts,
    pub groups: Counts,
    /// Rows that could not be read as a User or Group.
    pub unreadable: u64,
    /// Every failed row, in line order.
    pub failures: Vec<Failure>,
    pub seconds: f64,
    /// Every store call of the run (lookups, writes, audit records, outbox events).
    pub store: Usage,
}

impl Summary {
    pub fn counts_mut(&mut self, kind: ResourceKind) -> &mut Counts {
        match kind {
            ResourceKind::User => &mut self.users,
            ResourceKind::Group => &mut self.groups,
        }
    }

    /// Rows handled by this run.
    pub fn rows(&self) -> u64 {
        self.users.total() + self.groups.total() + self.unreadable
    }

    pub fn failed(&self) -> u64 {
        self.failures.len() as u64
    }

    /// Rows per second.
    pub fn rate(&self) -> f64 {
        self.rows() as f64 / self.seconds.max(1e-9)
    }

    /// The summary for a terminal: counts, rate, store calls per row and the first
    /// `max_failures` failed rows.
    pub fn render(&self, max_failures: usize) -> String {
        let verb = if self.dry_run { "would be " } else { "" };
        let line = |name: &str, c: &Counts| {
            format!(
                "{name:<7} {verb}created {}, {verb}updated {}, unchanged {}, failed {}\n",
                c.created, c.updated, c.unchanged, c.failed
            )
        };
        let mut out = String::new();
        if let Some(r) = self.resumed {
            out.push_str(&format!(
                "resumed from the checkpoint: {:?} after line {}\n",
                r.phase, r.after_line
            ));
        }
        out.push_str(&line("users", &self.users));
        out.push_str(&line("groups", &self.groups));
        if self.unreadable > 0 {
            out.push_str(&format!("unreadable rows: {}\n", self.unreadable));
        }
        out.push_str(&format!(
            "{} rows in {:.1} s ({:.0} rows/s)\n",
            self.rows(),
            self.seconds,
            self.rate()
        ));
        let per = |n: u64| n as f64 / self.rows().max(1) as f64;
        let s = &self.store;
        out.push_str(&format!(
            "store calls: {} transact, {} single writes, {} gets, {} batch gets, {} queries \
             ({:.2} transact + {:.2} single writes + {:.2} reads per row)\n",
            s.transactions,
            s.single_writes,
            s.gets,
            s.batch_gets,
            s.queries,
            per(s.transactions),
            per(s.single_writes),
            per(s.gets + s.batch_gets + s.queries),
        ));
        if !self.failures.is_empty() {
            out.push_str(&format!("failed rows ({}):\n", self.failures.len()));
            for f in self.failures.iter().take(max_failures) {
                out.push_str(&format!("  {}\n", failure_line(f)));
            }
            if self.failures.len() > max_failures {
                out.push_str(&format!(
                    "  ... and {} more (all of them with --json or --failures FILE)\n",
                    self.failures.len() - max_failures
                ));
            }
        }
        if self.interrupted {
            out.push_str("interrupted: run the same command again to resume\n");
        }
        out
    }
}

/// One failed row on one line: `line 12: 409 uniqueness: userName is already in use`.
pub fn failure_line(f: &Failure) -> String {
    let mut s = format!("line {}: ", f.line);
    if let Some(status) = f.status {
        s.push_str(&format!("{status} "));
    }
    if let Some(t) = &f.scim_type {
        s.push_str(&format!("{t} "));
    }
    if let Some(k) = f.kind {
        s.push_str(&format!("({k}) "));
    }
    s.push_str(&f.detail);
    s
}
