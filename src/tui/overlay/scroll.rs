//! The keys of a scrolled overlay.

use crate::tui::keymap::KeyPress;
use crossterm::event::KeyCode;

/// j/k, arrows and pages move a scrolled overlay; `None` for any other key.
pub fn scroll_key(scroll: u16, kp: KeyPress) -> Option<u16> {
    match kp.code {
        KeyCode::Char('j') | KeyCode::Down => Some(scroll.saturating_add(1)),
        KeyCode::Char('k') | KeyCode::Up => Some(scroll.saturating_sub(1)),
        KeyCode::PageDown | KeyCode::Char(' ') => Some(scroll.saturating_add(10)),
        KeyCode::PageUp => Some(scroll.saturating_sub(10)),
        KeyCode::Home | KeyCode::Char('g') => Some(0),
        _ => None,
    }
}
