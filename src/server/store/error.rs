//! The store's error and result types, in a file of their own so that every part of the store
//! (and the server's import parsing) names them without importing `store/mod.rs`.

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
