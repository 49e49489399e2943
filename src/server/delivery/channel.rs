//! What an outbound channel adapter is ([`OutboundChannel`]) and what one attempt comes to
//! ([`Attempt`]). A leaf, so that the adapters (`webhook.rs`) implement it without importing
//! `delivery/mod.rs`, whose worker uses them.

use crate::domain::Message;
use crate::server::store::Answers;
use std::time::Duration;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The channel took the message.
    Delivered { http_status: Option<u16> },
    /// Worth trying again: a transport error, a timeout, 408, 429 or 5xx.
    Retry {
        http_status: Option<u16>,
        error: String,
        /// The receiver asked for at least this long (Retry-After).
        retry_after: Option<Duration>,
    },
    /// Trying again will not help: a refusal, or nowhere to send it.
    Fatal {
        http_status: Option<u16>,
        error: String,
    },
}

/// An outbound channel adapter: one attempt to hand a message over. Retries, backoff and the
/// record of attempts are the worker's job, the same for every adapter.
#[async_trait::async_trait]
pub trait OutboundChannel: Send + Sync {
    /// `answers` says which posts the message replies to, so the receiver can post it in place.
    async fn attempt(&self, message: &Message, answers: &Answers) -> Attempt;
}
