//! Authorization, table-driven over every route of the API (`earshot::server::api::ROUTES`, the
//! table the router is built from): an agent of each department against the objects of every
//! other department. A route added without a case here fails the test, so a new route cannot
//! ship without its department check being exercised.
//!
//! Each department gets an item (with a secret in its text), a private reply (with a secret in
//! its body), an author identity seen only there, and history entries on a shared customer.
//! Nothing another department's agent does may answer 2xx where it must not, show a secret or
//! an id of the other department, or change the other department's objects.

mod common;

use common::*;
use earshot::domain::AgentRole;
use earshot::server::api::ROUTES;
use earshot::server::store::NewAgent;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DEPARTMENTS: [&str; 5] = ["support", "billing", "shipping", "finance", "social"];

/// What one department owns in the test organisation.
struct Owned {
    department: &'static str,
    /// The department's agent (whose token is `token`).
    agent: String,
    token: String,
    item: String,
    message: String,
    /// The author of a second item of the department, linked to no customer.
    stranger: String,
    stranger_item: String,
    external_id: String,
    secret: String,
    private: String,
}

async fn token_of(s: &TestServer, department: &'static str) -> String {
    match department {
        "support" => ALICE.to_string(),
        "billing" => BILAL.to_string(),
        other => {
            let token = format!("tok_{other}_agent");
            s.store()
                .add_agent_with_token(
                    &format!("ag_{other}"),
                    NewAgent {
                        name: other,
                        role: AgentRole::Agent,
                        departments: &[other.to_string()],
                        scopes: None,
                    },
                    &token,
                )
                .await
                .unwrap();
            token
        }
    }
}

/// A post that routing (rules/routing.toml) sends to `department`: channel and text.
fn routed_to(department: &str) -> (&'static str, &'static str) {
    match department {
        "billing" => ("webchat", "I want a refund"),
        "shipping" => ("webchat", "where is my parcel"),
        "finance" => ("webchat", "a question about my savings"),
        "social" => ("x", "love the new kettle, great job, thank you!"),
        _ => ("webchat", "my kettle is broken"),
    }
}

