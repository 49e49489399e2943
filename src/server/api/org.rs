//! Setting up the organisation and watching over it: departments, agents' availability, and
//! the audit log read-out. Handlers check who may act and leave the work to the store.

use super::paging::{decode_cursor, encode_cursor, page_limit, trim_page};
use crate::domain::api::{AgentPatch, AuditEntry, NewDepartment, Page};
use crate::domain::*;
use crate::server::auth::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::server::error::{ApiError, ApiResult};
use crate::server::state::AppState;
use crate::server::store::{AuditFilter, AuditScope, AuthenticatedAgent};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Longest value of an audit filter (ids and action names are far shorter).
const MAX_FILTER_BYTES: usize = 128;

/// `POST /v1/departments` (admin scope): 201 with the department; 409 `already-exists` for a
/// taken id, 422 for a malformed one.
#[utoipa::path(post, path = "/v1/departments", tag = "org", summary = "Create a department (admin)",
    request_body = NewDepartment,
    responses((status = 201, description = "the new department", body = Department),
        (status = 403, description = "the token lacks the admin scope"),
        (status = 409, description = "the id is taken"),
        (status = 422, description = "a malformed id or name")))]
pub async fn create_department(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(new): ApiJson<NewDepartment>,
) -> ApiResult<(StatusCode, Json<Department>)> {
    let admin = auth.require(Scope::Admin)?;
    let department = state
        .store
        .add_department(Some(&admin.agent.id), &new.id, new.name.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(department)))
}

/// `PATCH /v1/me`: the caller says whether they take new work.
#[utoipa::path(patch, path = "/v1/me", tag = "org",
    summary = "Set the caller's availability: away agents get no new items",
    request_body = AgentPatch,
    responses((status = 200, description = "the caller, changed", body = Agent),
        (status = 403, description = "the token lacks the reply scope")))]
pub async fn patch_me(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(patch): ApiJson<AgentPatch>,
) -> ApiResult<Json<Agent>> {
    // Availability decides who is routed work: a read-only token (a wallboard) takes none.
    let me = auth.require(Scope::Reply)?;
    let agent = state
        .store
        .set_availability(Some(&me.agent.id), &me.agent.id, patch.availability)
        .await?;
    Ok(Json(agent))
}

/// `PATCH /v1/agents/{id}`: an admin, or a supervisor of a department the agent works in, sets
/// another agent's availability (someone went home without saying so).
#[utoipa::path(patch, path = "/v1/agents/{id}", tag = "org",
    summary = "Set an agent's availability (admin, or a supervisor of the agent's department)",
    params(("id" = String, Path, description = "the agent's id", max_length = 128)),
    request_body = AgentPatch,
    responses((status = 200, description = "the agent, changed", body = Agent),
        (status = 403, description = "neither an admin nor a supervisor of the agent's department")))]
pub async fn patch_agent(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<AgentPatch>,
) -> ApiResult<Json<Agent>> {
    let caller = auth.require(Scope::Read)?;
    let target = state.store.agent(&id).await?;
    if !may_manage(caller, &target) {
        return Err(ApiError::forbidden(
            "only an admin, or a supervisor of a department this agent works in, sets another agent's availability",
        ));
    }
    let agent = state
        .store
        .set_availability(Some(&caller.agent.id), &target.id, patch.availability)
        .await?;
    Ok(Json(agent))
}

fn may_manage(caller: &AuthenticatedAgent, target: &Agent) -> bool {
    caller.agent.id == target.id
        || caller.has(Scope::Admin)
        || (caller.agent.role == AgentRole::Supervisor
            && caller.has(Scope::Reply)
            && target
                .departments
                .iter()
                .any(|d| caller.agent.departments.contains(d)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// The acting agent's id.
    #[param(max_length = 128)]
    actor: Option<String>,
    /// The start of the action name: `agent.` for every agent action.
    #[param(max_length = 128)]
    action: Option<String>,
    /// The object's id (an item, an agent, a department).
    #[param(max_length = 128)]
    object: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// Page size, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /v1/audit`, newest first: everything for a token with the admin scope; for a
/// supervisor, what concerns their departments (see `store::audit_log`); 403 for others.
#[utoipa::path(get, path = "/v1/audit", tag = "org",
    summary = "The audit log, newest first (supervisors: their departments; admins: all)",
    params(AuditParams),
    responses((status = 200, description = "one page of entries", body = Page<AuditEntry>),
        (status = 403, description = "an agent's token")))]
pub async fn audit(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    let caller = auth.require(Scope::Read)?;
    let scope = if caller.has(Scope::Admin) {
        AuditScope::All
    } else if caller.agent.role == AgentRole::Supervisor {
        AuditScope::Departments(caller.agent.departments.clone())
    } else {
        return Err(ApiError::forbidden(
            "the audit log is for supervisors and admins",
        ));
    };
    for (name, value) in [
        ("actor", &p.actor),
        ("action", &p.action),
        ("object", &p.object),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > MAX_FILTER_BYTES)
        {
            return Err(ApiError::bad_request_at(
                &format!("/{name}"),
                format!("{name} is over {MAX_FILTER_BYTES} characters"),
            ));
        }
    }
    let limit = page_limit(p.limit)?;
    let before_id = match p.cursor.as_deref() {
        Some(c) if super::grammar::is_audit_cursor(c) => {
            Some(decode_cursor(c)?.1.parse::<i64>().map_err(|_| {
                ApiError::bad_request_at("/cursor", "the cursor is not one this server gave out")
            })?)
        }
        Some(_) => {
            return Err(ApiError::bad_request_at(
                "/cursor",
                "the cursor is not one this server gave out",
            ))
        }
        None => None,
    };
    let filter = AuditFilter {
        actor: p.actor,
        action_prefix: p.action,
        object: p.object,
        since: p.since.map(|t| t.timestamp_micros()),
        until: p.until.map(|t| t.timestamp_micros()),
        before_id,
        limit: limit + 1,
    };
    let mut items = state.store.audit_log(&scope, &filter).await?;
    let next_cursor = trim_page(&mut items, limit, |e| {
        encode_cursor(e.at, &e.id.to_string())
    });
    Ok(Json(Page { items, next_cursor }))
}
