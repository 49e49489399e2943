//! Feedback items and their threads: intake, the queue, and changes with optimistic locking.

use super::customers::find_or_create_identity;
use super::db::{audit_in, new_id, require_customer, require_department, Store};
use super::error::{StoreError, StoreResult};
use super::events::append;
use super::history::{add_history, refresh_roles, summary};
use super::rows::{self, load_feedback};
use super::scope::DepartmentScope;
use super::time::{micros_to_time, now_micros};
use crate::domain::api::FeedbackPatch;
use crate::domain::*;
use sqlx::{Any, Transaction as SqlTx};

/// A routed item ready to store: what arrived plus what routing decided.
#[derive(Debug, Clone)]
pub struct Intake {
    /// A chosen id (the demo seed's deterministic ones); a new random id when `None`.
    pub id: Option<String>,
    pub channel: Channel,
    pub text: String,
    pub author_handle: String,
    pub author_name: String,
    pub customer_id: Option<String>,
    pub thread_id: Option<String>,
    pub url: Option<String>,
    pub received_at: i64,
    pub external_id: Option<String>,
    pub sentiment: f64,
    /// The care model's label, confidence, kind, urgency and deciding cues.
    pub triage: crate::triage::Triage,
    pub department: String,
    pub priority: Priority,
    pub sla_due_at: i64,
    /// Assign to the least-loaded agent of the department (the seed turns it off for history).
    pub auto_assign: bool,
    pub status: FeedbackStatus,
    /// Who logged it (an agent for offline feedback), for the audit log.
    pub logged_by: Option<String>,
    /// The intake source and webhook it came by, and the post it answers.
    pub via: Via,
    /// When a past item was first answered and resolved (the demo seed's history); a live item
    /// gets these from its replies and changes.
    pub answered_at: Option<i64>,
    pub resolved_at: Option<i64>,
}

/// How a post arrived beyond its own fields. External ids are unique per source (or, without
/// one, per channel) and channel: listening tools number posts per network, so a Facebook post
/// may reuse an X post's id.
#[derive(Debug, Clone, Default)]
pub struct Via {
    /// The intake source's name (`POST /v1/intake/{name}`); `None` for `POST /v1/feedback`.
    pub source: Option<String>,
    /// The source's `webhook-id`: a repeat returns the item the first one made.
    pub webhook_id: Option<String>,
    /// Join the thread of the post with this external id (same source, same channel).
    pub parent_external_id: Option<String>,
}

/// An agent's correction of an item's triage, with the priority and SLA routing re-derived from it.
#[derive(Debug, Clone)]
pub struct Correction {
    pub org: String,
    pub label: SentimentLabel,
    pub kind: FeedbackKind,
    pub priority: Priority,
    pub sla_hours: i64,
}

