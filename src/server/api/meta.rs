//! Liveness, the calling agent, agents and departments (the OpenAPI document is served by
//! `routes.rs`, which builds it from the route table).

use crate::domain::api::{Me, Page};
use crate::domain::*;
use crate::server::auth::Auth;
use crate::server::error::{ApiError, ApiResult};
use crate::server::state::AppState;
use axum::extract::State;
use axum::Json;

/// `GET /v1/health`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`: the server answers.
    pub status: String,
    pub version: String,
}

#[utoipa::path(get, path = "/v1/health", tag = "meta", summary = "Liveness (no token)",
    security(()),
    responses((status = 200, description = "the server is up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

#[utoipa::path(get, path = "/v1/me", tag = "meta",
    summary = "The calling agent and the scopes of its token",
    responses((status = 200, description = "the caller", body = Me),
        (status = 403, description = "the token lacks the read scope")))]
pub async fn me(auth: Auth) -> ApiResult<Json<Me>> {
    let agent = auth.require(Scope::Read)?;
    Ok(Json(Me {
        agent: agent.agent.clone(),
        scopes: agent.scopes.clone(),
    }))
}

#[utoipa::path(get, path = "/v1/agents", tag = "org", summary = "Agents, with their availability",
    responses((status = 200, description = "every agent", body = Page<Agent>),
        (status = 403, description = "the token lacks the read scope")))]
pub async fn agents(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Page<Agent>>> {
    auth.require(Scope::Read)?;
    Ok(Json(Page {
        items: state.store.agents().await?,
        next_cursor: None,
    }))
}

/// The rulebook in force, so that consoles lint with exactly what the server enforces.
#[utoipa::path(get, path = "/v1/rules", tag = "meta", summary = "The rulebook in force",
    responses((status = 200, description = "its id, version and TOML source", body = crate::domain::api::RulebookSource),
        (status = 403, description = "the token lacks the read scope")))]
pub async fn rules(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<crate::domain::api::RulebookSource>> {
    auth.require(Scope::Read)?;
    let rulebook = state.rules.current();
    Ok(Json(crate::domain::api::RulebookSource {
        id: rulebook.id().to_string(),
        version: rulebook.version().to_string(),
        source: rulebook.source().to_string(),
    }))
}

#[utoipa::path(get, path = "/v1/departments", tag = "org", summary = "Departments",
    responses((status = 200, description = "every department", body = Page<Department>),
        (status = 403, description = "the token lacks the read scope")))]
pub async fn departments(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<Page<Department>>> {
    auth.require(Scope::Read)?;
    Ok(Json(Page {
        items: state.store.departments().await?,
        next_cursor: None,
    }))
}

/// The organisation's triage model: how many corrections it learned and its accuracy on each
/// before learning it (prequential). Supervisors and admins.
#[utoipa::path(get, path = "/v1/triage/model", tag = "meta",
    summary = "The organisation's triage model: corrections learned, prequential accuracy (supervisors, admins)",
    responses((status = 200, description = "the model's state", body = crate::server::triage::ModelStatus),
        (status = 403, description = "an agent's token, or one without the read scope")))]
pub async fn triage_model(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<crate::server::triage::ModelStatus>> {
    let agent = auth.require(Scope::Read)?;
    if agent.agent.role == AgentRole::Agent {
        return Err(ApiError::forbidden(
            "only supervisors and admins see the triage model",
        ));
    }
    state.triage.refresh(&state.store).await?;
    Ok(Json(state.triage.status()))
}
