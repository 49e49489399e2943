//! Request and response bodies of the HTTP API (DESIGN.md §3), shared by the reference server
//! and the HTTP client so that both sides are checked by the compiler against one definition.
//!
//! Request bodies refuse unknown fields: a typo in a client must be an error, not a silent no-op.

use super::thread::{MessageAuthor, Participant};
use super::*;

/// `GET /v1/...` lists: `{"items": [...], "next_cursor": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub agent: Agent,
    pub scopes: Vec<Scope>,
}

/// `GET /v1/feedback/{id}`: one item with its thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FeedbackDetail {
    pub feedback: Feedback,
    pub thread: Vec<Message>,
    /// Who wrote each message of `thread`, in the same order. Absent from older servers.
    #[serde(default)]
    pub authors: Vec<MessageAuthor>,
    /// The customers who wrote on the thread, in order of joining, with their roles.
    /// Absent from older servers.
    #[serde(default)]
    pub participants: Vec<Participant>,
}

/// `POST /v1/feedback`: offline feedback logged by an agent, or a listening tool's webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeedback {
    pub channel: Channel,
    pub text: String,
    /// The author on the channel: a handle for social networks, a name or number offline.
    pub author_handle: String,
    #[serde(default)]
    pub author_name: Option<String>,
    /// Set when the agent logs feedback for a known customer.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Reply-in-thread: the thread this post belongs to.
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Defaults to now; a listening tool passes the post's own time.
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
    /// The listening tool's id for the post, so that a webhook retry does not duplicate it
    /// (unique per channel: a Facebook post may reuse an X post's id).
    #[serde(default)]
    pub external_id: Option<String>,
    /// Join the thread of the post with this `external_id` on the same channel (instead of
    /// naming our `thread_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_external_id: Option<String>,
}

/// `POST /v1/intake/{source}`, signed with the source's secret (Standard Webhooks): a new item
/// from a listening tool. The fields of [`NewFeedback`]; `channel` defaults to the source's.
/// External ids are unique per source and channel, and `parent_external_id` names a post of
/// the same source on the same channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeItem {
    #[serde(default)]
    pub channel: Option<Channel>,
    pub text: String,
    pub author_handle: String,
    #[serde(default)]
    pub author_name: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub parent_external_id: Option<String>,
}

impl IntakeItem {
    /// The item as `POST /v1/feedback` takes it, on `default_channel` unless it names one;
    /// `None` when it names none and there is no default.
    pub fn into_feedback(self, default_channel: Option<Channel>) -> Option<NewFeedback> {
        Some(NewFeedback {
            channel: self.channel.or(default_channel)?,
            text: self.text,
            author_handle: self.author_handle,
            author_name: self.author_name,
            customer_id: self.customer_id,
            thread_id: self.thread_id,
            url: self.url,
            received_at: self.received_at,
            external_id: self.external_id,
            parent_external_id: self.parent_external_id,
        })
    }
}

/// `PATCH /v1/feedback/{id}` with `If-Match: <version>`. Absent fields are left alone;
/// `"assignee": null` unassigns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackPatch {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
    // Only `assignee` may be null (to unassign); the others are absent or a value.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    #[schema(nullable = false)]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    #[schema(nullable = false)]
    pub status: Option<FeedbackStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    #[schema(nullable = false)]
    pub priority: Option<Priority>,
    /// An agent's correction of the triage label: audited, learned from, re-routes priority/SLA.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    #[schema(nullable = false)]
    pub sentiment_label: Option<SentimentLabel>,
    /// An agent's correction of the kind (complaint, question, praise, tip, other).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    #[schema(nullable = false)]
    pub kind: Option<FeedbackKind>,
}

/// `POST /v1/feedback/{id}/replies`, with an `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReply {
    pub parts: Vec<ReplyPart>,
    #[serde(default)]
    pub overrides: Vec<Override>,
    /// The rulebook version the console checked against, when it checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rulebook_version: Option<String>,
    /// The newest thread message the agent saw when composing. If the thread has newer messages
    /// (another agent replied, the customer wrote again) the server answers 409 `stale-thread`
    /// with them and delivers nothing; sending again without it confirms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_message_id: Option<String>,
}

/// `POST /v1/replies`, with an `Idempotency-Key` header: one reply (typically a macro) to many
/// items, checked against the rules for each item's channel and customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBulkReply {
    pub feedback_ids: Vec<String>,
    pub parts: Vec<ReplyPart>,
    #[serde(default)]
    pub overrides: Vec<Override>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rulebook_version: Option<String>,
}

/// The answer to `POST /v1/replies`: one result per requested item, in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BulkReplyResults {
    pub results: Vec<BulkItemResult>,
}

/// One item of a bulk reply: the reply (status 201, or 200 when it is the stored result of an
/// earlier request with the same key) or the problem that stopped it for this item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BulkItemResult {
    pub feedback_id: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Reply>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// One attempt to hand an outbound message to its channel (`GET /v1/messages/{id}/attempts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    pub message_id: String,
    /// 1 for the first attempt, counted across server restarts.
    pub attempt: i64,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// Why the attempt failed (transport error, refusal), or that it was interrupted.
    pub error: Option<String>,
    /// `None` while the attempt is in flight (or when it was interrupted).
    pub duration_ms: Option<f64>,
}

