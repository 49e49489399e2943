//! `GET /metrics` in the Prometheus text format, served on its own address
//! (`earshot serve --metrics-listen ADDR`), never on the API's.
//!
//! Why a separate address rather than a token scope: a scraper then needs no agent token (which
//! would also be an agent for routing and audit), the API's rate limits and refusal audit stay
//! about people, and the address can be bound to loopback or a monitoring network only. The
//! series hold no customer data: counts by route template, status, channel and department.
//!
//! Each server has its own registry (tests and the demo run several servers in one process).
//! Request counts and latencies are recorded by a middleware of the API router; intake per
//! channel and delivery outcomes are counted from the event log, which a background task
//! follows from the head it finds at start (so on PostgreSQL every instance counts the events
//! of all instances); the rest is read from the database at each scrape.

use super::sse::StreamSlots;
use super::store::{Store, StoreResult};
use crate::domain::EventName;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// Statuses of items awaiting an answer, on which an SLA runs (as in the summary).
const AWAITING: &str = "('new','open','pending')";

pub struct Telemetry {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    intake: IntCounterVec,
    deliveries: IntCounterVec,
    sse_subscribers: IntGauge,
    event_head: IntGauge,
    outbound: IntGaugeVec,
    queue_depth: IntGauge,
    queue_age: Gauge,
    sla_breached: IntGaugeVec,
    pool_connections: IntGaugeVec,
}

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help)
}

impl Telemetry {
    pub fn new(store: &Store) -> Result<Arc<Telemetry>, prometheus::Error> {
        let registry = Registry::new();
        let t = Telemetry {
            requests: IntCounterVec::new(
                opts("earshot_http_requests_total", "HTTP requests answered, by route template and status"),
                &["method", "route", "status"],
            )?,
            latency: HistogramVec::new(
                HistogramOpts::new(
                    "earshot_http_request_duration_seconds",
                    "Time to answer an HTTP request (to the response head), by route template and status",
                )
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]),
                &["method", "route", "status"],
            )?,
            intake: IntCounterVec::new(
                opts("earshot_feedback_received_total", "Feedback items taken in since the server started, by channel"),
                &["channel"],
            )?,
            deliveries: IntCounterVec::new(
                opts("earshot_outbound_status_changes_total", "Outbound message status changes since the server started, by new status"),
                &["status"],
            )?,
            sse_subscribers: IntGauge::new("earshot_sse_subscribers", "Open event streams")?,
            event_head: IntGauge::new("earshot_event_log_head", "Newest committed event sequence number")?,
            outbound: IntGaugeVec::new(
                opts("earshot_outbound_messages", "Outbound messages by delivery status"),
                &["status"],
            )?,
            queue_depth: IntGauge::new(
                "earshot_outbound_queue_depth",
                "Outbound messages waiting to be delivered (queued or sent, not yet delivered or failed)",
            )?,
            queue_age: Gauge::new(
                "earshot_outbound_queue_oldest_age_seconds",
                "Age of the oldest outbound message waiting to be delivered (0 when none)",
            )?,
            sla_breached: IntGaugeVec::new(
                opts("earshot_sla_breached_items", "Items awaiting an answer past their SLA due time, by department"),
                &["department"],
            )?,
            pool_connections: IntGaugeVec::new(
                opts("earshot_db_pool_connections", "Database pool connections, by pool and state (idle, busy)"),
                &["pool", "state"],
            )?,
            registry,
        };
        let r = &t.registry;
        r.register(Box::new(t.requests.clone()))?;
        r.register(Box::new(t.latency.clone()))?;
        r.register(Box::new(t.intake.clone()))?;
        r.register(Box::new(t.deliveries.clone()))?;
        r.register(Box::new(t.sse_subscribers.clone()))?;
        r.register(Box::new(t.event_head.clone()))?;
        r.register(Box::new(t.outbound.clone()))?;
        r.register(Box::new(t.queue_depth.clone()))?;
        r.register(Box::new(t.queue_age.clone()))?;
        r.register(Box::new(t.sla_breached.clone()))?;
        r.register(Box::new(t.pool_connections.clone()))?;
        r.register(Box::new(store.write_waits().clone()))?;
        Ok(Arc::new(t))
    }

    /// Counts one answered request.
    pub fn observe(&self, method: &str, route: &str, status: StatusCode, started: Instant) {
        let status = status.as_str();
        let labels = [method, route, status];
        self.requests.with_label_values(&labels).inc();
        self.latency
            .with_label_values(&labels)
            .observe(started.elapsed().as_secs_f64());
    }

    /// Reads what lives in the database and renders every series.
    pub async fn render(&self, store: &Store, streams: &StreamSlots) -> StoreResult<String> {
        self.refresh(store, streams).await?;
        let mut out = Vec::new();
        let encoder = TextEncoder::new();
        // Encoding into memory fails only on a metric the registry itself made invalid.
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    async fn refresh(&self, store: &Store, streams: &StreamSlots) -> StoreResult<()> {
        self.sse_subscribers.set(streams.total() as i64);
        self.event_head.set(*store.subscribe_seq().borrow());
        for (pool, size, idle) in store.pool_state() {
            let idle = idle.min(size as usize) as i64;
            self.pool_connections
                .with_label_values(&[pool, "idle"])
                .set(idle);
            self.pool_connections
                .with_label_values(&[pool, "busy"])
                .set(i64::from(size) - idle);
        }
        let now = store.now();
        let outbound: Vec<(String, i64)> = sqlx::query_as(
            "SELECT delivery_status, COUNT(*) FROM messages WHERE direction = 'outbound' GROUP BY delivery_status",
        )
        .fetch_all(store.reader())
        .await?;
        self.outbound.reset();
        for status in ["queued", "sent", "delivered", "failed"] {
            self.outbound.with_label_values(&[status]).set(0);
        }
        for (status, n) in outbound {
            self.outbound.with_label_values(&[&status]).set(n);
        }
        let (depth, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM messages WHERE direction = 'outbound' \
             AND delivery_status IN ('queued','sent')",
        )
        .fetch_one(store.reader())
        .await?;
        self.queue_depth.set(depth);
        self.queue_age
            .set(oldest.map_or(0.0, |t| (now - t).max(0) as f64 / 1e6));
        let breached: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT department, COUNT(*) FROM feedback WHERE status IN {AWAITING} AND sla_due_at < $1 \
             GROUP BY department"
        ))
        .bind(now)
        .fetch_all(store.reader())
        .await?;
        self.sla_breached.reset();
        for d in store.departments().await? {
            self.sla_breached.with_label_values(&[&d.id]).set(0);
        }
        for (department, n) in breached {
            self.sla_breached.with_label_values(&[&department]).set(n);
        }
        Ok(())
    }

    /// Follows the event log from its head now, counting intake and delivery outcomes.
    pub fn spawn_follower(self: &Arc<Self>, store: Store, mut shutdown: watch::Receiver<bool>) {
        let telemetry = self.clone();
        let mut seq = store.subscribe_seq();
        tokio::spawn(async move {
            let mut last = *seq.borrow_and_update();
            loop {
                tokio::select! {
                    changed = seq.changed() => if changed.is_err() { return },
                    _ = super::shutdown::stopped(&mut shutdown) => return,
                }
                loop {
                    let events = match store.events_after(last, 500).await {
                        Ok(e) => e,
                        Err(e) => {
                            tracing::warn!(error = %e, "metrics: reading the event log failed");
                            break;
                        }
                    };
                    let Some(newest) = events.last().map(|e| e.event.seq) else {
                        break;
                    };
                    for row in &events {
                        telemetry.count(row.event.name, &row.event.data);
                    }
                    last = newest;
                }
            }
        });
    }

    fn count(&self, name: EventName, data: &serde_json::Value) {
        let field = |f: &str| data.get(f).and_then(|v| v.as_str()).unwrap_or("unknown");
        match name {
            EventName::FeedbackCreated => self.intake.with_label_values(&[field("channel")]).inc(),
            EventName::ReplyStatusChanged => self
                .deliveries
                .with_label_values(&[field("delivery_status")])
                .inc(),
            _ => {}
        }
    }
}

