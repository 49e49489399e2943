//! Graceful overload: at most `max_reads_in_flight` reads (GET, HEAD) and `max_in_flight`
//! other requests are being handled at once. One more waits for a place, at most
//! [`QUEUE_WAIT`] and behind at most as many others as there are places; past that it is
//! answered 503 problem+json with `Retry-After`.
//!
//! Without a limit, every request past capacity waits for a database connection, latencies
//! grow until clients time out and retry, and the server ends up serving *less* than at
//! capacity (each request pays for its share of the queue and is then abandoned).
//!
//! Reads and writes have limits of their own. A read is work for the cores and the reader
//! connections, and the server does the most of it per second at low concurrency (at 64 reads
//! at once it served 0.7-0.9x of what it did at 4, issue 15's benchmark), so few are let in: 8
//! per core. A reply is mostly waiting for the one writer, which commits every reply waiting
//! in one transaction (group commit), so many are let in: 64 per core. The short queue takes
//! in bursts (an open-loop client at the peak read rate was refused 1 request in 10 by an
//! instant refusal) without letting a backlog build up.
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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// `Retry-After` (seconds) of the 503 for a request over the limit.
pub const RETRY_AFTER: u64 = 1;

/// How long a request past the limit waits for a place before it is refused: about the time
/// the places take to be handed on once each, so that a burst is served, not a backlog.
pub const QUEUE_WAIT: Duration = Duration::from_millis(20);

/// The routes that are not counted (long-lived streams).
const UNCOUNTED: &[&str] = &["/v1/events"];

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The default limit of requests that change data: enough to keep the writer's groups full.
pub fn default_max_in_flight() -> usize {
    (64 * cores()).clamp(64, 1024)
}

/// The default limit of reads: enough to keep every core and the store's connections busy (8
/// per core, at least 16: the SQLite reader pool has 8 connections, the PostgreSQL pool 16),
/// few enough that the ones let in are answered within milliseconds.
pub fn default_max_reads_in_flight() -> usize {
    (8 * cores()).clamp(16, 512)
}

/// The in-flight permits shared by every connection, and the short queue in front of them.
#[derive(Clone)]
pub struct InFlightLimit {
    permits: Arc<Semaphore>,
    max: usize,
    /// Requests waiting for a permit now (at most `max`).
    waiting: Arc<AtomicUsize>,
    /// The 503's problem+json body, encoded once.
    refusal: Bytes,
}

/// A request's place in the queue, given back when it is dropped.
struct QueuePlace(Arc<AtomicUsize>);

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
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
            waiting: Arc::new(AtomicUsize::new(0)),
            refusal: Bytes::from(serde_json::to_vec(&problem).unwrap_or_default()),
        }
    }

    /// A place in the queue, if fewer than `max` requests are waiting.
    fn queue_place(&self) -> Option<QueuePlace> {
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        let place = QueuePlace(self.waiting.clone());
        (before < self.max).then_some(place)
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
    limits: InFlightLimits,
    telemetry: Arc<Telemetry>,
}

impl ShedLayer {
    pub fn new(limits: InFlightLimits, telemetry: Arc<Telemetry>) -> Self {
        ShedLayer { limits, telemetry }
    }
}

/// The limit of reads and the limit of every other request.
#[derive(Clone)]
pub struct InFlightLimits {
    pub reads: InFlightLimit,
    pub writes: InFlightLimit,
}

impl InFlightLimits {
    /// The limit `request` counts against.
    fn of(&self, request: &Request) -> &InFlightLimit {
        match *request.method() {
            axum::http::Method::GET | axum::http::Method::HEAD => &self.reads,
            _ => &self.writes,
        }
    }
}

impl<S> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            limits: self.limits.clone(),
            telemetry: self.telemetry.clone(),
        }
    }
}

