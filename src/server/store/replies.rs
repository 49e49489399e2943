//! Replies: each part becomes an outbound message on the thread and in the customer's history
//! (closing the loop in the CRM). An `Idempotency-Key` makes a retried request return the stored
//! result instead of delivering twice.

use super::customers::{add_history, summary};
use super::events::{append, append_all, NewEvent};
use super::feedback::{insert_message, load_feedback};
use super::rows;
use super::scope::DepartmentScope;
use super::{audit_in, micros_to_time, new_id, Store, StoreError, StoreResult};
use crate::domain::api::NewReply;
use crate::domain::recipient::ReplyRecipient;
use crate::domain::*;
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyConnection, Transaction as SqlTx};

#[derive(Debug, Clone)]
pub struct ReplyOutcome {
    pub reply: Reply,
    /// True when the key was seen before and this is the stored result.
    pub repeated: bool,
}

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

impl Store {
    /// Records a reply whose parts the caller has already checked against the rules, with its
    /// recipients resolved. Everything (messages, status, history, events, audit, the stored
    /// idempotent result) commits together or not at all.
    pub async fn create_reply(
        &self,
        agent: &Agent,
        feedback_id: &str,
        idempotency_key: &str,
        reply: &NewReply,
        recipients: &[ReplyRecipient],
    ) -> StoreResult<ReplyOutcome> {
        let hash = request_hash(feedback_id, reply);
        let mut tx = self.begin_write().await?;
        if let Some(outcome) = self
            .repeat_of(&mut tx, &agent.id, idempotency_key, &hash)
            .await?
        {
            return Ok(outcome);
        }
        let feedback = load_feedback(&mut tx, feedback_id).await?;
        if let Some(base) = &reply.base_message_id {
            let changes = newer_messages(&mut tx, &feedback.thread_id, base, agent).await?;
            if !changes.is_empty() {
                return Err(StoreError::Stale(changes));
            }
        }
        let reply_id = new_id("rp");
        let now = self.now();
        let mut messages = Vec::new();
        for (part, to) in reply.parts.iter().zip(recipients) {
            let message = Message {
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
            };
            insert_message(&mut tx, &message).await?;
            messages.push(message);
        }
        let record = Reply {
            id: reply_id.clone(),
            feedback_id: feedback.id.clone(),
            agent_id: agent.id.clone(),
            parts: reply.parts.clone(),
            overrides: reply.overrides.clone(),
            messages: messages.clone(),
            created_at: micros_to_time(now),
        };
        sqlx::query(
            "INSERT INTO replies (id, feedback_id, agent_id, idempotency_key, request_hash, response, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7)",
        )
        .bind(&reply_id)
        .bind(&feedback.id)
        .bind(&agent.id)
        .bind(idempotency_key)
        .bind(&hash)
        .bind(serde_json::to_string(&record).unwrap_or_default())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // The item as it will be after this transaction (it was read inside it, so this is
        // exact without reading it again).
        let mut updated = feedback.clone();
        // The first reply ends the item's first-response time.
        sqlx::query(
            "UPDATE feedback SET first_reply_at = $1 WHERE id = $2 AND first_reply_at IS NULL",
        )
        .bind(now)
        .bind(&feedback.id)
        .execute(&mut *tx)
        .await?;
        if matches!(
            feedback.status,
            FeedbackStatus::New | FeedbackStatus::Open | FeedbackStatus::Pending
        ) {
            sqlx::query(
                "UPDATE feedback SET status = 'answered', version = version + 1 WHERE id = $1",
            )
            .bind(&feedback.id)
            .execute(&mut *tx)
            .await?;
            updated.status = FeedbackStatus::Answered;
            updated.version += 1;
        }
        if let Some(customer) = &feedback.customer_id {
            for m in &messages {
                let text = format!(
                    "{} reply by {}: {}",
                    m.visibility,
                    agent.name,
                    summary(&m.body)
                );
                add_history(
                    &mut tx,
                    customer,
                    HistoryKind::Reply,
                    m.channel,
                    &text,
                    Some(&feedback.id),
                    None,
                    now,
                )
                .await?;
            }
            for o in &reply.overrides {
                let text = format!("rule {} overridden by {}: {}", o.rule, agent.name, o.reason);
                add_history(
                    &mut tx,
                    customer,
                    HistoryKind::Override,
                    feedback.channel,
                    &text,
                    Some(&feedback.id),
                    None,
                    now,
                )
                .await?;
            }
        }
        let overrides = serde_json::to_string(&reply.overrides).unwrap_or_default();
        audit_in(
            &mut tx,
            Some(&agent.id),
            "reply.create",
            &reply_id,
            "ok",
            &overrides,
        )
        .await?;
        for o in &reply.overrides {
            audit_in(
                &mut tx,
                Some(&agent.id),
                "rule.override",
                &reply_id,
                "ok",
                &format!("{}: {}", o.rule, o.reason),
            )
            .await?;
        }
        let mut events = Vec::with_capacity(messages.len() + 1);
        for m in &messages {
            events.push(NewEvent::new(
                EventName::MessageCreated,
                Some(&feedback.department),
                m,
            )?);
        }
        events.push(NewEvent::new(
            EventName::FeedbackUpdated,
            Some(&updated.department),
            &updated,
        )?);
        let last = append_all(&mut tx, self.dialect(), &events).await?;
        self.commit(tx, Some(last)).await?;
        Ok(ReplyOutcome {
            reply: record,
            repeated: false,
        })
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
