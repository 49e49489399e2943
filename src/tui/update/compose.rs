use super::marks::relint;
use super::presence::announce;
use crate::domain::{PresenceState, Transaction, TransactionKind};
use crate::tui::canned::{self, Placeholders};
use crate::tui::effect::Effect;
use crate::tui::lint::ViolationMark;
use crate::tui::model::*;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui_textarea::{CursorMove, Input, Key};

pub(crate) fn to_input(ev: &KeyEvent) -> Input {
    if ev.kind == KeyEventKind::Release {
        return Input::default();
    }
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let alt = ev.modifiers.contains(KeyModifiers::ALT);
    let shift = ev.modifiers.contains(KeyModifiers::SHIFT);
    let key = match ev.code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Enter => Key::Enter,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => {
            return Input {
                key: Key::Tab,
                ctrl,
                alt,
                shift: true,
            }
        }
        KeyCode::Delete => Key::Delete,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Esc => Key::Esc,
        KeyCode::F(n) => Key::F(n),
        _ => Key::Null,
    };
    Input {
        key,
        ctrl,
        alt,
        shift,
    }
}

#[must_use]
pub(crate) fn composer_input(m: &mut Model, ev: KeyEvent) -> Vec<Effect> {
    let Some(c) = m.composer.as_mut() else {
        m.set_status(Level::Info, "select an item to reply to");
        return vec![];
    };
    c.bound = true;
    let part = c.active;
    let before = c.area(part).cursor();
    let changed = c.area_mut(part).input(to_input(&ev));
    if changed {
        m.dirty = true;
        draft_edited(m)
    } else {
        if c.area(part).cursor() != before {
            m.dirty = true;
        }
        vec![]
    }
}

/// The composer's text changed.
#[must_use]
pub(crate) fn draft_edited(m: &mut Model) -> Vec<Effect> {
    let Some(c) = m.composer.as_mut() else {
        return vec![];
    };
    c.pending_key = None;
    c.confirm_stale = false;
    c.confirm_warnings = false;
    c.error = None;
    let id = c.feedback_id.clone();
    m.touch_draft(id.clone());
    m.dirty = true;
    relint(m);
    let mut fx = Vec::new();
    let composing = matches!(&m.my_presence, Some((pid, PresenceState::Composing)) if *pid == id);
    if !composing {
        fx.push(announce(m, &id, PresenceState::Composing));
    }
    fx
}

pub fn cycle_kind(k: ReplyKind) -> ReplyKind {
    match k {
        ReplyKind::Macro => ReplyKind::Micro,
        ReplyKind::Micro => ReplyKind::Both,
        ReplyKind::Both => ReplyKind::Macro,
    }
}

/// The order a reply is about: one of the customer's orders that the post names (the first
/// named, if several), else their newest. A complaint about AC-563140 must not be answered about
/// the order placed yesterday.
pub(crate) fn order_for(post: &str, transactions: &[Transaction]) -> Option<String> {
    let orders = transactions
        .iter()
        .filter(|t| t.kind == TransactionKind::Order && !t.reference.is_empty());
    let post = post.to_lowercase();
    let named = orders
        .clone()
        .filter_map(|t| post.find(&t.reference.to_lowercase()).map(|at| (at, t)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, t)| t);
    named
        .or_else(|| orders.max_by_key(|t| t.occurred_at))
        .map(|t| t.reference.clone())
}

pub(crate) fn placeholders(m: &Model) -> Placeholders {
    let fb = m.composer_item();
    let cust = fb
        .and_then(|f| {
            f.customer_id
                .clone()
                .or_else(|| f.author.customer_id.clone())
        })
        .and_then(|id| m.customers.get(&id));
    let c = cust.and_then(|v| v.customer.loaded());
    let last_order = cust
        .and_then(|v| v.transactions.loaded())
        .and_then(|t| order_for(fb.map_or("", |f| f.text.as_str()), t));
    Placeholders {
        first_name: c.map(|c| c.first_name.clone()).or_else(|| {
            fb.and_then(|f| {
                f.author
                    .display_name
                    .split_whitespace()
                    .next()
                    .map(str::to_string)
            })
        }),
        last_name: c.map(|c| c.last_name.clone()),
        last_order,
        agent: m.me.as_ref().map(|a| a.name.clone()),
        handle: fb.map(|f| crate::tui::textutil::handle_label(f.channel, &f.author.handle)),
        channel: fb.map(|f| f.channel.to_string()),
    }
}

