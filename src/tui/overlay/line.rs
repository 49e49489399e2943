//! The `:` command line and the `/` filter, on the status row.

use super::keys::{self, Outcome, OverlayKey};
use crate::tui::action::Action;
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

/// The command line: Accept runs it; backspace on an empty line closes it, as in vim.
pub fn on_command_key(li: &mut LineInput, key: OverlayKey) -> Outcome {
    match key {
        OverlayKey::Action(Action::PromptAccept) => Outcome::Accept,
        OverlayKey::Action(Action::PromptCancel) => Outcome::Close,
        OverlayKey::Action(Action::PromptBackspace) if li.text.is_empty() => Outcome::Close,
        key => {
            keys::edit(li, key);
            Outcome::Stay
        }
    }
}

/// The filter: every edit filters again, up and down move the stream's selection under it,
/// Accept keeps the filter, Close drops it.
pub fn on_filter_key(li: &mut LineInput, key: OverlayKey) -> Outcome {
    match key {
        OverlayKey::Action(Action::PromptAccept) => Outcome::Accept,
        OverlayKey::Action(Action::PromptCancel) => Outcome::Close,
        OverlayKey::Action(Action::PickerDown) => Outcome::Move(1),
        OverlayKey::Action(Action::PickerUp) => Outcome::Move(-1),
        key if keys::edit(li, key) => Outcome::Edited,
        _ => Outcome::Stay,
    }
}
