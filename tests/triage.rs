//! Triage over HTTP: the care model at intake, agents' corrections (audited, learned, re-routing
//! priority/SLA and customer roles) and the organisation's model learning from them. Runs on
//! SQLite, or PostgreSQL with `EARSHOT_TEST_STORE=postgres`.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn correct(s: &TestServer, item: &Value, body: Value, token: &str) -> Reply {
    let id = item["id"].as_str().unwrap();
    let version = item["version"].as_i64().unwrap().to_string();
    s.call(
        Method::PATCH,
        &format!("/v1/feedback/{id}"),
        Some(token),
        Some(body),
        &[("If-Match", &version)],
    )
    .await
}

#[tokio::test]
async fn intake_triages_care_posts() {
    let s = start().await;
    let f = s
        .feedback(
            SAM,
            "email",
            "dana@example.com",
            "I was charged twice for order AC-123456. I want a refund for the duplicate payment please.",
        )
        .await;
    assert_eq!(f["sentiment_label"], "negative", "{f}");
    assert_eq!(f["kind"], "complaint");
    assert!(f["sentiment"].as_f64().unwrap() < -0.05);
    assert!(f["sentiment_confidence"].as_f64().unwrap() > 0.4);
    assert!(!f["cues"].as_array().unwrap().is_empty());
    assert_eq!(f["corrected"], false);
    let tip = s
        .feedback(
            SAM,
            "forum",
            "@helper",
            "Had the same problem with mine: hold the power button for 10 seconds. Worked for me.",
        )
        .await;
    assert_eq!(tip["kind"], "tip", "{tip}");
    assert_ne!(tip["sentiment_label"], "negative");
    assert_eq!(tip["priority"], "low");
    let legal = s
        .feedback(
            SAM,
            "email",
            "eve@example.com",
            "Refund me now or my lawyer takes legal action",
        )
        .await;
    assert_eq!(legal["urgency"], json!(["legal"]));
    assert_eq!(legal["priority"], "urgent");
    // Stored and read back the same.
    let read = s
        .get(&format!("/v1/feedback/{}", f["id"].as_str().unwrap()), SAM)
        .await;
    assert_eq!(read.body["feedback"]["cues"], f["cues"], "{}", read.body);
    s.stop().await;
}

#[tokio::test]
async fn agents_correct_the_label_with_if_match() {
    let s = start().await;
    // Neutral questions by Ben on X: no detractor yet.
    let mut items = Vec::new();
    for n in 0..3 {
        let f = s
            .feedback(
                SAM,
                "x",
                "@ben",
                &format!("Do you ship order {n} to Norway?"),
            )
            .await;
        assert_ne!(f["sentiment_label"], "negative", "{f}");
        items.push(f);
    }
    let ben = s.get("/v1/customers/cu_ben", SAM).await;
    assert!(!ben.body["roles"]
        .as_array()
        .unwrap()
        .contains(&json!("detractor")));

    let id = items[0]["id"].as_str().unwrap();
    let no_match = s
        .call(
            Method::PATCH,
            &format!("/v1/feedback/{id}"),
            Some(SAM),
            Some(json!({"sentiment_label": "negative"})),
            &[],
        )
        .await;
    assert_problem(&no_match, StatusCode::PRECONDITION_REQUIRED);
    let bad = correct(&s, &items[0], json!({"sentiment_label": "furious"}), SAM).await;
    assert_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY);
    let stale = s
        .call(
            Method::PATCH,
            &format!("/v1/feedback/{id}"),
            Some(SAM),
            Some(json!({"sentiment_label": "negative"})),
            &[("If-Match", "99")],
        )
        .await;
    assert!(stale.status.is_client_error(), "{}", stale.body);

    for item in &items {
        let r = correct(
            &s,
            item,
            json!({"sentiment_label": "negative", "kind": "complaint"}),
            SAM,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["sentiment_label"], "negative");
        assert_eq!(r.body["kind"], "complaint");
        assert_eq!(r.body["corrected"], true);
        assert_eq!(r.body["sentiment_confidence"], 1.0);
        assert!(r.body["sentiment"].as_f64().unwrap() < -0.05);
        // Routing re-derived: a negative post on X is high priority, with its SLA.
        assert_eq!(r.body["priority"], "high", "{}", r.body);
        assert_eq!(r.body["version"], item["version"].as_i64().unwrap() + 1);
    }
    // The customer's roles follow the corrected tone.
    let ben = s.get("/v1/customers/cu_ben", SAM).await;
    assert!(
        ben.body["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("detractor")),
        "{}",
        ben.body
    );
    // Each correction is a training example and is audited.
    assert_eq!(
        s.store().triage_correction_count("default").await.unwrap(),
        3
    );
    let model = s.get("/v1/triage/model", SAM).await;
    assert_eq!(model.status, StatusCode::OK);
    assert_eq!(model.body["corrections"], 3);
    assert_problem(
        &s.get("/v1/triage/model", ALICE).await,
        StatusCode::FORBIDDEN,
    );
    s.stop().await;
}

