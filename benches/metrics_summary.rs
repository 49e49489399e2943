//! The team summary at a million items (a documented command, not a timed test):
//!
//!     cargo bench --bench metrics_summary
//!     EARSHOT_BENCH_ITEMS=200000 EARSHOT_BENCH_DAYS=90 cargo bench --bench metrics_summary
//!     EARSHOT_BENCH_WINDOWS=1h,24h cargo bench --bench metrics_summary    # some windows only
//!
//! Seeds the demo organisation, then `EARSHOT_BENCH_ITEMS` (default 1,000,000) feedback items
//! spread evenly over the last `EARSHOT_BENCH_DAYS` (default 30) days with direct SQL (one
//! `INSERT ... SELECT` over a recursive sequence: a few seconds), 80% of them answered (a reply
//! row each, 2 minutes to 6 hours after arrival) and 70% resolved, the rest awaiting an answer.
//! Then times `Store::metrics_summary` (what `GET /v1/metrics/summary` runs, without HTTP) as an
//! admin (every department) and as a supervisor of one department, for each window:
//! `EARSHOT_BENCH_RUNS` (default 50) runs each after two warm-up runs, p50 / p99 / max in ms,
//! against the same summary computed by SQL from the tables in the same run
//! (`EARSHOT_BENCH_BASELINE_RUNS`, default 1; each is checked to give the same figures). Also
//! prints how long the copy of the month's items takes to load, and a summary right after
//! 1,000 items changed.
//!
//! Target (issue 14): p99 < 100 ms at 1M items on SQLite.

use earshot::domain::metrics::{MetricsQuery, MetricsSummary, MetricsWindow};
use earshot::server::store::{Clock, DepartmentScope, Store};
use sqlx::Connection;
use std::time::Instant;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fills the database with `n` items over the last `days` days, straight in SQL.
async fn seed(path: &str, n: i64, days: i64, now: i64) {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .expect("open the bench database");
    let span = days * 86_400_000_000;
    let statements = [
        "CREATE TEMP TABLE pick (k INTEGER PRIMARY KEY, dept TEXT, agent TEXT)".to_string(),
        "INSERT INTO pick SELECT ROW_NUMBER() OVER (ORDER BY d.department_id, a.id) - 1, d.department_id, a.id \
         FROM agent_departments d JOIN agents a ON a.id = d.agent_id WHERE a.role <> 'admin'"
            .to_string(),
        "CREATE TEMP TABLE authors (k INTEGER PRIMARY KEY, id TEXT, customer_id TEXT)".to_string(),
        "INSERT INTO authors SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id, customer_id FROM identities"
            .to_string(),
        format!(
            "INSERT INTO feedback (id, channel, origin, author_identity_id, customer_id, text, thread_id, \
               received_at, sentiment, department, assignee, status, priority, sla_due_at, version, \
               sentiment_label, sentiment_confidence, kind, urgency, cues, first_reply_at, resolved_at) \
             WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {n} - 1), \
             rows AS (SELECT i, {now} - {span} + (i * {span}) / {n} AS at, \
               ((i * 37) % 201) / 100.0 - 1.0 AS score, \
               (SELECT dept FROM pick WHERE k = i % (SELECT COUNT(*) FROM pick)) AS dept, \
               (SELECT agent FROM pick WHERE k = i % (SELECT COUNT(*) FROM pick)) AS agent, \
               (SELECT id FROM authors WHERE k = (i * 7) % (SELECT COUNT(*) FROM authors)) AS author, \
               (SELECT customer_id FROM authors WHERE k = (i * 7) % (SELECT COUNT(*) FROM authors)) AS customer, \
               120 + (i * 7919) % 21480 AS wait, 3600 + (i * 104729) % 86400 AS work FROM seq) \
             SELECT 'fb_bench_' || i, \
               CASE i % 6 WHEN 0 THEN 'x' WHEN 1 THEN 'facebook' WHEN 2 THEN 'email' WHEN 3 THEN 'forum' \
                 WHEN 4 THEN 'review' ELSE 'webchat' END, 'online', author, customer, \
               'bench item ' || i, 'fb_bench_' || i, at, score, dept, agent, \
               CASE WHEN i % 10 < 7 THEN 'resolved' WHEN i % 10 < 8 THEN 'answered' ELSE 'new' END, \
               CASE i % 4 WHEN 0 THEN 'high' ELSE 'normal' END, at + 86400000000, 1, \
               CASE WHEN score <= -0.05 THEN 'negative' WHEN score >= 0.05 THEN 'positive' ELSE 'neutral' END, \
               0.8, 'other', '', '[]', \
               CASE WHEN i % 10 < 8 THEN at + wait * 1000000 END, \
               CASE WHEN i % 10 < 7 THEN at + (wait + work) * 1000000 END \
             FROM rows"
        ),
        "INSERT INTO replies (id, feedback_id, agent_id, idempotency_key, request_hash, response, created_at) \
         SELECT 'rp_' || id, id, assignee, 'bench-' || id, '', '{}', first_reply_at FROM feedback \
         WHERE id LIKE 'fb_bench_%' AND first_reply_at IS NOT NULL"
            .to_string(),
    ];
    for sql in statements {
        sqlx::query(&sql).execute(&mut conn).await.expect(&sql);
    }
    let _ = conn.close().await;
}

