//! Reading day-keyed partitions (the audit log's and the outbox's `…#{day}` partitions) over a
//! time range.

use time::OffsetDateTime;

use super::{Index, Item, Query, Store, StoreError};
use crate::protocol::clock;

/// Every item of day-keyed partitions (`partition(day)`) whose sort key's time (`time_of(sk)`,
/// a sortable time first, see [`clock::format_sortable`]) lies in `[since, until]`, in
/// partition and sort-key order.
pub async fn read_days(
    store: &dyn Store,
    since: OffsetDateTime,
    until: OffsetDateTime,
    partition: impl Fn(&str) -> String,
    time_of: fn(&str) -> Option<&str>,
) -> Result<Vec<Item>, StoreError> {
    // `~` sorts after `#`: every sort key of the last millisecond is in range.
    let from = clock::format_sortable(since);
    let to = format!("{}~", clock::format_sortable(until));
    let mut out = Vec::new();
    let mut day = since.date();
    while day <= until.date() {
        let pk = partition(&clock::day(day.midnight().assume_utc()));
        let mut q = Query::new(Index::Primary, pk, "", 1000);
        loop {
            let page = store.query(&q).await?;
            out.extend(page.items.into_iter().filter(|i| {
                time_of(&i.key.sk).is_some_and(|t| t >= from.as_str() && t <= to.as_str())
            }));
            match page.next {
                Some(n) => q.start_after = Some(n),
                None => break,
            }
        }
        match day.next_day() {
            Some(d) => day = d,
            None => break,
        }
    }
    Ok(out)
}
