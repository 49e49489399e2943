//! The queue at scale (issue 15), a documented command rather than a timed test:
//!
//!     cargo bench --bench queue_load                         # SQLite, 100,000 items, then 1,000,000 for q=
//!     EARSHOT_BENCH_DB=postgres://... cargo bench --bench queue_load
//!
//! 1. Load: N items (`EARSHOT_BENCH_ITEMS`, default 100,000) bulk-inserted straight into a
//!    fresh database (tests/common/bulk.rs: what the server writes for an item, minus messages),
//!    spread over five departments, four statuses, three channels, newest last. Then, over
//!    HTTP through the real server: the full stream as the console loads it (pages of 500,
//!    following `next_cursor` to the end) for a supervisor of three departments and for an
//!    admin, alternately, median of 3; the supervisor's time per item for the first and the
//!    second half of the pages (a page that sorted the rows below its cursor made the second
//!    half slower); and first-page latency (p50/p99 of 100).
//! 2. Search: M items (`EARSHOT_BENCH_SEARCH_ITEMS`, default 1,000,000; 0 skips) in another
//!    fresh database, texts from a fixed vocabulary where some words are common and some rare;
//!    `GET /v1/feedback?q=` as the admin and the supervisor, p50/p99 of
//!    `EARSHOT_BENCH_Q_RUNS` (default 200) requests per query: a word matching nothing, words
//!    matching about 0.02%, 0.2%, 2% and 20% of the items, and two words.
//!
//! Bounds printed beside each figure: the admin's full load (the supervisor's target is 1.2x),
//! and 20 ms for the q= p99.

#[path = "../tests/common/bulk.rs"]
mod bulk;

use bulk::{Item, Rng};
use earshot::domain::{AgentRole, Channel, FeedbackStatus};
use earshot::server::store::{NewAgent, Store};
use earshot::server::{self, ServerConfig};
use std::time::{Duration, Instant};

const ADMIN: &str = "es_bench_admin";
const SUPERVISOR: &str = "es_bench_supervisor";
const DEPARTMENTS: [&str; 5] = ["support", "billing", "shipping", "finance", "social"];
const PAGE: usize = 500;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    percentile(&v, 50.0)
}

/// Words by how often they occur: `common` in about 20% of the items, `some` 2%, `few` 0.2%,
/// `rare` 0.02%; the rest of a text is drawn from 5,000 filler words.
fn text(rng: &mut Rng, k: usize) -> String {
    let mut words = vec![format!("filler{}", rng.below(5_000)), format!("order{k}")];
    for (word, per_10k) in [
        ("kettle", 2_000),
        ("refund", 200),
        ("descaling", 20),
        ("warranty", 2),
    ] {
        if rng.below(10_000) < per_10k {
            words.push(word.to_string());
        }
    }
    words.push(format!("filler{}", rng.below(5_000)));
    format!("Customer wrote: {}.", words.join(" "))
}

fn items(n: usize, seed: u64) -> Vec<Item> {
    let mut rng = Rng(seed);
    let statuses = [
        FeedbackStatus::New,
        FeedbackStatus::Open,
        FeedbackStatus::Pending,
        FeedbackStatus::Resolved,
    ];
    let channels = [Channel::X, Channel::Email, Channel::Forum];
    let start = 1_700_000_000_000_000i64;
    (0..n)
        .map(|k| Item {
            id: format!("fb_bench_{k:08}"),
            department: DEPARTMENTS[rng.below(5) as usize].to_string(),
            status: statuses[rng.below(4) as usize],
            assignee: None,
            channel: channels[rng.below(3) as usize],
            customer: None,
            text: text(&mut rng, k),
            // About one a second, newest last, with some arriving late.
            received_at: start + k as i64 * 1_000_000 - rng.below(30) as i64 * 1_000_000,
        })
        .collect()
}

/// A fresh database with the five departments, an admin and a supervisor of three.
async fn prepare(db: &str, n: usize, seed: u64) {
    let store = Store::open(db).await.expect("store opens");
    for d in DEPARTMENTS {
        store.upsert_department(d, d).await.unwrap();
    }
    let all: Vec<String> = DEPARTMENTS.iter().map(|d| d.to_string()).collect();
    let three: Vec<String> = all[..3].to_vec();
    for (id, role, depts, token) in [
        ("ag_bench_admin", AgentRole::Admin, &all, ADMIN),
        ("ag_bench_sup", AgentRole::Supervisor, &three, SUPERVISOR),
    ] {
        let new = NewAgent {
            name: id,
            role,
            departments: depts,
            scopes: None,
        };
        store.add_agent_with_token(id, new, token).await.unwrap();
    }
    store.close().await;
    let t = Instant::now();
    for (n, chunk) in items(n, seed).chunks(100_000).enumerate() {
        bulk::insert(db, chunk).await;
        if n % 5 == 4 {
            println!(
                "  seeded {} items ({:.0} s)",
                (n + 1) * 100_000,
                t.elapsed().as_secs_f64()
            );
        }
    }
    println!("seeded {n} items in {:.1} s", t.elapsed().as_secs_f64());
}

async fn serve(db: &str) -> server::RunningServer {
    let mut config = ServerConfig::new(db.to_string(), "127.0.0.1:0".parse().unwrap());
    config.sim_per_minute = 0.0;
    config.rate_limit.per_second = 0;
    server::start(config).await.expect("server starts")
}

