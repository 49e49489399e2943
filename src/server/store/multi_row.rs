//! Multi-row `INSERT`s: many rows of one table in one statement, so that a batch of writes
//! costs one round trip to the database per table instead of one per row (on SQLite each
//! statement is a hop to the connection's worker thread and back).

use super::error::StoreResult;
use sqlx::{Any, Transaction};

/// One value of a row.
pub(crate) enum Value {
    Text(String),
    MaybeText(Option<String>),
    Int(i64),
}

/// Rows per statement at most: far below both databases' limits on bound parameters
/// (32,766 on SQLite, 65,535 on PostgreSQL) for the widest table written this way.
const ROWS_PER_STATEMENT: usize = 256;

/// Inserts `rows` into `table` (`"messages (id, thread_id, ...)"`), in order, each row with
/// as many values as the column list names; `returning` (e.g. `" RETURNING seq"`) collects
/// one integer per row, in the order the database returns them.
pub(crate) async fn insert(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    rows: Vec<Vec<Value>>,
    returning: Option<&str>,
) -> StoreResult<Vec<i64>> {
    let mut returned = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        let mut sql = format!("INSERT INTO {table} VALUES ");
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for j in 0..row.len() {
                n += 1;
                if j > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        match returning {
            Some(clause) => {
                sql.push_str(clause);
                let mut query = sqlx::query_scalar::<_, i64>(&sql);
                for value in chunk.into_iter().flatten() {
                    query = match value {
                        Value::Text(s) => query.bind(s),
                        Value::MaybeText(s) => query.bind(s),
                        Value::Int(i) => query.bind(i),
                    };
                }
                returned.extend(query.fetch_all(&mut **tx).await?);
            }
            None => {
                let mut query = sqlx::query(&sql);
                for value in chunk.into_iter().flatten() {
                    query = match value {
                        Value::Text(s) => query.bind(s),
                        Value::MaybeText(s) => query.bind(s),
                        Value::Int(i) => query.bind(i),
                    };
                }
                query.execute(&mut **tx).await?;
            }
        }
    }
    Ok(returned)
}
