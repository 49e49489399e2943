//! `GET /v1/events`: the event log as server-sent events.
//!
//! Each subscriber reads the event table from its own cursor, page by page, only as fast as it
//! consumes (so a slow consumer holds one page in memory, not a backlog), and sleeps on a
//! watch channel that changes when new events commit. `id:` is the sequence number; resuming
//! with `Last-Event-ID` gives every later event once, in order. When the resume point has been
//! pruned, the stream starts with `stream.reset` so the console refetches.

use super::auth::{ApiQuery, Auth};
use super::error::{ApiError, ApiResult};
use super::store::{EventRow, Store};
use super::AppState;
use crate::domain::api::StreamReset;
use crate::domain::{Event, EventName, Scope};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;

const PAGE: i64 = 256;
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

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
/// point was read, so no commit in between goes unnoticed.
pub fn event_stream(
    store: Store,
    start: StartPoint,
    mut latest: watch::Receiver<i64>,
    scope: Option<Vec<String>>,
    mut shutdown: watch::Receiver<bool>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    async_stream::stream! {
        if let Some(reset) = &start.reset {
            yield Ok(to_sse(reset));
        }
        let mut cursor = start.cursor;
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
                continue;
            }
            tokio::select! {
                changed = latest.changed() => if changed.is_err() { return },
                _ = crate::server::stopped(&mut shutdown) => return,
            }
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
