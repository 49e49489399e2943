//! The `:` command line and the `/` filter, on the status row.

use crate::tui::model::{LineInput, Model};
use crate::tui::textutil::{display_width, truncate_to_width};
use ratatui::layout::{Position, Rect};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// A one-line input on the status row, with the terminal cursor in it.
pub fn render_line(f: &mut Frame, area: Rect, m: &Model, prompt: char, li: &LineInput) {
    let t = &m.theme;
    let text = format!("{prompt}{}", li.text);
    f.render_widget(
        Paragraph::new(truncate_to_width(&text, area.width as usize)).style(t.get("ui.cmdline")),
        area,
    );
    let x = 1 + display_width(&li.text[..li.cursor]) as u16;
    f.set_cursor_position(Position::new(
        area.x + x.min(area.width.saturating_sub(1)),
        area.y,
    ));
}
