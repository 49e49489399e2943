//! The wait for shutdown that every long-lived task of the server selects on. A leaf, so that
//! those tasks' files do not import `server/mod.rs`, which starts them.

use tokio::sync::watch;

/// Resolves when the server is shutting down (or its shutdown sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}
