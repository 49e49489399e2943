//! The composer is bound to its conversation (issue 16 §3). The composer's target
//! (`Composer::feedback_id`) is its own id in the model, apart from the stream's selection: once
//! the agent opens the composer on an item (`r`, focusing it, typing or pasting into it), only the
//! agent moves it to another item: `A-j`/`A-k` (next/previous item), `r` on another selected
//! item, or leaving an empty composer and moving on. Follow mode, arrivals, refetches and filters
//! move the stream's selection, never the text being written.

use super::effects::Effect;
use super::model::{Composer, Focus, Level, Model};
use super::update;
use crate::domain::api::FeedbackPatch;
use crate::domain::{Feedback, FeedbackStatus};

impl Model {
    /// The item the composer writes to (not necessarily the selected one).
    pub fn composer_item(&self) -> Option<&Feedback> {
        let c = self.composer.as_ref()?;
        self.stream.get(&c.feedback_id).map(|r| &r.fb)
    }

    /// True when the composer writes to another item than the selected one.
    pub fn composer_elsewhere(&self) -> bool {
        self.composer
            .as_ref()
            .is_some_and(|c| self.stream.selected.as_deref() != Some(c.feedback_id.as_str()))
    }
}

/// Whether the composer keeps its item when the stream's selection moves to `new`: it does
/// once the agent opened it, while it has focus or holds text. An empty composer left with
/// `Esc` follows the selection again (it is only a preview of the selected item).
pub fn holds(m: &Model, new: Option<&str>) -> bool {
    let Some(c) = m.composer.as_ref() else {
        return false;
    };
    if new == Some(c.feedback_id.as_str()) {
        return false;
    }
    // The item may have left the stream (another department took it): keep the text there only
    // while it is in the model, the draft is saved either way.
    if m.stream.get(&c.feedback_id).is_none() {
        return false;
    }
    bound(c) && (m.focus == Focus::Composer || !c.is_empty() || c.sending)
}

fn bound(c: &Composer) -> bool {
    c.bound
}

/// The agent opened the composer on its item (focus, a key typed, a paste).
pub fn bind(m: &mut Model) {
    if let Some(c) = m.composer.as_mut() {
        c.bound = true;
    }
}

/// The agent chose to leave the composer's item: the composer is stashed (its draft kept) so
/// that the next selection change opens the new item's composer.
pub fn detach(m: &mut Model) {
    update::view::sync_composer(m);
    m.composer = None;
}

/// The composer's title: always who the reply goes to, and (first, so that it survives a narrow
/// pane) a warning when that is not the selected item.
pub fn title(m: &Model, kind: &str, cycle_key: &str) -> String {
    let Some(fb) = m.composer_item() else {
        return "Reply".into();
    };
    let who = super::textutil::handle_label(fb.channel, &fb.author.handle);
    if m.composer_elsewhere() {
        format!("Reply to {who} · not the selected item · {kind} ({cycle_key})")
    } else {
        format!("Reply to {who} · {kind} ({cycle_key})")
    }
}

/// `r` on the stream: the composer goes to the selected item (the agent chose it), focused.
pub fn reply_to_selected(m: &mut Model) -> Vec<Effect> {
    let Some(sel) = m.stream.selected.clone() else {
        m.set_status(Level::Info, "select an item to reply to");
        return vec![];
    };
    let mut fx = Vec::new();
    if m.composer.as_ref().map(|c| c.feedback_id.as_str()) != Some(sel.as_str()) {
        detach(m);
        fx = update::view::selection_changed(m, None);
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
    let mut fx = update::view::move_selection(m, |s| s.move_by(delta));
    if m.composer.is_none() {
        fx.extend(update::view::selection_changed(m, None));
    }
    m.focus = focus;
    if focus == Focus::Composer {
        bind(m);
    }
    fx
}

/// `A-e`: resolve the item being worked on (the composer's, else the selected one).
pub fn resolve(m: &mut Model) -> Vec<Effect> {
    let fb = m.composer_item().or_else(|| m.selected()).cloned();
    let Some(fb) = fb else {
        m.set_status(Level::Info, "select an item first");
        return vec![];
    };
    m.set_status(Level::Info, format!("resolving {}", fb.id));
    vec![resolve_effect(&fb)]
}

/// The PATCH that resolves an item at the version we have.
pub fn resolve_effect(fb: &Feedback) -> Effect {
    Effect::Patch {
        feedback_id: fb.id.clone(),
        version: fb.version,
        patch: FeedbackPatch {
            status: Some(FeedbackStatus::Resolved),
            ..Default::default()
        },
    }
}

/// `C-z`: undo the last edit of the active part (a paste, a cleared draft, typing).
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
    update::compose::draft_edited(m)
}