async fn page(http: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    let r = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("answer");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.expect("json")
}

/// The whole stream in pages: (seconds, items, seconds per item of the first and second half).
async fn full_load(http: &reqwest::Client, base: &str, token: &str) -> (f64, usize, f64, f64) {
    let start = Instant::now();
    let mut times = Vec::new();
    let mut cursor: Option<String> = None;
    let mut items = 0;
    loop {
        let mut url = format!("{base}/v1/feedback?limit={PAGE}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let t = Instant::now();
        let body = page(http, &url, token).await;
        times.push(t.elapsed().as_secs_f64());
        items += body["items"].as_array().map(Vec::len).unwrap_or(0);
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let half = times.len() / 2;
    let per_item = |t: &[f64]| t.iter().sum::<f64>() / (t.len().max(1) * PAGE) as f64;
    (
        start.elapsed().as_secs_f64(),
        items,
        per_item(&times[..half]),
        per_item(&times[half..]),
    )
}

async fn latencies(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    runs: usize,
) -> (f64, f64, usize) {
    let mut ms = Vec::with_capacity(runs);
    let mut found = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let body = page(http, url, token).await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        found = body["items"].as_array().map(Vec::len).unwrap_or(0);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    (percentile(&ms, 50.0), percentile(&ms, 99.0), found)
}

async fn load_phase(http: &reqwest::Client, db: &str, n: usize) {
    prepare(db, n, 15).await;
    let running = serve(db).await;
    let base = running.url();
    let (mut sup, mut adm) = (Vec::new(), Vec::new());
    let (mut halves, mut counts) = (Vec::new(), (0, 0));
    for run in 0..3 {
        let (t, got, first, second) = full_load(http, &base, SUPERVISOR).await;
        println!(
            "  run {run}: supervisor {t:.2} s ({got} items; {:.1} / {:.1} µs per item, first / second half)",
            first * 1e6,
            second * 1e6
        );
        sup.push(t);
        halves.push(second / first);
        counts.0 = got;
        let (t, got, _, _) = full_load(http, &base, ADMIN).await;
        println!("  run {run}: admin {t:.2} s ({got} items)");
        adm.push(t);
        counts.1 = got;
    }
    let (s, a) = (median(sup), median(adm));
    println!(
        "full load, pages of {PAGE}: supervisor (3 departments, {} items) median {s:.2} s; admin ({} items) median {a:.2} s; ratio {:.2}x (target <= 1.2x); second half / first half per item {:.2}x (linear: about 1)",
        counts.0,
        counts.1,
        s / a,
        median(halves)
    );
    for (who, token) in [("supervisor", SUPERVISOR), ("admin", ADMIN)] {
        let (p50, p99, _) =
            latencies(http, &format!("{base}/v1/feedback?limit=50"), token, 100).await;
        println!("first page (limit 50), {who}: p50 {p50:.2} ms, p99 {p99:.2} ms");
    }
    running.shutdown().await;
}

async fn search_phase(http: &reqwest::Client, db: &str, n: usize) {
    prepare(db, n, 16).await;
    let running = serve(db).await;
    let base = running.url();
    let runs: usize = env_or("EARSHOT_BENCH_Q_RUNS", 200);
    for (what, q) in [
        ("nothing", "zzyzx"),
        ("rare (0.02%)", "warranty"),
        ("few (0.2%)", "descaling"),
        ("some (2%)", "refund"),
        ("common (20%)", "kettle"),
        ("prefix of common", "kett"),
        ("two words (0.4%)", "kettle refund"),
    ] {
        for (who, token) in [("admin", ADMIN), ("supervisor", SUPERVISOR)] {
            let url = format!("{base}/v1/feedback?limit=50&q={}", q.replace(' ', "%20"));
            let (p50, p99, found) = latencies(http, &url, token, runs).await;
            println!(
                "q={q:<14} {what:<17} {who:<10} p50 {p50:>7.2} ms  p99 {p99:>7.2} ms (bound 20 ms: {:.2}x)  first page {found} items",
                p99 / 20.0
            );
        }
    }
    running.shutdown().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = |name: &str| -> String {
        match std::env::var("EARSHOT_BENCH_DB") {
            Ok(url) => rt.block_on(fresh_postgres(&url, name)),
            Err(_) => dir
                .path()
                .join(format!("{name}.db"))
                .to_string_lossy()
                .into_owned(),
        }
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    println!(
        "earshot queue_load benchmark ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let n: usize = env_or("EARSHOT_BENCH_ITEMS", 100_000);
    if n > 0 {
        let db = fresh("queue");
        rt.block_on(load_phase(&http, &db, n));
    }
    let m: usize = env_or("EARSHOT_BENCH_SEARCH_ITEMS", 1_000_000);
    if m > 0 {
        let db = fresh("search");
        rt.block_on(search_phase(&http, &db, m));
    }
}

/// A new database on the PostgreSQL server at `admin_url`.
async fn fresh_postgres(admin_url: &str, name: &str) -> String {
    use sqlx::Connection;
    let db = format!("earshot_bench_{name}_{:08x}", rand::random::<u32>());
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect");
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    format!("{base}/{db}")
}
