//! `GET /v1/events`: the event log as server-sent events.
//!
//! One fan-out task ([`Fanout`]) reads each batch of newly committed events from the table
//! once, encodes each event's frame once, checks once the token of every open stream, and
//! broadcasts the batch (a tokio broadcast of `Arc`s: subscribers share the frames, they do not
//! copy them). A subscriber sends the frames its departments may see. It reads the table
//! itself only to catch up: from its resume point (`Last-Event-ID`) when it opens, and when
//! it falls behind the broadcast (it lagged, or a batch does not follow on from its cursor), a
//! page at a time, only as fast as it consumes, so a slow consumer holds one page, not a
//! backlog. `id:` is the sequence number; resuming with `Last-Event-ID` gives every later event
//! once, in order. When the resume point has been pruned, the stream starts with
//! `stream.reset` so the console refetches.
//!
//! A stream lives only as long as its token: the fan-out task checks every open stream's token
//! after each batch commits and before the batch is sent, and every [`TOKEN_RECHECK`] while
//! nothing happens; a stream catching up from the table checks its own token page by page. The
//! stream ends (the body finishes) once the token is revoked or expired or its agent is gone, so
//! a revoked token is never sent an event committed after its revocation. One token holds at
//! most `max_streams_per_token` open streams at once (429 beyond that).

use super::error::ApiResult;
use super::store::{EventRow, Store, StoreError};
use crate::domain::api::StreamReset;
use crate::domain::{Event, EventName, Scope};
use axum::body::Bytes;
use futures::Stream;
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

const PAGE: i64 = 256;
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an open stream checks that its token is still valid while no event wakes it (it
/// also checks before every page it reads after a wake-up). A revoked or expired token's stream
/// ends within about this long.
pub const TOKEN_RECHECK: Duration = Duration::from_secs(5);
/// `Retry-After` (seconds) of the 429 for a token that already has its maximum of open streams.
pub const STREAMS_RETRY_AFTER: u64 = 5;
/// Batches the broadcast keeps for subscribers that are behind (the default of
/// `ServerConfig::event_backlog`); one further behind catches up from the table.
pub const FANOUT_BACKLOG: usize = 256;
/// The keep-alive comment sent after [`KEEP_ALIVE`] without any output.
const PING: &[u8] = b":ping\n\n";

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

    /// The token hashes with at least one open stream.
    pub fn tokens(&self) -> Vec<String> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.keys().cloned().collect()
    }

    /// How many streams are open, over every token.
    pub fn total(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.values().sum()
    }

    /// The most streams one token may hold open (0: no limit).
    pub fn per_token(&self) -> usize {
        self.per_token
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
    hash: String,
    _slot: StreamSlot,
}

