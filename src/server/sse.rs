//! `GET /v1/events`: the event log as server-sent events.
//!
//! Each subscriber reads the event table from its own cursor, page by page, only as fast as it
//! consumes (so a slow consumer holds one page in memory, not a backlog), and sleeps on a
//! watch channel that changes when new events commit. `id:` is the sequence number; resuming
//! with `Last-Event-ID` gives every later event once, in order. When the resume point has been
//! pruned, the stream starts with `stream.reset` so the console refetches.
//!
//! A stream lives only as long as its token: the token is checked again before every page read
//! after a wake-up and every [`TOKEN_RECHECK`] while nothing happens, and the stream ends (the
//! body finishes) once the token is revoked or expired or its agent is gone. One token holds at
//! most `max_streams_per_token` open streams at once (429 beyond that).

use super::auth::{bearer_in, ApiQuery, Auth};
use super::error::{ApiError, ApiResult};
use super::store::{hash_token, EventRow, Store, StoreError};
use super::AppState;
use crate::domain::api::StreamReset;
use crate::domain::{Event, EventName, Scope};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

const PAGE: i64 = 256;
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an open stream checks that its token is still valid while no event wakes it (it
/// also checks before every page it reads after a wake-up). A revoked or expired token's stream
/// ends within about this long.
pub const TOKEN_RECHECK: Duration = Duration::from_secs(5);
/// `Retry-After` (seconds) of the 429 for a token that already has its maximum of open streams.
pub const STREAMS_RETRY_AFTER: u64 = 5;

/// Open streams per token (by token hash), so that one token cannot hold thousands of them.
pub struct StreamSlots {
    per_token: usize,
    open: Mutex<HashMap<String, usize>>,
}

/// One open stream's place in [`StreamSlots`]; dropped with the stream, which frees the place.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    key: String,
}

