//! Delivery of outbound messages after a reply commits. Channels are adapters behind one trait
//! ([`OutboundChannel`]); the reference adapter posts signed webhooks ([`webhook`]), and the demo
//! points it at a loopback sink on the server itself ([`sink`]) so the whole loop is visible.
//!
//! Status flow of a message: `queued` (committed with the reply) → `sent` (the channel accepted
//! it) → `delivered`; or → `failed` with the reason, after a refusal or when the bounded retries
//! (exponential backoff) are used up. Every attempt is a row of `delivery_attempts`. Messages
//! still `queued`, or `sent` without their confirmation recorded, when the server starts (it
//! crashed mid-delivery) are attempted again with the same webhook id, so receivers de-duplicate.

pub mod config;
pub mod sink;
pub mod webhook;

pub use config::{Endpoint, OutboundConfig, RetryPolicy};

use super::store::Store;
use crate::domain::{Channel, DeliveryStatus, Message};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The channel took the message.
    Delivered { http_status: Option<u16> },
    /// Worth trying again: a transport error, a timeout, 408, 429 or 5xx.
    Retry {
        http_status: Option<u16>,
        error: String,
        /// The receiver asked for at least this long (Retry-After).
        retry_after: Option<Duration>,
    },
    /// Trying again will not help: a refusal, or nowhere to send it.
    Fatal {
        http_status: Option<u16>,
        error: String,
    },
}

/// An outbound channel adapter: one attempt to hand a message over. Retries, backoff and the
/// record of attempts are the worker's job, the same for every adapter.
#[async_trait::async_trait]
pub trait OutboundChannel: Send + Sync {
    async fn attempt(&self, message: &Message) -> Attempt;
}

/// A channel nothing is configured for: every attempt is a final failure with the reason.
struct Unconfigured(Channel);

#[async_trait::async_trait]
impl OutboundChannel for Unconfigured {
    async fn attempt(&self, _message: &Message) -> Attempt {
        Attempt::Fatal {
            http_status: None,
            error: format!("no outbound channel is configured for {}", self.0),
        }
    }
}

/// The adapter of each channel.
#[derive(Clone)]
pub struct Adapters {
    by_channel: HashMap<Channel, Arc<dyn OutboundChannel>>,
}

impl Adapters {
    /// One webhook adapter per configured endpoint (channels sharing the default share one).
    pub fn from_config(config: &OutboundConfig) -> Result<Adapters, String> {
        let mut by_channel: HashMap<Channel, Arc<dyn OutboundChannel>> = HashMap::new();
        let default: Option<Arc<dyn OutboundChannel>> = match &config.default {
            Some(e) => Some(Arc::new(webhook::WebhookChannel::new(
                e.url.clone(),
                e.secret.clone(),
                config.retry.timeout,
            )?)),
            None => None,
        };
        for &channel in Channel::ALL {
            let adapter: Arc<dyn OutboundChannel> = match config.channels.get(&channel) {
                Some(e) => Arc::new(webhook::WebhookChannel::new(
                    e.url.clone(),
                    e.secret.clone(),
                    config.retry.timeout,
                )?),
                None => match &default {
                    Some(d) => d.clone(),
                    None => Arc::new(Unconfigured(channel)),
                },
            };
            by_channel.insert(channel, adapter);
        }
        Ok(Adapters { by_channel })
    }

    /// Uses `adapter` for `channel` (custom adapters, tests).
    pub fn set(&mut self, channel: Channel, adapter: Arc<dyn OutboundChannel>) {
        self.by_channel.insert(channel, adapter);
    }

    fn get(&self, channel: Channel) -> Arc<dyn OutboundChannel> {
        self.by_channel
            .get(&channel)
            .cloned()
            .unwrap_or_else(|| Arc::new(Unconfigured(channel)))
    }
}

/// How many messages are attempted at once; one slow receiver does not hold up the others.
const CONCURRENCY: usize = 16;

/// Hands messages to the delivery worker.
#[derive(Clone)]
pub struct DeliveryQueue {
    tx: Option<mpsc::UnboundedSender<Message>>,
}

impl DeliveryQueue {
    /// No adapters (a server without `--outbound`, outside demo mode): messages stay `queued`,
    /// visible as such, and go out once the server is started with a configuration.
    pub fn disabled() -> DeliveryQueue {
        DeliveryQueue { tx: None }
    }

