//! The queue: intake, listing, one item with its thread, changes, replies and presence.

use super::{decode_cursor, encode_cursor, page_limit, trim_page};
use crate::domain::api::{
    FeedbackDetail, FeedbackPatch, NewFeedback, NewReply, Page, Presence, PresenceUpdate,
};
use crate::domain::problem::{ProblemExtension, RuleRefusal, RulebookChanged};
use crate::domain::*;
use crate::rules::{CheckContext, CheckResult, DraftPart, Level};
use crate::server::auth::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::server::error::{ApiError, ApiResult, ProblemType};
use crate::server::routing::{self, Facts};
use crate::server::store::{
    AuthenticatedAgent, Correction, DepartmentScope, FeedbackFilter, Intake, PatchPolicy,
    ReplyRecipient, StoreError, Via,
};
use crate::server::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// Longest feedback text accepted (a long forum post fits; a dump does not).
pub const MAX_TEXT_BYTES: usize = 128 * 1024;
/// Longest reply part accepted.
pub const MAX_REPLY_BYTES: usize = 32 * 1024;
/// Longest author handle or name.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest id of ours (items, customers, threads, agents, departments) a request may name.
pub const MAX_ID_BYTES: usize = 128;
/// Longest search text.
pub const MAX_QUERY_BYTES: usize = 256;
/// Longest listening-tool post id.
pub const MAX_EXTERNAL_ID_BYTES: usize = 256;
pub const MAX_URL_BYTES: usize = 2048;
/// Longest rule id of an override, and longest reason.
pub const MAX_RULE_ID_BYTES: usize = 128;
pub const MAX_REASON_BYTES: usize = 2048;
/// Most overrides one reply carries.
pub const MAX_OVERRIDES: usize = 32;

/// 422 at `pointer` when an optional text field is over `max` bytes.
pub(crate) fn bounded(pointer: &str, value: Option<&str>, max: usize) -> ApiResult<()> {
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::invalid(
            pointer,
            format!("at most {max} characters"),
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    status: Option<FeedbackStatus>,
    /// `me`, `unassigned`, `any` (default) or an agent id.
    #[param(max_length = 128)]
    assignee: Option<String>,
    #[param(max_length = 128)]
    department: Option<String>,
    channel: Option<Channel>,
    /// Words of the text or the author.
    #[param(max_length = 256)]
    q: Option<String>,
    /// Only this customer's items.
    #[param(max_length = 128)]
    customer: Option<String>,
    /// Page size, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/feedback", tag = "feedback",
    summary = "The queue, newest first, of the caller's departments",
    params(ListParams),
    responses((status = 200, description = "one page of items", body = Page<Feedback>),
        (status = 403, description = "the token lacks the read scope"),
        (status = 404, description = "a department that is not the caller's"),
        (status = 422, description = "a filter over its length")))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<Page<Feedback>>> {
    let agent = auth.require(Scope::Read)?;
    let limit = page_limit(p.limit)?;
    bounded("/q", p.q.as_deref(), MAX_QUERY_BYTES)?;
    bounded("/assignee", p.assignee.as_deref(), MAX_ID_BYTES)?;
    bounded("/department", p.department.as_deref(), MAX_ID_BYTES)?;
    bounded("/customer", p.customer.as_deref(), MAX_ID_BYTES)?;
    let departments = match (&p.department, agent.department_scope()) {
        (Some(d), Some(mine)) if !mine.contains(d) => {
            return Err(ApiError::not_found(format!("department {d} not found")))
        }
        (Some(d), _) => Some(vec![d.clone()]),
        (None, scope) => scope.map(<[String]>::to_vec),
    };
    let assignee = match p.assignee.as_deref() {
        None | Some("any") => None,
        Some("me") => Some(Some(agent.agent.id.clone())),
        Some("unassigned") => Some(None),
        Some(id) => Some(Some(id.to_string())),
    };
    let filter = FeedbackFilter {
        departments,
        status: p.status,
        assignee,
        channel: p.channel,
        q: p.q,
        customer_id: p.customer,
        before: p.cursor.as_deref().map(decode_cursor).transpose()?,
        limit: limit + 1,
    };
    let mut items = state.store.list_feedback(&filter).await?;
    let next_cursor = trim_page(&mut items, limit, |f| encode_cursor(f.received_at, &f.id));
    Ok(Json(Page { items, next_cursor }))
}

/// Loads an item the agent may see; another department's item is "not found", not "forbidden",
/// so that its existence does not leak.
pub(crate) async fn visible_feedback(
    state: &AppState,
    agent: &AuthenticatedAgent,
    id: &str,
) -> ApiResult<Feedback> {
    let feedback = state.store.feedback(id).await?;
    if !agent.sees_department(&feedback.department) {
        return Err(ApiError::not_found(format!("feedback {id} not found")));
    }
    Ok(feedback)
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

#[utoipa::path(get, path = "/v1/feedback/{id}", tag = "feedback",
    summary = "One item with its thread",
    params(("id" = String, Path, description = "the item's id", max_length = 128)),
    responses((status = 200, description = "the item and its thread; ETag is its version",
            body = FeedbackDetail,
            headers(("ETag" = String, description = "the item's version, for If-Match"))),
        (status = 403, description = "the token lacks the read scope")))]
