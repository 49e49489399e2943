//! Delivery of outbound messages after a reply commits. Channels are adapters behind one trait
//! ([`OutboundChannel`]); the reference adapter posts signed webhooks ([`webhook`]), and the demo
//! points it at a loopback sink on the server itself ([`sink`]) so the whole loop is visible.
//!
//! Status flow of a message: `queued` (committed with the reply) → `sent` (the channel accepted
//! it) → `delivered`; or → `failed` with the reason, after a refusal or when the bounded retries
//! (exponential backoff) are used up. Every attempt is a row of `delivery_attempts`.
//!
//! Several server instances may share one database, so each message has one owner at a time: a
//! lease (`messages.lease_owner`, `lease_until`). The worker claims a message before it attempts
//! it (right after the reply commits, and by polling for messages nobody owns), renews the lease
//! while it retries, and ends it with the final status. Every attempt row and status change is
//! written only while the lease is the worker's own, and a worker that cannot renew stops before
//! its lease runs out; so after an expiry another instance can take the message over (its owner
//! crashed: it was still `queued`, or `sent` without a confirmation) without two deliveries at
//! once. A message taken over is attempted again with the same webhook id, so receivers
//! de-duplicate the one attempt the dead owner may have made.

mod channel;
pub mod config;
pub mod sink;
pub mod webhook;

pub use crate::server::store::{Answers, PostRef};
pub use channel::{Attempt, OutboundChannel};
pub use config::{Endpoint, OutboundConfig, RetryPolicy};

use super::store::{AttemptStart, Store};
use crate::domain::{Channel, DeliveryStatus, Message};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, watch, Notify};

/// A channel nothing is configured for: every attempt is a final failure with the reason.
struct Unconfigured(Channel);

#[async_trait::async_trait]
impl OutboundChannel for Unconfigured {
    async fn attempt(&self, _message: &Message, _answers: &Answers) -> Attempt {
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
    tx: Option<mpsc::UnboundedSender<Vec<String>>>,
}

impl DeliveryQueue {
    /// No adapters (a server without `--outbound`, outside demo mode): messages stay `queued`,
    /// visible as such, and go out once the server is started with a configuration.
    pub fn disabled() -> DeliveryQueue {
        DeliveryQueue { tx: None }
    }

    /// Starts the worker, which first picks up what nobody owns (what a previous run left
    /// undelivered, once its lease expired), then polls for such messages every `retry.poll`.
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
            owner: Arc::from(super::store::new_id("dw").as_str()),
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            backlog: Arc::new(AtomicBool::new(false)),
            room: Arc::new(Notify::new()),
        };
        tokio::spawn(worker.run(rx));
        DeliveryQueue { tx: Some(tx) }
    }

    /// Delivers messages that just committed (if this instance claims them first).
    pub fn enqueue(&self, messages: &[Message]) {
        if let (Some(tx), false) = (&self.tx, messages.is_empty()) {
            let _ = tx.send(messages.iter().map(|m| m.id.clone()).collect());
        }
    }
}

/// Why a delivery stopped holding its message.
#[derive(Debug)]
enum LeaseLost {
    /// Another instance owns the message now.
    TakenOver,
    /// No renewal got through before the lease ran out.
    Expired,
}

