//! Shared harness of the integration tests: a real server on 127.0.0.1:0 over a fresh database
//! (SQLite in a temp dir, or PostgreSQL when EARSHOT_TEST_POSTGRES_URL is set), a small known
//! organisation, and helpers to call it over real HTTP.
#![allow(dead_code)]

pub mod intake;
pub mod pty;

use earshot::domain::*;
use earshot::server::store::{NewAgent, NewCustomer, Store};
use earshot::server::{self, RunningServer, ServerConfig};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const ALICE: &str = "tok_alice_support";
pub const BILAL: &str = "tok_bilal_billing";
pub const JONAS: &str = "tok_jonas_support";
pub const SAM: &str = "tok_sam_admin";

/// A fresh database: a SQLite file in a temp dir that lives as long as this value.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// The same database, for a second server instance; the first value keeps its files alive.
    pub fn second_handle(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            _dir: None,
        }
    }
}

pub fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = dir.path().join("test.db").to_string_lossy().into_owned();
    TestDb {
        url,
        _dir: Some(dir),
    }
}

/// A fresh SQLite file in a new temp dir under `parent` (e.g. a small filesystem).
pub fn sqlite_db_in(parent: &std::path::Path) -> TestDb {
    let dir = tempfile::tempdir_in(parent).expect("temp dir");
    let url = dir.path().join("test.db").to_string_lossy().into_owned();
    TestDb {
        url,
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL database, when the environment provides a server.
pub async fn postgres_db() -> Option<TestDb> {
    let admin = std::env::var("EARSHOT_TEST_POSTGRES_URL").ok()?;
    Some(postgres_db_on(&admin).await)
}

/// A fresh database on the PostgreSQL server at `admin` (a URL with rights to create one).
pub async fn postgres_db_on(admin: &str) -> TestDb {
    use sqlx::Connection;
    let admin = admin.to_string();
    let name = format!("earshot_test_{:016x}", rand::random::<u64>());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to EARSHOT_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or(admin.clone());
    TestDb {
        url: format!("{base}/{name}"),
        _dir: None,
    }
}

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub base: String,
    pub http: reqwest::Client,
    pub db: TestDb,
}

impl TestServer {
    pub fn store(&self) -> &Store {
        &self.server.as_ref().expect("running").store
    }

    pub async fn stop(mut self) -> TestDb {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        self.db
    }
}

/// Starts a server over `db`, seeding the small test organisation on first start.
pub async fn start_on(db: TestDb) -> TestServer {
    start_with(db, |_| {}).await
}

/// Like `start_on`, with a chance to change the configuration first (outbound channels...).
pub async fn start_with(db: TestDb, configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let mut config = ServerConfig::new(db.url.clone(), "127.0.0.1:0".parse().unwrap());
    // Tests hammer the server with one token; the limiter has its own test.
    config.rate_limit = earshot::server::ratelimit::RateLimit {
        per_second: 100_000,
        burst: 100_000,
    };
    configure(&mut config);
    let server = server::start(config).await.expect("server starts");
    if server.store.customer_count().await.unwrap() == 0 {
        seed(&server.store).await;
    }
    let base = server.url();
    TestServer {
        server: Some(server),
        base,
        http: reqwest::Client::new(),
        db,
    }
}

/// A fresh database of the store under test: SQLite, or PostgreSQL when
/// `EARSHOT_TEST_STORE=postgres` (with `EARSHOT_TEST_POSTGRES_URL` pointing at a server).
pub async fn test_db() -> TestDb {
    if std::env::var("EARSHOT_TEST_STORE").as_deref() == Ok("postgres") {
        return postgres_db()
            .await
            .expect("EARSHOT_TEST_STORE=postgres needs EARSHOT_TEST_POSTGRES_URL");
    }
    sqlite_db()
}

pub async fn start() -> TestServer {
    start_on(test_db().await).await
}

/// Two departments' agents, an admin, three customers, one unlinked identity.
pub async fn seed(store: &Store) {
    for (id, name) in [
        ("support", "Support"),
        ("billing", "Billing"),
        ("shipping", "Shipping"),
        ("finance", "Finance"),
        ("social", "Social"),
    ] {
        store.upsert_department(id, name).await.unwrap();
    }
    let agents: [(&str, &str, AgentRole, &[&str], &str); 4] = [
        ("ag_alice", "Alice", AgentRole::Agent, &["support"], ALICE),
        ("ag_jonas", "Jonas", AgentRole::Agent, &["support"], JONAS),
        ("ag_bilal", "Bilal", AgentRole::Agent, &["billing"], BILAL),
        (
            "ag_sam",
            "Sam",
            AgentRole::Admin,
            &["support", "billing", "shipping", "finance", "social"],
            SAM,
        ),
    ];
    for (id, name, role, depts, token) in agents {
        let depts: Vec<String> = depts.iter().map(|d| d.to_string()).collect();
        store
            .add_agent_with_token(
                id,
                NewAgent {
                    name,
                    role,
                    departments: &depts,
                    scopes: None,
                },
                token,
            )
            .await
            .unwrap();
    }
    let customer = |id: &str, first: &str, tier: &str, social_dm: bool| NewCustomer {
        id: id.into(),
        external_id: None,
        first_name: first.into(),
        last_name: "Tester".into(),
        emails: vec![format!("{}@example.com", first.to_lowercase())],
        phones: vec!["+44 7700 900123".into()],
        tier: tier.into(),
        lifetime_value: Money {
            amount: "123.45".parse().unwrap(),
            currency: "EUR".into(),
        },
        preferences: Preferences {
            language: "en".into(),
            preferred_channel: Channel::Email,
            consents: Consents {
                email: true,
                sms: false,
                whatsapp: false,
                social_dm,
            },
        },
        tags: vec!["vip".into()],
        created_at: 0,
    };
    let customers = vec![
        customer("cu_ann", "Ann", "gold", true),
        customer("cu_ben", "Ben", "standard", false),
        customer("cu_cat", "Cat", "platinum", true),
    ];
    let identity = |id: &str, network: Channel, handle: &str, customer: Option<&str>| Identity {
        id: id.into(),
        network,
        handle: handle.into(),
        display_name: handle.trim_start_matches('@').into(),
        verified: true,
        customer_id: customer.map(Into::into),
    };
    let identities = vec![
        identity("id_ann_x", Channel::X, "@ann", Some("cu_ann")),
        identity("id_ben_x", Channel::X, "@ben", Some("cu_ben")),
        identity("id_cat_fb", Channel::Facebook, "cat.tester", Some("cu_cat")),
        identity("id_stranger", Channel::X, "@stranger", None),
    ];
    let transactions = vec![Transaction {
        id: "tx_1".into(),
        customer_id: "cu_ann".into(),
        kind: TransactionKind::Order,
        reference: "AC-1".into(),
        description: "Acme Kettle Pro".into(),
        amount: Money {
            amount: "59.90".parse().unwrap(),
            currency: "EUR".into(),
        },
        occurred_at: chrono::Utc::now(),
    }];
    store
        .import_customers(&customers, &identities, &transactions)
        .await
        .unwrap();
}

/// Runs the real `earshot` binary: (exit code, stdout, stderr).
pub fn earshot(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(args)
        .env("EARSHOT_LOG", "error")
        .env_remove("EARSHOT_DB")
        .output()
        .expect("earshot runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The token `earshot agent add` prints once, after "…(keep it safe): ".
pub fn printed_token(out: &str) -> String {
    out.lines()
        .find_map(|l| l.split("keep it safe): ").nth(1))
        .expect("token printed")
        .trim()
        .to_string()
}

/// A problem+json answer with `status` and every member RFC 9457 asks for.
pub fn assert_problem(r: &Reply, status: StatusCode) {
    assert_eq!(r.status, status, "body: {}", r.body);
    let ct = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json");
    assert_eq!(r.body["status"], status.as_u16());
    assert!(r.body["type"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(r.body["title"].as_str().is_some());
    assert!(r.body["detail"].as_str().is_some());
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// Sends `req`; the answer with its body as JSON (or as a string when it is not JSON).
pub async fn reply_of(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

impl TestServer {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply_of(req).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    /// `POST /v1/feedback/{feedback_id}/replies` as `token`, with its `Idempotency-Key`.
    pub async fn reply(&self, feedback_id: &str, token: &str, key: &str, body: Value) -> Reply {
        let path = format!("/v1/feedback/{feedback_id}/replies");
        self.call(
            Method::POST,
            &path,
            Some(token),
            Some(body),
            &[("Idempotency-Key", key)],
        )
        .await
    }

    /// Posts feedback and returns the created item.
    pub async fn feedback(&self, token: &str, channel: &str, handle: &str, text: &str) -> Value {
        post_feedback(&self.base, token, channel, handle, text).await
    }
}

/// Posts a feedback item to the server at `base` (also a `ServerProcess`) and returns it.
pub async fn post_feedback(
    base: &str,
    token: &str,
    channel: &str,
    handle: &str,
    text: &str,
) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/feedback"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "channel": channel, "author_handle": handle, "text": text }))
        .send()
        .await
        .expect("the server answers");
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "intake failed: {status} {body}");
    body
}

/// Reads SSE events from `/v1/events` as (id, event name, data).
pub async fn subscribe(
    base: &str,
    token: &str,
    last_event_id: Option<i64>,
) -> impl futures::Stream<Item = (i64, String, Value)> + Unpin {
    use eventsource_stream::Eventsource;
    let mut req = reqwest::Client::new()
        .get(format!("{base}/v1/events"))
        .bearer_auth(token);
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let resp = req.send().await.expect("subscribe");
    assert_eq!(resp.status(), StatusCode::OK);
    Box::pin(
        resp.bytes_stream()
            .eventsource()
            .filter_map(|e| async move {
                let e = e.ok()?;
                let id = e.id.parse().ok()?;
                Some((id, e.event, serde_json::from_str(&e.data).ok()?))
            }),
    )
}

/// Next event within a few seconds, or None.
pub async fn next_event(
    stream: &mut (impl futures::Stream<Item = (i64, String, Value)> + Unpin),
    secs: u64,
) -> Option<(i64, String, Value)> {
    tokio::time::timeout(std::time::Duration::from_secs(secs), stream.next())
        .await
        .ok()
        .flatten()
}

/// A loopback address with a port that was free a moment ago.
pub fn free_address() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// The real `earshot serve` binary as a child process on a free port (killed with SIGKILL, no
/// graceful shutdown, to test what survives a crash).
pub struct ServerProcess {
    child: std::process::Child,
    pub base: String,
}

impl ServerProcess {
    pub async fn spawn(db: &str, extra_args: &[&str]) -> ServerProcess {
        Self::spawn_at(db, &free_address(), extra_args).await
    }

    /// On a given address: a restart on the address a client already uses.
    #[allow(clippy::zombie_processes)] // reaped in Drop
    pub async fn spawn_at(db: &str, listen: &str, extra_args: &[&str]) -> ServerProcess {
        use std::process::{Command, Stdio};
        let child = Command::new(env!("CARGO_BIN_EXE_earshot"))
            .args(["serve", "--db", db, "--listen", listen])
            .args(extra_args)
            .env("EARSHOT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("earshot serve starts");
        let base = format!("http://{listen}");
        for _ in 0..200 {
            if reqwest::get(format!("{base}/v1/health")).await.is_ok() {
                return ServerProcess { child, base };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("server did not come up on {base}");
    }

    /// SIGKILL and reap.
    pub fn kill(self) {}
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
