//! The canned-reply picker.

use super::keys::{self, Outcome, OverlayKey};
use super::widgets::{popup, render_picker};
use crate::tui::model::{Model, Picker};
use crate::tui::panes::frame::centered;
use crate::tui::textutil::one_line;
use ratatui::layout::Rect;
use ratatui::Frame;

pub fn render_canned(f: &mut Frame, area: Rect, m: &Model, p: &Picker) {
    let pop = centered(
        area,
        area.width.saturating_sub(8).min(90),
        area.height.saturating_sub(4).min(16),
    );
    let inner = popup(
        f,
        m,
        pop,
        " Canned replies (↑↓ choose, ret insert, esc cancel) ".into(),
    );
    render_picker(
        f,
        inner,
        m,
        &p.query,
        (p.matches.len(), p.selected),
        |i| {
            let r = &m.canned[p.matches[i]];
            format!("{} — {}", r.name, one_line(&r.body))
        },
        "no canned reply matches",
    );
}

/// The canned-reply picker: Accept inserts the selected reply.
pub fn on_key(p: &mut Picker, key: OverlayKey) -> Outcome {
    keys::picker(&mut p.query, &mut p.selected, p.matches.len(), key)
}
