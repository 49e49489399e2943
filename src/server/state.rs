//! What every request handler shares ([`AppState`]). Here rather than in `server/mod.rs`, so
//! that handlers, extractors and use cases import it without importing the module that wires
//! them all together.

use super::routing::RoutingRules;
use super::store::Store;
use super::{audit, delivery, intake, overload, ratelimit, rulebook, sse, telemetry, triage};
use std::sync::Arc;
use tokio::sync::watch;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub routing: Arc<RoutingRules>,
    pub rules: Arc<rulebook::RulesInForce>,
    pub limiter: Option<Arc<ratelimit::TokenLimiter>>,
    pub delivery: delivery::DeliveryQueue,
    /// The bounded audit of refused requests.
    pub refusals: audit::RefusalLog,
    /// Flips to true on shutdown so that open event streams end.
    pub shutdown: watch::Receiver<bool>,
    /// The organisation's triage model (built-in plus what corrections taught it).
    pub triage: triage::TriageEngine,
    /// Open event streams per token.
    pub streams: Arc<sse::StreamSlots>,
    /// Where intake sources' secrets come from.
    pub intake_key: Arc<intake::KeyFile>,
    /// Requests in flight at most (503 beyond).
    pub in_flight: overload::InFlightLimits,
    /// Committed events, encoded once, for every open stream.
    pub fanout: sse::Fanout,
    /// The series of `GET /metrics`.
    pub telemetry: Arc<telemetry::Telemetry>,
}
