//! Storage faults: a full filesystem refuses writes with 503 problem+json (reads go on) and the
//! server takes writes again as soon as space comes back, without a restart and with nothing
//! half-written; a corrupt or truncated database file fails to open at once, naming the file,
//! and is left exactly as it was.

mod common;

use common::*;
use earshot::server::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

// ---------------------------------------------------------------------------------------------
// A full filesystem
// ---------------------------------------------------------------------------------------------

/// The small filesystem to fill, or None (and a note saying how to run the test).
fn small_filesystem() -> Option<PathBuf> {
    match std::env::var_os("EARSHOT_TEST_TMPFS") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => {
            eprintln!(
                "skipped: set EARSHOT_TEST_TMPFS to a small tmpfs mount \
                 (e.g. `mount -t tmpfs -o size=64m tmpfs /mnt/earshot-tmpfs`)"
            );
            None
        }
    }
}

/// A file that takes every free byte of its filesystem; removed on drop.
struct Filler(PathBuf);

impl Filler {
    /// Never more than this: EARSHOT_TEST_TMPFS must be small, not the machine's disk.
    const LIMIT: u64 = 2 << 30;

    fn fill(dir: &Path) -> Filler {
        let path = dir.join("filler.bin");
        let filler = Filler(path.clone());
        let mut f = std::fs::File::create(&path).expect("create the filler");
        let mut written = 0u64;
        for chunk in [vec![0xa5u8; 1 << 20], vec![0x5au8; 512]] {
            loop {
                match f.write(&chunk) {
                    Ok(n) => written += n as u64,
                    Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                    Err(e) => panic!("filling {}: {e}", path.display()),
                }
                assert!(
                    written < Self::LIMIT,
                    "EARSHOT_TEST_TMPFS={} is not a small filesystem ({written} bytes written, \
                     no ENOSPC yet)",
                    dir.display()
                );
            }
        }
        // The filesystem is really full: not even a small new file fits.
        let probe = dir.join("probe.bin");
        let full = std::fs::File::create(&probe)
            .and_then(|mut p| p.write_all(&[1u8; 8192]).and_then(|_| p.sync_all()));
        let _ = std::fs::remove_file(&probe);
        assert!(
            full.is_err(),
            "the filesystem still takes writes after the filler"
        );
        filler
    }
}

impl Drop for Filler {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The disk-full tests share one filesystem: one fills it at a time.
static FILLING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Panics on the runtime's worker threads (the server's tasks), counted for the whole binary.
static SERVER_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_server_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            if thread
                .name()
                .is_some_and(|n| n.starts_with("tokio-runtime-worker"))
            {
                SERVER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            default(info);
        }));
    });
}

/// Every call the test makes, to check at the end that no answer was a 5xx other than 503.
struct Calls<'a> {
    s: &'a TestServer,
    seen: Mutex<Vec<(String, StatusCode)>>,
}

impl<'a> Calls<'a> {
    fn new(s: &'a TestServer) -> Self {
        Calls {
            s,
            seen: Mutex::new(Vec::new()),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let r = self
            .s
            .call(method.clone(), path, Some(token), body, headers)
            .await;
        self.seen
            .lock()
            .unwrap()
            .push((format!("{method} {path}"), r.status));
        r
    }

    async fn post_feedback(&self, text: &str) -> Reply {
        let body = json!({"channel": "webchat", "author_handle": "visitor-disk", "text": text});
        self.call(Method::POST, "/v1/feedback", SAM, Some(body), &[])
            .await
    }

    async fn set_status(&self, id: &str, version: i64, status: &str) -> Reply {
        let v = version.to_string();
        self.call(
            Method::PATCH,
            &format!("/v1/feedback/{id}"),
            SAM,
            Some(json!({ "status": status })),
            &[("If-Match", v.as_str())],
        )
        .await
    }

    async fn item(&self, id: &str) -> Value {
        let r = self
            .call(Method::GET, &format!("/v1/feedback/{id}"), SAM, None, &[])
            .await;
        assert_eq!(r.status, StatusCode::OK, "read {id}: {}", r.body);
        r.body
    }

    async fn search(&self, q: &str) -> Vec<Value> {
        let r = self
            .call(Method::GET, &format!("/v1/feedback?q={q}"), SAM, None, &[])
            .await;
        assert_eq!(r.status, StatusCode::OK, "search {q}: {}", r.body);
        r.body["items"].as_array().cloned().unwrap_or_default()
    }

    fn assert_no_other_5xx(&self) {
        let seen = self.seen.lock().unwrap();
        let bad: Vec<_> = seen
            .iter()
            .filter(|(_, s)| s.is_server_error() && *s != StatusCode::SERVICE_UNAVAILABLE)
            .collect();
        assert!(bad.is_empty(), "5xx other than 503: {bad:?}");
    }
}

fn assert_unavailable(r: &Reply, what: &str) {
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what} while the disk is full: {}",
        r.body
    );
    let ct = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        ct.starts_with("application/problem+json"),
        "{what}: content-type {ct}"
    );
    assert_eq!(r.body["status"], 503, "{what}: {}", r.body);
    let retry: Option<u64> = r
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    assert!(
        retry.is_some_and(|s| s >= 1),
        "{what}: a 503 says when to retry (Retry-After: {retry:?})"
    );
}

