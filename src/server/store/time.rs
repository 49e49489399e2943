//! The store's times: microseconds since the epoch, and the clock "now" is read from. A leaf,
//! so that row decoding and the metrics copy use it without importing the `Store`.

use chrono::{DateTime, TimeZone, Utc};

/// Where the store's "now" comes from for the times the team's measures are computed from
/// (arrivals without a time, replies, resolutions, links, the summary's window): the system
/// clock, or one a test sets so that it can script an organisation at known instants.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<std::sync::Arc<std::sync::atomic::AtomicI64>>);

impl Clock {
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `at` until it is set again.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock(Some(std::sync::Arc::new(at.timestamp_micros().into())))
    }

    /// Moves a manual clock (and every store sharing it) to `at`; the system clock ignores it.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(t) = &self.0 {
            t.store(at.timestamp_micros(), std::sync::atomic::Ordering::SeqCst);
        }
    }

    pub fn now_micros(&self) -> i64 {
        match &self.0 {
            Some(t) => t.load(std::sync::atomic::Ordering::SeqCst),
            None => now_micros(),
        }
    }
}

pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

pub fn micros_to_time(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}
