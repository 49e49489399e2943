//! What the reply writer's queue carries (see `replies.rs`, which starts the writer and sends
//! to it). The types are here so that the `Store`, which holds the queue, does not import
//! `replies.rs`, whose `impl Store` imports the `Store`.

use super::error::StoreResult;
use crate::domain::api::NewReply;
use crate::domain::recipient::ReplyRecipient;
use crate::domain::{Agent, Reply};
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone)]
pub struct ReplyOutcome {
    pub reply: Reply,
    /// True when the key was seen before and this is the stored result.
    pub repeated: bool,
}

/// One reply waiting for the writer, with where its caller waits for the result.
pub(crate) struct ReplyJob {
    pub(super) agent: Agent,
    pub(super) feedback_id: String,
    pub(super) key: String,
    pub(super) reply: NewReply,
    pub(super) recipients: Vec<ReplyRecipient>,
    pub(super) hash: String,
    pub(super) done: oneshot::Sender<StoreResult<ReplyOutcome>>,
}

/// The sending side of the reply writer's queue (see `Store::create_reply`).
#[derive(Clone)]
pub(crate) struct ReplyQueue(pub(super) mpsc::Sender<ReplyJob>);
