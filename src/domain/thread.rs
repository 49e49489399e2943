//! Who is in a conversation: the author behind each message of a thread, and the customers taking
//! part in it (for a public thread, everyone who joined it), with the roles the brand must know
//! (power user, detractor, helper, advocate). Part of `GET /v1/feedback/{id}` (`FeedbackDetail`).

use super::*;

/// Who wrote one message of the thread: a customer's identity (inbound) or an agent (outbound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageAuthor {
    pub message_id: String,
    /// The identity that posted an inbound message.
    #[serde(default)]
    pub identity_id: Option<String>,
    /// The agent who sent an outbound message.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The customer the message is filed under (inbound: the item's customer, else the
    /// identity's), `None` when the author is not linked.
    #[serde(default)]
    pub customer_id: Option<String>,
}

/// A customer identity that wrote on the thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Participant {
    pub identity: Identity,
    /// The linked customer, `None` for an unlinked author.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// The customer's name, when linked.
    #[serde(default)]
    pub customer_name: Option<String>,
    /// The customer's roles (`CustomerRole`), empty when unlinked.
    #[serde(default)]
    pub roles: Vec<CustomerRole>,
    /// Their messages on the thread.
    pub messages: u32,
    pub first_at: DateTime<Utc>,
    /// The kind and tone of their latest post on the thread (a tip marks a helper even when
    /// unlinked; a negative complaint a possible detractor).
    pub last_kind: FeedbackKind,
    pub last_sentiment: SentimentLabel,
    /// Wrote the thread's first post.
    pub original_poster: bool,
    /// Joined after the brand last wrote on the thread (or, if the brand never did, after the
    /// original post): nobody from the brand has answered them yet.
    pub new_to_thread: bool,
}

impl Participant {
    /// The participant's roles as words, with a helper's tip counted even when unlinked.
    pub fn role_words(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self.roles.iter().map(|r| role_word(*r)).collect();
        if self.last_kind == FeedbackKind::Tip && !self.roles.contains(&CustomerRole::Helper) {
            out.push("helper");
        }
        out
    }
}

/// The word for a role, as agents say it.
pub fn role_word(r: CustomerRole) -> &'static str {
    match r {
        CustomerRole::PowerUser => "power user",
        CustomerRole::Detractor => "detractor",
        CustomerRole::Helper => "helper",
        CustomerRole::Advocate => "advocate",
    }
}

/// One inbound or outbound message as the store reads it for participants: enough to say who
/// wrote it and what they are to the thread.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthoredMessage {
    pub message_id: String,
    pub direction: Direction,
    pub visibility: Visibility,
    pub created_at: DateTime<Utc>,
    pub agent_id: Option<String>,
    /// Inbound only: the post's author, its customer, roles and triage.
    pub identity: Option<Identity>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub roles: Vec<CustomerRole>,
    pub kind: FeedbackKind,
    pub sentiment: SentimentLabel,
}

/// The authors of a thread's messages (in thread order) and its participants (in order of
/// joining). `messages` must be in thread order (created_at, id).
pub fn participants(messages: &[AuthoredMessage]) -> (Vec<MessageAuthor>, Vec<Participant>) {
    let authors = messages
        .iter()
        .map(|m| MessageAuthor {
            message_id: m.message_id.clone(),
            identity_id: m.identity.as_ref().map(|i| i.id.clone()),
            agent_id: m.agent_id.clone(),
            customer_id: m.customer_id.clone(),
        })
        .collect();
    let first_identity = messages
        .iter()
        .find_map(|m| m.identity.as_ref().map(|i| i.id.clone()));
    let last_brand = messages
        .iter()
        .rev()
        .find(|m| m.direction == Direction::Outbound)
        .map(|m| (m.created_at, m.message_id.as_str()));
    let mut people: Vec<Participant> = Vec::new();
    for m in messages {
        let Some(identity) = &m.identity else {
            continue;
        };
        match people.iter_mut().find(|p| p.identity.id == identity.id) {
            Some(p) => {
                p.messages += 1;
                p.last_kind = m.kind;
                p.last_sentiment = m.sentiment;
            }
            None => {
                let original_poster = first_identity.as_deref() == Some(identity.id.as_str());
                let after_brand = match last_brand {
                    Some((at, id)) => (m.created_at, m.message_id.as_str()) > (at, id),
                    None => true,
                };
                people.push(Participant {
                    identity: identity.clone(),
                    customer_id: m.customer_id.clone(),
                    customer_name: m.customer_name.clone(),
                    roles: m.roles.clone(),
                    messages: 1,
                    first_at: m.created_at,
                    last_kind: m.kind,
                    last_sentiment: m.sentiment,
                    original_poster,
                    new_to_thread: !original_poster && after_brand,
                });
            }
        }
    }
    (authors, people)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn msg(n: i64, who: Option<&str>, agent: Option<&str>) -> AuthoredMessage {
        AuthoredMessage {
            message_id: format!("msg_{n}"),
            direction: if agent.is_some() {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            visibility: Visibility::Public,
            created_at: Utc.with_ymd_and_hms(2025, 1, 1, 9, n as u32, 0).unwrap(),
            agent_id: agent.map(str::to_string),
            identity: who.map(|h| Identity {
                id: format!("idn_{h}"),
                network: Channel::Forum,
                handle: h.into(),
                display_name: h.into(),
                verified: false,
                customer_id: None,
            }),
            customer_id: None,
            customer_name: None,
            roles: vec![],
            kind: if who == Some("tipper") {
                FeedbackKind::Tip
            } else {
                FeedbackKind::Complaint
            },
            sentiment: SentimentLabel::Negative,
        }
    }

    #[test]
    fn participants_in_joining_order_with_who_is_new_since_the_brand_wrote() {
        let thread = [
            msg(1, Some("op"), None),
            msg(2, Some("early"), None),
            msg(3, None, Some("agt_1")),
            msg(4, Some("op"), None),
            msg(5, Some("tipper"), None),
        ];
        let (authors, people) = participants(&thread);
        assert_eq!(authors.len(), 5);
        assert_eq!(authors[2].agent_id.as_deref(), Some("agt_1"));
        assert_eq!(authors[3].identity_id.as_deref(), Some("idn_op"));
        let names: Vec<&str> = people.iter().map(|p| p.identity.handle.as_str()).collect();
        assert_eq!(names, ["op", "early", "tipper"]);
        assert!(people[0].original_poster && !people[0].new_to_thread);
        assert_eq!(people[0].messages, 2);
        // Joined before the brand answered: not new. After: new.
        assert!(!people[1].new_to_thread);
        assert!(people[2].new_to_thread);
        assert_eq!(people[2].role_words(), ["helper"]);
    }

    #[test]
    fn with_no_brand_message_everyone_but_the_original_poster_is_new() {
        let (_, people) = participants(&[msg(1, Some("op"), None), msg(2, Some("b"), None)]);
        assert!(!people[0].new_to_thread);
        assert!(people[1].new_to_thread);
        assert!(participants(&[]).1.is_empty());
    }
}
