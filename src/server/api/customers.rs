//! Customer profiles, their history and transactions, search, and identity linking.

use super::paging::{decode_cursor, encode_cursor, page_limit, trim_page};
use crate::domain::api::{
    CustomerFields, IdentityMatches, ImportReport, LinkIdentity, MergeCustomers, MergeResult, Page,
};
use crate::domain::*;
use crate::server::auth::{ApiBytes, ApiJson, ApiPath, ApiQuery, Auth};
use crate::server::customer_data::{self, ImportError, ImportFormat, ImportKind};
use crate::server::error::{ApiError, ApiResult, ProblemType};
use crate::server::service::{bounded, link as linking, MAX_ID_BYTES, MAX_QUERY_BYTES};
use crate::server::state::AppState;
use crate::server::store::AuthenticatedAgent;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// A name, email or phone, at least 2 characters.
    #[param(min_length = 2, max_length = 256)]
    q: String,
    /// At most this many, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
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

#[utoipa::path(get, path = "/v1/customers", tag = "customers",
    summary = "Search customers by name, email or phone",
    params(SearchParams),
    responses((status = 200, description = "the customers found, best first", body = Page<Customer>),
        (status = 403, description = "the token lacks the read scope"),
        (status = 422, description = "q over its length")))]
pub async fn search(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<Json<Page<Customer>>> {
    auth.require(Scope::Read)?;
    bounded("/q", Some(&p.q), MAX_QUERY_BYTES)?;
    if !super::grammar::is_search(&p.q) {
        return Err(ApiError::bad_request_at(
            "/q",
            "search needs at least 2 characters besides spaces around them",
        ));
    }
    let q = p.q.trim();
    let items = state
        .store
        .search_customers(q, page_limit(p.limit)?)
        .await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", summary = "A customer's profile",
    params(("id" = String, Path, description = "the customer's id", max_length = 128)),
    responses((status = 200, description = "the profile", body = Customer),
        (status = 403, description = "the token lacks the read scope")))]
pub async fn profile(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Customer>> {
    auth.require(Scope::Read)?;
    Ok(Json(state.store.customer(&id).await?))
}

#[utoipa::path(get, path = "/v1/customers/{id}/history", tag = "customers",
    summary = "A customer's timeline, newest first (what the caller's departments see)",
    params(("id" = String, Path, description = "the customer's id", max_length = 128), PageParams),
    responses((status = 200, description = "one page of the timeline", body = Page<HistoryEntry>),
        (status = 403, description = "the token lacks the read scope")))]
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

#[utoipa::path(get, path = "/v1/customers/{id}/transactions", tag = "customers",
    summary = "A customer's orders, refunds and subscriptions, newest first",
    params(("id" = String, Path, description = "the customer's id", max_length = 128), PageParams),
    responses((status = 200, description = "one page of transactions", body = Page<Transaction>),
        (status = 403, description = "the token lacks the read scope")))]
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

#[utoipa::path(post, path = "/v1/identities/{id}/link", tag = "identities",
    summary = "Link a social identity to a customer",
    params(("id" = String, Path, description = "the identity's id", max_length = 128)),
    request_body = LinkIdentity,
    responses((status = 200, description = "the identity, linked", body = Identity),
        (status = 403, description = "the token lacks the reply scope"),
        (status = 422, description = "customer_id over its length")))]
pub async fn link(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<LinkIdentity>,
) -> ApiResult<Json<Identity>> {
    let agent = auth.require(Scope::Reply)?;
    let identity = linking::link(&state, agent, &id, &body.customer_id).await?;
    Ok(Json(identity))
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

#[utoipa::path(post, path = "/v1/customers", tag = "customers",
    summary = "Create a customer (supervisor or admin)",
    request_body = CustomerFields,
    responses((status = 201, description = "the new customer", body = Customer),
        (status = 403, description = "an agent's token, or one without the reply scope"),
        (status = 409, description = "the external_id is taken"),
        (status = 422, description = "invalid fields, each with its pointer")))]
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

#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "customers",
    summary = "Change a customer's fields (supervisor or admin); absent fields are left alone",
    params(("id" = String, Path, description = "the customer's id", max_length = 128)),
    request_body = CustomerFields,
    responses((status = 200, description = "the customer, changed", body = Customer),
        (status = 403, description = "an agent's token, or one without the reply scope"),
        (status = 409, description = "the external_id is taken"),
        (status = 422, description = "invalid fields, each with its pointer")))]
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

#[utoipa::path(post, path = "/v1/customers/{id}/merge", tag = "customers",
    summary = "Merge another customer into this one (supervisor or admin); the other id is retired",
    params(("id" = String, Path, description = "the customer's id", max_length = 128)),
    request_body = MergeCustomers,
    responses((status = 200, description = "the survivor, with the conflicts settled", body = MergeResult),
        (status = 403, description = "an agent's token, or one without the reply scope"),
        (status = 422, description = "a customer merged into itself, or `from` over its length")))]
pub async fn merge(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<MergeCustomers>,
) -> ApiResult<Json<MergeResult>> {
    let agent = require_supervisor(&auth)?;
    bounded("/from", Some(body.from.as_str()), MAX_ID_BYTES)?;
    Ok(Json(
        state
            .store
            .merge_customers(&agent.agent.id, &id, &body.from)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    kind: ImportKind,
    format: Option<ImportFormat>,
}

/// Largest import body over HTTP; bigger files go through `earshot import`.
pub const IMPORT_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// `POST /v1/customers/import?kind=customers|transactions[&format=csv|jsonl]`, the file as the
/// body (`Content-Type: text/csv` or `application/jsonl` when `format` is not given).
#[utoipa::path(post, path = "/v1/customers/import", tag = "customers",
    summary = "Import customers or transactions (admin); the file is the body",
    params(ImportParams),
    request_body(description = "the file: CSV with a header row, or one JSON object per line",
        content((String = "text/csv"), (String = "application/jsonl"))),
    responses((status = 200, description = "what was created, updated, unchanged and skipped", body = ImportReport),
        (status = 400, description = "a file that is not UTF-8"),
        (status = 403, description = "the token lacks the admin scope"),
        (status = 413, description = "a file over the limit (use `earshot import`)"),
        (status = 415, description = "neither a known Content-Type nor format"),
        (status = 422, description = "a file that cannot be read as its format")))]
pub async fn import(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<ImportParams>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
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
                ProblemType::UNSUPPORTED_MEDIA_TYPE,
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

#[utoipa::path(get, path = "/v1/identities/{id}/matches", tag = "identities",
    summary = "Customers who may be behind an identity, ranked, with a score and reasons",
    params(("id" = String, Path, description = "the identity's id", max_length = 128)),
    responses((status = 200, description = "the identity and its candidates", body = IdentityMatches),
        (status = 403, description = "the token lacks the read scope")))]
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

#[utoipa::path(delete, path = "/v1/identities/{id}/link", tag = "identities",
    summary = "Unlink an identity from its customer",
    params(("id" = String, Path, description = "the identity's id", max_length = 128)),
    responses((status = 200, description = "the identity, unlinked", body = Identity),
        (status = 403, description = "the token lacks the reply scope"),
        (status = 422, description = "the identity is not linked to a customer")))]
pub async fn unlink(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Identity>> {
    let agent = auth.require(Scope::Reply)?;
    Ok(Json(linking::unlink(&state, agent, &id).await?))
}
