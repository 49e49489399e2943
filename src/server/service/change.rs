//! A change to an item (`PATCH /v1/feedback/{id}`): assignment, department, status, priority,
//! and corrections of its triage labels, which re-route it and teach the triage model.

use super::{bounded, visible_feedback, ServiceError, ServiceResult, MAX_ID_BYTES};
use crate::domain::api::FeedbackPatch;
use crate::domain::{AgentRole, Feedback};
use crate::server::routing::Facts;
use crate::server::state::AppState;
use crate::server::store::{AuthenticatedAgent, Correction, PatchPolicy};

/// Applies `patch` to item `id` if it is still at `version` (the caller's `If-Match`).
pub async fn apply(
    state: &AppState,
    agent: &AuthenticatedAgent,
    id: &str,
    version: i64,
    patch: &FeedbackPatch,
) -> ServiceResult<Feedback> {
    check(patch)?;
    visible_feedback(state, agent, id).await?;
    if let Some(dept) = &patch.department {
        if !agent.sees_department(dept) && agent.agent.role == AgentRole::Agent {
            return Err(ServiceError::Forbidden(
                "only supervisors and admins move items to another department".into(),
            ));
        }
    }
    let correction = correction(state, id, patch).await?;
    let policy = PatchPolicy {
        escalation_sla_hours: state.routing.escalation.sla_hours,
    };
    let updated = state
        .store
        .patch_feedback(
            &agent.agent.id,
            id,
            version,
            patch,
            &policy,
            correction.as_ref(),
        )
        .await?;
    if let (Some(label), true) = (patch.sentiment_label, updated.version != version) {
        // Learned after the correction is stored: items arriving from now on use it.
        let learned = state.triage.learn(&updated.text, label);
        tracing::debug!(took_us = learned.took.as_micros() as u64, before = %learned.predicted_before, "learned a triage correction");
    }
    Ok(updated)
}

/// A patch that changes nothing is a mistake, and every id it names has a bounded length.
fn check(patch: &FeedbackPatch) -> ServiceResult<()> {
    if *patch == FeedbackPatch::default() {
        return Err(ServiceError::invalid(
            "",
            "name at least one of assignee, department, status, priority, sentiment_label, kind",
        ));
    }
    bounded("/department", patch.department.as_deref(), MAX_ID_BYTES)?;
    if let Some(Some(a)) = &patch.assignee {
        bounded("/assignee", Some(a), MAX_ID_BYTES)?;
    }
    Ok(())
}

/// A corrected label or kind changes what routing decides: the priority and SLA it now earns.
async fn correction(
    state: &AppState,
    id: &str,
    patch: &FeedbackPatch,
) -> ServiceResult<Option<Correction>> {
    if patch.sentiment_label.is_none() && patch.kind.is_none() {
        return Ok(None);
    }
    let current = state.store.feedback(id).await?;
    let label = patch.sentiment_label.unwrap_or(current.sentiment_label);
    let kind = patch.kind.unwrap_or(current.kind);
    let tier = match &current.customer_id {
        Some(c) => Some(state.store.customer(c).await?.tier),
        None => None,
    };
    let decision = state.routing.decide(&Facts {
        text: &current.text,
        channel: current.channel,
        tier: tier.as_deref(),
        sentiment: label,
        kind,
        urgency: &current.urgency,
    });
    Ok(Some(Correction {
        org: crate::server::triage::ORG.to_string(),
        label,
        kind,
        priority: decision.priority,
        sla_hours: decision.sla_hours,
    }))
}
