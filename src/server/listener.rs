//! The accept loop of the server: HTTP/1 over hyper with the limits a public listener needs,
//! which `axum::serve` does not have.
//!
//! - A request head must be complete within `header_read_timeout` of its first byte (of the
//!   accept, for a connection's first request), so a client that sends a byte now and then
//!   is cut off instead of holding its connection for ever.
//! - A keep-alive connection with no request in flight is closed after `idle_timeout`.
//! - At most `max_connections` connections are open (clamped below the process's open-file
//!   limit). When a new connection arrives at the cap, the connection that has been waiting
//!   longest for a request head (idle or sending one slowly) is closed to make room: clients
//!   that send their request at once always get in, slow or idle ones lose their place. Only
//!   when every connection is busy with a request (event streams, say) is the newcomer answered
//!   503 problem+json with `Retry-After`. Refusing or queueing newcomers instead would let a
//!   thousand stalled connections lock every real client out for as long as they stall.
//! - A connection busy with a request (an open event stream, a handler waiting on the store)
//!   is never timed out here; streams end by themselves (see `sse`).
//!
//! On shutdown the loop stops accepting, closes connections with no request in flight, lets
//! the others finish (open event streams end on the same signal) for up to [`SHUTDOWN_GRACE`],
//! then drops what is left.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// How long open connections get to finish after shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// `Retry-After` (seconds) of the 503 for a connection over the cap.
pub const OVERLOADED_RETRY_AFTER: u64 = 2;
/// File descriptors kept free of connections for the store, the outbound client and logs.
const RESERVED_FDS: u64 = 64;
/// At most this many over-cap connections are being answered 503 at once; beyond that they
/// are closed without an answer.
const MAX_REFUSING: usize = 32;
/// How long an over-cap connection gets to send its request and read the 503.
const REFUSE_WITHIN: Duration = Duration::from_secs(3);

/// Connection limits of the listener and the event streams (`ServerConfig::limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request head must arrive completely within this long of its first byte.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// Open connections at most (also kept below the open-file limit).
    pub max_connections: usize,
    /// Open event streams per token at most (429 beyond); 0 for no limit.
    pub max_streams_per_token: usize,
    /// A handler must have its response ready within this long of the request head, body
    /// read included (408 otherwise): a body sent a byte at a time cannot hold a connection.
    /// An event stream's response is ready at once, so streams are not cut by it.
    pub request_timeout: Duration,
    /// Requests that change data (all but GET and HEAD) handled at once at most; one more
    /// waits a moment for a place, then is answered 503 with `Retry-After` (see `overload`).
    pub max_in_flight: usize,
    /// Reads (GET, HEAD; event streams not counted) handled at once at most, likewise.
    pub max_reads_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_streams_per_token: 8,
            request_timeout: Duration::from_secs(30),
            max_in_flight: super::overload::default_max_in_flight(),
            max_reads_in_flight: super::overload::default_max_reads_in_flight(),
        }
    }
}

/// What one connection is doing, for its timeouts and for choosing whom to close at the cap.
struct Activity {
    /// Requests whose response has not been sent completely.
    in_flight: usize,
    /// Whether bytes of a request head have arrived since the connection went idle (a new
    /// connection counts as reading its first head).
    head_started: bool,
    /// Since when the connection has had no request in flight (or is reading a head).
    since: Instant,
}

struct Tracker {
    id: u64,
    activity: Mutex<Activity>,
    /// The deadline may have moved: a head started, or the last request finished.
    changed: Notify,
    /// Closed to make room for a new connection.
    evict: Notify,
}

