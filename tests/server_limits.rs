//! The server's limits against slow and greedy clients, over real sockets: the header-read and
//! idle timeouts, the connection cap (slow connections make room for a new client; 503 when
//! every connection is busy), the open-file limit, the per-token cap on event streams, and
//! event streams that end once their token is revoked or expires.
//!
//! Timeouts are shrunk to a second or so and every wait polls with a generous deadline: the
//! tests assert what happens, not how fast.

mod common;

use common::*;
use earshot::server::sse::TOKEN_RECHECK;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough for a loaded 2-core CI box.
const DEADLINE: Duration = Duration::from_secs(30);

fn addr(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Reads until the peer closes the connection (EOF or reset), or gives up after `within`.
/// Returns whether it closed.
async fn closed_within(conn: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let end = Instant::now() + within;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Whether the peer has closed the connection already (reads nothing new for a moment).
async fn is_closed(conn: &mut TcpStream) -> bool {
    closed_within(conn, Duration::from_millis(20)).await
}

/// Reads one HTTP/1 response with a Content-Length body; returns its head and body.
async fn read_response(conn: &mut TcpStream) -> (String, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(DEADLINE, conn.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "the connection closed before a whole response");
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().expect("a length"))
            .expect("a content-length");
        if data.len() >= end + 4 + length {
            let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned();
            return (head, body);
        }
    }
}

/// GET with a fresh client (a connection of its own), giving up after `DEADLINE`.
async fn fresh_get(base: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap();
    let mut req = client.get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("an answer in time")
}