/// A summary with the sentiment means rounded to 1e-9 (SQL sums floating point in its own
/// order; the copy sums exactly).
fn comparable(mut m: MetricsSummary) -> MetricsSummary {
    for d in &mut m.sentiment {
        d.mean = d.mean.map(|x| (x * 1e9).round() / 1e9);
    }
    m
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let n: i64 = env_or("EARSHOT_BENCH_ITEMS", 1_000_000);
    let days: i64 = env_or("EARSHOT_BENCH_DAYS", 30);
    let runs: usize = env_or("EARSHOT_BENCH_RUNS", 50);
    // Runs of the SQL reference per row (seconds each for the long windows at 1M items).
    let baseline_runs: usize = env_or("EARSHOT_BENCH_BASELINE_RUNS", 1);
    // A month's window takes far longer than the others (benches/README.md): timed apart.
    let windows: Vec<MetricsWindow> = match std::env::var("EARSHOT_BENCH_WINDOWS") {
        Ok(list) => list
            .split(',')
            .map(|w| {
                w.trim()
                    .parse()
                    .expect("EARSHOT_BENCH_WINDOWS: 1h, 24h, 7d or 30d")
            })
            .collect(),
        Err(_) => MetricsWindow::ALL.to_vec(),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db").to_string_lossy().into_owned();
    // One instant for the whole run, so that the summary from memory and the one from the
    // tables cover the same window.
    let store = Store::open(&path)
        .await
        .expect("store opens")
        .with_clock(Clock::manual(chrono::Utc::now()));
    earshot::server::demo::seed_if_empty(&store)
        .await
        .expect("demo seed");
    let started = Instant::now();
    seed(&path, n, days, store.now()).await;
    println!(
        "seeded {n} items over {days} days in {:.1} s ({} items in all)",
        started.elapsed().as_secs_f64(),
        store.feedback_count().await.unwrap()
    );
    let scopes = [
        ("admin (all departments)", DepartmentScope::All),
        (
            "supervisor (support)",
            DepartmentScope::only(&["support".to_string()]),
        ),
    ];
    // The copy of the window's items the summary ranks from, loaded whole once.
    let started = Instant::now();
    store.warm_metrics().await.expect("copy loads");
    println!(
        "loaded the summary's copy of the last month's items in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "| scope | window | p50 ms | p99 ms | max ms | SQL from the tables, median ms ({baseline_runs} runs) | ratio |\n|---|---|---|---|---|---|---|"
    );
    for (who, scope) in &scopes {
        for window in &windows {
            let q = MetricsQuery {
                window: *window,
                ..Default::default()
            };
            for _ in 0..2 {
                store.metrics_summary(&q, scope).await.expect("summary");
            }
            let mut times: Vec<f64> = (0..runs).map(|_| 0.0).collect();
            for t in times.iter_mut() {
                let s = Instant::now();
                let m = store.metrics_summary(&q, scope).await.expect("summary");
                *t = s.elapsed().as_secs_f64() * 1e3;
                std::hint::black_box(m);
            }
            times.sort_by(f64::total_cmp);
            // The baseline in the same run: the same summary by SQL over the tables (what the
            // server served before the copy), which must also give the same figures.
            let mut baseline: Vec<f64> = Vec::new();
            for _ in 0..baseline_runs {
                let s = Instant::now();
                let tables = store
                    .metrics_summary_from_tables(&q, scope)
                    .await
                    .expect("summary");
                baseline.push(s.elapsed().as_secs_f64() * 1e3);
                let memory = store.metrics_summary(&q, scope).await.expect("summary");
                assert_eq!(
                    comparable(memory),
                    comparable(tables),
                    "{who} {window}: the copy and the tables disagree"
                );
            }
            baseline.sort_by(f64::total_cmp);
            let (base, ratio) = match baseline.is_empty() {
                true => ("-".to_string(), "-".to_string()),
                false => {
                    let b = percentile(&baseline, 50.0);
                    (
                        format!("{b:.1}"),
                        format!("{:.0}x faster", b / percentile(&times, 50.0)),
                    )
                }
            };
            println!(
                "| {who} | {window} | {:.1} | {:.1} | {:.1} | {base} | {ratio} |",
                percentile(&times, 50.0),
                percentile(&times, 99.0),
                times[times.len() - 1]
            );
        }
    }
    // What a summary costs right after a burst of writes: the change log read and the changed
    // items read again (here 1,000 old items reassigned straight in SQL, as another instance
    // would).
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .expect("open the bench database");
    sqlx::query(
        "UPDATE feedback SET assignee = NULL WHERE id IN \
         (SELECT id FROM feedback WHERE id LIKE 'fb_bench_%' ORDER BY received_at LIMIT 1000 OFFSET 5000)",
    )
    .execute(&mut conn)
    .await
    .expect("reassign");
    let _ = conn.close().await;
    let q = MetricsQuery {
        window: MetricsWindow::Month,
        ..Default::default()
    };
    let s = Instant::now();
    store
        .metrics_summary(&q, &DepartmentScope::All)
        .await
        .expect("summary");
    println!(
        "admin 30d summary after 1,000 items changed: {:.1} ms",
        s.elapsed().as_secs_f64() * 1e3
    );
    store.close().await;
}
