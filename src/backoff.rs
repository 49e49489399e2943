//! Exponential backoff with "equal jitter", for every retry loop of ours: the event stream's
//! reconnects and the outbox (src/client), outbound delivery (src/server). Half of each delay
//! is fixed and half random, so that many clients or messages failing together spread out,
//! yet none retries much sooner than planned.
//!
//! The delays come from `backon`'s exponential backoff, which adds a random jitter in
//! [0, base) to each base: with bases at half of ours, one base plus its jitter falls in
//! [d/2, d) for our d. This module imports nothing of ours, so both sides may use it.

use std::time::Duration;

/// A sequence of delays in [d/2, d), d doubling from `initial` up to `max`.
#[derive(Debug)]
pub struct Backoff {
    builder: backon::ExponentialBuilder,
    delays: backon::ExponentialBackoff,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(2));
        let max = max.max(initial);
        let builder = backon::ExponentialBuilder::new()
            .with_min_delay(initial / 2)
            .with_max_delay(max / 2)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times();
        Backoff {
            builder,
            delays: backon::BackoffBuilder::build(builder),
        }
    }

    /// The next delay, and the one after it doubled.
    pub fn next_delay(&mut self) -> Duration {
        // The sequence has no end (`without_max_times`); start over rather than panic.
        match self.delays.next() {
            Some(d) => d,
            None => {
                self.reset();
                self.delays.next().unwrap_or_default()
            }
        }
    }

    /// The delay after failed attempt `attempt` (1-based) of a fresh sequence: what a retry
    /// counted in a database (across restarts) waits.
    pub fn nth_delay(mut self, attempt: u32) -> Duration {
        // Past 2^31 the base is long capped: no need to walk further.
        for _ in 1..attempt.clamp(1, 32) {
            self.next_delay();
        }
        self.next_delay()
    }

    /// Start over from `initial`.
    pub fn reset(&mut self) {
        self.delays = backon::BackoffBuilder::build(self.builder);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_equal_jitter_up_to_the_cap_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(15));
        let bases = [250u128, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000];
        let delays: Vec<u128> = bases.iter().map(|_| b.next_delay().as_millis()).collect();
        for (d, base) in delays.iter().zip(bases) {
            assert!(*d >= base / 2 && *d <= base, "{d} for {base}: {delays:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(250));
    }

    #[test]
    fn the_jitter_is_random() {
        let draws: std::collections::HashSet<Duration> = (0..20)
            .map(|_| Backoff::new(Duration::from_secs(1), Duration::from_secs(8)).nth_delay(3))
            .collect();
        assert!(draws.len() > 10, "{draws:?}");
        assert!(draws
            .iter()
            .all(|d| *d >= Duration::from_secs(2) && *d <= Duration::from_secs(4)));
    }
}
