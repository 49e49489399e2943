//! Business rules on the server, over real HTTP: the rulebook in force is served, every reply is
//! re-checked at delivery (422 with the violations), overrides are accepted only under the rule's
//! policy and land in the audit log and the customer's history, and the rulebook reloads when its
//! file changes (a broken file leaves the previous one in force).

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn the_rulebook_in_force_is_served_and_compiles_on_the_client() {
    let s = start().await;
    let r = s.get("/v1/rules", ALICE).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["id"], "acme-social-care");
    let source = r.body["source"].as_str().unwrap();
    let compiled = earshot::rules::Rulebook::from_toml_str(source, "server")
        .expect("the served source compiles");
    assert_eq!(compiled.version(), r.body["version"].as_str().unwrap());
    s.stop().await;
}

#[tokio::test]
async fn delivery_refuses_errors_and_names_them() {
    let s = start().await;
    let item = s.feedback(SAM, "x", "@ann", "my kettle is broken").await;
    let id = item["id"].as_str().unwrap();
    // A card number in public: an error that cannot be overridden.
    let body = json!({"parts": [{"visibility": "public", "body": "Your card 4111 1111 1111 1111 was charged."}]});
    let r = s.reply(id, SAM, "k1", body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        r.body["type"].as_str().unwrap().rsplit('/').next(),
        Some("rule-violation")
    );
    let violations = r.body["violations"]["violations"].as_array().unwrap();
    assert!(violations
        .iter()
        .any(|v| v["rule"] == "PII-CARD" && v["part"] == "public"));
    assert!(
        !r.body.to_string().contains("4111 1111 1111 1111"),
        "a PII message never repeats the number"
    );
    let with_override = json!({
        "parts": [{"visibility": "public", "body": "Your card 4111 1111 1111 1111 was charged."}],
        "overrides": [{"rule": "PII-CARD", "reason": "the customer asked us to confirm it"}]
    });
    assert_eq!(
        s.reply(id, SAM, "k2", with_override).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Nothing was delivered.
    let detail = s.get(&format!("/v1/feedback/{id}"), SAM).await;
    assert_eq!(detail.body["thread"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn overrides_follow_the_policy_and_are_recorded() {
    let s = start().await;
    let item = s.feedback(SAM, "x", "@ann", "my kettle is broken").await;
    let id = item["id"].as_str().unwrap();
    let text = "Please email us at ann.t@gmail.com so we can help.";
    // Email in public: an error that supervisors and admins may override with a 15-char reason.
    let plain = s
        .reply(
            id,
            SAM,
            "a",
            json!({"parts": [{"visibility": "public", "body": text}]}),
        )
        .await;
    assert_eq!(
        plain.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        plain.body
    );
    let rule = plain.body["violations"]["violations"][0]["rule"]
        .as_str()
        .unwrap()
        .to_string();
    let short = json!({"parts": [{"visibility": "public", "body": text}], "overrides": [{"rule": rule, "reason": "ok"}]});
    let r = s.reply(id, SAM, "b", short).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["violations"]["refused"][0]["reason"]["code"],
        "reason_too_short"
    );
    let good = json!({"parts": [{"visibility": "public", "body": text}], "overrides": [{"rule": rule, "reason": "customer posted this address publicly herself"}]});
    // An agent (not a supervisor) may not override it.
    let alice_item = s.feedback(SAM, "x", "@ann", "how do I pair my plug").await;
    let alice_id = alice_item["id"].as_str().unwrap();
    if alice_item["department"] == "support" {
        let r = s.reply(alice_id, ALICE, "c", good.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r.body["violations"]["refused"][0]["reason"]["code"],
            "role_not_permitted"
        );
    }
    let r = s.reply(id, SAM, "d", good).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let audit = s.store().audit_entries("rule.override").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0.as_deref(), Some("ag_sam"));
    let history = s.get("/v1/customers/cu_ann/history", SAM).await;
    assert!(history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["kind"] == "override"));
    s.stop().await;
}

#[tokio::test]
async fn a_draft_checked_against_another_version_is_sent_back() {
    let s = start().await;
    let item = s.feedback(SAM, "x", "@ann", "my kettle is broken").await;
    let id = item["id"].as_str().unwrap();
    let body = json!({"parts": [{"visibility": "public", "body": "Sorry about that, we will sort it out."}], "rulebook_version": "1999.01.01"});
    let r = s.reply(id, SAM, "v", body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["type"].as_str().unwrap().rsplit('/').next(),
        Some("rulebook-changed")
    );
    s.stop().await;
}

/// Writes `source` (a rulebook whose version is `old`) to `path` as version `new`, and waits
/// for the server's `rules.updated` on `events`; its data.
async fn new_version(
    path: &std::path::Path,
    source: &str,
    old: &str,
    new: &str,
    events: &mut (impl futures::Stream<Item = (i64, String, Value)> + Unpin),
) -> Value {
    let old_line = format!("version = \"{old}\"");
    std::fs::write(
        path,
        source.replacen(&old_line, &format!("version = \"{new}\""), 1),
    )
    .unwrap();
    let (_, name, data) = next_event(events, 10).await.expect("rules.updated");
    assert_eq!(name, "rules.updated");
    data
}

/// A retry of a delivered reply answers what was delivered, even once the rulebook it was
/// checked against has been replaced and a new request like it is sent back.
#[tokio::test]
async fn a_retry_after_the_rulebook_changed_answers_the_delivered_reply() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    let v1 = earshot::rules::DEFAULT_RULEBOOK.to_string();
    std::fs::write(&path, &v1).unwrap();
    let rules = path.clone();
    let s = start_with(test_db().await, move |c| c.rules = Some(rules)).await;
    let before = s.get("/v1/rules", SAM).await.body["version"]
        .as_str()
        .unwrap()
        .to_string();
    let item = s.feedback(SAM, "x", "@ann", "my kettle is broken").await;
    let id = item["id"].as_str().unwrap();
    let body = json!({
        "parts": [{"visibility": "public", "body": "Sorry about that, we will sort it out."}],
        "rulebook_version": before,
    });
    let first = s.reply(id, SAM, "retry-1", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let mut events = subscribe(&s.base, SAM, None).await;
    new_version(&path, &v1, &before, "2026.12.04-1", &mut events).await;
    let fresh = s.reply(id, SAM, "retry-2", body.clone()).await;
    assert_eq!(
        fresh.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        fresh.body
    );
    assert_eq!(
        fresh.body["type"].as_str().unwrap().rsplit('/').next(),
        Some("rulebook-changed")
    );
    let again = s.reply(id, SAM, "retry-1", body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    let detail = s.get(&format!("/v1/feedback/{id}"), SAM).await;
    assert_eq!(
        detail.body["thread"].as_array().unwrap().len(),
        2,
        "delivered once"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_rulebook_reloads_from_its_file_and_a_broken_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    let v1 = earshot::rules::DEFAULT_RULEBOOK.to_string();
    std::fs::write(&path, &v1).unwrap();
    let db = test_db().await;
    let mut config =
        earshot::server::ServerConfig::new(db.url.clone(), "127.0.0.1:0".parse().unwrap());
    config.rules = Some(path.clone());
    let server = earshot::server::start(config).await.unwrap();
    seed(&server.store).await;
    let base = server.url();
    let version = |b: Value| b["version"].as_str().unwrap().to_string();
    let get_rules = || async {
        reqwest::Client::new()
            .get(format!("{base}/v1/rules"))
            .bearer_auth(SAM)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let before = version(get_rules().await);
    let mut events = subscribe(&base, SAM, None).await;
    // A new version is picked up and announced.
    let data = new_version(&path, &v1, &before, "2026.11.24-2", &mut events).await;
    assert_eq!(data["data"]["version"], "2026.11.24-2");
    assert_eq!(version(get_rules().await), "2026.11.24-2");
    // A broken file is refused; the previous rulebook stays in force.
    std::fs::write(&path, "[rulebook]\nid = 3\n").unwrap();
    assert!(next_event(&mut events, 5).await.is_none());
    assert_eq!(version(get_rules().await), "2026.11.24-2");
    server.shutdown().await;
    drop(db);
}

/// Editors save by writing a new file and renaming it over the old one: the reload must follow
/// the name, for a rulebook file and for a rulebook directory alike.
#[tokio::test]
async fn a_rulebook_saved_by_rename_is_picked_up_file_or_directory() {
    for as_dir in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        let v1 = earshot::rules::DEFAULT_RULEBOOK.to_string();
        std::fs::write(&path, &v1).unwrap();
        let db = test_db().await;
        let mut config =
            earshot::server::ServerConfig::new(db.url.clone(), "127.0.0.1:0".parse().unwrap());
        config.rules = Some(if as_dir {
            dir.path().to_path_buf()
        } else {
            path.clone()
        });
        let server = earshot::server::start(config).await.unwrap();
        seed(&server.store).await;
        let base = server.url();
        let mut events = subscribe(&base, SAM, None).await;
        let old = earshot::rules::Rulebook::from_toml_str(&v1, "v1")
            .unwrap()
            .version()
            .to_string();
        let saved = dir.path().join(".rules.toml.swp");
        std::fs::write(
            &saved,
            v1.replacen(
                &format!("version = \"{old}\""),
                "version = \"2026.12.02-9\"",
                1,
            ),
        )
        .unwrap();
        std::fs::rename(&saved, &path).unwrap();
        let (_, name, data) = next_event(&mut events, 10)
            .await
            .unwrap_or_else(|| panic!("rules.updated (directory: {as_dir})"));
        assert_eq!(name, "rules.updated");
        assert_eq!(
            data["data"]["version"], "2026.12.02-9",
            "directory: {as_dir}"
        );
        server.shutdown().await;
        drop(db);
    }
}
