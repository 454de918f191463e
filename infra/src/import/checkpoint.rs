//! The checkpoint of an import: how far it got, saved now and then so that a run stopped by
//! Ctrl-C or a crash resumes after the last saved line. Every write of an import is idempotent,
//! so rows after the checkpoint that had already been written are found unchanged on resume.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ImportError;
use super::source::Format;

/// The passes of an import: users first, then groups (which may name users as members).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Users,
    Groups,
}

/// What the checkpoint file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub tenant: String,
    pub format: Format,
    /// Size of the input when the run started: a different file is not resumed.
    pub input_bytes: u64,
    pub phase: Phase,
    /// Every row of `phase` up to this line (and every row of earlier phases) is done.
    pub line: u64,
}

impl Checkpoint {
    /// Reads a checkpoint file; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, ImportError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io(path, source)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ImportError::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("unreadable ({e}); delete it to start over"),
            })
    }

    /// Writes the checkpoint durably: a temporary file, flushed to disk, renamed over the old.
    pub fn save(&self, path: &Path) -> Result<(), ImportError> {
        let tmp = temporary(path);
        let body = serde_json::to_vec_pretty(self).map_err(|e| ImportError::Checkpoint {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(&body).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io(path, e))
    }

    /// Removes the checkpoint of a finished run.
    pub fn remove(path: &Path) -> Result<(), ImportError> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path, e)),
            _ => Ok(()),
        }
    }
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn io(path: &Path, source: std::io::Error) -> ImportError {
    ImportError::Checkpoint {
        path: path.to_path_buf(),
        reason: source.to_string(),
    }
}

/// The line up to which every row is done, while rows finish out of order.
#[derive(Debug, Default)]
pub struct Watermark {
    in_flight: BTreeSet<u64>,
    /// The last line read.
    read: u64,
}

impl Watermark {
    /// A row that was read and needs no work (skipped, or failed before any request).
    pub fn read(&mut self, line: u64) {
        self.read = self.read.max(line);
    }

    pub fn start(&mut self, line: u64) {
        self.read(line);
        self.in_flight.insert(line);
    }

    pub fn finish(&mut self, line: u64) {
        self.in_flight.remove(&line);
    }

    /// Every row up to this line is done.
    pub fn done(&self) -> u64 {
        self.in_flight
            .first()
            .map_or(self.read, |first| first.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_waits_for_the_oldest_row_in_flight() {
        let mut w = Watermark::default();
        w.start(1);
        w.start(2);
        w.read(3);
        w.start(4);
        assert_eq!(w.done(), 0);
        w.finish(2);
        w.finish(4);
        assert_eq!(w.done(), 0);
        w.finish(1);
        assert_eq!(w.done(), 4);
    }

    #[test]
    fn checkpoints_round_trip_and_vanish() {
        let dir = std::env::temp_dir().join(format!("scim-ckp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("users.jsonl.checkpoint");
        let c = Checkpoint {
            tenant: "acme".into(),
            format: Format::Jsonl,
            input_bytes: 42,
            phase: Phase::Groups,
            line: 7,
        };
        c.save(&path).expect("save");
        assert_eq!(Checkpoint::load(&path).expect("load"), Some(c));
        Checkpoint::remove(&path).expect("remove");
        assert_eq!(Checkpoint::load(&path).expect("load"), None);
        std::fs::remove_dir_all(&dir).ok();
    }
}