#[derive(Clone)]
struct Worker {
    store: Store,
    adapters: Adapters,
    retry: RetryPolicy,
    shutdown: watch::Receiver<bool>,
    /// This instance's name on the leases it holds (random, one per run).
    owner: Arc<str>,
    /// Message ids being delivered, so that one message never has two deliveries in flight
    /// here; never more than `CONCURRENCY` (claims take only what there is room for).
    in_flight: Arc<Mutex<HashSet<String>>>,
    /// Set when the last claims left deliverable messages for want of room; an ending delivery
    /// then wakes the worker (`room`) to claim again before the next poll.
    backlog: Arc<AtomicBool>,
    room: Arc<Notify>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Vec<String>>) {
        let mut stop = self.shutdown.clone();
        // The first tick is immediate: resume what nobody owns at startup.
        let mut poll = tokio::time::interval(self.retry.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ids = rx.recv() => match ids {
                    Some(mut ids) => {
                        while let Ok(more) = rx.try_recv() {
                            ids.extend(more);
                        }
                        self.claim(Some(&ids)).await;
                    }
                    None => break,
                },
                _ = poll.tick() => self.claim(None).await,
                _ = self.room.notified() => self.claim(None).await,
                _ = crate::server::shutdown::stopped(&mut stop) => break,
            }
        }
        // What is in flight stays queued/sent; released, the next owner need not wait for the
        // expiry (best effort: the store may be closing).
        match self.store.release_leases(&self.owner).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "released delivery leases on shutdown"),
            Err(e) => tracing::debug!(error = %e, "cannot release delivery leases"),
        }
    }

    /// Claims what this instance has room for (at most `CONCURRENCY` deliveries at once, so it
    /// holds no more leases than it works on and other instances share a burst): of `ids` (just
    /// committed), or of whatever nobody owns; and delivers what it got.
    async fn claim(&self, ids: Option<&[String]>) {
        let free = CONCURRENCY.saturating_sub(self.lock_in_flight().len());
        if free == 0 {
            self.backlog.store(true, Ordering::SeqCst);
            return;
        }
        let only = ids.map(|ids| &ids[..ids.len().min(free)]);
        let since = Instant::now();
        let claimed = match self
            .store
            .claim_deliveries(&self.owner, self.retry.lease, only, free)
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                // Left as they are: the next poll claims them.
                tracing::warn!(error = %e, "cannot claim messages for delivery");
                return;
            }
        };
        match ids {
            // More than there was room for: claimed as soon as a delivery ends.
            Some(ids) if ids.len() > free => self.backlog.store(true, Ordering::SeqCst),
            Some(_) => {}
            None => {
                self.backlog.store(claimed.len() == free, Ordering::SeqCst);
                if !claimed.is_empty() {
                    tracing::info!(
                        count = claimed.len(),
                        "claimed undelivered messages nobody owned"
                    );
                }
            }
        }
        for m in claimed {
            self.spawn(m, since);
        }
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delivers a message claimed at `since`, while keeping its lease.
    fn spawn(&self, message: Message, since: Instant) {
        if !self.lock_in_flight().insert(message.id.clone()) {
            // Still being delivered here (its lease was claimed again just as the delivery
            // ended): the next poll after the lease runs out takes it up.
            return;
        }
        let worker = self.clone();
        tokio::spawn(async move {
            let mut stop = worker.shutdown.clone();
            let finishing = AtomicBool::new(false);
            tokio::select! {
                biased;
                _ = worker.deliver(&message, &finishing) => {}
                lost = worker.keep_lease(&message.id, since, &finishing) => {
                    tracing::warn!(message = %message.id, reason = ?lost, "delivery lease lost; the delivery stops here");
                }
                // Whatever is in flight stays queued/sent and is picked up by the next owner.
                _ = crate::server::shutdown::stopped(&mut stop) => {}
            }
            worker.lock_in_flight().remove(&message.id);
            if worker.backlog.load(Ordering::SeqCst) {
                worker.room.notify_one();
            }
        });
    }

    /// Renews the lease on a message (claimed at `since`) every third of its length until it is
    /// lost; returns (which stops the delivery) before the lease can run out unrenewed, so that
    /// this instance never sends once another one may own the message. Once the delivery is
    /// writing its final status (`finishing`), it only waits: that write checks the owner itself.
    async fn keep_lease(&self, id: &str, since: Instant, finishing: &AtomicBool) -> LeaseLost {
        let lease = self.retry.lease;
        let every = lease / 3;
        // Stop a little before the lease could run out: timers fire late on a busy machine, and
        // another instance may claim the message the moment the database says it expired.
        let held = lease - every / 2;
        let mut deadline = since + held;
        let mut next = since + every;
        let lost = loop {
            tokio::time::sleep_until(next.into()).await;
            let sent = Instant::now();
            if sent >= deadline {
                break LeaseLost::Expired;
            }
            let renewal = self.store.renew_lease(id, &self.owner, lease);
            match tokio::time::timeout_at(deadline.into(), renewal).await {
                Ok(Ok(true)) => {
                    deadline = sent + held;
                    next = sent + every;
                }
                Ok(Ok(false)) => break LeaseLost::TakenOver,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, message = %id, "cannot renew a delivery lease");
                    next = (Instant::now() + every / 4).min(deadline);
                }
                Err(_) => break LeaseLost::Expired,
            }
        };
        if finishing.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        lost
    }

    /// Records a status while this instance owns the message; false when it does not anymore.
    async fn set_status(&self, id: &str, status: DeliveryStatus, reason: Option<&str>) -> bool {
        match self
            .store
            .set_message_status(id, &self.owner, status, reason)
            .await
        {
            Ok(Some(_)) => true,
            Ok(None) => {
                tracing::warn!(message = %id, %status, "not recording a delivery status: another instance owns the message");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, message = %id, "cannot record delivery status");
                false
            }
        }
    }

    /// A final status; from here on the lease keeper does not stop the delivery.
    async fn finish(
        &self,
        finishing: &AtomicBool,
        id: &str,
        status: DeliveryStatus,
        reason: Option<&str>,
    ) {
        finishing.store(true, Ordering::SeqCst);
        self.set_status(id, status, reason).await;
    }

    /// Attempts until the channel takes the message, refuses it, or the attempts run out.
    async fn deliver(&self, message: &Message, finishing: &AtomicBool) {
        let adapter = self.adapters.get(message.channel);
        let status = message.delivery_status;
        // Read once: the posts a message answers do not change while it is delivered.
        let answers = match self.store.answers(message).await {
            Ok(a) => a,
            Err(e) => {
                // Left as it is; after the lease runs out, the next poll picks it up.
                tracing::warn!(error = %e, message = %message.id, "cannot read the posts a message answers");
                return;
            }
        };
        loop {
            let n = match self
                .store
                .begin_attempt(
                    &message.id,
                    &self.owner,
                    self.retry.lease,
                    i64::from(self.retry.max_attempts),
                )
                .await
            {
                Ok(AttemptStart::Started(n)) => n,
                Ok(AttemptStart::Exhausted) => {
                    // Earlier owners used the attempts up (they crashed mid-delivery each time).
                    let reason = format!("gave up after {} attempts", self.retry.max_attempts);
                    self.finish(
                        finishing,
                        &message.id,
                        DeliveryStatus::Failed,
                        Some(&reason),
                    )
                    .await;
                    return;
                }
                Ok(AttemptStart::NotHeld) => {
                    tracing::warn!(message = %message.id, "delivery lease lost; another instance takes over");
                    return;
                }
                Err(e) => {
                    // Left as it is; after the lease runs out, the next poll picks it up.
                    tracing::warn!(error = %e, message = %message.id, "cannot record an attempt");
                    return;
                }
            };
            let started = Instant::now();
            let outcome = adapter.attempt(message, &answers).await;
            let elapsed = started.elapsed();
            let (http_status, error) = match &outcome {
                Attempt::Delivered { http_status } => (*http_status, None),
                Attempt::Retry {
                    http_status, error, ..
                }
                | Attempt::Fatal { http_status, error } => (*http_status, Some(error.as_str())),
            };
            match self
                .store
                .finish_attempt(&message.id, &self.owner, n, http_status, error, elapsed)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(message = %message.id, "delivery lease lost during an attempt; another instance takes over");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, message = %message.id, "cannot record an attempt")
                }
            }
            match outcome {
                Attempt::Delivered { .. } => {
                    if status != DeliveryStatus::Sent
                        && !self
                            .set_status(&message.id, DeliveryStatus::Sent, None)
                            .await
                    {
                        return;
                    }
                    self.finish(finishing, &message.id, DeliveryStatus::Delivered, None)
                        .await;
                    return;
                }
                Attempt::Fatal { error, .. } => {
                    self.finish(finishing, &message.id, DeliveryStatus::Failed, Some(&error))
                        .await;
                    return;
                }
                Attempt::Retry {
                    error, retry_after, ..
                } => {
                    let attempt = u32::try_from(n).unwrap_or(u32::MAX);
                    if attempt >= self.retry.max_attempts {
                        let reason = format!("gave up after {n} attempts: {error}");
                        self.finish(
                            finishing,
                            &message.id,
                            DeliveryStatus::Failed,
                            Some(&reason),
                        )
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
