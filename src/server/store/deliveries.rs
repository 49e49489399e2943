//! Delivery bookkeeping: every attempt to hand an outbound message to its channel is a row of
//! `delivery_attempts`, opened when the attempt starts and closed when it ends, so that an attempt
//! cut short by a crash still shows (as interrupted) and attempt numbers count across restarts.

use super::rows::{self, get};
use super::{micros_to_time, now_micros, Store, StoreResult};
use crate::domain::api::DeliveryAttempt;
use crate::domain::Message;

/// What the last attempt said when a server stopped in the middle of it.
pub const INTERRUPTED: &str = "interrupted: the server stopped during the attempt";

impl Store {
    /// Opens the next attempt of a message and returns its number (1 for the first), or `None`
    /// when `max` attempts were made already.
    pub async fn begin_attempt(&self, message_id: &str, max: i64) -> StoreResult<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let last: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(attempt), 0) FROM delivery_attempts WHERE message_id = $1",
        )
        .bind(message_id)
        .fetch_one(&mut *tx)
        .await?;
        let attempt = last + 1;
        if attempt > max {
            return Ok(None);
        }
        sqlx::query("INSERT INTO delivery_attempts (message_id, attempt, at) VALUES ($1, $2, $3)")
            .bind(message_id)
            .bind(attempt)
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
        self.commit(tx, None).await?;
        Ok(Some(attempt))
    }

    /// Closes an attempt with the receiver's status and/or the error, and how long it took.
    pub async fn finish_attempt(
        &self,
        message_id: &str,
        attempt: i64,
        http_status: Option<u16>,
        error: Option<&str>,
        duration: std::time::Duration,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE delivery_attempts SET http_status = $1, error = $2, duration_us = $3 \
             WHERE message_id = $4 AND attempt = $5",
        )
        .bind(http_status.map(i64::from))
        .bind(error)
        .bind(i64::try_from(duration.as_micros()).unwrap_or(i64::MAX))
        .bind(message_id)
        .bind(attempt)
        .execute(&mut *tx)
        .await?;
        self.commit(tx, None).await
    }

    /// Marks the still-open attempts of these messages as interrupted (called at startup, before
    /// they are attempted again).
    pub async fn close_interrupted_attempts(&self, message_ids: &[String]) -> StoreResult<()> {
        if message_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for id in message_ids {
            sqlx::query(
                "UPDATE delivery_attempts SET error = $1 \
                 WHERE message_id = $2 AND http_status IS NULL AND error IS NULL",
            )
            .bind(INTERRUPTED)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        self.commit(tx, None).await
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
            .ok_or_else(|| super::StoreError::NotFound(format!("message {message_id}")))?;
        rows::message(&row)
    }
}
