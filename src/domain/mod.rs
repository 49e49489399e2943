//! Types shared by the console, the server and the rule engine.
//!
//! This module knows no screen, no storage and no network: it is the vocabulary of the
//! social-CRM loop (feedback arrives, is routed, answered, captured) and the shapes of the
//! HTTP API (`api`), so that the server and every client agree on one definition.

pub mod api;
pub mod event_payload;
pub mod problem;
pub mod recipient;
pub mod thread;
pub mod verdict;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// Declares a string-backed enum with serde names, `Display`, `FromStr`, `ALL` and an OpenAPI
/// schema that lists the names as they are on the wire (utoipa's derive, given the serde
/// renames through this macro, documented the Rust variant names instead).
macro_rules! string_enum {
    // `Name default Variant { ... }`: the same, and `Default` is that variant.
    ($(#[$meta:meta])* $name:ident default $default:ident { $($body:tt)+ }) => {
        string_enum!($(#[$meta])* $name { $($body)+ });

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }
    };
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { kind: stringify!($name), value: s.to_string() }),
                }
            }
        }
    };
}

// After the macro: `string_enum!` is visible only to modules declared below it.
pub mod metrics;

/// A string that names no variant of an enum (a bad channel, status, role...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}'")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

string_enum!(
    /// Where feedback arrives and replies go.
    Channel {
        X = "x",
        Facebook = "facebook",
        Instagram = "instagram",
        Linkedin = "linkedin",
        Forum = "forum",
        Review = "review",
        Whatsapp = "whatsapp",
        Sms = "sms",
        Email = "email",
        Webchat = "webchat",
        Phone = "phone",
        InPerson = "in_person",
        WebForm = "web_form",
    }
);

impl Channel {
    /// Online feedback comes from the internet; offline is logged by an agent.
    pub fn origin(self) -> Origin {
        match self {
            Channel::Phone | Channel::InPerson | Channel::WebForm => Origin::Offline,
            _ => Origin::Online,
        }
    }

    /// Channels where a reply can be seen by the community.
    pub fn has_public_thread(self) -> bool {
        matches!(
            self,
            Channel::X
                | Channel::Facebook
                | Channel::Instagram
                | Channel::Linkedin
                | Channel::Forum
                | Channel::Review
        )
    }

    /// Social networks that also carry direct messages to the same handle.
    pub fn has_direct_messages(self) -> bool {
        matches!(
            self,
            Channel::X
                | Channel::Facebook
                | Channel::Instagram
                | Channel::Linkedin
                | Channel::Whatsapp
        )
    }
}

string_enum!(Origin { Online = "online", Offline = "offline" });

string_enum!(
    /// Public (macro, to the community) or direct (micro, one-to-one).
    Visibility { Public = "public", Direct = "direct" }
);

string_enum!(SentimentLabel { Negative = "negative", Neutral = "neutral", Positive = "positive" });

impl SentimentLabel {
    /// VADER's usual thresholds on the compound score.
    pub fn from_score(score: f64) -> Self {
        if score <= -0.05 {
            SentimentLabel::Negative
        } else if score >= 0.05 {
            SentimentLabel::Positive
        } else {
            SentimentLabel::Neutral
        }
    }
}

string_enum!(
    /// What a post is, beside its tone: a complaint, a question, praise, a community helper's tip,
    /// or none of these (`other`). A helper's answer in a thread is not a complaint.
    FeedbackKind default Other {
        Complaint = "complaint",
        Question = "question",
        Praise = "praise",
        Tip = "tip",
        Other = "other",
    }
);

string_enum!(
    /// Signals of urgency found in a post, independent of its tone.
    UrgencyCue {
        Legal = "legal",
        Cancellation = "cancellation",
        Safety = "safety",
        RepeatContact = "repeat_contact",
    }
);

string_enum!(
    /// Where an item is in its life. `answered` means a reply went out; `resolved` closes it.
    FeedbackStatus {
        New = "new",
        Open = "open",
        Pending = "pending",
        Answered = "answered",
        Resolved = "resolved",
    }
);

string_enum!(Priority { Low = "low", Normal = "normal", High = "high", Urgent = "urgent" });

string_enum!(Direction { Inbound = "inbound", Outbound = "outbound" });

string_enum!(
    DeliveryStatus {
        Received = "received",
        Queued = "queued",
        Sent = "sent",
        Delivered = "delivered",
        Failed = "failed",
    }
);

string_enum!(AgentRole { Agent = "agent", Supervisor = "supervisor", Admin = "admin" });

impl AgentRole {
    /// What a token of this role may do.
    pub fn scopes(self) -> Vec<Scope> {
        match self {
            AgentRole::Agent | AgentRole::Supervisor => vec![Scope::Read, Scope::Reply],
            AgentRole::Admin => vec![Scope::Read, Scope::Reply, Scope::Admin],
        }
    }
}

string_enum!(Scope { Read = "read", Reply = "reply", Admin = "admin" });

string_enum!(
    /// Whether an agent takes new work: routing hands items only to `available` agents.
    Availability default Available { Available = "available", Away = "away" }
);

string_enum!(
    /// Derived from a customer's history and kept current by the server.
    CustomerRole {
        PowerUser = "power_user",
        Detractor = "detractor",
        Helper = "helper",
        Advocate = "advocate",
    }
);

string_enum!(TransactionKind { Order = "order", Refund = "refund", Subscription = "subscription" });

string_enum!(PresenceState { Viewing = "viewing", Composing = "composing", Left = "left" });

