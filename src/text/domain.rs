//! Sanitising the domain types: every string a customer (or anything outside the console) can
//! influence, each with the right kind: multi-line for bodies, single-line for names, handles,
//! addresses and ids.
//!
//! Cursors (`Page::next_cursor`) are left alone: they are opaque tokens handed back to the
//! server, never shown.

use super::sanitize::{sanitize, sanitize_inline, sanitize_json};
use crate::domain::api::{
    FeedbackDetail, IdentityMatches, MatchCandidate, Me, Page, Presence, Problem, ProblemField,
};
use crate::domain::thread::{MessageAuthor, Participant};
use crate::domain::{
    Agent, Customer, Department, Feedback, HistoryEntry, Identity, Message, Money, Override,
    Preferences, Reply, ReplyPart, Transaction,
};

/// A value whose text can be made display-safe in place.
pub trait Sanitize {
    fn sanitize(&mut self);
}

fn text(s: &mut String) {
    let clean = sanitize(s);
    if clean != *s {
        *s = clean;
    }
}

fn line(s: &mut String) {
    let clean = sanitize_inline(s);
    if clean != *s {
        *s = clean;
    }
}

fn line_opt(s: &mut Option<String>) {
    if let Some(s) = s {
        line(s);
    }
}

fn lines(v: &mut [String]) {
    v.iter_mut().for_each(line);
}

impl<T: Sanitize> Sanitize for Vec<T> {
    fn sanitize(&mut self) {
        self.iter_mut().for_each(Sanitize::sanitize);
    }
}

impl<T: Sanitize> Sanitize for Option<T> {
    fn sanitize(&mut self) {
        if let Some(v) = self {
            v.sanitize();
        }
    }
}

impl<T: Sanitize> Sanitize for Page<T> {
    fn sanitize(&mut self) {
        self.items.sanitize();
    }
}

impl Sanitize for crate::domain::metrics::MetricsSummary {
    /// Names, ids, handles and excerpts come from agents, departments and customers.
    fn sanitize(&mut self) {
        for g in self
            .by_department
            .iter_mut()
            .chain(self.by_agent.iter_mut())
            .chain(self.by_channel.iter_mut())
        {
            line(&mut g.key);
            line(&mut g.name);
        }
        for t in &mut self.response_trend {
            line(&mut t.department);
        }
        for b in &mut self.sla.breached {
            line(&mut b.feedback_id);
            line(&mut b.department);
            line_opt(&mut b.assignee);
            line(&mut b.author_handle);
            line(&mut b.excerpt);
        }
        for c in self.detractors.iter_mut().chain(self.helpers.iter_mut()) {
            line(&mut c.customer_id);
            line(&mut c.name);
        }
        for a in &mut self.agents {
            line(&mut a.agent_id);
            line(&mut a.name);
        }
    }
}

impl Sanitize for Identity {
    fn sanitize(&mut self) {
        line(&mut self.id);
        line(&mut self.handle);
        line(&mut self.display_name);
        line_opt(&mut self.customer_id);
    }
}

impl Sanitize for Money {
    fn sanitize(&mut self) {
        line(&mut self.currency);
    }
}

impl Sanitize for Preferences {
    fn sanitize(&mut self) {
        line(&mut self.language);
    }
}

impl Sanitize for Customer {
    fn sanitize(&mut self) {
        line(&mut self.id);
        if let Some(e) = &mut self.external_id {
            line(e);
        }
        line(&mut self.first_name);
        line(&mut self.last_name);
        lines(&mut self.emails);
        lines(&mut self.phones);
        line(&mut self.tier);
        self.lifetime_value.sanitize();
        self.preferences.sanitize();
        lines(&mut self.tags);
        self.identities.sanitize();
        // Not text, but drawn: keep the sparkline in its documented range.
        for s in &mut self.sentiment_trend {
            *s = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
        }
    }
}

impl Sanitize for Transaction {
    fn sanitize(&mut self) {
        line(&mut self.id);
        line(&mut self.customer_id);
        line(&mut self.reference);
        text(&mut self.description);
        self.amount.sanitize();
    }
}

impl Sanitize for Feedback {
    fn sanitize(&mut self) {
        line(&mut self.id);
        self.author.sanitize();
        line_opt(&mut self.customer_id);
        text(&mut self.text);
        // Cues quote words of the customer's post.
        for c in &mut self.cues {
            line(c);
        }
        line(&mut self.thread_id);
        line_opt(&mut self.url);
        line(&mut self.department);
        line_opt(&mut self.assignee);
        line_opt(&mut self.unassigned_reason);
    }
}

impl Sanitize for Message {
    fn sanitize(&mut self) {
        line(&mut self.id);
        line(&mut self.thread_id);
        line_opt(&mut self.feedback_id);
        line(&mut self.address);
        line(&mut self.author);
        text(&mut self.body);
        line_opt(&mut self.status_reason);
        line_opt(&mut self.reply_id);
    }
}