/// Clears the composer's draft (after the agent said yes); `undo` brings the text back.
#[must_use]
pub fn clear_draft_now(m: &mut Model) -> Vec<Effect> {
    let Some(c) = m.composer.as_mut() else {
        return vec![];
    };
    set_text(&mut c.public, "");
    set_text(&mut c.direct, "");
    c.overrides.clear();
    let fx = draft_edited(m);
    m.set_status(Level::Info, "draft cleared (C-z undoes)");
    fx
}

/// Byte offset -> (row, char column) in a text area's lines.
pub(crate) fn row_col(text: &str, byte: usize) -> (u16, u16) {
    let before = &text[..byte.min(text.len())];
    let row = before.matches('\n').count();
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (row as u16, before[line_start..].chars().count() as u16)
}

pub(crate) fn cursor_byte(c: &Composer) -> usize {
    let ratatui_textarea::DataCursor(row, col) = c.area(c.active).cursor();
    let lines = c.area(c.active).lines();
    let mut b = 0;
    for l in &lines[..row.min(lines.len())] {
        b += l.len() + 1;
    }
    if let Some(l) = lines.get(row) {
        b += l.char_indices().nth(col).map(|(i, _)| i).unwrap_or(l.len());
    }
    b
}

pub(crate) fn next_violation(c: &mut Composer) {
    if c.violations.is_empty() {
        return;
    }
    let at = cursor_byte(c);
    let order = |v: &ViolationMark| (v.part != c.active, v.start);
    let mut vs: Vec<&ViolationMark> = c.violations.iter().collect();
    vs.sort_by_key(|v| order(v));
    let target = vs
        .iter()
        .find(|v| v.part == c.active && v.start > at)
        .or_else(|| vs.iter().find(|v| v.part != c.active))
        .or_else(|| vs.first())
        .map(|v| (*v).clone());
    if let Some(v) = target {
        c.active = v.part;
        let text = c.text(v.part);
        let (r, col) = row_col(&text, v.start);
        c.area_mut(v.part).move_cursor(CursorMove::Jump(r, col));
    }
}

#[must_use]
pub(crate) fn apply_fix(m: &mut Model) -> Vec<Effect> {
    let Some(c) = m.composer.as_mut() else {
        return vec![];
    };
    let at = cursor_byte(c);
    let v = c
        .violations
        .iter()
        .find(|v| v.part == c.active && v.fix.is_some() && v.start <= at && at <= v.end)
        .or_else(|| {
            c.violations
                .iter()
                .find(|v| v.part == c.active && v.fix.is_some())
        })
        .cloned();
    let Some(v) = v else {
        m.set_status(Level::Info, "no fix here");
        return vec![];
    };
    let mut text = c.text(v.part);
    if v.end > text.len() || !text.is_char_boundary(v.start) || !text.is_char_boundary(v.end) {
        return vec![];
    }
    let fix = v.fix.clone().unwrap_or_default();
    text.replace_range(v.start..v.end, &fix);
    set_text(c.area_mut(v.part), &text);
    let (r, col) = row_col(&text, v.start + fix.len());
    c.area_mut(v.part).move_cursor(CursorMove::Jump(r, col));
    m.set_status(Level::Info, format!("applied fix for {}", v.rule));
    draft_edited(m)
}

pub(crate) fn refresh_picker(m: &mut Model) {
    if let Some(Overlay::Canned(p)) = &mut m.overlay {
        p.matches = canned::fuzzy(&m.canned, &p.query.text);
        p.selected = p.selected.min(p.matches.len().saturating_sub(1));
    }
}

/// $EDITOR returned: its text replaces the part (the composer's, or a saved draft's when the
/// composer moved on meanwhile).
#[must_use]
pub(crate) fn on_editor_done(
    m: &mut Model,
    feedback_id: String,
    part: crate::domain::Visibility,
    result: Result<String, String>,
) -> Vec<Effect> {
    m.dirty = true;
    let text = match result {
        Ok(text) => crate::tui::textutil::sanitize_multiline(text.trim_end_matches('\n')),
        Err(e) => {
            m.set_status(Level::Error, format!("editor: {e}"));
            return vec![];
        }
    };
    if let Some(c) = m.composer.as_mut().filter(|c| c.feedback_id == feedback_id) {
        set_text(c.area_mut(part), &text);
        return draft_edited(m);
    }
    let now = m.now;
    let d = m
        .drafts
        .entry(feedback_id.clone())
        .or_insert_with(|| Draft {
            feedback_id: feedback_id.clone(),
            kind: ReplyKind::Micro,
            public: String::new(),
            direct: String::new(),
            updated_at: now,
            idempotency_key: None,
        });
    match part {
        crate::domain::Visibility::Public => d.public = text,
        crate::domain::Visibility::Direct => d.direct = text,
    }
    m.touch_draft(feedback_id);
    vec![]
}
