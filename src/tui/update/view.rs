use super::marks::{relint, style_composer};
use crate::client::ClientError;
use crate::domain::api::Page;
use crate::domain::{Channel, Feedback, PresenceState};
use crate::tui::effect::{Effect, Wake};
use crate::tui::model::*;

/// How long an info message stays in the status bar.
pub(crate) const STATUS_SECS: i64 = 6;

/// Rows of the stream list at the current size.
pub fn stream_rows(m: &Model) -> usize {
    crate::tui::panes::frame::layout(ratatui::layout::Rect::new(0, 0, m.size.0, m.size.1), m)
        .stream
        .height
        .saturating_sub(2) as usize
}

/// How long the selection rests on an item before `viewing` is announced.
pub(crate) const SETTLE_MS: u64 = 600;

/// Copy the live composer into the drafts map (if it changed).
pub(crate) fn sync_composer(m: &mut Model) {
    if let Some(c) = &m.composer {
        if m.drafts_dirty.contains(&c.feedback_id) {
            let d = c.to_draft(m.now);
            if d.is_empty() && d.idempotency_key.is_none() {
                m.drafts.remove(&c.feedback_id);
            } else {
                m.drafts.insert(c.feedback_id.clone(), d);
            }
        }
    }
}

#[must_use]
pub(crate) fn refetch(m: &mut Model) -> Vec<Effect> {
    m.stream.generation += 1;
    m.stream.loading = true;
    m.stream.incoming.clear();
    m.dirty = true;
    vec![Effect::LoadFeedback {
        generation: m.stream.generation,
        cursor: None,
    }]
}

#[must_use]
pub(crate) fn on_page(
    m: &mut Model,
    generation: u64,
    result: Result<Page<Feedback>, ClientError>,
) -> Vec<Effect> {
    if generation != m.stream.generation {
        return vec![];
    }
    m.dirty = true;
    match result {
        Ok(page) => {
            let first_ever = m.stream.total() == 0;
            if first_ever {
                // Show the first page at once; the rest is merged when all pages are in.
                m.stream.replace_all(page.items.clone());
            }
            m.stream.incoming.extend(page.items);
            let mut fx = Vec::new();
            match page.next_cursor {
                Some(c) if m.stream.incoming.len() < MAX_INITIAL_ITEMS => {
                    fx.push(Effect::LoadFeedback {
                        generation,
                        cursor: Some(c),
                    });
                }
                _ => {
                    let incoming = std::mem::take(&mut m.stream.incoming);
                    m.stream.finish_load(incoming);
                    m.stream.loading = false;
                    m.stream.error = None;
                }
            }
            fx.extend(after_view_change(m));
            fx
        }
        Err(e) => {
            m.stream.loading = false;
            m.stream.error = Some(e.to_string());
            m.set_status(Level::Error, format!("cannot load the stream: {e}"));
            vec![]
        }
    }
}

/// A new or changed item from the stream or a PATCH.
#[must_use]
pub(crate) fn on_feedback(m: &mut Model, fb: Feedback) -> Vec<Effect> {
    let is_new = m.stream.upsert(fb);
    m.dirty = true;
    let old = m.stream.selected.clone();
    // While the agent writes a reply, an arrival never takes the selection (and the composer
    // with it) to another item, follow mode or not: the text would go to another customer.
    // Nor while the agent reads a conversation (it would change under their eyes).
    let composing =
        (m.focus == Focus::Composer && m.composer.is_some()) || m.conversation.is_open();
    if (m.follow && is_new && !composing) || m.stream.selected.is_none() {
        select_default(m);
    }
    let h = stream_rows(m);
    m.stream.ensure_visible(h);
    let mut fx = selection_changed(m, old);
    relint(m);
    fx.extend(ensure_customer(m));
    fx
}

/// After the view, filter or data changed: keep a visible selection.
#[must_use]
pub(crate) fn after_view_change(m: &mut Model) -> Vec<Effect> {
    let old = m.stream.selected.clone();
    if m.stream.selected_pos().is_none() {
        select_default(m);
    }
    let h = stream_rows(m);
    m.stream.ensure_visible(h);
    selection_changed(m, old)
}

/// Where the selection goes when it has to move on its own: the newest item in follow mode
/// (with the filter's view), else the first row.
fn select_default(m: &mut Model) {
    if m.follow {
        m.stream.follow_newest();
    } else {
        m.stream.select_pos(0);
    }
}

/// The default reply type for an item's channel.
pub(crate) fn default_kind(ch: Channel) -> ReplyKind {
    if ch.has_public_thread() {
        ReplyKind::Macro
    } else {
        ReplyKind::Micro
    }
}