pub async fn detail(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let agent = auth.require(Scope::Read)?;
    let feedback = visible_feedback(&state, agent, &id).await?;
    let thread = state
        .store
        .thread(&feedback.thread_id, &agent.scope())
        .await?;
    let written = state
        .store
        .thread_authors(&feedback.thread_id, &agent.scope())
        .await?;
    let (authors, participants) = crate::domain::thread::participants(&written);
    let version = feedback.version;
    let mut response = Json(FeedbackDetail {
        feedback,
        thread,
        authors,
        participants,
    })
    .into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    Ok(response)
}

#[utoipa::path(post, path = "/v1/feedback", tag = "feedback",
    summary = "Intake: offline feedback or a listening tool's post",
    request_body = NewFeedback,
    responses((status = 201, description = "the new item, routed", body = Feedback,
            headers(("Location" = String, description = "the item's URL"))),
        (status = 200, description = "the item this external_id already made (a retry)", body = Feedback),
        (status = 403, description = "the token lacks the reply scope"),
        (status = 409, description = "the external_id is taken by an item of another department"),
        (status = 422, description = "empty text or handle, a field over its length, an unknown customer_id")))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(new): ApiJson<NewFeedback>,
) -> ApiResult<Response> {
    let agent = auth.require(Scope::Reply)?;
    let origin = Origin {
        scope: agent.scope(),
        logged_by: Some(agent.agent.id.clone()),
        department: None,
        via: Via::default(),
    };
    intake(&state, new, origin).await
}

/// Where a new item comes from: who may see what it joins, who logged it, the department an
/// intake source sends its items to, and the source and webhook it came by.
pub(crate) struct Origin {
    pub scope: DepartmentScope,
    pub logged_by: Option<String>,
    pub department: Option<String>,
    pub via: Via,
}

