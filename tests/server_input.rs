//! Hostile and careless input over real HTTP: the audit of refusals cannot be used to fill the
//! disk, NUL characters and undecodable paths are bad requests (never a 5xx, on either store),
//! every field is bounded, and requests that change nothing change nothing.

mod common;

use common::*;
use earshot::domain::{AgentRole, Scope};
use earshot::server::audit::DETAILED_PER_WINDOW;
use earshot::server::store::NewAgent;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn read_only_token(s: &TestServer) -> &'static str {
    s.store()
        .add_agent_with_token(
            "ag_wall",
            NewAgent {
                name: "Wallboard",
                role: AgentRole::Agent,
                departments: &["support".to_string()],
                scopes: Some(&[Scope::Read]),
            },
            "tok_wallboard",
        )
        .await
        .unwrap();
    "tok_wallboard"
}

/// Bytes the audit log holds, as the sum of its text columns (the same on both stores).
async fn audit_bytes(s: &TestServer) -> (usize, usize) {
    let rows = s.store().audit_entries("").await.unwrap();
    let bytes = rows
        .iter()
        .map(|(a, action, target, outcome)| {
            a.as_deref().map_or(0, str::len) + action.len() + target.len() + outcome.len()
        })
        .sum();
    (rows.len(), bytes)
}

