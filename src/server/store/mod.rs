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
mod audit_log;
mod backlog;
mod conversation;
mod customer_data;
mod customers;
mod deliveries;
mod events;
mod feedback;
mod identities;
mod intake;
mod metrics;
mod metrics_mirror;
mod multi_row;
mod pooling;
mod queue;
mod replies;
mod rows;
mod scope;
mod search;
mod triage;

pub use crate::domain::recipient::{recipient, ReplyRecipient};
pub use agents::{
    department_id_problem, hash_token, AuthenticatedAgent, NewAgent, SetupState, MAX_DEPARTMENT_ID,
};
pub use audit_log::{AuditFilter, AuditScope};
pub use customer_data::{Progress, IMPORT_BATCH};
pub use customers::NewCustomer;
pub use deliveries::{Answers, AttemptStart, PostRef, INTERRUPTED};
pub use events::EventRow;
pub use feedback::{Correction, FeedbackFilter, Intake, PatchPolicy, Via};
pub use intake::{new_source_id, source_name_problem, IntakeSource, NewIntakeSource};
pub use queue::{Plan, Walk, SCAN_BUDGET};
pub use replies::ReplyOutcome;
pub use scope::DepartmentScope;
pub use search::{stored_words, TextQuery};

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
    /// The database file exists but is not a sound SQLite database (found when opening it; the
    /// message names the file).
    #[error("{0}")]
    BadFile(String),
}

impl StoreError {
    /// The database refused a write for lack of space (SQLITE_FULL, PostgreSQL's `disk_full`).
    pub fn is_storage_full(&self) -> bool {
        let StoreError::Db(sqlx::Error::Database(e)) = self else {
            return false;
        };
        matches!(e.code().as_deref(), Some("13") | Some("53100"))
    }
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
    /// The reply writer's queue (group commit, see `create_reply`); `None` in the writer's
    /// own handle.
    replies: Option<replies::ReplyQueue>,
    clock: Clock,
    /// How long write transactions waited for the writer (pool and write lock), for `/metrics`.
    write_waits: prometheus::Histogram,
    /// The copy of the last month's items the team's windowed measures are ranked from.
    metrics_mirror: std::sync::Arc<metrics_mirror::MirrorCell>,
}

/// Where the store's "now" comes from for the times the team's measures are computed from
/// (arrivals without a time, replies, resolutions, links, the summary's window): the system
/// clock, or one a test sets so that it can script an organisation at known instants.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<std::sync::Arc<std::sync::atomic::AtomicI64>>);

