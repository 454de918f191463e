//! What `scimctl log`, `scimctl events tail` and `scimctl roles list` print: audit records as a
//! table (or JSON lines), events as one line each, role rules as a table. Attribute names only, never values.

use std::fmt::Write as _;

use scim_shared::audit::AuditRecord;
use scim_shared::events::lifecycle::Event;
use scim_shared::roles::RoleRules;
use time::{Duration, OffsetDateTime};

/// Parses `--since`: an RFC 3339 time, a day (`2026-11-23`), or an age (`30m`, `12h`, `7d`).
pub fn parse_since(s: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
    if let Some(t) = scim_shared::protocol::clock::parse_datetime(s) {
        return Some(t);
    }
    if let Some(t) = scim_shared::protocol::clock::parse_datetime(&format!("{s}T00:00:00Z")) {
        return Some(t);
    }
    let unit = s.chars().last()?;
    let n: i64 = s.strip_suffix(unit)?.parse().ok()?;
    let seconds_per_unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    now.checked_sub(Duration::seconds(n.checked_mul(seconds_per_unit)?))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_times_days_and_ages() {
        let now =
            scim_shared::protocol::clock::parse_datetime("2026-01-02T00:00:00Z").expect("now");
        assert_eq!(parse_since("1d", now), Some(now - Duration::days(1)));
        assert_eq!(parse_since("30m", now), Some(now - Duration::minutes(30)));
        assert_eq!(
            parse_since("2026-01-01", now),
            scim_shared::protocol::clock::parse_datetime("2026-01-01T00:00:00Z")
        );
        assert_eq!(parse_since("soon", now), None);
        assert_eq!(parse_since("99999999999999999d", now), None);
        assert_eq!(parse_since("9999999999999h", now), None);
        assert_eq!(parse_since("1é", now), None);
        assert_eq!(parse_since("", now), None);
    }
}
