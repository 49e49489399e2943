//! Per-token rate limiting (GCRA, from the `governor` crate): a token that sends faster than its
//! quota gets 429 with `Retry-After`, and other agents are not slowed by it.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;

pub struct TokenLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

/// A sustained rate and a burst, per token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    /// Generous for a person at a console (which fetches on navigation, not per keystroke),
    /// tight for a runaway script.
    fn default() -> Self {
        RateLimit {
            per_second: 50,
            burst: 200,
        }
    }
}

impl TokenLimiter {
    pub fn new(limit: RateLimit) -> Option<TokenLimiter> {
        let rate = NonZeroU32::new(limit.per_second)?;
        let burst = NonZeroU32::new(limit.burst.max(1))?;
        let quota = Quota::per_second(rate).allow_burst(burst);
        Some(TokenLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        })
    }

    /// `Err(seconds to wait)` when the token is over its quota. Keyed by the token's hash, so
    /// no raw token is kept in memory longer than the request.
    pub fn check(&self, token_hash: &str) -> Result<(), u64> {
        match self.limiter.check_key(&token_hash.to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            }
        }
    }

    /// Forgets idle tokens' state (called now and then so the map does not grow forever).
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_over_its_burst_waits_and_others_do_not() {
        let limiter = TokenLimiter::new(RateLimit {
            per_second: 1,
            burst: 3,
        })
        .unwrap();
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        let wait = limiter.check("a").unwrap_err();
        assert!((1..=2).contains(&wait), "{wait}");
        assert!(limiter.check("b").is_ok());
    }

    #[test]
    fn zero_turns_it_off() {
        assert!(TokenLimiter::new(RateLimit {
            per_second: 0,
            burst: 10
        })
        .is_none());
    }
}
