//! Replies: each part becomes an outbound message on the thread and in the customer's history
//! (closing the loop in the CRM). An `Idempotency-Key` makes a retried request return the stored
//! result instead of delivering twice.

use super::db::{new_id, Dialect, Store};
use super::error::{StoreError, StoreResult};
use super::events::{append, append_all, NewEvent};
use super::history::summary;
use super::multi_row::{self, Value};
use super::reply_queue::{ReplyJob, ReplyOutcome, ReplyQueue};
use super::rows;
use super::rows::load_feedback;
use super::scope::DepartmentScope;
use super::time::micros_to_time;
use crate::domain::api::NewReply;
use crate::domain::recipient::ReplyRecipient;
use crate::domain::*;
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyConnection, Transaction as SqlTx};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

fn request_hash(feedback_id: &str, reply: &NewReply) -> String {
    let body =
        serde_json::to_string(&(feedback_id, &reply.parts, &reply.overrides)).unwrap_or_default();
    hex::encode(Sha256::digest(body.as_bytes()))
}

async fn stored_reply(
    conn: &mut AnyConnection,
    agent_id: &str,
    key: &str,
) -> StoreResult<Option<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT request_hash, response FROM replies WHERE agent_id = $1 AND idempotency_key = $2",
    )
    .bind(agent_id)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Messages of the thread after `base` (in thread order) that the agent did not write: the
/// customer's, and other agents' replies. Checked inside the reply's write transaction, so two
/// agents sending on one item cannot both pass the guard. Only messages of items the agent can
/// see count (a thread's item moved to another department takes its messages with it, as in
/// `Store::thread`); a base that is not among them is refused as invalid.
async fn newer_messages(
    tx: &mut SqlTx<'static, Any>,
    thread_id: &str,
    base: &str,
    agent: &Agent,
) -> StoreResult<Vec<Message>> {
    let (visible, departments) = DepartmentScope::of(agent).sql("f.department", 2);
    let sql = format!(
        "SELECT m.*, r.agent_id AS reply_agent FROM messages m \
         JOIN feedback f ON f.id = m.feedback_id LEFT JOIN replies r ON r.id = m.reply_id \
         WHERE m.thread_id = $1 AND {visible} ORDER BY m.created_at, m.id"
    );
    let mut query = sqlx::query(&sql).bind(thread_id);
    for d in departments {
        query = query.bind(d);
    }
    let rows = query.fetch_all(&mut **tx).await?;
    let agent_id = agent.id.as_str();
    let mut thread = Vec::with_capacity(rows.len());
    for row in &rows {
        let author: Option<String> = rows::get(row, "reply_agent")?;
        thread.push((rows::message(row)?, author));
    }
    let at = thread
        .iter()
        .position(|(m, _)| m.id == base)
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "base_message_id {base} is not a message of this thread"
            ))
        })?;
    Ok(thread
        .into_iter()
        .skip(at + 1)
        .filter(|(_, author)| author.as_deref() != Some(agent_id))
        .map(|(m, _)| m)
        .collect())
}

/// Replies written together in one transaction at most.
const MAX_GROUP: usize = 64;
/// Replies waiting for the writer at most; a caller beyond waits for room.
const QUEUE: usize = 1024;

impl ReplyQueue {
    /// Starts the writer task of `store` (a store without a queue of its own, so that the task
    /// ends when the last store that sends to it is dropped).
    pub(crate) fn start(store: Store) -> ReplyQueue {
        let (tx, mut rx) = mpsc::channel::<ReplyJob>(QUEUE);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                store.write_group(group).await;
            }
        });
        ReplyQueue(tx)
    }
}

