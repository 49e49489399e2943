use super::actions::{run_action, READ_ONLY_NOTE};
use super::compose::{composer_input, draft_edited, refresh_picker};
use super::overlays::overlay_key;
use super::triage::refresh_assign;
use super::view::{apply_filter, move_selection};
use crate::tui::action::Context;
use crate::tui::effect::Effect;
use crate::tui::keymap::{KeyPress, Lookup};
use crate::tui::model::*;
use crate::tui::textutil::sanitize_multiline;
use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

pub(crate) fn context_of(f: Focus) -> Context {
    match f {
        Focus::Stream => Context::Stream,
        Focus::Profile => Context::Profile,
        Focus::Composer => Context::Composer,
    }
}

#[must_use]
pub(crate) fn on_key(m: &mut Model, ev: KeyEvent) -> Vec<Effect> {
    let Some(kp) = KeyPress::from_event(&ev) else {
        return vec![];
    };
    if m.overlay.is_some() {
        m.dirty = true;
        return overlay_key(m, kp);
    }
    if m.pending_keys.is_empty() {
        if let Some(fx) = crate::tui::team::on_key(m, &ev) {
            return fx;
        }
    }
    let ctx = match context_of(m.focus) {
        Context::Stream if m.conversation.is_open() => Context::Conversation,
        ctx => ctx,
    };
    let mut seq = std::mem::take(&mut m.pending_keys);
    let had_pending = !seq.is_empty();
    seq.push(kp);
    match m.keymap.lookup(ctx, &seq) {
        Lookup::Action(a) => {
            m.dirty = true;
            run_action(m, a)
        }
        Lookup::Pending => {
            m.pending_keys = seq;
            m.dirty = true;
            vec![]
        }
        Lookup::None if had_pending => {
            m.dirty = true;
            vec![]
        }
        Lookup::None if m.focus == Focus::Composer && m.read_only => {
            m.set_status(Level::Warning, READ_ONLY_NOTE);
            vec![]
        }
        Lookup::None if m.focus == Focus::Composer => composer_input(m, ev),
        Lookup::None => vec![],
    }
}

#[must_use]
pub(crate) fn on_paste(m: &mut Model, text: &str) -> Vec<Effect> {
    m.dirty = true;
    match &mut m.overlay {
        Some(Overlay::Command(li)) | Some(Overlay::Filter(li)) => {
            li.insert_str(text);
            if let Some(Overlay::Filter(li)) = &m.overlay {
                let f = li.text.clone();
                return apply_filter(m, &f);
            }
            vec![]
        }
        Some(Overlay::Canned(p)) => {
            p.query.insert_str(text);
            refresh_picker(m);
            vec![]
        }
        Some(Overlay::Link(ls)) => {
            ls.query.insert_str(text);
            vec![]
        }
        Some(Overlay::Assign(p)) => {
            p.query.insert_str(text);
            refresh_assign(p);
            vec![]
        }
        Some(Overlay::Log(form)) => {
            form.text.insert_str(text);
            vec![]
        }
        Some(Overlay::Help { .. })
        | Some(Overlay::Guard(_))
        | Some(Overlay::BulkResults { .. })
        | Some(Overlay::ConfirmClear) => vec![],
        None => {
            if m.focus != Focus::Composer {
                m.focus = Focus::Composer;
            }
            crate::tui::update::view::bind(m);
            let Some(c) = m.composer.as_mut() else {
                return vec![];
            };
            let clean = sanitize_multiline(&text.replace("\r\n", "\n").replace('\r', "\n"));
            let part = c.active;
            c.area_mut(part).insert_str(clean);
            draft_edited(m)
        }
    }
}

/// The mouse (only with `--mouse`): the wheel moves through the stream or scrolls the profile
/// under the pointer, a click selects a stream row or focuses the pane under it. Everything
/// stays reachable from the keyboard; overlays take keys only.
#[must_use]
pub(crate) fn on_mouse(m: &mut Model, ev: MouseEvent) -> Vec<Effect> {
    if m.overlay.is_some() {
        return vec![];
    }
    let areas = crate::tui::panes::frame::layout(Rect::new(0, 0, m.size.0, m.size.1), m);
    let at = Position::new(ev.column, ev.row);
    match ev.kind {
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            let down = ev.kind == MouseEventKind::ScrollDown;
            if areas.profile.contains(at) {
                m.dirty = true;
                m.profile_scroll = if down {
                    m.profile_scroll.saturating_add(1)
                } else {
                    m.profile_scroll.saturating_sub(1)
                };
                vec![]
            } else if areas.stream.contains(at) {
                m.dirty = true;
                move_selection(m, |s| s.move_by(if down { 1 } else { -1 }))
            } else {
                vec![]
            }
        }
        MouseEventKind::Down(MouseButton::Left) => {
            if areas.stream.contains(at) {
                m.focus = Focus::Stream;
                m.dirty = true;
                // Rows start under the top border and end above the bottom one.
                let first_row = areas.stream.y + 1;
                if at.y < first_row || at.y.saturating_add(1) >= areas.stream.bottom() {
                    return vec![];
                }
                m.stream.finish_filter();
                let pos = m.stream.top_pos() + usize::from(at.y - first_row);
                if m.stream.row_at(pos).is_none() {
                    return vec![];
                }
                move_selection(m, |s| s.select_pos(pos))
            } else if areas.profile.contains(at) {
                m.focus = Focus::Profile;
                m.dirty = true;
                vec![]
            } else if areas.composer.contains(at) && m.composer.is_some() {
                m.focus = Focus::Composer;
                crate::tui::update::view::bind(m);
                m.dirty = true;
                vec![]
            } else {
                vec![]
            }
        }
        // Moves, drags and other buttons: nothing to do, nothing to redraw.
        _ => vec![],
    }
}
