//! Graceful overload: at most `max_in_flight` requests are being handled at once; one more is
//! answered at once with 503 problem+json and `Retry-After` instead of joining a queue.
//!
//! Without a limit, every request past capacity waits for a database connection, latencies
//! grow until clients time out and retry, and the server ends up serving *less* than at
//! capacity (each request pays for its share of the queue and is then abandoned). Refusing
//! early costs a few microseconds and keeps the requests that are let in fast.
//!
//! The check is a tower layer outside every other layer of a route ([`ShedLayer`], added last
//! in `api::router`): a shed request is refused before the NUL check, the body limit, the
//! refusal audit and the handler's extractors (no token check, no body read), with a response
//! built once; it is still counted in the request metrics under its route.
//!
//! Event streams do not count: an open stream holds no database connection while it waits,
//! and a few thousand of them must not lock every other request out (they have their own
//! per-token cap, see `sse`).

use super::error::{problem_response, ApiError, ProblemType};
use super::telemetry::Telemetry;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
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
    /// The 503's problem+json body, encoded once.
    refusal: Bytes,
}

impl InFlightLimit {
    /// At most `max` requests at once (at least 1).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        let problem = ApiError::new(
            ProblemType::OVERLOADED,
            format!("{max} requests are being handled already; retry in {RETRY_AFTER} s"),
        )
        .to_problem();
        InFlightLimit {
            permits: Arc::new(Semaphore::new(max)),
            max,
            refusal: Bytes::from(serde_json::to_vec(&problem).unwrap_or_default()),
        }
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The 503 problem+json with `Retry-After` (what `ApiError::into_response` makes of an
    /// `OVERLOADED` problem, from the body encoded once).
    fn overloaded(&self) -> Response {
        problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            self.refusal.clone(),
            Some(RETRY_AFTER),
        )
    }
}

/// The layer of [`Shed`]: a permit for each request's lifetime (until its response is ready;
/// bodies here are buffered, so that is when the work is done), or 503 at once.
#[derive(Clone)]
pub struct ShedLayer {
    limit: InFlightLimit,
    telemetry: Arc<Telemetry>,
}

impl ShedLayer {
    pub fn new(limit: InFlightLimit, telemetry: Arc<Telemetry>) -> Self {
        ShedLayer { limit, telemetry }
    }
}

impl<S> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            limit: self.limit.clone(),
            telemetry: self.telemetry.clone(),
        }
    }
}

/// A route's service behind the in-flight limit.
#[derive(Clone)]
pub struct Shed<S> {
    inner: S,
    limit: InFlightLimit,
    telemetry: Arc<Telemetry>,
}

impl<S> tower::Service<Request> for Shed<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service that was polled ready handles the request; a clone stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let matched = request.extensions().get::<MatchedPath>();
        if matched.is_some_and(|p| UNCOUNTED.contains(&p.as_str())) {
            return Box::pin(inner.call(request));
        }
        match self.limit.permits.clone().try_acquire_owned() {
            Ok(permit) => Box::pin(async move {
                let response = inner.call(request).await;
                drop(permit);
                response
            }),
            Err(_) => {
                let route = matched.map_or("(no route)".to_string(), |p| {
                    super::telemetry::route_label(p.as_str())
                });
                let response = self.limit.overloaded();
                self.telemetry.observe(
                    super::audit::method_label(request.method()),
                    &route,
                    response.status(),
                    Instant::now(),
                );
                Box::pin(std::future::ready(Ok(response)))
            }
        }
    }
}
