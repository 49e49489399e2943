//! Delivery over real HTTP: outbound parts arrive at a webhook receiver (a real axum server in the
//! test) signed with the Standard Webhooks scheme, once each; failures are retried with backoff
//! and then reported; a real server process killed mid-delivery finishes the job after a restart
//! without doubling anything in the CRM; two server processes on one database share the work
//! through leases (each message delivered once, an orphan taken over); the stale-send guard; one
//! macro to many items; the demo sink.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use axum::routing::post;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::*;
use earshot::server::delivery::OutboundConfig;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One validly signed webhook the receiver got.
#[derive(Debug, Clone)]
struct Hook {
    id: String,
    timestamp: i64,
    payload: Value,
    at: Instant,
}

#[derive(Default)]
struct Inbox {
    key: Vec<u8>,
    got: Mutex<Vec<Hook>>,
    bad_signatures: AtomicUsize,
    /// Answer 500 to this many more requests.
    fail_next: AtomicUsize,
    /// When non-zero, answer every request with this status.
    always: AtomicU16,
    /// Hold every request (never answer) while set.
    hang: AtomicBool,
    /// The webhook id of every request answered 200 (the deliveries a receiver accepts).
    accepted: Mutex<Vec<String>>,
}

struct Receiver {
    url: String,
    whsec: String,
    inbox: Arc<Inbox>,
}

impl Receiver {
    fn hooks(&self) -> Vec<Hook> {
        self.inbox.got.lock().unwrap().clone()
    }

    /// How many times each webhook id arrived.
    fn counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for h in self.hooks() {
            *counts.entry(h.id).or_insert(0) += 1;
        }
        counts
    }

    /// How many times each webhook id was answered 200.
    fn accepted(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for id in self.inbox.accepted.lock().unwrap().iter() {
            *counts.entry(id.clone()).or_insert(0) += 1;
        }
        counts
    }
}

/// The documented scheme, written out independently of the server's code: `webhook-signature`
/// holds space-separated `v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">`, keyed with the
/// base64-decoded part of `whsec_...`.
fn signature_ok(key: &[u8], id: &str, timestamp: &str, header: &str, body: &[u8]) -> bool {
    header.split(' ').any(|sig| {
        let Some(b64) = sig.strip_prefix("v1,") else {
            return false;
        };
        let Ok(sig) = B64.decode(b64) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    })
}

async fn hook(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> AxStatus {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (id, ts, sig) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    if id.is_empty() || !signature_ok(&inbox.key, &id, &ts, &sig, &body) {
        inbox.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return AxStatus::UNAUTHORIZED;
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return AxStatus::BAD_REQUEST;
    };
    inbox.got.lock().unwrap().push(Hook {
        id: id.clone(),
        timestamp: ts.parse().unwrap_or(0),
        payload,
        at: Instant::now(),
    });
    while inbox.hang.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let always = inbox.always.load(Ordering::SeqCst);
    if always != 0 {
        return AxStatus::from_u16(always).unwrap();
    }
    if inbox
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return AxStatus::INTERNAL_SERVER_ERROR;
    }
    inbox.accepted.lock().unwrap().push(id);
    AxStatus::OK
}

async fn receiver() -> Receiver {
    let key: [u8; 32] = rand::random();
    let inbox = Arc::new(Inbox {
        key: key.to_vec(),
        ..Inbox::default()
    });
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}/hook"),
        whsec: format!("whsec_{}", B64.encode(key)),
        inbox,
    }
}

/// Every channel to `r`, short backoff for tests.
fn outbound_toml(r: &Receiver, max_attempts: u32, base_ms: u64) -> String {
    format!(
        "[retry]\nmax_attempts = {max_attempts}\nbase_ms = {base_ms}\nmax_ms = 2000\ntimeout_ms = 30000\n\
         [default]\nurl = \"{}\"\nsecret = \"{}\"\n",
        r.url, r.whsec
    )
}

/// The lease of the tests where one server process takes over from another: long enough that a
/// loaded machine renews it in time (every third of it), short enough to wait for its expiry.
const TEST_LEASE: Duration = Duration::from_secs(5);

