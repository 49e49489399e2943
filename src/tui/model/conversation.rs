//! The open conversation and the people of each thread the console has seen; the behaviour is in `tui::conversation`.

use crate::domain::thread::{MessageAuthor, Participant};
use std::collections::HashMap;

/// The open conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    pub feedback_id: String,
    /// First line shown.
    pub scroll: usize,
    /// A reload of the thread was asked for and has not answered yet.
    pub loading: bool,
    /// Messages on the thread when its people were last asked for: a message by someone
    /// unknown asks again once per new message, never in a loop.
    pub asked_at_len: usize,
}

/// The thread's authors and participants as the server gave them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct People {
    pub authors: Vec<MessageAuthor>,
    pub participants: Vec<Participant>,
}

#[derive(Debug, Clone, Default)]
pub struct Conversations {
    pub open: Option<Open>,
    /// Per item: the thread's people, from the last `GET /v1/feedback/{id}`.
    pub people: HashMap<String, People>,
    /// Per item: the newest message of its thread drawn on screen in the conversation view.
    pub seen_up_to: HashMap<String, String>,
}