#[tokio::test]
async fn the_organisation_model_learns_from_corrections() {
    let s = start().await;
    // This organisation's customers say "zorp" of a delightful experience; the built-in model
    // does not know the word.
    let probe = "zorp zorp with the blender";
    let before = s.feedback(SAM, "email", "p0@example.com", probe).await;
    assert_ne!(before["sentiment_label"], "positive", "{before}");
    let model = s.get("/v1/triage/model", SAM).await;
    assert_eq!(model.body["corrections"], 0);
    assert!(model.body["prequential_accuracy"].is_null());
    for n in 0..12 {
        let f = s
            .feedback(
                SAM,
                "email",
                &format!("c{n}@example.com"),
                &format!("zorp zorp about order {n}"),
            )
            .await;
        let r = correct(&s, &f, json!({"sentiment_label": "positive"}), SAM).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let after = s.feedback(SAM, "email", "p1@example.com", probe).await;
    assert_eq!(after["sentiment_label"], "positive", "{after}");
    let model = s.get("/v1/triage/model", SAM).await;
    assert_eq!(model.body["corrections"], 12);
    let acc = model.body["prequential_accuracy"].as_f64().unwrap();
    // Scored before learning: the first corrections were misses, the later ones hits.
    assert!(acc > 0.3 && acc < 1.0, "{acc}");
    // The server stores the model moments after learning (off the request), so another
    // instance on the same store loads it: within the 5 s the issue allows.
    let engine = earshot::server::triage::TriageEngine::new();
    assert_ne!(
        engine.classify(probe).label,
        earshot::domain::SentimentLabel::Positive
    );
    let taught = std::time::Instant::now();
    while engine.status().corrections < 12 && taught.elapsed() < std::time::Duration::from_secs(5) {
        engine.refresh(s.store()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(engine.status().corrections, 12);
    assert_eq!(
        engine.classify(probe).label,
        earshot::domain::SentimentLabel::Positive
    );
    s.stop().await;
}

/// Two instances on one database (the team set-up, on PostgreSQL in CI): what agents teach one
/// instance is used for items arriving at the other within 5 seconds (the refresher runs every 2).
#[tokio::test]
async fn a_correction_on_one_instance_is_used_by_another_within_five_seconds() {
    let a = start().await;
    let b = start_on(a.db.second_handle()).await;
    let probe = "blorf blorf with the kettle";
    let before = b.feedback(SAM, "email", "q0@example.com", probe).await;
    assert_ne!(before["sentiment_label"], "positive", "{before}");
    for n in 0..12 {
        let f = a
            .feedback(
                SAM,
                "email",
                &format!("k{n}@example.com"),
                &format!("blorf blorf about order {n}"),
            )
            .await;
        let r = correct(&a, &f, json!({"sentiment_label": "positive"}), SAM).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let taught = std::time::Instant::now();
    let mut n = 0;
    let label = loop {
        n += 1;
        let f = b
            .feedback(SAM, "email", &format!("q{n}@example.com"), probe)
            .await;
        if f["sentiment_label"] == "positive"
            || taught.elapsed() > std::time::Duration::from_secs(5)
        {
            break f["sentiment_label"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(
        label, "positive",
        "instance B still scores the probe as {label} 5 s after the corrections on A"
    );
    let model = b.get("/v1/triage/model", SAM).await;
    assert_eq!(model.body["corrections"], 12, "{}", model.body);
    b.stop().await;
    a.stop().await;
}

/// Two instances learn at the same time: the one that stores second finds the other's model,
/// learns its own pending corrections again on top, and stores both; nothing is lost.
#[tokio::test]
async fn concurrent_learning_on_two_instances_keeps_every_correction() {
    use earshot::domain::SentimentLabel;
    use earshot::server::triage::TriageEngine;
    let s = start().await;
    let (a, b) = (TriageEngine::new(), TriageEngine::new());
    // Whatever the server itself stored first (nothing: no correction went through it).
    a.refresh(s.store()).await.unwrap();
    b.refresh(s.store()).await.unwrap();
    a.learn("quux quux with the toaster", SentimentLabel::Positive);
    b.learn("the toaster is fine", SentimentLabel::Neutral);
    b.learn("the toaster is fine again", SentimentLabel::Neutral);
    b.save(s.store()).await.unwrap();
    // A's save meets B's version: reload, learn A's one correction again on top, store.
    a.save(s.store()).await.unwrap();
    assert_eq!(a.status().corrections, 3);
    let c = TriageEngine::new();
    c.refresh(s.store()).await.unwrap();
    assert_eq!(c.status().corrections, 3);
    assert_eq!(c.status().version, 2);
    // B catches up with what A stored; nothing of its own is pending any more.
    b.refresh(s.store()).await.unwrap();
    assert_eq!(b.status().corrections, 3);
    s.stop().await;
}
