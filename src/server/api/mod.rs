//! The HTTP API, versioned under `/v1` (DESIGN.md §3).

mod customers;
mod feedback;
pub mod grammar;
mod intake;
mod meta;
mod metrics;
pub mod openapi;
mod org;
mod replies;

use super::audit::{Caller, Refusal};
use super::error::{ApiError, ApiResult};
use super::service::reply;
use super::AppState;
use crate::domain::Feedback;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

/// One route of the API. The router and the OpenAPI document are both built from [`ROUTES`],
/// the router from the handler's `#[utoipa::path]` (its method and path included), so a route
/// cannot exist undocumented; tests walk [`ROUTES`] (an authorization case for each, and a
/// check that `method` and `path` here are those of the handler's documentation).
pub struct Route {
    pub method: Method,
    /// The full path, with `{id}` for a path parameter (`/v1/feedback/{id}`).
    pub path: &'static str,
    handler: fn() -> UtoipaMethodRouter<AppState>,
}

impl Route {
    pub fn full_path(&self) -> String {
        self.path.to_string()
    }

    /// The route's documentation and its method router, as `utoipa_axum` makes them from the
    /// handler's `#[utoipa::path]`.
    pub fn documented(&self) -> UtoipaMethodRouter<AppState> {
        (self.handler)()
    }
}

/// `route!(GET "/v1/x/{id}" => module::handler)`, optionally followed by `, layer = <a tower
/// layer>` for the route alone.
macro_rules! route {
    ($method:ident $path:literal => $($handler:ident)::+ $(, layer = $layer:expr)?) => {
        Route {
            method: Method::$method,
            path: $path,
            handler: || {
                #[allow(unused_mut)]
                let mut documented: UtoipaMethodRouter<AppState> =
                    utoipa_axum::routes!($($handler)::+);
                $(documented.2 = documented.2.layer($layer);)?
                documented
            },
        }
    };
}

/// Every route of the server. Adding one is a change here and at its handler:
/// 1. annotate the handler with `#[utoipa::path(METHOD, path = "/v1/...", params(...),
///    request_body = ..., responses(...))]`: its success statuses and bodies, and the refusals
///    particular to it (403, 404, 409, 412, 422...) with a description; the refusals every route
///    of its kind shares (401 and 429 for a token, 400 for a path, query or body, 413, 415 and
///    422 for a body, 500 and 503) are added by [`openapi::common_responses`], and the
///    problem+json body of every refusal by [`openapi::problem_bodies`]. A value whose shape
///    JSON Schema can state exactly (a cursor, a header) gets its pattern from [`grammar`],
///    which the server checks with too. A public route says `security(())`.
/// 2. add `route!(METHOD "/v1/..." => module::handler)` below (same method and path: the test
///    `openapi::tests::routes_are_their_documentation` fails otherwise).
/// 3. give it its cases in `tests/server_authz.rs`, which walks this table.
///
/// A route outside `/v1` (a Prometheus `/metrics`, say) is listed the same way.
pub static ROUTES: &[Route] = &[
    route!(GET "/v1/health" => meta::health),
    route!(GET "/v1/openapi.json" => meta::openapi),
    route!(GET "/v1/me" => meta::me),
    route!(PATCH "/v1/me" => org::patch_me),
    route!(GET "/v1/agents" => meta::agents),
    route!(PATCH "/v1/agents/{id}" => org::patch_agent),
    route!(GET "/v1/departments" => meta::departments),
    route!(POST "/v1/departments" => org::create_department),
    route!(GET "/v1/audit" => org::audit),
    route!(GET "/v1/feedback" => feedback::list),
    route!(POST "/v1/feedback" => feedback::create),
    route!(GET "/v1/feedback/{id}" => feedback::detail),
    route!(PATCH "/v1/feedback/{id}" => feedback::patch),
    route!(POST "/v1/feedback/{id}/replies" => feedback::reply),
    route!(POST "/v1/feedback/{id}/presence" => feedback::presence),
    route!(POST "/v1/intake/{source}" => intake::receive),
    route!(POST "/v1/replies" => replies::bulk),
    route!(GET "/v1/messages/{id}/attempts" => replies::attempts),
    route!(GET "/v1/customers" => customers::search),
    route!(POST "/v1/customers" => customers::create),
    // Files are bigger than the other bodies.
    route!(POST "/v1/customers/import" => customers::import,
        layer = DefaultBodyLimit::max(customers::IMPORT_BODY_LIMIT)),
    route!(GET "/v1/customers/{id}" => customers::profile),
    route!(PATCH "/v1/customers/{id}" => customers::patch),
    route!(POST "/v1/customers/{id}/merge" => customers::merge),
    route!(GET "/v1/customers/{id}/history" => customers::history),
    route!(GET "/v1/customers/{id}/transactions" => customers::transactions),
    route!(POST "/v1/identities/{id}/link" => customers::link),
    route!(DELETE "/v1/identities/{id}/link" => customers::unlink),
    route!(GET "/v1/identities/{id}/matches" => customers::matches),
    route!(GET "/v1/rules" => meta::rules),
    route!(GET "/v1/triage/model" => meta::triage_model),
    route!(GET "/v1/metrics/summary" => metrics::summary),
    route!(GET "/v1/events" => super::sse::events),
];

