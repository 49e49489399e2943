//! The live event stream (`GET /v1/events`, server-sent events) behind
//! [`CrmBackend::events`](super::backend::CrmBackend::events).
//!
//! - Frames are parsed by `eventsource-stream` over reqwest's byte stream; each frame's `data:`
//!   is the whole [`Event`] as JSON (a bare payload is accepted too, with `id:` as its sequence
//!   number, `event:` as its name and now as its time).
//! - Our own reconnect loop: exponential backoff with jitter (250 ms doubling to 15 s by
//!   default), reset once a connection has proved healthy (it delivered an event, or stayed up
//!   for `healthy_after`). A 429's `Retry-After` is honoured.
//! - Resume: every reconnect sends `Last-Event-ID` with the last sequence number seen, and no
//!   event with a sequence number at or below it is ever yielded twice. `stream.reset` (the
//!   resume point is gone) is always yielded and moves the resume point to the reset's
//!   `latest_seq`, even backwards (a server whose log was recreated).
//! - A dead connection is detected: no byte (the server sends `: ping` every 15 s) within
//!   `idle_timeout` drops it and reconnects.
//! - Bounded: an event larger than `max_event_bytes` drops the connection rather than grow a
//!   buffer without end; invalid UTF-8 becomes U+FFFD.
//! - Every event is decoded once into its typed payload ([`TypedEvent`]) and yielded as it came;
//!   [`Sanitized`](super::Sanitized) cleans it field by field (`Sanitize for TypedEvent`), never
//!   by guessing from JSON key names.

use super::backend::StreamItem;
use super::wire::{clean_message, describe_error, error_from_response, retry_after};
use crate::backoff::Backoff;
use crate::domain::api::StreamReset;
use crate::domain::event_payload::TypedEvent;
use crate::domain::{Event, EventName};
use eventsource_stream::{EventStreamError, Eventsource};
use futures::stream::{BoxStream, Stream, StreamExt};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use std::time::{Duration, Instant};

/// Tuning of the event stream.
#[derive(Debug, Clone)]
pub struct EventStreamOptions {
    /// First reconnect delay (before jitter).
    pub initial_backoff: Duration,
    /// Longest reconnect delay.
    pub max_backoff: Duration,
    /// No byte for this long (not even a `: ping`) means the connection is dead.
    pub idle_timeout: Duration,
    /// A connection up this long has proved healthy: the backoff starts over.
    pub healthy_after: Duration,
    /// Largest single event accepted.
    pub max_event_bytes: usize,
}

impl Default for EventStreamOptions {
    fn default() -> Self {
        EventStreamOptions {
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(45),
            healthy_after: Duration::from_secs(10),
            max_event_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub client: reqwest::Client,
    pub url: Url,
    pub auth: HeaderValue,
    /// Until the response headers arrive.
    pub connect_timeout: Duration,
}

/// The resume point and the de-duplication that goes with it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resume {
    pub last_seq: Option<i64>,
}

impl Resume {
    /// The event a raw frame carries, if it is new; `None` for a duplicate, a frame we cannot
    /// read, or an event kind we do not know (whose sequence number still counts as seen).
    pub fn accept(&mut self, raw: &eventsource_stream::Event) -> Option<Event> {
        let id_seq = raw.id.trim().parse::<i64>().ok();
        let Some(event) = parse_event(raw, id_seq) else {
            if let Some(seq) = id_seq {
                if raw.event != EventName::StreamReset.as_str()
                    && self.last_seq.is_none_or(|l| seq > l)
                {
                    self.last_seq = Some(seq);
                }
            }
            return None;
        };
        if event.name == EventName::StreamReset {
            let reset: Option<StreamReset> = serde_json::from_value(event.data.clone()).ok();
            self.last_seq = Some(reset.map_or(event.seq, |r| r.latest_seq));
        } else {
            if self.last_seq.is_some_and(|l| event.seq <= l) {
                return None;
            }
            self.last_seq = Some(event.seq);
        }
        Some(event)
    }
}

/// `data:` is the whole event as JSON; failing that, a bare payload named by `event:` and
/// numbered by `id:`.
fn parse_event(raw: &eventsource_stream::Event, id_seq: Option<i64>) -> Option<Event> {
    let value: serde_json::Value = serde_json::from_str(&raw.data)
        .unwrap_or_else(|_| serde_json::Value::String(raw.data.clone()));
    if let serde_json::Value::Object(map) = &value {
        if map.contains_key("seq") && map.contains_key("name") && map.contains_key("data") {
            let mut map = map.clone();
            map.entry("created_at")
                .or_insert_with(|| serde_json::json!(chrono::Utc::now()));
            if let Ok(event) = serde_json::from_value::<Event>(serde_json::Value::Object(map)) {
                return Some(event);
            }
        }
    }
    let name = raw.event.parse::<EventName>().ok()?;
    Some(Event {
        seq: id_seq?,
        name,
        data: value,
        created_at: chrono::Utc::now(),
    })
}

/// Why a connection ended (shown to the agent, after sanitising).
#[derive(Debug)]
pub(crate) enum StreamError {
    Idle(Duration),
    Transport(String),
    Oversized(usize),
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Idle(d) if d.as_secs() == 0 => {
                write!(f, "no data from the server for {} ms", d.as_millis())
            }
            StreamError::Idle(d) => write!(f, "no data from the server for {} s", d.as_secs()),
            StreamError::Transport(m) => write!(f, "connection lost: {m}"),
            StreamError::Oversized(n) => write!(f, "an event was over {n} bytes"),
        }
    }
}

