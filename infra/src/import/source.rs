//! Reading the input file: rows with their line numbers, as SCIM documents of one kind.
//!
//! JSONL holds one SCIM User or Group per line, told apart by `schemas`; blank lines are skipped.
//! CSV holds users, one per record after the header, mapped by [`super::csv::Mapping`]. A row
//! that cannot become a document is an error of that row only; an unreadable file stops the run.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use scim_shared::protocol::schema::{GROUP_SCHEMA, ResourceKind, USER_SCHEMA};

use super::ImportError;
use super::csv::Mapping;

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    /// The format a file name suggests: `.csv` is CSV, anything else JSONL.
    pub fn of_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Format::Csv,
            _ => Format::Jsonl,
        }
    }
}

/// One row of the input.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based line where the row starts.
    pub line: u64,
    /// The document, or why the row could not become one.
    pub doc: Result<(ResourceKind, Value), String>,
}

/// Rows of a file in order.
pub type Rows = Box<dyn Iterator<Item = Result<Row, ImportError>> + Send>;

fn read_error(path: &Path) -> impl Fn(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens the input and iterates its rows.
pub fn rows(path: &Path, format: Format, map: &[(String, String)]) -> Result<Rows, ImportError> {
    let file = File::open(path).map_err(read_error(path))?;
    match format {
        Format::Jsonl => Ok(Box::new(jsonl(path.to_path_buf(), BufReader::new(file)))),
        Format::Csv => csv_rows(path, file, map),
    }
}

fn jsonl(
    path: PathBuf,
    mut reader: impl BufRead + Send,
) -> impl Iterator<Item = Result<Row, ImportError>> + Send {
    let mut line = 0u64;
    let mut buf = Vec::new();
    std::iter::from_fn(move || {
        loop {
            buf.clear();
            line += 1;
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(read_error(&path)(e))),
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let doc = serde_json::from_slice::<Value>(&buf)
                .map_err(|e| format!("not valid JSON (column {}): {e}", e.column()))
                .and_then(|v| Ok((kind_of(&v)?, v)));
            return Some(Ok(Row { line, doc }));
        }
    })
}

/// Users or groups, by the core schema `schemas` lists.
fn kind_of(doc: &Value) -> Result<ResourceKind, String> {
    let schemas = doc
        .get("schemas")
        .and_then(Value::as_array)
        .ok_or("no 'schemas' array: cannot tell a User from a Group")?;
    let has = |urn: &str| {
        schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    };
    match (has(USER_SCHEMA), has(GROUP_SCHEMA)) {
        (true, false) => Ok(ResourceKind::User),
        (false, true) => Ok(ResourceKind::Group),
        _ => Err(format!(
            "'schemas' must list exactly one of {USER_SCHEMA} and {GROUP_SCHEMA}"
        )),
    }
}

fn csv_rows(path: &Path, file: File, map: &[(String, String)]) -> Result<Rows, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(BufReader::new(file));
    let csv_error = |source: csv::Error| ImportError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(str::to_string)
        .collect();
    let mapping = Mapping::new(&header, map)?;
    let path = path.to_path_buf();
    let mut records = reader.into_records();
    Ok(Box::new(std::iter::from_fn(move || {
        let record = records.next()?;
        Some(match record {
            Ok(r) => {
                let line = r.position().map_or(0, csv::Position::line);
                let doc = mapping.user(&r).map(|d| (ResourceKind::User, d));
                Ok(Row { line, doc })
            }
            // A record with the wrong number of fields is that row's error; I/O errors stop.
            Err(e) => match e.kind() {
                csv::ErrorKind::UnequalLengths { pos, .. } | csv::ErrorKind::Utf8 { pos, .. } => {
                    let line = pos.as_ref().map_or(0, csv::Position::line);
                    Ok(Row {
                        line,
                        doc: Err(e.to_string()),
                    })
                }
                _ => Err(ImportError::Csv {
                    path: path.clone(),
                    source: e,
                }),
            },
        })
    })))
}

/// Rows in the file: non-blank lines of JSONL, records of CSV. Sizes the progress bar.
pub fn count(path: &Path, format: Format) -> Result<u64, ImportError> {
    let file = File::open(path).map_err(read_error(path))?;
    match format {
        Format::Jsonl => {
            let mut n = 0;
            for line in BufReader::new(file).split(b'\n') {
                let line = line.map_err(read_error(path))?;
                n += u64::from(!line.iter().all(u8::is_ascii_whitespace));
            }
            Ok(n)
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(BufReader::new(file));
            let mut record = csv::ByteRecord::new();
            let mut n = 0;
            while reader
                .read_byte_record(&mut record)
                .map_err(|source| ImportError::Csv {
                    path: path.to_path_buf(),
                    source,
                })?
            {
                n += 1;
            }
            Ok(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_rows_carry_line_numbers_kinds_and_row_errors() {
        let text = format!(
            "{{\"schemas\":[\"{USER_SCHEMA}\"],\"userName\":\"a\"}}\n\n{{oops\n{{\"schemas\":[\"{GROUP_SCHEMA}\"],\"displayName\":\"g\"}}\n{{\"userName\":\"b\"}}\n"
        );
        let rows: Vec<Row> = jsonl(PathBuf::from("x"), text.as_bytes())
            .collect::<Result<_, _>>()
            .expect("rows");
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [1, 3, 4, 5]);
        assert!(matches!(rows[0].doc, Ok((ResourceKind::User, _))));
        assert!(rows[1].doc.is_err());
        assert!(matches!(rows[2].doc, Ok((ResourceKind::Group, _))));
        assert!(rows[3].doc.as_ref().is_err_and(|e| e.contains("schemas")));
    }
}
