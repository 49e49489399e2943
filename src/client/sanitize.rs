//! [`Sanitized`]: any [`CrmBackend`] made display-safe, once, at the console's boundary.
//!
//! A backend decodes what its CRM answers into the domain types and hands them over as they
//! came; customer text in them is attacker-controlled (DESIGN.md §6). `Sanitized<B>` calls the
//! inner backend and cleans every untrusted string of every answer, of every error and of every
//! event the stream yields, field by field with the [`Sanitize`] impls of the domain types
//! (multi-line for bodies, single-line for names, handles, addresses and ids), so that whatever
//! CRM sits behind the trait, nothing downstream ever sees a control character, an escape
//! sequence, a bidi override or an invisible format character.
//!
//! The impls for the domain types live in `crate::text` (which may import `domain`; `domain`
//! imports nothing of ours); the ones for the client's own types are here.

use super::backend::{ClientError, CrmBackend, FeedbackQuery, StreamItem};
use crate::domain::api::RulebookSource;
use crate::domain::api::{
    FeedbackDetail, FeedbackPatch, IdentityMatches, Me, NewFeedback, NewReply, Page,
};
use crate::domain::metrics::{MetricsQuery, MetricsSummary};
use crate::domain::{
    Agent, Customer, Department, Feedback, HistoryEntry, Identity, PresenceState, Reply,
    Transaction,
};
use crate::text::{sanitize_inline, Sanitize};
use futures::stream::{BoxStream, StreamExt};

/// The value, sanitised (by value, for answers passed along).
fn sanitized<T: Sanitize>(mut v: T) -> T {
    v.sanitize();
    v
}

fn line(s: &mut String) {
    let clean = sanitize_inline(s);
    if clean != *s {
        *s = clean;
    }
}

/// An answer or its error, both sanitised.
fn clean<T: Sanitize>(r: Result<T, ClientError>) -> Result<T, ClientError> {
    r.map(sanitized).map_err(sanitized)
}

/// A [`CrmBackend`] whose every answer, error and event is sanitised (see the module docs).
/// Wrap the backend the console is given: `Sanitized::new(HttpBackend::new(url, token)?)`.
#[derive(Debug, Clone)]
pub struct Sanitized<B>(B);

impl<B: CrmBackend> Sanitized<B> {
    pub fn new(inner: B) -> Self {
        Sanitized(inner)
    }

    /// The backend inside, whose answers are not sanitised.
    pub fn inner(&self) -> &B {
        &self.0
    }

    pub fn into_inner(self) -> B {
        self.0
    }
}

#[async_trait::async_trait]
impl<B: CrmBackend> CrmBackend for Sanitized<B> {
    async fn me(&self) -> Result<Me, ClientError> {
        clean(self.0.me().await)
    }

    async fn list_feedback(&self, query: &FeedbackQuery) -> Result<Page<Feedback>, ClientError> {
        clean(self.0.list_feedback(query).await)
    }

    async fn feedback(&self, id: &str) -> Result<FeedbackDetail, ClientError> {
        clean(self.0.feedback(id).await)
    }

    async fn create_feedback(&self, new: &NewFeedback) -> Result<Feedback, ClientError> {
        clean(self.0.create_feedback(new).await)
    }

    async fn patch_feedback(
        &self,
        id: &str,
        version: i64,
        patch: &FeedbackPatch,
    ) -> Result<Feedback, ClientError> {
        clean(self.0.patch_feedback(id, version, patch).await)
    }

    async fn send_reply(
        &self,
        feedback_id: &str,
        idempotency_key: &str,
        reply: &NewReply,
    ) -> Result<Reply, ClientError> {
        clean(self.0.send_reply(feedback_id, idempotency_key, reply).await)
    }

    async fn set_presence(
        &self,
        feedback_id: &str,
        state: PresenceState,
    ) -> Result<(), ClientError> {
        self.0
            .set_presence(feedback_id, state)
            .await
            .map_err(sanitized)
    }

    async fn customer(&self, id: &str) -> Result<Customer, ClientError> {
        clean(self.0.customer(id).await)
    }