/// The routes of [`ROUTES`] with their documentation: the router that serves them and the
/// OpenAPI document that describes them come out of this one value.
pub(crate) fn documented_routes() -> OpenApiRouter<AppState> {
    ROUTES.iter().fold(
        OpenApiRouter::with_openapi(openapi::base()),
        |router, route| router.routes(route.documented()),
    )
}

pub fn router(state: AppState) -> Router {
    let (routes, _document) = documented_routes().split_for_parts();
    let routes = routes
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            audit_refusals,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            super::telemetry::record,
        ));
    let shed = super::overload::ShedLayer::new(state.in_flight.clone(), state.telemetry.clone());
    Router::new()
        .merge(routes)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), refuse_nul))
        .layer(DefaultBodyLimit::max(super::BODY_LIMIT))
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

/// Opaque keyset cursor: `<micros>.<id>`.
pub(crate) fn encode_cursor(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("{}.{}", at.timestamp_micros(), id)
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::bad_request_at("/cursor", "the cursor is not one this server gave out");
    if !grammar::is_cursor(cursor) {
        return Err(bad());
    }
    let (at, id) = cursor.split_once('.').ok_or_else(bad)?;
    let at: i64 = at.parse().map_err(|_| bad())?;
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
        Some(_) => Err(ApiError::bad_request_at(
            "/limit",
            "limit must be between 1 and 500",
        )),
    }
}

/// 201 with `Location` for a new item, 200 with the stored item for a repeat (a retry of the
/// same external id or webhook id); `POST /v1/intake/{source}` answers the same way.
pub(crate) fn created_or_repeated(feedback: Feedback, created: bool) -> Response {
    if !created {
        return (StatusCode::OK, Json(feedback)).into_response();
    }
    let location = HeaderValue::from_str(&format!("/v1/feedback/{}", feedback.id));
    let mut response = (StatusCode::CREATED, Json(feedback)).into_response();
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The `Idempotency-Key` of a reply request (one item's or a bulk one's).
pub(crate) fn idempotency_key(headers: &HeaderMap) -> ApiResult<String> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| ApiError::bad_request("send an Idempotency-Key header with every reply"))?;
    match key.to_str() {
        Ok(key) if grammar::is_idempotency_key(key) => Ok(key.to_string()),
        _ => Err(ApiError::bad_request(
            "Idempotency-Key is 1 to 255 printable ASCII characters, not starting or ending with a space or a quote",
        )),
    }
}

/// 201 for a reply delivered now, 200 for the stored result of an earlier request.
pub(crate) fn delivered_status(delivered: &reply::Delivered) -> StatusCode {
    if delivered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}