/// `toml` with the test lease, and a poll for unowned messages several times a second.
fn with_lease(toml: &str) -> String {
    toml.replacen(
        "[retry]\n",
        &format!(
            "[retry]\nlease_ms = {}\npoll_ms = 200\n",
            TEST_LEASE.as_millis()
        ),
        1,
    )
}

async fn start_delivering(toml: &str) -> TestServer {
    let outbound = OutboundConfig::parse(toml).unwrap();
    start_with(test_db().await, move |c| c.outbound = Some(outbound)).await
}

fn both_parts() -> Value {
    json!({"parts": [
        {"visibility": "public", "body": "Sorry to hear that! We have sent you a DM."},
        {"visibility": "direct", "body": "Hi, a replacement is on its way."}
    ]})
}

fn ids(reply: &Value) -> Vec<String> {
    reply["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

/// Collects `reply.status_changed` events for `ids` until each has a final status.
async fn final_statuses(
    stream: &mut (impl futures::Stream<Item = (i64, String, Value)> + Unpin),
    ids: &[String],
) -> HashMap<String, Vec<(String, Option<String>)>> {
    let mut seen: HashMap<String, Vec<(String, Option<String>)>> = HashMap::new();
    let done = |seen: &HashMap<String, Vec<(String, Option<String>)>>| {
        ids.iter().all(|id| {
            seen.get(id).is_some_and(|v| {
                v.last()
                    .is_some_and(|(s, _)| s == "delivered" || s == "failed")
            })
        })
    };
    while !done(&seen) {
        let (_, name, data) = next_event(stream, 15)
            .await
            .unwrap_or_else(|| panic!("statuses stop short: {seen:?}"));
        if name != "reply.status_changed" {
            continue;
        }
        let id = data["data"]["id"].as_str().unwrap().to_string();
        if ids.contains(&id) {
            seen.entry(id).or_default().push((
                data["data"]["delivery_status"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                data["data"]["status_reason"].as_str().map(str::to_string),
            ));
        }
    }
    seen
}

async fn attempts(base: &str, message_id: &str) -> Vec<Value> {
    let r = reqwest::Client::new()
        .get(format!("{base}/v1/messages/{message_id}/attempts"))
        .bearer_auth(SAM)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn parts_arrive_signed_once_each_and_statuses_stream_back() {
    let r = receiver().await;
    let s = start_delivering(&outbound_toml(&r, 5, 10)).await;
    let mut events = subscribe(&s.base, SAM, None).await;
    let item = s
        .feedback(SAM, "x", "@ann", "My kettle is broken, help")
        .await;
    let fid = item["id"].as_str().unwrap();
    let sent = s.reply(fid, SAM, "k-1", both_parts()).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    assert!(sent.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["delivery_status"] == "queued"));
    let message_ids = ids(&sent.body);
    let statuses = final_statuses(&mut events, &message_ids).await;
    for id in &message_ids {
        let flow: Vec<&str> = statuses[id].iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(flow, ["sent", "delivered"], "{id}");
    }
    // Each part arrived once, signed, with its text and recipient.
    let hooks = r.hooks();
    assert_eq!(r.inbox.bad_signatures.load(Ordering::SeqCst), 0);
    assert_eq!(hooks.len(), 2, "{hooks:?}");
    let got: HashSet<&str> = hooks.iter().map(|h| h.id.as_str()).collect();
    let want: HashSet<&str> = message_ids.iter().map(String::as_str).collect();
    assert_eq!(got, want, "webhook-id is the message id");
    let now = chrono::Utc::now().timestamp();
    for h in &hooks {
        assert!((now - h.timestamp).abs() < 60);
        assert_eq!(h.payload["type"], "message.outbound");
        let data = &h.payload["data"];
        assert_eq!(data["id"], h.id.as_str());
        assert_eq!(data["address"], "@ann");
        assert_eq!(data["channel"], "x");
        assert_eq!(data["feedback_id"], fid);
        let part = if data["visibility"] == "public" { 0 } else { 1 };
        assert_eq!(data["body"], both_parts()["parts"][part]["body"]);
    }
    // One attempt each, recorded with the receiver's answer.
    for id in &message_ids {
        let a = attempts(&s.base, id).await;
        assert_eq!(a.len(), 1);
        assert_eq!(a[0]["attempt"], 1);
        assert_eq!(a[0]["http_status"], 200);
        assert!(a[0]["error"].is_null());
        assert!(a[0]["duration_ms"].as_f64().is_some());
    }
    // The thread shows them delivered; attempts of another department's message are hidden.
    let detail = s.get(&format!("/v1/feedback/{fid}"), SAM).await;
    let outbound: Vec<&Value> = detail.body["thread"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .collect();
    assert_eq!(outbound.len(), 2);
    assert!(outbound.iter().all(|m| m["delivery_status"] == "delivered"));
    let hidden = s
        .get(&format!("/v1/messages/{}/attempts", message_ids[0]), BILAL)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    s.stop().await;
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_backoff() {
    let r = receiver().await;
    r.inbox.fail_next.store(3, Ordering::SeqCst);
    let base_ms = 20;
    let s = start_delivering(&outbound_toml(&r, 6, base_ms)).await;
    let mut events = subscribe(&s.base, SAM, None).await;
    let item = s
        .feedback(SAM, "x", "@ann", "My kettle is broken, help")
        .await;
    let body =
        json!({"parts": [{"visibility": "public", "body": "Sorry to hear that! We are on it."}]});
    let sent = s
        .reply(item["id"].as_str().unwrap(), SAM, "k-1", body)
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let id = ids(&sent.body).remove(0);
    let statuses = final_statuses(&mut events, std::slice::from_ref(&id)).await;
    assert_eq!(statuses[&id].last().unwrap().0, "delivered");
    // Four tries of the same webhook, each after a longer wait.
    let hooks = r.hooks();
    assert_eq!(hooks.len(), 4);
    assert!(hooks.iter().all(|h| h.id == id));
    for (k, pair) in hooks.windows(2).enumerate() {
        let gap = pair[1].at - pair[0].at;
        let least = Duration::from_millis(base_ms << k) / 2;
        assert!(
            gap >= least,
            "retry {} came after {gap:?} (< {least:?})",
            k + 1
        );
    }
    let a = attempts(&s.base, &id).await;
    let codes: Vec<i64> = a
        .iter()
        .map(|x| x["http_status"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 500, 200]);
    assert!(a[..3]
        .iter()
        .all(|x| x["error"].as_str().unwrap().contains("500")));
    s.stop().await;
}

#[tokio::test]
async fn failures_are_reported_with_the_reason_after_bounded_retries() {
    // Public parts (on X) go to a receiver that is down; direct parts (to email) to one that
    // refuses them.
    let down = receiver().await;
    down.inbox.always.store(503, Ordering::SeqCst);
    let refuses = receiver().await;
    refuses.inbox.always.store(403, Ordering::SeqCst);
    let toml = format!(
        "[retry]\nmax_attempts = 3\nbase_ms = 10\n\
         [channels.x]\nurl = \"{}\"\nsecret = \"{}\"\n\
         [channels.email]\nurl = \"{}\"\nsecret = \"{}\"\n",
        down.url, down.whsec, refuses.url, refuses.whsec
    );
    let s = start_delivering(&toml).await;
    let mut events = subscribe(&s.base, SAM, None).await;
    // Ben did not consent to social DMs: the direct part goes to his email.
    let item = s
        .feedback(SAM, "x", "@ben", "question about my kettle")
        .await;
    let sent = s
        .reply(item["id"].as_str().unwrap(), SAM, "k-1", both_parts())
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let message_ids = ids(&sent.body);
    assert_eq!(sent.body["messages"][1]["channel"], "email");
    let statuses = final_statuses(&mut events, &message_ids).await;
    let (public, direct) = (&message_ids[0], &message_ids[1]);
    let (status, reason) = statuses[public].last().unwrap().clone();
    assert_eq!(status, "failed");
    let reason = reason.unwrap();
    assert!(
        reason.contains("gave up after 3 attempts") && reason.contains("503"),
        "{reason}"
    );
    assert_eq!(down.hooks().len(), 3);
    assert_eq!(attempts(&s.base, public).await.len(), 3);
    // A refusal is final at once.
    let (status, reason) = statuses[direct].last().unwrap().clone();
    assert_eq!(status, "failed");
    assert!(reason.unwrap().contains("403"));
    assert_eq!(refuses.hooks().len(), 1);
    assert_eq!(attempts(&s.base, direct).await.len(), 1);
    // Never `sent`: nothing was accepted.
    assert!(statuses
        .values()
        .flatten()
        .all(|(s, _)| s != "sent" && s != "delivered"));
    let detail = s
        .get(
            &format!("/v1/feedback/{}", item["id"].as_str().unwrap()),
            SAM,
        )
        .await;
    let failed = detail.body["thread"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["delivery_status"] == "failed" && m["status_reason"].is_string())
        .count();
    assert_eq!(failed, 2);
    s.stop().await;
}

#[tokio::test]
async fn a_server_killed_mid_delivery_delivers_everything_once_after_restart() {
    let seeded = start_on(test_db().await).await;
    let db = seeded.stop().await;
    let r = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("outbound.toml");
    std::fs::write(&config, with_lease(&outbound_toml(&r, 5, 10))).unwrap();
    let config = config.to_string_lossy().into_owned();
    let args = ["--outbound", config.as_str()];

    // The receiver is slow: it holds every webhook without answering.
    r.inbox.hang.store(true, Ordering::SeqCst);
    let server = ServerProcess::spawn(&db.url, &args).await;
    let http = reqwest::Client::new();
    let item = post_feedback(&server.base, SAM, "x", "@ann", "My kettle is broken, help").await;
    let fid = item["id"].as_str().unwrap().to_string();
    let post_reply = |base: String| {
        let http = http.clone();
        let fid = fid.clone();
        async move {
            let r = http
                .post(format!("{base}/v1/feedback/{fid}/replies"))
                .bearer_auth(SAM)
                .header("Idempotency-Key", "crash-1")
                .json(&both_parts())
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, first) = post_reply(server.base.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let message_ids = ids(&first);
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.hooks().len() < 2 {
        assert!(Instant::now() < deadline, "both parts reach the receiver");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL while the receiver holds both webhooks.
    server.kill();
    r.inbox.hang.store(false, Ordering::SeqCst);

    // The dead process's leases run out, then the new one takes its messages over.
    let server = ServerProcess::spawn(&db.url, &args).await;
    let deadline = Instant::now() + TEST_LEASE + Duration::from_secs(30);
    loop {
        let detail: Value = http
            .get(format!("{}/v1/feedback/{fid}", server.base))
            .bearer_auth(SAM)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let outbound: Vec<&Value> = detail["thread"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "outbound")
            .collect();
        assert_eq!(
            outbound.len(),
            2,
            "each outbound message once in the thread"
        );
        if outbound.iter().all(|m| m["delivery_status"] == "delivered") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "delivered after the restart: {outbound:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // At least once on the wire; exactly once after de-duplication by webhook-id.
    let counts = r.counts();
    let distinct: HashSet<&String> = counts.keys().collect();
    assert_eq!(distinct, message_ids.iter().collect::<HashSet<_>>());
    assert!(
        counts.values().all(|&n| n == 2),
        "each interrupted webhook was sent again with the same id: {counts:?}"
    );
    assert_eq!(r.inbox.bad_signatures.load(Ordering::SeqCst), 0);
    // The interrupted attempt is on record.
    for id in &message_ids {
        let a = attempts(&server.base, id).await;
        assert_eq!(a.len(), 2, "{a:?}");
        assert!(a[0]["error"].as_str().unwrap().contains("interrupted"));
        assert_eq!(a[1]["http_status"], 200);
    }
    // Retrying the POST with the same key returns the stored reply; nothing is doubled.
    let (status, again) = post_reply(server.base.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], first["id"]);
    assert!(again["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["delivery_status"] == "delivered"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(r.hooks().len(), 4, "the retried POST delivered nothing");
    server.kill();
}

/// Polls `done` every 50 ms until it holds; fails with `what` after `within`.
async fn wait_until<F: std::future::Future<Output = bool>>(
    within: Duration,
    what: &str,
    mut done: impl FnMut() -> F,
) {
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "{what} (within {within:?})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The delivery status of each outbound message of item `fid`, read through the server at `base`.
async fn outbound_statuses(base: &str, fid: &str) -> HashMap<String, String> {
    let detail: Value = reqwest::Client::new()
        .get(format!("{base}/v1/feedback/{fid}"))
        .bearer_auth(SAM)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    detail["thread"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["delivery_status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Whether all of `ids` are delivered, read through the server at `base`.
async fn all_delivered(base: &str, fid: &str, ids: &[String]) -> bool {
    let statuses = outbound_statuses(base, fid).await;
    ids.iter()
        .all(|id| statuses.get(id).is_some_and(|s| s == "delivered"))
}

/// Posts reply number `n` (one public part) on item `fid` through the server at `base`; returns
/// its message id.
async fn post_numbered_reply(base: &str, fid: &str, n: usize) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/feedback/{fid}/replies"))
        .bearer_auth(SAM)
        .header("Idempotency-Key", format!("lease-{n}"))
        .json(&json!({"parts": [{"visibility": "public",
                                 "body": format!("Sorry to hear that! We are on it (update {n}).")}]}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    ids(&body).remove(0)
}

/// A seeded database for server processes.
async fn seeded_db() -> TestDb {
    start_on(test_db().await).await.stop().await
}

/// An outbound configuration file (`--outbound`) in `dir` sending everything to `r`: many
/// attempts with a short backoff, the test lease. Returns its path.
fn outbound_file(dir: &tempfile::TempDir, name: &str, r: &Receiver) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, with_lease(&outbound_toml(r, 100, 20))).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn two_instances_on_one_database_deliver_each_message_once_across_a_restart() {
    let r = receiver().await;
    // Down at first: every message is retried, by whichever instance owns it.
    r.inbox.always.store(503, Ordering::SeqCst);
    let db = seeded_db().await;
    let dir = tempfile::tempdir().unwrap();
    let config = outbound_file(&dir, "outbound.toml", &r);
    let args = ["--outbound", config.as_str()];
    let a = ServerProcess::spawn(&db.url, &args).await;
    let b = ServerProcess::spawn(&db.url, &args).await;
    let item = post_feedback(&a.base, SAM, "x", "@ann", "My kettle is broken, help").await;
    let fid = item["id"].as_str().unwrap().to_string();
    let mut message_ids = Vec::new();
    for n in 0..10 {
        let base = if n % 2 == 0 { &a.base } else { &b.base };
        message_ids.push(post_numbered_reply(base, &fid, n).await);
    }
    wait_until(
        Duration::from_secs(60),
        "every message is attempted",
        || {
            let counts = r.counts();
            let done = message_ids.iter().all(|id| counts.contains_key(id));
            async move { done }
        },
    )
    .await;

    // B restarts (SIGKILL) while everything is being retried.
    b.kill();
    let before = r.counts();
    let b = ServerProcess::spawn(&db.url, &args).await;
    // Every message is attempted again after the restart: A goes on with its own, the new B
    // takes over those of the old one once their leases ran out.
    wait_until(
        TEST_LEASE + Duration::from_secs(60),
        "every message is attempted after the restart",
        || {
            let counts = r.counts();
            let done = message_ids.iter().all(|id| counts[id] > before[id]);
            async move { done }
        },
    )
    .await;

    // The receiver recovers; everything is delivered.
    r.inbox.always.store(0, Ordering::SeqCst);
    wait_until(Duration::from_secs(60), "all messages delivered", || {
        all_delivered(&b.base, &fid, &message_ids)
    })
    .await;
    // A worker retrying a message it does not own would send it again within one backoff cap
    // (max_ms, 2 s) of the other's success: watch for twice that before counting.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let accepted = r.accepted();
    for id in &message_ids {
        assert_eq!(
            accepted.get(id),
            Some(&1),
            "{id} is accepted exactly once: {accepted:?}"
        );
    }
    assert_eq!(accepted.len(), message_ids.len(), "{accepted:?}");
    assert_eq!(r.inbox.bad_signatures.load(Ordering::SeqCst), 0);
    a.kill();
    b.kill();
}

#[tokio::test]
async fn an_instance_takes_over_the_deliveries_of_one_that_died() {
    // Each instance posts to a receiver of its own, so that who sent what is known: A's is
    // down, B's is up.
    let to_a = receiver().await;
    to_a.inbox.always.store(503, Ordering::SeqCst);
    let to_b = receiver().await;
    let db = seeded_db().await;
    let dir = tempfile::tempdir().unwrap();
    let config_a = outbound_file(&dir, "a.toml", &to_a);
    let config_b = outbound_file(&dir, "b.toml", &to_b);
    let a = ServerProcess::spawn(&db.url, &["--outbound", config_a.as_str()]).await;
    let b = ServerProcess::spawn(&db.url, &["--outbound", config_b.as_str()]).await;
    // Every reply goes through A, which claims its messages as they commit (B's poll may win
    // one now and then; then B alone delivers it).
    let item = post_feedback(&a.base, SAM, "x", "@ann", "My kettle is broken, help").await;
    let fid = item["id"].as_str().unwrap().to_string();
    let mut message_ids = Vec::new();
    for n in 0..10 {
        message_ids.push(post_numbered_reply(&a.base, &fid, n).await);
    }
    wait_until(
        Duration::from_secs(60),
        "every message is attempted",
        || {
            let (by_a, by_b) = (to_a.counts(), to_b.counts());
            let done = message_ids
                .iter()
                .all(|id| by_a.contains_key(id) || by_b.contains_key(id));
            async move { done }
        },
    )
    .await;
    let first_by_a: HashMap<String, Instant> = to_a
        .hooks()
        .into_iter()
        .rev()
        .map(|h| (h.id, h.at))
        .collect();
    assert!(!first_by_a.is_empty(), "A owns messages");

    // A renews its leases: still retrying after longer than one lease, it is the only one
    // sending its messages.
    wait_until(
        TEST_LEASE + Duration::from_secs(60),
        "A retries its messages for longer than a lease",
        || {
            let hooks = to_a.hooks();
            let done = first_by_a.iter().all(|(id, &at)| {
                hooks
                    .iter()
                    .any(|h| &h.id == id && h.at > at + TEST_LEASE + Duration::from_secs(1))
            });
            async move { done }
        },
    )
    .await;
    let by_b = to_b.counts();
    assert!(
        by_b.keys().all(|id| !first_by_a.contains_key(id)),
        "one sender per message while both live: {by_b:?}"
    );

    // A dies with its messages pending; B takes them over once A's leases ran out.
    a.kill();
    wait_until(
        TEST_LEASE + Duration::from_secs(30),
        "the surviving instance delivers the orphaned messages",
        || all_delivered(&b.base, &fid, &message_ids),
    )
    .await;
    let accepted = to_b.accepted();
    for id in &message_ids {
        assert_eq!(accepted.get(id), Some(&1), "{id}: {accepted:?}");
        // The record: A's refused attempts (or one it was in the middle of), then B's success.
        let a = attempts(&b.base, id).await;
        let (last, earlier) = a.split_last().unwrap();
        assert_eq!(last["http_status"], 200, "{a:?}");
        assert!(
            earlier
                .iter()
                .all(|x| x["http_status"] == 503
                    || x["error"].as_str().unwrap().contains("interrupted")),
            "{a:?}"
        );
    }
    assert!(to_a.accepted().is_empty());
    b.kill();
}

#[tokio::test]
async fn a_burst_beyond_the_workers_capacity_goes_out_without_waiting_for_a_poll() {
    // The worker takes on 16 messages at once; the rest are claimed as deliveries end. The poll
    // is a minute away, so only that can deliver them in time.
    let r = receiver().await;
    let toml = outbound_toml(&r, 3, 10).replacen(
        "[retry]\n",
        "[retry]\nlease_ms = 60000\npoll_ms = 60000\n",
        1,
    );
    let s = start_delivering(&toml).await;
    let item = s
        .feedback(SAM, "x", "@ann", "My kettle is broken, help")
        .await;
    let fid = item["id"].as_str().unwrap().to_string();
    // The receiver holds the first ones, so the worker is full while the rest commit.
    r.inbox.hang.store(true, Ordering::SeqCst);
    let mut message_ids = Vec::new();
    for n in 0..40 {
        message_ids.push(post_numbered_reply(&s.base, &fid, n).await);
    }
    wait_until(Duration::from_secs(30), "the worker is full", || {
        let full = r.hooks().len() >= 16;
        async move { full }
    })
    .await;
    r.inbox.hang.store(false, Ordering::SeqCst);
    wait_until(
        Duration::from_secs(30),
        "the whole burst is delivered",
        || all_delivered(&s.base, &fid, &message_ids),
    )
    .await;
    let accepted = r.accepted();
    assert!(
        message_ids.iter().all(|id| accepted.get(id) == Some(&1)),
        "{accepted:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_stale_send_guard_stops_a_reply_to_a_changed_thread() {
    let s = start().await;
    let item = s
        .feedback(SAM, "x", "@ann", "My kettle is broken, help")
        .await;
    assert_eq!(item["department"], "support");
    let fid = item["id"].as_str().unwrap();
    // Alice and Jonas both open the item and see the same newest message.
    let seen = |detail: &Value| {
        detail["thread"].as_array().unwrap().last().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let alice_base = seen(&s.get(&format!("/v1/feedback/{fid}"), ALICE).await.body);
    let jonas_base = seen(&s.get(&format!("/v1/feedback/{fid}"), JONAS).await.body);
    assert_eq!(alice_base, jonas_base);
    // Jonas replies first.
    let jonas = s
        .reply(
            fid,
            JONAS,
            "j-1",
            json!({"parts": [{"visibility": "public", "body": "Sorry to hear that! We have sent you a DM."}],
                   "base_message_id": jonas_base}),
        )
        .await;
    assert_eq!(jonas.status, StatusCode::CREATED, "{}", jonas.body);
    // Alice's send on the old view is stopped, with what changed.
    let alice_body =
        json!({"parts": [{"visibility": "public", "body": "Sorry! Could you send us a DM?"}]});
    let mut stale_body = alice_body.clone();
    stale_body["base_message_id"] = json!(alice_base);
    let stale = s.reply(fid, ALICE, "a-1", stale_body).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert_eq!(stale.headers["content-type"], "application/problem+json");
    assert!(stale.body["type"]
        .as_str()
        .unwrap()
        .ends_with("/stale-thread"));
    let changes = stale.body["violations"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["id"], jonas.body["messages"][0]["id"]);
    assert_eq!(changes[0]["author"], "Jonas");
    let detail = s.get(&format!("/v1/feedback/{fid}"), ALICE).await;
    assert_eq!(
        detail.body["thread"].as_array().unwrap().len(),
        2,
        "nothing delivered"
    );
    // Jonas's own later reply does not trip his guard on his own message.
    let own = s
        .reply(
            fid,
            JONAS,
            "j-2",
            json!({"parts": [{"visibility": "public", "body": "Following up here."}],
               "base_message_id": jonas_base}),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    // A base that is not in the thread is a client error.
    let mut bogus = alice_body.clone();
    bogus["base_message_id"] = json!("msg_nope");
    let r = s.reply(fid, ALICE, "a-x", bogus).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // Alice confirms: the same request without base_message_id (same key) goes through.
    let confirmed = s.reply(fid, ALICE, "a-1", alice_body).await;
    assert_eq!(confirmed.status, StatusCode::CREATED, "{}", confirmed.body);
    let detail = s.get(&format!("/v1/feedback/{fid}"), ALICE).await;
    assert_eq!(detail.body["thread"].as_array().unwrap().len(), 4);
    s.stop().await;
}

#[tokio::test]
async fn one_macro_answers_many_items_with_a_result_each() {
    let r = receiver().await;
    let s = start_delivering(&outbound_toml(&r, 3, 10)).await;
    let mut items = Vec::new();
    for handle in ["@ann", "@ben", "@stranger"] {
        let f = s
            .feedback(SAM, "x", handle, "The kettle app is down, broken")
            .await;
        assert_eq!(f["department"], "support");
        items.push(f["id"].as_str().unwrap().to_string());
    }
    let billing = s
        .feedback(SAM, "x", "@ann", "refund my double charge")
        .await;
    assert_eq!(billing["department"], "billing");
    let phone = s
        .post(
            "/v1/feedback",
            SAM,
            json!({"channel": "phone", "author_handle": "+1 555 0100", "text": "my kettle is noisy"}),
        )
        .await
        .body;
    assert_eq!(phone["department"], "support");
    let requested = vec![
        items[0].clone(),
        billing["id"].as_str().unwrap().to_string(),
        items[1].clone(),
        phone["id"].as_str().unwrap().to_string(),
        items[2].clone(),
    ];
    let body = json!({
        "feedback_ids": requested,
        "parts": [{"visibility": "public", "body": "Sorry to hear that! Our app is having an outage; we are on it."}]
    });
    let missing_key = s.post("/v1/replies", ALICE, body.clone()).await;
    assert_eq!(missing_key.status, StatusCode::BAD_REQUEST);
    let bulk = s
        .call(
            Method::POST,
            "/v1/replies",
            Some(ALICE),
            Some(body.clone()),
            &[("Idempotency-Key", "outage-1")],
        )
        .await;
    assert_eq!(bulk.status, StatusCode::OK, "{}", bulk.body);
    let results = bulk.body["results"].as_array().unwrap();
    let got: Vec<(&str, i64)> = results
        .iter()
        .map(|r| {
            (
                r["feedback_id"].as_str().unwrap(),
                r["status"].as_i64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(&str, i64)> = requested
        .iter()
        .map(String::as_str)
        .zip([201, 404, 201, 422, 201])
        .collect();
    assert_eq!(got, want);
    assert!(results[1]["problem"]["type"]
        .as_str()
        .unwrap()
        .ends_with("/not-found"));
    assert!(results[3]["problem"]["detail"]
        .as_str()
        .unwrap()
        .contains("no public thread"));
    // Each answered item has one outbound message and is marked answered.
    for id in &items {
        let d = s.get(&format!("/v1/feedback/{id}"), ALICE).await;
        assert_eq!(d.body["feedback"]["status"], "answered");
        let outbound = d.body["thread"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "outbound")
            .count();
        assert_eq!(outbound, 1);
    }
    // Retried: the stored replies, nothing new.
    let again = s
        .call(
            Method::POST,
            "/v1/replies",
            Some(ALICE),
            Some(body),
            &[("Idempotency-Key", "outage-1")],
        )
        .await;
    let again = again.body["results"].as_array().unwrap();
    for (a, b) in results.iter().zip(again) {
        if a["status"] == 201 {
            assert_eq!(b["status"], 200);
            assert_eq!(a["reply"]["id"], b["reply"]["id"]);
        } else {
            assert_eq!(a["status"], b["status"]);
        }
    }
    // The three replies went out, once each.
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.hooks().len() < 3 {
        assert!(Instant::now() < deadline, "three webhooks arrive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(r.hooks().len(), 3);
    assert_eq!(r.counts().len(), 3);
    s.stop().await;
}

#[tokio::test]
async fn the_demo_delivers_to_its_loopback_sink_which_checks_signatures() {
    let db = test_db().await;
    let s = start_with(db, |c| {
        c.demo = true;
        c.sim_per_minute = 0.0;
    })
    .await;
    let token = earshot::server::demo::DEMO_CONSOLE_TOKEN;
    let mut events = subscribe(&s.base, token, None).await;
    let queue = s.get("/v1/feedback?limit=200", token).await;
    let item = queue.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            ["x", "facebook", "instagram", "forum", "review"]
                .contains(&f["channel"].as_str().unwrap())
        })
        .expect("a demo item with a public thread")
        .clone();
    let fid = item["id"].as_str().unwrap();
    let sent = s
        .reply(
            fid,
            token,
            "demo-1",
            json!({"parts": [{"visibility": "public", "body": "Thanks for letting us know, we are on it."}]}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let id = ids(&sent.body).remove(0);
    let statuses = final_statuses(&mut events, std::slice::from_ref(&id)).await;
    let flow: Vec<&str> = statuses[&id].iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(flow, ["sent", "delivered"]);
    // The sink is a real receiver: a forged webhook is refused.
    let forged = reqwest::Client::new()
        .post(format!("{}/sink/x", s.base))
        .header("webhook-id", "msg_forged")
        .header(
            "webhook-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header(
            "webhook-signature",
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}
