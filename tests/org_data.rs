//! The organisation's customer data on the reference server, over the real `earshot import`
//! command and real HTTP: imports with bad rows and re-imports, single records, identity
//! resolution (auto-link at intake, ranked matches, unlink) and merging two customers. On
//! SQLite, or PostgreSQL with `EARSHOT_TEST_STORE=postgres`.

mod common;

use common::*;
use earshot::domain::AgentRole;
use earshot::server::store::NewAgent;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const FARAH: &str = "tok_farah_supervisor";

/// Runs the real binary: (exit code, stdout, stderr).
async fn earshot(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(args)
        .env("EARSHOT_LOG", "warn")
        .output()
        .await
        .expect("earshot runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

async fn search(s: &TestServer, q: &str) -> Vec<Value> {
    let r = s.get(&format!("/v1/customers?q={q}"), SAM).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

/// Posts a raw import body as `token`.
async fn import_http(s: &TestServer, token: &str, query: &str, ct: &str, body: &str) -> Reply {
    let resp = s
        .http
        .post(format!("{}/v1/customers/import?{query}", s.base))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

async fn add_supervisor(s: &TestServer) {
    s.store()
        .add_agent_with_token(
            "ag_farah",
            NewAgent {
                name: "Farah",
                role: AgentRole::Supervisor,
                departments: &["support".to_string()],
                scopes: None,
            },
            FARAH,
        )
        .await
        .unwrap();
}

fn lines_of(report: &Value) -> Vec<u64> {
    report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn cli_import_skips_bad_rows_by_line_and_a_reimport_updates_without_duplicates() {
    let s = start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "people.csv",
        "external_id,name,email,phone,tier,consent_email\n\
         imp-1,Olga Petrova,olga@example.org;OLGA.P@example.org,+44 20 7946 0958,gold,yes\n\
         imp-2,Piet Smit,not-an-email,,standard,no\n\
         imp-3,Quinn Ray,quinn@example.org,,platinum,maybe\n\
         ,Nobody Here,nobody@example.org,,,\n\
         imp-4,Rosa Diaz,rosa@example.org,+12345,gold,no\n\
         imp-5,Sven Berg,sven@example.org,,standard\n\
         \n\
         imp-6,\"Tess\nMultiline\",tess@example.org,,standard,no\n",
    );
    let (code, out, err) = earshot(&["import", "customers", "--db", &s.db.url, &file]).await;
    assert_eq!(code, 1, "some rows were skipped: {out} {err}");
    // Each bad row, by its line in the file, with its reason.
    assert!(
        err.contains(":3: skipped: emails/0: 'not-an-email'"),
        "{err}"
    );
    assert!(err.contains(":4: skipped: consent_email: 'maybe'"), "{err}");
    assert!(err.contains(":5: skipped: external_id is missing"), "{err}");
    assert!(err.contains(":6: skipped: phones/0"), "{err}");
    assert!(
        err.contains(":7: skipped: 5 fields where the header has 6"),
        "{err}"
    );
    assert_eq!(err.matches("skipped:").count(), 5, "{err}");
    assert!(
        out.contains("7 rows, 2 created, 0 updated, 0 unchanged, 5 skipped"),
        "{out}"
    );
    // The good rows are kept, whole.
    let olga = search(&s, "olga").await;
    assert_eq!(olga.len(), 1);
    assert_eq!(olga[0]["external_id"], "imp-1");
    assert_eq!(olga[0]["last_name"], "Petrova");
    assert_eq!(
        olga[0]["emails"],
        json!(["olga@example.org", "OLGA.P@example.org"])
    );
    assert_eq!(olga[0]["tier"], "gold");
    assert_eq!(olga[0]["preferences"]["consents"]["email"], true);
    assert_eq!(search(&s, "tess").await[0]["last_name"], "Multiline");
    // Nothing of a bad row was written.
    assert!(search(&s, "piet").await.is_empty());
    assert!(search(&s, "nobody").await.is_empty());

    // Re-import: fixed rows are created, changed rows updated, nothing duplicated.
    let fixed = write(
        &dir,
        "people2.csv",
        "external_id,name,email,tier\n\
         imp-1,Olga Petrova-Ivanova,olga@example.org,platinum\n\
         imp-2,Piet Smit,piet@example.org,standard\n\
         imp-6,Tess Multiline,tess@example.org,standard\n",
    );
    let (code, out, err) = earshot(&["import", "customers", "--db", &s.db.url, &fixed]).await;
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        out.contains("3 rows, 1 created, 1 updated, 1 unchanged, 0 skipped"),
        "{out}"
    );
    let olga = search(&s, "olga").await;
    assert_eq!(olga.len(), 1, "no duplicate: {olga:?}");
    assert_eq!(olga[0]["last_name"], "Petrova-Ivanova");
    assert_eq!(olga[0]["tier"], "platinum");
    assert_eq!(olga[0]["emails"], json!(["olga@example.org"]));
    // A column the file does not have is left alone.
    assert_eq!(olga[0]["preferences"]["consents"]["email"], true);
    assert_eq!(search(&s, "piet").await.len(), 1);

    // The same file twice changes nothing.
    let (code, out, _) = earshot(&["import", "customers", "--db", &s.db.url, &fixed]).await;
    assert_eq!(code, 0);
    assert!(out.contains("0 created, 0 updated, 3 unchanged"), "{out}");

    // A header naming an unknown column refuses the file, and nothing is written.
    let typo = write(
        &dir,
        "typo.csv",
        "external_id,name,emial\nimp-9,Uma Thurman,u@example.org\n",
    );
    let (code, _, err) = earshot(&["import", "customers", "--db", &s.db.url, &typo]).await;
    assert_eq!(code, 2);
    assert!(err.contains("unknown column 'emial'"), "{err}");
    assert!(search(&s, "uma").await.is_empty());

    let audit = s.store().audit_entries("customers.import").await.unwrap();
    assert!(audit.len() >= 3, "{audit:?}");
    s.stop().await;
}

#[tokio::test]
async fn the_example_files_import_cleanly() {
    let s = start().await;
    let root = env!("CARGO_MANIFEST_DIR");
    let customers = format!("{root}/examples/customers.csv");
    let transactions = format!("{root}/examples/transactions.jsonl");
    let (code, out, err) = earshot(&["import", "customers", "--db", &s.db.url, &customers]).await;
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("3 created"), "{out}");
    let (code, out, err) =
        earshot(&["import", "transactions", "--db", &s.db.url, &transactions]).await;
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("4 rows, 4 created"), "{out}");
    let dora = &search(&s, "dora").await[0];
    let id = dora["id"].as_str().unwrap();
    let txs = s
        .get(&format!("/v1/customers/{id}/transactions"), SAM)
        .await;
    let items = txs.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", txs.body);
    assert_eq!(items[0]["kind"], "refund");
    assert_eq!(items[0]["amount"]["amount"], "59.90");
    // Dora's lifetime value of 2,450 makes her a power user.
    assert_eq!(dora["roles"], json!(["power_user"]));
    // Transactions are idempotent too.
    let (code, out, _) =
        earshot(&["import", "transactions", "--db", &s.db.url, &transactions]).await;
    assert_eq!(code, 0);
    assert!(out.contains("0 created, 0 updated, 4 unchanged"), "{out}");
    s.stop().await;
}

#[tokio::test]
async fn http_import_is_for_admins_and_reports_lines() {
    let s = start().await;
    let csv = "external_id,first_name,last_name,email\n\
               web-1,Vera,Lind,vera@example.org\n\
               web-2,Wim,,wim@@example.org\n";
    let r = import_http(&s, ALICE, "kind=customers", "text/csv", csv).await;
    assert_problem(&r, StatusCode::FORBIDDEN);
    let r = import_http(&s, SAM, "kind=customers", "text/csv", csv).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 1);
    assert_eq!(lines_of(&r.body), vec![3]);
    assert!(r.body["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("wim@@example.org"));

    // JSON Lines of transactions, by external id or by customer id.
    let jsonl = r#"{"customer_external_id": "web-1", "kind": "order", "reference": "W-1", "amount": "10.50", "currency": "eur", "occurred_at": "2025-03-01T12:00:00Z"}
{"customer_external_id": "web-404", "kind": "order", "reference": "W-2", "amount": "1", "currency": "EUR", "occurred_at": "2025-03-01"}

{"customer_id": "cu_ben", "kind": "gift", "reference": "W-3", "amount": "1", "currency": "EUR", "occurred_at": "2025-03-01"}
{"customer_id": "cu_ben", "kind": "refund", "reference": "W-4", "amount": "ten", "currency": "EUR", "occurred_at": "2025-03-01"}
not json
{"customer_id": "cu_ben", "kind": "refund", "reference": "W-5", "amount": "2.25", "currency": "EUR", "occurred_at": "2025-03-02"}
"#;
    let r = import_http(&s, SAM, "kind=transactions", "application/x-ndjson", jsonl).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["rows"], 6);
    assert_eq!(r.body["created"], 2);
    assert_eq!(lines_of(&r.body), vec![2, 4, 5, 6]);
    let ben = s.get("/v1/customers/cu_ben/transactions", SAM).await;
    assert_eq!(ben.body["items"][0]["reference"], "W-5");
    assert_eq!(ben.body["items"][0]["amount"]["amount"], "2.25");

    // Format from the query, refused formats and files.
    let r = import_http(&s, SAM, "kind=customers", "text/plain", csv).await;
    assert_problem(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = import_http(&s, SAM, "kind=customers&format=csv", "text/plain", csv).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["unchanged"], 1);
    let r = import_http(&s, SAM, "kind=people", "text/csv", csv).await;
    assert_problem(&r, StatusCode::BAD_REQUEST);
    let r = import_http(
        &s,
        SAM,
        "kind=customers",
        "text/csv",
        "external_id,emial\n1,2\n",
    )
    .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body["detail"].as_str().unwrap().contains("emial"));

    let audit = s
        .store()
        .audit_entries("transactions.import")
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0.as_deref(), Some("ag_sam"));
    s.stop().await;
}

