//! The live event stream over real HTTP: department scoping, resume with Last-Event-ID without a
//! gap or a duplicate (also across a real server process killed and started again on the same
//! database), and `stream.reset` when the resume point is gone.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn subscribers_see_their_departments_events_only() {
    let s = start().await;
    let mut alice = subscribe(&s.base, ALICE, None).await;
    let mut bilal = subscribe(&s.base, BILAL, None).await;
    let billing = s
        .feedback(SAM, "email", "ben@example.com", "refund my double charge")
        .await;
    let support = s
        .feedback(SAM, "webchat", "v", "how do I pair the plug")
        .await;
    let (_, name, data) = next_event(&mut alice, 5)
        .await
        .expect("alice gets an event");
    assert_eq!(name, "feedback.created");
    assert_eq!(
        data["data"]["id"], support["id"],
        "alice's first event is the support item, not the billing one"
    );
    let (_, name, data) = next_event(&mut bilal, 5)
        .await
        .expect("bilal gets an event");
    assert_eq!(name, "feedback.created");
    assert_eq!(data["data"]["id"], billing["id"]);
    // message.created of each item follows, still scoped.
    let (_, name, data) = next_event(&mut alice, 5).await.unwrap();
    assert_eq!(name, "message.created");
    assert_eq!(data["data"]["feedback_id"], support["id"]);
    assert!(
        next_event(&mut alice, 1).await.is_none(),
        "nothing of billing leaks to alice"
    );
    // Presence shows who is on an item.
    let r = s
        .post(
            &format!("/v1/feedback/{}/presence", support["id"].as_str().unwrap()),
            JONAS,
            json!({"state": "composing"}),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::NO_CONTENT);
    let (_, name, data) = next_event(&mut alice, 5).await.unwrap();
    assert_eq!(name, "presence.changed");
    assert_eq!(data["data"]["agent_name"], "Jonas");
    assert_eq!(data["data"]["state"], "composing");
    s.stop().await;
}

/// The ids of the `expected` events a stream should give (each waited for patiently, as CI
/// machines are slow), then of any surplus that comes within a second: a duplicate shows up
/// as a wrong count, not as a timeout.
async fn ids_until_quiet(
    stream: &mut (impl futures::Stream<Item = (i64, String, serde_json::Value)> + Unpin),
    expected: usize,
) -> Vec<i64> {
    let mut ids = Vec::new();
    while ids.len() < expected {
        match next_event(stream, 10).await {
            Some((id, _, _)) => ids.push(id),
            None => break,
        }
    }
    while let Some((id, _, _)) = next_event(stream, 1).await {
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn resuming_with_last_event_id_gives_every_later_event_once() {
    let s = start().await;
    let mut first = subscribe(&s.base, SAM, None).await;
    for i in 0..5 {
        s.feedback(SAM, "webchat", &format!("v{i}"), "kettle question")
            .await;
    }
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(next_event(&mut first, 5).await.unwrap().0);
    }
    drop(first);
    for i in 5..8 {
        s.feedback(SAM, "webchat", &format!("v{i}"), "kettle question")
            .await;
    }
    let mut resumed = subscribe(&s.base, SAM, Some(*ids.last().unwrap())).await;
    ids.extend(ids_until_quiet(&mut resumed, 16 - ids.len()).await);
    // 8 items x (feedback.created + message.created) = 16 events, each once, in order.
    assert_eq!(ids.len(), 16, "{ids:?}");
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "no gap, no duplicate: {ids:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_reply_streams_its_messages_then_the_item_in_order() {
    let s = start().await;
    let item = s
        .feedback(SAM, "x", "@ann", "my kettle is broken, please help")
        .await;
    let id = item["id"].as_str().unwrap();
    let mut stream = subscribe(&s.base, SAM, None).await;
    let body = json!({"parts": [
        {"visibility": "public", "body": "Sorry to hear that! We have sent you a DM."},
        {"visibility": "direct", "body": "Hi, a replacement is on its way."}
    ]});
    let r = s
        .call(
            reqwest::Method::POST,
            &format!("/v1/feedback/{id}/replies"),
            Some(SAM),
            Some(body),
            &[("Idempotency-Key", "order-1")],
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.body);
    let mut got = Vec::new();
    for _ in 0..3 {
        let (seq, name, data) = next_event(&mut stream, 10).await.expect("an event");
        got.push((seq, name, data));
    }
    let names: Vec<&str> = got.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["message.created", "message.created", "feedback.updated"]
    );
    assert!(
        got.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "consecutive sequence numbers"
    );
    assert_eq!(got[0].2["data"]["visibility"], "public");
    assert_eq!(got[1].2["data"]["visibility"], "direct");
    assert_eq!(got[2].2["data"]["status"], "answered");
    s.stop().await;
}

#[tokio::test]
async fn a_pruned_resume_point_gets_stream_reset() {
    let s = start().await;
    for i in 0..10 {
        s.feedback(SAM, "webchat", &format!("v{i}"), "kettle question")
            .await;
    }
    s.store().prune_events(4).await.unwrap();
    let mut stream = subscribe(&s.base, SAM, Some(1)).await;
    let (_, name, data) = next_event(&mut stream, 5).await.unwrap();
    assert_eq!(name, "stream.reset");
    assert_eq!(data["data"]["latest_seq"], 20);
    s.feedback(SAM, "webchat", "late", "kettle question").await;
    let (id, name, _) = next_event(&mut stream, 5).await.unwrap();
    assert_eq!((id, name.as_str()), (21, "feedback.created"));
    // A resume point that is still kept resumes normally.
    let mut kept = subscribe(&s.base, SAM, Some(18)).await;
    assert_eq!(next_event(&mut kept, 5).await.unwrap().0, 19);
    let bad = s
        .call(
            reqwest::Method::GET,
            "/v1/events",
            Some(SAM),
            None,
            &[("Last-Event-ID", "abc")],
        )
        .await;
    assert_eq!(bad.status, reqwest::StatusCode::BAD_REQUEST);
    s.stop().await;
}

async fn post(base: &str, i: usize) {
    post_feedback(base, SAM, "webchat", &format!("v{i}"), "kettle question").await;
}

#[tokio::test]
async fn resume_survives_a_killed_server_process() {
    // Seed the database, then run the real binary on it.
    let db = test_db().await;
    let seeded = start_on(db).await;
    let db = seeded.stop().await;
    let server = ServerProcess::spawn(&db.url, &[]).await;
    let mut stream = subscribe(&server.base, SAM, None).await;
    for i in 0..3 {
        post(&server.base, i).await;
    }
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(
            next_event(&mut stream, 5)
                .await
                .expect("event before the kill")
                .0,
        );
    }
    // Kill it mid-stream (SIGKILL: no graceful shutdown), then start again on the same database.
    server.kill();
    assert!(
        next_event(&mut stream, 2).await.is_none(),
        "the stream ends with the process"
    );
    let server = ServerProcess::spawn(&db.url, &[]).await;
    for i in 3..6 {
        post(&server.base, i).await;
    }
    let mut resumed = subscribe(&server.base, SAM, Some(*ids.last().unwrap())).await;
    ids.extend(ids_until_quiet(&mut resumed, 12 - ids.len()).await);
    assert_eq!(ids.len(), 12, "{ids:?}");
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "no gap, no duplicate across the restart: {ids:?}"
    );
    server.kill();
}
