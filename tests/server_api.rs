//! The reference server over real HTTP on loopback: every endpoint, bad input, auth and
//! department scoping. The same scenarios run on PostgreSQL when EARSHOT_TEST_POSTGRES_URL is set.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn health_needs_no_token_and_everything_else_does() {
    let s = start().await;
    let r = s.call(Method::GET, "/v1/health", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
    for path in [
        "/v1/me",
        "/v1/feedback",
        "/v1/customers/cu_ann",
        "/v1/events",
        "/v1/agents",
    ] {
        let r = s.call(Method::GET, path, None, None, &[]).await;
        assert_problem(&r, StatusCode::UNAUTHORIZED);
        let r = s.call(Method::GET, path, Some("es_wrong"), None, &[]).await;
        assert_problem(&r, StatusCode::UNAUTHORIZED);
    }
    let r = s
        .call(
            Method::GET,
            "/v1/me",
            None,
            None,
            &[("Authorization", "Basic YWxpY2U6eA==")],
        )
        .await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[tokio::test]
async fn me_agents_departments_and_openapi() {
    let s = start().await;
    let me = s.get("/v1/me", ALICE).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["agent"]["id"], "ag_alice");
    assert_eq!(me.body["agent"]["departments"], json!(["support"]));
    assert_eq!(me.body["scopes"], json!(["read", "reply"]));
    assert_eq!(
        s.get("/v1/me", SAM).await.body["scopes"],
        json!(["read", "reply", "admin"])
    );
    assert_eq!(
        s.get("/v1/agents", ALICE).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        s.get("/v1/departments", ALICE).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let doc = s
        .call(Method::GET, "/v1/openapi.json", None, None, &[])
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.body["paths"].as_object().unwrap();
    assert!(
        paths["/v1/feedback"].get("get").is_some() && paths["/v1/feedback"].get("post").is_some()
    );
    assert!(paths["/v1/feedback/{id}/replies"].get("post").is_some());
    assert!(doc.body["components"]["schemas"]["Feedback"].is_object());
    s.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let s = start().await;
    assert_problem(&s.get("/v1/nope", ALICE).await, StatusCode::NOT_FOUND);
    assert_problem(
        &s.call(Method::DELETE, "/v1/feedback", Some(ALICE), None, &[])
            .await,
        StatusCode::METHOD_NOT_ALLOWED,
    );
    s.stop().await;
}

#[tokio::test]
async fn intake_scores_routes_and_assigns_to_the_least_loaded_agent() {
    let s = start().await;
    let refund = s
        .feedback(
            SAM,
            "x",
            "@ann",
            "I was charged twice, I want a refund. Terrible service!",
        )
        .await;
    assert_eq!(refund["department"], "billing");
    assert_eq!(refund["assignee"], "ag_bilal");
    assert_eq!(refund["sentiment_label"], "negative");
    assert_eq!(
        refund["customer_id"], "cu_ann",
        "a known handle links the item to its customer"
    );
    assert_eq!(refund["status"], "new");
    assert_eq!(refund["version"], 1);
    // Two support items go to the two support agents in turn (least loaded first).
    let a = s
        .feedback(SAM, "webchat", "visitor-1", "How do I reset my kettle?")
        .await;
    let b = s
        .feedback(
            SAM,
            "webchat",
            "visitor-2",
            "The app will not pair with my plug",
        )
        .await;
    let mut assignees = [
        a["assignee"].as_str().unwrap(),
        b["assignee"].as_str().unwrap(),
    ];
    assignees.sort();
    assert_eq!(assignees, ["ag_alice", "ag_jonas"]);
    assert_eq!(a["origin"], "online");
    let phone = s
        .post("/v1/feedback", ALICE, json!({"channel": "phone", "author_handle": "+44 7700 900123", "customer_id": "cu_ben", "text": "Called about a late delivery"}))
        .await;
    assert_eq!(phone.status, StatusCode::CREATED);
    assert_eq!(phone.body["origin"], "offline");
    assert_eq!(phone.body["department"], "shipping");
    assert!(phone.headers.get("location").is_some());
    s.stop().await;
}

#[tokio::test]
async fn webhook_retries_with_the_same_external_id_do_not_duplicate() {
    let s = start().await;
    let body = json!({"channel": "x", "author_handle": "@stranger", "text": "hello @acme", "external_id": "x-post-1"});
    let first = s.post("/v1/feedback", SAM, body.clone()).await;
    let again = s.post("/v1/feedback", SAM, body).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(first.body["id"], again.body["id"]);
    s.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_their_own_problem_and_write_nothing() {
    let s = start().await;
    let before = s.store().feedback_count().await.unwrap();
    let send = |body: &'static str, ct: &'static str| {
        let http = s.http.clone();
        let url = format!("{}/v1/feedback", s.base);
        async move {
            let resp = http
                .post(url)
                .bearer_auth(SAM)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let ct = resp
                .headers()
                .get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            (status, ct)
        }
    };
    let cases = [
        ("{not json", "application/json", StatusCode::BAD_REQUEST),
        (
            r#"{"channel": 5, "author_handle": "a", "text": "t"}"#,
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"channel": "telegraph", "author_handle": "a", "text": "t"}"#,
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"channel": "x", "author_handle": "a", "text": "t", "evil": 1}"#,
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"channel": "x", "author_handle": "a", "text": "   "}"#,
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"channel": "x", "author_handle": "a", "text": "t"}"#,
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    for (body, ct, want) in cases {
        let (status, content_type) = send(body, ct).await;
        assert_eq!(status, want, "body {body}");
        assert_eq!(content_type, "application/problem+json");
    }
    let huge = json!({"channel": "x", "author_handle": "a", "text": "a".repeat(earshot::server::BODY_LIMIT + 10)});
    assert_problem(
        &s.post("/v1/feedback", SAM, huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    );
    let wrong_type = s
        .post(
            "/v1/feedback",
            SAM,
            json!({"channel": "x", "author_handle": "a", "text": 7}),
        )
        .await;
    assert_problem(&wrong_type, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_type.body["errors"][0]["pointer"], "/text");
    let r = s
        .post(
            "/v1/feedback",
            SAM,
            json!({"channel": "x", "author_handle": "a", "text": "t", "customer_id": "cu_nobody"}),
        )
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s.store().feedback_count().await.unwrap(),
        before,
        "nothing half-written"
    );
    // Refused mutations are audited too.
    assert!(
        s.store()
            .audit_entries("POST /v1/feedback")
            .await
            .unwrap()
            .len()
            >= cases.len()
    );
    s.stop().await;
}

