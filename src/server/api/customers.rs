//! Customer profiles, their history and transactions, search, and identity linking.

use super::{decode_cursor, encode_cursor, page_limit, trim_page};
use crate::domain::api::{LinkIdentity, Page};
use crate::domain::*;
use crate::server::auth::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::server::error::{ApiError, ApiResult};
use crate::server::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    q: String,
    limit: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    limit: Option<i64>,
    cursor: Option<String>,
}

impl PageParams {
    /// The page size and the time (microseconds) the page starts before.
    fn resolve(&self) -> ApiResult<(i64, Option<i64>)> {
        let limit = page_limit(self.limit)?;
        let before = self
            .cursor
            .as_deref()
            .map(decode_cursor)
            .transpose()?
            .map(|(at, _)| at);
        Ok((limit, before))
    }
}

pub async fn search(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<Json<Page<Customer>>> {
    auth.require(Scope::Read)?;
    let q = p.q.trim();
    if q.chars().count() < 2 {
        return Err(ApiError::bad_request("search needs at least 2 characters"));
    }
    let items = state
        .store
        .search_customers(q, page_limit(p.limit)?)
        .await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

pub async fn profile(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Customer>> {
    auth.require(Scope::Read)?;
    Ok(Json(state.store.customer(&id).await?))
}

pub async fn history(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<HistoryEntry>>> {
    let agent = auth.require(Scope::Read)?;
    let (limit, before) = p.resolve()?;
    let mut items = state
        .store
        .history(&id, &agent.scope(), before, limit + 1)
        .await?;
    let next_cursor = trim_page(&mut items, limit, |h| encode_cursor(h.at, "h"));
    Ok(Json(Page { items, next_cursor }))
}

pub async fn transactions(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<Transaction>>> {
    auth.require(Scope::Read)?;
    let (limit, before) = p.resolve()?;
    let mut items = state.store.transactions(&id, before, limit + 1).await?;
    let next_cursor = trim_page(&mut items, limit, |t| encode_cursor(t.occurred_at, &t.id));
    Ok(Json(Page { items, next_cursor }))
}

pub async fn link(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<LinkIdentity>,
) -> ApiResult<Json<Identity>> {
    let agent = auth.require(Scope::Reply)?;
    super::feedback::bounded(
        "/customer_id",
        Some(&body.customer_id),
        super::feedback::MAX_ID_BYTES,
    )?;
    Ok(Json(
        state
            .store
            .link_identity(&agent.agent.id, &id, &body.customer_id, &agent.scope())
            .await?,
    ))
}
