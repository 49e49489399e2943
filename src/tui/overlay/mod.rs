//! The overlays: one file each for help, command line and filter (`line`), canned replies,
//! reassign, link, offline log and the stale-send guard, with how it reads its keys and how it
//! is drawn; the bulk results' keys and counts (`bulk_results`), drawn here with the
//! clear-draft question. [`keys`] reads a key in the open overlay's keymap table. Their state
//! is in `model::overlays`; `update::overlays` turns their outcomes into model changes and
//! effects (and answers the clear-draft question, which has no state of its own).

pub mod assign;
pub mod bulk_results;
pub mod canned;
pub mod guard;
pub mod help;
pub mod keys;
pub mod line;
pub mod link;
pub mod log;
mod widgets;

use super::model::{Model, Overlay};
use ratatui::layout::Rect;
use ratatui::Frame;

/// Draws this module's overlays; `bottom` is the area under the stream (profile and composer),
/// where the conversation being answered belongs.
pub fn render(f: &mut Frame, screen: Rect, bottom: Rect, m: &Model) {
    match &m.overlay {
        Some(Overlay::Guard(view)) => guard::render(f, bottom, m, view),
        Some(Overlay::BulkResults { scroll }) => bulk_view::render(f, screen, m, *scroll),
        Some(Overlay::ConfirmClear) => bulk_view::render_confirm(f, bottom, m),
        _ => {}
    }
}

mod bulk_view {
    //! Drawing the bulk results and the clear-draft question.
    use super::bulk_results::{counts, describe};
    use crate::tui::model::Model;
    use crate::tui::panes::frame::centered;
    use crate::tui::textutil::truncate_to_width;
    use ratatui::layout::Rect;
    use ratatui::text::{Line, Span};
    use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
    use ratatui::Frame;

    pub fn render(f: &mut Frame, area: Rect, m: &Model, scroll: u16) {
        let t = &m.theme;
        let Some(r) = &m.bulk else { return };
        let (sent, refused, skipped) = counts(m, r);
        let pop = centered(
            area,
            area.width.saturating_sub(4).min(110),
            (r.entries.len() as u16 + 4).min(area.height.saturating_sub(2)),
        );
        f.render_widget(Clear, pop);
        let block = Block::bordered()
            .title(format!(
                " Macro reply: {sent} sent, {refused} refused, {skipped} skipped (Esc closes) "
            ))
            .border_style(t.get("ui.border.focus"))
            .style(t.get("ui.popup"));
        let inner = block.inner(pop);
        f.render_widget(block, pop);
        let w = inner.width as usize;
        let lines: Vec<Line> = r
            .entries
            .iter()
            .map(|e| {
                let (label, detail) = describe(m, e);
                let style = match label {
                    "refused" | "failed" => t.get("rule.error"),
                    "skipped" | "queued" => t.get("rule.warning"),
                    "delivered" | "sent" => t.get("stream.state.answered"),
                    _ => t.get("ui.text.dim"),
                };
                let text = format!("{label:<9} {} {} {detail}", e.feedback_id, e.who);
                Line::from(Span::styled(truncate_to_width(&text, w), style))
            })
            .collect();
        let max = (lines.len() as u16).saturating_sub(inner.height);
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll((scroll.min(max), 0)),
            inner,
        );
    }

    pub fn render_confirm(f: &mut Frame, area: Rect, m: &Model) {
        let t = &m.theme;
        let pop = centered(area, area.width.saturating_sub(4).min(60), 3);
        f.render_widget(Clear, pop);
        let block = Block::bordered()
            .border_style(t.get("rule.warning"))
            .style(t.get("ui.popup"));
        let inner = block.inner(pop);
        f.render_widget(block, pop);
        f.render_widget(
            Paragraph::new(truncate_to_width(
                "Clear this draft? y clears it (C-z undoes), any other key keeps it",
                inner.width as usize,
            ))
            .style(t.get("ui.text")),
            inner,
        );
    }
}
