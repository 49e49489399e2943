//! The OpenAPI 3.1 document of the API, served at `/v1/openapi.json`. It is generated from the
//! router itself: every route of [`super::ROUTES`] is documented by its handler's
//! `#[utoipa::path]` (see [`super::routes::document`]), and the schemas are the shared domain
//! types (utoipa derives). Two passes then add what follows from the shape of each operation
//! rather than from its handler: [`common_responses`] (the refusals of the extractors every
//! route of a kind uses) and [`problem_bodies`] (the problem+json body of every refusal, with
//! the problem types that status is answered with).

use crate::domain::api::{Problem, ProblemField};
use crate::server::error::ProblemType;
use axum::http::StatusCode;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi as _};

/// The security scheme every route but the public ones requires.
pub const BEARER: &str = "bearer"; // named so in `ApiDoc` too

/// What is the same for every route: the title, the bearer scheme (required by default; a
/// public route says `security(())`), and schemas that no route names but events carry.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Earshot reference CRM API",
        description = "Social-CRM intake, routing, profiles, replies and the live event stream. \
            Every refusal is an RFC 9457 problem (application/problem+json) whose `type` is \
            answered with one status only."
    ),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    components(schemas(
        Problem,
        ProblemField,
        crate::domain::Event,
        crate::domain::EventName,
        crate::domain::api::Presence,
        crate::domain::api::StreamReset,
        // named by query parameters (IntoParams does not collect schemas)
        crate::server::customer_data::ImportKind,
        crate::server::customer_data::ImportFormat,
        crate::domain::FeedbackStatus,
        crate::domain::Channel,
    ))
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An agent's token (`earshot agent add` prints one; the demo's are \
                         es_demo_alice, es_demo_bilal, es_demo_farah, es_demo_sam)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document before any route is added.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// What is added to the document the routes make (see `routes::document`, which builds it
/// once): operation ids, the grammar's patterns, file bodies, the shared refusals and their
/// problem+json bodies.
pub(super) fn complete(doc: &mut OpenApi) {
    operation_ids(doc);
    super::grammar::apply(doc);
    raw_bodies(doc);
    common_responses(doc);
    problem_bodies(doc);
}

/// Every operation of the document, with its path.
fn operations(doc: &mut OpenApi) -> impl Iterator<Item = (&String, &mut Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .filter_map(move |op| op.as_mut().map(|op| (path, op)))
    })
}

/// Operation ids are the handler's name, which repeats across modules (`list`, `create`,
/// `patch`): each is prefixed with its tag (`feedback_list`, `customers_create`) to be unique.
fn operation_ids(doc: &mut OpenApi) {
    for (_, op) in operations(doc) {
        if let (Some(id), Some(tag)) = (&op.operation_id, op.tags.as_ref().and_then(|t| t.first()))
        {
            op.operation_id = Some(format!("{tag}_{id}"));
        }
    }
}

/// A body that is a file (an import) is whatever bytes the file holds: its schema is empty, not
/// `type: string` (a JSON object sent as text/csv is a file too, one the import reports on).
fn raw_bodies(doc: &mut OpenApi) {
    for (_, op) in operations(doc) {
        let Some(body) = op.request_body.as_mut() else {
            continue;
        };
        for (media, content) in body.content.iter_mut() {
            if !media.contains("json") || media == "application/jsonl" {
                content.schema = Some(RefOr::T(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
                        .build(),
                )));
            }
        }
    }
}

/// Whether the operation needs a token: it inherits the document's bearer requirement, or
/// names a non-empty one (a public route says `security(())`, an empty requirement).
fn needs_token(op: &Operation) -> bool {
    match &op.security {
        None => true,
        Some(reqs) => reqs
            .iter()
            .any(|r| serde_json::to_value(r).is_ok_and(|v| v != serde_json::json!({}))),
    }
}

fn has_parameter(op: &Operation, place: ParameterIn) -> bool {
    op.parameters
        .as_ref()
        .is_some_and(|ps| ps.iter().any(|p| p.parameter_in == place))
}