impl Clock {
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `at` until it is set again.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock(Some(std::sync::Arc::new(at.timestamp_micros().into())))
    }

    /// Moves a manual clock (and every store sharing it) to `at`; the system clock ignores it.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(t) = &self.0 {
            t.store(at.timestamp_micros(), std::sync::atomic::Ordering::SeqCst);
        }
    }

    pub fn now_micros(&self) -> i64 {
        match &self.0 {
            Some(t) => t.load(std::sync::atomic::Ordering::SeqCst),
            None => now_micros(),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `db`: a SQLite file path or `sqlite:` URL, or
    /// a `postgres://` URL; runs the schema migrations.
    pub async fn open(db: &str) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let (url, dialect) = database_url(db)?;
        let (reader, writer) = match dialect {
            Dialect::Sqlite => {
                check_sqlite_file(std::path::Path::new(sqlite_path(db))).await?;
                let reader = sqlite_pool(&url, 8).await?;
                let writer = sqlite_pool(&url, 1).await?;
                (reader, writer)
            }
            Dialect::Postgres => {
                let opts = AnyConnectOptions::from_str(&url)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .test_before_acquire(false)
                    .before_acquire(pooling::ping_if_idle)
                    .after_release(discard_if_in_transaction)
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
        let write_waits = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "earshot_db_write_wait_seconds",
                "Time a write transaction waited for the database writer (pool and write lock)",
            )
            .buckets(vec![0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
        )
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut store = Store {
            reader,
            writer,
            dialect,
            latest_seq,
            url,
            replies: None,
            clock: Clock::system(),
            write_waits,
            metrics_mirror: Default::default(),
        };
        store.backfill_contacts().await?;
        store.replies = Some(replies::ReplyQueue::start(store.clone()));
        store.backfill_search().await?;
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The same store reading the time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Store {
        self.clock = clock;
        if self.replies.is_some() {
            // The reply writer holds its own handle: start one that reads the same clock (the
            // old writer ends when its queue's last sender, dropped here, is gone).
            self.replies = None;
            self.replies = Some(replies::ReplyQueue::start(self.clone()));
        }
        self
    }

    /// The write-wait histogram, for the server's `/metrics` registry.
    pub fn write_waits(&self) -> &prometheus::Histogram {
        &self.write_waits
    }

    /// The reader and writer pools' (size, idle) connections; one pool twice on PostgreSQL.
    pub fn pool_state(&self) -> [(&'static str, u32, usize); 2] {
        [
            ("reader", self.reader.size(), self.reader.num_idle()),
            ("writer", self.writer.size(), self.writer.num_idle()),
        ]
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
        let waited = self.write_waits.start_timer();
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.writer.begin().await?,
        };
        if self.dialect == Dialect::Postgres {
            // Serialises event appends so that sequence numbers become visible in order
            // (EXCLUSIVE still lets readers in; a statement with no result row suits `Any`).
            tx.execute("LOCK TABLE events IN EXCLUSIVE MODE").await?;
        }
        waited.observe_duration();
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
    let path = sqlite_path(db);
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

/// The file path of a SQLite `--db` value (a path or a `sqlite:` URL).
fn sqlite_path(db: &str) -> &str {
    db.strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db)
}

/// Refuses, at once and naming the file, an existing database file that is not a sound SQLite
/// database, before any pool opens it (a pool would retry it until its acquire timeout and then
/// blame the timeout). Reads only: the file is opened read-only and, unless a crash left a WAL
/// beside it, immutable, so no `-wal`/`-shm` file is created and nothing is written. A missing
/// or empty file is a new database.
async fn check_sqlite_file(path: &std::path::Path) -> StoreResult<()> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
    use sqlx::Connection;
    let shown = path.display();
    let bad = |what: &str, why: String| {
        StoreError::BadFile(format!(
            "{shown}: {what} ({why}); the file was left as it is"
        ))
    };
    let size = match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            return Err(bad("not a database", "not a regular file".into()));
        }
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::BadFile(format!("{shown}: cannot read it: {e}"))),
    };
    if size == 0 {
        return Ok(());
    }
    let mut header = [0u8; 100];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(path)
            .map_err(|e| StoreError::BadFile(format!("{shown}: cannot read it: {e}")))?;
        let mut got = 0;
        while got < header.len() {
            match f.read(&mut header[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => return Err(StoreError::BadFile(format!("{shown}: cannot read it: {e}"))),
            }
        }
        if got < header.len() {
            return Err(bad(
                "not a database",
                format!("{size} bytes, shorter than the SQLite header"),
            ));
        }
    }
    if &header[..16] != b"SQLite format 3\0" {
        return Err(bad(
            "not a database",
            "it does not start with the SQLite header".into(),
        ));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65536u64,
        n => u64::from(n),
    };
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(bad(
            "malformed database",
            format!("invalid page size {page_size} in the header"),
        ));
    }
    // A crash can leave committed pages in the WAL only; the main file alone is then not the
    // whole database, so its size is not checked and SQLite reads it with its WAL.
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    let has_wal = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    if !has_wal {
        let pages = u32::from_be_bytes([header[28], header[29], header[30], header[31]]);
        let counter_valid = header[24..28] == header[92..96];
        if size % page_size != 0 {
            return Err(bad(
                "malformed database",
                format!("{size} bytes end inside a page of {page_size} bytes: truncated"),
            ));
        }
        if counter_valid && u64::from(pages) * page_size > size {
            return Err(bad(
                "malformed database",
                format!(
                    "the header counts {pages} pages of {page_size} bytes, the file has only {}: truncated",
                    size / page_size
                ),
            ));
        }
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(!has_wal)
        .create_if_missing(false);
    let sqlite_says = |e: sqlx::Error| match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("26") => {
            bad("not a database", d.message().to_string())
        }
        sqlx::Error::Database(d) if d.code().as_deref() == Some("11") => {
            bad("malformed database", d.message().to_string())
        }
        _ => StoreError::BadFile(format!("{shown}: cannot open it as a database: {e}")),
    };
    let mut conn = SqliteConnection::connect_with(&opts)
        .await
        .map_err(sqlite_says)?;
    let checked: Result<Vec<String>, _> = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_all(&mut conn)
        .await;
    let _ = conn.close().await;
    let problems = checked.map_err(sqlite_says)?;
    if problems != ["ok"] {
        let first: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
        return Err(bad(
            "malformed database",
            format!("quick_check: {}", first.join("; ")),
        ));
    }
    Ok(())
}

/// The pools' `after_release` check: a connection still inside a transaction is closed, and the
/// pool opens a fresh one for the next caller.
///
/// When a statement or the COMMIT of a SQLite transaction fails with SQLITE_FULL (or an I/O
/// error), SQLite may already have rolled the transaction back by itself; sqlx's rollback on
/// drop then fails too ("no transaction is active") and its transaction depth stays at 1, so
/// every later `begin_with("BEGIN IMMEDIATE")` on that connection (the only writer) fails with
/// "attempted to call begin_with at non-zero transaction depth" until a restart. On SQLite the
/// rollback of a dropped transaction is queued to the connection's worker, hence the ping
/// before looking again. (PostgreSQL's driver lowers its depth when it queues the rollback, so
/// it does not get here, but the check is the same.)
fn discard_if_in_transaction(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    use sqlx::Connection;
    Box::pin(async move {
        if !conn.is_in_transaction() {
            return Ok(true);
        }
        conn.ping().await?;
        if conn.is_in_transaction() {
            tracing::warn!(
                "closing a database connection left inside a failed transaction; the next write opens a fresh one"
            );
            return Ok(false);
        }
        Ok(true)
    })
}

async fn sqlite_pool(url: &str, max: u32) -> StoreResult<AnyPool> {
    let opts = AnyConnectOptions::from_str(url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .before_acquire(pooling::ping_if_idle)
        .after_release(discard_if_in_transaction)
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
