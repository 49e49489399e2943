//! The HTTP API, versioned under `/v1` (DESIGN.md §3).

mod customers;
mod feedback;
mod meta;
pub mod openapi;
mod replies;

use super::auth::bearer_token;
use super::error::ApiError;
use super::AppState;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/health", get(meta::health))
        .route("/openapi.json", get(meta::openapi))
        .route("/me", get(meta::me))
        .route("/agents", get(meta::agents))
        .route("/departments", get(meta::departments))
        .route("/feedback", get(feedback::list).post(feedback::create))
        .route(
            "/feedback/{id}",
            get(feedback::detail).patch(feedback::patch),
        )
        .route("/feedback/{id}/replies", post(feedback::reply))
        .route("/feedback/{id}/presence", post(feedback::presence))
        .route("/replies", post(replies::bulk))
        .route("/messages/{id}/attempts", get(replies::attempts))
        .route("/customers", get(customers::search))
        .route("/customers/{id}", get(customers::profile))
        .route("/customers/{id}/history", get(customers::history))
        .route("/customers/{id}/transactions", get(customers::transactions))
        .route("/identities/{id}/link", post(customers::link))
        .route("/rules", get(meta::rules))
        .route("/events", get(super::sse::events));
    Router::new()
        .nest("/v1", v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            audit_refusals,
        ))
        .layer(DefaultBodyLimit::max(super::BODY_LIMIT))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this route does not take that method",
    )
}

/// Every refused mutation goes to the audit log too, with the agent when the token is valid.
async fn audit_refusals(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let (parts, body) = request.into_parts();
    let token = bearer_token(&parts).map(str::to_string);
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    if method != Method::GET
        && method != Method::HEAD
        && (status.is_client_error() || status.is_server_error())
    {
        let agent = match &token {
            Some(t) => state
                .store
                .authenticate(t)
                .await
                .ok()
                .flatten()
                .map(|a| a.agent.id),
            None => None,
        };
        let action = format!("{} {}", method, path);
        if let Err(e) = state
            .store
            .audit(agent.as_deref(), &action, &path, "refused", status.as_str())
            .await
        {
            tracing::warn!(error = %e, "cannot audit a refused request");
        }
    }
    response
}

/// Opaque keyset cursor: `<micros>.<id>`.
pub(crate) fn encode_cursor(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("{}.{}", at.timestamp_micros(), id)
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::bad_request("the cursor is not one this server gave out");
    let (at, id) = cursor.split_once('.').ok_or_else(bad)?;
    let at: i64 = at.parse().map_err(|_| bad())?;
    if id.is_empty() || id.len() > 64 {
        return Err(bad());
    }
    Ok((at, id.to_string()))
}

/// Cuts a page fetched with one extra row back to `limit` and makes the cursor for the next.
pub(crate) fn trim_page<T>(
    items: &mut Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> String,
) -> Option<String> {
    if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(cursor)
    } else {
        None
    }
}

/// Page size: default 50, at most 500.
pub(crate) fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_request("limit must be between 1 and 500")),
    }
}
