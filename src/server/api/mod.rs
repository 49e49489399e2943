//! The HTTP API, versioned under `/v1` (DESIGN.md §3).

mod customers;
mod events;
mod feedback;
pub mod grammar;
mod idempotent;
mod intake;
mod meta;
mod metrics;
pub mod openapi;
mod org;
mod paging;
mod replies;
mod routes;

pub use routes::{Route, ROUTES};

/// Largest request body accepted; larger ones get 413 problem+json.
pub const BODY_LIMIT: usize = 256 * 1024;

use super::audit::{Caller, Refusal};
use super::error::ApiError;
use super::state::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub fn router(state: AppState) -> Router {
    let (routes, _document) = routes::documented_routes().split_for_parts();
    let routes = routes
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            audit_refusals,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.telemetry.clone(),
            super::telemetry::record,
        ));
    let shed = super::overload::ShedLayer::new(state.in_flight.clone(), state.telemetry.clone());
    Router::new()
        .merge(routes)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), refuse_nul))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Outermost, so that a shed request costs no more than its refusal (it counts its
        // 503 in the request metrics itself).
        .layer(shed)
        .with_state(state)
}

async fn not_found(State(state): State<AppState>, method: Method) -> ApiError {
    let e = ApiError::not_found("no such route");
    count_unrouted(&state, &method, e.status());
    record_unrouted(&state, &method, e.status()).await;
    e
}

async fn method_not_allowed(State(state): State<AppState>, method: Method) -> ApiError {
    let e = ApiError::new(
        super::error::ProblemType::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    );
    count_unrouted(&state, &method, e.status());
    record_unrouted(&state, &method, e.status()).await;
    e
}

/// A request that matched no route is counted under one label (its path is the caller's bytes).
fn count_unrouted(state: &AppState, method: &Method, status: axum::http::StatusCode) {
    state.telemetry.observe(
        super::audit::method_label(method),
        "(no route)",
        status,
        std::time::Instant::now(),
    );
}

/// A mutation that matched no route is counted, never written verbatim (its path is the
/// caller's bytes).
async fn record_unrouted(state: &AppState, method: &Method, status: axum::http::StatusCode) {
    if is_mutation(method) {
        state
            .refusals
            .record(Refusal {
                agent: None,
                method,
                route: "(no route)",
                target: "",
                status,
            })
            .await;
    }
}

fn is_mutation(method: &Method) -> bool {
    method != Method::GET && method != Method::HEAD
}

/// Every refused mutation goes to the bounded refusal audit (see [`super::audit`]), with the
/// agent when the `Auth` extractor found the token valid.
async fn audit_refusals(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(no route)".to_string());
    // As when the routes were nested under `/v1` (which axum strips from the path they see):
    // the third segment after it, the refusal audit's `object` (tests/org_setup.rs).
    let path = request.uri().path();
    let target = path
        .strip_prefix("/v1")
        .unwrap_or(path)
        .split('/')
        .nth(3)
        .unwrap_or_default()
        .to_string();
    let caller = Caller::default();
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    let status = response.status();
    if is_mutation(&method) && (status.is_client_error() || status.is_server_error()) {
        state
            .refusals
            .record(Refusal {
                agent: caller.get(),
                method: &method,
                route: &route,
                target: &target,
                status,
            })
            .await;
    }
    response
}

/// A NUL character can be stored by no database here (PostgreSQL refuses it in text), so it is
/// refused as bad input wherever it can arrive: in the path or the query string (JSON bodies are
/// checked by [`ApiJson`](super::auth::ApiJson)).
async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let decoded_nul = |s: &str| percent_decoded(s).contains(&0);
    if decoded_nul(uri.path()) || uri.query().is_some_and(decoded_nul) {
        return ApiError::bad_request("the path or query string contains a NUL character")
            .into_response();
    }
    next.run(request).await
}

fn percent_decoded(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}
