//! The served OpenAPI document against the real server: every operation it documents is one
//! the router serves, 401s say how to authenticate, and every refusal (the extractors' too:
//! query string, path, JSON body, content type, size) is problem+json whose type has the one
//! status the problem table gives it, with a pointer where one part of the request is at fault.

mod common;

use common::*;
use earshot::server::error::ProblemType;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The problem type a problem+json answer names, checked against the table: the same type is
/// always answered with the same status.
fn problem_type_of(r: &Reply) -> &'static ProblemType {
    let ct = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "{} {}", r.status, r.body);
    let uri = r.body["type"].as_str().unwrap_or_default();
    let t = ProblemType::ALL
        .iter()
        .find(|t| t.uri() == uri)
        .unwrap_or_else(|| panic!("{uri} is no problem type of the table"));
    assert_eq!(r.status, t.status, "{uri} answered with {}", r.status);
    assert_eq!(r.body["status"], t.status.as_u16());
    t
}

fn pointers(r: &Reply) -> Vec<String> {
    r.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["pointer"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let s = start().await;
    let doc = s
        .call(Method::GET, "/v1/openapi.json", None, None, &[])
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    let paths = doc.body["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let concrete = path.replace("{id}", "no_such_id");
            let r = s.call(method.clone(), &concrete, None, None, &[]).await;
            let what = format!("{method} {path}: {} {}", r.status, r.body);
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
            assert_ne!(r.body["detail"], "no such route", "{what}");
            let public = item[method.as_str().to_lowercase()]["security"] == json!([{}]);
            if path.starts_with("/v1/intake/") {
                // No bearer token there: the source's signature is the credential.
                assert_eq!(problem_type_of(&r).slug, "invalid-signature", "{what}");
            } else if public {
                assert_eq!(r.status, StatusCode::OK, "{what}");
            } else {
                assert_eq!(problem_type_of(&r).slug, "unauthorized", "{what}");
            }
            operations += 1;
        }
    }
    assert_eq!(operations, earshot::server::api::ROUTES.len());
}

