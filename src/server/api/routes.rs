//! The route table ([`ROUTES`]), the documented router made from it, and the OpenAPI document
//! that router describes, with the handler of `GET /v1/openapi.json` that serves it. The handler
//! is here, not with the other meta handlers, because the document is built from the table that
//! lists it: anywhere else, the two files would import each other.

use super::{customers, events, feedback, intake, meta, metrics, openapi, org, replies};
use crate::server::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::Json;
use std::sync::OnceLock;
use utoipa::openapi::OpenApi;
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
    route!(GET "/v1/openapi.json" => openapi),
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
    route!(GET "/v1/events" => events::events),
];

/// The routes of [`ROUTES`] with their documentation: the router that serves them and the
/// OpenAPI document that describes them come out of this one value.
pub(crate) fn documented_routes() -> OpenApiRouter<AppState> {
    ROUTES.iter().fold(
        OpenApiRouter::with_openapi(openapi::base()),
        |router, route| router.routes(route.documented()),
    )
}

/// The complete document, built once from the router's routes.
pub fn document() -> &'static OpenApi {
    static DOCUMENT: OnceLock<OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_router, mut doc) = documented_routes().split_for_parts();
        openapi::complete(&mut doc);
        doc
    })
}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta",
    summary = "This document, generated from the router (no token)",
    security(()),
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object)))]
pub async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(document())
}
