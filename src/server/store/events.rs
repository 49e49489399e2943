//! The append-only event log that SSE subscribers read. An event carries the department it
//! belongs to (if any), so that the stream never shows an agent another department's items.

use super::db::{Dialect, Store};
use super::error::StoreResult;
use super::rows::{get, parse};
use super::time::{micros_to_time, now_micros};
use crate::domain::{Event, EventName};
use sqlx::{Any, Transaction};

/// An event as stored: the event plus the department that may see it (`None`: everyone).
#[derive(Debug, Clone)]
pub struct EventRow {
    pub event: Event,
    pub department: Option<String>,
}

/// Appends an event inside a write transaction and returns its sequence number.
pub(crate) async fn append(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    name: EventName,
    department: Option<&str>,
    data: &impl serde::Serialize,
) -> StoreResult<i64> {
    append_all(tx, dialect, &[NewEvent::new(name, department, data)?]).await
}

/// One event to append with [`append_all`]: its name, the department that may see it, and its
/// data as JSON.
pub(crate) struct NewEvent<'a> {
    pub name: EventName,
    pub department: Option<&'a str>,
    pub data: String,
}

impl<'a> NewEvent<'a> {
    pub fn new(
        name: EventName,
        department: Option<&'a str>,
        data: &impl serde::Serialize,
    ) -> StoreResult<NewEvent<'a>> {
        let data = serde_json::to_string(data)
            .map_err(|e| super::error::StoreError::Invalid(e.to_string()))?;
        Ok(NewEvent {
            name,
            department,
            data,
        })
    }
}

/// Appends several events in one statement (one round trip to the database instead of one
/// each: a reply appends two or three), in the order given, and returns the last sequence
/// number.
pub(crate) async fn append_all(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    events: &[NewEvent<'_>],
) -> StoreResult<i64> {
    if events.is_empty() {
        return Ok(0);
    }
    let rows: Vec<String> = (0..events.len())
        .map(|i| {
            let p = i * 4;
            format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4)
        })
        .collect();
    let sql = format!(
        "INSERT INTO events (name, department, data, created_at) VALUES {} RETURNING seq",
        rows.join(", ")
    );
    let now = now_micros();
    let mut query = sqlx::query_scalar::<_, i64>(&sql);
    for e in events {
        query = query
            .bind(e.name.as_str())
            .bind(e.department)
            .bind(e.data.as_str())
            .bind(now);
    }
    let last = query
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .max()
        .unwrap_or(0);
    if dialect == Dialect::Postgres {
        // One wake-up for the batch: subscribers read every event up to it from the table.
        sqlx::query(&format!("NOTIFY earshot_events, '{last}'"))
            .execute(&mut **tx)
            .await?;
    }
    Ok(last)
}

impl Store {
    /// Events after `after`, oldest first, at most `limit`.
    pub async fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<EventRow>> {
        let rows = sqlx::query(
            "SELECT seq, name, department, data, created_at FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                let data: String = get(row, "data")?;
                Ok(EventRow {
                    event: Event {
                        seq: get(row, "seq")?,
                        name: parse::<EventName>(row, "name")?,
                        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                        created_at: micros_to_time(get(row, "created_at")?),
                    },
                    department: get(row, "department")?,
                })
            })
            .collect()
    }

    /// The oldest and newest sequence numbers still in the log (0, 0 when empty).
    pub async fn event_bounds(&self) -> StoreResult<(i64, i64)> {
        let (min, max): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT MIN(seq), MAX(seq) FROM events")
                .fetch_one(self.reader())
                .await?;
        Ok((min.unwrap_or(0), max.unwrap_or(0)))
    }

    /// Drops events older than the newest `keep`; a subscriber resuming from before that
    /// point gets `stream.reset`.
    pub async fn prune_events(&self, keep: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - $1")
                .bind(keep)
                .execute(&mut *tx)
                .await?;
        self.commit(tx, None).await?;
        Ok(done.rows_affected())
    }

    /// Appends one event in its own transaction (presence and other events with no other write).
    pub async fn publish(
        &self,
        name: EventName,
        department: Option<&str>,
        data: &impl serde::Serialize,
    ) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        let seq = append(&mut tx, self.dialect(), name, department, data).await?;
        self.commit(tx, Some(seq)).await?;
        Ok(seq)
    }
}
