//! What `scimctl log`, `scimctl events tail` and `scimctl roles list` print: audit records as a
//! table (or JSON lines), events as one line each, role rules as a table. Attribute names only, never values.

use std::fmt::Write as _;

use scim_shared::audit::AuditRecord;
use scim_shared::events::lifecycle::Event;
use scim_shared::roles::RoleRules;

/// Audit records as an aligned table, one request per line.
pub fn log_table(records: &[AuditRecord]) -> String {
    let header = [
        "TIME",
        "REQUEST",
        "OPERATION",
        "RESOURCE",
        "STATUS",
        "SCIMTYPE",
        "MS",
        "CALLS",
        "RULES",
        "ATTRIBUTES",
    ];
    let rows: Vec<[String; 10]> = records
        .iter()
        .map(|r| {
            [
                r.time.clone(),
                r.request_id.clone(),
                r.operation.clone(),
                r.resource_id.clone().unwrap_or_else(|| "-".into()),
                r.status.to_string(),
                r.scim_type.clone().unwrap_or_else(|| "-".into()),
                format!("{:.1}", r.latency_us as f64 / 1000.0),
                r.store_calls.to_string(),
                dash_if_empty(r.rules.join(",")),
                dash_if_empty(r.attributes.join(",")),
            ]
        })
        .collect();
    table(&header, &rows)
}

/// A tenant's role rules as a table: group id, its displayName when the rule was set, roles.
pub fn roles_table(rules: &RoleRules) -> String {
    let rows: Vec<[String; 3]> = rules
        .rules
        .iter()
        .map(|r| {
            let roles: Vec<&str> = r.roles.iter().map(String::as_str).collect();
            [r.group.clone(), r.display_name.clone(), roles.join(",")]
        })
        .collect();
    table(&["GROUP", "DISPLAYNAME", "ROLES"], &rows)
}

/// Rows under a header, each column as wide as its widest cell.
fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let text: Vec<String> = cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

fn dash_if_empty(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}

/// One event as a line: time, type, resource, changed attribute names (values are in `--json`).
pub fn event_line(e: &Event) -> String {
    let mut names: Vec<&str> = e.changes.iter().map(|c| c.attribute.as_str()).collect();
    if !e.members.is_empty() {
        names.push("members");
    }
    let mut line = format!(
        "{}  {:<22} {} {}  {}",
        e.time,
        e.kind.as_str(),
        e.resource.resource_type,
        e.resource.id,
        e.actor
    );
    if !names.is_empty() {
        let _ = write!(line, "  [{}]", names.join(","));
    }
    if e.emergency {
        line.push_str("  EMERGENCY");
    }
    line
}