/// What the store holds: items, events, audit entries of changes (not the audit of refused
/// requests, which the server records where it can, in a transaction of its own).
async fn counts(store: &Store) -> (i64, usize, usize) {
    let feedback = store.feedback_count().await.unwrap();
    let events = store.events_after(0, 1_000_000).await.unwrap().len();
    let audit = store.audit_entries("").await.unwrap();
    let changes = audit.iter().filter(|(_, _, _, o)| o != "refused").count();
    (feedback, events, changes)
}

async fn disk_full_refuses_writes_and_recovers_without_restart(
    s: TestServer,
    dir: &Path,
    every_write_refused: bool,
) {
    count_server_panics();
    // The server's warnings and errors in the test's output (shown when it fails).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_test_writer()
        .try_init();
    let calls = Calls::new(&s);
    // Committed before the disk fills up.
    let mut before = Vec::new();
    for i in 0..3 {
        let r = calls
            .post_feedback(&format!("committed before the disk filled {i}"))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        before.push(r.body["id"].as_str().unwrap().to_string());
    }
    let snapshot_items = {
        let mut v = Vec::new();
        for id in &before {
            v.push(calls.item(id).await);
        }
        v
    };
    let snapshot = counts(s.store()).await;

    let filler = Filler::fill(dir);
    // Writes until the store needs space it does not have. SQLite's next commit always grows
    // its WAL, so it refuses every write; PostgreSQL first fills the free room of its pages
    // and WAL segment, so some writes may still be accepted (and must then be whole).
    let mut accepted = Vec::new();
    let mut refused = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    for i in 0.. {
        let text = format!("whilefull {i}");
        let r = calls.post_feedback(&text).await;
        if r.status == StatusCode::CREATED {
            assert!(
                !every_write_refused,
                "a write was accepted with the disk full"
            );
            assert!(
                Instant::now() < deadline,
                "{} writes accepted with the disk full and no refusal yet",
                accepted.len()
            );
            accepted.push((r.body["id"].as_str().unwrap().to_string(), text));
            continue;
        }
        assert_unavailable(&r, &format!("intake {text:?}"));
        refused += 1;
        if refused == 4 {
            break;
        }
    }
    let full = counts(s.store()).await;
    assert_eq!(
        full.0,
        snapshot.0 + accepted.len() as i64,
        "only the accepted items were added"
    );
    let r = calls.set_status(&before[0], 1, "pending").await;
    let patched_while_full = r.status == StatusCode::OK && !every_write_refused;
    if !patched_while_full {
        assert_unavailable(&r, "a status change");
        assert_eq!(counts(s.store()).await, full, "the refusal wrote nothing");
    }
    // Reads go on.
    for (id, item) in before.iter().zip(&snapshot_items).skip(1) {
        assert_eq!(
            &calls.item(id).await,
            item,
            "{id} reads the same while full"
        );
    }

    drop(filler);
    // Space is back: writes succeed at once, on the same server.
    let r = calls.post_feedback("accepted after space came back").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let after = r.body["id"].as_str().unwrap().to_string();
    if !patched_while_full {
        let r = calls.set_status(&before[0], 1, "pending").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["version"], 2);
    }
    for i in 0..3 {
        let r = calls.post_feedback(&format!("and more after {i}")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }

    // Everything committed before is intact; no refused write left a trace.
    for (id, item) in before.iter().zip(&snapshot_items).skip(1) {
        assert_eq!(&calls.item(id).await, item, "{id} is intact");
    }
    let first = calls.item(&before[0]).await;
    assert_eq!(
        first["feedback"]["text"],
        snapshot_items[0]["feedback"]["text"]
    );
    assert_eq!(first["feedback"]["status"], "pending");
    assert_eq!(first["feedback"]["version"], 2);
    assert_eq!(first["thread"], snapshot_items[0]["thread"]);
    assert_eq!(
        calls.item(&after).await["feedback"]["text"],
        "accepted after space came back"
    );
    for (id, text) in &accepted {
        let item = calls.item(id).await;
        assert_eq!(&item["feedback"]["text"], text);
        assert_eq!(item["thread"].as_array().map(Vec::len), Some(1), "{id}");
    }
    let mut found: Vec<String> = calls
        .search("whilefull")
        .await
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    found.sort();
    let mut expected: Vec<String> = accepted.iter().map(|(id, _)| id.clone()).collect();
    expected.sort();
    assert_eq!(found, expected, "a refused intake left an item behind");
    assert_eq!(
        calls.search("space%20came%20back").await.len(),
        1,
        "the search finds what was written"
    );
    let (feedback, events, audit) = counts(s.store()).await;
    assert_eq!(
        feedback,
        full.0 + 4,
        "exactly the accepted items were added"
    );
    assert!(events > snapshot.1 && audit >= snapshot.2);
    calls.assert_no_other_5xx();
    drop(calls);
    // The same again after a restart: what the server answered is what is on disk.
    let db = s.stop().await;
    let s = start_on(db).await;
    assert_eq!(counts(s.store()).await, (feedback, events, audit));
    assert!(s.store().events_after(0, 1_000_000).await.is_ok());
    let r = s.get("/v1/health", SAM).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        SERVER_PANICS.load(Ordering::SeqCst),
        0,
        "the server panicked"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_answers_503_and_recovers_without_restart() {
    let Some(fs) = small_filesystem() else { return };
    let _one_at_a_time = FILLING.lock().await;
    let db = sqlite_db_in(&fs);
    let s = start_on(db).await;
    disk_full_refuses_writes_and_recovers_without_restart(s, &fs, true).await;
}

/// A PostgreSQL server whose data directory is on EARSHOT_TEST_TMPFS, or None (and a note).
fn postgres_on_small_filesystem() -> Option<String> {
    match std::env::var("EARSHOT_TEST_TMPFS_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "skipped: set EARSHOT_TEST_TMPFS_POSTGRES_URL to a PostgreSQL server whose data \
                 directory is on EARSHOT_TEST_TMPFS"
            );
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_disk_full_answers_503_and_recovers_without_restart() {
    let Some(fs) = small_filesystem() else { return };
    let Some(admin) = postgres_on_small_filesystem() else {
        return;
    };
    let _one_at_a_time = FILLING.lock().await;
    let s = start_on(postgres_db_on(&admin).await).await;
    disk_full_refuses_writes_and_recovers_without_restart(s, &fs, false).await;
}

// ---------------------------------------------------------------------------------------------
// A corrupt or truncated database file
// ---------------------------------------------------------------------------------------------

/// A real database with data in it (cleanly closed, so its file is the whole database).
async fn real_database(dir: &Path) -> Vec<u8> {
    let path = dir.join("real.db");
    let s = start_on(sqlite_db_in(dir)).await;
    for i in 0..40 {
        s.feedback(
            SAM,
            "webchat",
            "visitor-1",
            &format!("fill a few pages {i} {}", "x".repeat(300)),
        )
        .await;
    }
    let db = s.stop().await;
    {
        // Everything into the main file, which is then the whole database (WAL format).
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.url))
            .await
            .unwrap();
        let busy: i64 = sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(busy, 0, "the checkpoint ran");
        conn.close().await.unwrap();
    }
    std::fs::copy(&db.url, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8 * 4096, "the real database has many pages");
    std::fs::remove_file(&path).unwrap();
    bytes
}

