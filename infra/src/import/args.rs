//! The command line of `scimctl import`.

use std::path::PathBuf;

use super::{Format, Options, default_checkpoint};

/// `scimctl import TENANT FILE [options]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    pub tenant: String,
    /// A JSONL file (one SCIM User or Group per line) or a CSV file of users with a header.
    pub file: PathBuf,
    /// The input format; by default CSV for a `.csv` file, JSONL otherwise.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Map a CSV column to a SCIM attribute: `COLUMN=PATH` with PATH like `userName`,
    /// `name.givenName`, `emails.work`, `phoneNumbers.mobile`, `enterprise.department`, or `-`
    /// to ignore the column. Repeat for several; common column names map by default.
    #[arg(long = "map", value_name = "COLUMN=PATH", value_parser = super::csv::parse_map_arg)]
    pub map: Vec<(String, String)>,
    /// Rows in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Where progress is saved for a resumed run (default: FILE.checkpoint).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Look up and validate every row, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the summary as JSON on stdout, with every failed row.
    #[arg(long)]
    pub json: bool,
    /// Write every failed row to this file, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    pub failures: Option<PathBuf>,
}

/// The `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Jsonl,
    Csv,
}

impl ImportArgs {
    pub fn options(&self) -> Options {
        Options {
            input: self.file.clone(),
            format: match self.format {
                Some(FormatArg::Jsonl) => Format::Jsonl,
                Some(FormatArg::Csv) => Format::Csv,
                None => Format::of_path(&self.file),
            },
            map: self.map.clone(),
            concurrency: usize::from(self.concurrency),
            checkpoint: Some(
                self.checkpoint
                    .clone()
                    .unwrap_or_else(|| default_checkpoint(&self.file)),
            ),
            dry_run: self.dry_run,
            progress: !self.quiet && !self.json,
        }
    }
}
