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
        crate::domain::thread::MessageAuthor,
        crate::domain::thread::Participant,
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
        AgentPatch,
        Availability,
        AuditEntry,
        Department,
        NewDepartment,
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
        Consents,
        CustomerFields,
        ConsentsPatch,
        ImportReport,
        ImportProblem,
        IdentityMatches,
        MatchCandidate,
        MergeCustomers,
        MergeResult,
        MergeConflict,
        MergeMoved
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
    (
        HttpMethod::Patch,
        "/v1/me",
        "Set the caller's availability (body AgentPatch): away agents get no new items",
        "Agent",
    ),
    (HttpMethod::Get, "/v1/agents", "Agents, with their availability", ""),
    (
        HttpMethod::Patch,
        "/v1/agents/{id}",
        "Set an agent's availability (body AgentPatch; admin, or a supervisor of the agent's department)",
        "Agent",
    ),
    (HttpMethod::Get, "/v1/departments", "Departments", ""),
    (
        HttpMethod::Post,
        "/v1/departments",
        "Create a department (body NewDepartment; admin); 409 for a taken id, 422 for a malformed one",
        "Department",
    ),
    (
        HttpMethod::Get,
        "/v1/audit",
        "The audit log, newest first (supervisors: their departments; admins: all): actor, action (prefix), object, since, until, limit, cursor",
        "",
    ),
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
        "One item with its thread, each message's author and the thread's participants with their roles",
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
    (
        HttpMethod::Post,
        "/v1/customers",
        "Create a customer (body CustomerFields; supervisor or admin); 201",
        "Customer",
    ),
    (
        HttpMethod::Post,
        "/v1/customers/import",
        "Import customers or transactions (admin): kind=customers|transactions, format=csv|jsonl or Content-Type text/csv | application/jsonl; the file is the body",
        "ImportReport",
    ),
    (HttpMethod::Get, "/v1/customers/{id}", "Profile", "Customer"),
    (
        HttpMethod::Patch,
        "/v1/customers/{id}",
        "Change a customer's fields (body CustomerFields; supervisor or admin)",
        "Customer",
    ),
    (
        HttpMethod::Post,
        "/v1/customers/{id}/merge",
        "Merge another customer into this one (body MergeCustomers; supervisor or admin); the other id is retired",
        "MergeResult",
    ),
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
    (
        HttpMethod::Delete,
        "/v1/identities/{id}/link",
        "Unlink an identity from its customer",
        "Identity",
    ),
    (
        HttpMethod::Get,
        "/v1/identities/{id}/matches",
        "Customers who may be behind an identity, ranked, with a score and reasons",
        "IdentityMatches",
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
