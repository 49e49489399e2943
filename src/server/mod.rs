//! The reference CRM server (`earshot serve`): axum over the store. Intake, routing, profiles,
//! replies, and the append-only event log streamed over SSE (DESIGN.md §1, §3).

pub mod api;
pub mod audit;
pub mod auth;
pub mod customer_data;
pub mod delivery;
pub mod demo;
pub mod error;
pub mod intake;
pub mod listener;
pub mod overload;
pub mod ratelimit;
pub mod routing;
pub mod rulebook;
mod service;
pub mod setup;
mod shutdown;
pub mod sse;
mod state;
pub mod store;
pub mod telemetry;
pub mod triage;

pub use api::BODY_LIMIT;
pub use state::AppState;

use routing::RoutingRules;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use store::Store;
use tokio::sync::watch;

/// How the server is started, from `earshot serve` flags or by the demo.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// A SQLite path (or `sqlite:` URL) or a `postgres://` URL.
    pub db: String,
    pub listen: SocketAddr,
    /// Seed the demo organisation (if the database is empty) and run the simulator.
    pub demo: bool,
    /// Routing rules file; the embedded default when `None`.
    pub routing: Option<PathBuf>,
    /// Business rulebook (a file or a directory of files); the embedded default when `None`.
    pub rules: Option<PathBuf>,
    /// Simulated new feedback per minute in demo mode (0 turns the simulator off).
    pub sim_per_minute: f64,
    /// Minutes between simulated outage bursts (0: none).
    pub sim_burst_every_min: f64,
    /// How many events the log keeps for resuming subscribers.
    pub event_retention: i64,
    /// Batches of events the in-memory fan-out keeps for a subscriber that is behind; one
    /// further behind reads what it missed from the event log.
    pub event_backlog: usize,
    /// Requests per token; `per_second: 0` turns limiting off.
    pub rate_limit: ratelimit::RateLimit,
    /// Where outbound messages are posted (`--outbound`). Without it, the demo delivers to its
    /// loopback sink and other servers keep messages queued.
    pub outbound: Option<delivery::OutboundConfig>,
    /// Header-read and idle timeouts, the connection cap, event streams per token.
    pub limits: listener::Limits,
    /// The intake key file (`--intake-key-file`), from which intake sources' secrets derive;
    /// without one, `POST /v1/intake/{source}` answers 503.
    pub intake_key: Option<PathBuf>,
    /// Where `GET /metrics` (Prometheus) is served (`--metrics-listen`); nowhere when `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// Where the store's "now" comes from (a test's manual clock; the system's otherwise).
    pub clock: store::Clock,
}

impl ServerConfig {
    pub fn new(db: impl Into<String>, listen: SocketAddr) -> Self {
        ServerConfig {
            db: db.into(),
            listen,
            demo: false,
            routing: None,
            rules: None,
            sim_per_minute: 6.0,
            sim_burst_every_min: 10.0,
            event_retention: 1_000_000,
            event_backlog: sse::FANOUT_BACKLOG,
            rate_limit: ratelimit::RateLimit::default(),
            outbound: None,
            limits: listener::Limits::default(),
            intake_key: None,
            metrics_listen: None,
            clock: store::Clock::system(),
        }
    }
}

/// A server running in this process; dropping it does not stop it, `shutdown` does.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `GET /metrics` is served, if it is.
    pub metrics_addr: Option<SocketAddr>,
    pub store: Store,
    /// The routing rules in force (which departments items go to).
    pub routing: Arc<RoutingRules>,
    refusals: audit::RefusalLog,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, ends open streams, waits for the server task, closes the store.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.refusals.flush().await;
        self.store.close().await;
    }

    /// Waits until the server stops by itself (it does not, short of an error).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store error is shown in the message, not as a `source` (which `{:#}` would print a
    /// second time).
    #[error("cannot open the database: {0}")]
    Store(store::StoreError),
    #[error("routing rules: {0}")]
    Routing(String),
    #[error("business rules: {0}")]
    Rules(String),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("demo seed failed: {0}")]
    Seed(String),
    #[error("outbound channels: {0}")]
    Outbound(String),
    #[error("metrics: {0}")]
    Metrics(String),
}

impl From<store::StoreError> for StartError {
    fn from(e: store::StoreError) -> Self {
        StartError::Store(e)
    }
}

