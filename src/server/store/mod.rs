//! The CRM store: SQLite (embedded default) or PostgreSQL, through sqlx's `Any` driver so that
//! one set of queries serves both. Queries use `$N` placeholders, which both drivers accept.
//!
//! Writes never fail with "database is locked": on SQLite every write transaction goes through a
//! one-connection writer pool and starts with `BEGIN IMMEDIATE` (the write lock is taken up
//! front, so a read-then-write transaction cannot hit a busy snapshot), with a busy timeout for
//! other processes. On PostgreSQL, write transactions lock the event table (readers still
//! pass) so that event sequence numbers commit in order: a subscriber reading
//! `seq > last` can then never skip an event that commits later.

mod agents;
mod customer_data;
mod customers;
mod deliveries;
mod events;
mod feedback;
mod identities;
mod replies;
mod rows;
mod scope;

pub use crate::domain::recipient::{recipient, ReplyRecipient};
pub use agents::{hash_token, AuthenticatedAgent, NewAgent};
pub use customer_data::{Progress, IMPORT_BATCH};
pub use customers::NewCustomer;
pub use deliveries::INTERRUPTED;
pub use events::EventRow;
pub use feedback::{FeedbackFilter, Intake};
pub use replies::ReplyOutcome;
pub use scope::DepartmentScope;

use chrono::{DateTime, TimeZone, Utc};
use rand::Rng;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::watch;

/// Which database is behind the pool; decides the few places where SQL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    /// The row changed since the caller read it (`If-Match` mismatch).
    #[error("version mismatch: current version is {current}")]
    VersionMismatch { current: i64 },
    #[error("{0}")]
    Conflict(String),
    /// The thread has messages newer than the one the agent based a reply on.
    #[error("the thread changed: {} newer message(s)", .0.len())]
    Stale(Vec<crate::domain::Message>),
    #[error("{0}")]
    Invalid(String),
    /// Like `Invalid`, about one field of the request (a JSON pointer).
    #[error("{1}")]
    InvalidField(&'static str, String),
    /// The object exists already and is not the caller's to see (an `external_id` taken in
    /// another department).
    #[error("{0}")]
    Taken(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The CRM's storage, shared by every request handler.
#[derive(Clone)]
pub struct Store {
    reader: AnyPool,
    writer: AnyPool,
    dialect: Dialect,
    /// The newest committed event sequence number; SSE subscribers wait on it.
    latest_seq: watch::Sender<i64>,
    url: String,
}

impl Store {
    /// Opens (creating if needed) the database at `db`: a SQLite file path or `sqlite:` URL, or
    /// a `postgres://` URL; runs the schema migrations.
    pub async fn open(db: &str) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let (url, dialect) = database_url(db)?;
        let (reader, writer) = match dialect {
            Dialect::Sqlite => {
                let reader = sqlite_pool(&url, 8).await?;
                let writer = sqlite_pool(&url, 1).await?;
                (reader, writer)
            }
            Dialect::Postgres => {
                let opts = AnyConnectOptions::from_str(&url)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                (pool.clone(), pool)
            }
        };
        let migrator = match dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator
            .run(&writer)
            .await
            .map_err(|e| StoreError::Db(e.into()))?;
        let latest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
            .fetch_one(&reader)
            .await?;
        let (latest_seq, _) = watch::channel(latest);
        let store = Store {
            reader,
            writer,
            dialect,
            latest_seq,
            url,
        };
        store.backfill_contacts().await?;
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A receiver that changes whenever new events are committed.
    pub fn subscribe_seq(&self) -> watch::Receiver<i64> {
        self.latest_seq.subscribe()
    }

    /// Tells local subscribers that events up to `seq` are committed (also used by the
    /// PostgreSQL LISTEN task when another server instance wrote them).
    pub fn announce_seq(&self, seq: i64) {
        self.latest_seq.send_if_modified(|cur| {
            if seq > *cur {
                *cur = seq;
                true
            } else {
                false
            }
        });
    }

    pub(crate) fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// Begins a write transaction (see the module comment for why it is done this way).
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, Any>> {
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.writer.begin().await?,
        };
        if self.dialect == Dialect::Postgres {
            // Serialises event appends so that sequence numbers become visible in order
            // (EXCLUSIVE still lets readers in; a statement with no result row suits `Any`).
            tx.execute("LOCK TABLE events IN EXCLUSIVE MODE").await?;
        }
        Ok(tx)
    }

    /// Commits and announces the events the transaction appended.
    pub(crate) async fn commit(
        &self,
        tx: Transaction<'static, Any>,
        last_seq: Option<i64>,
    ) -> StoreResult<()> {
        tx.commit().await?;
        if let Some(seq) = last_seq {
            self.announce_seq(seq);
        }
        Ok(())
    }

    /// Records a mutation in the audit log, outside any other transaction (used for refusals).
    pub async fn audit(
        &self,
        agent_id: Option<&str>,
        action: &str,
        target: &str,
        outcome: &str,
        detail: &str,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        audit_in(&mut tx, agent_id, action, target, outcome, detail).await?;
        self.commit(tx, None).await
    }

    /// Counts rows of the audit log matching an action (for tests and admin tooling).
    pub async fn audit_entries(
        &self,
        action_prefix: &str,
    ) -> StoreResult<Vec<(Option<String>, String, String, String)>> {
        let rows: Vec<(Option<String>, String, String, String)> = sqlx::query_as(
            "SELECT agent_id, action, target, outcome FROM audit_log WHERE action LIKE $1 ORDER BY id",
        )
        .bind(format!("{action_prefix}%"))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows)
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// Appends an audit entry inside a transaction, so that a mutation and its audit commit together.
pub(crate) async fn audit_in(
    tx: &mut Transaction<'static, Any>,
    agent_id: Option<&str>,
    action: &str,
    target: &str,
    outcome: &str,
    detail: &str,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit_log (at, agent_id, action, target, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(now_micros())
        .bind(agent_id)
        .bind(action)
        .bind(target)
        .bind(outcome)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `Invalid` unless the department exists (checked inside the caller's transaction).
pub(crate) async fn require_department(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> StoreResult<()> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM departments WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| StoreError::Invalid(format!("unknown department '{id}'")))
}

/// `Invalid` unless the customer exists (checked inside the caller's transaction).
pub(crate) async fn require_customer(conn: &mut sqlx::AnyConnection, id: &str) -> StoreResult<()> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| StoreError::Invalid(format!("no customer '{id}'")))
}

fn database_url(db: &str) -> StoreResult<(String, Dialect)> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return Ok((db.to_string(), Dialect::Postgres));
    }
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    if path.is_empty() {
        return Err(StoreError::Invalid("empty database path".into()));
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Invalid(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
    }
    Ok((format!("sqlite://{path}?mode=rwc"), Dialect::Sqlite))
}

async fn sqlite_pool(url: &str, max: u32) -> StoreResult<AnyPool> {
    let opts = AnyConnectOptions::from_str(url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; NORMAL sync is durable in WAL mode
                // except for the last transactions on power loss, the usual trade-off.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect_with(opts)
        .await?;
    Ok(pool)
}

pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

pub fn micros_to_time(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

/// A new opaque id with a readable prefix, e.g. `fb_3f9a...`.
pub fn new_id(prefix: &str) -> String {
    let n: u128 = rand::thread_rng().gen();
    format!("{prefix}_{:020x}", n & ((1u128 << 80) - 1))
}