/// The refusals that follow from what an operation takes, not from its handler: a token
/// (`Auth`: 401, 429, and the store behind it: 500, 503), a path id (`ApiPath`: 400), a query
/// (`ApiQuery`: 400), a JSON body (`ApiJson`: 400, 413, 415, 422).
pub fn common_responses(doc: &mut OpenApi) {
    for (_, op) in operations(doc) {
        let mut add: Vec<(StatusCode, &str)> = Vec::new();
        if needs_token(op) {
            add.push((
                StatusCode::UNAUTHORIZED,
                "no token, or one that is unknown, expired or revoked",
            ));
            add.push((
                StatusCode::TOO_MANY_REQUESTS,
                "the token is over its request rate",
            ));
            add.push((StatusCode::INTERNAL_SERVER_ERROR, "corrupt stored data"));
            add.push((
                StatusCode::SERVICE_UNAVAILABLE,
                "the store cannot answer now; retry after Retry-After seconds",
            ));
        }
        if has_parameter(op, ParameterIn::Path) {
            add.push((
                StatusCode::BAD_REQUEST,
                "a path id that is too long or not percent-encoded UTF-8",
            ));
            add.push((
                StatusCode::NOT_FOUND,
                "no such object, or one of another department",
            ));
        }
        if has_parameter(op, ParameterIn::Query) {
            add.push((
                StatusCode::BAD_REQUEST,
                "a query parameter that is unknown or of the wrong type",
            ));
        }
        if op.request_body.is_some() {
            add.push((StatusCode::BAD_REQUEST, "a body that is not JSON"));
            add.push((StatusCode::PAYLOAD_TOO_LARGE, "a body over the limit"));
            add.push((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a body that is not sent as JSON",
            ));
            add.push((
                StatusCode::UNPROCESSABLE_ENTITY,
                "JSON of the wrong shape, with a pointer to the field",
            ));
        }
        for (status, why) in add {
            let responses = &mut op.responses.responses;
            let key = status.as_u16().to_string();
            match responses.get_mut(&key) {
                Some(RefOr::T(r)) if !r.description.contains(why) => {
                    r.description = format!("{}; {why}", r.description);
                }
                Some(_) => {}
                None => {
                    responses.insert(key, RefOr::T(Response::new(why)));
                }
            }
        }
    }
}

/// The schema of a problem answered with `status`: a [`Problem`] whose `type` is one of the
/// problem types of that status, and whose `status` is that status.
fn problem_schema(status: StatusCode) -> Schema {
    let types: Vec<String> = ProblemType::with_status(status).map(|t| t.uri()).collect();
    let narrowed = ObjectBuilder::new()
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(types)),
        )
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([status.as_u16()])),
        );
    Schema::AllOf(
        utoipa::openapi::schema::AllOfBuilder::new()
            .item(Ref::from_schema_name("Problem"))
            .item(narrowed)
            .build(),
    )
}

