//! What a key means to the open overlay. Every overlay reads its keys from its own keymap table
//! (`[keys.pager]`, `[keys.prompt]`, `[keys.picker]`, `[keys.form]`, `[keys.guard]`,
//! `[keys.confirm]` in keymaps/default.toml, each falling back as `Context::parents` says), so a
//! user rebinds them like any other key. Each overlay's file turns an [`OverlayKey`] into an
//! [`Outcome`] on its own state; the reducer (`update::overlays`) turns the outcome into model
//! changes and effects.

use crate::tui::action::{Action, Context};
use crate::tui::keymap::{KeyPress, Keymap, Lookup};
use crate::tui::model::{LineInput, Overlay};
use crossterm::event::KeyCode;

/// A key as the open overlay's table reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayKey {
    /// An action its table (or one it falls back to) binds to the key.
    Action(Action),
    /// A printable key no table binds: text, where the overlay takes text.
    Text(char),
    /// Anything else.
    Other,
}

/// What an overlay did with a key, for the reducer to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The overlay's own state changed (or nothing did): nothing else to do.
    Stay,
    /// Close the overlay.
    Close,
    /// The agent accepted what the overlay shows (runs the command, takes the choice...).
    Accept,
    /// The text of its query changed: match or filter again.
    Edited,
    /// Move the stream's selection (the filter's up and down keys).
    Move(isize),
}

/// The keymap table of an overlay.
pub fn table_of(o: &Overlay) -> Context {
    match o {
        Overlay::Help { .. } | Overlay::BulkResults { .. } => Context::Pager,
        Overlay::Guard(_) => Context::Guard,
        Overlay::ConfirmClear => Context::Confirm,
        Overlay::Command(_) => Context::Prompt,
        Overlay::Filter(_) | Overlay::Canned(_) | Overlay::Assign(_) | Overlay::Link(_) => {
            Context::Picker
        }
        Overlay::Log(_) => Context::Form,
    }
}

/// Reads a key in the table of the open overlay.
pub fn read(keymap: &Keymap, overlay: &Overlay, kp: KeyPress) -> OverlayKey {
    match keymap.lookup(table_of(overlay), &[kp]) {
        Lookup::Action(a) => OverlayKey::Action(a),
        _ => match kp.code {
            KeyCode::Char(c) if kp.is_text() => OverlayKey::Text(c),
            _ => OverlayKey::Other,
        },
    }
}

/// Applies a prompt key to a line: typing and the `prompt_*` edits. True if the text changed.
pub fn edit(li: &mut LineInput, key: OverlayKey) -> bool {
    match key {
        OverlayKey::Text(c) => {
            li.insert(c);
            true
        }
        OverlayKey::Action(Action::PromptBackspace) => li.backspace(),
        OverlayKey::Action(Action::PromptLeft) => {
            li.left();
            false
        }
        OverlayKey::Action(Action::PromptRight) => {
            li.right();
            false
        }
        OverlayKey::Action(Action::PromptStart) => {
            li.cursor = 0;
            false
        }
        OverlayKey::Action(Action::PromptEnd) => {
            li.cursor = li.text.len();
            false
        }
        OverlayKey::Action(Action::PromptClear) => {
            li.text.clear();
            li.cursor = 0;
            true
        }
        _ => false,
    }
}

/// Moves a list's selection on `picker_down`/`picker_up`, within its `len` entries; false for
/// any other key.
pub fn move_in_list(selected: &mut usize, len: usize, key: OverlayKey) -> bool {
    match key {
        OverlayKey::Action(Action::PickerDown) => {
            *selected = (*selected + 1).min(len.saturating_sub(1));
        }
        OverlayKey::Action(Action::PickerUp) => *selected = selected.saturating_sub(1),
        _ => return false,
    }
    true
}

/// The outcome of a key in a picker: a move in its list of `len` entries, accept, cancel, or
/// an edit of its query (which puts the selection back on the first match).
pub fn picker(query: &mut LineInput, selected: &mut usize, len: usize, key: OverlayKey) -> Outcome {
    if move_in_list(selected, len, key) {
        return Outcome::Stay;
    }
    match key {
        OverlayKey::Action(Action::PromptAccept) => Outcome::Accept,
        OverlayKey::Action(Action::PromptCancel) => Outcome::Close,
        key if edit(query, key) => {
            *selected = 0;
            Outcome::Edited
        }
        _ => Outcome::Stay,
    }
}