    async fn customer_history(&self, id: &str) -> Result<Page<HistoryEntry>, ClientError> {
        clean(self.0.customer_history(id).await)
    }

    async fn customer_transactions(&self, id: &str) -> Result<Page<Transaction>, ClientError> {
        clean(self.0.customer_transactions(id).await)
    }

    async fn search_customers(&self, q: &str) -> Result<Page<Customer>, ClientError> {
        clean(self.0.search_customers(q).await)
    }

    async fn link_identity(
        &self,
        identity_id: &str,
        customer_id: &str,
    ) -> Result<Identity, ClientError> {
        clean(self.0.link_identity(identity_id, customer_id).await)
    }

    async fn identity_matches(&self, identity_id: &str) -> Result<IdentityMatches, ClientError> {
        clean(self.0.identity_matches(identity_id).await)
    }

    async fn agents(&self) -> Result<Vec<Agent>, ClientError> {
        clean(self.0.agents().await)
    }

    async fn departments(&self) -> Result<Vec<Department>, ClientError> {
        clean(self.0.departments().await)
    }

    async fn rules(&self) -> Result<RulebookSource, ClientError> {
        clean(self.0.rules().await)
    }

    async fn metrics_summary(&self, query: &MetricsQuery) -> Result<MetricsSummary, ClientError> {
        clean(self.0.metrics_summary(query).await)
    }

    fn events(&self, last_event_id: Option<i64>) -> BoxStream<'static, StreamItem> {
        self.0.events(last_event_id).map(sanitized).boxed()
    }
}

impl Sanitize for RulebookSource {
    /// The rulebook is organisation text compiled by the rule engine, not shown raw: only its
    /// id and version (which are shown) are sanitised.
    fn sanitize(&mut self) {
        line(&mut self.id);
        line(&mut self.version);
    }
}

impl Sanitize for StreamItem {
    fn sanitize(&mut self) {
        match self {
            StreamItem::Connected => {}
            StreamItem::Event(e) => e.sanitize(),
            StreamItem::Disconnected { reason, .. } => line(reason),
        }
    }
}