/// The one intake path of `POST /v1/feedback` and `POST /v1/intake/{source}`: checks, triage,
/// routing, then the store (thread join, identity auto-link, assignment, events). 201 with
/// `Location` for a new item, 200 with the stored item for a repeat.
pub(crate) async fn intake(
    state: &AppState,
    new: NewFeedback,
    origin: Origin,
) -> ApiResult<Response> {
    check_new(&new)?;
    let tier = match &new.customer_id {
        Some(c) => Some(
            state
                .store
                .customer(c)
                .await
                .map_err(|_| ApiError::invalid("/customer_id", format!("no customer '{c}'")))?
                .tier,
        ),
        None => None,
    };
    let triage = state.triage.classify(&new.text);
    let score = triage.score();
    let decision = state.routing.decide(&routing::facts(
        &new.text,
        new.channel,
        tier.as_deref(),
        &triage,
    ));
    let received_at = new
        .received_at
        .map(|t| t.timestamp_micros())
        .unwrap_or_else(|| state.store.now());
    let via = Via {
        parent_external_id: new.parent_external_id,
        ..origin.via
    };
    let intake = Intake {
        id: None,
        channel: new.channel,
        author_name: new.author_name.unwrap_or_else(|| new.author_handle.clone()),
        text: new.text,
        author_handle: new.author_handle,
        customer_id: new.customer_id,
        thread_id: new.thread_id,
        url: new.url,
        received_at,
        external_id: new.external_id,
        sentiment: score,
        triage,
        department: origin.department.unwrap_or(decision.department),
        priority: decision.priority,
        sla_due_at: received_at + decision.sla_hours * 3_600_000_000,
        auto_assign: true,
        status: FeedbackStatus::New,
        logged_by: origin.logged_by,
        via,
        answered_at: None,
        resolved_at: None,
    };
    let (feedback, created) = state.store.create_feedback(intake, &origin.scope).await?;
    let location = HeaderValue::from_str(&format!("/v1/feedback/{}", feedback.id));
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(feedback)).into_response();
    if let (true, Ok(location)) = (created, location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The shape checks of a new item: text, author, and the length of every field.
fn check_new(new: &NewFeedback) -> ApiResult<()> {
    if new.text.trim().is_empty() {
        return Err(ApiError::invalid("/text", "text is empty"));
    }
    if new.text.len() > MAX_TEXT_BYTES {
        return Err(ApiError::invalid(
            "/text",
            format!("text is over {MAX_TEXT_BYTES} bytes"),
        ));
    }
    if new.author_handle.trim().is_empty() || new.author_handle.len() > MAX_NAME_BYTES {
        return Err(ApiError::invalid(
            "/author_handle",
            format!("author_handle must be 1 to {MAX_NAME_BYTES} bytes"),
        ));
    }
    bounded("/author_name", new.author_name.as_deref(), MAX_NAME_BYTES)?;
    bounded("/customer_id", new.customer_id.as_deref(), MAX_ID_BYTES)?;
    bounded("/thread_id", new.thread_id.as_deref(), MAX_ID_BYTES)?;
    for (pointer, value) in [
        ("/external_id", &new.external_id),
        ("/parent_external_id", &new.parent_external_id),
    ] {
        bounded(pointer, value.as_deref(), MAX_EXTERNAL_ID_BYTES)?;
    }
    bounded("/url", new.url.as_deref(), MAX_URL_BYTES)
}

/// `If-Match` is required: a change made against a stale copy must not win silently.
fn if_match(headers: &HeaderMap) -> ApiResult<i64> {
    let value = headers.get(header::IF_MATCH).ok_or_else(|| {
        ApiError::new(
            ProblemType::PRECONDITION_REQUIRED,
            "send If-Match with the item's version (its ETag)",
        )
    })?;
    let bad = || ApiError::bad_request("If-Match must be the item's version, as in its ETag");
    let text = value.to_str().map_err(|_| bad())?;
    if !super::grammar::is_if_match(text) {
        return Err(bad());
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map_err(|_| bad())
}

#[utoipa::path(patch, path = "/v1/feedback/{id}", tag = "feedback",
    summary = "Assign, reroute, change status, priority or the triage labels",
    params(("id" = String, Path, description = "the item's id", max_length = 128),
        ("If-Match" = String, Header, description = "the item's version, as in its ETag")),
    request_body = FeedbackPatch,
    responses((status = 200, description = "the item, changed; ETag is its new version", body = Feedback,
            headers(("ETag" = String, description = "the item's version, for If-Match"))),
        (status = 400, description = "If-Match that is not a version"),
        (status = 403, description = "the token lacks the reply scope, or an agent moves an item out of their departments"),
        (status = 412, description = "the item is at another version"),
        (status = 428, description = "no If-Match")))]
pub async fn patch(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<FeedbackPatch>,
) -> ApiResult<Response> {
    let agent = auth.require(Scope::Reply)?;
    let version = if_match(&headers)?;
    if patch == FeedbackPatch::default() {
        return Err(ApiError::invalid(
            "",
            "name at least one of assignee, department, status, priority, sentiment_label, kind",
        ));
    }
    bounded("/department", patch.department.as_deref(), MAX_ID_BYTES)?;
    if let Some(Some(a)) = &patch.assignee {
        bounded("/assignee", Some(a), MAX_ID_BYTES)?;
    }
    visible_feedback(&state, agent, &id).await?;
    if let Some(dept) = &patch.department {
        if !agent.sees_department(dept) && agent.agent.role == AgentRole::Agent {
            return Err(ApiError::forbidden(
                "only supervisors and admins move items to another department",
            ));
        }
    }
    let correction = match (patch.sentiment_label, patch.kind) {
        (None, None) => None,
        (label, kind) => {
            let current = state.store.feedback(&id).await?;
            let label = label.unwrap_or(current.sentiment_label);
            let kind = kind.unwrap_or(current.kind);
            let tier = match &current.customer_id {
                Some(c) => Some(state.store.customer(c).await?.tier),
                None => None,
            };
            let decision = state.routing.decide(&Facts {
                text: &current.text,
                channel: current.channel,
                tier: tier.as_deref(),
                sentiment: label,
                kind,
                urgency: &current.urgency,
            });
            Some(Correction {
                org: crate::server::triage::ORG.to_string(),
                label,
                kind,
                priority: decision.priority,
                sla_hours: decision.sla_hours,
            })
        }
    };
    let policy = PatchPolicy {
        escalation_sla_hours: state.routing.escalation.sla_hours,
    };
    let updated = state
        .store
        .patch_feedback(
            &agent.agent.id,
            &id,
            version,
            &patch,
            &policy,
            correction.as_ref(),
        )
        .await?;
    if let (Some(label), true) = (patch.sentiment_label, updated.version != version) {
        // Learned after the correction is stored: items arriving from now on use it.
        let learned = state.triage.learn(&updated.text, label);
        tracing::debug!(took_us = learned.took.as_micros() as u64, before = %learned.predicted_before, "learned a triage correction");
    }
    let mut response = Json(updated.clone()).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(updated.version));
    Ok(response)
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> ApiResult<String> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| ApiError::bad_request("send an Idempotency-Key header with every reply"))?;
    match key.to_str() {
        Ok(key) if super::grammar::is_idempotency_key(key) => Ok(key.to_string()),
        _ => Err(ApiError::bad_request(
            "Idempotency-Key is 1 to 255 printable ASCII characters, not starting or ending with a space or a quote",
        )),
    }
}