    /// Starts the worker, which first picks up what a previous run left undelivered.
    pub fn start(
        store: Store,
        adapters: Adapters,
        retry: RetryPolicy,
        shutdown: watch::Receiver<bool>,
    ) -> DeliveryQueue {
        let (tx, rx) = mpsc::unbounded_channel();
        let worker = Worker {
            store,
            adapters,
            retry,
            shutdown,
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            slots: Arc::new(Semaphore::new(CONCURRENCY)),
        };
        tokio::spawn(worker.run(rx));
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

#[derive(Clone)]
struct Worker {
    store: Store,
    adapters: Adapters,
    retry: RetryPolicy,
    shutdown: watch::Receiver<bool>,
    /// Message ids being delivered, so that one message never has two deliveries in flight.
    in_flight: Arc<Mutex<HashSet<String>>>,
    slots: Arc<Semaphore>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Message>) {
        match self.store.queued_messages().await {
            Ok(left) => {
                if !left.is_empty() {
                    tracing::info!(
                        count = left.len(),
                        "resuming delivery of messages left by the last run"
                    );
                }
                let ids: Vec<String> = left.iter().map(|m| m.id.clone()).collect();
                if let Err(e) = self.store.close_interrupted_attempts(&ids).await {
                    tracing::warn!(error = %e, "cannot close interrupted delivery attempts");
                }
                for m in left {
                    self.spawn(m);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read undelivered messages"),
        }
        let mut stop = self.shutdown.clone();
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => self.spawn(m),
                    None => return,
                },
                _ = crate::server::stopped(&mut stop) => return,
            }
        }
    }

    fn spawn(&self, message: Message) {
        if !self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(message.id.clone())
        {
            return;
        }
        let worker = self.clone();
        tokio::spawn(async move {
            let mut stop = worker.shutdown.clone();
            tokio::select! {
                _ = worker.deliver(&message) => {}
                // Whatever is in flight stays queued/sent and is picked up by the next run.
                _ = crate::server::stopped(&mut stop) => {}
            }
            worker
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&message.id);
        });
    }

    async fn set_status(&self, id: &str, status: DeliveryStatus, reason: Option<&str>) {
        if let Err(e) = self.store.set_message_status(id, status, reason).await {
            tracing::warn!(error = %e, message = %id, "cannot record delivery status");
        }
    }

    /// Attempts until the channel takes the message, refuses it, or the attempts run out.
    async fn deliver(&self, message: &Message) {
        let Ok(_slot) = self.slots.acquire().await else {
            return;
        };
        let adapter = self.adapters.get(message.channel);
        let status = message.delivery_status;
        loop {
            let n = match self
                .store
                .begin_attempt(&message.id, i64::from(self.retry.max_attempts))
                .await
            {
                Ok(Some(n)) => n,
                Ok(None) => {
                    // Earlier runs used the attempts up (they crashed mid-delivery each time).
                    self.set_status(
                        &message.id,
                        DeliveryStatus::Failed,
                        Some(&format!(
                            "gave up after {} attempts",
                            self.retry.max_attempts
                        )),
                    )
                    .await;
                    return;
                }
                Err(e) => {
                    // Left as it is; the next run picks it up.
                    tracing::warn!(error = %e, message = %message.id, "cannot record an attempt");
                    return;
                }
            };
            let started = Instant::now();
            let outcome = adapter.attempt(message).await;
            let elapsed = started.elapsed();
            let (http_status, error) = match &outcome {
                Attempt::Delivered { http_status } => (*http_status, None),
                Attempt::Retry {
                    http_status, error, ..
                }
                | Attempt::Fatal { http_status, error } => (*http_status, Some(error.as_str())),
            };
            if let Err(e) = self
                .store
                .finish_attempt(&message.id, n, http_status, error, elapsed)
                .await
            {
                tracing::warn!(error = %e, message = %message.id, "cannot record an attempt");
            }
            match outcome {
                Attempt::Delivered { .. } => {
                    if status != DeliveryStatus::Sent {
                        self.set_status(&message.id, DeliveryStatus::Sent, None)
                            .await;
                    }
                    self.set_status(&message.id, DeliveryStatus::Delivered, None)
                        .await;
                    return;
                }
                Attempt::Fatal { error, .. } => {
                    self.set_status(&message.id, DeliveryStatus::Failed, Some(&error))
                        .await;
                    return;
                }
                Attempt::Retry {
                    error, retry_after, ..
                } => {
                    let attempt = u32::try_from(n).unwrap_or(u32::MAX);
                    if attempt >= self.retry.max_attempts {
                        let reason = format!("gave up after {n} attempts: {error}");
                        self.set_status(&message.id, DeliveryStatus::Failed, Some(&reason))
                            .await;
                        return;
                    }
                    let mut wait = self.retry.backoff(attempt);
                    if let Some(asked) = retry_after {
                        wait = wait.max(asked.min(self.retry.max));
                    }
                    tracing::debug!(message = %message.id, attempt, ?wait, %error, "delivery failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