impl Sanitize for ClientError {
    /// Error texts are shown and logged on one line; they may quote customer text.
    fn sanitize(&mut self) {
        match self {
            ClientError::Unreachable(m)
            | ClientError::Unauthorized(m)
            | ClientError::NotFound(m)
            | ClientError::Conflict(m)
            | ClientError::Protocol(m) => line(m),
            ClientError::Stale { detail, changes } => {
                line(detail);
                changes.sanitize();
            }
            ClientError::Refused { detail, problem } => {
                line(detail);
                problem.sanitize();
            }
            ClientError::RateLimited(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event_payload::{EventPayload, TypedEvent};
    use crate::domain::problem::{ProblemExtension, RuleRefusal, ServerProblem};
    use crate::domain::verdict::{Level, OverridePolicy, Refusal, Violation};
    use crate::domain::{Channel, DeliveryStatus, Direction, Message, Visibility};
    use crate::text::{is_forbidden, sanitize};

    /// What tests/hostile_console.rs throws at the terminal, in one string: OSC title, CSI
    /// clear, a bidi override, a C1 CSI, a zero-width space, a bell, a line break and a tab.
    const H: &str = "\u{1B}]0;pwned\u{7}\u{1B}[2Jhi \u{202E}there\u{9B}31m z\u{200B}w\n\tend";

    fn no_escape(s: &str) -> bool {
        !s.chars().any(is_forbidden) && !s.contains('\u{200B}')
    }

    fn message() -> Message {
        Message {
            id: format!("ms_1{H}"),
            thread_id: format!("th_1{H}"),
            feedback_id: Some(format!("fb_1{H}")),
            direction: Direction::Inbound,
            visibility: Visibility::Public,
            channel: Channel::X,
            address: format!("@eve{H}"),
            author: format!("Eve{H}"),
            body: format!("body{H}"),
            delivery_status: DeliveryStatus::Failed,
            status_reason: Some(format!("bounced{H}")),
            reply_id: Some(format!("rp_1{H}")),
            created_at: chrono::Utc::now(),
        }
    }

    fn feedback() -> Feedback {
        let mut f = crate::client::http::tests::feedback(&format!("fb_1{H}"), 1);
        f.text = format!("text{H}");
        f.author.handle = format!("@eve{H}");
        f.author.display_name = format!("Eve{H}");
        f.url = Some(format!("https://x.example/{H}"));
        f.department = format!("billing{H}");
        f.assignee = Some(format!("ag_1{H}"));
        f.cues = vec![format!("refund{H}")];
        f
    }

    fn refusal() -> ServerProblem {
        ServerProblem {
            status: 422,
            kind: format!("rule-violation{H}"),
            errors: vec![],
            extension: ProblemExtension::RuleViolation(RuleRefusal {
                rulebook_version: format!("7{H}"),
                violations: vec![Violation {
                    rule: format!("no-refund{H}"),
                    level: Level::Error,
                    message: format!("promises a refund{H}"),
                    part: Visibility::Direct,
                    start: 0,
                    end: 4,
                    fix: Some(format!("say\n{H}")),
                    overridable: true,
                    override_policy: OverridePolicy::default(),
                }],
                refused: vec![Refusal {
                    rule: format!("no-refund{H}"),
                    violation: 0,
                    reason: crate::domain::verdict::RefusalReason::Missing,
                }],
            }),
        }
    }

    /// A backend of another CRM that passes on whatever it was sent.
    struct Raw;

    fn refused<T>() -> Result<T, ClientError> {
        Err(ClientError::Refused {
            detail: format!("refused{H}"),
            problem: Box::new(refusal()),
        })
    }

    #[async_trait::async_trait]
    impl CrmBackend for Raw {
        async fn me(&self) -> Result<Me, ClientError> {
            Err(ClientError::Unauthorized(format!("token{H}")))
        }
        async fn list_feedback(&self, _: &FeedbackQuery) -> Result<Page<Feedback>, ClientError> {
            Ok(Page {
                items: vec![feedback()],
                next_cursor: Some("opaque".into()),
            })
        }
        async fn feedback(&self, _: &str) -> Result<FeedbackDetail, ClientError> {
            Ok(FeedbackDetail {
                feedback: feedback(),
                thread: vec![message()],
                authors: vec![],
                participants: vec![],
            })
        }
        async fn create_feedback(&self, _: &NewFeedback) -> Result<Feedback, ClientError> {
            Err(ClientError::Unreachable(format!("down{H}")))
        }
        async fn patch_feedback(
            &self,
            _: &str,
            _: i64,
            _: &FeedbackPatch,
        ) -> Result<Feedback, ClientError> {
            Err(ClientError::Conflict(format!("changed{H}")))
        }
        async fn send_reply(&self, _: &str, _: &str, _: &NewReply) -> Result<Reply, ClientError> {
            refused()
        }
        async fn set_presence(&self, _: &str, _: PresenceState) -> Result<(), ClientError> {
            Err(ClientError::Stale {
                detail: format!("moved on{H}"),
                changes: vec![message()],
            })
        }
        async fn customer(&self, _: &str) -> Result<Customer, ClientError> {
            Err(ClientError::NotFound(format!("cu_1{H}")))
        }
        async fn customer_history(&self, _: &str) -> Result<Page<HistoryEntry>, ClientError> {
            Ok(Page {
                items: vec![HistoryEntry {
                    at: chrono::Utc::now(),
                    kind: crate::domain::HistoryKind::Feedback,
                    channel: Channel::X,
                    summary: format!("summary{H}"),
                    feedback_id: Some(format!("fb_1{H}")),
                    sentiment: None,
                }],
                next_cursor: None,
            })
        }
        async fn customer_transactions(&self, _: &str) -> Result<Page<Transaction>, ClientError> {
            Err(ClientError::Protocol(format!("bad body{H}")))
        }
        async fn search_customers(&self, _: &str) -> Result<Page<Customer>, ClientError> {
            Err(ClientError::RateLimited(3))
        }
        async fn link_identity(&self, _: &str, _: &str) -> Result<Identity, ClientError> {
            Ok(feedback().author)
        }
        async fn identity_matches(&self, _: &str) -> Result<IdentityMatches, ClientError> {
            refused()
        }
        async fn agents(&self) -> Result<Vec<Agent>, ClientError> {
            Ok(vec![Agent {
                id: format!("ag_1{H}"),
                name: format!("Ann{H}"),
                role: crate::domain::AgentRole::Agent,
                departments: vec![format!("billing{H}")],
                availability: Default::default(),
            }])
        }
        async fn departments(&self) -> Result<Vec<Department>, ClientError> {
            Ok(vec![Department {
                id: format!("billing{H}"),
                name: format!("Billing{H}"),
            }])
        }
        async fn rules(&self) -> Result<RulebookSource, ClientError> {
            Ok(RulebookSource {
                id: format!("acme{H}"),
                version: format!("7{H}"),
                source: "[rules]\n\tx = 1".into(),
            })
        }
        fn events(&self, _: Option<i64>) -> BoxStream<'static, StreamItem> {
            let event = |seq, payload| {
                StreamItem::Event(TypedEvent {
                    seq,
                    payload,
                    created_at: chrono::Utc::now(),
                })
            };
            futures::stream::iter(vec![
                StreamItem::Connected,
                event(1, EventPayload::FeedbackCreated(feedback())),
                event(2, EventPayload::MessageCreated(message())),
                StreamItem::Disconnected {
                    reason: format!("lost{H}"),
                    retry_in_ms: 5,
                },
            ])
            .boxed()
        }
    }

    /// Every string of `v` (as JSON), with where it is.
    fn strings(v: &serde_json::Value, at: String, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::String(s) => out.push((at, s.clone())),
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    strings(x, format!("{at}[{i}]"), out);
                }
            }
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    strings(x, format!("{at}.{k}"), out);
                }
            }
            _ => {}
        }
    }

    fn assert_clean<T: serde::Serialize>(what: &str, v: &T) {
        let mut out = Vec::new();
        strings(
            &serde_json::to_value(v).unwrap(),
            what.to_string(),
            &mut out,
        );
        for (at, s) in out {
            assert!(no_escape(&s), "{at} = {s:?}");
        }
    }

    #[tokio::test]
    async fn answers_are_cleaned_field_by_field_as_the_console_cleaned_them() {
        let b = Sanitized::new(Raw);
        let page = b.list_feedback(&FeedbackQuery::default()).await.unwrap();
        assert_clean("list_feedback", &page);
        assert_eq!(page.next_cursor.as_deref(), Some("opaque"));
        let f = &page.items[0];
        // The console's clean_feedback / clean_identity: the text multi-line, the rest one line.
        assert_eq!(f.text, sanitize(&format!("text{H}")));
        assert!(f.text.contains('\n'));
        assert_eq!(f.author.handle, sanitize_inline(&format!("@eve{H}")));
        assert_eq!(f.author.display_name, sanitize_inline(&format!("Eve{H}")));
        assert_eq!(
            f.url.as_deref(),
            Some(sanitize_inline(&format!("https://x.example/{H}")).as_str())
        );
        assert_eq!(f.department, sanitize_inline(&format!("billing{H}")));
        assert_eq!(
            f.assignee.as_deref(),
            Some(sanitize_inline(&format!("ag_1{H}")).as_str())
        );
        let detail = b.feedback("fb_1").await.unwrap();
        assert_clean("feedback", &detail);
        // The console's clean_message: the body multi-line; author, address, reason one line.
        let m = &detail.thread[0];
        assert_eq!(m.body, sanitize(&format!("body{H}")));
        assert_eq!(m.author, sanitize_inline(&format!("Eve{H}")));
        assert_eq!(m.address, sanitize_inline(&format!("@eve{H}")));
        assert_eq!(
            m.status_reason.as_deref(),
            Some(sanitize_inline(&format!("bounced{H}")).as_str())
        );
        let history = b.customer_history("cu_1").await.unwrap();
        assert_clean("history", &history);
        assert_eq!(history.items[0].summary, sanitize(&format!("summary{H}")));
        assert_clean("link_identity", &b.link_identity("i", "c").await.unwrap());
        let agents = b.agents().await.unwrap();
        assert_clean("agents", &agents);
        assert_eq!(agents[0].name, sanitize_inline(&format!("Ann{H}")));
        let departments = b.departments().await.unwrap();
        assert_clean("departments", &departments);
        assert_eq!(departments[0].name, sanitize_inline(&format!("Billing{H}")));
        let rules = b.rules().await.unwrap();
        assert!(no_escape(&rules.id) && no_escape(&rules.version));
        assert_eq!(
            rules.source, "[rules]\n\tx = 1",
            "the rulebook is not rewritten"
        );
        assert!(b
            .metrics_summary(&MetricsQuery::default())
            .await
            .is_err_and(|e| matches!(e, ClientError::Protocol(_))));
    }

    #[tokio::test]
    async fn errors_are_cleaned_with_what_they_carry() {
        let b = Sanitized::new(Raw);
        let errors = vec![
            b.me().await.unwrap_err(),
            b.create_feedback(&NewFeedback {
                channel: Channel::Phone,
                text: "x".into(),
                author_handle: "x".into(),
                author_name: None,
                customer_id: None,
                thread_id: None,
                url: None,
                received_at: None,
                external_id: None,
                parent_external_id: None,
            })
            .await
            .unwrap_err(),
            b.patch_feedback("fb_1", 1, &FeedbackPatch::default())
                .await
                .unwrap_err(),
            b.customer("cu_1").await.unwrap_err(),
            b.customer_transactions("cu_1").await.unwrap_err(),
            b.set_presence("fb_1", PresenceState::Viewing)
                .await
                .unwrap_err(),
            b.identity_matches("i").await.unwrap_err(),
        ];
        for e in &errors {
            let text = e.to_string();
            assert!(no_escape(&text) && !text.contains('\n'), "{text:?}");
        }
        let ClientError::Stale { changes, .. } = &errors[5] else {
            panic!("{:?}", errors[5])
        };
        assert_eq!(changes[0].body, sanitize(&format!("body{H}")));
        assert_clean("stale", &changes);
        let ClientError::Refused { problem, .. } = b
            .send_reply(
                "fb_1",
                "k",
                &NewReply {
                    parts: vec![],
                    overrides: vec![],
                    rulebook_version: None,
                    base_message_id: None,
                },
            )
            .await
            .unwrap_err()
        else {
            panic!()
        };
        assert!(no_escape(&problem.kind));
        let ProblemExtension::RuleViolation(r) = &problem.extension else {
            panic!("{problem:?}")
        };
        assert_clean("refusal", r);
        assert_eq!(
            r.violations[0].fix.as_deref(),
            Some(sanitize(&format!("say\n{H}")).as_str())
        );
        assert_eq!(
            b.search_customers("x").await.unwrap_err(),
            ClientError::RateLimited(3)
        );
    }

    #[tokio::test]
    async fn every_event_and_state_change_of_the_stream_is_cleaned() {
        let items: Vec<StreamItem> = Sanitized::new(Raw).events(None).collect().await;
        assert_eq!(items.len(), 4);
        assert_eq!(items[0], StreamItem::Connected);
        let StreamItem::Event(TypedEvent {
            payload: EventPayload::FeedbackCreated(f),
            ..
        }) = &items[1]
        else {
            panic!("{items:?}")
        };
        assert_clean("feedback.created", f);
        assert_eq!(f.text, sanitize(&format!("text{H}")));
        let StreamItem::Event(TypedEvent {
            payload: EventPayload::MessageCreated(m),
            ..
        }) = &items[2]
        else {
            panic!("{items:?}")
        };
        assert_clean("message.created", m);
        assert_eq!(m.body, sanitize(&format!("body{H}")));
        let StreamItem::Disconnected {
            reason,
            retry_in_ms,
        } = &items[3]
        else {
            panic!("{items:?}")
        };
        assert_eq!(*reason, sanitize_inline(&format!("lost{H}")));
        assert_eq!(*retry_in_ms, 5);
    }
}
