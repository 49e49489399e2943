//! `POST /v1/intake/{source}`: a listening tool's new post, signed with its source's secret
//! (Standard Webhooks: `webhook-id`, `webhook-timestamp` within 5 minutes, `webhook-signature`).
//! No bearer token; the secret does nothing but sign posts of its own source. The item takes the
//! same intake path as `POST /v1/feedback` (triage, routing, thread join, auto-link, events).

use super::idempotent::created_or_repeated;
use crate::domain::api::IntakeItem;
use crate::domain::Feedback;
use crate::server::auth::{body_bytes, decode_json, require_json, ApiPath};
use crate::server::delivery::webhook::refusal_reason;
use crate::server::error::{ApiError, ApiResult, ProblemType};
use crate::server::service::intake::{self, Origin};
use crate::server::service::MAX_EXTERNAL_ID_BYTES;
use crate::server::state::AppState;
use crate::server::store::{DepartmentScope, IntakeSource, Via};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;

fn refused(detail: impl Into<String>) -> ApiError {
    ApiError::new(ProblemType::INVALID_SIGNATURE, detail)
}

#[utoipa::path(post, path = "/v1/intake/{source}", tag = "feedback",
    summary = "A listening tool's new post, signed with its source's secret (no bearer token)",
    description = "Authenticated by a Standard Webhooks signature over the body: `webhook-id`, \
        `webhook-timestamp` (within 5 minutes) and `webhook-signature` (`v1,<base64 HMAC-SHA256>`). \
        A repeat of a webhook-id, or of the source's external_id, answers the stored item (200).",
    security(()),
    params(("source" = String, Path, description = "the intake source's name", max_length = 128),
        ("webhook-id" = String, Header, description = "the message id, unique per message"),
        ("webhook-timestamp" = String, Header, description = "Unix seconds when it was signed"),
        ("webhook-signature" = String, Header, description = "space-separated `v1,<base64>` signatures")),
    request_body(content = IntakeItem, content_type = "application/json"),
    responses((status = 201, description = "a new item", body = Feedback),
        (status = 200, description = "a repeat: the item already stored", body = Feedback),
        (status = 401, description = "the signature is missing, stale or wrong, or the source is unknown or revoked"),
        (status = 409, description = "the external id belongs to another department's item"),
        (status = 503, description = "the server cannot check signatures right now")))]
pub async fn receive(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    request: Request,
) -> ApiResult<Response> {
    let source = state
        .store
        .live_intake_source(&name)
        .await?
        .ok_or_else(|| refused("no intake source of this name is live (unknown or revoked)"))?;
    let body = body_bytes(request, &state).await?;
    let secret = state.intake_key.secret_of(&source).map_err(|e| {
        tracing::error!(source = %source.name, error = %e, "cannot check intake signatures");
        let mut api = ApiError::new(
            ProblemType::INTAKE_UNAVAILABLE,
            "the server cannot check signatures right now; retry later",
        );
        api.retry_after = Some(60);
        api
    })?;
    secret
        .verify(&headers, &body)
        .map_err(|e| refused(refusal_reason(&e)))?;
    // Present: the signature covers it.
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if webhook_id.is_empty() || webhook_id.len() > MAX_EXTERNAL_ID_BYTES {
        return Err(ApiError::bad_request(format!(
            "webhook-id must be 1 to {MAX_EXTERNAL_ID_BYTES} bytes"
        )));
    }
    rate_limit(&state, &source)?;
    require_json(&headers)?;
    let item: IntakeItem = decode_json(&body)?;
    let new = item.into_feedback(source.channel).ok_or_else(|| {
        ApiError::invalid(
            "/channel",
            "this source has no default channel: name the item's channel",
        )
    })?;
    let scope = match &source.department {
        Some(d) => DepartmentScope::only(std::slice::from_ref(d)),
        None => DepartmentScope::All,
    };
    let origin = Origin {
        scope,
        logged_by: None,
        department: source.department.clone(),
        via: Via {
            source: Some(source.name.clone()),
            webhook_id: Some(webhook_id),
            parent_external_id: None,
        },
    };
    let (feedback, created) = intake::submit(&state, new, origin).await?;
    Ok(created_or_repeated(feedback, created))
}

/// A source has a request rate like a token.
fn rate_limit(state: &AppState, source: &IntakeSource) -> ApiResult<()> {
    let Some(limiter) = &state.limiter else {
        return Ok(());
    };
    limiter
        .check(&format!("intake:{}", source.id))
        .map_err(|wait| {
            ApiError::rate_limited(
                format!("this source is over its request rate; retry in {wait} s"),
                wait,
            )
        })
}