impl Holder {
    /// The holder of a stream opened with `token` (whose hash is `hash`) in `slot`.
    pub fn new(token: String, hash: String, slot: StreamSlot) -> Holder {
        Holder {
            token,
            hash,
            _slot: slot,
        }
    }
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

/// Where a subscriber starts reading: after `cursor`, preceded by `reset` when the resume point
/// has been pruned (or is from a future the log never reached, such as another database).
pub struct StartPoint {
    cursor: i64,
    reset: Option<Event>,
}

/// Without a resume point a stream starts at the newest event (live only: history comes from
/// the list endpoints).
pub(crate) async fn start_point(store: &Store, resume: Option<i64>) -> ApiResult<StartPoint> {
    let (oldest, newest) = store.event_bounds().await?;
    let start = match resume {
        None => StartPoint {
            cursor: newest,
            reset: None,
        },
        // Events after `r` are gone when the oldest kept event is later than r + 1.
        Some(r) if oldest > 0 && r.saturating_add(1) < oldest || r > newest => StartPoint {
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

fn visible(department: &Option<String>, scope: &Option<Vec<String>>) -> bool {
    match (scope, department) {
        (None, _) | (_, None) => true,
        (Some(mine), Some(dept)) => mine.contains(dept),
    }
}

/// An event as the bytes of its SSE frame.
fn encode(event: &Event) -> Bytes {
    let data = serde_json::to_string(event).unwrap_or_default();
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {data}\n\n",
        event.seq,
        event.name.as_str()
    ))
}

/// One event of a batch, encoded once for every subscriber.
pub struct Frame {
    seq: i64,
    department: Option<String>,
    bytes: Bytes,
}

impl Frame {
    fn of(row: &EventRow) -> Frame {
        Frame {
            seq: row.event.seq,
            department: row.department.clone(),
            bytes: encode(&row.event),
        }
    }
}

/// What the fan-out task broadcasts: every event with a sequence number in `(after, upto]`,
/// and the result of checking, after they committed, the tokens of the streams open then.
pub struct Batch {
    after: i64,
    upto: i64,
    frames: Vec<Frame>,
    /// The token hashes checked for this batch.
    checked: HashSet<String>,
    /// Those of them still valid, with the departments each may see (`None`: all).
    valid: HashMap<String, Option<Vec<String>>>,
}

/// The broadcast of encoded event batches (one fan-out task per server).
#[derive(Clone)]
pub struct Fanout {
    tx: broadcast::Sender<Arc<Batch>>,
}

impl Fanout {
    /// A broadcast that keeps `backlog` batches (at least 1) for subscribers behind.
    pub fn new(backlog: usize) -> Self {
        Fanout {
            tx: broadcast::channel(backlog.max(1)).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.tx.subscribe()
    }

    /// The fan-out task: reads what commits, checks the open streams' tokens, broadcasts.
    pub fn spawn(&self, store: Store, slots: Arc<StreamSlots>, shutdown: watch::Receiver<bool>) {
        tokio::spawn(fan_out(self.tx.clone(), store, slots, shutdown));
    }
}

async fn fan_out(
    tx: broadcast::Sender<Arc<Batch>>,
    store: Store,
    slots: Arc<StreamSlots>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut latest = store.subscribe_seq();
    let mut cursor = *latest.borrow_and_update();
    let mut next_check = Instant::now() + TOKEN_RECHECK;
    loop {
        tokio::select! {
            changed = latest.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep_until(next_check) => {}
            _ = crate::server::shutdown::stopped(&mut shutdown) => return,
        }
        // Marked seen before reading, so a commit during the read wakes us again.
        let newest = *latest.borrow_and_update();
        if tx.receiver_count() == 0 {
            // Nobody listens: a stream that opens later catches up from the table.
            cursor = cursor.max(newest);
            next_check = Instant::now() + TOKEN_RECHECK;
            continue;
        }
        loop {
            let rows = match store.events_after(cursor, PAGE).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "event fan-out: read failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let full = rows.len() as i64 == PAGE;
            let after = cursor;
            if let Some(last) = rows.last() {
                cursor = last.event.seq;
            }
            let (checked, valid) = check_tokens(&store, &slots).await;
            next_check = Instant::now() + TOKEN_RECHECK;
            let batch = Batch {
                after,
                upto: cursor,
                frames: rows.iter().map(Frame::of).collect(),
                checked,
                valid,
            };
            let _ = tx.send(Arc::new(batch));
            if !full {
                break;
            }
        }
    }
}

/// Every open stream's token checked in one query; when the check fails, every token counts
/// as invalid (failing closed, as a stream does on its own: its client resumes).
async fn check_tokens(
    store: &Store,
    slots: &StreamSlots,
) -> (HashSet<String>, HashMap<String, Option<Vec<String>>>) {
    let hashes = slots.tokens();
    let valid = match store.authenticate_hashes(&hashes).await {
        Ok(agents) => agents
            .into_iter()
            .filter(|(_, a)| a.has(Scope::Read))
            .map(|(h, a)| (h, a.department_scope().map(<[String]>::to_vec)))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "event fan-out: cannot check the tokens; ending the streams");
            HashMap::new()
        }
    };
    (hashes.into_iter().collect(), valid)
}

/// The stream of one subscriber, from its start point on: the table until it has caught up,
/// then the broadcast (back to the table whenever it falls behind). `live` was joined before
/// the start point was read, so no batch in between goes missing. The stream owns `holder` (its
/// slot is freed when the stream is dropped) and ends once the holder's token is no longer
/// valid.
pub fn event_stream(
    store: Store,
    start: StartPoint,
    mut live: broadcast::Receiver<Arc<Batch>>,
    mut scope: Option<Vec<String>>,
    mut shutdown: watch::Receiver<bool>,
    holder: Holder,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    async_stream::stream! {
        let holder = holder;
        if let Some(reset) = &start.reset {
            yield Ok(encode(reset));
        }
        let mut cursor = start.cursor;
        let mut behind = true;
        let mut last_output = Instant::now();
        // The token was checked when the stream was opened.
        let mut next_check = Instant::now() + TOKEN_RECHECK;
        loop {
            while behind {
                let rows = match store.events_after(cursor, PAGE).await {
                    Ok(rows) => rows,
                    Err(e) => { tracing::warn!(error = %e, "event stream: read failed"); return; }
                };
                behind = rows.len() as i64 == PAGE;
                for row in rows {
                    cursor = row.event.seq;
                    if visible(&row.department, &scope) {
                        last_output = Instant::now();
                        yield Ok(encode(&row.event));
                    }
                }
                // A long replay checks the token too, page by page once it is due.
                if behind && Instant::now() >= next_check {
                    match still_allowed(&store, &holder.token).await {
                        Some(now) => scope = now,
                        None => return,
                    }
                    next_check = Instant::now() + TOKEN_RECHECK;
                }
            }
            let received = tokio::select! {
                received = live.recv() => received,
                _ = tokio::time::sleep_until(last_output + KEEP_ALIVE) => {
                    last_output = Instant::now();
                    yield Ok(Bytes::from_static(PING));
                    continue;
                }
                _ = crate::server::shutdown::stopped(&mut shutdown) => return,
            };
            let batch = match received {
                Ok(batch) => batch,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "event stream: behind the fan-out; catching up from the log");
                    // Batches were dropped before this stream read them: the table has them.
                    // The token is checked first, as the batches would have.
                    match still_allowed(&store, &holder.token).await {
                        Some(now) => scope = now,
                        None => return,
                    }
                    next_check = Instant::now() + TOKEN_RECHECK;
                    behind = true;
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if batch.checked.contains(&holder.hash) {
                match batch.valid.get(&holder.hash) {
                    Some(now) => scope = now.clone(),
                    None => return,
                }
            } else if batch.upto > cursor {
                // Opened after the batch's tokens were listed: check this one.
                match still_allowed(&store, &holder.token).await {
                    Some(now) => scope = now,
                    None => return,
                }
            }
            next_check = Instant::now() + TOKEN_RECHECK;
            if batch.upto <= cursor {
                continue;
            }
            if batch.after > cursor {
                // Events between the cursor and this batch were sent before this stream
                // caught up to them: read them from the table.
                behind = true;
                continue;
            }
            for frame in &batch.frames {
                if frame.seq > cursor && visible(&frame.department, &scope) {
                    last_output = Instant::now();
                    yield Ok(frame.bytes.clone());
                }
            }
            cursor = batch.upto;
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
                    _ = crate::server::shutdown::stopped(&mut shutdown) => return,
                }
            }
        }
    });
}
