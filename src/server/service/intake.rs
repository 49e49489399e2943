//! A new feedback item: checked, triaged, routed, built and stored. `POST /v1/feedback`,
//! `POST /v1/intake/{source}` and the demo simulator go through [`submit`]; the demo seed, which
//! imports thousands of past items in bulk before the server runs, builds each with [`build`],
//! the same routing and the same fields.
//!
//! (The secrets that sign `POST /v1/intake/{source}` are another concept: `server::intake`.)

use super::{bounded, ServiceError, ServiceResult};
use super::{MAX_EXTERNAL_ID_BYTES, MAX_ID_BYTES, MAX_NAME_BYTES, MAX_TEXT_BYTES, MAX_URL_BYTES};
use crate::domain::api::NewFeedback;
use crate::domain::{Feedback, FeedbackStatus};
use crate::server::routing::{self, RoutingRules};
use crate::server::state::AppState;
use crate::server::store::{DepartmentScope, Intake, StoreError, Via};
use crate::triage::Triage;

/// Where a new item comes from: who may see what it joins, who logged it, the department an
/// intake source sends its items to, and the source and webhook it came by.
pub struct Origin {
    pub scope: DepartmentScope,
    pub logged_by: Option<String>,
    pub department: Option<String>,
    pub via: Via,
}

impl Origin {
    /// The server itself (the demo seed and simulator): sees every department, logged by no one.
    pub fn system() -> Origin {
        Origin {
            scope: DepartmentScope::All,
            logged_by: None,
            department: None,
            via: Via::default(),
        }
    }
}

/// The one intake path: checks, triage, routing, then the store (thread join, identity
/// auto-link, assignment, events). The item, and whether it is new (false: a repeat of an
/// external id or webhook id, answered with the item the first one made).
pub async fn submit(
    state: &AppState,
    new: NewFeedback,
    origin: Origin,
) -> ServiceResult<(Feedback, bool)> {
    check(&new)?;
    let tier = customer_tier(state, new.customer_id.as_deref()).await?;
    let triage = state.triage.classify(&new.text);
    let received_at = new
        .received_at
        .map(|t| t.timestamp_micros())
        .unwrap_or_else(|| state.store.now());
    let intake = build(
        &state.routing,
        triage,
        new,
        tier.as_deref(),
        received_at,
        &origin,
    );
    Ok(state.store.create_feedback(intake, &origin.scope).await?)
}

/// The tier of the customer an item is logged for. A customer that does not exist is the
/// request's fault (422 at `/customer_id`); a store that cannot answer is not.
async fn customer_tier(
    state: &AppState,
    customer_id: Option<&str>,
) -> ServiceResult<Option<String>> {
    let Some(c) = customer_id else {
        return Ok(None);
    };
    match state.store.customer(c).await {
        Ok(customer) => Ok(Some(customer.tier)),
        Err(StoreError::NotFound(_)) => Err(ServiceError::invalid(
            "/customer_id",
            format!("no customer '{c}'"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The item to store for `new`, routed by `rules` from its text, channel, the customer's tier
/// and its triage; an intake source's own department wins over the routing's.
pub fn build(
    rules: &RoutingRules,
    triage: Triage,
    new: NewFeedback,
    tier: Option<&str>,
    received_at: i64,
    origin: &Origin,
) -> Intake {
    let decision = rules.decide(&routing::facts(&new.text, new.channel, tier, &triage));
    let via = Via {
        parent_external_id: new.parent_external_id,
        ..origin.via.clone()
    };
    Intake {
        id: None,
        channel: new.channel,
        author_name: new.author_name.unwrap_or_else(|| new.author_handle.clone()),
        text: new.text,
        author_handle: new.author_handle,
        customer_id: new.customer_id,
        thread_id: new.thread_id,
        url: new.url,
        received_at,
        external_id: new.external_id,
        sentiment: triage.score(),
        triage,
        department: origin.department.clone().unwrap_or(decision.department),
        priority: decision.priority,
        sla_due_at: received_at + decision.sla_hours * 3_600_000_000,
        auto_assign: true,
        status: FeedbackStatus::New,
        logged_by: origin.logged_by.clone(),
        via,
        answered_at: None,
        resolved_at: None,
    }
}

/// The shape checks of a new item: text, author, and the length of every field.
pub fn check(new: &NewFeedback) -> ServiceResult<()> {
    if new.text.trim().is_empty() {
        return Err(ServiceError::invalid("/text", "text is empty"));
    }
    if new.text.len() > MAX_TEXT_BYTES {
        return Err(ServiceError::invalid(
            "/text",
            format!("text is over {MAX_TEXT_BYTES} bytes"),
        ));
    }
    if new.author_handle.trim().is_empty() || new.author_handle.len() > MAX_NAME_BYTES {
        return Err(ServiceError::invalid(
            "/author_handle",
            format!("author_handle must be 1 to {MAX_NAME_BYTES} bytes"),
        ));
    }
    bounded("/author_name", new.author_name.as_deref(), MAX_NAME_BYTES)?;
    bounded("/customer_id", new.customer_id.as_deref(), MAX_ID_BYTES)?;
    bounded("/thread_id", new.thread_id.as_deref(), MAX_ID_BYTES)?;
    for (pointer, value) in [
        ("/external_id", &new.external_id),
        ("/parent_external_id", &new.parent_external_id),
    ] {
        bounded(pointer, value.as_deref(), MAX_EXTERNAL_ID_BYTES)?;
    }
    bounded("/url", new.url.as_deref(), MAX_URL_BYTES)
}
