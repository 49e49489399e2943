//! Replies on their way: what the outbox holds, and what the console knows of each item's thread.

use crate::domain::{DeliveryStatus, Message, ReplyPart};

/// A reply in the console's outbox (the durable copy is `client::Outbox`'s file).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// The idempotency key of every attempt.
    pub key: String,
    pub feedback_id: String,
    pub parts: Vec<ReplyPart>,
    pub state: SendState,
    /// Why the last attempt did not deliver it, or why it failed.
    pub reason: Option<String>,
    pub reply_id: Option<String>,
    /// The outbound messages of the delivered reply, with their delivery status as
    /// `reply.status_changed` events report it.
    pub messages: Vec<Message>,
}

impl OutboxItem {
    /// One word for the row and the composer: queued, sending, sent, delivered, failed.
    pub fn label(&self) -> &'static str {
        match self.state {
            SendState::Queued if self.reason.is_some() => "queued",
            SendState::Queued => "sending",
            SendState::Failed => "failed",
            SendState::Sent => {
                let st: Vec<DeliveryStatus> =
                    self.messages.iter().map(|m| m.delivery_status).collect();
                if st.contains(&DeliveryStatus::Failed) {
                    "failed"
                } else if !st.is_empty() && st.iter().all(|s| *s == DeliveryStatus::Delivered) {
                    "delivered"
                } else if st.contains(&DeliveryStatus::Queued) {
                    "queued"
                } else {
                    "sent"
                }
            }
        }
    }

    /// The delivery problem to show, if any.
    pub fn problem(&self) -> Option<String> {
        if let Some(r) = &self.reason {
            return Some(r.clone());
        }
        self.messages
            .iter()
            .find(|m| m.delivery_status == DeliveryStatus::Failed)
            .map(|m| {
                m.status_reason
                    .clone()
                    .unwrap_or_else(|| "delivery failed".into())
            })
    }
}

/// Where a reply in the outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendState {
    /// On disk, not yet accepted by the backend (being sent, or waiting for it to come back).
    Queued,
    /// The backend accepted it; delivery status follows in `messages`.
    Sent,
    /// Refused for good.
    Failed,
}

/// The thread of an item as this console loaded it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThreadState {
    pub messages: Vec<Message>,
    /// The newest message the agent has seen on screen (the post at first, then what the guard
    /// showed and the agent confirmed): what a reply is based on (`NewReply::base_message_id`).
    /// A refetch never moves it (see `guard`).
    pub base: Option<String>,
}
