//! The queue: intake, listing, one item with its thread, changes, replies and presence.

use super::idempotent::{created_or_repeated, delivered_status, idempotency_key};
use super::paging::{decode_cursor, encode_cursor, page_limit, trim_page};
use crate::domain::api::{
    FeedbackDetail, FeedbackPatch, NewFeedback, NewReply, Page, Presence, PresenceUpdate,
};
use crate::domain::*;
use crate::server::auth::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::server::error::{ApiError, ApiResult, ProblemType};
use crate::server::service::intake::{self, Origin};
use crate::server::service::{
    bounded, change, reply, visible_feedback, MAX_ID_BYTES, MAX_QUERY_BYTES,
};
use crate::server::state::AppState;
use crate::server::store::{FeedbackFilter, Via};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    status: Option<FeedbackStatus>,
    /// `me`, `unassigned`, `any` (default) or an agent id.
    #[param(max_length = 128)]
    assignee: Option<String>,
    #[param(max_length = 128)]
    department: Option<String>,
    channel: Option<Channel>,
    /// Words of the text or the author.
    #[param(max_length = 256)]
    q: Option<String>,
    /// Only this customer's items.
    #[param(max_length = 128)]
    customer: Option<String>,
    /// Page size, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/feedback", tag = "feedback",
    summary = "The queue, newest first, of the caller's departments",
    params(ListParams),
    responses((status = 200, description = "one page of items", body = Page<Feedback>),
        (status = 403, description = "the token lacks the read scope"),
        (status = 404, description = "a department that is not the caller's"),
        (status = 422, description = "a filter over its length")))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<Page<Feedback>>> {
    let agent = auth.require(Scope::Read)?;
    let limit = page_limit(p.limit)?;
    bounded("/q", p.q.as_deref(), MAX_QUERY_BYTES)?;
    bounded("/assignee", p.assignee.as_deref(), MAX_ID_BYTES)?;
    bounded("/department", p.department.as_deref(), MAX_ID_BYTES)?;
    bounded("/customer", p.customer.as_deref(), MAX_ID_BYTES)?;
    let departments = match (&p.department, agent.department_scope()) {
        (Some(d), Some(mine)) if !mine.contains(d) => {
            return Err(ApiError::not_found(format!("department {d} not found")))
        }
        (Some(d), _) => Some(vec![d.clone()]),
        (None, scope) => scope.map(<[String]>::to_vec),
    };
    let assignee = match p.assignee.as_deref() {
        None | Some("any") => None,
        Some("me") => Some(Some(agent.agent.id.clone())),
        Some("unassigned") => Some(None),
        Some(id) => Some(Some(id.to_string())),
    };
    let filter = FeedbackFilter {
        departments,
        status: p.status,
        assignee,
        channel: p.channel,
        q: p.q,
        customer_id: p.customer,
        before: p.cursor.as_deref().map(decode_cursor).transpose()?,
        limit: limit + 1,
    };
    let mut items = state.store.list_feedback(&filter).await?;
    let next_cursor = trim_page(&mut items, limit, |f| encode_cursor(f.received_at, &f.id));
    Ok(Json(Page { items, next_cursor }))
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

#[utoipa::path(get, path = "/v1/feedback/{id}", tag = "feedback",
    summary = "One item with its thread",
    params(("id" = String, Path, description = "the item's id", max_length = 128)),
    responses((status = 200, description = "the item and its thread; ETag is its version",
            body = FeedbackDetail,
            headers(("ETag" = String, description = "the item's version, for If-Match"))),
        (status = 403, description = "the token lacks the read scope")))]
pub async fn detail(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let agent = auth.require(Scope::Read)?;
    let feedback = visible_feedback(&state, agent, &id).await?;
    let (thread, written) = state
        .store
        .thread_with_authors(&feedback.thread_id, &agent.scope())
        .await?;
    let (authors, participants) = crate::domain::thread::participants(&written);
    let version = feedback.version;
    let mut response = Json(FeedbackDetail {
        feedback,
        thread,
        authors,
        participants,
    })
    .into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    Ok(response)
}

