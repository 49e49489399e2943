//! Load benchmark of the reference server (a documented command, not a timed test):
//!
//!     ulimit -n 20000 && cargo bench --bench server_load             # SQLite (a temp file)
//!     ulimit -n 20000 && EARSHOT_BENCH_DB=postgres://... cargo bench --bench server_load
//!
//! Every figure is printed with the bound it is held against, measured in the same run, and
//! the ratio:
//!
//! 1. Reads (GET /v1/feedback?limit=50 and GET /v1/feedback/{id}, alternately). Bound: the same
//!    work through the store in this process (token check, the page or the item with its
//!    thread and the thread's authors, as the handlers call it), no HTTP, from as many tasks
//!    as there are cores. Then the server at rising concurrency (closed loop: each client
//!    sends its next request when the last is answered), and open loop at twice the peak rate
//!    (latency from each request's scheduled start, so a stalled server is not hidden by the
//!    client waiting for it): what is served, what is shed (503), and the served rate against
//!    the peak.
//! 2. Reply writes with 1 / 8 / 32 / 128 concurrent writers (each reply with its own
//!    Idempotency-Key, rules re-checked). Bound: the statements of one reply as the server ran
//!    them before group commit (one write transaction per reply: the key check, the item, the
//!    message, the reply record, the first-reply time, the status, the audit entry, the two
//!    events), the same schema and pragmas, from one plain connection, no pool, no HTTP;
//!    measured before and after the writers, the mean is the bound.
//! 3. Intake (POST /v1/feedback of the labelled set's real care posts) with 1 / 8 / 32
//!    posters, and what the built-in triage costs per post in this process: its share of the
//!    machine at the rate served says how much faster intake could be without it.
//! 4. Commit-to-subscriber delay at 1,000 and 5,000 SSE subscribers: new items are posted and
//!    each event's arrival is compared with the item's `created_at` (same machine, same clock).
//!
//! The database holds the demo organisation (500 customers, 3,000 items); outbound delivery is
//! off, so the write figure is the CRM's own work per reply (rules re-check, messages, history,
//! events, audit, idempotency record), not the webhooks'. Client and server share the machine.
//!
//! Knobs: EARSHOT_BENCH_SECS (per step, default 5), EARSHOT_BENCH_WRITERS (comma list, default
//! 1,8,32,128), EARSHOT_BENCH_CONCURRENCY (default 1,4,16,64,256), EARSHOT_BENCH_SUBSCRIBERS
//! (default 1000,5000), EARSHOT_BENCH_POSTS (default 40), EARSHOT_BENCH_MAX_IN_FLIGHT and
//! EARSHOT_BENCH_MAX_READS_IN_FLIGHT (the server's limits; default its own),
//! EARSHOT_BENCH_SKIP (any of reads,writes,intake,sse), EARSHOT_BENCH_POSTERS (intake,
//! default 1,8,32).

use earshot::server::store::{FeedbackFilter, Store};
use earshot::server::{self, ServerConfig};
use futures::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "es_demo_sam";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => default.to_vec(),
    }
}

