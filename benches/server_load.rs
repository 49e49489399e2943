//! Load benchmark of the reference server (a documented command, not a timed test):
//!
//!     cargo bench --bench server_load            # SQLite (a temp file)
//!     EARSHOT_BENCH_DB=postgres://... cargo bench --bench server_load
//!
//! 1. Reads: GET /v1/feedback?limit=50 and GET /v1/feedback/{id}, open-loop at a fixed rate
//!    (default 500/s for 10 s). Latency is measured from each request's scheduled start, so a
//!    stalled server is not hidden by the client waiting for it (no coordinated omission).
//! 2. Reply writes: 32 concurrent agents posting replies (each with its own Idempotency-Key,
//!    rules re-checked) for 10 s: writes per second and latency percentiles.
//! 3. Commit-to-subscriber delay: 1,000 SSE subscribers; new items are posted and each event's
//!    arrival is compared with the time the server appended it (same machine, same clock).
//!
//! The database holds the demo organisation (500 customers, 3,000 items); outbound delivery is
//! off, so the write figure is the CRM's own work per reply (rules re-check, messages, history,
//! events, audit, idempotency record), not the webhooks'.
//!
//! Targets (issue 2): read p99 < 25 ms at 500 requests/s; >= 1,000 reply writes/s;
//! commit-to-subscriber p99 < 250 ms at 1,000 subscribers.

use earshot::server::{self, ServerConfig};
use futures::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "es_demo_sam";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(name: &str, mut ms: Vec<f64>, wall: Duration, errors: usize) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<34} n={:<6} errors={errors:<4} rate={:>8.1}/s  p50={:>7.2} ms  p90={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
        ms.len(),
        ms.len() as f64 / wall.as_secs_f64(),
        percentile(&ms, 50.0),
        percentile(&ms, 90.0),
        percentile(&ms, 99.0),
        ms.last().copied().unwrap_or(f64::NAN),
    );
}

async fn reads(base: &str, http: &reqwest::Client, ids: &[String], rate: f64, secs: u64) {
    let total = (rate * secs as f64) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(total);
    for n in 0..total {
        let scheduled = start + interval * n as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let url = if n % 2 == 0 {
            format!("{base}/v1/feedback?limit=50")
        } else {
            format!("{base}/v1/feedback/{}", ids[n % ids.len()])
        };
        let http = http.clone();
        handles.push(tokio::spawn(async move {
            let ok = match http.get(url).bearer_auth(TOKEN).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            };
            (scheduled.elapsed().as_secs_f64() * 1000.0, ok)
        }));
    }
    let mut ms = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (t, ok) = h.await.unwrap();
        if ok {
            ms.push(t)
        } else {
            errors += 1
        }
    }
    report(&format!("reads at {rate}/s"), ms, start.elapsed(), errors);
}

async fn writes(
    base: &str,
    http: &reqwest::Client,
    ids: Arc<Vec<String>>,
    workers: usize,
    secs: u64,
) {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut handles = Vec::new();
    for w in 0..workers {
        let (http, base, ids) = (http.clone(), base.to_string(), ids.clone());
        handles.push(tokio::spawn(async move {
            let mut ms = Vec::new();
            let mut errors = 0;
            let mut n = 0usize;
            while Instant::now() < deadline {
                let id = &ids[(w * 7919 + n) % ids.len()];
                let body = json!({"parts": [{"visibility": "public", "body": format!("Thanks for reaching out, we are looking into it (ref {w}-{n}).")}]});
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/v1/feedback/{id}/replies"))
                    .bearer_auth(TOKEN)
                    .header("Idempotency-Key", format!("bench-{w}-{n}"))
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => ms.push(t.elapsed().as_secs_f64() * 1000.0),
                    _ => errors += 1,
                }
                n += 1;
            }
            (ms, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (ms, e) = h.await.unwrap();
        all.extend(ms);
        errors += e;
    }
    report(
        &format!("reply writes, {workers} agents"),
        all,
        start.elapsed(),
        errors,
    );
}

async fn fan_out(base: &str, http: &reqwest::Client, subscribers: usize, posts: usize) {
    use eventsource_stream::Eventsource;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
    let mut ready = 0;
    for _ in 0..subscribers {
        let resp = http
            .get(format!("{base}/v1/events"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("subscribe");
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut events = resp.bytes_stream().eventsource();
            while let Some(Ok(e)) = events.next().await {
                if e.event != "feedback.created" {
                    continue;
                }
                let v: Value = serde_json::from_str(&e.data).unwrap_or_default();
                let created = v["created_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                if let Some(created) = created {
                    let delay = (chrono::Utc::now() - created.with_timezone(&chrono::Utc))
                        .num_microseconds()
                        .unwrap_or(0);
                    let _ = tx.send(delay as f64 / 1000.0);
                }
            }
        });
        ready += 1;
    }
    drop(tx);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    for n in 0..posts {
        let body = json!({"channel": "x", "author_handle": format!("@fanout{n}"), "text": "is the app down? nothing loads"});
        let _ = http
            .post(format!("{base}/v1/feedback"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let expected = ready * posts;
    let mut delays = Vec::with_capacity(expected);
    while delays.len() < expected {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(d)) => delays.push(d),
            _ => break,
        }
    }
    let missing = expected - delays.len();
    report(
        &format!("commit-to-subscriber, {ready} subs"),
        delays,
        start.elapsed(),
        missing,
    );
}

async fn prepare_items(base: &str, http: &reqwest::Client, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = json!({"channel": "x", "author_handle": format!("@bench{i}"), "text": format!("question {i} about my kettle")});
        let r: Value = http
            .post(format!("{base}/v1/feedback"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    ids
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = std::env::var("EARSHOT_BENCH_DB")
        .unwrap_or_else(|_| dir.path().join("bench.db").to_string_lossy().into_owned());
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let running = server_rt.block_on(async {
        // The demo organisation as data, but no demo delivery: outbound webhooks are another
        // workload (tests/delivery.rs); here replies are stored, checked and streamed.
        let store = earshot::server::store::Store::open(&db)
            .await
            .expect("store opens");
        earshot::server::demo::seed_if_empty(&store)
            .await
            .expect("demo seed");
        store.close().await;
        let mut config = ServerConfig::new(db.clone(), "127.0.0.1:0".parse().unwrap());
        config.sim_per_minute = 0.0;
        // One token stands in for many agents here: measure capacity, not the per-token limit.
        config.rate_limit.per_second = 0;
        server::start(config).await.expect("server starts")
    });
    let base = running.url();
    println!(
        "earshot server_load benchmark on {db} ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .unwrap();
        let ids = Arc::new(prepare_items(&base, &http, 200).await);
        let rate: f64 = env_or("EARSHOT_BENCH_READ_RATE", 500.0);
        let secs: u64 = env_or("EARSHOT_BENCH_SECS", 10);
        reads(&base, &http, &ids, rate, secs).await;
        writes(
            &base,
            &http,
            ids.clone(),
            env_or("EARSHOT_BENCH_WRITERS", 32),
            secs,
        )
        .await;
        let sse_http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        fan_out(
            &base,
            &sse_http,
            env_or("EARSHOT_BENCH_SUBSCRIBERS", 1000),
            env_or("EARSHOT_BENCH_POSTS", 100),
        )
        .await;
    });
    drop(client_rt);
    server_rt.block_on(running.shutdown());
}
