//! Which item the composer answers: the queries (the changes are in `tui::update::target`).
//!
//! The composer is bound to its conversation (issue 16 §3). The composer's target
//! (`Composer::feedback_id`) is its own id in the model, apart from the stream's selection: once
//! the agent opens the composer on an item (`r`, focusing it, typing or pasting into it), only the
//! agent moves it to another item: `A-j`/`A-k` (next/previous item), `r` on another selected
//! item, or leaving an empty composer and moving on. Follow mode, arrivals, refetches and filters
//! move the stream's selection, never the text being written.

use super::composer::Composer;
use super::view::Focus;
use super::Model;
use crate::domain::Feedback;

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

pub(crate) fn bound(c: &Composer) -> bool {
    c.bound
}

/// The composer's title: always who the reply goes to, and (first, so that it survives a narrow
/// pane) a warning when that is not the selected item.
pub fn title(m: &Model, kind: &str, cycle_key: &str) -> String {
    let Some(fb) = m.composer_item() else {
        return "Reply".into();
    };
    let who = crate::tui::textutil::handle_label(fb.channel, &fb.author.handle);
    if m.composer_elsewhere() {
        format!("Reply to {who} · not the selected item · {kind} ({cycle_key})")
    } else {
        format!("Reply to {who} · {kind} ({cycle_key})")
    }
}