/// Bytes to text, guarded: an idle timeout per read, a bound on the bytes between two event
/// boundaries, and lossy UTF-8 that carries a split character over to the next chunk.
pub(crate) fn guard<S, B, E>(
    inner: S,
    idle: Duration,
    max_event: usize,
) -> impl Stream<Item = Result<String, StreamError>>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::error::Error + 'static,
{
    struct St<S> {
        inner: S,
        carry: Vec<u8>,
        since_boundary: usize,
        tail: [u8; 2],
        done: bool,
    }
    let st = St {
        inner,
        carry: Vec::new(),
        since_boundary: 0,
        tail: [0, 0],
        done: false,
    };
    futures::stream::unfold(st, move |mut st| async move {
        if st.done {
            return None;
        }
        match tokio::time::timeout(idle, st.inner.next()).await {
            Err(_) => {
                st.done = true;
                Some((Err(StreamError::Idle(idle)), st))
            }
            Ok(None) => None,
            Ok(Some(Err(e))) => {
                st.done = true;
                Some((Err(StreamError::Transport(describe_error(&e))), st))
            }
            Ok(Some(Ok(chunk))) => {
                let bytes = chunk.as_ref();
                match last_boundary(st.tail, bytes) {
                    Some(end) => st.since_boundary = bytes.len() - end,
                    None => st.since_boundary += bytes.len(),
                }
                if st.since_boundary > max_event {
                    st.done = true;
                    return Some((Err(StreamError::Oversized(max_event)), st));
                }
                match bytes.len() {
                    0 => {}
                    1 => st.tail = [st.tail[1], bytes[0]],
                    n => st.tail = [bytes[n - 2], bytes[n - 1]],
                }
                let text = decode_lossy(&mut st.carry, bytes);
                Some((Ok(text), st))
            }
        }
    })
}

/// The offset just past the last blank line (`\n\n`, `\r\r`, `\r\n\r\n`) that ends in `bytes`,
/// given the two bytes before it.
fn last_boundary(tail: [u8; 2], bytes: &[u8]) -> Option<usize> {
    let at = |i: isize| -> u8 {
        if i >= 0 {
            bytes[i as usize]
        } else {
            tail[(2 + i) as usize]
        }
    };
    (0..bytes.len() as isize).rev().find_map(|i| {
        let (a, b) = (at(i - 1), at(i));
        let crlf_crlf = i >= 1 && at(i - 2) == b'\n' && a == b'\r' && b == b'\n';
        ((a == b'\n' && b == b'\n') || (a == b'\r' && b == b'\r') || crlf_crlf)
            .then_some(i as usize + 1)
    })
}