/// Shape checks of a reply: micro (one direct part), macro (one public part) or both.
fn check_parts(reply: &NewReply) -> ApiResult<()> {
    if reply.parts.is_empty() || reply.parts.len() > 2 {
        return Err(ApiError::invalid(
            "/parts",
            "a reply has one part (micro or macro) or two (both)",
        ));
    }
    if reply.parts.len() == 2 && reply.parts[0].visibility == reply.parts[1].visibility {
        return Err(ApiError::invalid(
            "/parts",
            "the two parts of a reply must be one public and one direct",
        ));
    }
    for (i, part) in reply.parts.iter().enumerate() {
        if part.body.trim().is_empty() {
            return Err(ApiError::invalid(
                &format!("/parts/{i}/body"),
                "the part is empty",
            ));
        }
        if part.body.len() > MAX_REPLY_BYTES {
            return Err(ApiError::invalid(
                &format!("/parts/{i}/body"),
                format!("the part is over {MAX_REPLY_BYTES} bytes"),
            ));
        }
    }
    if reply.overrides.len() > MAX_OVERRIDES {
        return Err(ApiError::invalid(
            "/overrides",
            format!("at most {MAX_OVERRIDES} overrides"),
        ));
    }
    bounded(
        "/base_message_id",
        reply.base_message_id.as_deref(),
        MAX_ID_BYTES,
    )?;
    bounded(
        "/rulebook_version",
        reply.rulebook_version.as_deref(),
        MAX_ID_BYTES,
    )?;
    for (i, o) in reply.overrides.iter().enumerate() {
        bounded(
            &format!("/overrides/{i}/rule"),
            Some(&o.rule),
            MAX_RULE_ID_BYTES,
        )?;
        bounded(
            &format!("/overrides/{i}/reason"),
            Some(&o.reason),
            MAX_REASON_BYTES,
        )?;
        if o.reason.trim().is_empty() {
            return Err(ApiError::invalid(
                &format!("/overrides/{i}/reason"),
                "an override needs a reason",
            ));
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/feedback/{id}/replies", tag = "replies",
    summary = "Deliver a reply (checked against the rulebook in force)",
    params(("id" = String, Path, description = "the item's id", max_length = 128),
        ("Idempotency-Key" = String, Header, description = "a key per reply: a retry with it gets the stored reply", max_length = 255)),
    request_body = NewReply,
    responses((status = 201, description = "the reply, its messages queued for delivery", body = Reply),
        (status = 200, description = "the stored reply of an earlier request with this key", body = Reply),
        (status = 400, description = "no Idempotency-Key"),
        (status = 403, description = "the token lacks the reply scope"),
        (status = 409, description = "base_message_id is not the newest message: the new ones are in `violations.changes`"),
        (status = 422, description = "a malformed reply, a recipient that cannot be reached, or rule violations (in `violations`)")))]
pub async fn reply(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(reply): ApiJson<NewReply>,
) -> ApiResult<Response> {
    let agent = auth.require(Scope::Reply)?;
    let key = idempotency_key(&headers)?;
    let (status, reply) = deliver_reply(&state, agent, &id, &key, &reply).await?;
    Ok((status, Json(reply)).into_response())
}

/// One reply to one item: the stored result for a repeated key (200), else the shape check, the
/// recipients, the rulebook, the stale-thread guard (in the store's transaction), then the
/// reply is recorded and its messages queued for delivery (201).
pub(crate) async fn deliver_reply(
    state: &AppState,
    agent: &AuthenticatedAgent,
    feedback_id: &str,
    key: &str,
    reply: &NewReply,
) -> ApiResult<(StatusCode, Reply)> {
    let feedback = visible_feedback(state, agent, feedback_id).await?;
    if let Some(outcome) = state
        .store
        .replay(&agent.agent.id, &feedback.id, key, reply)
        .await?
    {
        return Ok((StatusCode::OK, outcome.reply));
    }
    check_parts(reply)?;
    let customer = match &feedback.customer_id {
        Some(c) => Some(state.store.customer(c).await?),
        None => None,
    };
    let recipients = reply
        .parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            crate::server::store::recipient(&feedback, customer.as_ref(), p.visibility)
                .map_err(|e| ApiError::invalid(&format!("/parts/{i}/visibility"), e))
        })
        .collect::<ApiResult<Vec<ReplyRecipient>>>()?;
    enforce_rules(
        state,
        agent,
        &feedback,
        customer.as_ref(),
        reply,
        &recipients,
    )?;
    let outcome = state
        .store
        .create_reply(&agent.agent, &feedback.id, key, reply, &recipients)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(detail) if reply.base_message_id.is_some() => {
                ApiError::invalid("/base_message_id", detail)
            }
            e => e.into(),
        })?;
    if outcome.repeated {
        return Ok((StatusCode::OK, outcome.reply));
    }
    state.delivery.enqueue(&outcome.reply.messages);
    Ok((StatusCode::CREATED, outcome.reply))
}

