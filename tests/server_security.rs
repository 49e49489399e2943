//! Access control over real HTTP: scopes, the per-token rate limit, and tokens made, used and
//! revoked through the real `earshot agent` command.

mod common;

use common::*;
use earshot::domain::{AgentRole, Scope};
use earshot::server::ratelimit::RateLimit;
use earshot::server::store::NewAgent;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_token_without_a_scope_gets_403() {
    let s = start().await;
    let depts = vec!["support".to_string()];
    let new = NewAgent {
        name: "Wallboard",
        role: AgentRole::Agent,
        departments: &depts,
        scopes: Some(&[Scope::Read]),
    };
    s.store()
        .add_agent_with_token("ag_wall", new, "tok_wallboard")
        .await
        .unwrap();
    assert_eq!(
        s.get("/v1/me", "tok_wallboard").await.body["scopes"],
        json!(["read"])
    );
    assert_eq!(
        s.get("/v1/feedback", "tok_wallboard").await.status,
        StatusCode::OK
    );
    let item = s
        .feedback(SAM, "webchat", "v", "how do I pair my plug")
        .await;
    let id = item["id"].as_str().unwrap();
    let r = s
        .post(
            "/v1/feedback",
            "tok_wallboard",
            json!({"channel": "phone", "author_handle": "x", "text": "hello"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["status"], 403);
    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/feedback/{id}"),
            Some("tok_wallboard"),
            Some(json!({"status": "pending"})),
            &[("If-Match", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s
        .reply(
            id,
            "tok_wallboard",
            "k",
            json!({"parts": [{"visibility": "direct", "body": "hi"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let refused = s.store().audit_entries("POST /v1/feedback").await.unwrap();
    assert!(refused
        .iter()
        .any(|(agent, _, _, outcome)| agent.as_deref() == Some("ag_wall") && outcome == "refused"));
    s.stop().await;
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after() {
    let db = test_db().await;
    let mut config =
        earshot::server::ServerConfig::new(db.url.clone(), "127.0.0.1:0".parse().unwrap());
    config.rate_limit = RateLimit {
        per_second: 1,
        burst: 3,
    };
    let server = earshot::server::start(config).await.unwrap();
    seed(&server.store).await;
    let http = reqwest::Client::new();
    let me = |token: &'static str| {
        http.get(format!("{}/v1/me", server.url()))
            .bearer_auth(token)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(me(ALICE).await.unwrap().status(), StatusCode::OK);
    }
    let limited = me(ALICE).await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    assert_eq!(
        limited.headers()["content-type"],
        "application/problem+json"
    );
    // Another agent is not slowed by Alice's script.
    assert_eq!(me(BILAL).await.unwrap().status(), StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn agent_add_prints_a_token_once_and_revoke_ends_it() {
    // SQLite on purpose: the test reads the database files to prove no raw token is in them.
    let seeded = start_on(sqlite_db()).await;
    let db = seeded.stop().await;
    let (code, out, err) = earshot(&[
        "agent",
        "add",
        "--db",
        &db.url,
        "--name",
        "Nina",
        "--department",
        "billing",
        "--role",
        "supervisor",
    ]);
    assert_eq!(code, 0, "{err}");
    let token = printed_token(&out);
    assert!(token.starts_with("es_") && token.len() > 40);
    let agent_id = out.split_whitespace().nth(1).unwrap().to_string();
    let (code, _, err) = earshot(&[
        "agent",
        "add",
        "--db",
        &db.url,
        "--name",
        "Ghost",
        "--department",
        "nowhere",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown department"), "{err}");
    let (code, out, _) = earshot(&[
        "agent",
        "add",
        "--db",
        &db.url,
        "--name",
        "Wall",
        "--department",
        "support",
        "--scopes",
        "read",
    ]);
    assert_eq!(code, 0);
    let read_only = printed_token(&out);
    let (code, out, _) = earshot(&[
        "agent",
        "add",
        "--db",
        &db.url,
        "--name",
        "Temp",
        "--department",
        "support",
        "--expires-in-days",
        "0",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("expires at"), "{out}");
    let expired = printed_token(&out);

    let s = start_on(db).await;
    let me = s.get("/v1/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["agent"]["name"], "Nina");
    assert_eq!(me.body["agent"]["role"], "supervisor");
    let r = s
        .post(
            "/v1/feedback",
            &read_only,
            json!({"channel": "phone", "author_handle": "x", "text": "hello"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.get("/v1/me", &expired).await.status,
        StatusCode::UNAUTHORIZED,
        "an expired token is refused"
    );
    // The database holds only a hash of the token.
    let db = s.stop().await;
    for file in [db.url.clone(), format!("{}-wal", db.url)] {
        let raw = std::fs::read(&file).unwrap_or_default();
        assert!(
            !raw.windows(token.len()).any(|w| w == token.as_bytes()),
            "the raw token is not stored in {file}"
        );
    }
    let (code, out, _) = earshot(&["agent", "revoke", "--db", &db.url, "--agent", &agent_id]);
    assert_eq!(code, 0, "{out}");
    let s = start_on(db).await;
    assert_eq!(
        s.get("/v1/me", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    s.stop().await;
}
