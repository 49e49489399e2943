//! Intake sources: listening tools that post signed webhooks to `POST /v1/intake/{name}`. A
//! source's secret is never stored (see `server::intake`): only the salt it is derived from and
//! a SHA-256 of it, to tell a wrong key file from a bad signature.

use super::db::{audit_in, new_id, require_department, Store};
use super::error::StoreError;
use super::error::StoreResult;
use super::rows::get;
use super::time::{micros_to_time, now_micros};
use crate::domain::Channel;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

/// Longest source name (it is a path segment and part of every de-duplication key).
pub const MAX_SOURCE_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct IntakeSource {
    pub id: String,
    /// What the path names: `/v1/intake/{name}`.
    pub name: String,
    /// The channel of items that do not name one.
    pub channel: Option<Channel>,
    /// Items go to this department (instead of where routing sends them), and threads are
    /// joined only inside it.
    pub department: Option<String>,
    pub salt: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What `add_intake_source` stores.
pub struct NewIntakeSource<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub channel: Option<Channel>,
    pub department: Option<&'a str>,
    pub salt: &'a str,
    pub secret_hash: &'a str,
}

/// Why `name` cannot name a source, if it cannot: it is a path segment, so it is kept plain.
pub fn source_name_problem(name: &str) -> Option<String> {
    super::agents::plain_name_problem("source name", name, MAX_SOURCE_NAME)
}

const COLUMNS: &str = "id, name, channel, department, salt, secret_hash, created_at, revoked_at";

fn source(row: &AnyRow) -> StoreResult<IntakeSource> {
    let channel: Option<String> = get(row, "channel")?;
    Ok(IntakeSource {
        id: get(row, "id")?,
        name: get(row, "name")?,
        channel: match channel {
            Some(c) => Some(
                c.parse()
                    .map_err(|e| StoreError::Corrupt(format!("intake source channel: {e}")))?,
            ),
            None => None,
        },
        department: get(row, "department")?,
        salt: get(row, "salt")?,
        secret_hash: get(row, "secret_hash")?,
        created_at: micros_to_time(get(row, "created_at")?),
        revoked_at: get::<Option<i64>>(row, "revoked_at")?.map(micros_to_time),
    })
}

impl Store {
    /// Creates a source (the command line's `intake add`), audited as `intake.add`. A name in
    /// use by a source that is not revoked is `Taken`; an unknown department `Invalid`.
    pub async fn add_intake_source(&self, new: NewIntakeSource<'_>) -> StoreResult<IntakeSource> {
        if let Some(problem) = source_name_problem(new.name) {
            return Err(StoreError::InvalidField("/name", problem));
        }
        let mut tx = self.begin_write().await?;
        if let Some(d) = new.department {
            require_department(&mut tx, d).await?;
        }
        if live_source(&mut tx, new.name).await?.is_some() {
            tx.rollback().await?;
            return Err(StoreError::Taken(format!(
                "an intake source named '{}' exists already (revoke it first)",
                new.name
            )));
        }
        sqlx::query(&format!(
            "INSERT INTO intake_sources ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,NULL)"
        ))
        .bind(new.id)
        .bind(new.name)
        .bind(new.channel.map(|c| c.as_str()))
        .bind(new.department)
        .bind(new.salt)
        .bind(new.secret_hash)
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
        let detail = format!(
            "channel {}, department {}",
            new.channel.map(|c| c.as_str()).unwrap_or("-"),
            new.department.unwrap_or("(routing)")
        );
        audit_in(&mut tx, None, "intake.add", new.name, "ok", &detail).await?;
        let added = live_source(&mut tx, new.name)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the new intake source vanished".into()))?;
        self.commit(tx, None).await?;
        Ok(added)
    }

    /// Every source, revoked ones too, oldest first.
    pub async fn intake_sources(&self) -> StoreResult<Vec<IntakeSource>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM intake_sources ORDER BY created_at, id"
        ))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(source).collect()
    }

    /// The source of that name that is not revoked.
    pub async fn live_intake_source(&self, name: &str) -> StoreResult<Option<IntakeSource>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM intake_sources WHERE name = $1 AND revoked_at IS NULL"
        ))
        .bind(name)
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(source).transpose()
    }

    /// Revokes the live source of that name (its secret stops working at once); false when
    /// there is none. Audited as `intake.revoke`.
    pub async fn revoke_intake_source(&self, name: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE intake_sources SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
        )
        .bind(now_micros())
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        audit_in(&mut tx, None, "intake.revoke", name, "ok", "").await?;
        self.commit(tx, None).await?;
        Ok(true)
    }
}

async fn live_source(
    tx: &mut Transaction<'static, Any>,
    name: &str,
) -> StoreResult<Option<IntakeSource>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM intake_sources WHERE name = $1 AND revoked_at IS NULL"
    ))
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(source).transpose()
}

/// The item a source's earlier webhook with this id made, if any.
pub(crate) async fn webhook_item(
    tx: &mut Transaction<'static, Any>,
    source: &str,
    webhook_id: &str,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT feedback_id FROM intake_webhooks WHERE source = $1 AND webhook_id = $2",
    )
    .bind(source)
    .bind(webhook_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Remembers that the source's webhook with this id made `feedback_id`.
pub(crate) async fn record_webhook(
    tx: &mut Transaction<'static, Any>,
    source: &str,
    webhook_id: &str,
    feedback_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO intake_webhooks (source, webhook_id, feedback_id, at) VALUES ($1,$2,$3,$4)",
    )
    .bind(source)
    .bind(webhook_id)
    .bind(feedback_id)
    .bind(now_micros())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A new id for a source.
pub fn new_source_id() -> String {
    new_id("is")
}