fn skipped(step: &str) -> bool {
    std::env::var("EARSHOT_BENCH_SKIP").is_ok_and(|s| s.split(',').any(|x| x.trim() == step))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Latencies of one step, with its rate.
#[derive(Default)]
struct Step {
    ms: Vec<f64>,
    wall: Duration,
    errors: usize,
    shed: usize,
}

impl Step {
    fn rate(&self) -> f64 {
        self.ms.len() as f64 / self.wall.as_secs_f64()
    }

    fn p(&mut self, p: f64) -> f64 {
        self.ms.sort_by(|a, b| a.total_cmp(b));
        percentile(&self.ms, p)
    }

    fn print(&mut self, name: &str, bound: Option<(&str, f64)>) {
        let (p50, p99) = (self.p(50.0), self.p(99.0));
        let against = match bound {
            Some((what, b)) => format!("  bound {what} {b:>8.1}/s  ratio {:.2}x", self.rate() / b),
            None => String::new(),
        };
        println!(
            "{name:<40} {:>8.1}/s  p50 {p50:>7.2} ms  p99 {p99:>8.2} ms  n {:<7} shed(503) {:<6} errors {:<4}{against}",
            self.rate(),
            self.ms.len(),
            self.shed,
            self.errors,
        );
    }
}

enum Outcome {
    Ok,
    Shed,
    Error,
}

fn read_url(base: &str, ids: &[String], n: usize) -> String {
    if n % 2 == 0 {
        format!("{base}/v1/feedback?limit=50")
    } else {
        format!("{base}/v1/feedback/{}", ids[n % ids.len()])
    }
}

async fn one_read(http: &reqwest::Client, url: String) -> Outcome {
    match http.get(url).bearer_auth(TOKEN).send().await {
        Ok(r) if r.status().is_success() => match r.bytes().await {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Error,
        },
        Ok(r) if r.status().as_u16() == 503 => {
            let _ = r.bytes().await;
            Outcome::Shed
        }
        _ => Outcome::Error,
    }
}

/// The same reads through the store in this process, from `tasks` tasks: what the server
/// could serve if HTTP and the framework cost nothing.
async fn read_bound(db: &str, ids: &[String], tasks: usize, secs: u64) -> f64 {
    let store = Store::open(db).await.expect("store opens");
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (store, ids, done) = (store.clone(), ids.to_vec(), done.clone());
        handles.push(tokio::spawn(async move {
            let mut n = t;
            while Instant::now() < deadline {
                let agent = store.authenticate(TOKEN).await.unwrap().unwrap();
                if n % 2 == 0 {
                    let filter = FeedbackFilter {
                        departments: agent.department_scope().map(<[String]>::to_vec),
                        status: None,
                        assignee: None,
                        channel: None,
                        q: None,
                        customer_id: None,
                        before: None,
                        limit: 51,
                    };
                    let page = store.list_feedback(&filter).await.unwrap();
                    std::hint::black_box(serde_json::to_vec(&page).unwrap());
                } else {
                    let f = store.feedback(&ids[n % ids.len()]).await.unwrap();
                    // The thread with who wrote each message (authors, participants), as the
                    // handler reads them.
                    let (thread, authors) = store
                        .thread_with_authors(&f.thread_id, &agent.scope())
                        .await
                        .unwrap();
                    let (authors, participants) = earshot::domain::thread::participants(&authors);
                    std::hint::black_box(
                        serde_json::to_vec(&(f, thread, authors, participants)).unwrap(),
                    );
                }
                done.fetch_add(1, Ordering::Relaxed);
                n += tasks;
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    store.close().await;
    rate
}

/// Closed loop: `clients` clients, each sending its next read when the last one is answered.
async fn reads_closed(
    base: &str,
    http: &reqwest::Client,
    ids: &Arc<Vec<String>>,
    clients: usize,
    secs: u64,
) -> Step {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut handles = Vec::new();
    for c in 0..clients {
        let (http, base, ids) = (http.clone(), base.to_string(), ids.clone());
        handles.push(tokio::spawn(async move {
            let (mut ms, mut errors, mut shed) = (Vec::new(), 0, 0);
            let mut n = c;
            while Instant::now() < deadline {
                let t = Instant::now();
                match one_read(&http, read_url(&base, &ids, n)).await {
                    Outcome::Ok => ms.push(t.elapsed().as_secs_f64() * 1000.0),
                    Outcome::Shed => {
                        shed += 1;
                        // A well-behaved client waits before it retries (Retry-After is in
                        // seconds; this one is impatient, but does not spin).
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Outcome::Error => errors += 1,
                }
                n += clients;
            }
            (ms, errors, shed)
        }));
    }
    collect(handles, start).await
}

async fn collect(
    handles: Vec<tokio::task::JoinHandle<(Vec<f64>, usize, usize)>>,
    start: Instant,
) -> Step {
    let mut step = Step::default();
    for h in handles {
        let (ms, e, s) = h.await.unwrap();
        step.ms.extend(ms);
        step.errors += e;
        step.shed += s;
    }
    step.wall = start.elapsed();
    step
}

/// Open loop at `rate` reads per second: requests start on schedule whatever the server does.
async fn reads_open(
    base: &str,
    http: &reqwest::Client,
    ids: &[String],
    rate: f64,
    secs: u64,
) -> Step {
    let total = (rate * secs as f64) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(total);
    for n in 0..total {
        let scheduled = start + interval * n as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let http = http.clone();
        let url = read_url(base, ids, n);
        handles.push(tokio::spawn(async move {
            let outcome = one_read(&http, url).await;
            (scheduled.elapsed().as_secs_f64() * 1000.0, outcome)
        }));
    }
    let mut step = Step::default();
    for h in handles {
        match h.await.unwrap() {
            (t, Outcome::Ok) => step.ms.push(t),
            (_, Outcome::Shed) => step.shed += 1,
            (_, Outcome::Error) => step.errors += 1,
        }
    }
    step.wall = start.elapsed();
    step
}

async fn reads(base: &str, db: &str, http: &reqwest::Client, ids: &Arc<Vec<String>>, secs: u64) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bound = read_bound(db, ids, cores, secs).await;
    println!("reads: the store in process, {cores} tasks, no HTTP (bound)  {bound:>8.1}/s");
    let mut peak: f64 = 0.0;
    for clients in env_list("EARSHOT_BENCH_CONCURRENCY", &[1, 4, 16, 64, 256]) {
        let mut step = reads_closed(base, http, ids, clients, secs).await;
        peak = peak.max(step.rate());
        step.print(
            &format!("reads, {clients} clients (closed loop)"),
            Some(("store", bound)),
        );
    }
    for factor in [1.0, 2.0] {
        let rate = (peak * factor).round().max(1.0);
        let mut step = reads_open(base, http, ids, rate, secs).await;
        step.print(
            &format!("reads, open loop at {factor}x peak ({rate}/s)"),
            Some(("peak", peak)),
        );
    }
}

/// Sends the requests `request(n)` makes one after another until `deadline` (a closed loop):
/// the latencies of the 201s, the errors, and the 503s (shed, retried after 20 ms).
async fn closed_loop(
    deadline: Instant,
    mut request: impl FnMut(usize) -> reqwest::RequestBuilder,
) -> (Vec<f64>, usize, usize) {
    let (mut ms, mut errors, mut shed) = (Vec::new(), 0, 0);
    let mut n = 0usize;
    while Instant::now() < deadline {
        let t = Instant::now();
        match request(n).send().await {
            Ok(r) if r.status().as_u16() == 201 => ms.push(t.elapsed().as_secs_f64() * 1000.0),
            Ok(r) if r.status().as_u16() == 503 => {
                shed += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            _ => errors += 1,
        }
        n += 1;
    }
    (ms, errors, shed)
}

/// What one writer did.
async fn writer(
    http: reqwest::Client,
    base: String,
    ids: Arc<Vec<String>>,
    w: usize,
    round: usize,
    deadline: Instant,
) -> (Vec<f64>, usize, usize) {
    closed_loop(deadline, |n| {
        let id = &ids[(w * 7919 + n) % ids.len()];
        let body = json!({"parts": [{"visibility": "public", "body": format!("Thanks for reaching out, we are looking into it (ref {round}-{w}-{n}).")}]});
        http.post(format!("{base}/v1/feedback/{id}/replies"))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", format!("bench-{round}-{w}-{n}"))
            .json(&body)
    })
    .await
}

async fn writes(
    base: &str,
    http: &reqwest::Client,
    ids: Arc<Vec<String>>,
    workers: usize,
    round: usize,
    secs: u64,
) -> Step {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let handles = (0..workers)
        .map(|w| {
            tokio::spawn(writer(
                http.clone(),
                base.to_string(),
                ids.clone(),
                w,
                round,
                deadline,
            ))
        })
        .collect();
    collect(handles, start).await
}

/// The statements of one reply as one write transaction per reply (the server's shape before
/// group commit), from one plain connection: the storage bound for reply writes.
async fn write_bound(db: &str, agent_id: &str, ids: &[String], round: usize, secs: u64) -> f64 {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let postgres = db.starts_with("postgres");
    let url = if postgres {
        db.to_string()
    } else {
        format!("sqlite://{db}?mode=rwc")
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connects");
    if !postgres {
        for pragma in [
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA busy_timeout = 10000",
            "PRAGMA foreign_keys = ON",
        ] {
            conn.execute(pragma).await.unwrap();
        }
    }
    let message_json = "x".repeat(420);
    let feedback_json = "y".repeat(1100);
    let response_json = "z".repeat(640);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut n = 0usize;
    while Instant::now() < deadline {
        let id = &ids[n % ids.len()];
        let key = format!("bound-{round}-{n}");
        let now = chrono::Utc::now().timestamp_micros();
        let mut tx = if postgres {
            conn.begin().await.unwrap()
        } else {
            conn.begin_with("BEGIN IMMEDIATE").await.unwrap()
        };
        if postgres {
            tx.execute("LOCK TABLE events IN EXCLUSIVE MODE")
                .await
                .unwrap();
        }
        let repeat: Option<(String, String)> = sqlx::query_as(
            "SELECT request_hash, response FROM replies WHERE agent_id = $1 AND idempotency_key = $2",
        )
        .bind(agent_id)
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
        assert!(repeat.is_none());
        let row = sqlx::query(
            // The item's own columns (not `f.*`: PostgreSQL's tsvector column of the text
            // search is a type the Any driver cannot decode).
            "SELECT f.id, f.channel, f.origin, f.customer_id, f.text, f.thread_id, f.url, \
             f.received_at, f.sentiment, f.department, f.assignee, f.status, f.priority, \
             f.sla_due_at, f.version, f.unassigned_reason, f.sentiment_label, \
             f.sentiment_confidence, f.kind, f.urgency, f.cues, f.corrected, \
             i.handle AS author_handle FROM feedback f JOIN identities i ON i.id = f.author_identity_id WHERE f.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let (thread_id, status): (String, String) = {
            use sqlx::Row;
            (row.get("thread_id"), row.get("status"))
        };
        let (msg_id, reply_id) = (
            format!("msg_bound_{round}_{n}"),
            format!("rp_bound_{round}_{n}"),
        );
        sqlx::query(
            "INSERT INTO messages (id, thread_id, feedback_id, direction, visibility, channel, address, author, body, \
             delivery_status, status_reason, reply_id, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
        )
        .bind(&msg_id)
        .bind(&thread_id)
        .bind(id)
        .bind("outbound")
        .bind("public")
        .bind("x")
        .bind("@bench")
        .bind("Sam")
        .bind("Thanks for reaching out, we are looking into it.")
        .bind("queued")
        .bind(None::<String>)
        .bind(&reply_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO replies (id, feedback_id, agent_id, idempotency_key, request_hash, response, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7)",
        )
        .bind(&reply_id)
        .bind(id)
        .bind(agent_id)
        .bind(&key)
        .bind("0".repeat(64))
        .bind(&response_json)
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap();
        // The first reply ends the item's first-response time (the server runs this for
        // every reply; it changes a row only once per item).
        sqlx::query(
            "UPDATE feedback SET first_reply_at = $1 WHERE id = $2 AND first_reply_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
        if matches!(status.as_str(), "new" | "open" | "pending") {
            sqlx::query(
                "UPDATE feedback SET status = 'answered', version = version + 1 WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        sqlx::query("INSERT INTO audit_log (at, agent_id, action, target, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(now)
            .bind(agent_id)
            .bind("reply.create")
            .bind(&reply_id)
            .bind("ok")
            .bind("[]")
            .execute(&mut *tx)
            .await
            .unwrap();
        let seqs: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO events (name, department, data, created_at) VALUES ($1, $2, $3, $4), ($5, $6, $7, $8) RETURNING seq",
        )
        .bind("message.created")
        .bind("bench-bound")
        .bind(&message_json)
        .bind(now)
        .bind("feedback.updated")
        .bind("bench-bound")
        .bind(&feedback_json)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        if postgres {
            let last = seqs.iter().max().copied().unwrap_or(0);
            sqlx::query(&format!("NOTIFY earshot_events, '{last}'"))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = conn.close().await;
    rate
}

async fn agent_id(base: &str, http: &reqwest::Client) -> String {
    let me: Value = http
        .get(format!("{base}/v1/me"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["id"]
        .as_str()
        .or_else(|| me["agent"]["id"].as_str())
        .expect("an agent id in /v1/me")
        .to_string()
}

async fn write_steps(
    base: &str,
    db: &str,
    http: &reqwest::Client,
    ids: &Arc<Vec<String>>,
    secs: u64,
) {
    let agent = agent_id(base, http).await;
    let before = write_bound(db, &agent, ids, 0, secs).await;
    let mut steps = Vec::new();
    for (round, workers) in env_list("EARSHOT_BENCH_WRITERS", &[1, 8, 32, 128])
        .into_iter()
        .enumerate()
    {
        steps.push((
            workers,
            writes(base, http, ids.clone(), workers, round, secs).await,
        ));
    }
    let after = write_bound(db, &agent, ids, 1, secs).await;
    let bound = (before + after) / 2.0;
    println!(
        "reply writes: one transaction per reply, one plain connection (bound)  before {before:.1}/s  after {after:.1}/s  mean {bound:.1}/s"
    );
    for (workers, mut step) in steps {
        step.print(
            &format!("reply writes, {workers} writers"),
            Some(("plain conn", bound)),
        );
    }
}

/// Real customer-care posts (the labelled set's texts) for intake.
fn care_texts() -> Vec<String> {
    earshot::triage::data::read_labelled_set()
        .expect("the labelled set")
        .into_iter()
        .map(|(_, e)| e.text)
        .collect()
}

async fn poster(
    http: reqwest::Client,
    base: String,
    texts: Arc<Vec<String>>,
    w: usize,
    round: usize,
    deadline: Instant,
) -> (Vec<f64>, usize, usize) {
    closed_loop(deadline, |n| {
        let text = &texts[(w * 7919 + n * 13) % texts.len()];
        let body = json!({"channel": "x", "author_handle": format!("@intake{round}x{w}x{}", n % 50), "text": text});
        http.post(format!("{base}/v1/feedback"))
            .bearer_auth(TOKEN)
            .json(&body)
    })
    .await
}

/// The built-in triage's cost per item on the same texts, in this process: mean, p50 and p99 in ms.
fn triage_cost(texts: &[String]) -> (f64, f64, f64) {
    let mut ms = Vec::with_capacity(texts.len() * 3);
    for _ in 0..3 {
        for t in texts {
            let start = Instant::now();
            std::hint::black_box(earshot::triage::classify(t));
            ms.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
    ms.sort_by(|a, b| a.total_cmp(b));
    (mean, percentile(&ms, 50.0), percentile(&ms, 99.0))
}

/// Intake (POST /v1/feedback of real care posts: triage, routing, the item, its customer
/// match, the events) at rising concurrency, with what triage costs of it: its mean cost per
/// post times the rate served is its share of the machine, and so a bound on how much faster
/// intake could be without it.
async fn intake(base: &str, http: &reqwest::Client, secs: u64) {
    let texts = Arc::new(care_texts());
    let (mean, p50, p99) = triage_cost(&texts);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "triage of one post in process ({} posts x3): mean {mean:.3} ms  p50 {p50:.3} ms  p99 {p99:.3} ms (target p99 < 1 ms)",
        texts.len()
    );
    for (round, workers) in env_list("EARSHOT_BENCH_POSTERS", &[1, 8, 32])
        .into_iter()
        .enumerate()
    {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(secs);
        let handles = (0..workers)
            .map(|w| {
                tokio::spawn(poster(
                    http.clone(),
                    base.to_string(),
                    texts.clone(),
                    w,
                    round,
                    deadline,
                ))
            })
            .collect();
        let mut step = collect(handles, start).await;
        step.print(&format!("intake, {workers} posters"), None);
        // The share of the machine's CPU that triage took at this rate (mean cost per post).
        let share = step.rate() * mean / 1000.0 / cores;
        let faster = if share < 1.0 {
            format!("{:.3}x", 1.0 / (1.0 - share))
        } else {
            "any factor".to_string()
        };
        println!(
            "    triage's share of {cores} cores at this rate: {:.2}% (so intake without triage could be at most {faster} faster)",
            share * 100.0
        );
    }
}

/// The `created_at` of an event's data, found without parsing the whole item (the client
/// shares the machine with the server: its own cost must stay small).
fn created_at(data: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let at = data.find("\"created_at\":\"")? + "\"created_at\":\"".len();
    let end = at + data[at..].find('"')?;
    chrono::DateTime::parse_from_rfc3339(&data[at..end])
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

async fn subscribe_one(
    http: &reqwest::Client,
    base: &str,
    tx: tokio::sync::mpsc::UnboundedSender<f64>,
) -> bool {
    use eventsource_stream::Eventsource;
    let Ok(resp) = http
        .get(format!("{base}/v1/events"))
        .bearer_auth(TOKEN)
        .send()
        .await
    else {
        return false;
    };
    if !resp.status().is_success() {
        return false;
    }
    tokio::spawn(async move {
        let mut events = resp.bytes_stream().eventsource();
        while let Some(Ok(e)) = events.next().await {
            if e.event != "feedback.created" {
                continue;
            }
            // The item's data: `{"seq":..,"name":..,"data":{..,"created_at":..}}`; the
            // item's own `created_at` is the first one inside `data`.
            let inner = e
                .data
                .find("\"data\":")
                .map_or(&e.data[..], |i| &e.data[i..]);
            if let Some(created) = created_at(inner) {
                let delay = (chrono::Utc::now() - created)
                    .num_microseconds()
                    .unwrap_or(0);
                if tx.send(delay as f64 / 1000.0).is_err() {
                    return;
                }
            }
        }
    });
    true
}

async fn fan_out(base: &str, subscribers: &[usize], posts: usize) {
    let sse_http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let post_http = reqwest::Client::new();
    // Every subscriber reports to one channel; the subscribers of a step stay open for the
    // next, which adds the rest.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
    let mut open = 0;
    for &want in subscribers {
        while open < want && subscribe_one(&sse_http, base, tx.clone()).await {
            open += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        while rx.try_recv().is_ok() {}
        let start = Instant::now();
        for n in 0..posts {
            let body = json!({"channel": "x", "author_handle": format!("@fanout{open}-{n}"), "text": "is the app down? nothing loads"});
            let _ = post_http
                .post(format!("{base}/v1/feedback"))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let expected = open * posts;
        let mut delays = Vec::with_capacity(expected);
        while delays.len() < expected {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(d)) => delays.push(d),
                _ => break,
            }
        }
        let missing = expected - delays.len();
        let mut step = Step {
            ms: delays,
            wall: start.elapsed(),
            errors: missing,
            shed: 0,
        };
        let p99 = step.p(99.0);
        let target = if open >= 5000 { 250.0 } else { 100.0 };
        step.print(&format!("commit-to-subscriber, {open} subscribers"), None);
        println!(
            "    p99 {p99:.1} ms against the target {target} ms: {:.2}x of it ({posts} posts 50 ms apart; errors = deliveries missing)",
            p99 / target
        );
    }
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
        let store = Store::open(&db).await.expect("store opens");
        earshot::server::demo::seed_if_empty(&store)
            .await
            .expect("demo seed");
        store.close().await;
        let mut config = ServerConfig::new(db.clone(), "127.0.0.1:0".parse().unwrap());
        config.sim_per_minute = 0.0;
        // One token stands in for many agents here: measure capacity, not the per-token limits.
        config.rate_limit.per_second = 0;
        config.limits.max_streams_per_token = 0;
        config.limits.max_connections = 20_000;
        configure(&mut config);
        server::start(config).await.expect("server starts")
    });
    let base = running.url();
    println!(
        "earshot server_load benchmark on {db} ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    // Named, so that a profile tells the client's share of the machine from the server's.
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            .build()
            .unwrap();
        let ids = Arc::new(prepare_items(&base, &http, 200).await);
        let secs: u64 = env_or("EARSHOT_BENCH_SECS", 5);
        if !skipped("reads") {
            reads(&base, &db, &http, &ids, secs).await;
        }
        if !skipped("writes") {
            write_steps(&base, &db, &http, &ids, secs).await;
        }
        if !skipped("intake") {
            intake(&base, &http, secs).await;
        }
        if !skipped("sse") {
            fan_out(
                &base,
                &env_list("EARSHOT_BENCH_SUBSCRIBERS", &[1000, 5000]),
                env_or("EARSHOT_BENCH_POSTS", 40),
            )
            .await;
        }
    });
    drop(client_rt);
    server_rt.block_on(running.shutdown());
}

/// Server settings a run may change: the in-flight limits (EARSHOT_BENCH_MAX_IN_FLIGHT for
/// requests that write, EARSHOT_BENCH_MAX_READS_IN_FLIGHT for reads).
fn configure(config: &mut ServerConfig) {
    let knob = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    if let Some(n) = knob("EARSHOT_BENCH_MAX_IN_FLIGHT") {
        config.limits.max_in_flight = n;
    }
    if let Some(n) = knob("EARSHOT_BENCH_MAX_READS_IN_FLIGHT") {
        config.limits.max_reads_in_flight = n;
    }
    println!(
        "in-flight limits: {} reads, {} others",
        config.limits.max_reads_in_flight, config.limits.max_in_flight
    );
}
