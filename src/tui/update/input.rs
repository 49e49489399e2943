use super::actions::{run_action, READ_ONLY_NOTE};
use super::commands::run_command;
use super::compose::{composer_input, draft_edited, placeholders, refresh_picker};
use super::triage::{assign_to, refresh_assign, submit_log};
use super::view::{after_view_change, apply_filter, move_selection};
use crate::tui::action::Context;
use crate::tui::canned::{self};
use crate::tui::effect::Effect;
use crate::tui::keymap::{KeyPress, Lookup};
use crate::tui::model::*;
use crate::tui::textutil::sanitize_multiline;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
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

/// Edit a line input with a key; true if the key was an edit.
pub(crate) fn edit_line(li: &mut LineInput, kp: KeyPress) -> bool {
    match (kp.code, kp.mods) {
        (KeyCode::Char(c), mods) if !mods.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
            li.insert(c);
            true
        }
        (KeyCode::Backspace, _) | (KeyCode::Char('h'), KeyModifiers::CONTROL) => li.backspace(),
        (KeyCode::Left, _) | (KeyCode::Char('b'), KeyModifiers::CONTROL) => {
            li.left();
            false
        }
        (KeyCode::Right, _) | (KeyCode::Char('f'), KeyModifiers::CONTROL) => {
            li.right();
            false
        }
        (KeyCode::Home, _) | (KeyCode::Char('a'), KeyModifiers::CONTROL) => {
            li.cursor = 0;
            false
        }
        (KeyCode::End, _) | (KeyCode::Char('e'), KeyModifiers::CONTROL) => {
            li.cursor = li.text.len();
            false
        }
        (KeyCode::Char('u'), KeyModifiers::CONTROL) => {
            li.text.clear();
            li.cursor = 0;
            true
        }
        _ => false,
    }
}

pub(crate) fn is_down(kp: KeyPress) -> bool {
    matches!(
        (kp.code, kp.mods),
        (KeyCode::Down, _)
            | (KeyCode::Char('n'), KeyModifiers::CONTROL)
            | (KeyCode::Tab, KeyModifiers::NONE)
    )
}

pub(crate) fn is_up(kp: KeyPress) -> bool {
    matches!(
        (kp.code, kp.mods),
        (KeyCode::Up, _)
            | (KeyCode::Char('p'), KeyModifiers::CONTROL)
            | (KeyCode::Tab, KeyModifiers::SHIFT)
    )
}

/// Moves a picker's selection on a down or up key, within its `len` entries; false for any
/// other key.
pub(crate) fn move_in_list(selected: &mut usize, len: usize, kp: KeyPress) -> bool {
    if is_down(kp) {
        *selected = (*selected + 1).min(len.saturating_sub(1));
    } else if is_up(kp) {
        *selected = selected.saturating_sub(1);
    } else {
        return false;
    }
    true
}

#[must_use]
pub(crate) fn overlay_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    if let Some(fx) = crate::tui::overlay::key(m, kp) {
        return fx;
    }
    // Closing is the same for every line and picker overlay (the filter's own Esc also
    // clears the filter).
    let closes = matches!(
        m.overlay,
        Some(
            Overlay::Command(_)
                | Overlay::Canned(_)
                | Overlay::Assign(_)
                | Overlay::Log(_)
                | Overlay::Link(_)
        )
    );
    if closes && is_close(kp) {
        m.overlay = None;
        return vec![];
    }
    match &m.overlay {
        Some(Overlay::Help { .. }) => help_key(m, kp),
        Some(Overlay::Command(_)) => command_key(m, kp),
        Some(Overlay::Filter(_)) => filter_key(m, kp),
        Some(Overlay::Canned(_)) => canned_key(m, kp),
        Some(Overlay::Assign(_)) => assign_key(m, kp),
        Some(Overlay::Log(_)) => log_key(m, kp),
        Some(Overlay::Link(_)) => link_key(m, kp),
        _ => vec![],
    }
}

/// Esc, C-c or C-g: close the overlay.
fn is_close(kp: KeyPress) -> bool {
    kp.code == KeyCode::Esc
        || (kp.code == KeyCode::Char('c') && kp.mods == KeyModifiers::CONTROL)
        || (kp.code == KeyCode::Char('g') && kp.mods == KeyModifiers::CONTROL)
}

#[must_use]
fn help_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    let Some(Overlay::Help { scroll }) = m.overlay.as_mut() else {
        return vec![];
    };

    match kp.code {
        KeyCode::Char('j') | KeyCode::Down => *scroll = scroll.saturating_add(1),
        KeyCode::Char('k') | KeyCode::Up => *scroll = scroll.saturating_sub(1),
        KeyCode::PageDown | KeyCode::Char(' ') => *scroll = scroll.saturating_add(10),
        KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
        KeyCode::Char('g') | KeyCode::Home => *scroll = 0,
        _ => m.overlay = None,
    }
    vec![]
}

