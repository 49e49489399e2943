//! A real organisation on the reference server (issue 11, set-up half): departments and agents
//! from the command line and the API on a fresh database, availability, the audit read-out, and
//! routing that hands work only to people who can do it. Runs on SQLite, or on PostgreSQL with
//! EARSHOT_TEST_STORE=postgres.

mod common;

use common::*;
use earshot::domain::{AgentRole, Scope};
use earshot::server::store::NewAgent;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::process::{Command, Stdio};

/// Runs the real `earshot` binary: (exit code, stdout, stderr).
fn earshot(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_earshot"))
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

/// `earshot agent add` on `db`: (agent id, token).
fn agent_add(db: &str, name: &str, department: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "agent",
        "add",
        "--db",
        db,
        "--name",
        name,
        "--department",
        department,
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = earshot(&args);
    assert_eq!(code, 0, "agent add {name}: {err}");
    let id = out.split_whitespace().nth(1).expect("agent id").to_string();
    let token = out
        .lines()
        .find_map(|l| l.split("keep it safe): ").nth(1))
        .expect("token printed")
        .trim()
        .to_string();
    (id, token)
}

async fn patch(
    s: &TestServer,
    path: &str,
    token: &str,
    body: Value,
    version: Option<i64>,
) -> Reply {
    let v = version.map(|v| v.to_string());
    let headers: Vec<(&str, &str)> = v.iter().map(|v| ("If-Match", v.as_str())).collect();
    s.call(Method::PATCH, path, Some(token), Some(body), &headers)
        .await
}

/// Adds an agent with a known token to the running test organisation.
async fn add_agent(
    s: &TestServer,
    id: &str,
    role: AgentRole,
    department: &str,
    scopes: Option<&[Scope]>,
) -> String {
    let token = format!("tok_{id}");
    s.store()
        .add_agent_with_token(
            id,
            NewAgent {
                name: id,
                role,
                departments: &[department.to_string()],
                scopes,
            },
            &token,
        )
        .await
        .unwrap();
    token
}

fn audit_actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_fresh_organisation_is_set_up_from_the_command_line_and_routes_work() {
    let db = test_db().await;
    let url = db.url.clone();
    // Before: no department, so an agent cannot be added.
    let (code, _, err) = earshot(&[
        "agent",
        "add",
        "--db",
        &url,
        "--name",
        "Sam",
        "--department",
        "support",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown department"), "{err}");

    let (code, out, err) = earshot(&[
        "department",
        "add",
        "--db",
        &url,
        "support",
        "--name",
        "Support",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("department support (Support) created"),
        "{out}"
    );
    let (code, _, err) = earshot(&["department", "add", "--db", &url, "billing"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = earshot(&["department", "add", "--db", &url, "billing"]);
    assert_ne!(code, 0);
    assert!(err.contains("exists already"), "{err}");
    let (code, _, err) = earshot(&["department", "add", "--db", &url, "Bad Id"]);
    assert_ne!(code, 0);
    assert!(err.contains("not a department id"), "{err}");

    let (sam, sam_token) = agent_add(&url, "Sam", "support", &["--role", "admin"]);
    let (bea, bea_token) = agent_add(&url, "Bea", "billing", &[]);
    let (sid, _) = agent_add(&url, "Sid", "support", &[]);

    let server = ServerProcess::spawn(&url, &[]).await;
    let http = reqwest::Client::new();
    let me: Value = http
        .get(format!("{}/v1/me", server.base))
        .bearer_auth(&bea_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["agent"]["id"], bea.as_str());
    assert_eq!(me["agent"]["availability"], "available");
    let refund = post_feedback(
        &server.base,
        &sam_token,
        "webchat",
        "visitor",
        "I want a refund",
    )
    .await;
    assert_eq!(refund["department"], "billing");
    assert_eq!(refund["assignee"], bea.as_str(), "{refund}");
    let question = post_feedback(
        &server.base,
        &sam_token,
        "webchat",
        "visitor",
        "How do I reset it?",
    )
    .await;
    assert_eq!(question["department"], "support");
    assert_eq!(
        question["assignee"],
        sid.as_str(),
        "admins are not routed work: {question}"
    );
    server.kill();

    // Every set-up action is in the audit log, read back from the command line.
    let (code, out, err) = earshot(&["audit", "--db", &url, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    let of = |action: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| e["object"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(of("department.add"), ["billing", "support"], "newest first");
    assert_eq!(of("agent.add"), [sid.clone(), bea.clone(), sam.clone()]);
    assert_eq!(of("feedback.create").len(), 2);
    let (code, out, _) = earshot(&[
        "audit", "--db", &url, "--action", "agent.", "--object", &bea, "--format", "text",
    ]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains("agent.add") && lines[0].contains("Bea (agent) in billing"),
        "{out}"
    );
    let (_, out, _) = earshot(&["audit", "--db", &url, "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(out.trim(), "");
}

#[tokio::test]
async fn a_fresh_serve_prints_the_commands_that_set_it_up() {
    use std::io::BufRead;
    let db = test_db().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["serve", "--db", &db.url, "--listen", "127.0.0.1:0"])
        .env("EARSHOT_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("earshot serve starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut out = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !out.contains("--role admin") && std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.contains("earshot server listening on"), "{out}");
    assert!(out.contains("no organisation yet"), "{out}");
    assert!(
        out.contains(&format!(
            "earshot department add --db {} support --name Support",
            db.url
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("earshot department add --db {} billing", db.url)),
        "every department the routing rules name: {out}"
    );
    assert!(
        out.contains(&format!(
            "earshot agent add --db {} --name \"Your Name\" --department support --role admin",
            db.url
        )),
        "{out}"
    );
}

#[tokio::test]
async fn departments_are_created_by_admins_over_the_api_and_audited() {
    let s = start().await;
    let r = s
        .post(
            "/v1/departments",
            SAM,
            json!({"id": "returns", "name": "Returns"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body, json!({"id": "returns", "name": "Returns"}));
    let taken = s
        .post("/v1/departments", SAM, json!({"id": "returns"}))
        .await;
    assert_problem(&taken, StatusCode::CONFLICT);
    let bad = s
        .post("/v1/departments", SAM, json!({"id": "Returns EMEA"}))
        .await;
    assert_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"][0]["pointer"], "/id");
    let unknown = s
        .post("/v1/departments", SAM, json!({"id": "x", "colour": "red"}))
        .await;
    assert_problem(&unknown, StatusCode::UNPROCESSABLE_ENTITY);
    let agent = s
        .post("/v1/departments", ALICE, json!({"id": "mine"}))
        .await;
    assert_problem(&agent, StatusCode::FORBIDDEN);
    let list = s.get("/v1/departments", ALICE).await;
    assert!(list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == "returns"));
    assert!(!list.body.to_string().contains("\"mine\""));
    let audit = s.get("/v1/audit?action=department.add", SAM).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let items = audit.body["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "only the one that was created: {}",
        audit.body
    );
    assert_eq!(items[0]["actor"], "ag_sam");
    assert_eq!(items[0]["object"], "returns");
    assert_eq!(items[0]["outcome"], "ok");
    // The refusals are audited too (by the refusal audit).
    let refused = s.get("/v1/audit?action=POST%20/v1/departments", SAM).await;
    assert!(
        refused.body["items"].as_array().unwrap().len() >= 3,
        "{}",
        refused.body
    );
    s.stop().await;
}

#[tokio::test]
async fn the_audit_log_reads_back_with_filters_pages_and_roles() {
    let s = start().await;
    let sue = add_agent(&s, "ag_sue", AgentRole::Supervisor, "billing", None).await;
    let started = chrono::Utc::now();
    for (path, token, availability) in [
        ("/v1/me", ALICE, "away"),
        ("/v1/me", SAM, "away"),
        ("/v1/me", SAM, "available"),
        ("/v1/agents/ag_bilal", sue.as_str(), "away"),
    ] {
        let r = patch(&s, path, token, json!({"availability": availability}), None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_eq!(r.body["availability"], availability);
    }
    // A supervisor sets availability only for agents of their departments.
    let other = patch(
        &s,
        "/v1/agents/ag_alice",
        &sue,
        json!({"availability": "available"}),
        None,
    )
    .await;
    assert_problem(&other, StatusCode::FORBIDDEN);
    let agent = patch(
        &s,
        "/v1/agents/ag_jonas",
        ALICE,
        json!({"availability": "away"}),
        None,
    )
    .await;
    assert_problem(&agent, StatusCode::FORBIDDEN);
    let nobody = patch(
        &s,
        "/v1/agents/ag_nobody",
        SAM,
        json!({"availability": "away"}),
        None,
    )
    .await;
    assert_problem(&nobody, StatusCode::NOT_FOUND);
    let typo = patch(&s, "/v1/me", ALICE, json!({"availability": "gone"}), None).await;
    assert_problem(&typo, StatusCode::UNPROCESSABLE_ENTITY);
    let agents = s.get("/v1/agents", ALICE).await;
    let of = |id: &str| {
        agents.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()["availability"]
            .clone()
    };
    assert_eq!(of("ag_alice"), "away");
    assert_eq!(of("ag_bilal"), "away");
    assert_eq!(of("ag_jonas"), "available");
    assert_eq!(
        s.get("/v1/me", ALICE).await.body["agent"]["availability"],
        "away"
    );

    let all = s.get("/v1/audit?action=agent.availability", SAM).await;
    assert_eq!(all.status, StatusCode::OK);
    let objects: Vec<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["object"].as_str().unwrap())
        .collect();
    assert_eq!(
        objects,
        ["ag_bilal", "ag_sam", "ag_sam", "ag_alice"],
        "newest first"
    );
    let by_sue = s.get("/v1/audit?actor=ag_sue", SAM).await;
    // Newest first: her refused attempt on Alice, then her change of Bilal.
    assert_eq!(
        audit_actions(&by_sue.body),
        ["PATCH /v1/agents/{id}", "agent.availability"]
    );
    assert_eq!(by_sue.body["items"][0]["outcome"], "refused");
    assert_eq!(by_sue.body["items"][1]["detail"], "away");
    let on_sam = s.get("/v1/audit?object=ag_sam&action=agent.", SAM).await;
    assert_eq!(
        on_sam.body["items"].as_array().unwrap().len(),
        3,
        "add and two changes"
    );
    // `action` is a prefix, and LIKE wildcards in it are literal.
    let wild = s.get("/v1/audit?action=agent%25", SAM).await;
    assert_eq!(wild.body["items"], json!([]));

    // Pages: three of four, then the last one, nothing twice.
    let first = s
        .get("/v1/audit?action=agent.availability&limit=3", SAM)
        .await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = s
        .get(
            &format!("/v1/audit?action=agent.availability&limit=3&cursor={cursor}"),
            SAM,
        )
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["items"][0]["object"], "ag_alice");
    assert_eq!(second.body["next_cursor"], Value::Null);
    assert_problem(
        &s.get("/v1/audit?cursor=nonsense", SAM).await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &s.get("/v1/audit?since=yesterday", SAM).await,
        StatusCode::BAD_REQUEST,
    );

    // Time window: the set-up of the test organisation came before `started`.
    let since = started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let recent = s
        .get(&format!("/v1/audit?since={since}&action=agent."), SAM)
        .await;
    assert_eq!(
        recent.body["items"].as_array().unwrap().len(),
        4,
        "{}",
        recent.body
    );
    let before = s
        .get(&format!("/v1/audit?until={since}&action=agent."), SAM)
        .await;
    assert!(
        audit_actions(&before.body).iter().all(|a| a == "agent.add"),
        "{}",
        before.body
    );
    assert_eq!(
        audit_actions(&before.body).len(),
        5,
        "the seed's agents and Sue"
    );

    // Agents may not read it; a supervisor reads their departments' entries only.
    assert_problem(&s.get("/v1/audit", ALICE).await, StatusCode::FORBIDDEN);
    let billing_item = s.feedback(SAM, "webchat", "v1", "I want a refund").await;
    let support_item = s
        .feedback(SAM, "webchat", "v2", "my kettle is broken")
        .await;
    let returns = s
        .post("/v1/departments", SAM, json!({"id": "returns"}))
        .await;
    assert_eq!(returns.status, StatusCode::CREATED);
    let seen = s.get("/v1/audit?limit=500", &sue).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    let text = seen.body.to_string();
    assert!(
        text.contains("ag_bilal") && text.contains("ag_sue"),
        "{text}"
    );
    assert!(
        text.contains(billing_item["id"].as_str().unwrap()),
        "{text}"
    );
    assert!(!text.contains("ag_alice"), "support's agent: {text}");
    assert!(
        !text.contains(support_item["id"].as_str().unwrap()),
        "support's item: {text}"
    );
    s.stop().await;
}

/// A post that rules/routing.toml sends to shipping, where the test seed has no agents.
const SHIPPING: &str = "where is my parcel";

#[tokio::test]
async fn routing_skips_away_revoked_and_read_only_agents() {
    let s = start().await;
    let away = add_agent(&s, "ag_away", AgentRole::Agent, "shipping", None).await;
    add_agent(&s, "ag_gone", AgentRole::Agent, "shipping", None).await;
    add_agent(
        &s,
        "ag_wall",
        AgentRole::Agent,
        "shipping",
        Some(&[Scope::Read]),
    )
    .await;
    let r = patch(&s, "/v1/me", &away, json!({"availability": "away"}), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let (code, _, err) = earshot(&["agent", "revoke", "--db", &s.db.url, "--agent", "ag_gone"]);
    assert_eq!(code, 0, "{err}");
    for n in 0..3 {
        let item = s.feedback(SAM, "webchat", &format!("v{n}"), SHIPPING).await;
        assert_eq!(item["department"], "shipping");
        assert_eq!(item["assignee"], Value::Null, "{item}");
        let reason = item["unassigned_reason"].as_str().expect("a reason");
        assert!(reason.contains("nobody in 'shipping'"), "{reason}");
        assert!(reason.contains("1 away"), "{reason}");
        assert!(reason.contains("1 without an active token"), "{reason}");
        assert!(reason.contains("1 read-only"), "{reason}");
    }
    // The queue says so.
    let queue = s
        .get("/v1/feedback?department=shipping&assignee=unassigned", SAM)
        .await;
    let items = queue.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|f| f["unassigned_reason"].is_string()));
    for who in ["ag_away", "ag_gone", "ag_wall"] {
        let theirs = s.get(&format!("/v1/feedback?assignee={who}"), SAM).await;
        assert_eq!(theirs.body["items"], json!([]), "{who} got work");
    }
    // Back from the break: the next item is theirs, with no reason.
    patch(
        &s,
        "/v1/me",
        &away,
        json!({"availability": "available"}),
        None,
    )
    .await;
    let item = s.feedback(SAM, "webchat", "v9", SHIPPING).await;
    assert_eq!(item["assignee"], "ag_away");
    assert_eq!(item["unassigned_reason"], Value::Null);
    // An expired token counts like a revoked one.
    add_agent(&s, "ag_late", AgentRole::Agent, "billing", None).await;
    s.store()
        .set_token_expiry(
            "tok_ag_late",
            chrono::Utc::now() - chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    patch(
        &s,
        "/v1/agents/ag_bilal",
        SAM,
        json!({"availability": "away"}),
        None,
    )
    .await;
    let refund = s.feedback(SAM, "webchat", "v10", "I want a refund").await;
    assert_eq!(refund["assignee"], Value::Null, "{refund}");
    s.stop().await;
}

#[tokio::test]
async fn rerouting_assigns_in_the_new_department() {
    let s = start().await;
    let item = s.feedback(SAM, "webchat", "v", "my kettle is broken").await;
    assert_eq!(item["department"], "support");
    let path = format!("/v1/feedback/{}", item["id"].as_str().unwrap());
    let moved = patch(&s, &path, SAM, json!({"department": "billing"}), Some(1)).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["department"], "billing");
    assert_eq!(moved.body["assignee"], "ag_bilal");
    // Shipping has nobody who takes work: unassigned, and why.
    let moved = patch(&s, &path, SAM, json!({"department": "shipping"}), Some(2)).await;
    assert_eq!(moved.body["assignee"], Value::Null);
    assert_eq!(
        moved.body["unassigned_reason"],
        "department 'shipping' has no agents"
    );
    // Assigning someone by hand clears the reason.
    let moved = patch(
        &s,
        &path,
        SAM,
        json!({"department": "support", "assignee": "ag_jonas"}),
        Some(3),
    )
    .await;
    assert_eq!(moved.body["assignee"], "ag_jonas");
    assert_eq!(moved.body["unassigned_reason"], Value::Null);
    let routed = s.store().audit_entries("feedback.route").await.unwrap();
    assert_eq!(routed.len(), 2, "{routed:?}");
    s.stop().await;
}

fn due(item: &Value) -> chrono::DateTime<chrono::Utc> {
    item["sla_due_at"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn escalation_assigns_a_supervisor_and_tightens_the_sla() {
    let s = start().await;
    add_agent(&s, "ag_sue", AgentRole::Supervisor, "support", None).await;
    // Sue has open work already, so routing gives new items to Alice and Jonas first.
    for n in 0..3 {
        s.feedback(SAM, "webchat", &format!("w{n}"), "my kettle is broken")
            .await;
    }
    let item = s
        .feedback(SAM, "webchat", "v", "how do I descale my kettle")
        .await;
    assert_eq!(item["priority"], "normal");
    assert_ne!(item["assignee"], "ag_sue");
    let path = format!("/v1/feedback/{}", item["id"].as_str().unwrap());
    let before = chrono::Utc::now();
    let up = patch(&s, &path, ALICE, json!({"priority": "urgent"}), Some(1)).await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    assert_eq!(up.body["assignee"], "ag_sue");
    let hour = chrono::Duration::hours(1);
    assert!(due(&up.body) < due(&item), "the SLA is tighter");
    assert!(due(&up.body) >= before + hour - chrono::Duration::seconds(1));
    assert!(due(&up.body) <= chrono::Utc::now() + hour);
    // An item already urgent is not escalated again.
    let again = patch(
        &s,
        &path,
        ALICE,
        json!({"priority": "urgent", "status": "open"}),
        Some(2),
    )
    .await;
    assert_eq!(again.body["assignee"], "ag_sue");
    assert_eq!(again.body["sla_due_at"], up.body["sla_due_at"]);
    // Without a supervisor (billing has none) the item stays with its agent, still tightened.
    let refund = s.feedback(SAM, "webchat", "r", "I want a refund").await;
    let path = format!("/v1/feedback/{}", refund["id"].as_str().unwrap());
    let up = patch(&s, &path, BILAL, json!({"priority": "urgent"}), Some(1)).await;
    assert_eq!(up.body["assignee"], "ag_bilal");
    assert!(due(&up.body) <= chrono::Utc::now() + hour);
    let routed = s.store().audit_entries("feedback.route").await.unwrap();
    assert_eq!(routed.len(), 2, "{routed:?}");
    s.stop().await;
}

#[tokio::test]
async fn the_routing_file_says_how_much_escalation_tightens() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routing.toml");
    std::fs::write(
        &file,
        "default_department = \"support\"\n[escalation]\nsla_hours = 3\n",
    )
    .unwrap();
    let s = start_with(test_db().await, |c| c.routing = Some(file.clone())).await;
    let item = s.feedback(SAM, "webchat", "v", "a question").await;
    let path = format!("/v1/feedback/{}", item["id"].as_str().unwrap());
    let up = patch(&s, &path, SAM, json!({"priority": "urgent"}), Some(1)).await;
    let now = chrono::Utc::now();
    let three = chrono::Duration::hours(3);
    assert!(
        due(&up.body) <= now + three && due(&up.body) > now + three - chrono::Duration::minutes(1)
    );
    s.stop().await;
}
