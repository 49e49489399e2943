//! Feedback items and their threads: intake, the queue, and changes with optimistic locking.

use super::customers::{add_history, find_or_create_identity, refresh_roles, summary};
use super::events::append;
use super::rows::{self, FEEDBACK_COLUMNS};
use super::scope::DepartmentScope;
use super::{
    audit_in, micros_to_time, new_id, now_micros, require_customer, require_department, Store,
    StoreError, StoreResult,
};
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

pub(crate) async fn load_feedback(tx: &mut SqlTx<'static, Any>, id: &str) -> StoreResult<Feedback> {
    let row = sqlx::query(&format!(
        "SELECT {FEEDBACK_COLUMNS} FROM feedback f JOIN identities i ON i.id = f.author_identity_id WHERE f.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("feedback {id}")))?;
    rows::feedback(&row)
}

/// The agent of `department` with the fewest open items (ties: the earliest id).
async fn least_loaded_agent(
    tx: &mut SqlTx<'static, Any>,
    department: &str,
) -> StoreResult<Option<String>> {
    let agent: Option<String> = sqlx::query_scalar(
        "SELECT a.id FROM agents a JOIN agent_departments d ON d.agent_id = a.id AND d.department_id = $1 \
         WHERE a.role <> 'admin' \
         ORDER BY (SELECT COUNT(*) FROM feedback f WHERE f.assignee = a.id AND f.status IN ('new','open','pending')), a.id \
         LIMIT 1",
    )
    .bind(department)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(agent)
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
    /// event, all in one transaction. A repeated `external_id` returns the stored item and
    /// `false` (a listening tool's retry must not create a duplicate), if it is in `scope`;
    /// otherwise the caller learns only that the id is taken. A `thread_id` must name an item
    /// in `scope`.
    pub async fn create_feedback(
        &self,
        intake: Intake,
        scope: &DepartmentScope,
    ) -> StoreResult<(Feedback, bool)> {
        let mut tx = self.begin_write().await?;
        if let Some(ext) = &intake.external_id {
            let existing: Option<String> =
                sqlx::query_scalar("SELECT id FROM feedback WHERE external_id = $1")
                    .bind(ext)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(id) = existing {
                let f = load_feedback(&mut tx, &id).await?;
                tx.rollback().await?;
                if !scope.allows(&f.department) {
                    return Err(StoreError::Taken(
                        "an item with this external_id exists already".into(),
                    ));
                }
                return Ok((f, false));
            }
        }
        let (feedback, last_seq) = self.insert_feedback(&mut tx, &intake, scope, true).await?;
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
        let (thread_id, department) = match &intake.thread_id {
            Some(t) => join_thread(tx, t, scope).await?,
            None => (id.clone(), intake.department.clone()),
        };
        require_department(tx, &department).await?;
        if let Some(c) = &intake.customer_id {
            require_customer(tx, c).await?;
        }
        let author = find_or_create_identity(
            tx,
            intake.channel,
            &intake.author_handle,
            &intake.author_name,
            intake.customer_id.as_deref(),
        )
        .await?;
        let customer_id = intake
            .customer_id
            .clone()
            .or_else(|| author.customer_id.clone());
        let assignee = if intake.auto_assign {
            least_loaded_agent(tx, &department).await?
        } else {
            None
        };
        sqlx::query(
            "INSERT INTO feedback (id, channel, origin, author_identity_id, customer_id, text, thread_id, url, external_id, \
             received_at, sentiment, department, assignee, status, priority, sla_due_at, version, \
             sentiment_label, sentiment_confidence, kind, urgency, cues) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,1,$17,$18,$19,$20,$21)",
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
        .bind(intake.triage.label.as_str())
        .bind(intake.triage.confidence)
        .bind(intake.triage.kind.as_str())
        .bind(urgency_column(&intake.triage.urgency))
        .bind(serde_json::to_string(&intake.triage.cues).unwrap_or_else(|_| "[]".into()))
        .execute(&mut **tx)
        .await?;
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
        audit_in(
            tx,
            intake.logged_by.as_deref(),
            "feedback.create",
            &id,
            "ok",
            intake.channel.as_str(),
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
            "SELECT {FEEDBACK_COLUMNS} FROM feedback f JOIN identities i ON i.id = f.author_identity_id WHERE f.id = $1"
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

    /// The queue, newest first, keyset-paginated.
    pub async fn list_feedback(&self, filter: &FeedbackFilter) -> StoreResult<Vec<Feedback>> {
        let mut q = SqlBuilder::new(format!(
            "SELECT {FEEDBACK_COLUMNS} FROM feedback f JOIN identities i ON i.id = f.author_identity_id WHERE 1=1"
        ));
        if let Some(depts) = &filter.departments {
            if depts.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<String> = depts
                .iter()
                .map(|d| q.arg(QueryArg::Text(d.clone())))
                .collect();
            q.sql
                .push_str(&format!(" AND f.department IN ({})", list.join(",")));
        }
        if let Some(status) = filter.status {
            let p = q.arg(QueryArg::Text(status.as_str().to_string()));
            q.sql.push_str(&format!(" AND f.status = {p}"));
        }
        match &filter.assignee {
            Some(Some(agent)) => {
                let p = q.arg(QueryArg::Text(agent.clone()));
                q.sql.push_str(&format!(" AND f.assignee = {p}"));
            }
            Some(None) => q.sql.push_str(" AND f.assignee IS NULL"),
            None => {}
        }
        if let Some(channel) = filter.channel {
            let p = q.arg(QueryArg::Text(channel.as_str().to_string()));
            q.sql.push_str(&format!(" AND f.channel = {p}"));
        }
        if let Some(text) = filter.q.as_deref().filter(|t| !t.is_empty()) {
            let p = q.arg(QueryArg::Text(format!(
                "%{}%",
                text.to_lowercase().replace(['%', '_'], "")
            )));
            q.sql.push_str(&format!(" AND LOWER(f.text) LIKE {p}"));
        }
        if let Some(c) = &filter.customer_id {
            let p = q.arg(QueryArg::Text(c.clone()));
            q.sql.push_str(&format!(" AND f.customer_id = {p}"));
        }
        if let Some((at, id)) = &filter.before {
            let at = q.arg(QueryArg::Int(*at));
            let id = q.arg(QueryArg::Text(id.clone()));
            q.sql.push_str(&format!(
                " AND (f.received_at < {at} OR (f.received_at = {at} AND f.id < {id}))"
            ));
        }
        let limit = q.arg(QueryArg::Int(filter.limit));
        q.sql.push_str(&format!(
            " ORDER BY f.received_at DESC, f.id DESC LIMIT {limit}"
        ));
        let mut query = sqlx::query(&q.sql);
        for a in q.args {
            query = match a {
                QueryArg::Text(s) => query.bind(s),
                QueryArg::Int(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(self.reader()).await?;
        rows.iter().map(rows::feedback).collect()
    }

    /// Applies a change if `expected_version` is current; bumps the version and emits
    /// `feedback.updated`. Assignment to an agent outside the item's department is refused.
    pub async fn patch_feedback(
        &self,
        agent_id: &str,
        id: &str,
        expected_version: i64,
        patch: &FeedbackPatch,
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
        let assignee = match &patch.assignee {
            Some(a) => a.clone(),
            // Rerouting to another department drops an assignee who does not work there.
            None if patch.department.is_some() => None,
            None => current.assignee.clone(),
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
        if department == current.department
            && assignee == current.assignee
            && status == current.status
            && priority == current.priority
            && relabel.is_none()
        {
            // Nothing changes: no new version, no event, nothing to audit.
            tx.rollback().await?;
            return Ok(current);
        }
        sqlx::query("UPDATE feedback SET department = $1, assignee = $2, status = $3, priority = $4, version = version + 1 WHERE id = $5 AND version = $6")
            .bind(&department)
            .bind(&assignee)
            .bind(status.as_str())
            .bind(priority.as_str())
            .bind(id)
            .bind(expected_version)
            .execute(&mut *tx)
            .await?;
        if let Some(c) = relabel {
            // The agent's word: the score follows the label, so roles and trends follow it too.
            let score = match c.label {
                SentimentLabel::Negative => -1.0,
                SentimentLabel::Neutral => 0.0,
                SentimentLabel::Positive => 1.0,
            };
            let due = current.received_at.timestamp_micros() + c.sla_hours * 3_600_000_000;
            sqlx::query("UPDATE feedback SET sentiment = $1, sentiment_label = $2, sentiment_confidence = 1.0, kind = $3, corrected = 1, sla_due_at = $4 WHERE id = $5")
                .bind(score)
                .bind(c.label.as_str())
                .bind(c.kind.as_str())
                .bind(due)
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

    /// The current time as the store writes it (exposed for intake defaults).
    pub fn now(&self) -> i64 {
        now_micros()
    }
}

enum QueryArg {
    Text(String),
    Int(i64),
}

/// SQL text with numbered `$N` placeholders and the values that go with them.
struct SqlBuilder {
    sql: String,
    args: Vec<QueryArg>,
}

impl SqlBuilder {
    fn new(sql: String) -> Self {
        SqlBuilder {
            sql,
            args: Vec::new(),
        }
    }

    /// Adds a value and returns its placeholder.
    fn arg(&mut self, value: QueryArg) -> String {
        self.args.push(value);
        format!("${}", self.args.len())
    }
}