#[utoipa::path(post, path = "/v1/feedback", tag = "feedback",
    summary = "Intake: offline feedback or a listening tool's post",
    request_body = NewFeedback,
    responses((status = 201, description = "the new item, routed", body = Feedback,
            headers(("Location" = String, description = "the item's URL"))),
        (status = 200, description = "the item this external_id already made (a retry)", body = Feedback),
        (status = 403, description = "the token lacks the reply scope"),
        (status = 409, description = "the external_id is taken by an item of another department"),
        (status = 422, description = "empty text or handle, a field over its length, an unknown customer_id")))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(new): ApiJson<NewFeedback>,
) -> ApiResult<Response> {
    let agent = auth.require(Scope::Reply)?;
    let origin = Origin {
        scope: agent.scope(),
        logged_by: Some(agent.agent.id.clone()),
        department: None,
        via: Via::default(),
    };
    let (feedback, created) = intake::submit(&state, new, origin).await?;
    Ok(created_or_repeated(feedback, created))
}

/// `If-Match` is required: a change made against a stale copy must not win silently.
fn if_match(headers: &HeaderMap) -> ApiResult<i64> {
    let value = headers.get(header::IF_MATCH).ok_or_else(|| {
        ApiError::new(
            ProblemType::PRECONDITION_REQUIRED,
            "send If-Match with the item's version (its ETag)",
        )
    })?;
    let bad = || ApiError::bad_request("If-Match must be the item's version, as in its ETag");
    let text = value.to_str().map_err(|_| bad())?;
    if !super::grammar::is_if_match(text) {
        return Err(bad());
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map_err(|_| bad())
}

#[utoipa::path(patch, path = "/v1/feedback/{id}", tag = "feedback",
    summary = "Assign, reroute, change status, priority or the triage labels",
    params(("id" = String, Path, description = "the item's id", max_length = 128),
        ("If-Match" = String, Header, description = "the item's version, as in its ETag")),
    request_body = FeedbackPatch,
    responses((status = 200, description = "the item, changed; ETag is its new version", body = Feedback,
            headers(("ETag" = String, description = "the item's version, for If-Match"))),
        (status = 400, description = "If-Match that is not a version"),
        (status = 403, description = "the token lacks the reply scope, or an agent moves an item out of their departments"),
        (status = 412, description = "the item is at another version"),
        (status = 428, description = "no If-Match")))]
pub async fn patch(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<FeedbackPatch>,
) -> ApiResult<Response> {
    let agent = auth.require(Scope::Reply)?;
    let version = if_match(&headers)?;
    let updated = change::apply(&state, agent, &id, version, &patch).await?;
    let mut response = Json(updated.clone()).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(updated.version));
    Ok(response)
}

#[utoipa::path(post, path = "/v1/feedback/{id}/replies", tag = "replies",
    summary = "Deliver a reply (checked against the rulebook in force)",
    params(("id" = String, Path, description = "the item's id", max_length = 128),
        ("Idempotency-Key" = String, Header, description = "a key per reply: a retry with it gets the stored reply", max_length = 255)),
    request_body = NewReply,
    responses((status = 201, description = "the reply, its messages queued for delivery", body = Reply),
        (status = 200, description = "the stored reply of an earlier request with this key", body = Reply),
        (status = 400, description = "no Idempotency-Key"),
        (status = 403, description = "the token lacks the reply scope"),
        (status = 409, description = "base_message_id is not the newest message: the new ones are in `violations.changes`"),
        (status = 422, description = "a malformed reply, a recipient that cannot be reached, or rule violations (in `violations`)")))]
pub async fn reply(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(reply): ApiJson<NewReply>,
) -> ApiResult<Response> {
    let agent = auth.require(Scope::Reply)?;
    let key = idempotency_key(&headers)?;
    let delivered = reply::deliver(&state, agent, &id, &key, &reply).await?;
    Ok((delivered_status(&delivered), Json(delivered.reply)).into_response())
}

#[utoipa::path(post, path = "/v1/feedback/{id}/presence", tag = "feedback",
    summary = "Say the caller is viewing, composing on or has left an item (a presence.changed event)",
    params(("id" = String, Path, description = "the item's id", max_length = 128)),
    request_body = PresenceUpdate,
    responses((status = 204, description = "published"),
        (status = 403, description = "the token lacks the reply scope")))]
pub async fn presence(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(update): ApiJson<PresenceUpdate>,
) -> ApiResult<StatusCode> {
    // Presence says "I am answering this": a read-only token answers nothing.
    let agent = auth.require(Scope::Reply)?;
    let feedback = visible_feedback(&state, agent, &id).await?;
    let presence = Presence {
        feedback_id: feedback.id.clone(),
        agent_id: agent.agent.id.clone(),
        agent_name: agent.agent.name.clone(),
        state: update.state,
        at: chrono::Utc::now(),
    };
    state
        .store
        .publish(
            EventName::PresenceChanged,
            Some(&feedback.department),
            &presence,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