/// What a database file looks like from outside: its bytes, size, mtime and its neighbours.
#[derive(Debug, PartialEq)]
struct Footprint {
    bytes: Vec<u8>,
    modified: SystemTime,
    dir: Vec<String>,
}

fn footprint(path: &Path) -> Footprint {
    let mut dir: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dir.sort();
    Footprint {
        bytes: std::fs::read(path).unwrap(),
        modified: std::fs::metadata(path).unwrap().modified().unwrap(),
        dir,
    }
}

fn says_bad_file(message: &str, path: &Path) -> bool {
    let m = message.to_lowercase();
    message.contains(&path.display().to_string())
        && (m.contains("not a database") || m.contains("malformed"))
}

/// The bad files: name, bytes.
fn bad_files(real: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let random: Vec<u8> = (0..64 * 1024).map(|_| rand::random::<u8>()).collect();
    let mut header_only = b"SQLite format 3\0".to_vec();
    header_only.resize(4096, 0);
    let mut page_overwritten = real.to_vec();
    let page = u16::from_be_bytes([real[16], real[17]]) as usize;
    let page = if page == 1 { 65536 } else { page };
    for b in &mut page_overwritten[page..2 * page] {
        *b = rand::random();
    }
    // Cut at a page boundary, with the header's page count marked stale (SQLite then goes by
    // the file size): only SQLite's own check can tell that pages are missing.
    let mut cut_stale_count = real[..(real.len() / page / 2) * page].to_vec();
    cut_stale_count[92..96].copy_from_slice(&[0xff; 4]);
    vec![
        ("random.db", random),
        ("zeros.db", vec![0u8; 8192]),
        ("header-only.db", header_only),
        ("text.db", b"name,email\nann,ann@example.com\n".to_vec()),
        ("first-page.db", real[..4096].to_vec()),
        ("mid-page.db", real[..real.len() / 2 + 1000].to_vec()),
        ("last-page-short.db", real[..real.len() - 100].to_vec()),
        ("page-2-garbage.db", page_overwritten),
        ("cut-stale-count.db", cut_stale_count),
    ]
}