pub(crate) fn urgency_column(u: &[UrgencyCue]) -> String {
    u.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

/// Filters of the queue. `departments: None` means every department.
#[derive(Debug, Clone, Default)]
pub struct FeedbackFilter {
    pub departments: Option<Vec<String>>,
    pub status: Option<FeedbackStatus>,
    /// `Some(None)`: unassigned; `Some(Some(id))`: assigned to id.
    pub assignee: Option<Option<String>>,
    pub channel: Option<Channel>,
    pub q: Option<String>,
    pub customer_id: Option<String>,
    /// Keyset cursor: items strictly older than (received_at, id).
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// A member of a department as routing sees them (admins are never routed work).
struct Candidate {
    id: String,
    role: AgentRole,
    availability: Availability,
    /// Has a token that is neither revoked nor expired.
    active: bool,
    /// Has such a token with the `reply` scope (a read-only wallboard token answers nothing).
    can_reply: bool,
    open_items: i64,
}

impl Candidate {
    /// Can take new work: signed in somewhere it can answer from, and not away.
    fn eligible(&self) -> bool {
        self.active && self.can_reply && self.availability == Availability::Available
    }
}

/// The non-admin members of `department`, with what routing needs to know about each.
async fn candidates(tx: &mut SqlTx<'static, Any>, department: &str) -> StoreResult<Vec<Candidate>> {
    const LIVE_TOKEN: &str = "t.agent_id = a.id AND t.revoked_at IS NULL \
         AND (t.expires_at IS NULL OR t.expires_at > $2)";
    let rows = sqlx::query(&format!(
        "SELECT a.id, a.role, a.availability, \
         (SELECT COUNT(*) FROM tokens t WHERE {LIVE_TOKEN}) AS live_tokens, \
         (SELECT COUNT(*) FROM tokens t WHERE {LIVE_TOKEN} AND (',' || t.scopes || ',') LIKE '%,reply,%') AS reply_tokens, \
         (SELECT COUNT(*) FROM feedback f WHERE f.assignee = a.id AND f.status IN ('new','open','pending')) AS open_items \
         FROM agents a JOIN agent_departments d ON d.agent_id = a.id AND d.department_id = $1 \
         WHERE a.role <> 'admin' ORDER BY a.id"
    ))
    .bind(department)
    .bind(now_micros())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Candidate {
                id: rows::get(row, "id")?,
                role: rows::parse(row, "role")?,
                availability: rows::parse(row, "availability")?,
                active: rows::get::<i64>(row, "live_tokens")? > 0,
                can_reply: rows::get::<i64>(row, "reply_tokens")? > 0,
                open_items: rows::get(row, "open_items")?,
            })
        })
        .collect()
}

/// The eligible candidate with the fewest open items (ties: the earliest id), among
/// supervisors only when `supervisors_only`.
fn least_loaded(candidates: &[Candidate], supervisors_only: bool) -> Option<String> {
    candidates
        .iter()
        .filter(|c| c.eligible() && (!supervisors_only || c.role == AgentRole::Supervisor))
        .min_by(|a, b| (a.open_items, &a.id).cmp(&(b.open_items, &b.id)))
        .map(|c| c.id.clone())
}

/// Why nobody of `department` could take an item, for the queue (`unassigned_reason`).
fn nobody_available(department: &str, candidates: &[Candidate]) -> String {
    if candidates.is_empty() {
        return format!("department '{department}' has no agents");
    }
    let count = |f: &dyn Fn(&Candidate) -> bool| candidates.iter().filter(|c| f(c)).count();
    let mut why = Vec::new();
    let inactive = count(&|c| !c.active);
    let read_only = count(&|c| c.active && !c.can_reply);
    let away = count(&|c| c.active && c.can_reply && c.availability == Availability::Away);
    for (n, what) in [
        (away, "away"),
        (inactive, "without an active token"),
        (read_only, "read-only"),
    ] {
        if n > 0 {
            why.push(format!("{n} {what}"));
        }
    }
    format!(
        "nobody in '{department}' can take new work ({})",
        why.join(", ")
    )
}

/// What routing decides about an item's assignee: an agent, or nobody and why.
fn assignment(department: &str, candidates: &[Candidate]) -> (Option<String>, Option<String>) {
    match least_loaded(candidates, false) {
        Some(agent) => (Some(agent), None),
        None => (None, Some(nobody_available(department, candidates))),
    }
}

/// How a change of an item is routed (from the routing rules file).
#[derive(Debug, Clone, Copy)]
pub struct PatchPolicy {
    /// An escalated item (priority raised to urgent) is due at most this many hours from now.
    pub escalation_sla_hours: i64,
}

