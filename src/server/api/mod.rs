//! The HTTP API, versioned under `/v1` (DESIGN.md §3).

mod customers;
mod feedback;
mod meta;
mod metrics;
pub mod openapi;
mod org;
mod replies;

use super::audit::{Caller, Refusal};
use super::error::ApiError;
use super::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::Router;

/// One route of the API. The router is built from [`ROUTES`], so that tests can walk every
/// route (an authorization case for each, say) and a new route cannot be missed by them.
pub struct Route {
    pub method: Method,
    /// The path under `/v1`, with `{id}` for a path parameter.
    pub path: &'static str,
    handler: fn() -> MethodRouter<AppState>,
}

impl Route {
    pub fn full_path(&self) -> String {
        format!("/v1{}", self.path)
    }
}

macro_rules! route {
    ($method:ident $path:literal => $via:ident($handler:path)) => {
        Route {
            method: Method::$method,
            path: $path,
            handler: || $via($handler),
        }
    };
}

pub static ROUTES: &[Route] = &[
    route!(GET "/health" => get(meta::health)),
    route!(GET "/openapi.json" => get(meta::openapi)),
    route!(GET "/me" => get(meta::me)),
    route!(PATCH "/me" => patch(org::patch_me)),
    route!(GET "/agents" => get(meta::agents)),
    route!(PATCH "/agents/{id}" => patch(org::patch_agent)),
    route!(GET "/departments" => get(meta::departments)),
    route!(POST "/departments" => post(org::create_department)),
    route!(GET "/audit" => get(org::audit)),
    route!(GET "/feedback" => get(feedback::list)),
    route!(POST "/feedback" => post(feedback::create)),
    route!(GET "/feedback/{id}" => get(feedback::detail)),
    route!(PATCH "/feedback/{id}" => patch(feedback::patch)),
    route!(POST "/feedback/{id}/replies" => post(feedback::reply)),
    route!(POST "/feedback/{id}/presence" => post(feedback::presence)),
    route!(POST "/replies" => post(replies::bulk)),
    route!(GET "/messages/{id}/attempts" => get(replies::attempts)),
    route!(GET "/customers" => get(customers::search)),
    route!(POST "/customers" => post(customers::create)),
    Route {
        method: Method::POST,
        path: "/customers/import",
        // Files are bigger than the other bodies.
        handler: || {
            post(customers::import).layer(DefaultBodyLimit::max(customers::IMPORT_BODY_LIMIT))
        },
    },
    route!(GET "/customers/{id}" => get(customers::profile)),
    route!(PATCH "/customers/{id}" => patch(customers::patch)),
    route!(POST "/customers/{id}/merge" => post(customers::merge)),
    route!(GET "/customers/{id}/history" => get(customers::history)),
    route!(GET "/customers/{id}/transactions" => get(customers::transactions)),
    route!(POST "/identities/{id}/link" => post(customers::link)),
    route!(DELETE "/identities/{id}/link" => delete(customers::unlink)),
    route!(GET "/identities/{id}/matches" => get(customers::matches)),
    route!(GET "/rules" => get(meta::rules)),
    route!(GET "/triage/model" => get(meta::triage_model)),
    route!(GET "/metrics/summary" => get(metrics::summary)),
    route!(GET "/events" => get(super::sse::events)),
];

pub fn router(state: AppState) -> Router {
    let mut v1 = Router::new();
    for route in ROUTES {
        v1 = v1.route(route.path, (route.handler)());
    }
    let v1 = v1
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            audit_refusals,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            super::telemetry::record,
        ));
    Router::new()
        .nest("/v1", v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), refuse_nul))
        .layer(DefaultBodyLimit::max(super::BODY_LIMIT))
        .with_state(state)
}

async fn not_found(State(state): State<AppState>, method: Method) -> ApiError {
    let e = ApiError::not_found("no such route");
    count_unrouted(&state, &method, e.status);
    record_unrouted(&state, &method, e.status).await;
    e
}

async fn method_not_allowed(State(state): State<AppState>, method: Method) -> ApiError {
    let e = ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this route does not take that method",
    );
    count_unrouted(&state, &method, e.status);
    record_unrouted(&state, &method, e.status).await;
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
    let target = request
        .uri()
        .path()
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
