//! `GET /v1/feedback/{id}` as the console's conversation view reads it, over real HTTP: each
//! message's author (identity and customer, or agent), the participants of a public thread with
//! their roles and who is new, and the list's thread size and author roles, scoped by
//! department. Decoded with the same types the console uses. Runs on PostgreSQL too when
//! EARSHOT_TEST_POSTGRES_URL is set.

mod common;

use common::*;
use earshot::domain::api::{FeedbackDetail, Page};
use earshot::domain::{Customer, Direction, Feedback};
use earshot::server::store::DepartmentScope;
use reqwest::StatusCode;
use serde_json::json;

async fn post(s: &TestServer, handle: &str, text: &str, thread: Option<&str>) -> Feedback {
    let mut body = json!({"channel": "x", "author_handle": handle, "text": text});
    if let Some(t) = thread {
        body["thread_id"] = json!(t);
    }
    let r = s.post("/v1/feedback", SAM, body).await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    serde_json::from_value(r.body).unwrap()
}

#[tokio::test]
async fn a_public_thread_names_every_author_and_its_participants_with_roles() {
    let s = start().await;
    let first = post(
        &s,
        "@ann",
        "My kettle stopped working again, this is useless.",
        None,
    )
    .await;
    assert_eq!(first.department, "support");
    let thread = first.thread_id.clone();
    post(
        &s,
        "@ben",
        "Same problem with mine, it is broken and nobody answers.",
        Some(&thread),
    )
    .await;
    post(
        &s,
        "@ann",
        "Still broken. Third time I write, terrible.",
        Some(&thread),
    )
    .await;
    // A colleague answers in public.
    let reply = s
        .reply(
            &first.id,
            ALICE,
            "conv-1",
            json!({"parts": [{"visibility": "public", "body": "Sorry, we are on it."}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    post(
        &s,
        "@stranger",
        "Had the same problem: hold the reset button for ten seconds. Worked for me.",
        Some(&thread),
    )
    .await;

    let r = s.get(&format!("/v1/feedback/{}", first.id), JONAS).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d: FeedbackDetail = serde_json::from_value(r.body).unwrap();
    assert_eq!(d.thread.len(), 5);
    assert_eq!(d.authors.len(), 5);
    for (m, a) in d.thread.iter().zip(&d.authors) {
        assert_eq!(m.id, a.message_id, "authors are in thread order");
    }
    assert_eq!(d.authors[0].identity_id.as_deref(), Some("id_ann_x"));
    assert_eq!(d.authors[0].customer_id.as_deref(), Some("cu_ann"));
    assert_eq!(d.authors[1].customer_id.as_deref(), Some("cu_ben"));
    let answer = d
        .thread
        .iter()
        .position(|m| m.direction == Direction::Outbound)
        .unwrap();
    assert_eq!(d.authors[answer].agent_id.as_deref(), Some("ag_alice"));
    assert_eq!(d.authors[answer].identity_id, None);
    assert_eq!(d.authors[4].identity_id.as_deref(), Some("id_stranger"));
    assert_eq!(d.authors[4].customer_id, None);

    let handles: Vec<&str> = d
        .participants
        .iter()
        .map(|p| p.identity.handle.as_str())
        .collect();
    assert_eq!(handles, ["@ann", "@ben", "@stranger"]);
    let (ann, ben, stranger) = (&d.participants[0], &d.participants[1], &d.participants[2]);
    assert!(ann.original_poster && !ann.new_to_thread);
    assert_eq!(ann.messages, 2);
    assert_eq!(ann.customer_name.as_deref(), Some("Ann Tester"));
    let profile: Customer =
        serde_json::from_value(s.get("/v1/customers/cu_ann", JONAS).await.body).unwrap();
    assert_eq!(
        ann.roles, profile.roles,
        "the customer's roles as the profile has them"
    );
    assert!(!ben.new_to_thread, "joined before the brand answered");
    assert!(stranger.new_to_thread, "joined after the brand answered");
    assert_eq!(stranger.customer_id, None);
    assert_eq!(d.feedback.thread_messages, 5);
    assert_eq!(d.feedback.author_roles, profile.roles);

    // The queue carries the thread's size too.
    let list: Page<Feedback> =
        serde_json::from_value(s.get("/v1/feedback?limit=50", JONAS).await.body).unwrap();
    let row = list.items.iter().find(|f| f.id == first.id).unwrap();
    assert_eq!(row.thread_messages, 5);
    assert_eq!(row.author_roles, profile.roles);

    // Another department sees neither the item nor its people.
    let other = s.get(&format!("/v1/feedback/{}", first.id), BILAL).await;
    assert_problem(&other, StatusCode::NOT_FOUND);

    // The item's read takes the thread and its authors from one statement: what the two
    // reads it replaced answer, in every scope.
    let store = s.store();
    for (scope, n) in [
        (DepartmentScope::All, 5),
        (DepartmentScope::only(&["support".into()]), 5),
        (DepartmentScope::only(&["billing".into()]), 0),
    ] {
        let (messages, authors) = store.thread_with_authors(&thread, &scope).await.unwrap();
        assert_eq!(messages.len(), n);
        assert_eq!(messages, store.thread(&thread, &scope).await.unwrap());
        assert_eq!(
            authors,
            store.thread_authors(&thread, &scope).await.unwrap()
        );
    }
}

#[tokio::test]
async fn a_direct_item_has_its_one_author_and_no_one_new() {
    let s = start().await;
    let r = s
        .post(
            "/v1/feedback",
            SAM,
            json!({"channel": "email", "author_handle": "ann@example.com", "text": "My kettle is broken."}),
        )
        .await;
    let fb: Feedback = serde_json::from_value(r.body).unwrap();
    let d: FeedbackDetail =
        serde_json::from_value(s.get(&format!("/v1/feedback/{}", fb.id), SAM).await.body).unwrap();
    assert_eq!(d.authors.len(), 1);
    assert_eq!(d.participants.len(), 1);
    assert!(d.participants[0].original_poster && !d.participants[0].new_to_thread);
    assert_eq!(d.feedback.thread_messages, 1);
}
