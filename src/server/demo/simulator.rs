//! Keeps new feedback arriving in demo mode: a steady trickle at a configurable rate, plus an
//! outage now and then that brings fifty complaints within a minute. Posts go through the same
//! intake path as real ones (sentiment, routing, assignment, events).

use super::text::{self, Topic};
use super::{author_network, authors, dataset, new_feedback, Author};
use crate::domain::Channel;
use crate::server::service::intake::{self, Origin};
use crate::server::state::AppState;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::time::Duration;

/// Complaints in one outage burst, spread over about a minute.
pub const BURST_SIZE: usize = 50;

pub fn spawn(state: AppState, per_minute: f64, burst_every_min: f64) {
    tokio::spawn(async move {
        let data = dataset(state.store.now());
        let by_network = authors(&data);
        let mut rng = ChaCha8Rng::from_entropy();
        let mut stop = state.shutdown.clone();
        let mean_gap = 60.0 / per_minute.max(0.01);
        let mut next_burst = burst_due(burst_every_min);
        loop {
            let gap = Duration::from_secs_f64(rng.gen_range(0.2..1.8) * mean_gap);
            tokio::select! {
                _ = tokio::time::sleep(gap) => {}
                _ = crate::server::shutdown::stopped(&mut stop) => return,
            }
            if next_burst.is_some_and(|t| tokio::time::Instant::now() >= t) {
                next_burst = burst_due(burst_every_min);
                let burst_state = state.clone();
                let authors = by_network.clone();
                tokio::spawn(async move { outage_burst(burst_state, authors).await });
            }
            let topic = text::random_topic(&mut rng);
            let channel = text::random_channel(&mut rng, topic);
            post(&state, &by_network, &mut rng, channel, topic).await;
        }
    });
}

fn burst_due(every_min: f64) -> Option<tokio::time::Instant> {
    (every_min > 0.0)
        .then(|| tokio::time::Instant::now() + Duration::from_secs_f64(every_min * 60.0))
}

async fn outage_burst(state: AppState, by_network: HashMap<Channel, Vec<Author>>) {
    let mut rng = ChaCha8Rng::from_entropy();
    let mut stop = state.shutdown.clone();
    for _ in 0..BURST_SIZE {
        let channel = if rng.gen_bool(0.7) {
            Channel::X
        } else {
            Channel::Facebook
        };
        post(&state, &by_network, &mut rng, channel, Topic::Outage).await;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(rng.gen_range(200..2200))) => {}
            _ = crate::server::shutdown::stopped(&mut stop) => return,
        }
    }
}

async fn post(
    state: &AppState,
    by_network: &HashMap<Channel, Vec<Author>>,
    rng: &mut ChaCha8Rng,
    channel: Channel,
    topic: Topic,
) {
    let Some(pool) = by_network
        .get(&author_network(channel))
        .filter(|p| !p.is_empty())
    else {
        return;
    };
    let author = &pool[rng.gen_range(0..pool.len())];
    let body = text::post_text(rng, topic);
    let new = new_feedback(author, channel, body, state.store.now());
    if let Err(e) = intake::submit(state, new, Origin::system()).await {
        tracing::warn!(error = %e, "simulator could not post");
    }
}
