//! Delivery bookkeeping: every attempt to hand an outbound message to its channel is a row of
//! `delivery_attempts`, opened when the attempt starts and closed when it ends, so that an attempt
//! cut short by a crash still shows (as interrupted) and attempt numbers count across restarts.

use super::db::{Dialect, Store};
use super::error::StoreResult;
use super::rows::{self, get};
use super::time::{micros_to_time, now_micros};
use crate::domain::api::DeliveryAttempt;
use crate::domain::Message;
use sqlx::{Any, Transaction};
use std::time::Duration;

/// A post as the bridge finds it on its network: the listening tool's id for it and its URL
/// (either may be unknown, for feedback logged by an agent), with our item id.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PostRef {
    pub feedback_id: String,
    pub external_id: Option<String>,
    pub url: Option<String>,
}

/// What an outbound message answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers {
    pub in_reply_to: Option<PostRef>,
    pub thread_root: Option<PostRef>,
}

/// What the last attempt said when a server stopped in the middle of it.
pub const INTERRUPTED: &str = "interrupted: the server stopped during the attempt";

/// Messages a worker may deliver: outbound, not final yet.
const DELIVERABLE: &str = "direction = 'outbound' AND delivery_status IN ('queued', 'sent')";

/// Whether `begin_attempt` opened an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStart {
    /// Attempt number `n` (1 for the first) is open.
    Started(i64),
    /// The attempts were used up (earlier owners crashed mid-delivery each time).
    Exhausted,
    /// The caller's lease expired or another instance owns the message now; nothing written.
    NotHeld,
}

