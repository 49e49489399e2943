use super::view::sync_composer;
use crate::tui::effect::{Effect, UnsavedDrafts};
use crate::tui::model::*;

/// How long a draft may stay unsaved after a change.
pub(crate) const DRAFT_DEBOUNCE_SECS: i64 = 2;

/// A save failed: the drafts are marked changed again, so the next debounce retries them (and
/// the last save on exit includes them).
#[must_use]
pub(crate) fn on_drafts_not_saved(m: &mut Model, unsaved: UnsavedDrafts) -> Vec<Effect> {
    let n = unsaved.items.len();
    for (id, _) in unsaved.items {
        m.touch_draft(id);
    }
    // Retried every few seconds: never hide another error (a failed send) behind this one.
    let prefix = "draft(s) not saved";
    let other_error = m
        .status
        .as_ref()
        .is_some_and(|s| s.level == Level::Error && !s.text.contains(prefix));
    if !other_error {
        m.set_status(
            Level::Error,
            format!(
                "{n} {prefix} ({}); kept here and retried",
                crate::tui::textutil::sanitize(&unsaved.error)
            ),
        );
    }
    vec![]
}

/// The drafts changed since the last save, as one save effect.
#[must_use]
pub fn save_dirty_drafts(m: &mut Model) -> Vec<Effect> {
    sync_composer(m);
    m.drafts_changed_at = None;
    if m.drafts_dirty.is_empty() {
        return vec![];
    }
    let items = std::mem::take(&mut m.drafts_dirty)
        .into_iter()
        .map(|id| {
            let d = m.drafts.get(&id).cloned();
            (id, d)
        })
        .collect();
    vec![Effect::SaveDrafts(items)]
}
