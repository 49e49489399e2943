//! Property-based fuzzing of request bodies against the real server over HTTP: arbitrary JSON
//! (and arbitrary bytes) sent to every route that takes a body must get a 2xx or a 4xx
//! problem+json answer, never a 5xx, and must never take the server down.
//!
//! The budget is a fixed number of cases per property (`PROPTEST_CASES`, default 64 here;
//! `.ci/run` sets it), so the run time is bounded and repeatable.

mod common;

use common::*;
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::OnceLock;

struct Shared {
    rt: tokio::runtime::Runtime,
    server: TestServer,
    item: String,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (server, item) = rt.block_on(async {
            let s = start().await;
            let item = s.feedback(SAM, "x", "@ann", "my kettle is broken").await;
            let id = item["id"].as_str().unwrap().to_string();
            (s, id)
        });
        Shared { rt, server, item }
    })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Arbitrary JSON, biased towards the shapes the API expects so that deep paths are reached.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop_oneof![
            Just("x"),
            Just("public"),
            Just("direct"),
            Just("pending"),
            Just("cu_ann"),
            Just("viewing"),
            Just("")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let keys = prop_oneof![
            Just("channel".to_string()),
            Just("text".to_string()),
            Just("author_handle".to_string()),
            Just("parts".to_string()),
            Just("visibility".to_string()),
            Just("body".to_string()),
            Just("overrides".to_string()),
            Just("status".to_string()),
            Just("assignee".to_string()),
            Just("customer_id".to_string()),
            Just("state".to_string()),
            "[a-z_]{1,12}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn routes(item: &str) -> Vec<(Method, String)> {
    vec![
        (Method::POST, "/v1/feedback".into()),
        (Method::PATCH, format!("/v1/feedback/{item}")),
        (Method::POST, format!("/v1/feedback/{item}/replies")),
        (Method::POST, format!("/v1/feedback/{item}/presence")),
        (Method::POST, "/v1/identities/id_stranger/link".into()),
    ]
}

async fn send(s: &TestServer, method: Method, path: &str, body: Vec<u8>) -> (StatusCode, String) {
    let resp = s
        .http
        .request(method, format!("{}{}", s.base, path))
        .bearer_auth(SAM)
        .header("content-type", "application/json")
        .header("If-Match", "1")
        .header("Idempotency-Key", format!("fuzz-{}", rand::random::<u64>()))
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, ct)
}

fn check(status: StatusCode, content_type: &str) -> Result<(), TestCaseError> {
    prop_assert!(!status.is_server_error(), "server error {status}");
    if status.is_client_error() {
        prop_assert_eq!(content_type, "application/problem+json");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_bodies_never_cause_a_server_error(value in json_value(), route in 0usize..5) {
        let sh = shared();
        let (method, path) = routes(&sh.item).swap_remove(route);
        let body = serde_json::to_vec(&value).unwrap();
        let (status, ct) = sh.rt.block_on(send(&sh.server, method, &path, body));
        check(status, &ct)?;
    }

    #[test]
    fn arbitrary_bytes_never_cause_a_server_error(bytes in prop::collection::vec(any::<u8>(), 0..512), route in 0usize..5) {
        let sh = shared();
        let (method, path) = routes(&sh.item).swap_remove(route);
        let (status, ct) = sh.rt.block_on(send(&sh.server, method, &path, bytes));
        check(status, &ct)?;
    }

    #[test]
    fn well_formed_replies_with_arbitrary_text_never_cause_a_server_error(text in "\\PC{0,300}", vis in prop_oneof![Just("public"), Just("direct")]) {
        let sh = shared();
        let body = serde_json::to_vec(&json!({"parts": [{"visibility": vis, "body": text}]})).unwrap();
        let path = format!("/v1/feedback/{}/replies", sh.item);
        let (status, ct) = sh.rt.block_on(send(&sh.server, Method::POST, &path, body));
        check(status, &ct)?;
    }
}