pub(crate) async fn insert_message(tx: &mut SqlTx<'static, Any>, m: &Message) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO messages (id, thread_id, feedback_id, direction, visibility, channel, address, author, body, \
         delivery_status, status_reason, reply_id, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
    )
    .bind(&m.id)
    .bind(&m.thread_id)
    .bind(&m.feedback_id)
    .bind(m.direction.as_str())
    .bind(m.visibility.as_str())
    .bind(m.channel.as_str())
    .bind(&m.address)
    .bind(&m.author)
    .bind(&m.body)
    .bind(m.delivery_status.as_str())
    .bind(&m.status_reason)
    .bind(&m.reply_id)
    .bind(m.created_at.timestamp_micros())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The stored item with this external id from the same source (or, without one, logged over the
/// API) on the same channel.
async fn by_external_id(
    tx: &mut SqlTx<'static, Any>,
    source: Option<&str>,
    channel: Channel,
    external_id: &str,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM feedback WHERE COALESCE(intake_source, '') = $1 AND channel = $2 AND external_id = $3",
    )
    .bind(source.unwrap_or(""))
    .bind(channel.as_str())
    .bind(external_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// The thread (and department) a new post joins: the one named by `thread_id`, or that of the
/// post whose external id is `parent_external_id`; a thread of its own (`None`) otherwise.
async fn thread_of(
    tx: &mut SqlTx<'static, Any>,
    intake: &Intake,
    scope: &DepartmentScope,
) -> StoreResult<Option<(String, String)>> {
    let parent = intake.via.parent_external_id.as_deref();
    match (&intake.thread_id, parent) {
        (Some(_), Some(_)) => Err(StoreError::InvalidField(
            "/parent_external_id",
            "give thread_id or parent_external_id, not both".into(),
        )),
        (Some(t), None) => join_thread(tx, t, scope).await.map(Some),
        (None, Some(ext)) => {
            let no_parent = || {
                StoreError::InvalidField(
                    "/parent_external_id",
                    format!(
                        "no post with external_id '{ext}' on {} from this source",
                        intake.channel
                    ),
                )
            };
            let id = by_external_id(tx, intake.via.source.as_deref(), intake.channel, ext)
                .await?
                .ok_or_else(no_parent)?;
            // Out of scope is "no such post", as for thread_id.
            join_thread(tx, &id, scope)
                .await
                .map(Some)
                .map_err(|_| no_parent())
        }
        (None, None) => Ok(None),
    }
}

/// The thread a new post joins, and its department: `thread_id` names an item (the thread's
/// first post, or any post in it) that the caller can see. A thread belongs to the department
/// of the item it joins, so a conversation is answered by one department.
async fn join_thread(
    tx: &mut SqlTx<'static, Any>,
    thread_id: &str,
    scope: &DepartmentScope,
) -> StoreResult<(String, String)> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT thread_id, department FROM feedback WHERE id = $1")
            .bind(thread_id)
            .fetch_optional(&mut **tx)
            .await?;
    match row {
        Some((thread, department)) if scope.allows(&department) => Ok((thread, department)),
        // Another department's thread is "no such thread", so its existence does not leak.
        _ => Err(StoreError::InvalidField(
            "/thread_id",
            format!("no thread '{thread_id}'"),
        )),
    }
}

impl Store {
    /// Stores a routed item with its inbound message, history entry and `feedback.created`
    /// event, all in one transaction. A repeated `webhook-id` of the same source, or a repeated
    /// `external_id` of the same source (or, without one, the same channel) returns the stored
    /// item and `false` (a listening tool's retry must not create a duplicate), if it is in
    /// `scope`; otherwise the caller learns only that the id is taken. A `thread_id` or
    /// `parent_external_id` must name an item in `scope`.
    pub async fn create_feedback(
        &self,
        intake: Intake,
        scope: &DepartmentScope,
    ) -> StoreResult<(Feedback, bool)> {
        let mut tx = self.begin_write().await?;
        let source = intake.via.source.as_deref();
        let earlier = match (source, intake.via.webhook_id.as_deref()) {
            (Some(s), Some(w)) => super::intake::webhook_item(&mut tx, s, w).await?,
            _ => None,
        };
        let earlier = match (earlier, &intake.external_id) {
            (Some(id), _) => Some(id),
            (None, Some(ext)) => by_external_id(&mut tx, source, intake.channel, ext).await?,
            (None, None) => None,
        };
        if let Some(id) = earlier {
            let f = load_feedback(&mut tx, &id).await?;
            tx.rollback().await?;
            if !scope.allows(&f.department) {
                return Err(StoreError::Taken(
                    "an item with this external_id exists already".into(),
                ));
            }
            return Ok((f, false));
        }
        let (feedback, last_seq) = self.insert_feedback(&mut tx, &intake, scope, true).await?;
        if let (Some(s), Some(w)) = (source, intake.via.webhook_id.as_deref()) {
            super::intake::record_webhook(&mut tx, s, w, &feedback.id).await?;
        }
        self.commit(tx, last_seq).await?;
        Ok((feedback, true))
    }

    /// Stores many past items without events (the demo seed's history).
    pub async fn import_feedback(&self, items: &[Intake]) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut customers = std::collections::BTreeSet::new();
        for intake in items {
            self.insert_feedback(&mut tx, intake, &DepartmentScope::All, false)
                .await?;
            if let Some(c) = &intake.customer_id {
                customers.insert(c.clone());
            }
        }
        for c in customers {
            refresh_roles(&mut tx, &c).await?;
        }
        self.commit(tx, None).await
    }

    async fn insert_feedback(
        &self,
        tx: &mut SqlTx<'static, Any>,
        intake: &Intake,
        scope: &DepartmentScope,
        live: bool,
    ) -> StoreResult<(Feedback, Option<i64>)> {
        let id = intake.id.clone().unwrap_or_else(|| new_id("fb"));
        let (thread_id, department) = match thread_of(tx, intake, scope).await? {
            Some(joined) => joined,
            None => (id.clone(), intake.department.clone()),
        };
        require_department(tx, &department).await?;
        if let Some(c) = &intake.customer_id {
            require_customer(tx, c).await?;
        }
        let (author, joined) = find_or_create_identity(
            tx,
            intake.channel,
            &intake.author_handle,
            &intake.author_name,
            intake.customer_id.as_deref(),
            // The seed's history happened when it was received.
            if live { self.now() } else { intake.received_at },
        )
        .await?;
        let customer_id = intake
            .customer_id
            .clone()
            .or_else(|| author.customer_id.clone());
        let (assignee, unassigned_reason) = if intake.auto_assign {
            assignment(&department, &candidates(tx, &department).await?)
        } else {
            (None, None)
        };
        sqlx::query(
            "INSERT INTO feedback (id, channel, origin, author_identity_id, customer_id, text, thread_id, url, external_id, \
             received_at, sentiment, department, assignee, status, priority, sla_due_at, version, unassigned_reason, \
             sentiment_label, sentiment_confidence, kind, urgency, cues, intake_source, first_reply_at, resolved_at, search_text) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,1,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26)",
        )
        .bind(&id)
        .bind(intake.channel.as_str())
        .bind(intake.channel.origin().as_str())
        .bind(&author.id)
        .bind(&customer_id)
        .bind(&intake.text)
        .bind(&thread_id)
        .bind(&intake.url)
        .bind(&intake.external_id)
        .bind(intake.received_at)
        .bind(intake.sentiment)
        .bind(&department)
        .bind(&assignee)
        .bind(intake.status.as_str())
        .bind(intake.priority.as_str())
        .bind(intake.sla_due_at)
        .bind(&unassigned_reason)
        .bind(intake.triage.label.as_str())
        .bind(intake.triage.confidence)
        .bind(intake.triage.kind.as_str())
        .bind(urgency_column(&intake.triage.urgency))
        .bind(serde_json::to_string(&intake.triage.cues).unwrap_or_else(|_| "[]".into()))
        .bind(&intake.via.source)
        .bind(intake.answered_at)
        .bind(intake.resolved_at)
        .bind(super::search::stored_words(&intake.text))
        .execute(&mut **tx)
        .await?;
        // An identity is first seen with its earliest post (posts may arrive out of order).
        sqlx::query(
            "UPDATE identities SET first_seen_at = $1 WHERE id = $2 AND (first_seen_at IS NULL OR first_seen_at > $1)",
        )
        .bind(intake.received_at)
        .bind(&author.id)
        .execute(&mut **tx)
        .await?;
        if !live {
            // The seed's customers were linked before their history began.
            sqlx::query("UPDATE identities SET linked_at = $1 WHERE id = $2 AND linked_at > $1")
                .bind(intake.received_at)
                .bind(&author.id)
                .execute(&mut **tx)
                .await?;
        }
        let message = Message {
            id: new_id("msg"),
            thread_id: thread_id.clone(),
            feedback_id: Some(id.clone()),
            direction: Direction::Inbound,
            visibility: if intake.channel.has_public_thread() {
                Visibility::Public
            } else {
                Visibility::Direct
            },
            channel: intake.channel,
            address: author.handle.clone(),
            author: author.display_name.clone(),
            body: intake.text.clone(),
            delivery_status: DeliveryStatus::Received,
            status_reason: None,
            reply_id: None,
            created_at: micros_to_time(intake.received_at),
        };
        insert_message(tx, &message).await?;
        if let Some(c) = &customer_id {
            add_history(
                tx,
                c,
                HistoryKind::Feedback,
                intake.channel,
                &summary(&intake.text),
                Some(&id),
                Some(intake.sentiment),
                intake.received_at,
            )
            .await?;
        }
        let feedback = load_feedback(tx, &id).await?;
        if !live {
            return Ok((feedback, None));
        }
        let detail = match &intake.via.source {
            Some(source) => format!("{} via intake {source}", intake.channel),
            None => intake.channel.to_string(),
        };
        audit_in(
            tx,
            intake.logged_by.as_deref(),
            "feedback.create",
            &id,
            "ok",
            &detail,
        )
        .await?;
        let mut last = append(
            tx,
            self.dialect(),
            EventName::FeedbackCreated,
            Some(&feedback.department),
            &feedback,
        )
        .await?;
        last = append(
            tx,
            self.dialect(),
            EventName::MessageCreated,
            Some(&feedback.department),
            &message,
        )
        .await?
        .max(last);
        for fid in &joined {
            // Earlier items of an author linked just now (by address) joined the customer.
            let f = load_feedback(tx, fid).await?;
            last = append(
                tx,
                self.dialect(),
                EventName::FeedbackUpdated,
                Some(&f.department),
                &f,
            )
            .await?;
        }
        if let Some(c) = &customer_id {
            if refresh_roles(tx, c).await? {
                last = append(
                    tx,
                    self.dialect(),
                    EventName::CustomerUpdated,
                    None,
                    &serde_json::json!({ "customer_id": c }),
                )
                .await?;
            }
        }
        Ok((feedback, Some(last)))
    }

    pub async fn feedback(&self, id: &str) -> StoreResult<Feedback> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM feedback f JOIN identities i ON i.id = f.author_identity_id WHERE f.id = $1",
            rows::feedback_columns(self.dialect)
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("feedback {id}")))?;
        rows::feedback(&row)
    }

    /// A thread's messages, oldest first: only those of items in `scope` (an item rerouted to
    /// another department takes its messages with it).
    pub async fn thread(
        &self,
        thread_id: &str,
        scope: &DepartmentScope,
    ) -> StoreResult<Vec<Message>> {
        let (visible, departments) = scope.sql("f.department", 2);
        let sql = format!(
            "SELECT m.* FROM messages m JOIN feedback f ON f.id = m.feedback_id \
             WHERE m.thread_id = $1 AND {visible} ORDER BY m.created_at, m.id"
        );
        let mut query = sqlx::query(&sql).bind(thread_id);
        for d in departments {
            query = query.bind(d);
        }
        let rows = query.fetch_all(self.reader()).await?;
        rows.iter().map(rows::message).collect()
    }

    /// Applies a change if `expected_version` is current; bumps the version and emits
    /// `feedback.updated`. Assignment to an agent outside the item's department is refused.
    ///
    /// Unless the change names an assignee, routing assigns: rerouting to another department
    /// assigns the least-loaded available agent there; escalating (raising the priority to
    /// urgent) assigns an available supervisor of the department when there is one (otherwise
    /// the item keeps its assignee, or gets an available agent) and brings the SLA due time to
    /// at most `policy.escalation_sla_hours` from now. With nobody available the item is left
    /// unassigned with the reason.
    pub async fn patch_feedback(
        &self,
        agent_id: &str,
        id: &str,
        expected_version: i64,
        patch: &FeedbackPatch,
        policy: &PatchPolicy,
        correction: Option<&Correction>,
    ) -> StoreResult<Feedback> {
        let mut tx = self.begin_write().await?;
        let current = load_feedback(&mut tx, id).await?;
        if current.version != expected_version {
            return Err(StoreError::VersionMismatch {
                current: current.version,
            });
        }
        let department = patch
            .department
            .clone()
            .unwrap_or_else(|| current.department.clone());
        if patch.department.is_some() {
            require_department(&mut tx, &department).await?;
        }
        let rerouted = department != current.department;
        let escalated =
            patch.priority == Some(Priority::Urgent) && current.priority != Priority::Urgent;
        let mut routed = None;
        let (assignee, unassigned_reason) = match &patch.assignee {
            Some(chosen) => (chosen.clone(), None),
            None if rerouted || escalated => {
                let members = candidates(&mut tx, &department).await?;
                // The assignee stays through an escalation, never through a reroute.
                let kept = if rerouted {
                    None
                } else {
                    current.assignee.clone()
                };
                let supervisor = if escalated {
                    least_loaded(&members, true)
                } else {
                    None
                };
                let (assignee, reason, note) = match (supervisor, kept) {
                    (Some(s), _) => (
                        Some(s.clone()),
                        None,
                        format!("escalated to supervisor {s}"),
                    ),
                    (None, Some(k)) => (
                        Some(k.clone()),
                        None,
                        format!("escalated; no supervisor available, stays with {k}"),
                    ),
                    (None, None) => match assignment(&department, &members) {
                        (Some(a), _) => (Some(a.clone()), None, format!("assigned to {a}")),
                        (None, why) => (None, why.clone(), why.unwrap_or_default()),
                    },
                };
                routed = Some(note);
                (assignee, reason)
            }
            None => (current.assignee.clone(), current.unassigned_reason.clone()),
        };
        if let Some(a) = &assignee {
            let member: Option<String> = sqlx::query_scalar(
                "SELECT agent_id FROM agent_departments WHERE agent_id = $1 AND department_id = $2",
            )
            .bind(a)
            .bind(&department)
            .fetch_optional(&mut *tx)
            .await?;
            if member.is_none() {
                return Err(StoreError::Invalid(format!(
                    "agent '{a}' does not work in department '{department}'"
                )));
            }
        }
        let status = patch.status.unwrap_or(current.status);
        let priority = patch
            .priority
            .or(correction.map(|c| c.priority))
            .unwrap_or(current.priority);
        let relabel = correction.filter(|c| {
            c.label != current.sentiment_label || c.kind != current.kind || !current.corrected
        });
        let current_due = current.sla_due_at.timestamp_micros();
        // A correction re-derives the SLA from the corrected routing; an escalation caps it.
        let base_due = match relabel {
            Some(c) => current.received_at.timestamp_micros() + c.sla_hours * 3_600_000_000,
            None => current_due,
        };
        let sla_due_at = if escalated {
            base_due.min(self.now() + policy.escalation_sla_hours * 3_600_000_000)
        } else {
            base_due
        };
        if department == current.department
            && assignee == current.assignee
            && status == current.status
            && priority == current.priority
            && sla_due_at == current_due
            && unassigned_reason == current.unassigned_reason
            && relabel.is_none()
        {
            // Nothing changes: no new version, no event, nothing to audit.
            tx.rollback().await?;
            return Ok(current);
        }
        sqlx::query(
            "UPDATE feedback SET department = $1, assignee = $2, status = $3, priority = $4, \
             sla_due_at = $5, unassigned_reason = $6, version = version + 1, \
             resolved_at = CASE WHEN $3 = 'resolved' THEN COALESCE(resolved_at, $9) ELSE NULL END \
             WHERE id = $7 AND version = $8",
        )
        .bind(&department)
        .bind(&assignee)
        .bind(status.as_str())
        .bind(priority.as_str())
        .bind(sla_due_at)
        .bind(&unassigned_reason)
        .bind(id)
        .bind(expected_version)
        // When it was resolved, for resolution times: kept while it stays resolved.
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        if let Some(c) = relabel {
            // The agent's word: the score follows the label, so roles and trends follow it too.
            let score = match c.label {
                SentimentLabel::Negative => -1.0,
                SentimentLabel::Neutral => 0.0,
                SentimentLabel::Positive => 1.0,
            };
            sqlx::query("UPDATE feedback SET sentiment = $1, sentiment_label = $2, sentiment_confidence = 1.0, kind = $3, corrected = 1 WHERE id = $4")
                .bind(score)
                .bind(c.label.as_str())
                .bind(c.kind.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE history SET sentiment = $1 WHERE feedback_id = $2")
                .bind(score)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO triage_corrections (at, org, feedback_id, agent_id, text, predicted_label, label, predicted_kind, kind) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)")
                .bind(now_micros())
                .bind(&c.org)
                .bind(id)
                .bind(agent_id)
                .bind(&current.text)
                .bind(current.sentiment_label.as_str())
                .bind(c.label.as_str())
                .bind(current.kind.as_str())
                .bind(c.kind.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let updated = load_feedback(&mut tx, id).await?;
        let mut detail = serde_json::to_string(patch).unwrap_or_default();
        if relabel.is_some() {
            detail = format!(
                "{detail} triage: {}/{} -> {}/{}",
                current.sentiment_label, current.kind, updated.sentiment_label, updated.kind
            );
        }
        audit_in(&mut tx, Some(agent_id), "feedback.patch", id, "ok", &detail).await?;
        if let Some(routed) = routed {
            audit_in(&mut tx, Some(agent_id), "feedback.route", id, "ok", &routed).await?;
        }
        let mut last = append(
            &mut tx,
            self.dialect(),
            EventName::FeedbackUpdated,
            Some(&updated.department),
            &updated,
        )
        .await?;
        if updated.department != current.department {
            // The old department's consoles must learn the item left them.
            last = append(
                &mut tx,
                self.dialect(),
                EventName::FeedbackUpdated,
                Some(&current.department),
                &updated,
            )
            .await?;
        }
        if relabel.is_some() {
            if let Some(customer) = &updated.customer_id {
                // Roles follow the corrected tone; consoles refetch the profile.
                refresh_roles(&mut tx, customer).await?;
                last = append(
                    &mut tx,
                    self.dialect(),
                    EventName::CustomerUpdated,
                    None,
                    &serde_json::json!({ "customer_id": customer }),
                )
                .await?;
            }
        }
        self.commit(tx, Some(last)).await?;
        Ok(updated)
    }

    pub async fn feedback_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM feedback")
            .fetch_one(self.reader())
            .await?)
    }

    /// The current time as the store writes it (exposed for intake defaults), from its clock.
    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }
}
