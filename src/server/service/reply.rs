//! A reply to one item: its shape, its recipients, the rulebook in force (with the agent's
//! overrides), the stale-thread guard, then the stored reply and its messages queued for
//! delivery. `POST /v1/feedback/{id}/replies` sends one; `POST /v1/replies` one per item.

use super::{bounded, visible_feedback, ServiceError, ServiceResult};
use super::{MAX_ID_BYTES, MAX_OVERRIDES, MAX_REASON_BYTES, MAX_REPLY_BYTES, MAX_RULE_ID_BYTES};
use crate::domain::api::NewReply;
use crate::domain::problem::RuleRefusal;
use crate::domain::{Customer, Feedback, Reply};
use crate::rules::{CheckContext, CheckResult, DraftPart, Level};
use crate::server::state::AppState;
use crate::server::store::{AuthenticatedAgent, ReplyRecipient, StoreError};

/// A delivered reply: new (its messages just queued), or the stored result of an earlier
/// request with the same idempotency key.
pub struct Delivered {
    pub reply: Reply,
    pub created: bool,
}

/// One reply to one item, under the idempotency key `key`. A repeated key gets the stored
/// result whatever the checks say now, so that a retry answers what the first request did.
pub async fn deliver(
    state: &AppState,
    agent: &AuthenticatedAgent,
    feedback_id: &str,
    key: &str,
    reply: &NewReply,
) -> ServiceResult<Delivered> {
    let feedback = visible_feedback(state, agent, feedback_id).await?;
    let recipients = match checked(state, agent, &feedback, reply).await {
        Ok(recipients) => recipients,
        // The key is looked up only when the checks refuse (the rulebook may have changed
        // since the first request): on the way in, the write transaction checks it anyway,
        // and a new reply is spared that round trip.
        Err(refused) => {
            let replayed = state
                .store
                .replay(&agent.agent.id, &feedback.id, key, reply)
                .await?;
            return match replayed {
                Some(outcome) => Ok(Delivered {
                    reply: outcome.reply,
                    created: false,
                }),
                None => Err(refused),
            };
        }
    };
    let outcome = state
        .store
        .create_reply(&agent.agent, &feedback.id, key, reply, &recipients)
        .await
        .map_err(|e| match e {
            // The store checks base_message_id in its transaction; that refusal is about the field.
            StoreError::Invalid(detail) if reply.base_message_id.is_some() => {
                ServiceError::invalid("/base_message_id", detail)
            }
            e => e.into(),
        })?;
    if !outcome.repeated {
        state.delivery.enqueue(&outcome.reply.messages);
    }
    Ok(Delivered {
        reply: outcome.reply,
        created: !outcome.repeated,
    })
}

/// The checks of a new reply (its shape, where each part goes, the rulebook in force): the
/// recipients, or why the reply is refused.
async fn checked(
    state: &AppState,
    agent: &AuthenticatedAgent,
    feedback: &Feedback,
    reply: &NewReply,
) -> ServiceResult<Vec<ReplyRecipient>> {
    check_parts(reply)?;
    let customer = match &feedback.customer_id {
        Some(c) => Some(state.store.customer(c).await?),
        None => None,
    };
    let recipients = recipients(feedback, customer.as_ref(), reply)?;
    enforce_rules(
        state,
        agent,
        feedback,
        customer.as_ref(),
        reply,
        &recipients,
    )?;
    Ok(recipients)
}

/// Where each part goes; a part that cannot reach the author (no consent, no address) is the
/// request's fault, at that part's visibility.
fn recipients(
    feedback: &Feedback,
    customer: Option<&Customer>,
    reply: &NewReply,
) -> ServiceResult<Vec<ReplyRecipient>> {
    reply
        .parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            crate::server::store::recipient(feedback, customer, p.visibility)
                .map_err(|e| ServiceError::invalid(&format!("/parts/{i}/visibility"), e))
        })
        .collect()
}

