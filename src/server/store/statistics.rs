//! The query planner's statistics after a bulk load.
//!
//! PostgreSQL plans from statistics that autovacuum refreshes a minute or more after a table
//! has changed. Right after the demo seed or a large import they still describe the empty
//! tables: the planner then took the `thread_messages` count of an item (a few messages of one
//! thread) for a hash join over every item of the department, and one item's read cost 2.6 ms
//! instead of 0.1 ms, until autovacuum caught up. A bulk load therefore ends with `ANALYZE`.
//!
//! SQLite keeps no statistics unless `ANALYZE` is run; its plans come from the schema alone
//! (and the queue's plan tests assert them as such), so nothing is done there.

use super::db::Store;
use super::dialect::Dialect;
use sqlx::Executor;

/// The tables a bulk load fills (the demo seed, a customer or transaction import), and those
/// the queue and an item's read join with them. Named, so that a role that does not own the
/// database's other tables (the system catalogs) is not warned about each of them.
const LOADED_TABLES: &str =
    "feedback, messages, identities, customers, customer_contacts, transactions, history";

impl Store {
    /// Refreshes the planner's statistics of the tables a bulk load fills (PostgreSQL
    /// `ANALYZE`; nothing on SQLite). The load itself is committed already: a failure is
    /// logged, not returned, so that an import that wrote its rows is not reported as failed.
    pub async fn refresh_statistics(&self) {
        if self.dialect() != Dialect::Postgres {
            return;
        }
        let sql = format!("ANALYZE {LOADED_TABLES}");
        if let Err(e) = self.writer.execute(sql.as_str()).await {
            tracing::warn!(error = %e, "could not refresh the planner's statistics after a bulk load");
        }
    }
}