/// Re-checks every part with the rulebook in force, each with its own visibility and the channel
/// it goes out on; refuses (422, with the violations) unless every error is overridden under its
/// rule's policy. A console that checked against another rulebook version is told to check again.
fn enforce_rules(
    state: &AppState,
    agent: &AuthenticatedAgent,
    feedback: &Feedback,
    customer: Option<&Customer>,
    reply: &NewReply,
    recipients: &[ReplyRecipient],
) -> ApiResult<()> {
    let rulebook = state.rules.current();
    if let Some(version) = reply
        .rulebook_version
        .as_deref()
        .filter(|v| *v != rulebook.version())
    {
        let mut e = ApiError::new(
            ProblemType::RULEBOOK_CHANGED,
            format!(
                "the draft was checked against rulebook {version}; {} is in force, check again",
                rulebook.version()
            ),
        );
        e.violations = ProblemExtension::RulebookChanged(RulebookChanged {
            rulebook_version: rulebook.version().to_string(),
        })
        .to_value();
        return Err(e);
    }
    let mut violations = Vec::new();
    for (part, to) in reply.parts.iter().zip(recipients) {
        let ctx = CheckContext {
            channel: Some(to.channel),
            tier: customer.map(|c| c.tier.clone()),
            tags: customer.map(|c| c.tags.clone()).unwrap_or_default(),
            department: Some(feedback.department.clone()),
            language: customer.map(|c| c.preferences.language.clone()),
            sentiment: Some(feedback.sentiment_label),
        };
        violations.extend(
            rulebook
                .check(&[DraftPart::new(part.visibility, part.body.clone())], &ctx)
                .violations,
        );
    }
    let deliverable = !violations.iter().any(|v| v.level == Level::Error);
    let result = CheckResult {
        rulebook_version: rulebook.version().to_string(),
        deliverable,
        violations,
    };
    let outcome = rulebook.check_overrides(&result, &reply.overrides, agent.agent.role);
    if outcome.deliverable {
        return Ok(());
    }
    let refused: Vec<String> = outcome
        .refused
        .iter()
        .map(|r| format!("{}: {}", r.rule, r.reason))
        .collect();
    let mut e = ApiError::new(
        ProblemType::RULE_VIOLATION,
        format!("not delivered: {}", refused.join("; ")),
    );
    e.violations = ProblemExtension::RuleViolation(RuleRefusal {
        rulebook_version: result.rulebook_version,
        violations: result.violations,
        refused: outcome.refused,
    })
    .to_value();
    Err(e)
}

#[utoipa::path(post, path = "/v1/feedback/{id}/presence", tag = "feedback",
    summary = "Say the caller is viewing, composing on or has left an item (a presence.changed event)",
    params(("id" = String, Path, description = "the item's id", max_length = 128)),
    request_body = PresenceUpdate,
    responses((status = 204, description = "published"),
        (status = 403, description = "the token lacks the reply scope")))]
pub async fn presence(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(update): ApiJson<PresenceUpdate>,
) -> ApiResult<StatusCode> {
    // Presence says "I am answering this": a read-only token answers nothing.
    let agent = auth.require(Scope::Reply)?;
    let feedback = visible_feedback(&state, agent, &id).await?;
    let presence = Presence {
        feedback_id: feedback.id.clone(),
        agent_id: agent.agent.id.clone(),
        agent_name: agent.agent.name.clone(),
        state: update.state,
        at: chrono::Utc::now(),
    };
    state
        .store
        .publish(
            EventName::PresenceChanged,
            Some(&feedback.department),
            &presence,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
