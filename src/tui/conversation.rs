//! The conversation view (`Enter` on a stream row): the whole post, then every message of the
//! thread in order, inbound and outbound, public and direct, with who wrote it, when, where and
//! how its delivery went, colleagues' replies included, and for a public thread its participants
//! with their roles. It takes the stream's place (or the whole screen, zoomed) and stays live:
//! `message.created` and `reply.status_changed` land in the thread, `feedback.updated` in the
//! item, and a message by someone not yet known reloads the participants.
//!
//! What the agent has *seen*: after every update the reducer works out which messages the view
//! draws at the current size and scroll (the same lines the pane renders) and keeps, per item,
//! the newest one drawn (`seen_up_to`). A send can be checked against that rather than against
//! what was merely loaded.

use super::action::Action;
use super::effect::Effect;
use super::model::{Focus, Model};
use crate::domain::api::FeedbackDetail;
use crate::domain::thread::{MessageAuthor, Participant};
use crate::domain::Message;
pub use crate::tui::model::conversation::{Conversations, Open, People};

impl People {
    pub fn author_of(&self, message_id: &str) -> Option<&MessageAuthor> {
        self.authors.iter().find(|a| a.message_id == message_id)
    }

    pub fn participant(&self, identity_id: &str) -> Option<&Participant> {
        self.participants
            .iter()
            .find(|p| p.identity.id == identity_id)
    }
}

impl Conversations {
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    pub fn open_id(&self) -> Option<&str> {
        self.open.as_ref().map(|o| o.feedback_id.as_str())
    }
}

/// The newest message of `feedback_id`'s thread the agent has seen drawn in the conversation
/// view, if any (for the stale-send guard).
pub fn seen_up_to<'a>(m: &'a Model, feedback_id: &str) -> Option<&'a str> {
    m.conversation
        .seen_up_to
        .get(feedback_id)
        .map(String::as_str)
}

/// The actions of the conversation view; `None` for any other action.
#[must_use]
pub fn run(m: &mut Model, a: Action) -> Option<Vec<Effect>> {
    let fx = match a {
        Action::OpenConversation => open(m),
        Action::CloseConversation => {
            m.conversation.open = None;
            m.focus = Focus::Stream;
            vec![]
        }
        Action::ConversationDown => scroll(m, 1),
        Action::ConversationUp => scroll(m, -1),
        Action::ConversationPageDown => scroll(m, page(m) as isize),
        Action::ConversationPageUp => scroll(m, -(page(m) as isize)),
        Action::ConversationTop => {
            if let Some(o) = m.conversation.open.as_mut() {
                o.scroll = 0;
            }
            vec![]
        }
        Action::ConversationBottom => scroll(m, isize::MAX / 2),
        _ => return None,
    };
    m.dirty = true;
    Some(fx)
}

#[must_use]
fn open(m: &mut Model) -> Vec<Effect> {
    let Some(id) = m.stream.selected.clone() else {
        m.set_status(super::model::Level::Info, "select an item to open");
        return vec![];
    };
    m.focus = Focus::Stream;
    open_item(m, id)
}

/// Shows `id`'s conversation from its start (the focus is left where it is).
#[must_use]
fn open_item(m: &mut Model, id: String) -> Vec<Effect> {
    m.conversation.open = Some(Open {
        feedback_id: id.clone(),
        scroll: 0,
        loading: true,
        asked_at_len: m.threads.get(&id).map_or(0, |t| t.messages.len()),
    });
    // Always fresh: colleagues' replies and new participants since the thread was loaded.
    vec![Effect::LoadThread(id)]
}

/// Lines the view shows at once.
fn page(m: &Model) -> usize {
    super::panes::conversation::body_height(m).max(1)
}

#[must_use]
fn scroll(m: &mut Model, delta: isize) -> Vec<Effect> {
    let max = super::panes::conversation::max_scroll(m);
    if let Some(o) = m.conversation.open.as_mut() {
        o.scroll = (o.scroll as isize)
            .saturating_add(delta)
            .clamp(0, max as isize) as usize;
    }
    vec![]
}

/// An item's thread arrived (`Msg::Thread`): keep its people.
pub fn on_thread(m: &mut Model, id: &str, detail: &FeedbackDetail) {
    let people = People {
        authors: detail.authors.clone(),
        participants: detail.participants.clone(),
    };
    m.conversation.people.insert(id.to_string(), people);
    if let Some(o) = m.conversation.open.as_mut().filter(|o| o.feedback_id == id) {
        o.loading = false;
    }
}

/// A message event: one of another item on the open conversation's thread (another customer
/// joining a public thread, a colleague answering them) joins the open thread too.
pub fn on_message(m: &mut Model, msg: &Message) {
    let Some(open) = m.conversation.open_id().map(str::to_string) else {
        return;
    };
    if msg.feedback_id.as_deref() == Some(open.as_str()) {
        return;
    }
    let Some(fb) = m.stream.get(&open) else {
        return;
    };
    if fb.fb.thread_id != msg.thread_id {
        return;
    }
    if let Some(t) = m.threads.get_mut(&open) {
        match t.messages.iter_mut().find(|x| x.id == msg.id) {
            Some(x) => *x = msg.clone(),
            None => t.messages.push(msg.clone()),
        }
        m.dirty = true;
    }
}

/// After every update: note what the view draws, and reload the thread's people when a message
/// by someone unknown is on it.
#[must_use]
pub fn after_update(m: &mut Model) -> Vec<Effect> {
    let Some(open) = m.conversation.open.clone() else {
        return vec![];
    };
    if m.stream.get(&open.feedback_id).is_none() {
        // The item left the console (a refetch without it): nothing to show.
        m.conversation.open = None;
        m.dirty = true;
        return vec![];
    }
    // The agent moved to another item (a click, the next-item key): the conversation, the
    // profile and the composer stay about one and the same item.
    if let Some(sel) = m.stream.selected.clone().filter(|s| *s != open.feedback_id) {
        m.dirty = true;
        return open_item(m, sel);
    }
    let drawn = super::panes::conversation::drawn_messages(m);
    let thread = m.threads.get(&open.feedback_id);
    if let (Some(t), Some(newest)) = (thread, drawn.iter().max()) {
        let before = m
            .conversation
            .seen_up_to
            .get(&open.feedback_id)
            .and_then(|id| t.messages.iter().position(|x| &x.id == id));
        if before.is_none_or(|b| *newest > b) {
            let id = t.messages[*newest].id.clone();
            m.conversation
                .seen_up_to
                .insert(open.feedback_id.clone(), id);
        }
    }
    // (An older server gives no authors at all: nothing to ask for.)
    let len = thread.map_or(0, |t| t.messages.len());
    let unknown = match (thread, m.conversation.people.get(&open.feedback_id)) {
        (Some(t), Some(p)) if !p.authors.is_empty() => {
            t.messages.iter().any(|x| p.author_of(&x.id).is_none())
        }
        _ => false,
    };
    if unknown && !open.loading && len > open.asked_at_len {
        if let Some(o) = m.conversation.open.as_mut() {
            o.loading = true;
            o.asked_at_len = len;
        }
        return vec![Effect::LoadThread(open.feedback_id)];
    }
    vec![]
}
