//! The store's handle ([`Store`]): its pools, how they are opened and checked, and the write
//! transaction every mutation goes through. Here rather than in `store/mod.rs`, so that the
//! files that add `impl Store` blocks import it without importing the module that re-exports
//! them.
//!
//! Writes never fail with "database is locked": on SQLite every write transaction goes through a
//! one-connection writer pool and starts with `BEGIN IMMEDIATE` (the write lock is taken up
//! front, so a read-then-write transaction cannot hit a busy snapshot), with a busy timeout for
//! other processes. On PostgreSQL, write transactions lock the event table (readers still
//! pass) so that event sequence numbers commit in order: a subscriber reading
//! `seq > last` can then never skip an event that commits later.

use super::error::{StoreError, StoreResult};
use super::metrics_mirror::MirrorCell;
use super::reply_queue::ReplyQueue;
use super::time::{now_micros, Clock};
use rand::Rng;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::watch;

pub use super::dialect::Dialect;

/// The CRM's storage, shared by every request handler.
#[derive(Clone)]
pub struct Store {
    pub(super) reader: AnyPool,
    pub(super) writer: AnyPool,
    pub(super) dialect: Dialect,
    /// The newest committed event sequence number; SSE subscribers wait on it.
    pub(super) latest_seq: watch::Sender<i64>,
    pub(super) url: String,
    /// The reply writer's queue (group commit, see `create_reply`); `None` in the writer's
    /// own handle.
    pub(super) replies: Option<ReplyQueue>,
    pub(super) clock: Clock,
    /// How long write transactions waited for the writer (pool and write lock), for `/metrics`.
    pub(super) write_waits: prometheus::Histogram,
    /// The copy of the last month's items the team's windowed measures are ranked from.
    pub(super) metrics_mirror: std::sync::Arc<MirrorCell>,
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
                    .before_acquire(super::pooling::ping_if_idle)
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
        store.replies = Some(ReplyQueue::start(store.clone()));
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
            self.replies = Some(ReplyQueue::start(self.clone()));
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
    require_row(conn, "SELECT id FROM departments WHERE id = $1", id, || {
        format!("unknown department '{id}'")
    })
    .await
}

/// `Invalid` unless the customer exists (checked inside the caller's transaction).
pub(crate) async fn require_customer(conn: &mut sqlx::AnyConnection, id: &str) -> StoreResult<()> {
    require_row(conn, "SELECT id FROM customers WHERE id = $1", id, || {
        format!("no customer '{id}'")
    })
    .await
}

/// `Invalid(missing())` unless `sql`, a `SELECT id ... WHERE id = $1`, finds `id`.
async fn require_row(
    conn: &mut sqlx::AnyConnection,
    sql: &'static str,
    id: &str,
    missing: impl FnOnce() -> String,
) -> StoreResult<()> {
    let found: Option<String> = sqlx::query_scalar(sql)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| StoreError::Invalid(missing()))
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
        .before_acquire(super::pooling::ping_if_idle)
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

/// A new opaque id with a readable prefix, e.g. `fb_3f9a...`.
pub fn new_id(prefix: &str) -> String {
    let n: u128 = rand::thread_rng().gen();
    format!("{prefix}_{:020x}", n & ((1u128 << 80) - 1))
}