impl Tracker {
    fn new(id: u64) -> Arc<Self> {
        Arc::new(Tracker {
            id,
            activity: Mutex::new(Activity {
                in_flight: 0,
                head_started: true,
                since: Instant::now(),
            }),
            changed: Notify::new(),
            evict: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Activity> {
        self.activity.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the connection times out, if nothing happens meanwhile; `None` while busy (or
    /// for a timeout too long to be represented).
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let a = self.lock();
        match (a.in_flight, a.head_started) {
            (0, true) => a.since.checked_add(limits.header_read_timeout),
            (0, false) => a.since.checked_add(limits.idle_timeout),
            _ => None,
        }
    }

    /// Waiting since when for a request (idle or reading a head), or `None` while busy.
    fn waiting_since(&self) -> Option<Instant> {
        let a = self.lock();
        (a.in_flight == 0).then_some(a.since)
    }

    fn on_read(&self) {
        let mut a = self.lock();
        if a.in_flight == 0 && !a.head_started {
            a.head_started = true;
            a.since = Instant::now();
            drop(a);
            self.changed.notify_one();
        }
    }

    /// A request head is complete: the connection is busy until the returned guard is dropped
    /// (with the response body, once it is sent).
    fn begin(self: &Arc<Self>) -> InFlight {
        let mut a = self.lock();
        a.in_flight += 1;
        a.head_started = false;
        InFlight(self.clone())
    }
}

struct InFlight(Arc<Tracker>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut a = self.0.lock();
        a.in_flight = a.in_flight.saturating_sub(1);
        if a.in_flight == 0 {
            a.head_started = false;
            a.since = Instant::now();
            drop(a);
            self.0.changed.notify_one();
        }
    }
}

/// The open connections, by id.
#[derive(Default)]
struct Registry {
    open: Mutex<HashMap<u64, Arc<Tracker>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Tracker>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the connection that has waited longest for a request, if any is not busy.
    fn evict_one(open: &mut HashMap<u64, Arc<Tracker>>) -> bool {
        let victim = open
            .values()
            .filter_map(|t| t.waiting_since().map(|since| (since, t.id)))
            .min();
        match victim.and_then(|(_, id)| open.remove(&id)) {
            Some(t) => {
                t.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Removes a connection from the registry when its task ends.
struct Registered(Arc<Registry>, u64);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.lock().remove(&self.1);
    }
}

/// The TCP stream, telling the tracker when bytes arrive.
struct Watched {
    inner: TcpStream,
    tracker: Arc<Tracker>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.tracker.on_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body that keeps its request in flight until it is sent (or dropped).
struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// `max_connections`, kept `RESERVED_FDS` below the soft open-file limit so that accepting
/// never starves the store of descriptors.
fn connection_cap(limits: &Limits) -> usize {
    let wanted = limits.max_connections.max(1);
    match open_file_limit() {
        Some(fds) => {
            let room = fds.saturating_sub(RESERVED_FDS).max(16);
            let cap = wanted.min(usize::try_from(room).unwrap_or(usize::MAX));
            if cap < wanted {
                tracing::warn!(
                    max_connections = wanted,
                    open_file_limit = fds,
                    cap,
                    "the open-file limit is lower than max_connections; capping connections"
                );
            }
            cap
        }
        None => wanted,
    }
}

#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and reads nothing else.
    let done = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
    let soft = limit.rlim_cur as u64;
    (done == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(soft)
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

/// Out of file descriptors (the process's or the system's).
fn out_of_fds(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Serves `app` on `listener` until `shutdown` turns true, then drains as described above.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let cap = connection_cap(&limits);
    let registry = Arc::new(Registry::default());
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let next_id = AtomicU64::new(0);
    // hyper's own header timer runs from the moment it waits for a head, idle time included:
    // a backstop behind the connection's watchdog, which applies the two limits separately
    // (off when too long for hyper to add to an Instant).
    let backstop = limits
        .header_read_timeout
        .saturating_add(limits.idle_timeout);
    let backstop = Some(backstop).filter(|b| *b < Duration::from_secs(365 * 24 * 3600));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(backstop)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let mut tasks = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            _ = super::shutdown::stopped(&mut shutdown) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if out_of_fds(&e) => {
                // Make room the way the cap does, then let the backlog be accepted.
                let freed = Registry::evict_one(&mut registry.lock());
                tracing::warn!(error = %e, freed, "out of file descriptors accepting a connection");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let tracker = Tracker::new(id);
        {
            let mut open = registry.lock();
            if open.len() >= cap && !Registry::evict_one(&mut open) {
                drop(open);
                refuse(stream, &refusing, &mut tasks);
                continue;
            }
            open.insert(id, tracker.clone());
        }
        let registered = Registered(registry.clone(), id);
        let conn = serve_one(
            http.clone(),
            stream,
            peer,
            app.clone(),
            tracker,
            limits,
            shutdown.clone(),
        );
        tasks.spawn(async move {
            let _registered = registered;
            conn.await;
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "connections still open after the shutdown grace; closing them"
        );
        tasks.shutdown().await;
    }
}

/// The largest request head (request line and headers) read; hyper answers 431 beyond. Long
/// enough for any real client, short enough that 4,096 connections cannot hold gigabytes.
const MAX_HEAD_BYTES: usize = 128 * 1024;

/// 408 problem+json for a request whose handler (reading a slow body, say) ran out of time.
fn request_timed_out() -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = super::error::ApiError::new(
        super::error::ProblemType::REQUEST_TIMEOUT,
        "the request (its body included) did not complete in time",
    )
    .into_response();
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

/// One connection: hyper's HTTP/1 state machine, watched for the header and idle timeouts,
/// eviction and shutdown.
async fn serve_one(
    http: hyper::server::conn::http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    tracker: Arc<Tracker>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Watched {
        inner: stream,
        tracker: tracker.clone(),
    });
    let in_tracker = tracker.clone();
    let request_timeout = limits.request_timeout;
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let in_flight = in_tracker.begin();
        let app = app.clone();
        async move {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            let response = match tokio::time::timeout(request_timeout, app.oneshot(req)).await {
                Ok(answered) => answered?,
                Err(_) => request_timed_out(),
            };
            Ok::<_, std::convert::Infallible>(response.map(|inner| Tracked {
                inner,
                _in_flight: in_flight,
            }))
        }
    });
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        let deadline = tracker.deadline(&limits);
        let far = Instant::now() + Duration::from_secs(24 * 3600);
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                return;
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or(far)) => {
                if tracker.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%peer, "connection timed out waiting for a request");
                    return;
                }
            }
            _ = tracker.changed.notified() => {}
            _ = tracker.evict.notified() => {
                tracing::debug!(%peer, "connection closed to make room for a new one");
                return;
            }
            _ = super::shutdown::stopped(&mut shutdown), if !shutting_down => {
                shutting_down = true;
                if tracker.waiting_since().is_some() {
                    return;
                }
                conn.as_mut().graceful_shutdown();
            }
        }
        if shutting_down && tracker.waiting_since().is_some() {
            return;
        }
    }
}

/// Answers a connection over the cap with a 503 problem+json (once it has sent its request),
/// in a task of its own so the accept loop goes on; closes it at once when too many are being
/// answered already.
fn refuse(stream: TcpStream, refusing: &Arc<Semaphore>, tasks: &mut JoinSet<()>) {
    tracing::debug!("connection limit reached and every connection is busy; answering 503");
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return;
    };
    tasks.spawn(async move {
        let _permit = permit;
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(REFUSE_WITHIN)
            .keep_alive(false);
        let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
            let mut e = ApiError::new(
                super::error::ProblemType::OVERLOADED,
                format!(
                    "the server has all the connections it takes; retry in {OVERLOADED_RETRY_AFTER} s"
                ),
            );
            e.retry_after = Some(OVERLOADED_RETRY_AFTER);
            Ok::<Response<Body>, std::convert::Infallible>(
                axum::response::IntoResponse::into_response(e),
            )
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let _ = tokio::time::timeout(REFUSE_WITHIN, conn).await;
    });
}
