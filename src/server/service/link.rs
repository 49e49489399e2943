//! Linking a social identity to a customer, and unlinking it. The store does the work in one
//! transaction (the identity's items follow it, the change is audited); the agent's departments
//! bound what they may change.

use super::{bounded, ServiceResult, MAX_ID_BYTES};
use crate::domain::Identity;
use crate::server::state::AppState;
use crate::server::store::AuthenticatedAgent;

/// Links `identity_id` to `customer_id`; an identity linked to another customer is refused.
pub async fn link(
    state: &AppState,
    agent: &AuthenticatedAgent,
    identity_id: &str,
    customer_id: &str,
) -> ServiceResult<Identity> {
    bounded("/customer_id", Some(customer_id), MAX_ID_BYTES)?;
    let scope = agent.scope();
    Ok(state
        .store
        .link_identity(&agent.agent.id, identity_id, customer_id, &scope)
        .await?)
}

/// Unlinks `identity_id` from its customer; one that is not linked is refused.
pub async fn unlink(
    state: &AppState,
    agent: &AuthenticatedAgent,
    identity_id: &str,
) -> ServiceResult<Identity> {
    let scope = agent.scope();
    Ok(state
        .store
        .unlink_identity(&agent.agent.id, identity_id, &scope)
        .await?)
}