/// A pager's scroll after a `pager_*` key; `None` for any other key.
pub fn scroll(scroll: u16, key: OverlayKey) -> Option<u16> {
    match key {
        OverlayKey::Action(Action::PagerDown) => Some(scroll.saturating_add(1)),
        OverlayKey::Action(Action::PagerUp) => Some(scroll.saturating_sub(1)),
        OverlayKey::Action(Action::PagerPageDown) => Some(scroll.saturating_add(10)),
        OverlayKey::Action(Action::PagerPageUp) => Some(scroll.saturating_sub(10)),
        OverlayKey::Action(Action::PagerTop) => Some(0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn keymap() -> Keymap {
        Keymap::load(None, None).0
    }

    fn key(s: &str) -> KeyPress {
        KeyPress::parse(s).unwrap()
    }

    #[test]
    fn a_prompt_types_what_no_table_binds_and_never_reaches_the_global_table() {
        let km = keymap();
        let cmd = Overlay::Command(LineInput::default());
        // `q` is quit in [keys.global]; in the command line it is a letter.
        assert_eq!(read(&km, &cmd, key("q")), OverlayKey::Text('q'));
        assert_eq!(
            read(&km, &cmd, key("C-a")),
            OverlayKey::Action(Action::PromptStart)
        );
        assert_eq!(read(&km, &cmd, key("F5")), OverlayKey::Other);
    }

    #[test]
    fn a_picker_falls_back_to_the_prompt_and_a_guard_to_the_pager() {
        let km = keymap();
        let filter = Overlay::Filter(LineInput::default());
        assert_eq!(
            read(&km, &filter, key("tab")),
            OverlayKey::Action(Action::PickerDown)
        );
        assert_eq!(
            read(&km, &filter, key("esc")),
            OverlayKey::Action(Action::PromptCancel)
        );
        let guard = Overlay::Guard(crate::tui::model::guard::GuardView {
            feedback_id: "f1".into(),
            messages: vec![],
            scroll: 0,
            resolve: false,
        });
        assert_eq!(
            read(&km, &guard, key("j")),
            OverlayKey::Action(Action::PagerDown)
        );
        assert_eq!(
            read(&km, &guard, key("ret")),
            OverlayKey::Action(Action::GuardSend)
        );
    }

    #[test]
    fn a_users_binding_moves_an_overlay_key() {
        let (km, warnings) = Keymap::load(
            None,
            Some((
                "[keys.picker]\n\"C-j\" = \"picker_down\"\n[keys.prompt]\n\"C-h\" = \"no_op\"\n[keys.pager]\nq = \"quit\"\n",
                "keymap.toml",
            )),
        );
        let filter = Overlay::Filter(LineInput::default());
        assert_eq!(
            read(
                &km,
                &filter,
                KeyPress::new(KeyCode::Char('j'), KeyModifiers::CONTROL)
            ),
            OverlayKey::Action(Action::PickerDown)
        );
        assert_eq!(read(&km, &filter, key("C-h")), OverlayKey::Other);
        // A global action has no pane to run in while an overlay is open: refused, with a
        // warning, and the default binding stays.
        assert!(
            warnings.iter().any(|w| w.contains("'quit'")),
            "{warnings:?}"
        );
        let help = Overlay::Help { scroll: 0 };
        assert_eq!(
            read(&km, &help, key("q")),
            OverlayKey::Action(Action::CloseOverlay)
        );
    }

    #[test]
    fn the_guard_leaves_only_by_a_keep_or_a_send_key() {
        let km = keymap();
        let mut view = crate::tui::model::guard::GuardView {
            feedback_id: "f1".into(),
            messages: vec![],
            scroll: 0,
            resolve: false,
        };
        let open = Overlay::Guard(view.clone());
        let outcome =
            |view: &mut _, k: &str| super::super::guard::on_key(view, read(&km, &open, key(k)));
        // The pager's close keys do nothing here.
        assert_eq!(outcome(&mut view, "q"), Outcome::Stay);
        assert_eq!(outcome(&mut view, "x"), Outcome::Stay);
        assert_eq!(outcome(&mut view, "j"), Outcome::Stay);
        assert_eq!(view.scroll, 1);
        assert_eq!(outcome(&mut view, "esc"), Outcome::Close);
        assert_eq!(outcome(&mut view, "n"), Outcome::Close);
        assert_eq!(outcome(&mut view, "y"), Outcome::Accept);
    }

    #[test]
    fn a_sequence_in_an_overlay_table_is_refused_with_a_warning() {
        let (km, warnings) = Keymap::load(
            None,
            Some(("[keys.pager]\ng = { g = \"pager_top\" }\n", "keymap.toml")),
        );
        assert!(
            warnings.iter().any(|w| w.contains("not sequences")),
            "{warnings:?}"
        );
        // The default single `g` stays.
        let help = Overlay::Help { scroll: 3 };
        assert_eq!(
            read(&km, &help, key("g")),
            OverlayKey::Action(Action::PagerTop)
        );
    }

    #[test]
    fn prompt_edits_move_the_cursor_and_change_the_text() {
        let mut li = LineInput::with("ab");
        assert!(!edit(&mut li, OverlayKey::Action(Action::PromptStart)));
        assert!(edit(&mut li, OverlayKey::Text('x')));
        assert_eq!((li.text.as_str(), li.cursor), ("xab", 1));
        assert!(edit(&mut li, OverlayKey::Action(Action::PromptClear)));
        assert_eq!(li, LineInput::default());
        assert!(!edit(&mut li, OverlayKey::Action(Action::PromptBackspace)));
    }
}