/// Opens the store, seeds the demo if asked, binds and serves in a background task.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    let store = Store::open(&config.db)
        .await?
        .with_clock(config.clock.clone());
    let routing = match &config.routing {
        Some(path) => RoutingRules::load(path).map_err(StartError::Routing)?,
        None => RoutingRules::parse(routing::DEFAULT_ROUTING).map_err(StartError::Routing)?,
    };
    let routing = Arc::new(routing);
    let rules =
        Arc::new(rulebook::RulesInForce::load(config.rules.as_deref()).map_err(StartError::Rules)?);
    if config.demo {
        demo::seed_if_empty(&store)
            .await
            .map_err(|e| StartError::Seed(e.to_string()))?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Listen(config.listen, e))?;
    let metrics_listener = match config.metrics_listen {
        Some(at) => Some(
            tokio::net::TcpListener::bind(at)
                .await
                .map_err(|e| StartError::Listen(at, e))?,
        ),
        None => None,
    };
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Listen(config.listen, e))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (outbound, sink) = match (&config.outbound, config.demo) {
        (Some(c), _) => (Some(c.clone()), None),
        (None, true) => {
            let sink = delivery::sink::DemoSink::new();
            (Some(sink.outbound_config(addr)), Some(sink))
        }
        (None, false) => (None, None),
    };
    let delivery = match outbound {
        Some(c) => delivery::DeliveryQueue::start(
            store.clone(),
            delivery::Adapters::from_config(&c).map_err(StartError::Outbound)?,
            c.retry,
            shutdown_rx.clone(),
        ),
        None => delivery::DeliveryQueue::disabled(),
    };
    let state = AppState {
        store: store.clone(),
        routing: routing.clone(),
        rules,
        limiter: ratelimit::TokenLimiter::new(config.rate_limit).map(Arc::new),
        delivery,
        refusals: audit::RefusalLog::new(store.clone()),
        shutdown: shutdown_rx.clone(),
        triage: triage::TriageEngine::new(),
        streams: sse::StreamSlots::new(config.limits.max_streams_per_token),
        intake_key: Arc::new(intake::KeyFile::new(config.intake_key.clone())),
        in_flight: overload::InFlightLimits {
            reads: overload::InFlightLimit::new(config.limits.max_reads_in_flight),
            writes: overload::InFlightLimit::new(config.limits.max_in_flight),
        },
        fanout: sse::Fanout::new(config.event_backlog),
        telemetry: telemetry::Telemetry::new(&store)
            .map_err(|e| StartError::Metrics(e.to_string()))?,
    };
    state
        .telemetry
        .spawn_follower(store.clone(), shutdown_rx.clone());
    let metrics_addr = match metrics_listener {
        Some(l) => {
            let at = l
                .local_addr()
                .map_err(|e| StartError::Listen(config.listen, e))?;
            tokio::spawn(listener::serve(
                l,
                telemetry::router(
                    state.telemetry.clone(),
                    state.store.clone(),
                    state.streams.clone(),
                ),
                config.limits,
                shutdown_rx.clone(),
            ));
            tracing::info!(%at, "prometheus metrics at /metrics");
            Some(at)
        }
        None => None,
    };
    let refusals = state.refusals.clone();
    spawn_background(&config, &state);
    let mut app = api::router(state);
    if let Some(sink) = sink {
        app = app.merge(delivery::sink::router(sink));
    }
    let task = tokio::spawn(listener::serve(
        listener,
        app,
        config.limits,
        shutdown_rx.clone(),
    ));
    tracing::info!(%addr, db = %config.db, demo = config.demo, "earshot server listening");
    Ok(RunningServer {
        addr,
        metrics_addr,
        store,
        routing,
        refusals,
        shutdown: shutdown_tx,
        task,
    })
}

/// Tasks that live as long as the server: the simulator, event pruning, and on PostgreSQL the
/// LISTEN loop that wakes subscribers when another instance wrote events.
fn spawn_background(config: &ServerConfig, state: &AppState) {
    if config.demo && config.sim_per_minute > 0.0 {
        demo::simulator::spawn(
            state.clone(),
            config.sim_per_minute,
            config.sim_burst_every_min,
        );
    }
    state
        .triage
        .spawn_refresher(state.store.clone(), state.shutdown.clone());
    state.fanout.spawn(
        state.store.clone(),
        state.streams.clone(),
        state.shutdown.clone(),
    );
    rulebook::spawn_reloader(
        state.rules.clone(),
        state.store.clone(),
        state.shutdown.clone(),
    );
    let store = state.store.clone();
    // The team summary's copy of the last month's items, loaded before the first summary asks.
    tokio::spawn(async move {
        if let Err(e) = store.warm_metrics().await {
            tracing::warn!(error = %e, "loading the team summary's items failed (retried at the first summary)");
        }
    });
    let store = state.store.clone();
    let limiter = state.limiter.clone();
    let keep = config.event_retention;
    let mut stop = state.shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
                _ = shutdown::stopped(&mut stop) => return,
            }
            if let Some(limiter) = &limiter {
                limiter.shrink();
            }
            if let Err(e) = store.prune_events(keep).await {
                tracing::warn!(error = %e, "event pruning failed");
            }
            // Every instance reads the change log within a summary or two; one that did not
            // read this far loads its copy whole.
            if let Err(e) = store.prune_metrics_changes(METRICS_CHANGES_KEPT).await {
                tracing::warn!(error = %e, "pruning the metrics change log failed");
            }
        }
    });
    if state.store.dialect() == store::Dialect::Postgres {
        sse::spawn_pg_listener(state.store.clone(), state.shutdown.clone());
    }
}

/// Rows of the metrics change log kept at each pruning (store/metrics_mirror.rs).
const METRICS_CHANGES_KEPT: i64 = 200_000;