/// Shape checks of a reply: micro (one direct part), macro (one public part) or both.
fn check_parts(reply: &NewReply) -> ServiceResult<()> {
    if reply.parts.is_empty() || reply.parts.len() > 2 {
        return Err(ServiceError::invalid(
            "/parts",
            "a reply has one part (micro or macro) or two (both)",
        ));
    }
    if reply.parts.len() == 2 && reply.parts[0].visibility == reply.parts[1].visibility {
        return Err(ServiceError::invalid(
            "/parts",
            "the two parts of a reply must be one public and one direct",
        ));
    }
    for (i, part) in reply.parts.iter().enumerate() {
        let pointer = format!("/parts/{i}/body");
        if part.body.trim().is_empty() {
            return Err(ServiceError::invalid(&pointer, "the part is empty"));
        }
        if part.body.len() > MAX_REPLY_BYTES {
            return Err(ServiceError::invalid(
                &pointer,
                format!("the part is over {MAX_REPLY_BYTES} bytes"),
            ));
        }
    }
    if reply.overrides.len() > MAX_OVERRIDES {
        return Err(ServiceError::invalid(
            "/overrides",
            format!("at most {MAX_OVERRIDES} overrides"),
        ));
    }
    let base = reply.base_message_id.as_deref();
    bounded("/base_message_id", base, MAX_ID_BYTES)?;
    let version = reply.rulebook_version.as_deref();
    bounded("/rulebook_version", version, MAX_ID_BYTES)?;
    check_overrides(reply)
}

/// Every override names a rule and gives a reason, both within their lengths.
fn check_overrides(reply: &NewReply) -> ServiceResult<()> {
    for (i, o) in reply.overrides.iter().enumerate() {
        let rule = format!("/overrides/{i}/rule");
        bounded(&rule, Some(&o.rule), MAX_RULE_ID_BYTES)?;
        let reason = format!("/overrides/{i}/reason");
        bounded(&reason, Some(&o.reason), MAX_REASON_BYTES)?;
        if o.reason.trim().is_empty() {
            return Err(ServiceError::invalid(&reason, "an override needs a reason"));
        }
    }
    Ok(())
}

/// Re-checks every part with the rulebook in force, each with its own visibility and the channel
/// it goes out on; refuses (with the violations) unless every error is overridden under its
/// rule's policy. A console that checked against another rulebook version is told to check again.
fn enforce_rules(
    state: &AppState,
    agent: &AuthenticatedAgent,
    feedback: &Feedback,
    customer: Option<&Customer>,
    reply: &NewReply,
    recipients: &[ReplyRecipient],
) -> ServiceResult<()> {
    let rulebook = state.rules.current();
    if let Some(version) = reply
        .rulebook_version
        .as_deref()
        .filter(|v| *v != rulebook.version())
    {
        return Err(ServiceError::RulebookChanged {
            checked: version.to_string(),
            in_force: rulebook.version().to_string(),
        });
    }
    let mut violations = Vec::new();
    for (part, to) in reply.parts.iter().zip(recipients) {
        let ctx = CheckContext {
            channel: Some(to.channel),
            tier: customer.map(|c| c.tier.clone()),
            tags: customer.map(|c| c.tags.clone()).unwrap_or_default(),
            department: Some(feedback.department.clone()),
            language: customer.map(|c| c.preferences.language.clone()),
            sentiment: Some(feedback.sentiment_label),
        };
        violations.extend(
            rulebook
                .check(&[DraftPart::new(part.visibility, part.body.clone())], &ctx)
                .violations,
        );
    }
    let deliverable = !violations.iter().any(|v| v.level == Level::Error);
    let result = CheckResult {
        rulebook_version: rulebook.version().to_string(),
        deliverable,
        violations,
    };
    let outcome = rulebook.check_overrides(&result, &reply.overrides, agent.agent.role);
    if outcome.deliverable {
        return Ok(());
    }
    let refused: Vec<String> = outcome
        .refused
        .iter()
        .map(|r| format!("{}: {}", r.rule, r.reason))
        .collect();
    Err(ServiceError::RuleViolation {
        detail: format!("not delivered: {}", refused.join("; ")),
        refusal: RuleRefusal {
            rulebook_version: result.rulebook_version,
            violations: result.violations,
            refused: outcome.refused,
        },
    })
}
