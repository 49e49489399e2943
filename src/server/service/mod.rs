//! The server's use cases, between the HTTP handlers (`api`) and the store: what a request
//! means once it is parsed and authenticated. Handlers extract, call one of these and respond;
//! the demo seed and the simulator call the same ones, so an item made by any of them is made
//! the same way. Nothing here knows about HTTP: refusals are [`ServiceError`]s, which become
//! problem responses only at the edge (`From<ServiceError> for ApiError`).
//!
//! Private to `server`: the console and the client speak to the server over HTTP, never here.

pub mod change;
pub mod intake;
pub mod link;
pub mod reply;

use super::error::{ApiError, ProblemType};
use super::state::AppState;
use super::store::{AuthenticatedAgent, StoreError};
use crate::domain::problem::{ProblemExtension, RuleRefusal, RulebookChanged};
use crate::domain::Feedback;

/// Longest feedback text accepted (a long forum post fits; a dump does not).
pub const MAX_TEXT_BYTES: usize = 128 * 1024;
/// Longest reply part accepted.
pub const MAX_REPLY_BYTES: usize = 32 * 1024;
/// Longest author handle or name.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest id of ours (items, customers, threads, agents, departments) a request may name.
pub const MAX_ID_BYTES: usize = 128;
/// Longest search text.
pub const MAX_QUERY_BYTES: usize = 256;
/// Longest listening-tool post id.
pub const MAX_EXTERNAL_ID_BYTES: usize = 256;
pub const MAX_URL_BYTES: usize = 2048;
/// Longest rule id of an override, and longest reason.
pub const MAX_RULE_ID_BYTES: usize = 128;
pub const MAX_REASON_BYTES: usize = 2048;
/// Most overrides one reply carries.
pub const MAX_OVERRIDES: usize = 32;

/// Why a use case did not happen. Each variant is one answer the API gives (see the `From`
/// below), so a handler never decides a status itself.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A field of the request is not acceptable: its JSON pointer and why (422 validation).
    #[error("{pointer}: {detail}")]
    Invalid { pointer: String, detail: String },
    /// The object is not there, or the caller may not know it is (404).
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The draft was checked against another rulebook than the one in force (422).
    #[error("checked against rulebook {checked}, {in_force} is in force")]
    RulebookChanged { checked: String, in_force: String },
    /// The rules refuse the reply and no override lifts it (422, the violations attached).
    #[error("{detail}")]
    RuleViolation {
        detail: String,
        refusal: RuleRefusal,
    },
    /// What the store refused or failed at, answered as the store's errors always are.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn invalid(pointer: &str, detail: impl Into<String>) -> Self {
        ServiceError::Invalid {
            pointer: pointer.to_string(),
            detail: detail.into(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid { pointer, detail } => ApiError::invalid(&pointer, detail),
            ServiceError::NotFound(detail) => ApiError::not_found(detail),
            ServiceError::Forbidden(detail) => ApiError::forbidden(detail),
            ServiceError::RulebookChanged { checked, in_force } => {
                let mut api = ApiError::new(
                    ProblemType::RULEBOOK_CHANGED,
                    format!(
                        "the draft was checked against rulebook {checked}; {in_force} is in force, check again"
                    ),
                );
                api.violations = ProblemExtension::RulebookChanged(RulebookChanged {
                    rulebook_version: in_force,
                })
                .to_value();
                api
            }
            ServiceError::RuleViolation { detail, refusal } => {
                let mut api = ApiError::new(ProblemType::RULE_VIOLATION, detail);
                api.violations = ProblemExtension::RuleViolation(refusal).to_value();
                api
            }
            ServiceError::Store(e) => e.into(),
        }
    }
}

/// Refuses (422 at `pointer`) an optional text field over `max` characters.
pub fn bounded(pointer: &str, value: Option<&str>, max: usize) -> ServiceResult<()> {
    match value {
        Some(v) if v.chars().count() > max => Err(ServiceError::invalid(
            pointer,
            format!("at most {max} characters"),
        )),
        _ => Ok(()),
    }
}

/// Loads an item the agent may see; another department's item is "not found", not "forbidden",
/// so that its existence does not leak.
pub async fn visible_feedback(
    state: &AppState,
    agent: &AuthenticatedAgent,
    id: &str,
) -> ServiceResult<Feedback> {
    let feedback = state.store.feedback(id).await?;
    if !agent.sees_department(&feedback.department) {
        return Err(ServiceError::NotFound(format!("feedback {id} not found")));
    }
    Ok(feedback)
}
