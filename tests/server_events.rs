//! The live event stream over real HTTP: department scoping, resume with Last-Event-ID without a
//! gap or a duplicate (also across a real server process killed and started again on the same
//! database), and `stream.reset` when the resume point is gone.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn subscribers_see_their_departments_events_only() {
    let s = start().await;
    let mut alice = subscribe(&s.base, ALICE, None).await;
    let mut bilal = subscribe(&s.base, BILAL, None).await;
    let billing = s
        .feedback(SAM, "email", "ben@example.com", "refund my double charge")
        .await;
    let support = s
        .feedback(SAM, "webchat", "v", "how do I pair the plug")
        .await;
    let (_, name, data) = next_event(&mut alice, 5)
        .await
        .expect("alice gets an event");
    assert_eq!(name, "feedback.created");
    assert_eq!(
        data["data"]["id"], support["id"],
        "alice's first event is the support item, not the billing one"
    );
    let (_, name, data) = next_event(&mut bilal, 5)
        .await
        .expect("bilal gets an event");
    assert_eq!(name, "feedback.created");
    assert_eq!(data["data"]["id"], billing["id"]);
    // message.created of each item follows, still scoped.
    let (_, name, data) = next_event(&mut alice, 5).await.unwrap();
    assert_eq!(name, "message.created");
    assert_eq!(data["data"]["feedback_id"], support["id"]);
    assert!(
        next_event(&mut alice, 1).await.is_none(),
        "nothing of billing leaks to alice"
    );
    // Presence shows who is on an item.
    let r = s
        .post(
            &format!("/v1/feedback/{}/presence", support["id"].as_str().unwrap()),
            JONAS,
            json!({"state": "composing"}),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::NO_CONTENT);
    let (_, name, data) = next_event(&mut alice, 5).await.unwrap();
    assert_eq!(name, "presence.changed");
    assert_eq!(data["data"]["agent_name"], "Jonas");
    assert_eq!(data["data"]["state"], "composing");
    s.stop().await;
}

/// The ids of the `expected` events a stream should give (each waited for patiently, as CI
/// machines are slow), then of any surplus that comes within a second: a duplicate shows up
/// as a wrong count, not as a timeout.
async fn ids_until_quiet(
    stream: &mut (impl futures::Stream<Item = (i64, String, serde_json::Value)> + Unpin),
    expected: usize,
) -> Vec<i64> {
    let mut ids = Vec::new();
    while ids.len() < expected {
        match next_event(stream, 10).await {
            Some((id, _, _)) => ids.push(id),
            None => break,
        }
    }
    while let Some((id, _, _)) = next_event(stream, 1).await {
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn resuming_with_last_event_id_gives_every_later_event_once() {
    let s = start().await;
    let mut first = subscribe(&s.base, SAM, None).await;
    for i in 0..5 {
        s.feedback(SAM, "webchat", &format!("v{i}"), "kettle question")
            .await;
    }
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(next_event(&mut first, 5).await.unwrap().0);
    }
    drop(first);
    for i in 5..8 {
        s.feedback(SAM, "webchat", &format!("v{i}"), "kettle question")
            .await;
    }
    let mut resumed = subscribe(&s.base, SAM, Some(*ids.last().unwrap())).await;
    ids.extend(ids_until_quiet(&mut resumed, 16 - ids.len()).await);
    // 8 items x (feedback.created + message.created) = 16 events, each once, in order.
    assert_eq!(ids.len(), 16, "{ids:?}");
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "no gap, no duplicate: {ids:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_reply_streams_its_messages_then_the_item_in_order() {
    let s = start().await;
    let item = s
        .feedback(SAM, "x", "@ann", "my kettle is broken, please help")
        .await;
    let id = item["id"].as_str().unwrap();
    let mut stream = subscribe(&s.base, SAM, None).await;
    let body = json!({"parts": [
        {"visibility": "public", "body": "Sorry to hear that! We have sent you a DM."},
        {"visibility": "direct", "body": "Hi, a replacement is on its way."}
    ]});
    let r = s.reply(id, SAM, "order-1", body).await;
    assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.body);
    let mut got = Vec::new();
    for _ in 0..3 {
        let (seq, name, data) = next_event(&mut stream, 10).await.expect("an event");
        got.push((seq, name, data));
    }
    let names: Vec<&str> = got.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["message.created", "message.created", "feedback.updated"]
    );
    assert!(
        got.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "consecutive sequence numbers"
    );
    assert_eq!(got[0].2["data"]["visibility"], "public");
    assert_eq!(got[1].2["data"]["visibility"], "direct");
    assert_eq!(got[2].2["data"]["status"], "answered");
    s.stop().await;
}

