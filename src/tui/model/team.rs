//! The Team screen: its window and the last summary; the behaviour is in `tui::team`.

use super::load::Load;
use crate::domain::metrics::{MetricsSummary, MetricsWindow};

#[derive(Debug, Clone, PartialEq)]
pub struct TeamView {
    pub window: MetricsWindow,
    pub summary: Load<MetricsSummary>,
    /// The selected row of the breached list.
    pub selected: usize,
    /// A refetch is scheduled or in flight: events meanwhile need no other.
    pub refresh_pending: bool,
}
