//! `GET /v1/metrics/summary`: the team's measures, for supervisors and admins.

use crate::domain::metrics::{MetricsQuery, MetricsSummary};
use crate::domain::{AgentRole, Scope};
use crate::server::auth::{ApiQuery, Auth};
use crate::server::error::{ApiError, ApiResult};
use crate::server::service::{bounded, MAX_ID_BYTES};
use crate::server::state::AppState;
use axum::extract::State;
use axum::Json;

/// The summary over the caller's departments (all of them for an admin). An agent gets 403: the
/// team's figures are for the people who run the team. A department outside the caller's is
/// "not found", as in the queue.
#[utoipa::path(get, path = "/v1/metrics/summary", tag = "team",
    summary = "The team's measures over a window, for supervisors and admins",
    params(MetricsQuery),
    responses((status = 200, description = "the measures of the window", body = MetricsSummary),
        (status = 403, description = "an agent (not a supervisor or admin), or a token without the read scope"),
        (status = 404, description = "a department that is not the caller's")))]
pub async fn summary(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<MetricsQuery>,
) -> ApiResult<Json<MetricsSummary>> {
    let agent = auth.require(Scope::Read)?;
    if agent.agent.role == AgentRole::Agent {
        return Err(ApiError::forbidden(
            "only supervisors and admins see the team's measures",
        ));
    }
    bounded("/department", q.department.as_deref(), MAX_ID_BYTES)?;
    bounded("/agent", q.agent.as_deref(), MAX_ID_BYTES)?;
    if let Some(d) = &q.department {
        if !agent.sees_department(d) {
            return Err(ApiError::not_found(format!("department {d} not found")));
        }
    }
    Ok(Json(state.store.metrics_summary(&q, &agent.scope()).await?))
}