#[tokio::test]
async fn refused_requests_cannot_fill_the_disk() {
    let s = start().await;
    let wall = read_only_token(&s).await;
    let (rows_before, _) = audit_bytes(&s).await;
    let size_before = db_file_size(&s);
    let long = "x".repeat(60_000);
    // 1,000 unauthenticated POSTs to a 60 kB path (a matching route and no route at all), and
    // 400 refused POSTs from one valid token.
    let http = reqwest::Client::new();
    for chunk in 0..20 {
        let sends = (0..50).map(|i| {
            let path = if i % 2 == 0 {
                format!("{}/v1/feedback/{long}{chunk}/replies", s.base)
            } else {
                format!("{}/v1/{long}{chunk}", s.base)
            };
            http.post(path).json(&json!({"parts": []})).send()
        });
        for r in futures::future::join_all(sends).await {
            let status = r.expect("answered").status();
            assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND);
        }
    }
    for _ in 0..400 {
        let r = s
            .post(
                "/v1/feedback/fb_anything/presence",
                wall,
                json!({"state": "viewing"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    // Methods are the caller's bytes too: 50 made-up methods of 50 kB each.
    for i in 0..50 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://"))
            .await
            .unwrap();
        let method = format!("{}{i}", "M".repeat(50_000));
        conn.write_all(
            format!("{method} /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut answer = [0u8; 12];
        conn.read_exact(&mut answer).await.unwrap();
        assert!(
            answer.starts_with(b"HTTP/1.1 4"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    let db = s.stop().await;
    let s = start_on(db).await;
    let (rows, bytes) = audit_bytes(&s).await;
    let added = rows - rows_before;
    // The token's first refusals in detail, then one summary row per route and status (the
    // made-up methods all as OTHER).
    assert!(
        added <= DETAILED_PER_WINDOW as usize + 8,
        "{added} audit rows for 1,400 refusals"
    );
    assert!(bytes < 16 * 1024, "{bytes} bytes of audit text");
    let entries = s.store().audit_entries("refusals.summary").await.unwrap();
    let counted: Vec<&String> = entries.iter().map(|(_, _, target, _)| target).collect();
    assert!(
        counted
            .iter()
            .any(|t| t.as_str() == "POST /v1/feedback/{id}/replies"),
        "{counted:?}"
    );
    assert!(counted.iter().any(|t| t.as_str() == "POST (no route)"));
    let detailed = s
        .store()
        .audit_entries("POST /v1/feedback/{id}/presence")
        .await
        .unwrap();
    assert_eq!(detailed.len(), DETAILED_PER_WINDOW as usize);
    assert!(detailed
        .iter()
        .all(|(agent, ..)| agent.as_deref() == Some("ag_wall")));
    if let Some((before, after)) = size_before.zip(db_file_size(&s)) {
        assert!(
            after < before + 1024 * 1024,
            "the database grew from {before} to {after} bytes"
        );
    }
    s.stop().await;
}

/// The SQLite database with its WAL, in bytes (`None` on PostgreSQL).
fn db_file_size(s: &TestServer) -> Option<u64> {
    let path = std::path::Path::new(&s.db.url);
    let main = std::fs::metadata(path).ok()?.len();
    let wal = std::fs::metadata(format!("{}-wal", s.db.url)).map_or(0, |m| m.len());
    Some(main + wal)
}

/// Sends each (method, path, body) as the admin and checks the 422 points at the field.
async fn assert_each_invalid_at(s: &TestServer, cases: Vec<(Method, String, Value, &str)>) {
    for (method, path, body, pointer) in cases {
        let r = s
            .call(
                method.clone(),
                &path,
                Some(SAM),
                Some(body),
                &[("If-Match", "1"), ("Idempotency-Key", "invalid-input")],
            )
            .await;
        assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r.body["errors"][0]["pointer"], pointer,
            "{method} {path}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn a_nul_character_is_bad_input_everywhere() {
    let s = start().await;
    let item = s
        .feedback(ALICE, "webchat", "visitor", "my kettle is broken")
        .await;
    let id = item["id"].as_str().unwrap();
    let nul = "a\u{0}b";
    let bodies: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/v1/feedback".into(),
            json!({"channel": "phone", "author_handle": "x", "text": nul}),
            "/text",
        ),
        (
            Method::POST,
            "/v1/feedback".into(),
            json!({"channel": "phone", "author_handle": nul, "text": "t"}),
            "/author_handle",
        ),
        (
            Method::POST,
            "/v1/feedback".into(),
            json!({"channel": "phone", "author_handle": "x", "text": "t", "author_name": nul}),
            "/author_name",
        ),
        (
            Method::POST,
            "/v1/feedback".into(),
            json!({"channel": "phone", "author_handle": "x", "text": "t", "external_id": nul}),
            "/external_id",
        ),
        (
            Method::POST,
            "/v1/feedback".into(),
            json!({"channel": "phone", "author_handle": "x", "text": "t", "thread_id": nul}),
            "/thread_id",
        ),
        (
            Method::POST,
            "/v1/feedback".into(),
            json!({"channel": "phone", "author_handle": "x", "text": "t", "url": nul}),
            "/url",
        ),
        (
            Method::POST,
            "/v1/feedback".into(),
            json!({"channel": "phone", "author_handle": "x", "text": "t", "customer_id": nul}),
            "/customer_id",
        ),
        (
            Method::PATCH,
            format!("/v1/feedback/{id}"),
            json!({"department": nul}),
            "/department",
        ),
        (
            Method::PATCH,
            format!("/v1/feedback/{id}"),
            json!({"assignee": nul}),
            "/assignee",
        ),
        (
            Method::POST,
            format!("/v1/feedback/{id}/replies"),
            json!({"parts": [{"visibility": "direct", "body": nul}]}),
            "/parts/0/body",
        ),
        (
            Method::POST,
            format!("/v1/feedback/{id}/replies"),
            json!({"parts": [{"visibility": "direct", "body": "ok"}], "overrides": [{"rule": nul, "reason": "r"}]}),
            "/overrides/0/rule",
        ),
        (
            Method::POST,
            format!("/v1/feedback/{id}/replies"),
            json!({"parts": [{"visibility": "direct", "body": "ok"}], "base_message_id": nul}),
            "/base_message_id",
        ),
        (
            Method::POST,
            "/v1/replies".into(),
            json!({"feedback_ids": [nul], "parts": [{"visibility": "direct", "body": "ok"}]}),
            "/feedback_ids/0",
        ),
        (
            Method::POST,
            "/v1/identities/id_stranger/link".into(),
            json!({"customer_id": nul}),
            "/customer_id",
        ),
    ];
    assert_each_invalid_at(&s, bodies).await;
    for path in [
        "/v1/feedback?q=a%00b".to_string(),
        "/v1/feedback?department=%00".to_string(),
        "/v1/customers?q=an%00n".to_string(),
        "/v1/feedback/fb%00x".to_string(),
        "/v1/customers/cu_ann%00/history".to_string(),
        "/v1/messages/%00/attempts".to_string(),
        "/v1/events?last_event_id=%00".to_string(),
    ] {
        let r = s.get(&path, SAM).await;
        assert_problem(&r, StatusCode::BAD_REQUEST);
    }
    s.stop().await;
}

#[tokio::test]
async fn undecodable_paths_and_queries_answer_problem_json() {
    let s = start().await;
    for path in [
        "/v1/events?last_event_id=abc",
        "/v1/feedback/%FF%FE",
        "/v1/customers/%C3%28",
        "/v1/feedback?limit=many",
    ] {
        let r = s.get(path, ALICE).await;
        assert_problem(&r, StatusCode::BAD_REQUEST);
    }
    s.stop().await;
}

#[tokio::test]
async fn every_text_field_is_bounded() {
    let s = start().await;
    let item = s
        .feedback(ALICE, "webchat", "visitor", "my kettle is broken")
        .await;
    let id = item["id"].as_str().unwrap();
    let big = "y".repeat(200_000);
    let feedback = |field: &str| {
        let mut b = json!({"channel": "phone", "author_handle": "x", "text": "t"});
        b[field] = json!(big);
        b
    };
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/v1/feedback".into(),
            feedback("author_name"),
            "/author_name",
        ),
        (
            Method::POST,
            "/v1/feedback".into(),
            feedback("thread_id"),
            "/thread_id",
        ),
        (Method::POST, "/v1/feedback".into(), feedback("url"), "/url"),
        (
            Method::POST,
            "/v1/feedback".into(),
            feedback("external_id"),
            "/external_id",
        ),
        (
            Method::POST,
            "/v1/feedback".into(),
            feedback("customer_id"),
            "/customer_id",
        ),
        (
            Method::POST,
            format!("/v1/feedback/{id}/replies"),
            json!({"parts": [{"visibility": "direct", "body": "ok"}], "overrides": [{"rule": big, "reason": "r"}]}),
            "/overrides/0/rule",
        ),
        (
            Method::POST,
            format!("/v1/feedback/{id}/replies"),
            json!({"parts": [{"visibility": "direct", "body": "ok"}], "overrides": [{"rule": "PII-CARD", "reason": big}]}),
            "/overrides/0/reason",
        ),
        (
            Method::PATCH,
            format!("/v1/feedback/{id}"),
            json!({"department": big}),
            "/department",
        ),
        (
            Method::POST,
            "/v1/identities/id_stranger/link".into(),
            json!({"customer_id": big}),
            "/customer_id",
        ),
    ];
    assert_each_invalid_at(&s, cases).await;
    // Nothing of it was stored.
    let after = s.get(&format!("/v1/feedback/{id}"), SAM).await;
    assert_eq!(after.body["feedback"]["version"], item["version"]);
    assert!(!after.body.to_string().contains("yyyy"));
    s.stop().await;
}

#[tokio::test]
async fn requests_that_change_nothing_change_nothing() {
    let s = start().await;
    let wall = read_only_token(&s).await;
    let item = s
        .feedback(ALICE, "webchat", "visitor", "my kettle is broken")
        .await;
    let id = item["id"].as_str().unwrap();
    let version = item["version"].to_string();
    let mut events = subscribe(&s.base, ALICE, None).await;
    // An empty object or an array is not a change.
    for body in [json!({}), json!([])] {
        let r = s
            .call(
                Method::PATCH,
                &format!("/v1/feedback/{id}"),
                Some(ALICE),
                Some(body.clone()),
                &[("If-Match", &version)],
            )
            .await;
        assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Setting what is already there answers the item as it is.
    let same = s
        .call(
            Method::PATCH,
            &format!("/v1/feedback/{id}"),
            Some(ALICE),
            Some(json!({"status": item["status"], "priority": item["priority"]})),
            &[("If-Match", &version)],
        )
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(same.body["version"], item["version"]);
    // A read-only token cannot say it is composing a reply.
    let r = s
        .post(
            &format!("/v1/feedback/{id}/presence"),
            wall,
            json!({"state": "composing"}),
        )
        .await;
    assert_problem(&r, StatusCode::FORBIDDEN);
    // Nor can it take itself out of routing (availability decides who is given work).
    let r = s
        .call(
            Method::PATCH,
            "/v1/me",
            Some(wall),
            Some(json!({"availability": "away"})),
            &[],
        )
        .await;
    assert_problem(&r, StatusCode::FORBIDDEN);
    // An unknown field inside a reply part is refused, not ignored.
    let r = s
        .reply(
            id,
            ALICE,
            "unknown-field",
            json!({"parts": [{"visibility": "direct", "body": "hi", "bcc": "everyone"}]}),
        )
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["pointer"], "/parts/0/bcc", "{}", r.body);
    let after = s.get(&format!("/v1/feedback/{id}"), ALICE).await;
    assert_eq!(after.body["feedback"]["version"], item["version"]);
    assert_eq!(after.body["thread"].as_array().unwrap().len(), 1);
    // No event came of any of it: the next one is a later, real change.
    let real = s
        .call(
            Method::PATCH,
            &format!("/v1/feedback/{id}"),
            Some(ALICE),
            Some(json!({"status": "pending"})),
            &[("If-Match", &version)],
        )
        .await;
    assert_eq!(real.status, StatusCode::OK);
    let (_, name, data) = next_event(&mut events, 10).await.expect("an event");
    assert_eq!(name, "feedback.updated");
    assert_eq!(data["data"]["status"], "pending", "{data}");
    s.stop().await;
}