impl Sanitize for ReplyPart {
    fn sanitize(&mut self) {
        text(&mut self.body);
    }
}

impl Sanitize for Override {
    fn sanitize(&mut self) {
        line(&mut self.rule);
        line(&mut self.reason);
    }
}

impl Sanitize for Reply {
    fn sanitize(&mut self) {
        line(&mut self.id);
        line(&mut self.feedback_id);
        line(&mut self.agent_id);
        self.parts.sanitize();
        self.overrides.sanitize();
        self.messages.sanitize();
    }
}

impl Sanitize for Department {
    fn sanitize(&mut self) {
        line(&mut self.id);
        line(&mut self.name);
    }
}

impl Sanitize for Agent {
    fn sanitize(&mut self) {
        line(&mut self.id);
        line(&mut self.name);
        lines(&mut self.departments);
    }
}

impl Sanitize for MatchCandidate {
    fn sanitize(&mut self) {
        self.customer.sanitize();
        lines(&mut self.reasons);
    }
}

impl Sanitize for IdentityMatches {
    fn sanitize(&mut self) {
        self.identity.sanitize();
        self.candidates.sanitize();
    }
}

impl Sanitize for Me {
    fn sanitize(&mut self) {
        self.agent.sanitize();
    }
}

impl Sanitize for FeedbackDetail {
    fn sanitize(&mut self) {
        self.feedback.sanitize();
        self.thread.sanitize();
        self.authors.sanitize();
        self.participants.sanitize();
    }
}

impl Sanitize for MessageAuthor {
    fn sanitize(&mut self) {
        line(&mut self.message_id);
        line_opt(&mut self.identity_id);
        line_opt(&mut self.agent_id);
        line_opt(&mut self.customer_id);
    }
}

impl Sanitize for Participant {
    fn sanitize(&mut self) {
        self.identity.sanitize();
        line_opt(&mut self.customer_id);
        line_opt(&mut self.customer_name);
    }
}

impl Sanitize for HistoryEntry {
    fn sanitize(&mut self) {
        text(&mut self.summary);
        line_opt(&mut self.feedback_id);
    }
}

impl Sanitize for Presence {
    fn sanitize(&mut self) {
        line(&mut self.feedback_id);
        line(&mut self.agent_id);
        line(&mut self.agent_name);
    }
}

impl Sanitize for ProblemField {
    fn sanitize(&mut self) {
        line(&mut self.pointer);
        text(&mut self.detail);
    }
}

impl Sanitize for Problem {
    fn sanitize(&mut self) {
        line(&mut self.kind);
        line(&mut self.title);
        text(&mut self.detail);
        self.errors.sanitize();
        if let Some(v) = &mut self.violations {
            sanitize_json(v);
        }
    }
}

impl Sanitize for crate::domain::verdict::Violation {
    fn sanitize(&mut self) {
        line(&mut self.rule);
        line(&mut self.message);
        if let Some(fix) = &mut self.fix {
            text(fix);
        }
    }
}

impl Sanitize for crate::domain::verdict::Refusal {
    fn sanitize(&mut self) {
        line(&mut self.rule);
    }
}

impl Sanitize for crate::domain::problem::ProblemExtension {
    fn sanitize(&mut self) {
        use crate::domain::problem::ProblemExtension as X;
        match self {
            X::RuleViolation(r) => {
                line(&mut r.rulebook_version);
                r.violations.sanitize();
                r.refused.sanitize();
            }
            X::StaleThread(s) => s.changes.sanitize(),
            X::RulebookChanged(c) => line(&mut c.rulebook_version),
            X::None => {}
        }
    }
}

impl Sanitize for crate::domain::problem::ServerProblem {
    fn sanitize(&mut self) {
        line(&mut self.kind);
        self.errors.sanitize();
        self.extension.sanitize();
    }
}

impl Sanitize for crate::domain::event_payload::TypedEvent {
    fn sanitize(&mut self) {
        use crate::domain::event_payload::EventPayload as P;
        match &mut self.payload {
            P::FeedbackCreated(f) | P::FeedbackUpdated(f) => f.sanitize(),
            P::MessageCreated(m) | P::ReplyStatusChanged(m) => m.sanitize(),
            P::PresenceChanged(p) => p.sanitize(),
            P::CustomerUpdated(c) => {
                line(&mut c.customer_id);
                if let Some(into) = c.merged_into.as_mut() {
                    line(into);
                }
            }
            P::RulesUpdated(r) => {
                line(&mut r.id);
                line(&mut r.version);
            }
            P::StreamReset(_) => {}
        }
    }
}

impl Sanitize for serde_json::Value {
    fn sanitize(&mut self) {
        sanitize_json(self);
    }
}

/// Sanitises a feedback item: its text, author identity, url and routing fields.
pub fn sanitize_feedback(f: &mut Feedback) {
    f.sanitize();
}