/// Posts (as the admin) a new item that routing sends to `department`.
async fn post_in(
    s: &TestServer,
    department: &str,
    handle: &str,
    text: &str,
    ext: Option<&str>,
) -> Value {
    let (channel, words) = routed_to(department);
    let r = s
        .post(
            "/v1/feedback",
            SAM,
            json!({"channel": channel, "author_handle": handle,
                   "text": format!("{text}: {words}"), "external_id": ext}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["department"], department, "{}", r.body);
    r.body
}

/// An item in `department`, linked to the shared customer `cu_ann`, with a private reply; and a
/// second item whose author is linked to no customer.
async fn own(s: &TestServer, department: &'static str) -> Owned {
    let token = token_of(s, department).await;
    let secret = format!("SECRET-{department}-post");
    let private = format!("PRIVATE-{department}-reply");
    let external_id = format!("ext-{department}");
    let first = post_in(
        s,
        department,
        &format!("@visitor_{department}"),
        &secret,
        Some(&external_id),
    )
    .await;
    let item = first["id"].as_str().unwrap().to_string();
    let identity = first["author"]["id"].as_str().unwrap().to_string();
    let linked = s
        .post(
            &format!("/v1/identities/{identity}/link"),
            SAM,
            json!({"customer_id": "cu_ann"}),
        )
        .await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
    let reply = s
        .reply(
            &item,
            SAM,
            &format!("setup-{department}"),
            json!({"parts": [{"visibility": "direct", "body": format!("{private}: we are on it")}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let message = reply.body["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = post_in(
        s,
        department,
        &format!("@stranger_{department}"),
        &secret,
        None,
    )
    .await;
    let stranger_item = second["id"].as_str().unwrap().to_string();
    let agent = match department {
        "support" => "ag_alice".to_string(),
        "billing" => "ag_bilal".to_string(),
        other => format!("ag_{other}"),
    };
    Owned {
        department,
        agent,
        token,
        item,
        message,
        stranger: second["author"]["id"].as_str().unwrap().to_string(),
        stranger_item,
        external_id,
        secret,
        private,
    }
}

/// What a route must answer when an agent aims it at another department's objects.
enum Expect {
    /// Refused with this status.
    Status(StatusCode),
    /// Allowed (shared data, or the caller's own view), but without the other's data.
    Shared,
    /// `POST /v1/replies`: 200 overall, and the item refused as not found.
    BulkItemNotFound,
}

struct Case {
    path: String,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    expect: Expect,
}

fn case(method: &Method, path: &str, other: &Owned) -> Option<Case> {
    use Expect::*;
    let item = &other.item;
    let plain = |path: String, expect| Case {
        path,
        body: None,
        headers: vec![],
        expect,
    };
    let c = match (method.as_str(), path) {
        ("GET", "/v1/health" | "/v1/openapi.json" | "/v1/me" | "/v1/agents")
        | ("GET", "/v1/departments" | "/v1/rules") => plain(path.to_string(), Shared),
        // The caller's own availability: allowed, and it says "available" as it already is.
        ("PATCH", "/v1/me") => Case {
            path: path.to_string(),
            body: Some(json!({"availability": "available"})),
            headers: vec![],
            expect: Shared,
        },
        // Another department's agent: only admins and that department's supervisors.
        ("PATCH", "/v1/agents/{id}") => Case {
            path: format!("/v1/agents/{}", other.agent),
            body: Some(json!({"availability": "away"})),
            headers: vec![],
            expect: Status(StatusCode::FORBIDDEN),
        },
        // Set-up and the audit log are not for agents at all.
        ("POST", "/v1/departments") => Case {
            path: path.to_string(),
            body: Some(json!({"id": format!("{}-annex", other.department)})),
            headers: vec![],
            expect: Status(StatusCode::FORBIDDEN),
        },
        ("GET", "/v1/audit") => plain(
            format!("/v1/audit?object={}", other.item),
            Status(StatusCode::FORBIDDEN),
        ),
        ("GET", "/v1/feedback") => plain(
            format!("/v1/feedback?department={}", other.department),
            Status(StatusCode::NOT_FOUND),
        ),
        ("POST", "/v1/feedback") => Case {
            path: path.to_string(),
            body: Some(json!({"channel": "forum", "author_handle": "@intruder",
                              "text": "joining your thread", "thread_id": item})),
            headers: vec![],
            expect: Status(StatusCode::UNPROCESSABLE_ENTITY),
        },
        ("GET", "/v1/feedback/{id}") => {
            plain(format!("/v1/feedback/{item}"), Status(StatusCode::NOT_FOUND))
        }
        ("PATCH", "/v1/feedback/{id}") => Case {
            path: format!("/v1/feedback/{item}"),
            body: Some(json!({"status": "resolved"})),
            headers: vec![("If-Match", "1".into())],
            expect: Status(StatusCode::NOT_FOUND),
        },
        ("POST", "/v1/feedback/{id}/replies") => Case {
            path: format!("/v1/feedback/{item}/replies"),
            body: Some(json!({"parts": [{"visibility": "direct", "body": "hello"}]})),
            headers: vec![("Idempotency-Key", format!("intrude-{item}"))],
            expect: Status(StatusCode::NOT_FOUND),
        },
        ("POST", "/v1/feedback/{id}/presence") => Case {
            path: format!("/v1/feedback/{item}/presence"),
            body: Some(json!({"state": "composing"})),
            headers: vec![],
            expect: Status(StatusCode::NOT_FOUND),
        },
        // Signed by a source, never opened by a bearer token: an agent's token joining the other
        // department's thread through that department's own source is unauthenticated.
        ("POST", "/v1/intake/{source}") => Case {
            path: format!("/v1/intake/tool-{}", other.department),
            body: Some(json!({"channel": "forum", "author_handle": "@intruder",
                              "text": "joining your thread", "thread_id": item})),
            headers: vec![],
            expect: Status(StatusCode::UNAUTHORIZED),
        },
        ("POST", "/v1/replies") => Case {
            path: path.to_string(),
            body: Some(json!({"feedback_ids": [item],
                              "parts": [{"visibility": "direct", "body": "hello all"}]})),
            headers: vec![("Idempotency-Key", format!("bulk-intrude-{item}"))],
            expect: BulkItemNotFound,
        },
        ("GET", "/v1/messages/{id}/attempts") => plain(
            format!("/v1/messages/{}/attempts", other.message),
            Status(StatusCode::NOT_FOUND),
        ),
        ("GET", "/v1/customers") => plain("/v1/customers?q=ann".into(), Shared),
        ("GET", "/v1/customers/{id}") => plain("/v1/customers/cu_ann".into(), Shared),
        ("GET", "/v1/customers/{id}/history") => {
            plain("/v1/customers/cu_ann/history".into(), Shared)
        }
        ("GET", "/v1/customers/{id}/transactions") => {
            plain("/v1/customers/cu_ann/transactions".into(), Shared)
        }
        ("POST", "/v1/identities/{id}/link") => Case {
            path: format!("/v1/identities/{}/link", other.stranger),
            body: Some(json!({"customer_id": "cu_ben"})),
            headers: vec![],
            expect: Status(StatusCode::NOT_FOUND),
        },
        // The triage model is the organisation's, for supervisors and admins only.
        ("GET", "/v1/triage/model") => plain(path.to_string(), Status(StatusCode::FORBIDDEN)),
        // Customer records are shared, but only supervisors and admins change them.
        ("POST", "/v1/customers") => Case {
            path: path.to_string(),
            body: Some(json!({"first_name": "Intruder", "emails": ["i@example.org"]})),
            headers: vec![],
            expect: Status(StatusCode::FORBIDDEN),
        },
        ("POST", "/v1/customers/import") => Case {
            path: format!("{path}?kind=customers&format=jsonl"),
            body: Some(json!({"external_id": "intruder", "name": "In Truder"})),
            headers: vec![],
            expect: Status(StatusCode::FORBIDDEN),
        },
        ("PATCH", "/v1/customers/{id}") => Case {
            path: "/v1/customers/cu_ann".into(),
            body: Some(json!({"tier": "bronze"})),
            headers: vec![],
            expect: Status(StatusCode::FORBIDDEN),
        },
        ("POST", "/v1/customers/{id}/merge") => Case {
            path: "/v1/customers/cu_ann/merge".into(),
            body: Some(json!({"from": "cu_ben"})),
            headers: vec![],
            expect: Status(StatusCode::FORBIDDEN),
        },
        // An identity seen only in another department is not found, like for linking.
        ("DELETE", "/v1/identities/{id}/link") => plain(
            format!("/v1/identities/{}/link", other.stranger),
            Status(StatusCode::NOT_FOUND),
        ),
        ("GET", "/v1/identities/{id}/matches") => plain(
            format!("/v1/identities/{}/matches", other.stranger),
            Status(StatusCode::NOT_FOUND),
        ),
        // The team's measures are for supervisors and admins (a supervisor of another
        // department is checked on its own below).
        ("GET", "/v1/metrics/summary") => plain(
            format!("{path}?department={}", other.department),
            Status(StatusCode::FORBIDDEN),
        ),
        // The event stream is checked on its own below (it does not end by itself).
        ("GET", "/v1/events") => return None,
        (m, p) => panic!(
            "no authorization case for {m} {p}: add one to tests/server_authz.rs before shipping the route"
        ),
    };
    Some(c)
}

/// The other department's secrets and ids must not be in `text` (`allow` is what the caller
/// itself sent, such as the item id a bulk reply names).
fn assert_nothing_of(other: &Owned, text: &str, allow: &[&str], what: &str) {
    for needle in [
        &other.secret,
        &other.private,
        &other.item,
        &other.message,
        &other.stranger,
        &other.stranger_item,
    ] {
        if allow.contains(&needle.as_str()) {
            continue;
        }
        assert!(
            !text.contains(needle.as_str()),
            "{what}: the answer shows {needle} of {}: {text}",
            other.department
        );
    }
}

async fn snapshot(s: &TestServer, o: &Owned) -> Value {
    let d = s.get(&format!("/v1/feedback/{}", o.item), SAM).await;
    let second = s
        .get(&format!("/v1/feedback/{}", o.stranger_item), SAM)
        .await;
    json!({"feedback": d.body["feedback"], "thread": d.body["thread"], "second": second.body})
}

#[tokio::test]
async fn no_route_lets_an_agent_into_another_department() {
    let key = common::intake::key_dir();
    let path = key.path.clone();
    let s = start_with(test_db().await, move |c| c.intake_key = Some(path)).await;
    let mut owned = Vec::new();
    for d in DEPARTMENTS {
        owned.push(own(&s, d).await);
        // Each department's listening tool (the intake case aims at the other's).
        let name = format!("tool-{d}");
        common::intake::source(&s, &key.path, &name, None, Some(d)).await;
    }
    let before: Vec<Value> = futures::future::join_all(owned.iter().map(|o| snapshot(&s, o))).await;

    // The check can fail: each agent does see its own department's secret.
    for o in &owned {
        let mine = s.get(&format!("/v1/feedback/{}", o.item), &o.token).await;
        assert_eq!(mine.status, StatusCode::OK);
        assert!(mine.body.to_string().contains(&o.private), "{}", mine.body);
        let history = s.get("/v1/customers/cu_ann/history", &o.token).await;
        assert!(history.body.to_string().contains(&o.item));
    }

    let mut checked = 0;
    for me in &owned {
        for other in owned.iter().filter(|o| o.department != me.department) {
            for route in ROUTES {
                let path = route.full_path();
                let Some(c) = case(&route.method, &path, other) else {
                    continue;
                };
                let headers: Vec<(&str, &str)> =
                    c.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let r = s
                    .call(
                        route.method.clone(),
                        &c.path,
                        Some(&me.token),
                        c.body.clone(),
                        &headers,
                    )
                    .await;
                let what = format!(
                    "{} {} by {} against {}",
                    route.method, c.path, me.department, other.department
                );
                let text = r.body.to_string();
                // An answer may repeat what the caller sent (an id in "not found"), nothing else.
                let sent = format!("{} {}", c.path, c.body.clone().unwrap_or_default());
                let known = [other.item.as_str(), &other.message, &other.stranger];
                let echoed: Vec<&str> = known.into_iter().filter(|n| sent.contains(n)).collect();
                match c.expect {
                    Expect::Status(status) => {
                        assert_eq!(r.status, status, "{what}: {text}");
                    }
                    Expect::Shared => {
                        assert_eq!(r.status, StatusCode::OK, "{what}: {text}");
                    }
                    Expect::BulkItemNotFound => {
                        assert_eq!(r.status, StatusCode::OK, "{what}: {text}");
                        assert_eq!(r.body["results"][0]["status"], 404, "{what}: {text}");
                    }
                }
                assert_nothing_of(other, &text, &echoed, &what);
                checked += 1;
            }
            // The same external id as the other's item on its channel: the id is taken,
            // nothing is shown (external ids are per channel).
            let dup = s
                .post(
                    "/v1/feedback",
                    &me.token,
                    json!({"channel": routed_to(other.department).0, "author_handle": "@copycat",
                           "text": "same post id", "external_id": other.external_id}),
                )
                .await;
            assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.body);
            assert_nothing_of(other, &dup.body.to_string(), &[], "external_id");
            // The plain queue and the customer's queue show nothing of the other.
            for path in ["/v1/feedback", "/v1/feedback?customer=cu_ann"] {
                let r = s.get(path, &me.token).await;
                assert_eq!(r.status, StatusCode::OK);
                assert_nothing_of(other, &r.body.to_string(), &[], path);
            }
        }
    }
    assert_eq!(checked, 5 * 4 * (ROUTES.len() - 1));

    // Nothing of any department changed.
    let after: Vec<Value> = futures::future::join_all(owned.iter().map(|o| snapshot(&s, o))).await;
    assert_eq!(before, after);
    let agents = s.get("/v1/agents", SAM).await;
    assert!(
        !agents.body.to_string().contains("\"away\""),
        "nobody was set away: {}",
        agents.body
    );
    let departments = s.get("/v1/departments", SAM).await;
    assert!(
        !departments.body.to_string().contains("-annex"),
        "no department was created: {}",
        departments.body
    );

    // The event stream from the beginning shows each agent only its own department.
    for me in &owned {
        let mut events = subscribe(&s.base, &me.token, Some(0)).await;
        let mut seen = 0;
        while let Some((_, name, data)) = next_event(&mut events, 1).await {
            seen += 1;
            for other in owned.iter().filter(|o| o.department != me.department) {
                assert_nothing_of(other, &data.to_string(), &[], &format!("event {name}"));
            }
        }
        assert!(seen > 0, "{} saw no events at all", me.department);
    }
    s.stop().await;
}

/// A thread one of whose items was moved to another department: each department sees, and is
/// guarded against, only its own part of it.
#[tokio::test]
async fn a_thread_split_across_departments_shows_each_only_its_own() {
    let s = start().await;
    let root = post_in(&s, "support", "@first_poster", "the first post", None).await;
    let root_id = root["id"].as_str().unwrap();
    let joined = s
        .post(
            "/v1/feedback",
            SAM,
            json!({"channel": "webchat", "author_handle": "@second_poster",
                   "text": "SECRET-billing card 4111 and my refund", "thread_id": root_id}),
        )
        .await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.body);
    let joined_id = joined.body["id"].as_str().unwrap();
    assert_eq!(
        joined.body["department"], "support",
        "a post joins its thread's department"
    );
    let moved = s
        .call(
            Method::PATCH,
            &format!("/v1/feedback/{joined_id}"),
            Some(SAM),
            Some(json!({"department": "billing"})),
            &[("If-Match", &joined.body["version"].to_string())],
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let view = s.get(&format!("/v1/feedback/{root_id}"), ALICE).await;
    assert!(
        !view.body.to_string().contains("SECRET-billing"),
        "{}",
        view.body
    );
    let base = view.body["thread"][0]["id"].as_str().unwrap().to_string();
    // The stale-send guard counts only what Alice can see: the billing post is not "news".
    let reply = s
        .reply(
            root_id,
            ALICE,
            "split-thread",
            json!({"parts": [{"visibility": "direct", "body": "on it"}], "base_message_id": base}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert!(!reply.body.to_string().contains("SECRET-billing"));
    // And a message of the other department's part is no base of Alice's.
    let billing_view = s.get(&format!("/v1/feedback/{joined_id}"), BILAL).await;
    let billing_message = billing_view.body["thread"][0]["id"].as_str().unwrap();
    let r = s
        .reply(
            root_id,
            ALICE,
            "split-thread-2",
            json!({"parts": [{"visibility": "direct", "body": "again"}],
                        "base_message_id": billing_message}),
        )
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!r.body.to_string().contains("SECRET-billing"));
    s.stop().await;
}

/// Posting under a handle seen in another department does not let an agent relink that
/// department's items.
#[tokio::test]
async fn an_identity_that_wrote_elsewhere_is_linked_only_by_an_admin() {
    let s = start().await;
    let theirs = post_in(&s, "billing", "@shared_handle", "SECRET-billing-post", None).await;
    let identity = theirs["author"]["id"].as_str().unwrap().to_string();
    // Alice posts under the same handle in support: the identity is now "seen" there too.
    let mine = s
        .post(
            "/v1/feedback",
            ALICE,
            json!({"channel": "webchat", "author_handle": "@shared_handle", "text": "hello there"}),
        )
        .await;
    assert_eq!(mine.body["author"]["id"], identity.as_str());
    for (method, path, body) in [
        (
            Method::POST,
            format!("/v1/identities/{identity}/link"),
            Some(json!({"customer_id": "cu_ben"})),
        ),
        (
            Method::DELETE,
            format!("/v1/identities/{identity}/link"),
            None,
        ),
    ] {
        let r = s.call(method.clone(), &path, Some(ALICE), body, &[]).await;
        assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!r.body.to_string().contains("SECRET"), "{}", r.body);
    }
    let after = s
        .get(
            &format!("/v1/feedback/{}", theirs["id"].as_str().unwrap()),
            SAM,
        )
        .await;
    assert_eq!(after.body["feedback"]["customer_id"], Value::Null);
    assert_eq!(after.body["feedback"]["version"], theirs["version"]);
    // The admin sees both departments and may link.
    let r = s
        .post(
            &format!("/v1/identities/{identity}/link"),
            SAM,
            json!({"customer_id": "cu_ben"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    s.stop().await;
}

#[tokio::test]
async fn long_path_ids_are_refused_and_never_echoed() {
    let s = start().await;
    let long = "z".repeat(5_000);
    for path in [
        format!("/v1/feedback/{long}"),
        format!("/v1/customers/{long}/history"),
        format!("/v1/messages/{long}/attempts"),
    ] {
        let r = s.get(&path, ALICE).await;
        assert_problem(&r, StatusCode::BAD_REQUEST);
        assert!(!r.body.to_string().contains("zzzz"), "{}", r.body);
    }
    s.stop().await;
}

/// A supervisor's team summary counts and lists only their own departments' items: another
/// department's breached item, its excerpt, its agent's load and its latencies stay out, and
/// naming that department is "not found".
#[tokio::test]
async fn the_team_summary_shows_a_supervisor_only_their_departments() {
    let s = start().await;
    let mut owned = Vec::new();
    for d in DEPARTMENTS {
        owned.push(own(&s, d).await);
    }
    let supervisor = "tok_billing_supervisor";
    s.store()
        .add_agent_with_token(
            "ag_billing_lead",
            NewAgent {
                name: "Billing Lead",
                role: AgentRole::Supervisor,
                departments: &["billing".to_string()],
                scopes: None,
            },
            supervisor,
        )
        .await
        .unwrap();
    for window in ["1h", "24h", "7d", "30d"] {
        let r = s
            .get(&format!("/v1/metrics/summary?window={window}"), supervisor)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let text = r.body.to_string();
        // The check can fail: the supervisor's own department's item is counted.
        assert!(
            r.body["queue"].as_array().is_some_and(|q| !q.is_empty()),
            "{text}"
        );
        assert!(text.contains("\"billing\""), "{text}");
        for other in owned.iter().filter(|o| o.department != "billing") {
            assert_nothing_of(other, &text, &[], &format!("summary {window}"));
            assert!(
                !text.contains(&format!("\"{}\"", other.department)),
                "{text}"
            );
            assert!(!text.contains(&other.agent), "{}: {text}", other.agent);
        }
        let theirs = s
            .get("/v1/metrics/summary?department=support", supervisor)
            .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.body);
        assert_nothing_of(
            &owned[0],
            &theirs.body.to_string(),
            &[],
            "summary of support",
        );
    }
    // Counted: the billing items only (two of them, both awaiting an answer or answered).
    let r = s.get("/v1/metrics/summary", supervisor).await;
    let total: u64 = r.body["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2, "{}", r.body);
    // A read-only token of the supervisor reads the summary too (it changes nothing).
    let read_only = s
        .store()
        .add_token("ag_billing_lead", &[earshot::domain::Scope::Read], None)
        .await
        .unwrap();
    let r = s.get("/v1/metrics/summary", &read_only).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    s.stop().await;
}