/// The database's clock in microseconds since the epoch, as SQL. Lease expiries are compared by
/// every instance, so they are all read off one clock rather than each host's own.
fn db_now(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
        Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Store {
    /// Claims deliverable messages (outbound, `queued`, or `sent` without a confirmation) that
    /// nobody owns or whose owner's lease expired: they become `owner`'s for `lease`. With
    /// `only`, just those messages (the fast path after a reply commits); at most `limit`,
    /// oldest first. Two instances never claim one message: on PostgreSQL the candidates are
    /// locked with `FOR UPDATE SKIP LOCKED` (a row another claim holds is left to it), on SQLite
    /// the single statement runs under the write lock.
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        lease: Duration,
        only: Option<&[String]>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        if limit == 0 || only.is_some_and(|ids| ids.is_empty()) {
            return Ok(Vec::new());
        }
        let now = db_now(self.dialect());
        let ids = match only {
            Some(ids) => format!(
                " AND id IN ({})",
                (0..ids.len())
                    .map(|i| format!("${}", i + 4))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        };
        let lock = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE messages SET lease_owner = $1, lease_until = {now} + $2 WHERE id IN (\
             SELECT id FROM messages WHERE {DELIVERABLE} \
             AND (lease_until IS NULL OR lease_until <= {now}){ids} \
             ORDER BY created_at, id LIMIT $3{lock}) RETURNING *"
        );
        let mut query = sqlx::query(&sql)
            .bind(owner)
            .bind(micros(lease))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        for id in only.unwrap_or_default() {
            query = query.bind(id);
        }
        let mut tx = self.begin_lease().await?;
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut claimed = rows
            .iter()
            .map(rows::message)
            .collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(claimed)
    }

    /// Extends `owner`'s lease on a message by `lease` from now; false when the lease is no
    /// longer `owner`'s (another instance took the message over) or the message is final.
    pub async fn renew_lease(
        &self,
        message_id: &str,
        owner: &str,
        lease: Duration,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_lease().await?;
        let renewed = sqlx::query(&format!(
            "UPDATE messages SET lease_until = {} + $1 \
             WHERE id = $2 AND lease_owner = $3 AND {DELIVERABLE}",
            db_now(self.dialect())
        ))
        .bind(micros(lease))
        .bind(message_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(renewed == 1)
    }

    /// Gives up `owner`'s leases on messages not final yet (a server stopping), so that another
    /// instance, or the next run, takes them over without waiting for the expiry.
    pub async fn release_leases(&self, owner: &str) -> StoreResult<u64> {
        let mut tx = self.begin_lease().await?;
        let released = sqlx::query(
            "UPDATE messages SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
        )
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(released)
    }

    /// Opens the next attempt of a message `owner` holds the lease of (renewing it by `lease`):
    /// its number (1 for the first), or why not. An attempt still open from an earlier owner
    /// (one that crashed or lost its lease mid-attempt) is closed first as interrupted.
    pub async fn begin_attempt(
        &self,
        message_id: &str,
        owner: &str,
        lease: Duration,
        max: i64,
    ) -> StoreResult<AttemptStart> {
        let mut tx = self.begin_lease().await?;
        // The lease must still be running: after its expiry another instance may claim the
        // message at any moment, so this one starts nothing new.
        let held = sqlx::query(&format!(
            "UPDATE messages SET lease_until = {now} + $1 \
             WHERE id = $2 AND lease_owner = $3 AND lease_until > {now} AND {DELIVERABLE}",
            now = db_now(self.dialect())
        ))
        .bind(micros(lease))
        .bind(message_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if held == 0 {
            return Ok(AttemptStart::NotHeld);
        }
        sqlx::query(
            "UPDATE delivery_attempts SET error = $1 \
             WHERE message_id = $2 AND http_status IS NULL AND error IS NULL",
        )
        .bind(INTERRUPTED)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
        let last: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(attempt), 0) FROM delivery_attempts WHERE message_id = $1",
        )
        .bind(message_id)
        .fetch_one(&mut *tx)
        .await?;
        let attempt = last + 1;
        if attempt > max {
            tx.commit().await?;
            return Ok(AttemptStart::Exhausted);
        }
        sqlx::query("INSERT INTO delivery_attempts (message_id, attempt, at) VALUES ($1, $2, $3)")
            .bind(message_id)
            .bind(attempt)
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(AttemptStart::Started(attempt))
    }

    /// Closes an attempt with the receiver's status and/or the error, and how long it took; only
    /// while `owner` holds the message (a new owner has closed it as interrupted). False when
    /// nothing was written.
    pub async fn finish_attempt(
        &self,
        message_id: &str,
        owner: &str,
        attempt: i64,
        http_status: Option<u16>,
        error: Option<&str>,
        duration: Duration,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_lease().await?;
        let written = sqlx::query(
            "UPDATE delivery_attempts SET http_status = $1, error = $2, duration_us = $3 \
             WHERE message_id = $4 AND attempt = $5 AND http_status IS NULL AND error IS NULL \
             AND EXISTS (SELECT 1 FROM messages WHERE id = $4 AND lease_owner = $6)",
        )
        .bind(http_status.map(i64::from))
        .bind(error)
        .bind(micros(duration))
        .bind(message_id)
        .bind(attempt)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(written == 1)
    }

    /// A transaction for lease bookkeeping. On SQLite the usual `BEGIN IMMEDIATE` on the writer
    /// connection; on PostgreSQL a plain one, without `begin_write`'s lock on the event table:
    /// these statements append no events, so claims and renewals need not queue behind event
    /// writers (row locks on `messages` order them against status changes).
    async fn begin_lease(&self) -> StoreResult<Transaction<'static, Any>> {
        Ok(match self.dialect() {
            Dialect::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.writer.begin().await?,
        })
    }

    /// Every attempt of a message, oldest first.
    pub async fn delivery_attempts(&self, message_id: &str) -> StoreResult<Vec<DeliveryAttempt>> {
        let rows = sqlx::query(
            "SELECT message_id, attempt, at, http_status, error, duration_us FROM delivery_attempts \
             WHERE message_id = $1 ORDER BY attempt",
        )
        .bind(message_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                let status: Option<i64> = get(row, "http_status")?;
                let duration: Option<i64> = get(row, "duration_us")?;
                Ok(DeliveryAttempt {
                    message_id: get(row, "message_id")?,
                    attempt: get(row, "attempt")?,
                    at: micros_to_time(get(row, "at")?),
                    http_status: status.and_then(|s| u16::try_from(s).ok()),
                    error: get(row, "error")?,
                    duration_ms: duration.map(|us| us as f64 / 1000.0),
                })
            })
            .collect()
    }

    /// One message by id.
    pub async fn message(&self, message_id: &str) -> StoreResult<Message> {
        let row = sqlx::query("SELECT * FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| super::error::StoreError::NotFound(format!("message {message_id}")))?;
        rows::message(&row)
    }
}

impl Store {
    /// The posts an outbound message answers: its item and the first item of its thread.
    pub async fn answers(&self, message: &Message) -> StoreResult<Answers> {
        let post = |id: Option<&str>| {
            let id = id.map(str::to_string);
            async move {
                let Some(id) = id else { return Ok(None) };
                let row: Option<(Option<String>, Option<String>)> =
                    sqlx::query_as("SELECT external_id, url FROM feedback WHERE id = $1")
                        .bind(&id)
                        .fetch_optional(self.reader())
                        .await?;
                Ok::<_, super::error::StoreError>(row.map(|(external_id, url)| PostRef {
                    feedback_id: id,
                    external_id,
                    url,
                }))
            }
        };
        Ok(Answers {
            in_reply_to: post(message.feedback_id.as_deref()).await?,
            thread_root: post(Some(&message.thread_id)).await?,
        })
    }
}
