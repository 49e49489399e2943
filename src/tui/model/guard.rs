//! What the stale-send guard shows: the messages that arrived since the agent last looked; the behaviour is in `tui::guard`.

use crate::domain::Message;

/// What the guard overlay shows: the messages the agent has not seen, and what confirming does.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardView {
    pub feedback_id: String,
    pub messages: Vec<Message>,
    /// Lines scrolled (the messages are shown whole, wrapped).
    pub scroll: u16,
    /// Confirming also resolves the item once the reply is sent (send-and-resolve).
    pub resolve: bool,
}
