//! The stream's order: by arrival (newest first, the default), by SLA due time (soonest first),
//! or by priority (urgent first, then soonest due). Items already answered go last in the two
//! work orders, since they wait for nobody.
//!
//! The console sorts what it holds (the whole queue, up to 100,000 items): the server's list is
//! keyset-paged by arrival only and needs no sort parameter for this.

use super::model::row::Row;
use crate::domain::FeedbackStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Arrival,
    Sla,
    Priority,
}

impl SortKey {
    pub const ALL: [SortKey; 3] = [SortKey::Arrival, SortKey::Sla, SortKey::Priority];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Arrival => "arrival",
            SortKey::Sla => "sla",
            SortKey::Priority => "priority",
        }
    }

    pub fn parse(s: &str) -> Option<SortKey> {
        match s {
            "arrival" | "new" | "newest" | "time" => Some(SortKey::Arrival),
            "sla" | "due" => Some(SortKey::Sla),
            "priority" | "pri" => Some(SortKey::Priority),
            _ => None,
        }
    }

    pub fn next(self) -> SortKey {
        match self {
            SortKey::Arrival => SortKey::Sla,
            SortKey::Sla => SortKey::Priority,
            SortKey::Priority => SortKey::Arrival,
        }
    }
}

/// The display order of row `idx` under a work order: smaller comes first, unique per row (the
/// newer of two equal items first), so a position can be found by binary search.
pub fn key(row: &Row, idx: usize, by: SortKey) -> (u8, u8, i64, usize) {
    let fb = &row.fb;
    let done = matches!(
        fb.status,
        FeedbackStatus::Answered | FeedbackStatus::Resolved
    ) as u8;
    let due = fb.sla_due_at.timestamp();
    let tie = usize::MAX - idx;
    match by {
        SortKey::Arrival => (0, 0, 0, tie),
        SortKey::Sla => (done, 0, due, tie),
        // Urgent (3) first: 3 - rank.
        SortKey::Priority => (done, 3 - fb.priority as u8, due, tie),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Priority;
    use crate::tui::model::fixtures::feedback;
    use crate::tui::model::{StreamState, ViewKind};

    fn ids(s: &StreamState) -> Vec<String> {
        (0..s.visible())
            .map(|p| s.row_at(p).unwrap().fb.id.clone())
            .collect()
    }

    #[test]
    fn work_orders_put_the_soonest_due_and_the_most_urgent_first_and_stay_exact() {
        let mut s = StreamState::new(ViewKind::All);
        let items: Vec<_> = (0..12)
            .map(|n| {
                let mut f = feedback(n);
                f.status = crate::domain::FeedbackStatus::Open;
                f.sla_due_at = crate::tui::model::fixtures::t0()
                    + chrono::Duration::minutes(((n * 37) % 12) as i64);
                f.priority = [
                    Priority::Low,
                    Priority::Normal,
                    Priority::High,
                    Priority::Urgent,
                ][n % 4];
                f
            })
            .collect();
        s.replace_all(items);
        let arrival = ids(&s);
        assert_eq!(arrival[0], "fb_00011");
        s.set_sort(SortKey::Sla);
        let due: Vec<i64> = (0..s.visible())
            .map(|p| s.row_at(p).unwrap().fb.sla_due_at.timestamp())
            .collect();
        assert!(due.windows(2).all(|w| w[0] <= w[1]), "{due:?}");
        // Positions and rows agree both ways.
        for p in 0..s.visible() {
            let id = s.row_at(p).unwrap().fb.id.clone();
            assert_eq!(s.position_of(&id), Some(p));
        }
        s.set_sort(SortKey::Priority);
        assert_eq!(s.row_at(0).unwrap().fb.priority, Priority::Urgent);
        assert_eq!(s.row_at(11).unwrap().fb.priority, Priority::Low);
        // An arrival and a filter keep the order exact.
        let mut f = feedback(40);
        f.priority = Priority::Urgent;
        f.status = crate::domain::FeedbackStatus::Open;
        f.sla_due_at = crate::tui::model::fixtures::t0() - chrono::Duration::hours(1);
        s.upsert(f);
        assert_eq!(s.row_at(0).unwrap().fb.id, "fb_00040");
        s.set_filter("refund");
        for p in 0..s.visible() {
            let id = s.row_at(p).unwrap().fb.id.clone();
            assert_eq!(s.position_of(&id), Some(p));
        }
        s.set_filter("");
        s.set_sort(SortKey::Arrival);
        assert_eq!(ids(&s)[1..], arrival[..]);
        assert_eq!(ids(&s)[0], "fb_00040");
    }
}