/// Money is a decimal with its currency, never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Money {
    #[schema(value_type = String, example = "19.99")]
    pub amount: Decimal,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Consents {
    pub email: bool,
    pub sms: bool,
    pub whatsapp: bool,
    pub social_dm: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Preferences {
    pub language: String,
    pub preferred_channel: Channel,
    pub consents: Consents,
}

/// A handle on a network, linked to a CRM customer or not yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Identity {
    pub id: String,
    pub network: Channel,
    pub handle: String,
    pub display_name: String,
    pub verified: bool,
    pub customer_id: Option<String>,
}

/// The CRM record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    pub id: String,
    /// The customer's id in the organisation's own systems (what imports are matched by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub tier: String,
    pub lifetime_value: Money,
    pub preferences: Preferences,
    pub tags: Vec<String>,
    pub roles: Vec<CustomerRole>,
    pub identities: Vec<Identity>,
    /// Sentiment of the customer's recent feedback, oldest first, each in -1.0..=1.0.
    pub sentiment_trend: Vec<f64>,
    pub created_at: DateTime<Utc>,
}

impl Customer {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Transaction {
    pub id: String,
    pub customer_id: String,
    pub kind: TransactionKind,
    pub reference: String,
    pub description: String,
    pub amount: Money,
    pub occurred_at: DateTime<Utc>,
}

/// One piece of feedback: a post, a review, a call, a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Feedback {
    pub id: String,
    pub channel: Channel,
    pub origin: Origin,
    pub author: Identity,
    pub customer_id: Option<String>,
    pub text: String,
    pub thread_id: String,
    /// Link to the post on its network, where there is one.
    pub url: Option<String>,
    pub received_at: DateTime<Utc>,
    pub sentiment: f64,
    pub sentiment_label: SentimentLabel,
    /// How sure the triage model is of `sentiment_label`, 0..=1 (1 once an agent corrected it).
    #[serde(default)]
    pub sentiment_confidence: f64,
    #[serde(default)]
    pub kind: FeedbackKind,
    #[serde(default)]
    pub urgency: Vec<UrgencyCue>,
    /// The cues that decided the label (care phrases, words, VADER's tone), strongest first.
    #[serde(default)]
    pub cues: Vec<String>,
    /// An agent corrected the label or kind.
    #[serde(default)]
    pub corrected: bool,
    pub department: String,
    pub assignee: Option<String>,
    pub status: FeedbackStatus,
    pub priority: Priority,
    pub sla_due_at: DateTime<Utc>,
    /// Bumped on every change; the ETag of PATCH.
    pub version: i64,
    /// Why routing left the item without an assignee (nobody in the department was available),
    /// `None` when it is assigned or was unassigned on purpose. Absent from older servers.
    #[serde(default)]
    pub unassigned_reason: Option<String>,
    /// Messages on the item's thread (inbound and outbound) in the item's department. Absent
    /// from older servers.
    #[serde(default)]
    pub thread_messages: u32,
    /// The roles of the author's customer (empty when unlinked). Absent from older servers.
    #[serde(default)]
    pub author_roles: Vec<CustomerRole>,
}

/// A message on a thread, inbound from the customer or outbound from an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub thread_id: String,
    pub feedback_id: Option<String>,
    pub direction: Direction,
    pub visibility: Visibility,
    pub channel: Channel,
    /// Handle, email address or phone number the message went to or came from.
    pub address: String,
    pub author: String,
    pub body: String,
    pub delivery_status: DeliveryStatus,
    pub status_reason: Option<String>,
    pub reply_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyPart {
    pub visibility: Visibility,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub rule: String,
    pub reason: String,
}

/// A delivered reply: its parts became outbound messages on the thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reply {
    pub id: String,
    pub feedback_id: String,
    pub agent_id: String,
    pub parts: Vec<ReplyPart>,
    pub overrides: Vec<Override>,
    pub messages: Vec<Message>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Department {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub role: AgentRole,
    pub departments: Vec<String>,
    /// Absent from older servers, where every agent counted as available.
    #[serde(default)]
    pub availability: Availability,
}

/// One entry of the append-only event log, as streamed over SSE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub seq: i64,
    pub name: EventName,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

string_enum!(
    EventName {
        FeedbackCreated = "feedback.created",
        FeedbackUpdated = "feedback.updated",
        MessageCreated = "message.created",
        ReplyStatusChanged = "reply.status_changed",
        PresenceChanged = "presence.changed",
        CustomerUpdated = "customer.updated",
        RulesUpdated = "rules.updated",
        StreamReset = "stream.reset",
    }
);

/// An entry of a customer's timeline: their feedback and what was sent to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub kind: HistoryKind,
    pub channel: Channel,
    pub summary: String,
    pub feedback_id: Option<String>,
    pub sentiment: Option<f64>,
}

string_enum!(
    HistoryKind {
        Feedback = "feedback",
        Reply = "reply",
        Override = "override",
        Note = "note",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_names() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), *c);
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert!("telegraph".parse::<Channel>().is_err());
    }

    #[test]
    fn offline_channels_are_the_ones_agents_log() {
        assert_eq!(Channel::Phone.origin(), Origin::Offline);
        assert_eq!(Channel::X.origin(), Origin::Online);
    }

    #[test]
    fn money_serialises_as_a_decimal_string() {
        let m = Money {
            amount: "19.99".parse().unwrap(),
            currency: "EUR".into(),
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"amount":"19.99","currency":"EUR"}"#
        );
    }

    #[test]
    fn sentiment_label_thresholds() {
        assert_eq!(SentimentLabel::from_score(-0.6), SentimentLabel::Negative);
        assert_eq!(SentimentLabel::from_score(0.0), SentimentLabel::Neutral);
        assert_eq!(SentimentLabel::from_score(0.3), SentimentLabel::Positive);
    }
}
