//! Moving the composer to another item, on the agent's word only (the queries are in
//! `tui::model::target`): `r` on the selected item, `A-j`/`A-k`, resolving and undoing.

use super::send::resolve_effect;
use super::view::{bind, detach};
use crate::tui::effect::Effect;
use crate::tui::model::{Focus, Level, Model};

/// `r` on the stream: the composer goes to the selected item (the agent chose it), focused.
#[must_use]
pub fn reply_to_selected(m: &mut Model) -> Vec<Effect> {
    let Some(sel) = m.stream.selected.clone() else {
        m.set_status(Level::Info, "select an item to reply to");
        return vec![];
    };
    let mut fx = Vec::new();
    if m.composer.as_ref().map(|c| c.feedback_id.as_str()) != Some(sel.as_str()) {
        detach(m);
        fx = super::view::selection_changed(m, None);
    }
    if m.composer.is_none() {
        m.set_status(Level::Info, "select an item to reply to");
        return fx;
    }
    m.focus = Focus::Composer;
    bind(m);
    fx
}

/// `A-j` / `A-k`, from any pane: the next (older) or previous item, selection and composer
/// together; the focus stays where it is.
#[must_use]
pub fn step(m: &mut Model, delta: isize) -> Vec<Effect> {
    let focus = m.focus;
    // Start from the composer's item (what the agent is working on), not where follow mode or
    // a filter took the selection.
    if let Some(id) = m.composer.as_ref().map(|c| c.feedback_id.clone()) {
        if m.stream.position_of(&id).is_some() {
            m.stream.selected = Some(id);
        }
    }
    detach(m);
    let mut fx = super::view::move_selection(m, |s| s.move_by(delta));
    if m.composer.is_none() {
        fx.extend(super::view::selection_changed(m, None));
    }
    m.focus = focus;
    if focus == Focus::Composer {
        bind(m);
    }
    fx
}

/// `A-e`: resolve the item being worked on (the composer's, else the selected one).
#[must_use]
pub fn resolve(m: &mut Model) -> Vec<Effect> {
    let fb = m.composer_item().or_else(|| m.selected()).cloned();
    let Some(fb) = fb else {
        m.set_status(Level::Info, "select an item first");
        return vec![];
    };
    m.set_status(Level::Info, format!("resolving {}", fb.id));
    vec![resolve_effect(&fb)]
}

/// `C-z`: undo the last edit of the active part (a paste, a cleared draft, typing).
#[must_use]
pub fn undo(m: &mut Model) -> Vec<Effect> {
    let Some(c) = m.composer.as_mut() else {
        return vec![];
    };
    let part = c.active;
    let mut undone = c.area_mut(part).undo();
    // A cleared draft emptied both parts: bring the other one back too.
    let other = match part {
        crate::domain::Visibility::Public => crate::domain::Visibility::Direct,
        crate::domain::Visibility::Direct => crate::domain::Visibility::Public,
    };
    if c.text(other).is_empty() && c.kind.parts().contains(&other) {
        undone |= c.area_mut(other).undo();
    }
    if !undone {
        m.set_status(Level::Info, "nothing to undo");
        return vec![];
    }
    super::compose::draft_edited(m)
}