/// What a group's transaction will write, gathered so that each table gets one multi-row
/// statement; flushed before a reply reads anything an earlier reply of the group changes.
#[derive(Default)]
struct Pending {
    messages: Vec<Vec<Value>>,
    replies: Vec<Vec<Value>>,
    answered: Vec<String>,
    /// Items replied to, with the time: the first reply ends an item's first-response time.
    replied: Vec<(String, i64)>,
    history: Vec<Vec<Value>>,
    audit: Vec<Vec<Value>>,
    events: Vec<(EventName, String, String)>,
    /// What the rows above touch: items, threads, (agent, key) pairs.
    items: HashSet<String>,
    threads: HashSet<String>,
    keys: HashSet<(String, String)>,
}

impl Pending {
    /// Writes what is pending; returns the last event sequence number written (0: none).
    async fn flush(&mut self, tx: &mut SqlTx<'static, Any>, dialect: Dialect) -> StoreResult<i64> {
        let p = std::mem::take(self);
        if !p.messages.is_empty() {
            multi_row::insert(tx, MESSAGE_COLUMNS, p.messages, None).await?;
        }
        if !p.replies.is_empty() {
            multi_row::insert(tx, REPLY_COLUMNS, p.replies, None).await?;
        }
        if !p.answered.is_empty() {
            let marks: Vec<String> = (1..=p.answered.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "UPDATE feedback SET status = 'answered', version = version + 1 WHERE id IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in &p.answered {
                query = query.bind(id);
            }
            query.execute(&mut **tx).await?;
        }
        for (id, at) in &p.replied {
            sqlx::query(
                "UPDATE feedback SET first_reply_at = $1 WHERE id = $2 AND first_reply_at IS NULL",
            )
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        if !p.history.is_empty() {
            multi_row::insert(tx, HISTORY_COLUMNS, p.history, None).await?;
        }
        if !p.audit.is_empty() {
            multi_row::insert(tx, AUDIT_COLUMNS, p.audit, None).await?;
        }
        let events: Vec<NewEvent> = p
            .events
            .iter()
            .map(|(name, department, data)| NewEvent {
                name: *name,
                department: Some(department),
                data: data.clone(),
            })
            .collect();
        append_all(tx, dialect, &events).await
    }
}

const MESSAGE_COLUMNS: &str =
    "messages (id, thread_id, feedback_id, direction, visibility, channel, address, author, body, \
     delivery_status, status_reason, reply_id, created_at)";
const REPLY_COLUMNS: &str =
    "replies (id, feedback_id, agent_id, idempotency_key, request_hash, response, created_at)";
const HISTORY_COLUMNS: &str = "history (customer_id, at, kind, channel, summary, feedback_id)";
const AUDIT_COLUMNS: &str = "audit_log (at, agent_id, action, target, outcome, detail)";

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn message_row(m: &Message) -> Vec<Value> {
    vec![
        text(&m.id),
        text(&m.thread_id),
        Value::MaybeText(m.feedback_id.clone()),
        text(m.direction.as_str()),
        text(m.visibility.as_str()),
        text(m.channel.as_str()),
        text(&m.address),
        text(&m.author),
        text(&m.body),
        text(m.delivery_status.as_str()),
        Value::MaybeText(m.status_reason.clone()),
        Value::MaybeText(m.reply_id.clone()),
        Value::Int(m.created_at.timestamp_micros()),
    ]
}

fn audit_row(agent_id: &str, action: &str, target: &str, detail: &str, at: i64) -> Vec<Value> {
    vec![
        Value::Int(at),
        text(agent_id),
        text(action),
        text(target),
        text("ok"),
        text(detail),
    ]
}

/// How one reply of a group turned out before the group commits.
enum Prepared {
    /// Its rows are pending; this is its outcome once they commit.
    New(ReplyOutcome),
    /// A repeated key: the stored result, nothing written.
    Repeat(ReplyOutcome),
}

/// The rows of one new reply, added to `pending`: its messages, its stored result, the item's
/// status, the customer's history, the audit entries and the events, as the reply's caller
/// will see them once the group commits.
fn reply_rows(
    pending: &mut Pending,
    job: &ReplyJob,
    feedback: &Feedback,
    now: i64,
) -> ReplyOutcome {
    let (agent, reply) = (&job.agent, &job.reply);
    let reply_id = new_id("rp");
    pending.replied.push((feedback.id.clone(), now));
    let messages: Vec<Message> = reply
        .parts
        .iter()
        .zip(&job.recipients)
        .map(|(part, to)| Message {
            id: new_id("msg"),
            thread_id: feedback.thread_id.clone(),
            feedback_id: Some(feedback.id.clone()),
            direction: Direction::Outbound,
            visibility: part.visibility,
            channel: to.channel,
            address: to.address.clone(),
            author: agent.name.clone(),
            body: part.body.clone(),
            delivery_status: DeliveryStatus::Queued,
            status_reason: None,
            reply_id: Some(reply_id.clone()),
            created_at: micros_to_time(now),
        })
        .collect();
    pending.messages.extend(messages.iter().map(message_row));
    let record = Reply {
        id: reply_id.clone(),
        feedback_id: feedback.id.clone(),
        agent_id: agent.id.clone(),
        parts: reply.parts.clone(),
        overrides: reply.overrides.clone(),
        messages: messages.clone(),
        created_at: micros_to_time(now),
    };
    pending.replies.push(vec![
        text(&reply_id),
        text(&feedback.id),
        text(&agent.id),
        text(&job.key),
        text(&job.hash),
        Value::Text(serde_json::to_string(&record).unwrap_or_default()),
        Value::Int(now),
    ]);
    // The item as it will be after this transaction (it was read inside it, so this is
    // exact without reading it again).
    let mut updated = feedback.clone();
    if matches!(
        feedback.status,
        FeedbackStatus::New | FeedbackStatus::Open | FeedbackStatus::Pending
    ) {
        pending.answered.push(feedback.id.clone());
        updated.status = FeedbackStatus::Answered;
        updated.version += 1;
    }
    if let Some(customer) = &feedback.customer_id {
        let history = |kind: HistoryKind, channel: Channel, summary: String| {
            vec![
                text(customer),
                Value::Int(now),
                text(kind.as_str()),
                text(channel.as_str()),
                Value::Text(summary),
                text(&feedback.id),
            ]
        };
        for m in &messages {
            let line = format!(
                "{} reply by {}: {}",
                m.visibility,
                agent.name,
                summary(&m.body)
            );
            pending
                .history
                .push(history(HistoryKind::Reply, m.channel, line));
        }
        for o in &reply.overrides {
            let line = format!("rule {} overridden by {}: {}", o.rule, agent.name, o.reason);
            pending
                .history
                .push(history(HistoryKind::Override, feedback.channel, line));
        }
    }
    let overrides = serde_json::to_string(&reply.overrides).unwrap_or_default();
    pending.audit.push(audit_row(
        &agent.id,
        "reply.create",
        &reply_id,
        &overrides,
        now,
    ));
    for o in &reply.overrides {
        let detail = format!("{}: {}", o.rule, o.reason);
        pending.audit.push(audit_row(
            &agent.id,
            "rule.override",
            &reply_id,
            &detail,
            now,
        ));
    }
    for m in &messages {
        let data = serde_json::to_string(m).unwrap_or_default();
        pending
            .events
            .push((EventName::MessageCreated, feedback.department.clone(), data));
    }
    let data = serde_json::to_string(&updated).unwrap_or_default();
    pending
        .events
        .push((EventName::FeedbackUpdated, updated.department.clone(), data));
    ReplyOutcome {
        reply: record,
        repeated: false,
    }
}

impl Store {
    /// Records a reply whose parts the caller has already checked against the rules, with its
    /// recipients resolved. Everything (messages, status, history, events, audit, the stored
    /// idempotent result) commits together or not at all.
    ///
    /// Concurrent replies are group-committed: one writer task takes every reply waiting and
    /// writes them in one transaction (one multi-row statement per table), and each caller is
    /// answered once that transaction has committed. The write lock is then taken once per
    /// group instead of once per reply, and the statements of a group cost about what one
    /// reply's did. Each reply still sees the ones before it (a repeated key, the item's status,
    /// the thread's messages), and events keep the order in which replies were written.
    pub async fn create_reply(
        &self,
        agent: &Agent,
        feedback_id: &str,
        idempotency_key: &str,
        reply: &NewReply,
        recipients: &[ReplyRecipient],
    ) -> StoreResult<ReplyOutcome> {
        let (done, answer) = oneshot::channel();
        let job = ReplyJob {
            agent: agent.clone(),
            feedback_id: feedback_id.to_string(),
            key: idempotency_key.to_string(),
            reply: reply.clone(),
            recipients: recipients.to_vec(),
            hash: request_hash(feedback_id, reply),
            done,
        };
        let job = match &self.replies {
            Some(queue) => match queue.0.send(job).await {
                Ok(()) => {
                    return answer.await.unwrap_or_else(|_| {
                        Err(StoreError::Invalid("the reply writer stopped".into()))
                    })
                }
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        self.write_group(vec![job]).await;
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Invalid("the reply writer stopped".into())))
    }

