//! Every event of the stream with its payload typed: the client decodes an event's `data` once,
//! into the shape its name promises, and hands the console this (never a JSON value).

use super::api::{Presence, StreamReset};
use super::{Event, EventName, Feedback, Message};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The data of `rules.updated`: the rulebook now in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesUpdated {
    pub id: String,
    pub version: String,
}

/// The data of `customer.updated`: which customer changed and, after a merge, the one it was
/// merged into. The event carries no profile: whoever shows the customer fetches it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerUpdated {
    pub customer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventPayload {
    FeedbackCreated(Feedback),
    FeedbackUpdated(Feedback),
    MessageCreated(Message),
    ReplyStatusChanged(Message),
    PresenceChanged(Presence),
    CustomerUpdated(CustomerUpdated),
    RulesUpdated(RulesUpdated),
    StreamReset(StreamReset),
}

/// An event of the stream, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedEvent {
    pub seq: i64,
    pub payload: EventPayload,
    pub created_at: DateTime<Utc>,
}

impl TypedEvent {
    /// The payload of `e` in the shape of its name; `Err` says what did not fit.
    pub fn decode(e: &Event) -> Result<TypedEvent, String> {
        fn of<T: serde::de::DeserializeOwned>(e: &Event) -> Result<T, String> {
            T::deserialize(&e.data).map_err(|x| format!("{} #{}: {x}", e.name, e.seq))
        }
        let payload = match e.name {
            EventName::FeedbackCreated => EventPayload::FeedbackCreated(of(e)?),
            EventName::FeedbackUpdated => EventPayload::FeedbackUpdated(of(e)?),
            EventName::MessageCreated => EventPayload::MessageCreated(of(e)?),
            EventName::ReplyStatusChanged => EventPayload::ReplyStatusChanged(of(e)?),
            EventName::PresenceChanged => EventPayload::PresenceChanged(of(e)?),
            EventName::CustomerUpdated => EventPayload::CustomerUpdated(of(e)?),
            EventName::RulesUpdated => EventPayload::RulesUpdated(of(e)?),
            EventName::StreamReset => EventPayload::StreamReset(of(e)?),
        };
        Ok(TypedEvent {
            seq: e.seq,
            payload,
            created_at: e.created_at,
        })
    }

    pub fn name(&self) -> EventName {
        match &self.payload {
            EventPayload::FeedbackCreated(_) => EventName::FeedbackCreated,
            EventPayload::FeedbackUpdated(_) => EventName::FeedbackUpdated,
            EventPayload::MessageCreated(_) => EventName::MessageCreated,
            EventPayload::ReplyStatusChanged(_) => EventName::ReplyStatusChanged,
            EventPayload::PresenceChanged(_) => EventName::PresenceChanged,
            EventPayload::CustomerUpdated(_) => EventName::CustomerUpdated,
            EventPayload::RulesUpdated(_) => EventName::RulesUpdated,
            EventPayload::StreamReset(_) => EventName::StreamReset,
        }
    }
}
