//! The assignment picker: an agent or a department.

use super::keys::{self, Outcome, OverlayKey};
use super::widgets::{popup, render_picker};
use crate::tui::model::{AssignPicker, Model};
use crate::tui::panes::frame::centered;
use ratatui::layout::Rect;
use ratatui::Frame;

/// The reassign picker: agents, departments, unassign.
pub fn render_assign(f: &mut Frame, area: Rect, m: &Model, p: &AssignPicker) {
    let pop = centered(
        area,
        area.width.saturating_sub(8).min(70),
        area.height.saturating_sub(4).min(16),
    );
    let title = format!(
        " Reassign {} (↑↓ choose, ret apply, esc cancel) ",
        p.feedback_id
    );
    let inner = popup(f, m, pop, title);
    render_picker(
        f,
        inner,
        m,
        &p.query,
        (p.matches.len(), p.selected),
        |i| p.choices[p.matches[i]].label(),
        "no agent or department matches (loading?)",
    );
}

/// The reassign picker: Accept assigns the item to the selected agent or department.
pub fn on_key(p: &mut AssignPicker, key: OverlayKey) -> Outcome {
    keys::picker(&mut p.query, &mut p.selected, p.matches.len(), key)
}
