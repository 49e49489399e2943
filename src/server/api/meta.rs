//! Liveness, the OpenAPI document, the calling agent, agents and departments.

use crate::domain::api::{Me, Page};
use crate::domain::*;
use crate::server::auth::Auth;
use crate::server::error::{ApiError, ApiResult};
use crate::server::AppState;
use axum::extract::State;
use axum::Json;

pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(super::openapi::document())
}

pub async fn me(auth: Auth) -> ApiResult<Json<Me>> {
    let agent = auth.require(Scope::Read)?;
    Ok(Json(Me {
        agent: agent.agent.clone(),
        scopes: agent.scopes.clone(),
    }))
}

pub async fn agents(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Page<Agent>>> {
    auth.require(Scope::Read)?;
    Ok(Json(Page {
        items: state.store.agents().await?,
        next_cursor: None,
    }))
}

/// The rulebook in force, so that consoles lint with exactly what the server enforces.
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
