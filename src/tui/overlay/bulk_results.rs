//! The result list of a bulk (macro) reply (issue 16 §6): one line per marked item, sent (then
//! its delivery status as the server reports it), refused with the rule, or skipped with why.
//! It stays until dismissed; refused and skipped items stay marked.

use super::keys::{self, Outcome, OverlayKey};
use crate::tui::action::Action;
pub use crate::tui::model::bulk::{BulkEntry, BulkOutcome, BulkReport};
use crate::tui::model::{Model, SendState};

impl BulkReport {
    /// The entry sent under `key`, if this report has it.
    pub fn by_key_mut(&mut self, key: &str) -> Option<&mut BulkEntry> {
        self.entries
            .iter_mut()
            .find(|e| matches!(&e.outcome, BulkOutcome::Sent { key: k } if k == key))
    }
}

/// One word and the detail of an entry, as of now (a sent one reads its outbox entry: sending,
/// queued, sent, delivered, failed).
pub fn describe(m: &Model, e: &BulkEntry) -> (&'static str, String) {
    match &e.outcome {
        BulkOutcome::Sent { key } => match m.outbox.iter().find(|o| &o.key == key) {
            Some(o) => {
                let label = o.label();
                let detail = match (o.state, o.problem()) {
                    (SendState::Failed, Some(p)) | (SendState::Queued, Some(p)) => p,
                    _ => String::new(),
                };
                (label, detail)
            }
            None => ("sent", String::new()),
        },
        BulkOutcome::Skipped { why } => ("skipped", why.clone()),
        BulkOutcome::Refused { rules, detail } => {
            let rules = if rules.is_empty() {
                String::new()
            } else {
                format!("{}: ", rules.join(", "))
            };
            ("refused", format!("{rules}{detail}"))
        }
        BulkOutcome::Failed { why } => ("failed", why.clone()),
    }
}

/// Counts for the title: sent (any state after the outbox took it), refused, skipped.
pub fn counts(m: &Model, r: &BulkReport) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for e in &r.entries {
        match describe(m, e).0 {
            "refused" | "failed" => c.1 += 1,
            "skipped" => c.2 += 1,
            _ => c.0 += 1,
        }
    }
    c
}

/// A reply of the bulk list was not taken by the server: its entry says why, and its item is
/// marked again (so a corrected macro can go to the refused ones).
pub fn refused(m: &mut Model, feedback_id: &str, key: &str, e: &crate::client::ClientError) {
    let Some(entry) = m.bulk.as_mut().and_then(|b| b.by_key_mut(key)) else {
        return;
    };
    entry.outcome = match e {
        crate::client::ClientError::Refused { detail, .. } => BulkOutcome::Refused {
            rules: refused_rules(e),
            detail: detail.clone(),
        },
        other => BulkOutcome::Failed {
            why: other.to_string(),
        },
    };
    m.marked.insert(feedback_id.to_string());
    m.dirty = true;
}

/// The rules whose errors the server would not let through (a 422 rule refusal), each once.
pub fn refused_rules(e: &crate::client::ClientError) -> Vec<String> {
    use crate::domain::problem::ProblemExtension;
    let crate::client::ClientError::Refused { problem, .. } = e else {
        return vec![];
    };
    let ProblemExtension::RuleViolation(r) = &problem.extension else {
        return vec![];
    };
    let mut rules: Vec<String> = Vec::new();
    for x in &r.refused {
        if !rules.contains(&x.rule) {
            rules.push(x.rule.clone());
        }
    }
    rules
}

/// The result list scrolls; `close_overlay` dismisses it.
pub fn on_key(scroll: &mut u16, key: OverlayKey) -> Outcome {
    if let Some(s) = keys::scroll(*scroll, key) {
        *scroll = s;
        return Outcome::Stay;
    }
    match key {
        OverlayKey::Action(Action::CloseOverlay) => Outcome::Close,
        _ => Outcome::Stay,
    }
}
