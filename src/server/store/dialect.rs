//! Which database is behind the store. A module of its own, importing nothing, so that the
//! files that write SQL (rows.rs among them) can name the dialect without importing the
//! store's handle (db.rs), which imports them.

/// Which database is behind the pool; decides the few places where SQL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}