    /// Writes a group of replies in one transaction and answers each caller once it commits.
    /// If the group's transaction fails (a full disk, say), each reply is written again on its
    /// own, so that every caller gets its own answer and a failure of one costs no other.
    async fn write_group(&self, group: Vec<ReplyJob>) {
        if group.len() > 1 {
            match self.try_group(&group).await {
                Ok(outcomes) => {
                    for (job, outcome) in group.into_iter().zip(outcomes) {
                        let _ = job.done.send(outcome);
                    }
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, replies = group.len(), "group commit failed; writing the replies one by one");
                }
            }
        }
        for job in group {
            let outcome = match self.try_group(std::slice::from_ref(&job)).await {
                Ok(mut outcomes) => outcomes.pop().unwrap_or_else(|| {
                    Err(StoreError::Invalid("the reply was not written".into()))
                }),
                Err(e) => Err(e),
            };
            let _ = job.done.send(outcome);
        }
    }

    /// One transaction for `group`: the outcome of each reply, or the error that rolled the
    /// whole transaction back.
    async fn try_group(&self, group: &[ReplyJob]) -> StoreResult<Vec<StoreResult<ReplyOutcome>>> {
        let mut tx = self.begin_write().await?;
        let mut pending = Pending::default();
        let mut last = 0;
        let mut outcomes = Vec::with_capacity(group.len());
        for job in group {
            match self.prepare(&mut tx, &mut pending, &mut last, job).await {
                Ok(Prepared::New(outcome) | Prepared::Repeat(outcome)) => {
                    outcomes.push(Ok(outcome))
                }
                // A database error may have ended the transaction: the group is retried.
                Err(StoreError::Db(e)) => return Err(StoreError::Db(e)),
                // A refusal (stale thread, unknown item, key reused) wrote nothing.
                Err(e) => outcomes.push(Err(e)),
            }
        }
        last = last.max(pending.flush(&mut tx, self.dialect()).await?);
        self.commit(tx, (last > 0).then_some(last)).await?;
        Ok(outcomes)
    }

