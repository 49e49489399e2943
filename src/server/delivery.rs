//! Delivery of outbound messages after a reply commits. Channels are adapters behind one trait;
//! the demo's adapter is a loopback sink that acknowledges, so the whole loop is visible.
//! Messages still queued when the server starts (a crash mid-delivery) are picked up again.

use super::store::Store;
use crate::domain::{DeliveryStatus, Message};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// An outbound channel adapter.
#[async_trait::async_trait]
pub trait OutboundChannel: Send + Sync {
    /// Delivers one message; `Err` carries the reason shown to agents.
    async fn deliver(&self, message: &Message) -> Result<(), String>;
}

/// Acknowledges every message (demo mode): the networks are simulated, the loop is real.
pub struct LoopbackSink;

#[async_trait::async_trait]
impl OutboundChannel for LoopbackSink {
    async fn deliver(&self, _message: &Message) -> Result<(), String> {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        Ok(())
    }
}

/// Hands message ids to the delivery worker.
#[derive(Clone)]
pub struct DeliveryQueue {
    tx: Option<mpsc::UnboundedSender<Message>>,
}

impl DeliveryQueue {
    /// Starts the worker. Without an adapter (outside demo mode, until webhooks are configured)
    /// messages stay queued and visible as such.
    pub fn start(store: Store, demo: bool, shutdown: watch::Receiver<bool>) -> DeliveryQueue {
        if !demo {
            return DeliveryQueue { tx: None };
        }
        let adapter: Arc<dyn OutboundChannel> = Arc::new(LoopbackSink);
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(worker(store, adapter, rx, shutdown));
        DeliveryQueue { tx: Some(tx) }
    }

    pub fn enqueue(&self, messages: &[Message]) {
        if let Some(tx) = &self.tx {
            for m in messages {
                let _ = tx.send(m.clone());
            }
        }
    }
}

async fn worker(
    store: Store,
    adapter: Arc<dyn OutboundChannel>,
    mut rx: mpsc::UnboundedReceiver<Message>,
    mut shutdown: watch::Receiver<bool>,
) {
    match store.queued_messages().await {
        Ok(left) => {
            for m in left {
                deliver_one(&store, adapter.as_ref(), &m).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read queued messages"),
    }
    loop {
        let message = tokio::select! {
            m = rx.recv() => match m { Some(m) => m, None => return },
            _ = crate::server::stopped(&mut shutdown) => return,
        };
        deliver_one(&store, adapter.as_ref(), &message).await;
    }
}

async fn deliver_one(store: &Store, adapter: &dyn OutboundChannel, message: &Message) {
    let (status, reason) = match adapter.deliver(message).await {
        Ok(()) => (DeliveryStatus::Delivered, None),
        Err(reason) => (DeliveryStatus::Failed, Some(reason)),
    };
    if let Err(e) = store
        .set_message_status(&message.id, status, reason.as_deref())
        .await
    {
        tracing::warn!(error = %e, message = %message.id, "cannot record delivery status");
    }
}