#[tokio::test]
async fn a_pruned_resume_point_gets_stream_reset() {
    let s = start().await;
    for i in 0..10 {
        s.feedback(SAM, "webchat", &format!("v{i}"), "kettle question")
            .await;
    }
    s.store().prune_events(4).await.unwrap();
    let mut stream = subscribe(&s.base, SAM, Some(1)).await;
    let (_, name, data) = next_event(&mut stream, 5).await.unwrap();
    assert_eq!(name, "stream.reset");
    assert_eq!(data["data"]["latest_seq"], 20);
    s.feedback(SAM, "webchat", "late", "kettle question").await;
    let (id, name, _) = next_event(&mut stream, 5).await.unwrap();
    assert_eq!((id, name.as_str()), (21, "feedback.created"));
    // A resume point that is still kept resumes normally.
    let mut kept = subscribe(&s.base, SAM, Some(18)).await;
    assert_eq!(next_event(&mut kept, 5).await.unwrap().0, 19);
    let bad = s
        .call(
            reqwest::Method::GET,
            "/v1/events",
            Some(SAM),
            None,
            &[("Last-Event-ID", "abc")],
        )
        .await;
    assert_eq!(bad.status, reqwest::StatusCode::BAD_REQUEST);
    s.stop().await;
}

async fn post(base: &str, i: usize) {
    post_feedback(base, SAM, "webchat", &format!("v{i}"), "kettle question").await;
}

#[tokio::test]
async fn resume_survives_a_killed_server_process() {
    // Seed the database, then run the real binary on it.
    let db = test_db().await;
    let seeded = start_on(db).await;
    let db = seeded.stop().await;
    let server = ServerProcess::spawn(&db.url, &[]).await;
    let mut stream = subscribe(&server.base, SAM, None).await;
    for i in 0..3 {
        post(&server.base, i).await;
    }
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(
            next_event(&mut stream, 5)
                .await
                .expect("event before the kill")
                .0,
        );
    }
    // Kill it mid-stream (SIGKILL: no graceful shutdown), then start again on the same database.
    server.kill();
    assert!(
        next_event(&mut stream, 2).await.is_none(),
        "the stream ends with the process"
    );
    let server = ServerProcess::spawn(&db.url, &[]).await;
    for i in 3..6 {
        post(&server.base, i).await;
    }
    let mut resumed = subscribe(&server.base, SAM, Some(*ids.last().unwrap())).await;
    ids.extend(ids_until_quiet(&mut resumed, 12 - ids.len()).await);
    assert_eq!(ids.len(), 12, "{ids:?}");
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "no gap, no duplicate across the restart: {ids:?}"
    );
    server.kill();
}

/// Reads an HTTP/1 chunked body incrementally and gives the SSE event ids in it as they
/// complete.
struct RawStream {
    conn: tokio::net::TcpStream,
    raw: Vec<u8>,
    consumed: usize,
    payload: Vec<u8>,
    parsed: usize,
}

