//! The stale-send guard (issue 16 §4). A reply is based on the newest message of its thread the
//! agent has *seen on screen* (`ThreadState::base`), not merely loaded: a refetch (re-selecting
//! the item, a reconnection) adds messages but never moves the base, so re-selecting an item
//! never clears the guard. When the thread moved on, the new messages are shown in full (the
//! guard overlay) and one key confirms that the agent read them: the base moves to the newest
//! message shown and the send goes on, still based on it (a message arriving meanwhile is caught
//! by the server's 409 and shown the same way). The agent's own messages count as seen.

use super::model::{Model, ThreadState};
use crate::domain::{Direction, Message};
pub use crate::tui::model::guard::GuardView;

/// Whether a message is one of this agent's replies (sent from this console, or signed with
/// the agent's name by the server).
pub fn is_own(m: &Model, msg: &Message) -> bool {
    if msg.direction != Direction::Outbound {
        return false;
    }
    let ours = msg
        .reply_id
        .as_deref()
        .is_some_and(|rid| m.outbox.iter().any(|o| o.reply_id.as_deref() == Some(rid)));
    ours || m.me.as_ref().is_some_and(|me| me.name == msg.author)
}

/// The base of a thread loaded for the first time: what the agent has seen of it is the post
/// the composer quotes (the item's own inbound message), nothing after it.
pub fn initial_base(feedback_id: &str, msgs: &[Message]) -> Option<String> {
    msgs.iter()
        .rev()
        .find(|x| {
            x.feedback_id.as_deref() == Some(feedback_id) && x.direction == Direction::Inbound
        })
        .map(|x| x.id.clone())
}

/// A refetched thread: its messages replace the old ones, the base stays where the agent's eyes
/// left it (or, the first time, on the post).
pub fn merge_loaded(t: &mut ThreadState, feedback_id: &str, msgs: Vec<Message>, first: bool) {
    let keep = !first
        && t.base
            .as_ref()
            .is_some_and(|b| msgs.iter().any(|x| &x.id == b));
    if !keep {
        t.base = initial_base(feedback_id, &msgs);
    }
    t.messages = msgs;
}

/// The newest message of the thread the agent has seen: the guard's base, or further on where
/// the conversation view has drawn the thread on screen (`conversation::seen_up_to`).
pub fn seen_base(m: &Model, feedback_id: &str) -> Option<String> {
    let t = m.threads.get(feedback_id)?;
    let pos = |id: &str| t.messages.iter().position(|x| x.id == id);
    let base = t.base.as_deref().and_then(pos);
    let drawn = super::conversation::seen_up_to(m, feedback_id).and_then(pos);
    match base.max(drawn) {
        Some(i) => Some(t.messages[i].id.clone()),
        None => t.base.clone(),
    }
}

/// Messages of the thread after the seen base that are not the agent's own, oldest first.
pub fn unseen(m: &Model, feedback_id: &str) -> Vec<Message> {
    let Some(t) = m.threads.get(feedback_id) else {
        return Vec::new();
    };
    let base = seen_base(m, feedback_id);
    let from = match &base {
        Some(b) => match t.messages.iter().position(|x| &x.id == b) {
            Some(i) => i + 1,
            None => 0,
        },
        None => 0,
    };
    t.messages[from..]
        .iter()
        .filter(|x| !is_own(m, x))
        // With no base, the item's own post is what the composer shows: seen.
        .filter(|x| {
            base.is_some()
                || !(x.feedback_id.as_deref() == Some(feedback_id)
                    && x.direction == Direction::Inbound)
        })
        .cloned()
        .collect()
}

/// The agent read what the overlay showed: the base moves to the newest message shown (or past
/// it, over the agent's own replies that follow it).
pub fn confirm_seen(m: &mut Model, feedback_id: &str, shown: &[Message]) {
    let Some(last) = shown.last() else { return };
    let own: Vec<String> = m
        .threads
        .get(feedback_id)
        .map(|t| {
            t.messages
                .iter()
                .filter(|x| is_own(m, x))
                .map(|x| x.id.clone())
                .collect()
        })
        .unwrap_or_default();
    let Some(t) = m.threads.get_mut(feedback_id) else {
        return;
    };
    let Some(mut at) = t.messages.iter().position(|x| x.id == last.id) else {
        return;
    };
    while at + 1 < t.messages.len() && own.contains(&t.messages[at + 1].id) {
        at += 1;
    }
    t.base = Some(t.messages[at].id.clone());
}

/// Messages the server says are new (409 stale-thread) join the thread as loaded, in order.
pub fn add_changes(m: &mut Model, feedback_id: &str, changes: &[Message]) {
    let t = m.threads.entry(feedback_id.to_string()).or_default();
    for c in changes {
        if !t.messages.iter().any(|x| x.id == c.id) {
            t.messages.push(c.clone());
        }
    }
    t.messages
        .sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
}

/// The one-line notice of the composer: how many messages the agent has not seen.
pub fn notice(m: &Model, feedback_id: &str) -> Option<String> {
    let n = unseen(m, feedback_id).len();
    (n > 0).then(|| format!("↻ {n} message(s) on the thread you have not seen: sending shows them"))
}

/// The server refused a send as stale (409): the composer on that item shows what changed, for
/// the agent to read and confirm (a bulk reply's item only gets its result line).
pub fn open_after_refusal(m: &mut Model, feedback_id: &str, resolve: bool) {
    let here = m
        .composer
        .as_ref()
        .is_some_and(|c| c.feedback_id == feedback_id && !c.is_empty());
    let messages = unseen(m, feedback_id);
    if here && !messages.is_empty() && m.overlay.is_none() {
        m.overlay = Some(super::model::Overlay::Guard(GuardView {
            feedback_id: feedback_id.to_string(),
            messages,
            scroll: 0,
            resolve,
        }));
    }
}
