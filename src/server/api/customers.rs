//! Customer profiles, their history and transactions, search, and identity linking.

use super::{decode_cursor, encode_cursor, page_limit, trim_page};
use crate::domain::api::{
    CustomerFields, IdentityMatches, ImportReport, LinkIdentity, MergeCustomers, MergeResult, Page,
};
use crate::domain::*;
use crate::server::auth::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::server::customer_data::{self, ImportError, ImportFormat, ImportKind};
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::AuthenticatedAgent;
use crate::server::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
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

/// Changing customer records is for supervisors and admins; agents read them and link
/// identities.
fn require_supervisor(auth: &Auth) -> ApiResult<&AuthenticatedAgent> {
    let agent = auth.require(Scope::Reply)?;
    match agent.agent.role {
        AgentRole::Supervisor | AgentRole::Admin => Ok(agent),
        AgentRole::Agent => Err(ApiError::forbidden(
            "only a supervisor or an admin may change customer records",
        )),
    }
}

/// 422 with one pointer per invalid field.
fn validated(fields: &mut CustomerFields, creating: bool) -> ApiResult<()> {
    customer_data::validate_customer(fields, creating).map_err(|errors| {
        let detail = errors
            .iter()
            .map(|(p, d)| format!("{p}: {d}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = ApiError::invalid("", detail);
        e.errors = errors
            .into_iter()
            .map(|(pointer, detail)| crate::domain::api::ProblemField { pointer, detail })
            .collect();
        e
    })
}

pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(mut body): ApiJson<CustomerFields>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    let agent = require_supervisor(&auth)?;
    validated(&mut body, true)?;
    let customer = state.store.create_customer(&agent.agent.id, &body).await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

pub async fn patch(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(mut body): ApiJson<CustomerFields>,
) -> ApiResult<Json<Customer>> {
    let agent = require_supervisor(&auth)?;
    validated(&mut body, false)?;
    Ok(Json(
        state
            .store
            .patch_customer(&agent.agent.id, &id, &body)
            .await?,
    ))
}

pub async fn merge(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<MergeCustomers>,
) -> ApiResult<Json<MergeResult>> {
    let agent = require_supervisor(&auth)?;
    super::feedback::bounded(
        "/from",
        Some(body.from.as_str()),
        super::feedback::MAX_ID_BYTES,
    )?;
    Ok(Json(
        state
            .store
            .merge_customers(&agent.agent.id, &id, &body.from)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    kind: ImportKind,
    format: Option<ImportFormat>,
}

/// Largest import body over HTTP; bigger files go through `earshot import`.
pub const IMPORT_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// `POST /v1/customers/import?kind=customers|transactions[&format=csv|jsonl]`, the file as the
/// body (`Content-Type: text/csv` or `application/jsonl` when `format` is not given).
pub async fn import(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<ImportParams>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<ImportReport>> {
    let agent = auth.require(Scope::Admin)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let format = p
        .format
        .or_else(|| ImportFormat::from_content_type(content_type))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unknown import format",
                "send Content-Type: text/csv or application/jsonl, or add format=csv|jsonl",
            )
        })?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the file is not UTF-8 text"))?;
    let report = customer_data::import(
        &state.store,
        Some(&agent.agent.id),
        p.kind,
        format,
        text,
        &|_| {},
    )
    .await
    .map_err(|e| match e {
        ImportError::File(e) => ApiError::invalid("", e.0),
        ImportError::Store(e) => e.into(),
    })?;
    Ok(Json(report))
}

pub async fn matches(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<IdentityMatches>> {
    let agent = auth.require(Scope::Read)?;
    Ok(Json(
        state.store.identity_matches(&id, &agent.scope()).await?,
    ))
}

pub async fn unlink(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Identity>> {
    let agent = auth.require(Scope::Reply)?;
    Ok(Json(
        state
            .store
            .unlink_identity(&agent.agent.id, &id, &agent.scope())
            .await?,
    ))
}