impl RawStream {
    /// Opens `/v1/events` with a tiny receive buffer, so that the server's writes block as
    /// soon as the subscriber stops reading; returns once the response head has arrived.
    async fn open(base: &str, token: &str) -> RawStream {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut conn = socket.connect(addr).await.unwrap();
        let request = format!(
            "GET /v1/events HTTP/1.1\r\nHost: earshot\r\nAuthorization: Bearer {token}\r\n\r\n"
        );
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the response head");
            raw.extend_from_slice(&buf[..n]);
            if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        RawStream {
            conn,
            raw: raw.split_off(head_end),
            consumed: 0,
            payload: Vec::new(),
            parsed: 0,
        }
    }

    /// Moves the complete chunks read so far into the payload.
    fn dechunk(&mut self) {
        loop {
            let rest = &self.raw[self.consumed..];
            let Some(line) = rest.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size = std::str::from_utf8(&rest[..line]).unwrap();
            let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16)
                .expect("a chunk size");
            let start = line + 2;
            if rest.len() < start + size + 2 {
                return;
            }
            self.payload.extend_from_slice(&rest[start..start + size]);
            self.consumed += start + size + 2;
        }
    }

    /// The ids of the events completed since the last call.
    fn take_ids(&mut self) -> Vec<i64> {
        let mut ids = Vec::new();
        while let Some(end) = self.payload[self.parsed..]
            .windows(2)
            .position(|w| w == b"\n\n")
        {
            let event = String::from_utf8_lossy(&self.payload[self.parsed..self.parsed + end]);
            if let Some(id) = event.lines().find_map(|l| l.strip_prefix("id: ")) {
                ids.push(id.trim().parse().expect("a numeric id"));
            }
            self.parsed += end + 2;
        }
        ids
    }

    /// Event ids until `want` have arrived (or `within` passes), then any surplus within a
    /// second.
    async fn ids(&mut self, want: usize, within: std::time::Duration) -> Vec<i64> {
        use tokio::io::AsyncReadExt;
        let mut ids = Vec::new();
        let mut end = tokio::time::Instant::now() + within;
        let mut buf = vec![0u8; 64 * 1024];
        let mut surplus = false;
        loop {
            let n = match tokio::time::timeout_at(end, self.conn.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => return ids,
            };
            self.raw.extend_from_slice(&buf[..n]);
            self.dechunk();
            ids.extend(self.take_ids());
            if ids.len() >= want && !surplus {
                surplus = true;
                end = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
            }
        }
    }
}

/// A subscriber that stops reading falls behind the in-memory fan-out (its socket is full, and
/// this server's broadcast keeps a single batch): once it reads again it gets every event from
/// the event log, in order, none twice, and then the live ones.
#[tokio::test]
async fn a_lagging_subscriber_gets_every_event_in_order_without_gap_or_duplicate() {
    let s = start_with(test_db().await, |c| c.event_backlog = 1).await;
    let (_, first) = s.store().event_bounds().await.unwrap();
    let mut slow = RawStream::open(&s.base, SAM).await;
    // About 8 MB of events (each item's text is in its feedback.created and message.created),
    // more than the sockets between the server and the subscriber can hold: the server's
    // writes to it block while items keep committing, one batch each.
    let text = "my kettle will not boil ".repeat(4 * 1024);
    for i in 0..40 {
        s.feedback(SAM, "webchat", &format!("lag{i}"), &text).await;
    }
    // A subscriber that keeps up, for comparison: it joins now and gets only what follows.
    let mut live = subscribe(&s.base, SAM, None).await;
    let last = s.feedback(SAM, "webchat", "lag-last", "and now?").await;
    let (_, name, data) = next_event(&mut live, 20).await.expect("a live event");
    assert_eq!(
        (name.as_str(), &data["data"]["id"]),
        ("feedback.created", &last["id"])
    );
    let expected: Vec<i64> = s
        .store()
        .events_after(first, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.seq)
        .collect();
    assert!(expected.len() >= 82, "{} events", expected.len());
    let got = slow
        .ids(expected.len(), std::time::Duration::from_secs(60))
        .await;
    assert_eq!(got, expected, "every event once, in order");
    s.stop().await;
}
