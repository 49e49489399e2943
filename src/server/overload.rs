//! Graceful overload: at most `max_in_flight` requests are being handled at once; one more is
//! answered at once with 503 problem+json and `Retry-After` instead of joining a queue.
//!
//! Without a limit, every request past capacity waits for a database connection, latencies
//! grow until clients time out and retry, and the server ends up serving *less* than at
//! capacity (each request pays for its share of the queue and is then abandoned). Refusing
//! early costs a few microseconds and keeps the requests that are let in fast.
//!
//! Event streams do not count: an open stream holds no database connection while it waits,
//! and a few thousand of them must not lock every other request out (they have their own
//! per-token cap, see `sse`).

use super::error::{ApiError, ProblemType};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// `Retry-After` (seconds) of the 503 for a request over the limit.
pub const RETRY_AFTER: u64 = 1;

/// The routes that are not counted (long-lived streams).
const UNCOUNTED: &[&str] = &["/v1/events"];

/// The default limit: enough requests in flight to keep every core and the store's
/// connections busy, few enough that the ones let in are answered within milliseconds.
pub fn default_max_in_flight() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (64 * cores).clamp(64, 1024)
}

/// The in-flight permits shared by every connection.
#[derive(Clone)]
pub struct InFlightLimit {
    permits: Arc<Semaphore>,
    max: usize,
}

impl InFlightLimit {
    /// At most `max` requests at once (at least 1).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        InFlightLimit {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }
}

fn overloaded(max: usize) -> Response {
    let mut e = ApiError::new(
        ProblemType::OVERLOADED,
        format!("{max} requests are being handled already; retry in {RETRY_AFTER} s"),
    );
    e.retry_after = Some(RETRY_AFTER);
    e.into_response()
}

/// The middleware: a permit for the request's lifetime (until its response is ready; bodies
/// here are buffered, so that is when the work is done), or 503 at once.
pub async fn limit(State(limit): State<InFlightLimit>, request: Request, next: Next) -> Response {
    let uncounted = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| UNCOUNTED.contains(&p.as_str()));
    if uncounted {
        return next.run(request).await;
    }
    let Ok(_permit) = limit.permits.clone().try_acquire_owned() else {
        return overloaded(limit.max);
    };
    next.run(request).await
}