/// Appends `bytes` to `carry` and returns the text decoded so far; an incomplete character at
/// the end waits in `carry`, invalid bytes become U+FFFD.
fn decode_lossy(carry: &mut Vec<u8>, bytes: &[u8]) -> String {
    carry.extend_from_slice(bytes);
    let mut out = String::with_capacity(carry.len());
    let mut input: &[u8] = carry;
    loop {
        match std::str::from_utf8(input) {
            Ok(s) => {
                out.push_str(s);
                input = &[];
                break;
            }
            Err(e) => {
                let (valid, rest) = input.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        out.push('\u{FFFD}');
                        input = &rest[n..];
                    }
                    None => {
                        input = rest;
                        break;
                    }
                }
            }
        }
    }
    *carry = input.to_vec();
    out
}

/// What became of a connection attempt.
enum Attempt {
    Connected(reqwest::Response),
    Failed { reason: String, at_least: Duration },
}

async fn connect(endpoint: &Endpoint, last_seq: Option<i64>) -> Attempt {
    let mut req = endpoint
        .client
        .get(endpoint.url.clone())
        .header(AUTHORIZATION, endpoint.auth.clone())
        .header(ACCEPT, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache");
    if let Some(seq) = last_seq {
        req = req.header("last-event-id", seq.to_string());
    }
    let resp = match tokio::time::timeout(endpoint.connect_timeout, req.send()).await {
        Err(_) => {
            return Attempt::Failed {
                reason: "the server did not answer in time".into(),
                at_least: Duration::ZERO,
            }
        }
        Ok(Err(e)) => {
            return Attempt::Failed {
                reason: describe_error(&e),
                at_least: Duration::ZERO,
            }
        }
        Ok(Ok(resp)) => resp,
    };
    let status = resp.status();
    if status.is_success() {
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("text/event-stream") {
            return Attempt::Failed {
                reason: clean_message(&format!(
                    "the server answered {content_type:?}, not an event stream"
                )),
                at_least: Duration::ZERO,
            };
        }
        return Attempt::Connected(resp);
    }
    let wait = retry_after(resp.headers())
        .map(Duration::from_secs)
        .unwrap_or(Duration::ZERO);
    let error = error_from_response(resp, 64 * 1024).await;
    let at_least = match status {
        StatusCode::TOO_MANY_REQUESTS => wait,
        // A refused token will not heal by itself soon: no need to knock often.
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Duration::from_secs(15),
        _ => Duration::ZERO,
    };
    Attempt::Failed {
        reason: error.to_string(),
        at_least,
    }
}

/// The stream [`CrmBackend::events`](super::backend::CrmBackend::events) returns: runs until dropped.
pub(crate) fn stream(
    endpoint: Endpoint,
    last_event_id: Option<i64>,
    opts: EventStreamOptions,
) -> BoxStream<'static, StreamItem> {
    Box::pin(async_stream::stream! {
        let mut resume = Resume { last_seq: last_event_id };
        let mut backoff = Backoff::new(opts.initial_backoff, opts.max_backoff);
        loop {
            let (reason, at_least) = match connect(&endpoint, resume.last_seq).await {
                Attempt::Failed { reason, at_least } => (reason, at_least),
                Attempt::Connected(resp) => {
                    yield StreamItem::Connected;
                    let started = Instant::now();
                    let mut delivered = false;
                    let mut frames = Box::pin(guard(resp.bytes_stream(), opts.idle_timeout, opts.max_event_bytes).eventsource());
                    let reason = loop {
                        match frames.next().await {
                            Some(Ok(raw)) => {
                                if let Some(event) = resume.accept(&raw) {
                                    delivered = true;
                                    match TypedEvent::decode(&event) {
                                        Ok(typed) => yield StreamItem::Event(typed),
                                        // Counted as seen (the resume point moved on), not shown.
                                        Err(e) => tracing::warn!("event skipped: {}", clean_message(&e)),
                                    }
                                }
                            }
                            Some(Err(EventStreamError::Transport(e))) => break e.to_string(),
                            Some(Err(EventStreamError::Utf8(e))) => break format!("bad text in the stream: {e}"),
                            Some(Err(EventStreamError::Parser(e))) => break format!("bad event stream: {e}"),
                            None => break "the server closed the stream".to_string(),
                        }
                    };
                    if delivered || started.elapsed() >= opts.healthy_after {
                        backoff.reset();
                    }
                    (reason, Duration::ZERO)
                }
            };
            let delay = backoff.next_delay().max(at_least);
            yield StreamItem::Disconnected { reason: clean_message(&reason), retry_in_ms: delay.as_millis() as u64 };
            tokio::time::sleep(delay).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::http::HttpBackend;
    use crate::client::CrmBackend;
    use crate::text::Sanitize;
    use axum::body::Body;
    use axum::http::HeaderMap as AxHeaders;
    use axum::response::Response;
    use axum::routing::get;
    use axum::Router;
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    fn raw(id: &str, event: &str, data: &str) -> eventsource_stream::Event {
        eventsource_stream::Event {
            id: id.into(),
            event: event.into(),
            data: data.into(),
            retry: None,
        }
    }

    /// A feedback item as the server streams it (the payload of `feedback.created`).
    fn fb(n: i64) -> serde_json::Value {
        serde_json::to_value(crate::tui::model::fixtures::feedback(n as usize)).unwrap()
    }

    fn frame(seq: i64, name: EventName, data: serde_json::Value) -> String {
        let e = Event {
            seq,
            name,
            data,
            created_at: chrono::Utc::now(),
        };
        format!(
            "id: {seq}\nevent: {}\ndata: {}\n\n",
            name.as_str(),
            serde_json::to_string(&e).unwrap()
        )
    }

    #[test]
    fn frames_are_deduplicated_by_seq() {
        let mut r = Resume { last_seq: Some(5) };
        let full = |seq: i64| {
            serde_json::to_string(&Event {
                seq,
                name: EventName::FeedbackCreated,
                data: serde_json::json!({}),
                created_at: chrono::Utc::now(),
            })
            .unwrap()
        };
        assert!(r.accept(&raw("5", "feedback.created", &full(5))).is_none());
        assert!(r.accept(&raw("4", "feedback.created", &full(4))).is_none());
        assert_eq!(
            r.accept(&raw("6", "feedback.created", &full(6)))
                .unwrap()
                .seq,
            6
        );
        assert!(r.accept(&raw("6", "feedback.created", &full(6))).is_none());
        assert_eq!(r.last_seq, Some(6));
        // A bare payload, named by `event:` and numbered by `id:`, with no time: now.
        let e = r
            .accept(&raw("7", "message.created", r#"{"body":"hi\u001b[2J"}"#))
            .unwrap();
        assert_eq!((e.seq, e.name), (7, EventName::MessageCreated));
        // Still raw here: it is sanitised field by field once it is typed (see
        // hostile_text_in_events_comes_out_sanitised).
        assert_eq!(e.data["body"], "hi\u{1b}[2J");
        // The full event without created_at.
        let e = r
            .accept(&raw(
                "8",
                "presence.changed",
                r#"{"seq":8,"name":"presence.changed","data":{"agent_name":"A\nB"}}"#,
            ))
            .unwrap();
        assert_eq!(e.data["agent_name"], "A\nB");
        // An event kind from the future: skipped, but seen.
        assert!(r
            .accept(&raw("9", "feedback.teleported", r#"{"x":1}"#))
            .is_none());
        assert_eq!(r.last_seq, Some(9));
        // Garbage without an id changes nothing.
        assert!(r.accept(&raw("", "", "not json")).is_none());
        assert_eq!(r.last_seq, Some(9));
    }

    #[test]
    fn a_reset_is_always_yielded_and_moves_the_resume_point_even_backwards() {
        let mut r = Resume {
            last_seq: Some(500),
        };
        let reset = frame(
            40,
            EventName::StreamReset,
            serde_json::json!({"oldest_seq": 1, "latest_seq": 40}),
        );
        let data = reset
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap();
        let e = r.accept(&raw("40", "stream.reset", data)).unwrap();
        assert_eq!(e.name, EventName::StreamReset);
        assert_eq!(r.last_seq, Some(40));
        let next = frame(41, EventName::FeedbackCreated, serde_json::json!({}));
        let data = next.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        assert_eq!(
            r.accept(&raw("41", "feedback.created", data)).unwrap().seq,
            41
        );
    }

    #[test]
    fn utf8_split_across_chunks_is_carried_and_invalid_bytes_replaced() {
        let mut carry = Vec::new();
        let s = "é👍".as_bytes();
        assert_eq!(decode_lossy(&mut carry, &s[..1]), "");
        assert_eq!(decode_lossy(&mut carry, &s[1..4]), "é");
        assert_eq!(decode_lossy(&mut carry, &s[4..]), "👍");
        assert_eq!(
            decode_lossy(&mut carry, b"a\xFF\xFEb"),
            "a\u{FFFD}\u{FFFD}b"
        );
        assert!(carry.is_empty());
    }

    #[test]
    fn event_boundaries_are_found_across_chunks() {
        assert_eq!(last_boundary([0, 0], b"data: x\n\nda"), Some(9));
        assert_eq!(last_boundary([b'x', b'\n'], b"\nrest"), Some(1));
        assert_eq!(last_boundary([0, 0], b"\r\n\r\n"), Some(4));
        assert_eq!(last_boundary([0, 0], b"data: x\n"), None);
        assert_eq!(last_boundary([b'\r', b'\n'], b"\r\nx"), Some(2));
    }

    #[tokio::test]
    async fn the_guard_times_out_idle_connections_and_bounds_events() {
        let idle = futures::stream::pending::<Result<Vec<u8>, std::io::Error>>();
        let mut g = Box::pin(guard(idle, Duration::from_millis(50), 100));
        assert!(matches!(g.next().await, Some(Err(StreamError::Idle(_)))));
        assert!(g.next().await.is_none());
        let big = futures::stream::iter(vec![
            Ok::<_, std::io::Error>(vec![b'x'; 60]),
            Ok(vec![b'x'; 60]),
        ]);
        let mut g = Box::pin(guard(big, Duration::from_secs(1), 100));
        assert!(matches!(g.next().await, Some(Ok(_))));
        assert!(matches!(
            g.next().await,
            Some(Err(StreamError::Oversized(100)))
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Any bytes, cut anywhere, through the guard, the SSE parser and the resume logic:
        /// no panic, never a repeated or older sequence number, and only sanitised text.
        #[test]
        fn any_byte_stream_is_parsed_safely(
            frames in proptest::collection::vec(
                (0i64..20, proptest::sample::select(vec!["feedback.created", "stream.reset", "x", ""]),
                 proptest::prelude::any::<String>(), proptest::prelude::any::<bool>()),
                0..12),
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            cuts in proptest::collection::vec(1usize..50, 1..8),
        ) {
            let mut body = Vec::new();
            for (seq, name, text, full) in &frames {
                let mut payload = fb(*seq);
                payload["text"] = text.clone().into();
                payload["author"]["display_name"] = text.clone().into();
                let data = if *full {
                    serde_json::json!({"seq": seq, "name": name, "data": payload}).to_string()
                } else {
                    payload.to_string()
                };
                body.extend_from_slice(format!("id: {seq}\nevent: {name}\ndata: {data}\n\n").as_bytes());
            }
            body.extend_from_slice(&noise);
            let mut chunks = Vec::new();
            let mut rest = body.as_slice();
            for c in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let n = (*c).min(rest.len());
                chunks.push(Ok::<_, std::io::Error>(rest[..n].to_vec()));
                rest = &rest[n..];
            }
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            let events: Vec<Event> = rt.block_on(async {
                let mut resume = Resume::default();
                let mut frames = Box::pin(guard(futures::stream::iter(chunks), Duration::from_secs(5), 1 << 20).eventsource());
                let mut out = Vec::new();
                while let Some(Ok(raw)) = frames.next().await {
                    if let Some(e) = resume.accept(&raw) {
                        out.push(e);
                    }
                }
                out
            });
            let mut last: Option<i64> = None;
            for e in &events {
                if e.name != EventName::StreamReset {
                    proptest::prop_assert!(last.is_none_or(|l| e.seq > l));
                    last = Some(e.seq);
                } else {
                    last = Some(e.data.get("latest_seq").and_then(|v| v.as_i64()).unwrap_or(e.seq));
                }
                // What the console gets: the typed event, sanitised field by field.
                if let Ok(mut typed) = TypedEvent::decode(e) {
                    typed.sanitize();
                    if let crate::domain::event_payload::EventPayload::FeedbackCreated(f) = &typed.payload {
                        for t in [&f.text, &f.author.display_name] {
                            proptest::prop_assert!(!t.chars().any(crate::text::is_forbidden));
                        }
                    }
                }
            }
        }
    }

    fn sse(body: Body) -> Response {
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(body)
            .unwrap()
    }

    fn fast() -> crate::client::http::HttpOptions {
        crate::client::http::HttpOptions {
            events: EventStreamOptions {
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(100),
                idle_timeout: Duration::from_millis(400),
                healthy_after: Duration::from_secs(10),
                max_event_bytes: 1024 * 1024,
            },
            ..Default::default()
        }
    }

    async fn collect(stream: &mut BoxStream<'static, StreamItem>, n: usize) -> Vec<StreamItem> {
        let mut out = Vec::new();
        while out.len() < n {
            match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
                Ok(Some(item)) => out.push(item),
                _ => panic!("stream stalled after {out:?}"),
            }
        }
        out
    }

    fn seqs(items: &[StreamItem]) -> Vec<i64> {
        items
            .iter()
            .filter_map(|i| {
                if let StreamItem::Event(e) = i {
                    Some(e.seq)
                } else {
                    None
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn a_dropped_stream_resumes_with_last_event_id_and_no_duplicates() {
        let resumes: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let seen = resumes.clone();
        let router = Router::new().route(
            "/v1/events",
            get(move |headers: AxHeaders| {
                let seen = seen.clone();
                async move {
                    let last = headers
                        .get("last-event-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let n = {
                        let mut s = seen.lock().unwrap();
                        s.push(last.clone());
                        s.len()
                    };
                    let from: i64 = last.as_deref().and_then(|l| l.parse().ok()).unwrap_or(0);
                    match n {
                        // First connection: three events, then the connection is cut mid-frame.
                        1 => {
                            let mut chunks: Vec<Result<String, std::io::Error>> = (1..=3)
                                .map(|s| Ok(frame(s, EventName::FeedbackCreated, fb(s))))
                                .collect();
                            chunks.push(Ok(": ping\n\nid: 4\nevent: feedback.cre".to_string()));
                            let cut = futures::stream::once(async {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                                Err(std::io::Error::other("cut"))
                            });
                            sse(Body::from_stream(futures::stream::iter(chunks).chain(cut)))
                        }
                        // Second: a sloppy server repeats the last one it sent, then carries on.
                        2 => {
                            let chunks: Vec<Result<String, Infallible>> = (from..=from + 2)
                                .map(|s| Ok(frame(s, EventName::FeedbackCreated, fb(s))))
                                .collect();
                            sse(Body::from_stream(futures::stream::iter(chunks)))
                        }
                        // Then it stays open, sending nothing.
                        _ => sse(Body::from_stream(futures::stream::pending::<
                            Result<String, Infallible>,
                        >())),
                    }
                }
            }),
        );
        let base = crate::client::http::tests::serve(router).await;
        let backend = HttpBackend::with_options(&base, "t", fast()).unwrap();
        let mut stream = backend.events(None);
        let items = collect(&mut stream, 9).await;
        assert_eq!(items[0], StreamItem::Connected);
        assert_eq!(seqs(&items[1..4]), vec![1, 2, 3]);
        assert!(
            matches!(&items[4], StreamItem::Disconnected { retry_in_ms, .. } if *retry_in_ms <= 100)
        );
        assert_eq!(items[5], StreamItem::Connected);
        assert_eq!(seqs(&items[6..8]), vec![4, 5], "3 is not repeated");
        assert!(
            matches!(&items[8], StreamItem::Disconnected { .. }),
            "the server closed the stream"
        );
        let more = collect(&mut stream, 2).await;
        assert_eq!(more[0], StreamItem::Connected);
        match &more[1] {
            StreamItem::Disconnected { reason, .. } => {
                assert!(reason.contains("no data"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let r = resumes.lock().unwrap().clone();
        assert_eq!(r[..3], [None, Some("3".to_string()), Some("5".to_string())]);
    }

    #[tokio::test]
    async fn hostile_text_in_events_comes_out_sanitised() {
        let router = Router::new().route(
            "/v1/events",
            get(|| async {
                let mut data = fb(1);
                data["text"] =
                    "\u{1B}]0;pwned\u{7}\u{1B}[2Jhi \u{202E}there\u{9B}31m 👨\u{200D}👩\u{200D}👧"
                        .into();
                data["author"]["display_name"] = "Eve\n\u{1B}]52;c;cm0gLXJm\u{7}".into();
                data["author"]["handle"] = "@e\u{200B}ve".into();
                data["url"] = "https://x.example/\u{1B}]8;;https://evil\u{1B}\\".into();
                let body = format!(
                    ": hello\n\n{}{}{}",
                    frame(1, EventName::FeedbackCreated, data),
                    // A bare, numbered payload that is not a message: skipped, not shown.
                    "id: 2\nevent: message.created\ndata: {\"bo\\u001b[1mdy\":\"ok\\u0007\"}\n\n",
                    frame(3, EventName::FeedbackCreated, fb(3)),
                );
                sse(Body::from(body))
            }),
        );
        let base = crate::client::http::tests::serve(router).await;
        // Sanitising is the wrapper's, at the console's boundary.
        let backend =
            crate::client::Sanitized::new(HttpBackend::with_options(&base, "t", fast()).unwrap());
        let mut stream = backend.events(None);
        let items = collect(&mut stream, 3).await;
        use crate::domain::event_payload::EventPayload;
        let StreamItem::Event(e) = &items[1] else {
            panic!("{items:?}")
        };
        let EventPayload::FeedbackCreated(f) = &e.payload else {
            panic!("{e:?}")
        };
        assert_eq!(f.text, "hi there 👨\u{200D}👩\u{200D}👧");
        assert_eq!(f.author.display_name, "Eve ");
        assert_eq!(f.author.handle, "@eve");
        assert_eq!(f.url.as_deref(), Some("https://x.example/"));
        // The undecodable one was skipped: next comes seq 3.
        let StreamItem::Event(e) = &items[2] else {
            panic!("{items:?}")
        };
        assert_eq!(e.seq, 3);
    }

    #[tokio::test]
    async fn refused_connections_are_reported_and_retried() {
        let hits: Arc<Mutex<u32>> = Arc::default();
        let h = hits.clone();
        let router = Router::new().route(
            "/v1/events",
            get(move || {
                let h = h.clone();
                async move {
                    *h.lock().unwrap() += 1;
                    let n = *h.lock().unwrap();
                    if n == 1 {
                        Response::builder()
                            .status(503)
                            .body(Body::from("{\"detail\":\"busy\"}"))
                            .unwrap()
                    } else if n == 2 {
                        Response::builder()
                            .header("content-type", "text/html")
                            .body(Body::from("<html>"))
                            .unwrap()
                    } else {
                        sse(Body::from(frame(
                            1,
                            EventName::CustomerUpdated,
                            // As the server sends it (store/identities.rs).
                            serde_json::json!({ "customer_id": "cu_00001" }),
                        )))
                    }
                }
            }),
        );
        let base = crate::client::http::tests::serve(router).await;
        let backend = HttpBackend::with_options(&base, "t", fast()).unwrap();
        let mut stream = backend.events(Some(0));
        let items = collect(&mut stream, 4).await;
        assert!(
            matches!(&items[0], StreamItem::Disconnected { reason, .. } if reason.contains("busy"))
        );
        assert!(
            matches!(&items[1], StreamItem::Disconnected { reason, .. } if reason.contains("not an event stream"))
        );
        assert_eq!(items[2], StreamItem::Connected);
        assert_eq!(seqs(&items[3..]), vec![1]);
    }
}
