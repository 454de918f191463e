//! Timestamps as SCIM writes them: RFC 3339 in UTC with millisecond precision.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time (UTC), as the clock gives it.
pub type Time = OffsetDateTime;

/// Now, truncated to milliseconds so that stored and returned timestamps agree.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

/// Formats a timestamp as RFC 3339 (`2026-11-23T09:00:00.123Z`).
pub fn format(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Formats a timestamp for sort keys: RFC 3339 in UTC with exactly three fractional digits, so
/// that string order is time order (`2026-11-23T09:00:00.000Z`).
pub fn format_sortable(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

/// The UTC day of a timestamp (`2026-11-23`): the partition of day-keyed logs.
pub fn day(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

/// Parses an RFC 3339 / xsd:dateTime value.
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Parses a point in time as operators write it (`scimctl --since`, the management API's
/// `since`): an RFC 3339 time, a day (`2026-11-23`), or an age (`30m`, `12h`, `7d`).
pub fn parse_since(s: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
    if let Some(t) = parse_datetime(s) {
        return Some(t);
    }
    if let Some(t) = parse_datetime(&format!("{s}T00:00:00Z")) {
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
    now.checked_sub(time::Duration::seconds(n.checked_mul(seconds_per_unit)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        let t = now();
        assert_eq!(parse_datetime(&format(t)), Some(t));
        assert!(parse_datetime("2011-05-13T04:42:34Z").is_some());
        assert!(parse_datetime("yesterday").is_none());
        let t = parse_datetime("2026-01-02T03:04:05Z").expect("t");
        assert_eq!(format_sortable(t), "2026-01-02T03:04:05.000Z");
        assert_eq!(day(t), "2026-01-02");
    }

    #[test]
    fn since_accepts_times_days_and_ages() {
        let now = parse_datetime("2026-01-02T00:00:00Z").expect("now");
        assert_eq!(parse_since("1d", now), Some(now - time::Duration::days(1)));
        assert_eq!(
            parse_since("30m", now),
            Some(now - time::Duration::minutes(30))
        );
        assert_eq!(
            parse_since("2026-01-01", now),
            parse_datetime("2026-01-01T00:00:00Z")
        );
        assert_eq!(parse_since("soon", now), None);
        assert_eq!(parse_since("99999999999999999d", now), None);
        assert_eq!(parse_since("9999999999999h", now), None);
        assert_eq!(parse_since("1é", now), None);
        assert_eq!(parse_since("", now), None);
    }
}