#[tokio::test]
async fn a_401_says_how_to_authenticate() {
    let s = start().await;
    let challenge = |r: &Reply| {
        r.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let none = s.call(Method::GET, "/v1/me", None, None, &[]).await;
    assert_eq!(problem_type_of(&none).slug, "unauthorized");
    assert_eq!(challenge(&none), "Bearer");
    let bad = s.get("/v1/me", "es_not_a_token").await;
    assert_eq!(problem_type_of(&bad).slug, "unauthorized");
    assert_eq!(challenge(&bad), "Bearer error=\"invalid_token\"");
    let events = s.get("/v1/events", "es_not_a_token").await;
    assert_eq!(challenge(&events), "Bearer error=\"invalid_token\"");
    // A valid token gets no challenge.
    let me = s.get("/v1/me", ALICE).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(challenge(&me), "");
}

#[tokio::test]
async fn extractor_refusals_are_problems_with_pointers() {
    let s = start().await;
    // Query string: the wrong type, out of range, unknown, a bad cursor.
    let r = s.get("/v1/feedback?limit=abc", ALICE).await;
    assert_eq!(problem_type_of(&r).slug, "bad-request");
    assert_eq!(pointers(&r), ["/limit"]);
    let r = s.get("/v1/feedback?limit=0", ALICE).await;
    assert_eq!(pointers(&r), ["/limit"]);
    let r = s.get("/v1/feedback?status=Open", ALICE).await;
    assert_eq!(problem_type_of(&r).slug, "bad-request");
    assert_eq!(pointers(&r), ["/status"]);
    let r = s.get("/v1/feedback?colour=red", ALICE).await;
    assert_eq!(problem_type_of(&r).slug, "bad-request");
    let r = s.get("/v1/feedback?cursor=nope", ALICE).await;
    assert_eq!(pointers(&r), ["/cursor"]);
    let r = s.get("/v1/customers?q=%20a%20", ALICE).await;
    assert_eq!(pointers(&r), ["/q"]);
    // Path: not UTF-8, too long.
    let r = s.get("/v1/feedback/%FF", ALICE).await;
    assert_eq!(problem_type_of(&r).slug, "bad-request");
    assert_eq!(pointers(&r), ["/id"]);
    let r = s
        .get(&format!("/v1/feedback/{}", "é".repeat(129)), ALICE)
        .await;
    assert_eq!(pointers(&r), ["/id"]);
    // 128 characters is an id (that names nothing), however many bytes they take.
    let r = s
        .get(&format!("/v1/feedback/{}", "é".repeat(128)), ALICE)
        .await;
    assert_eq!(problem_type_of(&r).slug, "not-found");
    // JSON bodies: content type, syntax, shape (with the pointer), a null that is no value.
    let r = s
        .http
        .post(format!("{}/v1/feedback", s.base))
        .bearer_auth(ALICE)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let r = reply_of(r).await;
    assert_eq!(problem_type_of(&r).slug, "unsupported-media-type");
    let r = s
        .http
        .post(format!("{}/v1/feedback", s.base))
        .bearer_auth(ALICE)
        .header("content-type", "application/json")
        .body("{\"channel\":")
        .send()
        .await
        .unwrap();
    assert_eq!(problem_type_of(&reply_of(r).await).slug, "bad-request");
    let r = s
        .post(
            "/v1/feedback",
            ALICE,
            json!({"channel": "Phone", "text": "hi", "author_handle": "Ann"}),
        )
        .await;
    assert_eq!(problem_type_of(&r).slug, "validation");
    assert_eq!(pointers(&r), ["/channel"]);
    let created = s
        .feedback(ALICE, "webchat", "Ann", "where is my order")
        .await;
    let id = created["id"].as_str().unwrap();
    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/feedback/{id}"),
            Some(ALICE),
            Some(json!({"status": null})),
            &[("if-match", "1")],
        )
        .await;
    assert_eq!(problem_type_of(&r).slug, "validation");
    assert_eq!(pointers(&r), ["/status"]);
    // If-Match and Idempotency-Key of the wrong shape.
    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/feedback/{id}"),
            Some(ALICE),
            Some(json!({"status": "open"})),
            &[("if-match", "*")],
        )
        .await;
    assert_eq!(problem_type_of(&r).slug, "bad-request");
    let r = s
        .call(
            Method::POST,
            &format!("/v1/feedback/{id}/replies"),
            Some(ALICE),
            Some(json!({"parts": [{"visibility": "public", "body": "Hello"}]})),
            &[("idempotency-key", "\"\"")],
        )
        .await;
    assert_eq!(problem_type_of(&r).slug, "bad-request");
    // A raw body over its route's limit.
    let big = vec![b'a'; 33 * 1024 * 1024];
    let r = s
        .http
        .post(format!("{}/v1/customers/import?kind=customers", s.base))
        .bearer_auth(SAM)
        .header("content-type", "text/csv")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(problem_type_of(&reply_of(r).await).slug, "body-too-large");
    // The router's own refusals.
    let r = s.call(Method::PUT, "/v1/me", Some(ALICE), None, &[]).await;
    assert_eq!(problem_type_of(&r).slug, "method-not-allowed");
    let r = s.get("/v2/me", ALICE).await;
    assert_eq!(problem_type_of(&r).slug, "not-found");
}

async fn reply_of(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

/// A resume point at the end of i64 is an answer (an empty live stream), not a crash: found by
/// Schemathesis (`r + 1` overflowed).
#[tokio::test]
async fn the_largest_resume_point_is_answered() {
    let s = start().await;
    let r = s
        .http
        .get(format!("{}/v1/events", s.base))
        .bearer_auth(ALICE)
        .header("last-event-id", i64::MAX.to_string())
        .send()
        .await
        .expect("the server answers");
    assert_eq!(r.status(), StatusCode::OK);
}