impl StreamSlots {
    /// At most `per_token` open streams per token; 0 for no limit.
    pub fn new(per_token: usize) -> Arc<Self> {
        Arc::new(StreamSlots {
            per_token,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more stream of the token with hash `key`, or `None` when it has all its
    /// streams open already.
    pub fn acquire(self: &Arc<Self>, key: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key.to_string()).or_insert(0);
        if self.per_token > 0 && *count >= self.per_token {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            slots: self.clone(),
            key: key.to_string(),
        })
    }

    /// How many streams are open, over every token.
    pub fn total(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.values().sum()
    }

    /// How many streams the token with hash `key` has open.
    pub fn open(&self, key: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(key).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// What keeps a stream open: its token (checked again now and then) and its slot.
pub struct Holder {
    token: String,
    _slot: StreamSlot,
}

/// What a stream may still see once its token has been checked again: `None` when the token
/// is no longer valid (revoked, expired, lost the read scope, its agent removed) or cannot be
/// checked, which ends the stream (failing closed: a client resumes with `Last-Event-ID`).
async fn still_allowed(store: &Store, token: &str) -> Option<Option<Vec<String>>> {
    match store.authenticate(token).await {
        Ok(Some(agent)) if agent.has(Scope::Read) => {
            Some(agent.department_scope().map(<[String]>::to_vec))
        }
        Ok(_) | Err(StoreError::NotFound(_)) => {
            tracing::info!("event stream: the token is no longer valid; ending the stream");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "event stream: cannot check the token; ending the stream");
            None
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct EventParams {
    /// For clients that cannot set headers (EventSource in a browser).
    last_event_id: Option<i64>,
}

fn resume_point(headers: &HeaderMap, params: &EventParams) -> ApiResult<Option<i64>> {
    if let Some(v) = headers.get("last-event-id") {
        let text = v.to_str().unwrap_or_default().trim();
        return text
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request("Last-Event-ID must be an event id (a number)"));
    }
    Ok(params.last_event_id)
}

pub async fn events(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<EventParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let agent = auth.require(Scope::Read)?.clone();
    let resume = resume_point(&headers, &params)?;
    let token = bearer_in(&headers).unwrap_or_default().to_string();
    let slot = state.streams.acquire(&hash_token(&token)).ok_or_else(|| {
        let mut e = ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too-many-streams",
            "Too many event streams",
            format!(
                "this token already has {} open event streams; close one or retry in {STREAMS_RETRY_AFTER} s",
                state.streams.per_token
            ),
        );
        e.retry_after = Some(STREAMS_RETRY_AFTER);
        e
    })?;
    let scope: Option<Vec<String>> = agent.department_scope().map(<[String]>::to_vec);
    // The start point is fixed here, before the response headers go out: a client that has its
    // headers must get every event committed after that moment. Reading it lazily, when the body
    // is first polled, loses the events that commit in between.
    let latest = state.store.subscribe_seq();
    let start = start_point(&state.store, resume).await?;
    let stream = event_stream(
        state.store.clone(),
        start,
        latest,
        scope,
        state.shutdown.clone(),
        Holder { token, _slot: slot },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("ping")))
}

/// Where a subscriber starts reading: after `cursor`, preceded by `reset` when the resume point
/// has been pruned (or is from a future the log never reached, such as another database).
pub struct StartPoint {
    cursor: i64,
    reset: Option<Event>,
}

/// Without a resume point a stream starts at the newest event (live only: history comes from
/// the list endpoints).
async fn start_point(store: &Store, resume: Option<i64>) -> ApiResult<StartPoint> {
    let (oldest, newest) = store.event_bounds().await?;
    let start = match resume {
        None => StartPoint {
            cursor: newest,
            reset: None,
        },
        // Events after `r` are gone when the oldest kept event is later than r + 1.
        Some(r) if oldest > 0 && r + 1 < oldest || r > newest => StartPoint {
            cursor: newest,
            reset: Some(Event {
                seq: newest,
                name: EventName::StreamReset,
                data: serde_json::to_value(StreamReset {
                    oldest_seq: oldest,
                    latest_seq: newest,
                })
                .unwrap_or_default(),
                created_at: chrono::Utc::now(),
            }),
        },
        Some(r) => StartPoint {
            cursor: r,
            reset: None,
        },
    };
    Ok(start)
}

fn visible(row: &EventRow, scope: &Option<Vec<String>>) -> bool {
    match (scope, &row.department) {
        (None, _) | (_, None) => true,
        (Some(mine), Some(dept)) => mine.contains(dept),
    }
}

fn to_sse(event: &Event) -> SseEvent {
    let data = serde_json::to_string(event).unwrap_or_default();
    SseEvent::default()
        .id(event.seq.to_string())
        .event(event.name.as_str())
        .data(data)
}

/// The stream of one subscriber, from its start point on. `latest` was taken before the start
/// point was read, so no commit in between goes unnoticed. The stream owns `holder` (its slot is
/// freed when the stream is dropped) and ends once the holder's token is no longer valid.
pub fn event_stream(
    store: Store,
    start: StartPoint,
    mut latest: watch::Receiver<i64>,
    mut scope: Option<Vec<String>>,
    mut shutdown: watch::Receiver<bool>,
    holder: Holder,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    async_stream::stream! {
        let holder = holder;
        if let Some(reset) = &start.reset {
            yield Ok(to_sse(reset));
        }
        let mut cursor = start.cursor;
        // The token was checked when the stream was opened.
        let mut next_check = Instant::now() + TOKEN_RECHECK;
        loop {
            // Mark the current value seen before reading, so a commit after the read still wakes us.
            latest.borrow_and_update();
            let rows = match store.events_after(cursor, PAGE).await {
                Ok(rows) => rows,
                Err(e) => { tracing::warn!(error = %e, "event stream: read failed"); return; }
            };
            let full = rows.len() as i64 == PAGE;
            for row in rows {
                cursor = row.event.seq;
                if visible(&row, &scope) {
                    yield Ok(to_sse(&row.event));
                }
            }
            if full {
                // A long replay checks the token too, page by page once it is due.
                if Instant::now() >= next_check {
                    match still_allowed(&store, &holder.token).await {
                        Some(now) => scope = now,
                        None => return,
                    }
                    next_check = Instant::now() + TOKEN_RECHECK;
                }
                continue;
            }
            // Wait for a commit, re-checking the token every TOKEN_RECHECK meanwhile; after a
            // wake-up, check it before reading the page, so that a revoked token is not sent
            // the events committed after its revocation.
            loop {
                tokio::select! {
                    changed = latest.changed() => {
                        if changed.is_err() { return }
                        break;
                    }
                    _ = tokio::time::sleep_until(next_check) => {
                        if still_allowed(&store, &holder.token).await.is_none() {
                            return;
                        }
                        next_check = Instant::now() + TOKEN_RECHECK;
                    }
                    _ = crate::server::stopped(&mut shutdown) => return,
                }
            }
            match still_allowed(&store, &holder.token).await {
                Some(now) => scope = now,
                None => return,
            }
            next_check = Instant::now() + TOKEN_RECHECK;
        }
    }
}

/// On PostgreSQL, other server instances append events too: LISTEN for their notifications
/// and wake local subscribers. Also polls now and then, so a lost notification only delays.
pub fn spawn_pg_listener(store: Store, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect(store.url()).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen("earshot_events").await {
                tracing::warn!(error = %e, "LISTEN failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            loop {
                tokio::select! {
                    n = listener.recv() => match n {
                        Ok(n) => if let Ok(seq) = n.payload().parse() { store.announce_seq(seq) },
                        Err(_) => break,
                    },
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {
                        if let Ok((_, newest)) = store.event_bounds().await { store.announce_seq(newest) }
                    }
                    _ = crate::server::stopped(&mut shutdown) => return,
                }
            }
        }
    });
}
