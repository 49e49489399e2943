//! The signed intake for listening tools (`POST /v1/intake/{source}`, Standard Webhooks) over
//! real HTTP, on both stores: requests are signed by an implementation independent of the
//! server's (Python's `standardwebhooks` when `EARSHOT_PY_STANDARDWEBHOOKS` is set, else the
//! specification's scheme written out in `tests/common/intake.rs`, both checked against the
//! specification's vectors). Good, bad, missing and stale signatures; repeats by webhook id and
//! by (source, external id); thread joins by the parent's external id; external ids per channel;
//! revoked sources; the secret is no bearer token; the command line; and outbound webhooks that
//! say which post they answer.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use common::intake::*;
use common::*;
use earshot::domain::Channel;
use earshot::server::delivery::OutboundConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Test vectors of the Standard Webhooks specification and its reference libraries:
/// (secret, msg_id, timestamp, body, signature).
const VECTORS: [(&str, &str, i64, &str, &str); 2] = [
    (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        r#"{"test": 2432232314}"#,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ),
    (
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1649367553,
        r#"{"email":"test@example.com","username":"test_user"}"#,
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    ),
];

#[test]
fn the_test_signers_reproduce_the_specification_vectors() {
    for (secret, id, ts, body, expected) in VECTORS {
        assert_eq!(sign_by_the_spec(secret, id, ts, body), expected);
        if let Ok(python) = std::env::var("EARSHOT_PY_STANDARDWEBHOOKS") {
            assert_eq!(sign_with_python(&python, secret, id, ts, body), expected);
        }
    }
}

async fn start_intake(key: &KeyDir) -> TestServer {
    let path = key.path.clone();
    start_with(test_db().await, move |c| c.intake_key = Some(path)).await
}

/// A source: its name, default channel and department.
type Source<'a> = (&'a str, Option<Channel>, Option<&'a str>);

/// A server with an intake key and these sources; their secrets, in order.
async fn with_sources<const N: usize>(
    sources: [Source<'_>; N],
) -> (KeyDir, TestServer, [String; N]) {
    let key = key_dir();
    let s = start_intake(&key).await;
    let mut secrets = Vec::new();
    for (name, channel, department) in sources {
        secrets.push(source(&s, &key.path, name, channel, department).await);
    }
    let secrets = secrets.try_into().expect("one secret per source");
    (key, s, secrets)
}

fn post(ext: &str, text: &str) -> Value {
    json!({"author_handle": "@ann", "text": text, "external_id": ext,
           "url": format!("https://x.example/ann/status/{ext}")})
}

#[tokio::test]
async fn a_signed_post_is_taken_once_and_its_repeats_return_it() {
    let (_key, s, [secret]) =
        with_sources([("brandwatch", Some(Channel::X), Some("support"))]).await;
    let first = post_signed(
        &s,
        "brandwatch",
        &secret,
        "msg_1",
        &post("1001", "my kettle is broken"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let id = first.body["id"].as_str().unwrap().to_string();
    assert_eq!(first.body["channel"], "x", "the source's default channel");
    assert_eq!(
        first.body["department"], "support",
        "the source's department"
    );
    assert_eq!(
        first.body["customer_id"], "cu_ann",
        "auto-linked by the handle"
    );
    assert!(first.body["assignee"].is_string(), "routed: {}", first.body);
    let location = first.headers.get("location").unwrap().to_str().unwrap();
    assert_eq!(location, format!("/v1/feedback/{id}"));
    // The same webhook again (a retry, signed anew): the stored item, whatever the body says.
    let again = post_signed(&s, "brandwatch", &secret, "msg_1", &post("1002", "other")).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], id.as_str());
    // Another webhook with the same (source, external_id): the stored item.
    let repeat = post_signed(
        &s,
        "brandwatch",
        &secret,
        "msg_2",
        &post("1001", "my kettle is broken"),
    )
    .await;
    assert_eq!(repeat.status, StatusCode::OK, "{}", repeat.body);
    assert_eq!(repeat.body["id"], id.as_str());
    assert_eq!(s.store().feedback_count().await.unwrap(), 1);
    // It went through the intake path: audited, and streamed to the department.
    let audit = s.store().audit_entries("feedback.create").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].2, id);
    let mut events = subscribe(&s.base, ALICE, Some(0)).await;
    let mut created = 0;
    while let Some((_, name, data)) = next_event(&mut events, 1).await {
        if name == "feedback.created" && data["data"]["id"] == id.as_str() {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    s.stop().await;
}

#[tokio::test]
async fn bad_missing_and_stale_signatures_are_refused_and_store_nothing() {
    let (_key, s, [secret, other]) = with_sources([
        ("talkwalker", Some(Channel::X), None),
        ("other-tool", Some(Channel::X), None),
    ])
    .await;
    let body = post("2001", "where is my parcel").to_string();
    let ts = now();
    let t = ts.to_string();
    let good = sign(&secret, "msg_a", ts, &body);
    let refused = |r: &Reply, what: &str| {
        assert_problem(r, StatusCode::UNAUTHORIZED);
        assert!(
            r.body["detail"].as_str().unwrap().contains(what),
            "{what}: {}",
            r.body
        );
    };
    // Another source's secret, a changed body, another id.
    let wrong = sign(&other, "msg_a", ts, &body);
    let r = post_raw(
        &s,
        "talkwalker",
        &body,
        [Some("msg_a"), Some(&t), Some(&wrong)],
        None,
    )
    .await;
    refused(&r, "no webhook-signature entry matches");
    let changed = body.replace("parcel", "refund");
    let r = post_raw(
        &s,
        "talkwalker",
        &changed,
        [Some("msg_a"), Some(&t), Some(&good)],
        None,
    )
    .await;
    refused(&r, "matches");
    let r = post_raw(
        &s,
        "talkwalker",
        &body,
        [Some("msg_b"), Some(&t), Some(&good)],
        None,
    )
    .await;
    refused(&r, "matches");
    // Each header missing.
    let r = post_raw(&s, "talkwalker", &body, [None, Some(&t), Some(&good)], None).await;
    refused(&r, "webhook-id header is missing");
    let r = post_raw(
        &s,
        "talkwalker",
        &body,
        [Some("msg_a"), None, Some(&good)],
        None,
    )
    .await;
    refused(&r, "webhook-timestamp header is missing");
    let r = post_raw(
        &s,
        "talkwalker",
        &body,
        [Some("msg_a"), Some(&t), None],
        None,
    )
    .await;
    refused(&r, "webhook-signature header is missing");
    // Signed more than 5 minutes ago, or ahead: refused even with the right signature.
    // (Well past the 5 minutes: the server's clock may read a second later than ours.)
    for (when, what) in [(ts - 330, "in the past"), (ts + 330, "in the future")] {
        let sig = sign(&secret, "msg_a", when, &body);
        let w = when.to_string();
        let r = post_raw(
            &s,
            "talkwalker",
            &body,
            [Some("msg_a"), Some(&w), Some(&sig)],
            None,
        )
        .await;
        refused(&r, what);
    }
    // A specification vector is a correctly signed request of 2021: stale.
    let (_, id, vts, vbody, vsig) = VECTORS[0];
    let r = post_raw(
        &s,
        "talkwalker",
        vbody,
        [Some(id), Some(&vts.to_string()), Some(vsig)],
        None,
    )
    .await;
    refused(&r, "in the past");
    assert_eq!(s.store().feedback_count().await.unwrap(), 0);
    // The good one goes in; several signatures, one of them right, are fine too.
    let both = format!("v1,{} {good}", &wrong[3..]);
    let r = post_raw(
        &s,
        "talkwalker",
        &body,
        [Some("msg_a"), Some(&t), Some(&both)],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(s.store().feedback_count().await.unwrap(), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_revoked_source_is_refused_and_its_secret_is_no_bearer_token() {
    let (key, s, [secret]) = with_sources([("radian6", Some(Channel::Forum), None)]).await;
    for path in ["/v1/me", "/v1/feedback"] {
        let r = s.get(path, &secret).await;
        assert_problem(&r, StatusCode::UNAUTHORIZED);
    }
    let r = s
        .post(
            "/v1/feedback",
            &secret,
            json!({"channel": "forum", "author_handle": "a", "text": "hi"}),
        )
        .await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    // Nor does an agent's bearer token open the intake, with or without a signature.
    let body = post("3001", "hello").to_string();
    let r = post_raw(&s, "radian6", &body, [None, None, None], Some(SAM)).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    // An unknown source.
    let r = post_signed(&s, "nobody", &secret, "msg_1", &post("3001", "hello")).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    let ok = post_signed(&s, "radian6", &secret, "msg_1", &post("3001", "hello")).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert!(s.store().revoke_intake_source("radian6").await.unwrap());
    let r = post_signed(
        &s,
        "radian6",
        &secret,
        "msg_2",
        &post("3002", "hello again"),
    )
    .await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    assert!(r.body["detail"].as_str().unwrap().contains("revoked"));
    // A new source of the same name has a new secret; the old one stays refused.
    let renewed = source(&s, &key.path, "radian6", Some(Channel::Forum), None).await;
    assert_ne!(renewed, secret);
    let r = post_signed(&s, "radian6", &secret, "msg_3", &post("3003", "hello")).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    let r = post_signed(&s, "radian6", &renewed, "msg_3", &post("3003", "hello")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    s.stop().await;
}

#[tokio::test]
async fn parent_external_id_joins_the_thread_of_the_same_source_and_channel() {
    let (_key, s, [secret, other]) = with_sources([
        ("brandwatch", None, Some("support")),
        ("elsewhere", Some(Channel::X), Some("support")),
    ])
    .await;
    let on = |channel: &str, ext: &str, parent: Option<&str>| {
        let mut v = post(ext, "my kettle is broken");
        v["channel"] = json!(channel);
        if let Some(p) = parent {
            v["parent_external_id"] = json!(p);
        }
        v
    };
    let root = post_signed(&s, "brandwatch", &secret, "m1", &on("x", "500", None)).await;
    assert_eq!(root.status, StatusCode::CREATED, "{}", root.body);
    let root_id = root.body["id"].as_str().unwrap();
    let child = post_signed(
        &s,
        "brandwatch",
        &secret,
        "m2",
        &on("x", "501", Some("500")),
    )
    .await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.body);
    assert_eq!(child.body["thread_id"], root_id);
    // A reply to the reply joins the same thread.
    let grandchild = post_signed(
        &s,
        "brandwatch",
        &secret,
        "m3",
        &on("x", "502", Some("501")),
    )
    .await;
    assert_eq!(grandchild.body["thread_id"], root_id, "{}", grandchild.body);
    let detail = s.get(&format!("/v1/feedback/{root_id}"), ALICE).await;
    assert_eq!(
        detail.body["thread"].as_array().unwrap().len(),
        3,
        "{}",
        detail.body
    );
    // Not found: an unknown id, the same id on another channel, another source's post.
    for (who, whsec, item) in [
        ("brandwatch", &secret, on("x", "510", Some("nope"))),
        ("brandwatch", &secret, on("facebook", "511", Some("500"))),
        ("elsewhere", &other, on("x", "512", Some("500"))),
    ] {
        let r = post_signed(
            &s,
            who,
            whsec,
            &format!("{who}-{}", item["external_id"]),
            &item,
        )
        .await;
        assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r.body["errors"][0]["pointer"], "/parent_external_id",
            "{}",
            r.body
        );
    }
    // With thread_id too it is ambiguous.
    let mut both = on("x", "513", Some("500"));
    both["thread_id"] = json!(root_id);
    let r = post_signed(&s, "brandwatch", &secret, "m9", &both).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    // No default channel and none named.
    let r = post_signed(&s, "brandwatch", &secret, "m10", &post("514", "hi")).await;
    assert_eq!(r.body["errors"][0]["pointer"], "/channel", "{}", r.body);
    // POST /v1/feedback joins by the parent's external id on the same channel too.
    let logged = s
        .post(
            "/v1/feedback",
            ALICE,
            json!({"channel": "forum", "author_handle": "@bo",
               "text": "my kettle is broken", "external_id": "f-1"}),
        )
        .await;
    assert_eq!(logged.status, StatusCode::CREATED, "{}", logged.body);
    let answer = s
        .post(
            "/v1/feedback",
            ALICE,
            json!({"channel": "forum", "author_handle": "@cy",
               "text": "same here", "external_id": "f-2", "parent_external_id": "f-1"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(answer.body["thread_id"], logged.body["id"]);
    s.stop().await;
}

#[tokio::test]
async fn a_source_joins_only_threads_of_its_own_department() {
    let (_key, s, [billing, support]) = with_sources([
        ("billing-tool", Some(Channel::X), Some("billing")),
        ("support-tool", Some(Channel::X), Some("support")),
    ])
    .await;
    let theirs = post_signed(
        &s,
        "support-tool",
        &support,
        "s1",
        &post("700", "my kettle is broken"),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    let mut join = post("701", "me too");
    join["thread_id"] = theirs.body["id"].clone();
    let r = post_signed(&s, "billing-tool", &billing, "b1", &join).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!r.body.to_string().contains("kettle"));
    s.stop().await;
}

#[tokio::test]
async fn the_same_external_id_on_two_channels_or_two_sources_is_two_items() {
    let (_key, s, [secret, other]) = with_sources([
        ("brandwatch", None, Some("support")),
        ("talkwalker", Some(Channel::X), Some("support")),
    ])
    .await;
    let mut ids = std::collections::HashSet::new();
    for (channel, webhook) in [("x", "w1"), ("facebook", "w2")] {
        let mut item = post("42", "my kettle is broken");
        item["channel"] = json!(channel);
        let r = post_signed(&s, "brandwatch", &secret, webhook, &item).await;
        assert_eq!(r.status, StatusCode::CREATED, "{channel}: {}", r.body);
        ids.insert(r.body["id"].as_str().unwrap().to_string());
    }
    let r = post_signed(
        &s,
        "talkwalker",
        &other,
        "w1",
        &post("42", "my kettle is broken"),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "another source, same webhook id and post id: {}",
        r.body
    );
    ids.insert(r.body["id"].as_str().unwrap().to_string());
    // Over POST /v1/feedback: per channel, and apart from the sources' posts.
    for channel in ["x", "facebook"] {
        let r = s
            .post(
                "/v1/feedback",
                ALICE,
                json!({"channel": channel, "author_handle": "@ann",
                   "text": "my kettle is broken", "external_id": "42"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{channel}: {}", r.body);
        ids.insert(r.body["id"].as_str().unwrap().to_string());
        let again = s
            .post(
                "/v1/feedback",
                ALICE,
                json!({"channel": channel, "author_handle": "@ann",
                   "text": "my kettle is broken", "external_id": "42"}),
            )
            .await;
        assert_eq!(
            again.status,
            StatusCode::OK,
            "a retry on {channel}: {}",
            again.body
        );
        assert_eq!(again.body["id"], r.body["id"]);
    }
    assert_eq!(ids.len(), 5);
    assert_eq!(s.store().feedback_count().await.unwrap(), 5);
    s.stop().await;
}

#[tokio::test]
async fn a_server_with_another_key_file_says_so_instead_of_refusing_signatures() {
    let (_key, s, [secret]) = with_sources([("brandwatch", Some(Channel::X), None)]).await;
    let db = s.stop().await;
    let other_key = key_dir();
    let path = other_key.path.clone();
    let s = start_with(db, move |c| c.intake_key = Some(path)).await;
    let r = post_signed(&s, "brandwatch", &secret, "m1", &post("1", "hello")).await;
    assert_problem(&r, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!r.body.to_string().contains("whsec_"));
    s.stop().await;
}

#[tokio::test]
async fn the_command_line_adds_lists_and_revokes_sources_of_a_running_server() {
    let key = key_dir();
    let s = start_intake(&key).await;
    let db = s.db.url.clone();
    let key_path = key.path.to_string_lossy().into_owned();
    let (code, out, err) = earshot(&[
        "intake",
        "add",
        "--db",
        &db,
        "--name",
        "cli-tool",
        "--channel",
        "forum",
        "--department",
        "support",
        "--intake-key-file",
        &key_path,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let secret = printed_token(&out);
    assert!(secret.starts_with("whsec_"), "{out}");
    // The database holds no secret.
    let stored = format!("{:?}", s.store().intake_sources().await.unwrap());
    assert!(
        !stored.contains(secret.trim_start_matches("whsec_")),
        "{stored}"
    );
    let r = post_signed(
        &s,
        "cli-tool",
        &secret,
        "c1",
        &post("900", "my kettle is broken"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["channel"], "forum");
    let (code, out, _) = earshot(&["intake", "list", "--db", &db]);
    assert_eq!(code, 0);
    assert!(out.contains("cli-tool") && out.contains("live"), "{out}");
    let (code, out, err) = earshot(&["intake", "revoke", "--db", &db, "--name", "cli-tool"]);
    assert_eq!(code, 0, "{out}{err}");
    let r = post_signed(&s, "cli-tool", &secret, "c2", &post("901", "hello")).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    let (_, out, _) = earshot(&["intake", "list", "--db", &db]);
    assert!(out.contains("revoked"), "{out}");
    let (code, _, err) = earshot(&["intake", "revoke", "--db", &db, "--name", "cli-tool"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = earshot(&[
        "intake",
        "add",
        "--db",
        &db,
        "--name",
        "Bad Name",
        "--intake-key-file",
        &key_path,
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("not a source name"), "{err}");
    s.stop().await;
}

/// What a bridge received: the headers and body of each webhook.
#[derive(Default)]
struct Inbox(Mutex<Vec<(HeaderMap, String)>>);

async fn hook(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> AxStatus {
    let text = String::from_utf8_lossy(&body).into_owned();
    inbox.0.lock().unwrap().push((headers, text));
    AxStatus::OK
}

#[tokio::test]
async fn outbound_webhooks_say_which_post_they_answer_and_the_thread_root() {
    let inbox = Arc::new(Inbox::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let bridge_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let outbound = OutboundConfig::parse(&format!(
        "[retry]\nmax_attempts = 3\nbase_ms = 50\n[default]\nurl = \"http://{addr}/hook\"\nsecret = \"{bridge_secret}\"\n"
    ))
    .unwrap();
    let key = key_dir();
    let path = key.path.clone();
    let s = start_with(test_db().await, move |c| {
        c.intake_key = Some(path);
        c.outbound = Some(outbound);
    })
    .await;
    let secret = source(
        &s,
        &key.path,
        "brandwatch",
        Some(Channel::X),
        Some("support"),
    )
    .await;
    let root = post_signed(
        &s,
        "brandwatch",
        &secret,
        "m1",
        &post("800", "my kettle is broken"),
    )
    .await;
    let mut answer = post("801", "still broken, any news?");
    answer["parent_external_id"] = json!("800");
    let child = post_signed(&s, "brandwatch", &secret, "m2", &answer).await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.body);
    let child_id = child.body["id"].as_str().unwrap();
    let reply = s
        .reply(
            child_id,
            ALICE,
            "answer-801",
            json!({"parts": [{"visibility": "public", "body": "Sorry! We are on it."}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while inbox.0.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (headers, body) = inbox
        .0
        .lock()
        .unwrap()
        .first()
        .cloned()
        .expect("a webhook arrived");
    // Signed as the specification says, checked by the independent implementation.
    let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
    let ts: i64 = h("webhook-timestamp").parse().unwrap();
    assert_eq!(
        h("webhook-signature"),
        sign(bridge_secret, &h("webhook-id"), ts, &body)
    );
    let payload: Value = serde_json::from_str(&body).unwrap();
    let data = &payload["data"];
    assert_eq!(data["in_reply_to"]["feedback_id"], child_id);
    assert_eq!(data["in_reply_to"]["external_id"], "801");
    assert_eq!(
        data["in_reply_to"]["url"],
        "https://x.example/ann/status/801"
    );
    assert_eq!(data["thread_root"]["feedback_id"], root.body["id"]);
    assert_eq!(data["thread_root"]["external_id"], "800");
    assert_eq!(
        data["thread_root"]["url"],
        "https://x.example/ann/status/800"
    );
    s.stop().await;
}