#[tokio::test]
async fn a_100_kb_post_is_accepted_and_a_bigger_one_refused() {
    let s = start().await;
    let text = "ok ".repeat(100 * 1024 / 3);
    let r = s
        .post(
            "/v1/feedback",
            SAM,
            json!({"channel": "forum", "author_handle": "long_poster", "text": text}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = s.post("/v1/feedback", SAM, json!({"channel": "forum", "author_handle": "long_poster", "text": "b".repeat(200 * 1024)})).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    s.stop().await;
}

#[tokio::test]
async fn queue_filters_scopes_and_paginates() {
    let s = start().await;
    for i in 0..7 {
        s.feedback(
            SAM,
            "webchat",
            &format!("v{i}"),
            &format!("question number {i} about my kettle"),
        )
        .await;
    }
    s.feedback(
        SAM,
        "email",
        "ann@example.com",
        "refund please, I was charged twice",
    )
    .await;
    // Alice (support) sees support only; Sam (admin) sees all.
    let alice = s.get("/v1/feedback?limit=100", ALICE).await;
    assert!(alice.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["department"] == "support"));
    assert_eq!(alice.body["items"].as_array().unwrap().len(), 7);
    assert_eq!(
        s.get("/v1/feedback?limit=100", SAM).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_problem(
        &s.get("/v1/feedback?department=billing", ALICE).await,
        StatusCode::NOT_FOUND,
    );
    // Pages of 3 cover the 7 items exactly once, newest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/feedback?limit=3&cursor={c}"),
            None => "/v1/feedback?limit=3".to_string(),
        };
        let page = s.get(&path, ALICE).await;
        assert_eq!(page.status, StatusCode::OK);
        for f in page.body["items"].as_array().unwrap() {
            seen.push(f["id"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 7);
    let mine = s.get("/v1/feedback?assignee=me&limit=100", ALICE).await;
    assert!(mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["assignee"] == "ag_alice"));
    let q = s.get("/v1/feedback?q=NUMBER%203", ALICE).await;
    assert_eq!(q.body["items"].as_array().unwrap().len(), 1);
    assert_problem(
        &s.get("/v1/feedback?cursor=garbage", ALICE).await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &s.get("/v1/feedback?limit=0", ALICE).await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &s.get("/v1/feedback?status=bogus", ALICE).await,
        StatusCode::BAD_REQUEST,
    );
    s.stop().await;
}

#[tokio::test]
async fn another_departments_item_is_not_found_on_every_route() {
    let s = start().await;
    let item = s
        .feedback(
            SAM,
            "email",
            "ben@example.com",
            "refund for my duplicate charge",
        )
        .await;
    let id = item["id"].as_str().unwrap();
    assert_eq!(item["department"], "billing");
    assert_problem(
        &s.get(&format!("/v1/feedback/{id}"), ALICE).await,
        StatusCode::NOT_FOUND,
    );
    let patch = s
        .call(
            Method::PATCH,
            &format!("/v1/feedback/{id}"),
            Some(ALICE),
            Some(json!({"status": "pending"})),
            &[("If-Match", "1")],
        )
        .await;
    assert_problem(&patch, StatusCode::NOT_FOUND);
    let reply = s
        .reply(
            id,
            ALICE,
            "k1",
            json!({"parts": [{"visibility": "direct", "body": "hi"}]}),
        )
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND);
    assert_problem(
        &s.post(
            &format!("/v1/feedback/{id}/presence"),
            ALICE,
            json!({"state": "viewing"}),
        )
        .await,
        StatusCode::NOT_FOUND,
    );
    assert_eq!(
        s.get(&format!("/v1/feedback/{id}"), BILAL).await.status,
        StatusCode::OK
    );
    s.stop().await;
}

#[tokio::test]
async fn patch_requires_the_current_version() {
    let s = start().await;
    let item = s
        .feedback(SAM, "webchat", "v", "how do I descale the kettle")
        .await;
    let id = item["id"].as_str().unwrap();
    let path = format!("/v1/feedback/{id}");
    let detail = s.get(&path, ALICE).await;
    assert_eq!(detail.headers.get("etag").unwrap(), "\"1\"");
    let no_match = s
        .call(
            Method::PATCH,
            &path,
            Some(ALICE),
            Some(json!({"status": "pending"})),
            &[],
        )
        .await;
    assert_problem(&no_match, StatusCode::PRECONDITION_REQUIRED);
    let ok = s
        .call(
            Method::PATCH,
            &path,
            Some(ALICE),
            Some(json!({"status": "pending", "assignee": "ag_jonas"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["status"], "pending");
    assert_eq!(ok.body["assignee"], "ag_jonas");
    assert_eq!(ok.headers.get("etag").unwrap(), "\"2\"");
    let stale = s
        .call(
            Method::PATCH,
            &path,
            Some(ALICE),
            Some(json!({"status": "resolved"})),
            &[("If-Match", "1")],
        )
        .await;
    assert_problem(&stale, StatusCode::PRECONDITION_FAILED);
    let outsider = s
        .call(
            Method::PATCH,
            &path,
            Some(ALICE),
            Some(json!({"assignee": "ag_bilal"})),
            &[("If-Match", "2")],
        )
        .await;
    assert_problem(&outsider, StatusCode::UNPROCESSABLE_ENTITY);
    let unassign = s
        .call(
            Method::PATCH,
            &path,
            Some(ALICE),
            Some(json!({"assignee": null})),
            &[("If-Match", "2")],
        )
        .await;
    assert_eq!(unassign.body["assignee"], serde_json::Value::Null);
    // Supervisors and admins reroute; the assignee who does not work there is dropped.
    let reroute = s
        .call(
            Method::PATCH,
            &path,
            Some(SAM),
            Some(json!({"department": "billing"})),
            &[("If-Match", "3")],
        )
        .await;
    assert_eq!(reroute.body["department"], "billing");
    assert_problem(&s.get(&path, ALICE).await, StatusCode::NOT_FOUND);
    s.stop().await;
}

#[tokio::test]
async fn replies_are_idempotent_and_close_the_loop() {
    let s = start().await;
    let item = s
        .feedback(SAM, "x", "@ann", "My kettle arrived broken, help")
        .await;
    let id = item["id"].as_str().unwrap();
    let dept_token = if item["department"] == "shipping" {
        SAM
    } else {
        ALICE
    };
    let path = format!("/v1/feedback/{id}/replies");
    let body = json!({"parts": [
        {"visibility": "public", "body": "Sorry to hear that! We have sent you a DM."},
        {"visibility": "direct", "body": "Hi Ann, a replacement is on its way."}
    ]});
    let missing_key = s
        .call(
            Method::POST,
            &path,
            Some(dept_token),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_problem(&missing_key, StatusCode::BAD_REQUEST);
    let first = s
        .call(
            Method::POST,
            &path,
            Some(dept_token),
            Some(body.clone()),
            &[("Idempotency-Key", "reply-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let messages = first.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["address"], "@ann");
    assert_eq!(messages[0]["channel"], "x");
    assert_eq!(messages[1]["visibility"], "direct");
    assert_eq!(messages[1]["address"], "@ann", "Ann consented to DMs on X");
    let again = s
        .call(
            Method::POST,
            &path,
            Some(dept_token),
            Some(body.clone()),
            &[("Idempotency-Key", "reply-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], first.body["id"]);
    let other = json!({"parts": [{"visibility": "public", "body": "something else"}]});
    let clash = s
        .call(
            Method::POST,
            &path,
            Some(dept_token),
            Some(other),
            &[("Idempotency-Key", "reply-1")],
        )
        .await;
    assert_problem(&clash, StatusCode::UNPROCESSABLE_ENTITY);
    // The thread holds the inbound post and the two outbound parts, once.
    let detail = s.get(&format!("/v1/feedback/{id}"), dept_token).await;
    let thread = detail.body["thread"].as_array().unwrap();
    assert_eq!(thread.len(), 3);
    assert_eq!(
        thread
            .iter()
            .filter(|m| m["direction"] == "outbound")
            .count(),
        2
    );
    assert_eq!(detail.body["feedback"]["status"], "answered");
    // And the customer's history shows the replies.
    let history = s.get("/v1/customers/cu_ann/history", SAM).await;
    let kinds: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "reply").count(), 2);
    assert!(kinds.contains(&"feedback"));
    s.stop().await;
}

#[tokio::test]
async fn direct_parts_go_to_a_consented_channel() {
    let s = start().await;
    // Ben did not consent to social DMs: the direct part goes to his email.
    let item = s
        .feedback(SAM, "x", "@ben", "question about my kettle")
        .await;
    let id = item["id"].as_str().unwrap();
    let r = s
        .reply(
            id,
            SAM,
            "k",
            json!({"parts": [{"visibility": "direct", "body": "Hi Ben"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["messages"][0]["channel"], "email");
    assert_eq!(r.body["messages"][0]["address"], "ben@example.com");
    // A web chat is already a private conversation: the direct reply goes back on it, also to
    // a visitor no CRM record is linked to.
    let chat = s
        .feedback(SAM, "webchat", "visitor-77", "is the kettle in stock?")
        .await;
    let chat_id = chat["id"].as_str().unwrap();
    let r = s
        .reply(
            chat_id,
            SAM,
            "k-chat",
            json!({"parts": [{"visibility": "direct", "body": "Yes, it is"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["messages"][0]["channel"], "webchat");
    assert_eq!(r.body["messages"][0]["address"], "visitor-77");
    // A phone call has no public thread.
    let call = s.post("/v1/feedback", SAM, json!({"channel": "phone", "author_handle": "+1 555 0100", "text": "my kettle is noisy"})).await;
    let cid = call.body["id"].as_str().unwrap();
    let r = s
        .reply(
            cid,
            SAM,
            "k2",
            json!({"parts": [{"visibility": "public", "body": "hello"}]}),
        )
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = json!({"parts": [{"visibility": "public", "body": "a"}, {"visibility": "public", "body": "b"}]});
    let r = s.reply(id, SAM, "k3", bad).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    s.stop().await;
}

#[tokio::test]
async fn profiles_history_transactions_search_and_linking() {
    let s = start().await;
    let c = s.get("/v1/customers/cu_ann", ALICE).await;
    assert_eq!(c.status, StatusCode::OK);
    assert_eq!(c.body["tier"], "gold");
    assert_eq!(
        c.body["lifetime_value"],
        json!({"amount": "123.45", "currency": "EUR"})
    );
    assert_eq!(c.body["identities"][0]["handle"], "@ann");
    let tx = s.get("/v1/customers/cu_ann/transactions", ALICE).await;
    assert_eq!(tx.body["items"][0]["amount"]["amount"], "59.90");
    assert_problem(
        &s.get("/v1/customers/cu_nobody", ALICE).await,
        StatusCode::NOT_FOUND,
    );
    assert_problem(
        &s.get("/v1/customers/cu_nobody/history", ALICE).await,
        StatusCode::NOT_FOUND,
    );
    let found = s.get("/v1/customers?q=cat%40example", ALICE).await;
    assert_eq!(found.body["items"][0]["id"], "cu_cat");
    assert_problem(
        &s.get("/v1/customers?q=a", ALICE).await,
        StatusCode::BAD_REQUEST,
    );
    // A stranger's posts join Cat's history once the identity is linked (by an agent of the
    // department the post went to: support).
    let post = s
        .feedback(SAM, "x", "@stranger", "how do I descale the kettle?")
        .await;
    assert_eq!(post["department"], "support");
    assert_eq!(post["customer_id"], serde_json::Value::Null);
    let link = s
        .post(
            "/v1/identities/id_stranger/link",
            ALICE,
            json!({"customer_id": "cu_cat"}),
        )
        .await;
    assert_eq!(link.status, StatusCode::OK, "{}", link.body);
    assert_eq!(link.body["customer_id"], "cu_cat");
    let relinked = s
        .post(
            "/v1/identities/id_stranger/link",
            ALICE,
            json!({"customer_id": "cu_ben"}),
        )
        .await;
    assert_problem(&relinked, StatusCode::UNPROCESSABLE_ENTITY);
    let history = s.get("/v1/customers/cu_cat/history", ALICE).await;
    assert!(history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["feedback_id"] == post["id"]));
    assert_problem(
        &s.post(
            "/v1/identities/id_nobody/link",
            ALICE,
            json!({"customer_id": "cu_cat"}),
        )
        .await,
        StatusCode::NOT_FOUND,
    );
    s.stop().await;
}

#[tokio::test]
async fn customer_roles_follow_their_history() {
    let s = start().await;
    for text in [
        "this is terrible",
        "worst kettle ever, awful",
        "still broken, I hate this",
    ] {
        s.feedback(SAM, "x", "@ben", text).await;
    }
    for text in ["love it, great product", "amazing support, thank you!"] {
        s.feedback(SAM, "facebook", "cat.tester", text).await;
    }
    assert_eq!(
        s.get("/v1/customers/cu_ben", SAM).await.body["roles"],
        json!(["detractor"])
    );
    assert_eq!(
        s.get("/v1/customers/cu_cat", SAM).await.body["roles"],
        json!(["advocate"])
    );
    let trend = s.get("/v1/customers/cu_ben", SAM).await.body["sentiment_trend"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(trend, 3);
    s.stop().await;
}

#[tokio::test]
async fn revoked_and_expired_tokens_are_refused() {
    let s = start().await;
    assert_eq!(s.get("/v1/me", JONAS).await.status, StatusCode::OK);
    s.store().revoke_agent_tokens("ag_jonas").await.unwrap();
    assert_problem(&s.get("/v1/me", JONAS).await, StatusCode::UNAUTHORIZED);
    s.store()
        .set_token_expiry(BILAL, chrono::Utc::now() - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_problem(&s.get("/v1/me", BILAL).await, StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_writers_on_sqlite_never_see_a_locked_database() {
    let s = start().await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let http = s.http.clone();
        let base = s.base.clone();
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for j in 0..4 {
                let body = json!({"channel": "webchat", "author_handle": format!("w{i}"), "text": format!("writer {i} post {j}: kettle question")});
                let r = http.post(format!("{base}/v1/feedback")).bearer_auth(SAM).json(&body).send().await.unwrap();
                statuses.push(r.status());
            }
            statuses
        }));
    }
    for t in tasks {
        for status in t.await.unwrap() {
            assert_eq!(status, StatusCode::CREATED);
        }
    }
    assert_eq!(s.store().feedback_count().await.unwrap(), 200);
    s.stop().await;
}

#[tokio::test]
async fn the_demo_organisation_is_complete() {
    let db = test_db().await;
    let mut config =
        earshot::server::ServerConfig::new(db.url.clone(), "127.0.0.1:0".parse().unwrap());
    config.demo = true;
    config.sim_per_minute = 0.0;
    config.rate_limit.per_second = 0;
    let server = earshot::server::start(config).await.unwrap();
    let store = &server.store;
    assert!(store.customer_count().await.unwrap() >= 500);
    assert_eq!(store.feedback_count().await.unwrap(), 3000);
    if store.dialect() == earshot::server::store::Dialect::Postgres {
        // The seed ends with ANALYZE: the planner knows the 3,000 items at once (a table never
        // analysed reads -1), instead of planning as for empty tables until autovacuum runs.
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let estimate: f32 =
            sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE relname = 'feedback'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert!(
            estimate >= 2_900.0,
            "the planner's estimate of the items: {estimate}"
        );
    }
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{}", server.url(), path))
            .bearer_auth("es_demo_sam")
            .send()
    };
    let me = get("/v1/me")
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(me["agent"]["role"], "admin");
    let page = get("/v1/feedback?limit=500")
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    let channels: std::collections::HashSet<&str> = items
        .iter()
        .map(|f| f["channel"].as_str().unwrap())
        .collect();
    assert!(channels.len() >= 10, "{channels:?}");
    let departments: std::collections::HashSet<&str> = items
        .iter()
        .map(|f| f["department"].as_str().unwrap())
        .collect();
    assert_eq!(departments.len(), 5, "{departments:?}");
    assert!(
        items.iter().any(|f| f["customer_id"].is_null()),
        "some authors are unlinked"
    );
    // Every customer role occurs in the organisation.
    let mut roles = std::collections::HashSet::new();
    for n in 0..500 {
        let c = get(&format!("/v1/customers/cu_{n:04}"))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        for r in c["roles"].as_array().unwrap() {
            roles.insert(r.as_str().unwrap().to_string());
        }
        if roles.len() == 4 {
            break;
        }
    }
    assert_eq!(roles.len(), 4, "{roles:?}");
    // A second start reuses the database instead of seeding again.
    server.shutdown().await;
    let mut config =
        earshot::server::ServerConfig::new(db.url.clone(), "127.0.0.1:0".parse().unwrap());
    config.demo = true;
    config.sim_per_minute = 0.0;
    let again = earshot::server::start(config).await.unwrap();
    assert_eq!(again.store.feedback_count().await.unwrap(), 3000);
    again.shutdown().await;
}
