//! How the pools check a connection before handing it out.
//!
//! sqlx pings every idle connection before it lends it (`test_before_acquire`, on by default):
//! on SQLite a round trip to the connection's worker thread, on PostgreSQL one to the server,
//! before every statement run on a pool; a read of an item with its thread paid four of them
//! on top of its four statements. Here a connection is pinged only when it has sat idle for
//! [`PING_IDLE_AFTER`] (long enough for the server to have gone away or restarted unnoticed):
//! a connection that ran a statement a moment ago is lent as it is, and if it has broken since,
//! the statement fails as it would have had it broken just after a ping.

use sqlx::pool::PoolConnectionMetadata;
use sqlx::AnyConnection;
use std::time::Duration;

/// A connection idle this long is pinged before it is lent again.
pub(crate) const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// The pools' `before_acquire` check (with `test_before_acquire` off): a ping for a
/// connection idle since [`PING_IDLE_AFTER`] or longer; one that fails is closed and the pool
/// lends (or opens) another, as after a failed `test_before_acquire` ping.
pub(crate) fn ping_if_idle(
    conn: &mut AnyConnection,
    meta: PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    use sqlx::Connection;
    Box::pin(async move {
        if meta.idle_for >= PING_IDLE_AFTER {
            conn.ping().await?;
        }
        Ok(true)
    })
}