/// The API router's middleware that counts each request by its route template (never the raw
/// path, which is the caller's bytes).
pub async fn record(
    State(telemetry): State<Arc<Telemetry>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| route_label(p.as_str()))
        .unwrap_or_else(|| "(no route)".to_string());
    let response = next.run(request).await;
    telemetry.observe(
        super::audit::method_label(&method),
        &route,
        response.status(),
        started,
    );
    response
}

/// A route template as a label, with `:name` for a path parameter (`/v1/feedback/:id`): braces
/// are valid in a label value, but some parsers of the text format (prometheus-parse among
/// them) cut a sample's labels at the first `}`.
pub(crate) fn route_label(template: &str) -> String {
    template.replace('{', ":").replace('}', "")
}

/// What a scrape reads: the series, and the store and open streams they are refreshed from.
#[derive(Clone)]
struct Scrape {
    telemetry: Arc<Telemetry>,
    store: Store,
    streams: Arc<StreamSlots>,
}

/// The router of the metrics address: `GET /metrics` only.
pub fn router(telemetry: Arc<Telemetry>, store: Store, streams: Arc<StreamSlots>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(Scrape {
            telemetry,
            store,
            streams,
        })
}

async fn scrape(State(scrape): State<Scrape>) -> Response {
    match scrape
        .telemetry
        .render(&scrape.store, &scrape.streams)
        .await
    {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: reading the database failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database could not be read; try again\n",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_route_label_names_its_parameters_without_braces() {
        assert_eq!(
            super::route_label("/v1/feedback/{id}/replies"),
            "/v1/feedback/:id/replies"
        );
        assert_eq!(super::route_label("/v1/feedback"), "/v1/feedback");
    }
}
