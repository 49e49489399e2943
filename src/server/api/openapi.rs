//! The OpenAPI 3.1 document of the API, generated from the shared domain types (utoipa), so that
//! other clients and API testing tools can use it.

use crate::domain::api::*;
use crate::domain::*;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::{ContentBuilder, OpenApi, PathsBuilder, ResponseBuilder};
use utoipa::OpenApi as _;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Earshot reference CRM API",
        description = "Social-CRM intake, routing, profiles, replies and the live event stream."
    ),
    components(schemas(
        Feedback,
        FeedbackDetail,
        NewFeedback,
        FeedbackPatch,
        NewReply,
        NewBulkReply,
        BulkReplyResults,
        BulkItemResult,
        DeliveryAttempt,
        Reply,
        ReplyPart,
        Override,
        Message,
        Customer,
        Identity,
        Transaction,
        HistoryEntry,
        Agent,
        Department,
        Me,
        Presence,
        PresenceUpdate,
        LinkIdentity,
        Problem,
        ProblemField,
        Event,
        StreamReset,
        Money,
        Preferences,
        Consents
    ))
)]
struct ApiDoc;

/// (method, path, summary, response schema)
const ROUTES: &[(HttpMethod, &str, &str, &str)] = &[
    (HttpMethod::Get, "/v1/health", "Liveness (no auth)", ""),
    (HttpMethod::Get, "/v1/openapi.json", "This document", ""),
    (
        HttpMethod::Get,
        "/v1/me",
        "The calling agent, departments and scopes",
        "Me",
    ),
    (HttpMethod::Get, "/v1/agents", "Agents", ""),
    (HttpMethod::Get, "/v1/departments", "Departments", ""),
    (
        HttpMethod::Get,
        "/v1/triage/model",
        "The organisation's triage model: corrections learned, prequential accuracy (supervisors, admins)",
        "",
    ),
    (
        HttpMethod::Get,
        "/v1/feedback",
        "The queue: status, assignee=me|unassigned|any, department, channel, q, limit, cursor",
        "",
    ),
    (
        HttpMethod::Post,
        "/v1/feedback",
        "Intake: offline feedback or a listening tool's webhook (body NewFeedback)",
        "Feedback",
    ),
    (
        HttpMethod::Get,
        "/v1/feedback/{id}",
        "One item with its thread",
        "FeedbackDetail",
    ),
    (
        HttpMethod::Patch,
        "/v1/feedback/{id}",
        "Assign, reroute, change status (body FeedbackPatch, If-Match required)",
        "Feedback",
    ),
    (
        HttpMethod::Post,
        "/v1/feedback/{id}/replies",
        "Deliver a reply (body NewReply, Idempotency-Key required); 409 stale-thread when base_message_id is not the newest message",
        "Reply",
    ),
    (
        HttpMethod::Post,
        "/v1/replies",
        "One reply to many items (body NewBulkReply, Idempotency-Key required); one result per item",
        "BulkReplyResults",
    ),
    (
        HttpMethod::Get,
        "/v1/messages/{id}/attempts",
        "Delivery attempts of an outbound message (webhook status or error, duration)",
        "",
    ),
    (
        HttpMethod::Post,
        "/v1/feedback/{id}/presence",
        "Viewing / composing (body PresenceUpdate)",
        "",
    ),
    (
        HttpMethod::Get,
        "/v1/customers",
        "Search customers by name, email or phone (q)",
        "",
    ),
    (HttpMethod::Get, "/v1/customers/{id}", "Profile", "Customer"),
    (
        HttpMethod::Get,
        "/v1/customers/{id}/history",
        "Timeline of interactions",
        "",
    ),
    (
        HttpMethod::Get,
        "/v1/customers/{id}/transactions",
        "Orders, refunds, subscriptions",
        "",
    ),
    (
        HttpMethod::Post,
        "/v1/identities/{id}/link",
        "Link a social identity to a customer (body LinkIdentity)",
        "Identity",
    ),
    (HttpMethod::Get, "/v1/rules", "The rulebook in force", ""),
    (
        HttpMethod::Get,
        "/v1/events",
        "Server-sent events; resume with Last-Event-ID",
        "",
    ),
];

pub fn document() -> OpenApi {
    let mut doc = ApiDoc::openapi();
    let mut paths = PathsBuilder::new();
    for (method, path, summary, schema) in ROUTES {
        let mut ok = ResponseBuilder::new().description("success");
        if !schema.is_empty() {
            let content = ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name(*schema)))
                .build();
            ok = ok.content("application/json", content);
        }
        let problem = ResponseBuilder::new()
            .description("RFC 9457 problem details")
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                    .build(),
            );
        let op = OperationBuilder::new()
            .summary(Some(*summary))
            .response("200", ok)
            .response("4XX", problem)
            .build();
        paths = paths.path(*path, PathItem::new(method.clone(), op));
    }
    doc.paths = paths.build();
    doc
}