/// Gives every refusal of the document its problem+json body (one schema per status,
/// `Problem<status>`, listing the problem types), and the headers that go with it:
/// `WWW-Authenticate` on 401, `Retry-After` on 429 and 503.
pub fn problem_bodies(doc: &mut OpenApi) {
    let mut statuses = std::collections::BTreeSet::new();
    for (_, op) in operations(doc) {
        for (key, response) in op.responses.responses.iter_mut() {
            let Some(status) = key.parse().ok().and_then(|s| StatusCode::from_u16(s).ok()) else {
                continue;
            };
            let RefOr::T(response) = response else {
                continue;
            };
            if !(status.is_client_error() || status.is_server_error()) {
                continue;
            }
            statuses.insert(status);
            let types: Vec<&str> = ProblemType::with_status(status).map(|t| t.slug).collect();
            response.description = format!(
                "{} (problem types: {})",
                response.description,
                types.join(", ")
            );
            response.content.insert(
                "application/problem+json".to_string(),
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(format!(
                        "Problem{}",
                        status.as_u16()
                    ))))
                    .build(),
            );
            let header = |desc: &str, ty: Type| {
                let mut h =
                    utoipa::openapi::header::Header::new(ObjectBuilder::new().schema_type(ty));
                h.description = Some(desc.to_string());
                h
            };
            match status {
                StatusCode::UNAUTHORIZED => {
                    response.headers.insert(
                        "WWW-Authenticate".to_string(),
                        header(
                            "`Bearer`, or `Bearer error=\"invalid_token\"` when the token sent is not valid",
                            Type::String,
                        ),
                    );
                }
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                    response.headers.insert(
                        "Retry-After".to_string(),
                        header("seconds to wait before retrying", Type::Integer),
                    );
                }
                _ => {}
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for status in statuses {
        components.schemas.insert(
            format!("Problem{}", status.as_u16()),
            RefOr::T(problem_schema(status)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::routes::document;
    use super::super::ROUTES;
    use super::*;
    use crate::server::error::ApiError;
    use std::collections::BTreeSet;

    fn methods_of(item: &utoipa::openapi::PathItem) -> Vec<&'static str> {
        [
            ("GET", item.get.is_some()),
            ("PUT", item.put.is_some()),
            ("POST", item.post.is_some()),
            ("DELETE", item.delete.is_some()),
            ("OPTIONS", item.options.is_some()),
            ("HEAD", item.head.is_some()),
            ("PATCH", item.patch.is_some()),
            ("TRACE", item.trace.is_some()),
        ]
        .into_iter()
        .filter_map(|(m, present)| present.then_some(m))
        .collect()
    }

    /// Each route of the table is what its handler documents (the router serves the handler
    /// at the documented method and path), and the document holds those routes and no others.
    #[test]
    fn routes_are_their_documentation() {
        let mut table = BTreeSet::new();
        for route in ROUTES {
            let (_, paths, _) = route.documented();
            let documented: Vec<(String, Vec<&str>)> = paths
                .paths
                .iter()
                .map(|(p, item)| (p.clone(), methods_of(item)))
                .collect();
            assert_eq!(
                documented,
                vec![(route.path.to_string(), vec![route.method.as_str()])],
                "ROUTES says {} {}, its handler documents otherwise",
                route.method,
                route.path
            );
            assert!(
                table.insert((route.path.to_string(), route.method.to_string())),
                "{} {} is listed twice",
                route.method,
                route.path
            );
        }
        let in_document: BTreeSet<(String, String)> = document()
            .paths
            .paths
            .iter()
            .flat_map(|(p, item)| {
                methods_of(item)
                    .into_iter()
                    .map(|m| (p.clone(), m.to_string()))
            })
            .collect();
        assert_eq!(in_document, table);
    }

    /// Every operation names its tag, an id of its own, and at least one success.
    #[test]
    fn every_operation_is_described() {
        let mut doc = document().clone();
        let mut ids = BTreeSet::new();
        for (path, op) in operations(&mut doc) {
            let id = op.operation_id.clone().unwrap_or_default();
            assert!(ids.insert(id.clone()), "{path}: operation id {id} repeats");
            assert!(op.summary.is_some(), "{path} {id}: no summary");
            assert!(
                op.responses.responses.keys().any(|k| k.starts_with('2')),
                "{path} {id}: no success documented"
            );
            if needs_token(op) {
                assert!(op.responses.responses.contains_key("401"), "{path} {id}");
            }
        }
    }

    /// The same problem type is always answered with the same status, and the document lists
    /// under each status exactly the problem types answered with it.
    #[test]
    fn problem_types_have_one_status_each() {
        let slugs: BTreeSet<&str> = ProblemType::ALL.iter().map(|t| t.slug).collect();
        assert_eq!(slugs.len(), ProblemType::ALL.len(), "a slug is used twice");
        let schemas = &document().components.as_ref().unwrap().schemas;
        for t in ProblemType::ALL {
            assert!(
                t.status.is_client_error() || t.status.is_server_error(),
                "{t:?}"
            );
            let problem = ApiError::new(*t, "detail").to_problem();
            assert_eq!(problem.status, t.status.as_u16());
            assert_eq!(problem.kind, t.uri());
            assert_eq!(problem.title, t.title);
            let Some(schema) = schemas.get(&format!("Problem{}", t.status.as_u16())) else {
                // A status no operation documents is one answered outside the routes (405 from
                // the router, 408 from the listener): still one status per type.
                assert!(
                    [StatusCode::METHOD_NOT_ALLOWED, StatusCode::REQUEST_TIMEOUT]
                        .contains(&t.status),
                    "{t:?} is not documented"
                );
                continue;
            };
            let listed = serde_json::to_value(schema).unwrap()["allOf"][1]["properties"]["type"]
                ["enum"]
                .clone();
            let expected: Vec<String> = ProblemType::with_status(t.status)
                .map(|t| t.uri())
                .collect();
            assert_eq!(listed, serde_json::json!(expected));
        }
    }

    /// Enums are documented as they are on the wire (their serde names), not as Rust names them.
    #[test]
    fn enums_are_documented_by_their_wire_names() {
        use crate::domain::*;
        let schemas = &document().components.as_ref().unwrap().schemas;
        macro_rules! check {
            ($($ty:ident),+) => {$(
                let documented = serde_json::to_value(&schemas[stringify!($ty)]).unwrap();
                let wire: Vec<serde_json::Value> = $ty::ALL
                    .iter()
                    .map(|v| serde_json::to_value(v).unwrap())
                    .collect();
                assert_eq!(documented["enum"], serde_json::Value::Array(wire), stringify!($ty));
            )+};
        }
        check!(
            Channel,
            Origin,
            Visibility,
            SentimentLabel,
            FeedbackKind,
            UrgencyCue,
            FeedbackStatus,
            Priority,
            Direction,
            DeliveryStatus,
            AgentRole,
            Scope,
            Availability,
            CustomerRole,
            TransactionKind,
            PresenceState,
            EventName,
            HistoryKind
        );
        let import = serde_json::to_value(&schemas["ImportKind"]).unwrap();
        assert_eq!(
            import["enum"],
            serde_json::json!(["customers", "transactions"])
        );
    }

    #[test]
    fn the_bearer_scheme_is_required_except_on_public_routes() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(
            doc["components"]["securitySchemes"][BEARER]["scheme"],
            "bearer"
        );
        assert_eq!(doc["security"], serde_json::json!([{ BEARER: [] }]));
        for public in ["/v1/health", "/v1/openapi.json"] {
            assert_eq!(
                doc["paths"][public]["get"]["security"],
                serde_json::json!([{}]),
                "{public}"
            );
            assert!(doc["paths"][public]["get"]["responses"]["401"].is_null());
        }
        assert_eq!(
            doc["paths"]["/v1/feedback/{id}/presence"]["post"]["responses"]["204"]["description"],
            "published"
        );
        assert!(doc["paths"]["/v1/departments"]["post"]["responses"]["201"].is_object());
    }
}