/// Stash the old item's composer, open the new one's, load its customer.
#[must_use]
pub(crate) fn selection_changed(m: &mut Model, old: Option<String>) -> Vec<Effect> {
    let new = m.stream.selected.clone();
    if old == new && (new.is_none() || m.composer.as_ref().map(|c| &c.feedback_id) == new.as_ref())
    {
        return vec![];
    }
    let mut fx = Vec::new();
    sync_composer(m);
    // A composer the agent opened stays on its item: only the agent moves it.
    let held = crate::tui::model::target::holds(m, new.as_deref());
    if !held {
        m.composer = None;
    }
    m.profile_scroll = 0;
    let writing = m.composer.as_ref().map(|c| c.feedback_id.clone());
    if let Some((id, state)) = &m.my_presence {
        if Some(id) != new.as_ref() && Some(id) != writing.as_ref() && *state != PresenceState::Left
        {
            fx.push(Effect::SetPresence {
                feedback_id: id.clone(),
                state: PresenceState::Left,
            });
            m.my_presence = None;
            m.my_presence_at = None;
        }
    }
    if let Some(id) = new {
        // `viewing` (and the thread) once the selection rests here, not on every j/k.
        m.selection_seq += 1;
        fx.push(Effect::Wake {
            after_ms: SETTLE_MS,
            wake: Wake::Settled {
                feedback_id: id.clone(),
                seq: m.selection_seq,
            },
        });
        let channel = match m.stream.get_mut(&id) {
            Some(r) => {
                r.seen = true;
                r.fb.channel
            }
            None => return fx,
        };
        if held {
            fx.extend(ensure_customer(m));
            return fx;
        }
        let mut c = match m.drafts.get(&id) {
            Some(d) => Composer::from_draft(d),
            None => Composer::new(&id, default_kind(channel)),
        };
        style_composer(&mut c, &m.theme);
        m.composer = Some(c);
        relint(m);
        fx.extend(ensure_customer(m));
    }
    fx
}

/// Fetch the selected item's customer unless we have it (or are getting it).
#[must_use]
pub(crate) fn ensure_customer(m: &mut Model) -> Vec<Effect> {
    let Some(cid) = m.selected_customer_id() else {
        return vec![];
    };
    // A profile that failed to load (the backend was down) is asked for again.
    let failed = |v: &CustomerView| matches!(v.customer, Load::Failed(_));
    if m.customers.get(&cid).is_some_and(|v| !failed(v)) {
        return vec![];
    }
    m.customers.insert(cid.clone(), CustomerView::loading());
    vec![
        Effect::LoadCustomer(cid.clone()),
        Effect::LoadHistory(cid.clone()),
        Effect::LoadTransactions(cid),
    ]
}

/// The agent moves the selection (j/k, a click, the wheel...): from the stream or profile the
/// composer follows it (an unsent draft is kept for its item); from the composer it stays bound.
#[must_use]
pub(crate) fn move_selection(m: &mut Model, f: impl FnOnce(&mut StreamState)) -> Vec<Effect> {
    let old = m.stream.selected.clone();
    f(&mut m.stream);
    if m.focus != Focus::Composer && m.stream.selected != old {
        detach(m);
    }
    if m.follow && m.stream.selected_pos() != Some(0) {
        m.follow = false;
    }
    let h = stream_rows(m);
    m.stream.ensure_visible(h);
    selection_changed(m, old)
}

#[must_use]
pub(crate) fn set_sort(m: &mut Model, by: crate::tui::sort::SortKey) -> Vec<Effect> {
    m.stream.set_sort(by);
    m.set_status(Level::Info, format!("sorted by {}", by.as_str()));
    after_view_change(m)
}

#[must_use]
pub(crate) fn set_view(m: &mut Model, v: ViewKind) -> Vec<Effect> {
    m.stream.set_view(v);
    m.dirty = true;
    after_view_change(m)
}

#[must_use]
pub(crate) fn apply_filter(m: &mut Model, f: &str) -> Vec<Effect> {
    m.stream.now = m.now;
    m.stream.set_filter(f);
    after_view_change(m)
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
    sync_composer(m);
    m.composer = None;
}

/// The loop is idle while a filter is still being applied: its next slice.
#[must_use]
pub(crate) fn on_continue_filter(m: &mut Model) -> Vec<Effect> {
    if m.stream.continue_filter() {
        m.dirty = true;
        after_view_change(m)
    } else {
        vec![]
    }
}
