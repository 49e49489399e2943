//! The seam between the console and a CRM: the `CrmBackend` trait, what it is asked
//! (`FeedbackQuery`), what its event stream yields (`StreamItem`) and how it fails
//! (`ClientError`).

use crate::domain::api::{
    FeedbackDetail, FeedbackPatch, IdentityMatches, Me, NewFeedback, NewReply, Page,
};
use crate::domain::{
    Agent, Channel, Customer, Department, Feedback, FeedbackStatus, HistoryEntry, Identity,
    PresenceState, Reply, Transaction,
};
use futures::stream::BoxStream;

/// Why a call to the backend failed, in terms the console can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The backend could not be reached (connection refused, reset, timed out).
    #[error("backend unreachable: {0}")]
    Unreachable(String),
    /// The token is missing, wrong, expired or revoked (401), or lacks a scope (403).
    #[error("not allowed: {0}")]
    Unauthorized(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// `If-Match` did not match (412) or another conflict (409): the item changed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 409 stale-thread: the reply's thread moved on; `changes` are the messages it did not
    /// take into account.
    #[error("the thread changed: {detail}")]
    Stale {
        detail: String,
        changes: Vec<crate::domain::Message>,
    },
    /// 422: validation failed or rules refused the reply; `problem` is the server's body, typed.
    #[error("refused: {detail}")]
    Refused {
        detail: String,
        problem: Box<crate::domain::problem::ServerProblem>,
    },
    /// 429 with the server's Retry-After in seconds.
    #[error("rate limited, retry after {0}s")]
    RateLimited(u64),
    /// Anything else the server answered that we did not expect, or a body we could not read.
    #[error("backend error: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The backend answered, and will answer the same to a retry under the same key: the
    /// reply was refused, its item is gone, or the thread changed.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ClientError::Refused { .. }
                | ClientError::NotFound(_)
                | ClientError::Conflict(_)
                | ClientError::Stale { .. }
        )
    }

    /// Worth keeping a reply queued for: the backend is away or busy, or the token needs
    /// fixing; a later attempt under the same key may go through.
    pub fn keeps_queued(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable(_)
                | ClientError::RateLimited(_)
                | ClientError::Unauthorized(_)
        )
    }
}

/// Filters of `GET /v1/feedback`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackQuery {
    pub status: Option<FeedbackStatus>,
    /// "me", "unassigned" or "any" (default any).
    pub assignee: Option<String>,
    pub department: Option<String>,
    pub channel: Option<Channel>,
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

use crate::domain::api::RulebookSource;

/// What the event stream yields: an event, or a change of connection state to show the agent.
// Events are nearly every item the stream yields: boxing them would cost an allocation each
// for the rare small variants' sake.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    Connected,
    /// Decoded once, here: the console matches on the typed payload.
    Event(crate::domain::event_payload::TypedEvent),
    /// The connection dropped; the stream reconnects by itself after `retry_in_ms`.
    Disconnected {
        reason: String,
        retry_in_ms: u64,
    },
}

/// A CRM the console can work against.
#[async_trait::async_trait]
pub trait CrmBackend: Send + Sync + 'static {
    async fn me(&self) -> Result<Me, ClientError>;
    async fn list_feedback(&self, query: &FeedbackQuery) -> Result<Page<Feedback>, ClientError>;
    async fn feedback(&self, id: &str) -> Result<FeedbackDetail, ClientError>;
    async fn create_feedback(&self, new: &NewFeedback) -> Result<Feedback, ClientError>;
    /// PATCH with `If-Match: <version>`; a stale version is `ClientError::Conflict`.
    async fn patch_feedback(
        &self,
        id: &str,
        version: i64,
        patch: &FeedbackPatch,
    ) -> Result<Feedback, ClientError>;
    /// Deliver a reply; the same `idempotency_key` is never delivered twice.
    async fn send_reply(
        &self,
        feedback_id: &str,
        idempotency_key: &str,
        reply: &NewReply,
    ) -> Result<Reply, ClientError>;
    async fn set_presence(
        &self,
        feedback_id: &str,
        state: PresenceState,
    ) -> Result<(), ClientError>;
    async fn customer(&self, id: &str) -> Result<Customer, ClientError>;
    async fn customer_history(&self, id: &str) -> Result<Page<HistoryEntry>, ClientError>;
    async fn customer_transactions(&self, id: &str) -> Result<Page<Transaction>, ClientError>;
    /// Customers whose name, email or phone matches `q`.
    async fn search_customers(&self, q: &str) -> Result<Page<Customer>, ClientError>;
    async fn link_identity(
        &self,
        identity_id: &str,
        customer_id: &str,
    ) -> Result<Identity, ClientError>;
    /// The customers an identity probably belongs to, best first, with the reasons (the link
    /// picker shows them before search results).
    async fn identity_matches(&self, identity_id: &str) -> Result<IdentityMatches, ClientError>;
    async fn agents(&self) -> Result<Vec<Agent>, ClientError>;
    async fn departments(&self) -> Result<Vec<Department>, ClientError>;
    async fn rules(&self) -> Result<RulebookSource, ClientError>;
    /// The team's measures (`GET /v1/metrics/summary`, supervisors and admins). Backends without
    /// them say so.
    async fn metrics_summary(
        &self,
        _query: &crate::domain::metrics::MetricsQuery,
    ) -> Result<crate::domain::metrics::MetricsSummary, ClientError> {
        Err(ClientError::Protocol(
            "this backend has no team measures".to_string(),
        ))
    }
    /// The live event stream from just after `last_event_id`, reconnecting with backoff and
    /// resuming where it left off, forever (drop the stream to stop).
    fn events(&self, last_event_id: Option<i64>) -> BoxStream<'static, StreamItem>;
}