#[tokio::test]
async fn a_corrupt_or_truncated_file_fails_at_once_naming_it_and_is_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let real = real_database(tmp.path()).await;
    for (name, bytes) in bad_files(&real) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let was = footprint(&path);
        let started = Instant::now();
        let opened =
            tokio::time::timeout(Duration::from_secs(20), Store::open(path.to_str().unwrap()))
                .await
                .unwrap_or_else(|_| panic!("{name}: Store::open still waiting after 20 s"));
        let took = started.elapsed();
        let err = match opened {
            Ok(_) => panic!("{name}: a bad file opened as a database"),
            Err(e) => e.to_string(),
        };
        assert!(
            took < Duration::from_secs(5),
            "{name}: took {took:?} to fail"
        );
        eprintln!("{name}: {err} ({took:?})");
        assert!(says_bad_file(&err, &path), "{name}: the error says {err:?}");
        assert_eq!(
            footprint(&path),
            was,
            "{name}: the file or its directory changed"
        );
    }
}

#[tokio::test]
async fn serve_on_a_corrupt_file_exits_non_zero_at_once_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let real = real_database(tmp.path()).await;
    for (name, bytes) in bad_files(&real) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let was = footprint(&path);
        let started = Instant::now();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
            .args(["serve", "--db", path.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0"])
            .env("EARSHOT_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("earshot serve starts");
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name}: earshot serve still running after 20 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let took = started.elapsed();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!status.success(), "{name}: serve exited {status}");
        assert!(
            took < Duration::from_secs(8),
            "{name}: took {took:?} to exit"
        );
        let last = stderr.lines().last().unwrap_or("");
        assert!(
            says_bad_file(last, &path),
            "{name}: the last line of stderr is {last:?} (all: {stderr})"
        );
        assert_eq!(
            footprint(&path),
            was,
            "{name}: the file or its directory changed"
        );
    }
}

/// The checks must not refuse good files: a real database with data, and an empty file (which
/// SQLite takes as a new database).
#[tokio::test]
async fn a_good_file_and_an_empty_file_still_open() {
    let tmp = tempfile::tempdir().unwrap();
    let real = real_database(tmp.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.db");
    std::fs::write(&path, &real).unwrap();
    let store = Store::open(path.to_str().unwrap())
        .await
        .expect("a real database opens");
    assert_eq!(store.feedback_count().await.unwrap(), 40);
    store.close().await;
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let store = Store::open(empty.to_str().unwrap())
        .await
        .expect("an empty file opens");
    assert_eq!(store.feedback_count().await.unwrap(), 0);
    store.close().await;
}
