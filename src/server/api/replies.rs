//! Replies beyond one item: a macro to many items at once (`POST /v1/replies`), and the delivery
//! attempts of an outbound message (`GET /v1/messages/{id}/attempts`).

use super::idempotent::{delivered_status, idempotency_key};
use crate::domain::api::{
    BulkItemResult, BulkReplyResults, DeliveryAttempt, NewBulkReply, NewReply, Page,
};
use crate::domain::*;
use crate::server::audit::Refusal;
use crate::server::auth::{ApiJson, ApiPath, Auth};
use crate::server::error::{ApiError, ApiResult};
use crate::server::service::{reply, visible_feedback};
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// Most items one bulk reply answers (an outage acknowledgement to a few hundred complaints).
pub const MAX_BULK_ITEMS: usize = 500;

/// The idempotency key of one item of a bulk request: a retried bulk request finds each item's
/// stored reply, and a later single reply to the item cannot collide with it.
fn item_key(key: &str, feedback_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update([0]);
    h.update(feedback_id.as_bytes());
    format!("bulk:{}", hex::encode(&h.finalize()[..20]))
}

/// One text to many items: checked against the rules for each item's channel and customer,
/// delivered to each thread, each item marked answered. Answers 200 with one result per item in
/// request order: its reply (201, or 200 for the stored result of a retried request) or the
/// problem that stopped it (another department's item is "not found", as everywhere).
#[utoipa::path(post, path = "/v1/replies", tag = "replies",
    summary = "One reply to many items; one result per item, in request order",
    params(("Idempotency-Key" = String, Header, description = "a key per request: a retry gets each item's stored reply", max_length = 255)),
    request_body = NewBulkReply,
    responses((status = 200, description = "one result per item: its reply, or the problem that stopped it", body = BulkReplyResults),
        (status = 400, description = "no Idempotency-Key"),
        (status = 403, description = "the token lacks the reply scope"),
        (status = 422, description = "no items, too many, or one named twice")))]
pub async fn bulk(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiJson(bulk): ApiJson<NewBulkReply>,
) -> ApiResult<Json<BulkReplyResults>> {
    let agent = auth.require(Scope::Reply)?;
    let key = idempotency_key(&headers)?;
    if bulk.feedback_ids.is_empty() || bulk.feedback_ids.len() > MAX_BULK_ITEMS {
        return Err(ApiError::invalid(
            "/feedback_ids",
            format!("name 1 to {MAX_BULK_ITEMS} items"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, id) in bulk.feedback_ids.iter().enumerate() {
        if id.is_empty() || id.len() > 128 {
            return Err(ApiError::invalid(
                &format!("/feedback_ids/{i}"),
                "not an item id",
            ));
        }
        if !seen.insert(id.as_str()) {
            return Err(ApiError::invalid(
                &format!("/feedback_ids/{i}"),
                "this item is named twice",
            ));
        }
    }
    let reply = NewReply {
        parts: bulk.parts,
        overrides: bulk.overrides,
        rulebook_version: bulk.rulebook_version,
        base_message_id: None,
    };
    let mut results = Vec::with_capacity(bulk.feedback_ids.len());
    for id in bulk.feedback_ids {
        let delivered = reply::deliver(&state, agent, &id, &item_key(&key, &id), &reply).await;
        let result = match delivered {
            Ok(delivered) => BulkItemResult {
                feedback_id: id,
                status: delivered_status(&delivered).as_u16(),
                reply: Some(delivered.reply),
                problem: None,
            },
            Err(e) => {
                let e = ApiError::from(e);
                state
                    .refusals
                    .record(Refusal {
                        agent: Some(&agent.agent.id),
                        method: &axum::http::Method::POST,
                        route: "/v1/replies",
                        target: &id,
                        status: e.status(),
                    })
                    .await;
                BulkItemResult {
                    feedback_id: id,
                    status: e.status().as_u16(),
                    reply: None,
                    problem: Some(e.to_problem()),
                }
            }
        };
        results.push(result);
    }
    Ok(Json(BulkReplyResults { results }))
}

/// Every attempt to deliver one outbound message, oldest first.
#[utoipa::path(get, path = "/v1/messages/{id}/attempts", tag = "replies",
    summary = "Delivery attempts of an outbound message (the receiver's status or the error, duration)",
    params(("id" = String, Path, description = "the message's id", max_length = 128)),
    responses((status = 200, description = "every attempt, oldest first", body = Page<DeliveryAttempt>),
        (status = 403, description = "the token lacks the read scope")))]
pub async fn attempts(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Page<DeliveryAttempt>>> {
    let agent = auth.require(Scope::Read)?;
    let message = state.store.message(&id).await?;
    let Some(feedback_id) = &message.feedback_id else {
        return Err(ApiError::not_found(format!("message {id} not found")));
    };
    visible_feedback(&state, agent, feedback_id)
        .await
        .map_err(|_| ApiError::not_found(format!("message {id} not found")))?;
    let items = state.store.delivery_attempts(&id).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}