#[tokio::test]
async fn single_records_are_validated_and_for_supervisors_and_admins() {
    let s = start().await;
    add_supervisor(&s).await;
    let body = json!({"external_id": "one-1", "first_name": "Xena", "last_name": "Ward",
                      "emails": ["xena@example.org"], "phones": ["+44 20 7946 0958"], "tier": "gold"});
    let r = s.post("/v1/customers", ALICE, body.clone()).await;
    assert_problem(&r, StatusCode::FORBIDDEN);
    let r = s.post("/v1/customers", FARAH, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["external_id"], "one-1");
    assert_eq!(r.body["preferences"]["consents"]["email"], false);
    // The same external id again is taken.
    let r = s.post("/v1/customers", SAM, body).await;
    assert_problem(&r, StatusCode::CONFLICT);
    // Validation names each bad field.
    let r = s
        .post(
            "/v1/customers",
            SAM,
            json!({"first_name": "Y", "emails": ["ok@example.org", "nope"], "phones": ["12"]}),
        )
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let pointers: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, vec!["/emails/1", "/phones/0"]);
    let r = s.post("/v1/customers", SAM, json!({"tier": "gold"})).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let r = s
        .post(
            "/v1/customers",
            SAM,
            json!({"first_name": "Z", "colour": "red"}),
        )
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);

    let patch = |token: &'static str, body: Value| {
        let path = format!("/v1/customers/{id}");
        let s = &s;
        async move {
            s.call(Method::PATCH, &path, Some(token), Some(body), &[])
                .await
        }
    };
    let r = patch(BILAL, json!({"tier": "platinum"})).await;
    assert_problem(&r, StatusCode::FORBIDDEN);
    let r = patch(
        FARAH,
        json!({"tier": "platinum", "consents": {"email": true}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["tier"], "platinum");
    assert_eq!(r.body["first_name"], "Xena");
    assert_eq!(r.body["preferences"]["consents"]["email"], true);
    let r = patch(SAM, json!({"emails": ["bad"]})).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["pointer"], "/emails/0");
    let r = s
        .call(
            Method::PATCH,
            "/v1/customers/cu_nobody",
            Some(SAM),
            Some(json!({"tier": "gold"})),
            &[],
        )
        .await;
    assert_problem(&r, StatusCode::NOT_FOUND);
    // An address added by PATCH is matched at intake from then on.
    let r = patch(
        SAM,
        json!({"emails": ["xena@example.org", "x.ward@example.org"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let item = s
        .feedback(SAM, "email", "X.Ward@Example.org", "my kettle is broken")
        .await;
    assert_eq!(item["customer_id"], id.as_str());

    let audit = s.store().audit_entries("customer.").await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.1.as_str()).collect();
    assert!(actions.contains(&"customer.create"), "{actions:?}");
    assert!(actions.contains(&"customer.patch"), "{actions:?}");
    s.stop().await;
}

#[tokio::test]
async fn an_author_whose_address_is_one_customers_is_linked_at_intake() {
    let s = start().await;
    // Case-folded email: Ann's.
    let item = s
        .feedback(SAM, "email", "ANN@Example.com", "my kettle is broken")
        .await;
    assert_eq!(item["customer_id"], "cu_ann", "{item}");
    assert_eq!(item["author"]["customer_id"], "cu_ann");
    let history = s.get("/v1/customers/cu_ann/history", SAM).await;
    assert!(history
        .body
        .to_string()
        .contains(item["id"].as_str().unwrap()));
    let audit = s.store().audit_entries("identity.autolink").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].2, item["author"]["id"].as_str().unwrap());

    // The seeded customers share one phone number: two matches link nothing...
    let call = s
        .feedback(SAM, "sms", "+447700900123", "my kettle is broken")
        .await;
    assert!(call["customer_id"].is_null(), "{call}");
    assert!(call["author"]["customer_id"].is_null());
    // ...and the candidates say why.
    let id = call["author"]["id"].as_str().unwrap();
    let m = s.get(&format!("/v1/identities/{id}/matches"), SAM).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    let candidates = m.body["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 3, "{}", m.body);
    for c in candidates {
        assert_eq!(c["score"], 1.0);
        assert_eq!(c["reasons"][0], "same phone +447700900123");
    }

    // An unknown address, or a social handle, links nothing.
    let other = s
        .feedback(SAM, "email", "someone@else.example", "my kettle is broken")
        .await;
    assert!(other["customer_id"].is_null());
    let social = s
        .feedback(SAM, "webchat", "ann@example.com", "my kettle is broken")
        .await;
    assert!(social["customer_id"].is_null());

    // An unlinked email author is linked once the address reaches a customer, with the
    // earlier items.
    let first = s
        .feedback(SAM, "email", "late@example.org", "my kettle is broken")
        .await;
    assert!(first["customer_id"].is_null());
    let r = s
        .call(
            Method::PATCH,
            "/v1/customers/cu_cat",
            Some(SAM),
            Some(json!({"emails": ["cat@example.com", "late@example.org"]})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let second = s
        .feedback(SAM, "email", "late@example.org", "still broken")
        .await;
    assert_eq!(second["customer_id"], "cu_cat");
    let before = s
        .get(
            &format!("/v1/feedback/{}", first["id"].as_str().unwrap()),
            SAM,
        )
        .await;
    assert_eq!(before.body["feedback"]["customer_id"], "cu_cat");
    s.stop().await;
}

/// An unlinked author in support (so Alice sees it), close to Ann by name and handle.
async fn ann_lookalike(s: &TestServer) -> (String, String) {
    let r = s
        .post(
            "/v1/feedback",
            SAM,
            json!({"channel": "webchat", "author_handle": "@ann_tester",
                   "author_name": "Ann Tester", "text": "my kettle is broken"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["department"], "support");
    assert!(r.body["customer_id"].is_null());
    (
        r.body["author"]["id"].as_str().unwrap().to_string(),
        r.body["id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn matches_are_ranked_with_reasons_and_scoped_like_linking() {
    let s = start().await;
    let (identity, _) = ann_lookalike(&s).await;
    let m = s
        .get(&format!("/v1/identities/{identity}/matches"), ALICE)
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    let candidates = m.body["candidates"].as_array().unwrap();
    assert_eq!(candidates[0]["customer"]["id"], "cu_ann", "{}", m.body);
    let reasons: Vec<&str> = candidates[0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"same name"), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.starts_with("similar handle")),
        "{reasons:?}"
    );
    // Ben and Cat Tester share the last name only: further down, for a lower score.
    let scores: Vec<f64> = candidates
        .iter()
        .map(|c| c["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(candidates
        .iter()
        .skip(1)
        .all(|c| c["score"].as_f64().unwrap() < scores[0]));

    // An identity only billing (or nobody) has seen is not found for support.
    let r = s
        .get(&format!("/v1/identities/{identity}/matches"), BILAL)
        .await;
    assert_problem(&r, StatusCode::NOT_FOUND);
    let r = s.get("/v1/identities/id_stranger/matches", ALICE).await;
    assert_problem(&r, StatusCode::NOT_FOUND);
    let r = s.get("/v1/identities/id_nobody/matches", SAM).await;
    assert_problem(&r, StatusCode::NOT_FOUND);
    s.stop().await;
}

#[tokio::test]
async fn unlinking_takes_the_items_out_of_the_customer_again() {
    let s = start().await;
    let (identity, item) = ann_lookalike(&s).await;
    let r = s
        .post(
            &format!("/v1/identities/{identity}/link"),
            ALICE,
            json!({"customer_id": "cu_ann"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let history = s.get("/v1/customers/cu_ann/history", ALICE).await;
    assert!(history.body.to_string().contains(&item));

    let path = format!("/v1/identities/{identity}/link");
    let r = s.call(Method::DELETE, &path, Some(BILAL), None, &[]).await;
    assert_problem(&r, StatusCode::NOT_FOUND);
    let r = s.call(Method::DELETE, &path, Some(ALICE), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["customer_id"].is_null());
    let f = s.get(&format!("/v1/feedback/{item}"), ALICE).await;
    assert!(f.body["feedback"]["customer_id"].is_null(), "{}", f.body);
    assert!(f.body["feedback"]["author"]["customer_id"].is_null());
    let history = s.get("/v1/customers/cu_ann/history", ALICE).await;
    assert!(
        !history.body.to_string().contains(&item),
        "{}",
        history.body
    );
    let profile = s.get("/v1/customers/cu_ann", ALICE).await;
    assert!(!profile.body.to_string().contains(&identity));
    // Unlinking what is not linked is refused.
    let r = s.call(Method::DELETE, &path, Some(ALICE), None, &[]).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let audit = s.store().audit_entries("identity.unlink").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0.as_deref(), Some("ag_alice"));
    assert_eq!(audit[0].2, identity);
    s.stop().await;
}

#[tokio::test]
async fn a_merge_moves_everything_to_the_survivor_and_retires_the_other() {
    let s = start().await;
    add_supervisor(&s).await;
    // Ben gets history (an item by his X identity), a transaction and a lifetime value that,
    // added to Ann's, makes a power user.
    let ben_item = s
        .post(
            "/v1/feedback",
            SAM,
            json!({"channel": "webchat", "author_handle": "@ben", "customer_id": "cu_ben",
                   "text": "my kettle is broken"}),
        )
        .await;
    assert_eq!(ben_item.status, StatusCode::CREATED, "{}", ben_item.body);
    let ben_item = ben_item.body["id"].as_str().unwrap().to_string();
    let r = import_http(
        &s,
        SAM,
        "kind=transactions&format=jsonl",
        "application/octet-stream",
        r#"{"customer_id": "cu_ben", "kind": "order", "reference": "BEN-1", "amount": "20.00", "currency": "EUR", "occurred_at": "2025-01-05"}"#,
    )
    .await;
    assert_eq!(r.body["created"], 1, "{}", r.body);
    let r = s
        .call(
            Method::PATCH,
            "/v1/customers/cu_ben",
            Some(SAM),
            Some(json!({"external_id": "legacy-ben", "lifetime_value": {"amount": "1900.00", "currency": "EUR"},
                        "tags": ["vip", "beta"], "emails": ["ben@example.com", "BEN.T@example.com"]})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ann_before = s.get("/v1/customers/cu_ann", SAM).await.body;
    assert_eq!(ann_before["roles"], json!([]));

    let merge = |token: &'static str, from: &'static str| {
        let s = &s;
        async move {
            s.post("/v1/customers/cu_ann/merge", token, json!({"from": from}))
                .await
        }
    };
    let r = merge(ALICE, "cu_ben").await;
    assert_problem(&r, StatusCode::FORBIDDEN);
    let r = merge(FARAH, "cu_ann").await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let r = merge(FARAH, "cu_ben").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = r.body;
    assert_eq!(body["retired"], "cu_ben");
    // Conflicts are listed: the survivor's values are kept.
    let conflict = |field: &str| {
        body["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == field)
            .cloned()
    };
    assert_eq!(
        conflict("first_name"),
        Some(json!({"field": "first_name", "kept": "Ann", "dropped": "Ben"}))
    );
    assert_eq!(conflict("tier").unwrap()["dropped"], "standard");
    assert_eq!(
        conflict("preferences.consents.social_dm").unwrap()["kept"],
        "true"
    );
    // Ben's X identity and the webchat one his item was logged under.
    assert_eq!(body["moved"]["identities"], 2);
    assert_eq!(body["moved"]["transactions"], 1);
    assert_eq!(body["moved"]["feedback"], 1);
    let ann = &body["customer"];
    assert_eq!(ann["first_name"], "Ann");
    assert_eq!(ann["external_id"], "legacy-ben");
    assert_eq!(ann["lifetime_value"]["amount"], "2023.45");
    assert_eq!(ann["roles"], json!(["power_user"]), "roles derived again");
    assert_eq!(ann["tags"], json!(["vip", "beta"]));
    assert_eq!(
        ann["emails"],
        json!(["ann@example.com", "ben@example.com", "BEN.T@example.com"])
    );
    let ids: Vec<&str> = ann["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"id_ann_x") && ids.contains(&"id_ben_x"),
        "{ids:?}"
    );

    // Everything of Ben's is on Ann now.
    let txs = s.get("/v1/customers/cu_ann/transactions", SAM).await;
    let refs: Vec<&str> = txs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert!(refs.contains(&"AC-1") && refs.contains(&"BEN-1"));
    let history = s.get("/v1/customers/cu_ann/history", SAM).await;
    assert!(history.body.to_string().contains(&ben_item));
    let f = s.get(&format!("/v1/feedback/{ben_item}"), SAM).await;
    assert_eq!(f.body["feedback"]["customer_id"], "cu_ann");

    // The retired id is gone, and says where to.
    for path in [
        "/v1/customers/cu_ben",
        "/v1/customers/cu_ben/history",
        "/v1/customers/cu_ben/transactions",
    ] {
        let r = s.get(path, SAM).await;
        assert_problem(&r, StatusCode::NOT_FOUND);
        assert!(r.body["detail"]
            .as_str()
            .unwrap()
            .contains("merged into cu_ann"));
    }
    let r = merge(SAM, "cu_ben").await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    // Ben's addresses now find Ann: a new email from Ben is Ann's.
    let item = s
        .feedback(SAM, "email", "ben.t@example.com", "my kettle is broken")
        .await;
    assert_eq!(item["customer_id"], "cu_ann");
    // Re-importing under the retired record's external id updates the survivor.
    let r = import_http(
        &s,
        SAM,
        "kind=customers",
        "text/csv",
        "external_id,tier\nlegacy-ben,platinum\n",
    )
    .await;
    assert_eq!(r.body["updated"], 1, "{}", r.body);
    assert_eq!(
        s.get("/v1/customers/cu_ann", SAM).await.body["tier"],
        "platinum"
    );

    let audit = s.store().audit_entries("customer.merge").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0.as_deref(), Some("ag_farah"));
    assert_eq!(audit[0].2, "cu_ann");
    s.stop().await;
}