/// A route's service behind the in-flight limit.
#[derive(Clone)]
pub struct Shed<S> {
    inner: S,
    limits: InFlightLimits,
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
        let limit = self.limits.of(&request).clone();
        if let Ok(permit) = limit.permits.clone().try_acquire_owned() {
            return Box::pin(handled(inner, request, permit));
        }
        let Some(place) = limit.queue_place() else {
            return Box::pin(std::future::ready(Ok(self
                .refusal(&request, limit)
                .response())));
        };
        let permits = limit.permits.clone();
        let refusal = self.refusal(&request, limit);
        Box::pin(async move {
            let permit = tokio::time::timeout(QUEUE_WAIT, permits.acquire_owned()).await;
            drop(place);
            match permit {
                Ok(Ok(permit)) => handled(inner, request, permit).await,
                _ => Ok(refusal.response()),
            }
        })
    }
}

/// `request` handled by `inner`, holding `permit` until the response is ready.
async fn handled<S>(
    mut inner: S,
    request: Request,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<Response, Infallible>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let response = inner.call(request).await;
    drop(permit);
    response
}

impl<S> Shed<S> {
    /// How `request` is refused if it gets no place under `limit`.
    fn refusal(&self, request: &Request, limit: InFlightLimit) -> Refusal {
        let matched = request.extensions().get::<MatchedPath>();
        Refusal {
            limit,
            telemetry: self.telemetry.clone(),
            method: super::audit::method_label(request.method()),
            route: matched.map_or("(no route)".to_string(), |p| {
                super::telemetry::route_label(p.as_str())
            }),
            arrived: Instant::now(),
        }
    }
}

/// A request refused for the limit: the 503, counted in the request metrics under its route.
struct Refusal {
    limit: InFlightLimit,
    telemetry: Arc<Telemetry>,
    method: &'static str,
    route: String,
    arrived: Instant,
}

impl Refusal {
    fn response(self) -> Response {
        let response = self.limit.overloaded();
        self.telemetry
            .observe(self.method, &self.route, response.status(), self.arrived);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::{Layer, Service};

    /// A route that answers 200 once `gate` lets it (one permit per request).
    fn held_route(
        gate: Arc<Semaphore>,
    ) -> impl tower::Service<
        Request,
        Response = Response,
        Error = Infallible,
        Future = impl Future<Output = Result<Response, Infallible>> + Send,
    > + Clone
           + Send
           + 'static {
        tower::service_fn(move |_: Request| {
            let gate = gate.clone();
            async move {
                gate.acquire().await.expect("gate open").forget();
                Ok::<_, Infallible>(Response::new(Body::empty()))
            }
        })
    }

    fn request(method: &str) -> Request {
        Request::builder()
            .method(method)
            .uri("/v1/feedback")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn past_the_read_limit_a_read_waits_its_turn_and_writes_have_places_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::server::store::Store::open(dir.path().join("t.db").to_str().unwrap())
            .await
            .unwrap();
        let telemetry = Telemetry::new(&store).unwrap();
        let limits = InFlightLimits {
            reads: InFlightLimit::new(1),
            writes: InFlightLimit::new(1),
        };
        let gate = Arc::new(Semaphore::new(0));
        let mut shed = ShedLayer::new(limits, telemetry).layer(held_route(gate.clone()));
        // One read holds the only read place; a write still gets its own.
        let held = tokio::spawn(shed.call(request("GET")));
        let write = tokio::spawn(shed.call(request("POST")));
        // A second read waits in the queue (one place); a third finds it full: 503 at once.
        let started = Instant::now();
        let queued = shed.call(request("GET"));
        let third = shed.call(request("GET")).await.unwrap();
        assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(third.headers()["retry-after"], "1");
        // The queued one is refused once it has waited QUEUE_WAIT without a place.
        let second = queued.await.unwrap();
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() >= QUEUE_WAIT);
        // One that waits while the held read is answered gets the place.
        let waiting = tokio::spawn(shed.call(request("GET")));
        tokio::time::sleep(QUEUE_WAIT / 4).await;
        gate.add_permits(3);
        for answer in [held, write, waiting] {
            assert_eq!(answer.await.unwrap().unwrap().status(), StatusCode::OK);
        }
    }
}