    /// Reads what one reply of a group needs (after writing what it depends on: a reply
    /// earlier in the group with the same key, item or thread) and adds its rows to `pending`.
    async fn prepare(
        &self,
        tx: &mut SqlTx<'static, Any>,
        pending: &mut Pending,
        last: &mut i64,
        job: &ReplyJob,
    ) -> StoreResult<Prepared> {
        let dialect = self.dialect();
        let agent = &job.agent;
        let key = (agent.id.clone(), job.key.clone());
        if pending.keys.contains(&key) || pending.items.contains(&job.feedback_id) {
            *last = (*last).max(pending.flush(tx, dialect).await?);
        }
        if let Some(outcome) = self.repeat_of(tx, &agent.id, &job.key, &job.hash).await? {
            return Ok(Prepared::Repeat(outcome));
        }
        let feedback = load_feedback(tx, &job.feedback_id).await?;
        if let Some(base) = &job.reply.base_message_id {
            if pending.threads.contains(&feedback.thread_id) {
                *last = (*last).max(pending.flush(tx, dialect).await?);
            }
            let changes = newer_messages(tx, &feedback.thread_id, base, agent).await?;
            if !changes.is_empty() {
                return Err(StoreError::Stale(changes));
            }
        }
        let outcome = reply_rows(pending, job, &feedback, self.now());
        pending.items.insert(feedback.id.clone());
        pending.threads.insert(feedback.thread_id.clone());
        pending.keys.insert(key);
        Ok(Prepared::New(outcome))
    }