/// Sanitises a customer profile: names, contact points, tier, tags, identities.
pub fn sanitize_customer(c: &mut Customer) {
    c.sanitize();
}

/// Sanitises a message on a thread.
pub fn sanitize_message(m: &mut Message) {
    m.sanitize();
}

/// Sanitises a social identity (handle and display name).
pub fn sanitize_identity(i: &mut Identity) {
    i.sanitize();
}

pub fn sanitize_transaction(t: &mut Transaction) {
    t.sanitize();
}

pub fn sanitize_history_entry(h: &mut HistoryEntry) {
    h.sanitize();
}

pub fn sanitize_reply(r: &mut Reply) {
    r.sanitize();
}

pub fn sanitize_agent(a: &mut Agent) {
    a.sanitize();
}

pub fn sanitize_problem(p: &mut Problem) {
    p.sanitize();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;
    use chrono::Utc;

    fn identity() -> Identity {
        Identity {
            id: "idn_1".into(),
            network: Channel::X,
            handle: "@evil\u{1B}]0;owned\u{7}".into(),
            display_name: "Eve\n\u{202E}lyn".into(),
            verified: false,
            customer_id: Some("cus\u{200B}_1".into()),
        }
    }

    #[test]
    fn feedback_is_sanitised_field_by_field() {
        let now = Utc::now();
        let mut f = Feedback {
            id: "fb_1".into(),
            channel: Channel::X,
            origin: Origin::Online,
            author: identity(),
            customer_id: None,
            text: "Refund me\u{1B}[2J\nnow 👨\u{200D}👩\u{200D}👧".into(),
            thread_id: "th_1".into(),
            url: Some("https://x.example/1\u{1B}]8;;evil\u{7}".into()),
            received_at: now,
            sentiment: -0.5,
            sentiment_label: SentimentLabel::Negative,
            sentiment_confidence: 0.9,
            kind: FeedbackKind::Complaint,
            urgency: vec![],
            cues: vec!["\u{1B}[31mrefund".into()],
            corrected: false,
            department: "billing".into(),
            assignee: None,
            status: FeedbackStatus::New,
            priority: Priority::Normal,
            sla_due_at: now,
            version: 1,
            unassigned_reason: None,
            thread_messages: 1,
            author_roles: vec![],
        };
        sanitize_feedback(&mut f);
        assert_eq!(f.text, "Refund me\nnow 👨\u{200D}👩\u{200D}👧");
        assert_eq!(f.author.handle, "@evil");
        assert_eq!(f.author.display_name, "Eve lyn");
        assert_eq!(f.author.customer_id.as_deref(), Some("cus_1"));
        assert_eq!(f.url.as_deref(), Some("https://x.example/1"));
        assert_eq!(f.id, "fb_1");
    }

    #[test]
    fn customer_fields_and_trend_are_made_safe() {
        let mut c = Customer {
            id: "cus_1".into(),
            external_id: None,
            first_name: "Ann\u{9B}2J".into(),
            last_name: "Lee\r\nX".into(),
            emails: vec!["ann@example.com\u{7}".into()],
            phones: vec!["+33\u{202D}123".into()],
            tier: "gold\u{FEFF}".into(),
            lifetime_value: Money {
                amount: "1.00".parse().unwrap(),
                currency: "EUR\u{0}".into(),
            },
            preferences: Preferences {
                language: "fr".into(),
                preferred_channel: Channel::Email,
                consents: Consents {
                    email: true,
                    sms: false,
                    whatsapp: false,
                    social_dm: true,
                },
            },
            tags: vec!["vip\u{1B}[5m".into()],
            roles: vec![],
            identities: vec![identity()],
            sentiment_trend: vec![0.5, 7.0, -3.0],
            created_at: Utc::now(),
        };
        sanitize_customer(&mut c);
        assert_eq!(c.first_name, "Ann");
        assert_eq!(c.last_name, "Lee X");
        assert_eq!(c.emails, vec!["ann@example.com"]);
        assert_eq!(c.phones, vec!["+33123"]);
        assert_eq!(c.tier, "gold");
        assert_eq!(c.lifetime_value.currency, "EUR");
        assert_eq!(c.tags, vec!["vip"]);
        assert_eq!(c.identities[0].handle, "@evil");
        assert_eq!(c.sentiment_trend, vec![0.5, 1.0, -1.0]);
    }

    #[test]
    fn problems_are_sanitised() {
        let mut p = Problem {
            kind: "about:blank".into(),
            title: "Refused\n".into(),
            status: 422,
            detail: "matched \u{1B}[31m\"refund\"".into(),
            errors: vec![],
            violations: Some(serde_json::json!([{"message": "\u{202E}x"}])),
        };
        sanitize_problem(&mut p);
        assert_eq!(p.title, "Refused ");
        assert_eq!(p.detail, "matched \"refund\"");
        assert_eq!(p.violations, Some(serde_json::json!([{"message": "x"}])));
    }
}