#[must_use]
fn command_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    let Some(Overlay::Command(li)) = m.overlay.as_mut() else {
        return vec![];
    };
    let enter = kp.code == KeyCode::Enter;
    if enter {
        let line = li.text.clone();
        m.overlay = None;
        return run_command(m, &line);
    }
    if kp.code == KeyCode::Backspace && li.text.is_empty() {
        m.overlay = None;
        return vec![];
    }
    edit_line(li, kp);
    vec![]
}

#[must_use]
fn filter_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    let Some(Overlay::Filter(li)) = m.overlay.as_mut() else {
        return vec![];
    };
    let esc = is_close(kp);
    let enter = kp.code == KeyCode::Enter;
    if esc {
        m.overlay = None;
        return apply_filter(m, "");
    }
    if enter {
        m.overlay = None;
        // The filter is accepted: its final view (and selection) now, not later.
        m.stream.finish_filter();
        return after_view_change(m);
    }
    if is_down(kp) || is_up(kp) {
        let d = if is_down(kp) { 1 } else { -1 };
        return move_selection(m, |s| s.move_by(d));
    }
    if edit_line(li, kp) {
        let f = li.text.clone();
        return apply_filter(m, &f);
    }
    vec![]
}

#[must_use]
fn canned_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    let Some(Overlay::Canned(p)) = m.overlay.as_mut() else {
        return vec![];
    };
    let enter = kp.code == KeyCode::Enter;
    if move_in_list(&mut p.selected, p.matches.len(), kp) {
        return vec![];
    }
    if enter {
        let chosen = p.matches.get(p.selected).copied();
        m.overlay = None;
        let Some(i) = chosen else { return vec![] };
        let body = canned::fill(&m.canned[i].body, &placeholders(m));
        let name = m.canned[i].name.clone();
        if let Some(c) = m.composer.as_mut() {
            let part = c.active;
            c.area_mut(part).insert_str(body);
            m.focus = Focus::Composer;
            m.set_status(Level::Info, format!("inserted \"{name}\""));
            return draft_edited(m);
        }
        return vec![];
    }
    if edit_line(&mut p.query, kp) {
        p.selected = 0;
        refresh_picker(m);
    }
    vec![]
}

#[must_use]
fn assign_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    let Some(Overlay::Assign(p)) = m.overlay.as_mut() else {
        return vec![];
    };
    let enter = kp.code == KeyCode::Enter;
    if move_in_list(&mut p.selected, p.matches.len(), kp) {
        return vec![];
    }
    if enter {
        let chosen = p.matches.get(p.selected).map(|i| p.choices[*i].clone());
        let fid = p.feedback_id.clone();
        m.overlay = None;
        return match chosen {
            Some(c) => assign_to(m, &fid, c),
            None => vec![],
        };
    }
    if edit_line(&mut p.query, kp) {
        p.selected = 0;
        refresh_assign(p);
    }
    vec![]
}

#[must_use]
fn log_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    let Some(Overlay::Log(form)) = m.overlay.as_mut() else {
        return vec![];
    };
    let enter = kp.code == KeyCode::Enter;
    let cycle = kp.code == KeyCode::Tab
        || (kp.code == KeyCode::Char('t') && kp.mods == KeyModifiers::CONTROL);
    if cycle {
        let i = OFFLINE_CHANNELS
            .iter()
            .position(|c| *c == form.channel)
            .unwrap_or(0);
        let step = if kp.mods.contains(KeyModifiers::SHIFT) {
            2
        } else {
            1
        };
        form.channel = OFFLINE_CHANNELS[(i + step) % OFFLINE_CHANNELS.len()];
        return vec![];
    }
    if enter {
        let form = form.clone();
        return submit_log(m, form);
    }
    edit_line(&mut form.text, kp);
    vec![]
}

#[must_use]
fn link_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    let Some(Overlay::Link(ls)) = m.overlay.as_mut() else {
        return vec![];
    };
    let enter = kp.code == KeyCode::Enter;
    let n = ls.rows().len();
    if move_in_list(&mut ls.selected, n, kp) {
        return vec![];
    }
    if enter {
        let q = ls.query.text.trim().to_string();
        if ls.searched.as_deref() != Some(q.as_str()) {
            if q.is_empty() {
                return vec![];
            }
            ls.searched = Some(q.clone());
            ls.results = Load::Loading;
            return vec![Effect::SearchCustomers(q)];
        }
        if let Some(row) = ls.rows().get(ls.selected) {
            return vec![Effect::LinkIdentity {
                identity_id: ls.identity.id.clone(),
                customer_id: row.customer.id.clone(),
            }];
        }
        return vec![];
    }
    edit_line(&mut ls.query, kp);
    vec![]
}