    /// The stored result of an earlier request with this key, if any; the same key with another
    /// body is refused.
    async fn repeat_of(
        &self,
        conn: &mut AnyConnection,
        agent_id: &str,
        key: &str,
        hash: &str,
    ) -> StoreResult<Option<ReplyOutcome>> {
        let Some((stored_hash, response)) = stored_reply(conn, agent_id, key).await? else {
            return Ok(None);
        };
        if stored_hash != hash {
            return Err(StoreError::Conflict(
                "this Idempotency-Key was used with a different request body".into(),
            ));
        }
        let mut reply: Reply =
            serde_json::from_str(&response).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // Report the messages' current delivery status, not the one at the time of the first request.
        for m in &mut reply.messages {
            if let Some(row) = sqlx::query("SELECT * FROM messages WHERE id = $1")
                .bind(&m.id)
                .fetch_optional(&mut *conn)
                .await?
            {
                *m = rows::message(&row)?;
            }
        }
        Ok(Some(ReplyOutcome {
            reply,
            repeated: true,
        }))
    }

    /// The stored result of an earlier reply with this agent and key, if there is one; the same
    /// key with another body is refused. Checked before the rules, so that a retry is answered
    /// with what was delivered even if the rulebook changed in between.
    pub async fn replay(
        &self,
        agent_id: &str,
        feedback_id: &str,
        key: &str,
        reply: &NewReply,
    ) -> StoreResult<Option<ReplyOutcome>> {
        // A plain connection, not a transaction: two fewer round trips on every reply, and the
        // write transaction checks the key again anyway.
        let mut conn = self.reader().acquire().await?;
        self.repeat_of(&mut conn, agent_id, key, &request_hash(feedback_id, reply))
            .await
    }

    /// Records a delivery attempt's result on a message and streams `reply.status_changed`, if
    /// `lease_owner` still owns the message (`None`, nothing written, when another instance took
    /// it over). A final status (`delivered`, `failed`) ends the lease.
    pub async fn set_message_status(
        &self,
        message_id: &str,
        lease_owner: &str,
        status: DeliveryStatus,
        reason: Option<&str>,
    ) -> StoreResult<Option<Message>> {
        let lease = if matches!(status, DeliveryStatus::Queued | DeliveryStatus::Sent) {
            ""
        } else {
            ", lease_owner = NULL, lease_until = NULL"
        };
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(&format!(
            "UPDATE messages SET delivery_status = $1, status_reason = $2{lease} \
             WHERE id = $3 AND lease_owner = $4"
        ))
        .bind(status.as_str())
        .bind(reason)
        .bind(message_id)
        .bind(lease_owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT * FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("message {message_id}")))?;
        let message = rows::message(&row)?;
        let department: Option<String> = match &message.feedback_id {
            Some(f) => {
                sqlx::query_scalar("SELECT department FROM feedback WHERE id = $1")
                    .bind(f)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let seq = append(
            &mut tx,
            self.dialect(),
            EventName::ReplyStatusChanged,
            department.as_deref(),
            &message,
        )
        .await?;
        self.commit(tx, Some(seq)).await?;
        Ok(Some(message))
    }
}