async fn assert_problem(resp: reqwest::Response, status: StatusCode, kind: &str) -> Value {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: Value = resp.json().await.expect("a JSON body");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["type"].as_str().unwrap_or_default().ends_with(kind),
        "{body}"
    );
    body
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_client_that_stalls_in_its_request_head_is_disconnected() {
    let s = start_with(test_db().await, |c| {
        c.limits.header_read_timeout = Duration::from_secs(1);
        c.limits.idle_timeout = Duration::from_secs(120);
    })
    .await;
    let mut conn = TcpStream::connect(addr(&s)).await.unwrap();
    let began = Instant::now();
    conn.write_all(b"G").await.unwrap();
    assert!(
        closed_within(&mut conn, DEADLINE).await,
        "a client that sent one byte of its head was still connected after {DEADLINE:?}"
    );
    assert!(
        began.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
    // A client that sends its head at once is served as usual.
    assert_eq!(
        fresh_get(&s.base, "/v1/health", None).await.status(),
        StatusCode::OK
    );
    s.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let s = start_with(test_db().await, |c| {
        c.limits.header_read_timeout = Duration::from_secs(120);
        c.limits.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let mut conn = TcpStream::connect(addr(&s)).await.unwrap();
    let request = b"GET /v1/health HTTP/1.1\r\nHost: earshot\r\n\r\n";
    // Keep-alive works: two requests on one connection.
    for _ in 0..2 {
        conn.write_all(request).await.unwrap();
        let (head, _) = read_response(&mut conn).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
    }
    let idle_since = Instant::now();
    assert!(
        closed_within(&mut conn, DEADLINE).await,
        "an idle keep-alive connection was still open after {DEADLINE:?}"
    );
    assert!(idle_since.elapsed() >= Duration::from_millis(900));
    s.stop().await;
}

#[tokio::test]
async fn an_open_event_stream_is_not_cut_by_the_idle_or_header_timeout() {
    let s = start_with(test_db().await, |c| {
        c.limits.header_read_timeout = Duration::from_secs(1);
        c.limits.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let mut events = subscribe(&s.base, ALICE, None).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let item = s
        .feedback(SAM, "webchat", "v", "how do I pair the plug")
        .await;
    let (_, name, data) = next_event(&mut events, 20)
        .await
        .expect("the stream is still open after the timeouts");
    assert_eq!(name, "feedback.created");
    assert_eq!(data["data"]["id"], item["id"]);
    s.stop().await;
}

#[tokio::test]
async fn at_the_connection_cap_stalled_connections_make_room_for_a_new_client() {
    const CAP: usize = 50;
    let s = start_with(test_db().await, |c| {
        c.limits.max_connections = CAP;
        c.limits.header_read_timeout = Duration::from_secs(300);
        c.limits.idle_timeout = Duration::from_secs(300);
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..CAP {
        let mut conn = TcpStream::connect(addr(&s)).await.unwrap();
        conn.write_all(b"GET /v1/hea").await.unwrap();
        stalled.push(conn);
    }
    // The server holds its cap of slow connections; a new client still gets its answer...
    for _ in 0..3 {
        let health = fresh_get(&s.base, "/v1/health", None).await;
        assert_eq!(health.status(), StatusCode::OK);
    }
    // ...because slow connections were closed to make room.
    let end = Instant::now() + DEADLINE;
    let mut cut = 0;
    for conn in &mut stalled {
        if is_closed(conn).await {
            cut += 1;
        }
    }
    while cut == 0 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for conn in &mut stalled {
            if is_closed(conn).await {
                cut += 1;
            }
        }
    }
    assert!(cut >= 1, "no stalled connection was cut at the cap");
    assert!(cut < CAP, "only as many as needed: {cut} of {CAP} were cut");
    s.stop().await;
}

#[tokio::test]
async fn when_every_connection_is_busy_a_new_one_gets_503_until_one_frees() {
    let s = start_with(test_db().await, |c| c.limits.max_connections = 3).await;
    let alice = subscribe(&s.base, ALICE, None).await;
    let _jonas = subscribe(&s.base, JONAS, None).await;
    let _bilal = subscribe(&s.base, BILAL, None).await;
    let refused = fresh_get(&s.base, "/v1/health", None).await;
    assert_eq!(retry_after(&refused), 2);
    assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE, "/overloaded").await;
    // Once a stream closes, its connection's place is free again.
    drop(alice);
    let end = Instant::now() + DEADLINE;
    loop {
        let status = fresh_get(&s.base, "/v1/health", None).await.status();
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < end, "no place freed after a stream closed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.stop().await;
}

#[tokio::test]
async fn one_token_holds_at_most_its_cap_of_event_streams() {
    let s = start_with(test_db().await, |c| c.limits.max_streams_per_token = 3).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(subscribe(&s.base, ALICE, None).await);
    }
    let over = fresh_get(&s.base, "/v1/events", Some(ALICE)).await;
    assert!((1..=10).contains(&retry_after(&over)));
    assert_problem(over, StatusCode::TOO_MANY_REQUESTS, "/too-many-streams").await;
    // Another token has its own streams.
    let _bilal = subscribe(&s.base, BILAL, None).await;
    // Closing a stream frees its slot.
    streams.pop();
    let end = Instant::now() + DEADLINE;
    let again = loop {
        let r = fresh_get(&s.base, "/v1/events", Some(ALICE)).await;
        if r.status() == StatusCode::OK {
            break r;
        }
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            Instant::now() < end,
            "the closed stream's slot was not freed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(again);
    // The streams still open go on working.
    let item = s
        .feedback(SAM, "webchat", "v", "how do I pair the plug")
        .await;
    for stream in &mut streams {
        let (_, _, data) = next_event(stream, 20).await.expect("an event");
        assert_eq!(data["data"]["id"], item["id"]);
    }
    s.stop().await;
}

/// Waits for the stream to end, collecting what it still sends; panics after `within`.
async fn ends_within(
    stream: &mut (impl futures::Stream<Item = (i64, String, Value)> + Unpin),
    within: Duration,
) -> Vec<Value> {
    let mut got = Vec::new();
    let end = Instant::now() + within;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.next()).await {
            Err(_) => panic!("the stream was still open after {within:?}"),
            Ok(None) => return got,
            Ok(Some((_, _, data))) => got.push(data),
        }
    }
}

#[tokio::test]
async fn a_revoked_tokens_open_stream_ends_and_it_cannot_subscribe_again() {
    let s = start().await;
    let (code, out, err) = earshot(&[
        "agent",
        "add",
        "--db",
        &s.db.url,
        "--name",
        "Nina",
        "--department",
        "support",
        "--role",
        "admin",
    ]);
    assert_eq!(code, 0, "{err}");
    let token = printed_token(&out);
    let agent_id = out.split_whitespace().nth(1).unwrap().to_string();
    let mut stream = subscribe(&s.base, &token, None).await;
    let before = s
        .feedback(SAM, "webchat", "v", "before the revocation")
        .await;
    let (_, _, data) = next_event(&mut stream, 20).await.expect("an event");
    assert_eq!(data["data"]["id"], before["id"]);

    let (code, out, err) = earshot(&["agent", "revoke", "--db", &s.db.url, "--agent", &agent_id]);
    assert_eq!(code, 0, "{out}{err}");
    let after = s
        .feedback(SAM, "webchat", "v", "after the revocation")
        .await;
    let got = ends_within(&mut stream, TOKEN_RECHECK * 2 + DEADLINE).await;
    assert!(
        got.iter().all(|e| e["data"]["id"] != after["id"]),
        "a revoked token was sent an event committed after its revocation: {got:?}"
    );
    let again = fresh_get(&s.base, "/v1/events", Some(&token)).await;
    assert_problem(again, StatusCode::UNAUTHORIZED, "/unauthorized").await;
    s.stop().await;
}

#[tokio::test]
async fn an_expired_tokens_open_stream_ends_without_any_event() {
    let s = start().await;
    let mut stream = subscribe(&s.base, JONAS, None).await;
    let mut other = subscribe(&s.base, ALICE, None).await;
    s.store()
        .set_token_expiry(JONAS, chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    // Nothing happens on the event log: the periodic check ends the stream.
    let got = ends_within(&mut stream, TOKEN_RECHECK * 2 + DEADLINE).await;
    assert!(got.is_empty(), "{got:?}");
    let again = fresh_get(&s.base, "/v1/events", Some(JONAS)).await;
    assert_problem(again, StatusCode::UNAUTHORIZED, "/unauthorized").await;
    // A valid token's stream is still open.
    let item = s.feedback(SAM, "webchat", "v", "still here?").await;
    let (_, _, data) = next_event(&mut other, 20).await.expect("an event");
    assert_eq!(data["data"]["id"], item["id"]);
    s.stop().await;
}

/// A child process killed and reaped when dropped (also when the test fails).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary under a low open-file limit: more slow connections than it has descriptors
/// must not lock a new client out.
#[tokio::test]
async fn under_a_low_open_file_limit_slow_clients_do_not_lock_out_a_new_one() {
    let seeded = start().await;
    let db = seeded.stop().await;
    let listen = free_address();
    let _child = Killed(
        Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n 256 && exec "$0" "$@""#)
            .arg(env!("CARGO_BIN_EXE_earshot"))
            .args(["serve", "--db", &db.url, "--listen", &listen])
            .args(["--header-timeout", "300", "--idle-timeout", "300"])
            .env("EARSHOT_LOG", "error")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("earshot serve starts"),
    );
    let base = format!("http://{listen}");
    let end = Instant::now() + DEADLINE;
    while reqwest::get(format!("{base}/v1/health")).await.is_err() {
        assert!(Instant::now() < end, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut stalled = Vec::new();
    for _ in 0..400 {
        let mut conn = TcpStream::connect(&listen).await.unwrap();
        let _ = conn.write_all(b"GET /v1/hea").await;
        stalled.push(conn);
    }
    let health = fresh_get(&base, "/v1/health", None).await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        fresh_get(&base, "/v1/me", Some(ALICE)).await.status(),
        StatusCode::OK,
        "the store still has descriptors to answer with"
    );
    drop(stalled);
}

#[tokio::test]
async fn a_request_body_sent_a_byte_at_a_time_is_cut_with_408() {
    let s = start_with(test_db().await, |c| {
        c.limits.request_timeout = Duration::from_secs(1);
        c.limits.idle_timeout = Duration::from_secs(120);
    })
    .await;
    let mut conn = TcpStream::connect(addr(&s)).await.unwrap();
    let began = Instant::now();
    // A valid token, a promised body of 1,000 bytes, and then almost nothing.
    conn.write_all(
        format!(
            "POST /v1/feedback HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ALICE}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"chan"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (head, body) = read_response(&mut conn).await;
    assert!(head.starts_with("http/1.1 408"), "{head}");
    assert!(head.contains("application/problem+json"), "{head}");
    assert!(body.contains("request-timeout"), "{body}");
    assert!(began.elapsed() >= Duration::from_millis(900));
    assert!(
        closed_within(&mut conn, DEADLINE).await,
        "the connection of a timed-out request stays open"
    );
    s.stop().await;
}

/// Past `max_in_flight` requests that change data being handled, one more is answered 503
/// problem+json with `Retry-After` (after a moment in the queue, before its token is checked),
/// reads and event streams are not held up by them, the 503s are counted in the request
/// metrics under their routes, and once the held request is answered the server serves again.
/// (The reads' own limit is tested in `overload`.)
#[tokio::test]
async fn past_its_in_flight_limit_a_request_gets_503_with_retry_after_and_streams_still_open() {
    let s = start_with(test_db().await, |c| {
        c.limits.max_in_flight = 1;
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    // A request held open: its head is in and its body is not, so its handler waits for the
    // body holding the only place.
    let body = serde_json::json!({"channel": "webchat", "author_handle": "held", "text": "a request held open"})
        .to_string();
    let mut held = TcpStream::connect(addr(&s)).await.unwrap();
    let head = format!(
        "POST /v1/feedback HTTP/1.1\r\nHost: earshot\r\nAuthorization: Bearer {SAM}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    held.write_all(head.as_bytes()).await.unwrap();
    held.write_all(&body.as_bytes()[..5]).await.unwrap();
    let end = Instant::now() + DEADLINE;
    // Shed before the token is looked at: once the place is taken, a write with a bad token
    // gets the 503 (a 401 before).
    let refused = loop {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/feedback", s.base))
            .bearer_auth("es_not_a_token")
            .json(&serde_json::json!({"channel": "webchat", "author_handle": "x", "text": "x"}))
            .timeout(DEADLINE)
            .send()
            .await
            .expect("an answer in time");
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            break r;
        }
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(
            Instant::now() < end,
            "never refused while a request was held"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(retry_after(&refused) >= 1);
    let problem = assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE, "/overloaded").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("retry"),
        "{problem}"
    );
    // A mutation is refused the same way, before it is read or written.
    let r = s
        .post(
            "/v1/feedback",
            SAM,
            serde_json::json!({"channel": "webchat", "author_handle": "x", "text": "refused"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    // Reads have places of their own.
    assert_eq!(
        fresh_get(&s.base, "/v1/feedback", Some(SAM)).await.status(),
        StatusCode::OK
    );
    // An event stream opens although every place is taken.
    let mut stream = subscribe(&s.base, SAM, None).await;
    held.write_all(&body.as_bytes()[5..]).await.unwrap();
    let (head, created) = read_response(&mut held).await;
    assert!(head.starts_with("http/1.1 201"), "{head}");
    let created: Value = serde_json::from_str(&created).unwrap();
    let (_, name, event) = next_event(&mut stream, 20).await.expect("an event");
    assert_eq!(name, "feedback.created");
    assert_eq!(event["data"]["id"], created["id"]);
    assert_eq!(
        fresh_get(&s.base, "/v1/health", None).await.status(),
        StatusCode::OK
    );
    let metrics = s
        .server
        .as_ref()
        .unwrap()
        .metrics_addr
        .expect("metrics served");
    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let shed = |method: &str, route: &str| {
        text.lines()
            .find(|l| {
                l.starts_with(&format!(
                    "earshot_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"503\"}}"
                ))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert_eq!(shed("POST", "/v1/feedback"), Some(2.0), "{text}");
    assert_eq!(shed("GET", "/v1/feedback"), None, "{text}");
    s.stop().await;
}