/// `POST /v1/feedback/{id}/presence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceUpdate {
    pub state: PresenceState,
}

/// The data of a `presence.changed` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Presence {
    pub feedback_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub state: PresenceState,
    pub at: DateTime<Utc>,
}

/// `POST /v1/identities/{id}/link`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIdentity {
    pub customer_id: String,
}

/// `POST /v1/customers` (a new record) and `PATCH /v1/customers/{id}` (absent fields are left
/// alone). Also what each row of an import becomes. Emails must be addresses, phones numbers in
/// international form (`+44 7700 900123`); lists replace the stored list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phones: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consents: Option<ConsentsPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_value: Option<Money>,
}

/// Consents to change; absent ones are left alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub social_dm: Option<bool>,
}

/// The answer to an import (`POST /v1/customers/import`, `earshot import`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// `customers` or `transactions`.
    pub kind: String,
    /// Data rows read (the header and blank lines not counted).
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    /// Rows identical to what was stored already.
    pub unchanged: u64,
    /// Each refused row, with its line in the file; none of it was written.
    pub skipped: Vec<ImportProblem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportProblem {
    pub line: u64,
    pub reason: String,
}

/// `GET /v1/identities/{id}/matches`: customers who may be the person behind an identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IdentityMatches {
    pub identity: Identity,
    /// Best first.
    pub candidates: Vec<MatchCandidate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MatchCandidate {
    pub customer: Customer,
    /// 0.0 to 1.0; 1.0 is an exact email or phone match.
    pub score: f64,
    /// Why, e.g. `same email ann@example.com`, `same name`, `similar handle`.
    pub reasons: Vec<String>,
}

/// `POST /v1/customers/{id}/merge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeCustomers {
    /// The record merged into this one and retired.
    pub from: String,
}

/// The answer to a merge: the surviving record and how conflicts were settled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MergeResult {
    pub customer: Customer,
    pub retired: String,
    /// Fields on which the two records differed: the survivor's value is kept.
    pub conflicts: Vec<MergeConflict>,
    pub moved: MergeMoved,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MergeConflict {
    pub field: String,
    pub kept: String,
    pub dropped: String,
}

/// What moved from the retired record to the survivor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MergeMoved {
    pub identities: u64,
    pub transactions: u64,
    pub history: u64,
    pub feedback: u64,
}

/// The data of a `stream.reset` event: the resume point is gone, refetch then continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StreamReset {
    pub oldest_seq: i64,
    pub latest_seq: i64,
}

/// `GET /v1/rules`: the rulebook in force on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RulebookSource {
    pub id: String,
    pub version: String,
    /// The TOML text of the rulebook (RULES.md), compiled by the client's own rule engine.
    pub source: String,
}

/// `POST /v1/departments` (admin): a new department. The id is what routing rules and agents
/// name (`support`, `returns-emea`): lowercase ASCII letters, digits, `-` and `_`, starting with
/// a letter, at most 64 characters. The name defaults to the id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    pub id: String,
    /// 1 to 256 characters, not only spaces.
    #[serde(default)]
    #[schema(max_length = 256)]
    pub name: Option<String>,
}

/// `PATCH /v1/me` and `PATCH /v1/agents/{id}`: whether the agent takes new work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    pub availability: Availability,
}

/// One entry of the audit log (`GET /v1/audit`): who did what to which object, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The agent who acted; `None` for the server itself, the command line, or a caller
    /// without a valid token.
    pub actor: Option<String>,
    /// `department.add`, `agent.add`, `agent.revoke`, `agent.availability`, `feedback.create`,
    /// `feedback.patch`, `reply.create`..., or for a refused request its method and route
    /// template (`PATCH /v1/feedback/{id}`); `refusals.summary` counts refusals in bulk.
    pub action: String,
    /// The id the action was about (an item, an agent, a department), or a route for summaries.
    pub object: String,
    /// `ok` or `refused`.
    pub outcome: String,
    pub detail: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// Rule violations, on a 422 from reply delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub violations: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProblemField {
    pub pointer: String,
    pub detail: String,
}

/// `Option<T>` that is absent or a value, never null (`"status": null` is refused, not taken
/// for "no change").
mod present {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        T::deserialize(d).map(Some)
    }
}

/// `Option<Option<T>>` that tells "absent" from "null".
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_null_from_absent() {
        let p: FeedbackPatch = serde_json::from_str(r#"{"assignee":null}"#).unwrap();
        assert_eq!(p.assignee, Some(None));
        let p: FeedbackPatch = serde_json::from_str(r#"{"status":"pending"}"#).unwrap();
        assert_eq!(p.assignee, None);
        assert_eq!(p.status, Some(FeedbackStatus::Pending));
    }

    #[test]
    fn request_bodies_refuse_unknown_fields() {
        assert!(serde_json::from_str::<FeedbackPatch>(r#"{"statsu":"pending"}"#).is_err());
        assert!(serde_json::from_str::<NewReply>(r#"{"parts":[],"extra":1}"#).is_err());
    }
}
