//! Intake sources for tests, and signing as a listening tool would, with an implementation
//! independent of the server's: the Python `standardwebhooks` package (pinned in `.ci/run`)
//! when `EARSHOT_PY_STANDARDWEBHOOKS` names a Python that has it, otherwise the scheme of the
//! Standard Webhooks specification written out here. Both are checked against the
//! specification's test vectors (`tests/intake.rs`).

use super::{reply_of, Reply, TestServer};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use earshot::domain::Channel;
use earshot::server::intake::{add_source, IntakeKey};
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// An intake key file in a temp dir that lives as long as this value.
pub struct KeyDir {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn key_dir() -> KeyDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("intake.key");
    IntakeKey::load_or_create(&path).expect("key file");
    KeyDir { path, _dir: dir }
}

/// Creates a source as `earshot intake add` does; returns its `whsec_` secret.
pub async fn source(
    s: &TestServer,
    key: &Path,
    name: &str,
    channel: Option<Channel>,
    department: Option<&str>,
) -> String {
    let key = IntakeKey::load(key).expect("key file");
    let (_, secret) = add_source(s.store(), &key, name, channel, department)
        .await
        .expect("source added");
    secret.to_whsec()
}

/// The `webhook-signature` of a request, by the independent implementation.
pub fn sign(whsec: &str, id: &str, timestamp: i64, body: &str) -> String {
    match std::env::var("EARSHOT_PY_STANDARDWEBHOOKS") {
        Ok(python) if !python.is_empty() => sign_with_python(&python, whsec, id, timestamp, body),
        _ => sign_by_the_spec(whsec, id, timestamp, body),
    }
}

/// `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with the base64-decoded
/// part of the secret after `whsec_` (Standard Webhooks, "Signature scheme").
pub fn sign_by_the_spec(whsec: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = B64
        .decode(whsec.strip_prefix("whsec_").expect("whsec_ secret"))
        .expect("base64 secret");
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

const PY_SIGN: &str = "import sys, datetime\n\
from standardwebhooks.webhooks import Webhook\n\
secret, msg_id, ts = sys.argv[1:4]\n\
when = datetime.datetime.fromtimestamp(int(ts), tz=datetime.timezone.utc)\n\
print(Webhook(secret).sign(msg_id, when, sys.stdin.read()))\n";

pub fn sign_with_python(python: &str, whsec: &str, id: &str, timestamp: i64, body: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(python)
        .args(["-c", PY_SIGN, whsec, id, &timestamp.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("EARSHOT_PY_STANDARDWEBHOOKS runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the Python signer failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Posts `body` to `/v1/intake/{source}` with exactly these webhook headers (each may be left
/// out) and, if given, a bearer token.
pub async fn post_raw(
    s: &TestServer,
    source: &str,
    body: &str,
    webhook: [Option<&str>; 3],
    bearer: Option<&str>,
) -> Reply {
    let mut req = s
        .http
        .post(format!("{}/v1/intake/{source}", s.base))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .zip(webhook)
    {
        if let Some(v) = value {
            req = req.header(*name, v);
        }
    }
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    reply_of(req).await
}

/// Posts `item` signed with `whsec` under `webhook_id`, now.
pub async fn post_signed(
    s: &TestServer,
    source: &str,
    whsec: &str,
    webhook_id: &str,
    item: &Value,
) -> Reply {
    let body = item.to_string();
    let ts = now();
    let sig = sign(whsec, webhook_id, ts, &body);
    post_raw(
        s,
        source,
        &body,
        [Some(webhook_id), Some(&ts.to_string()), Some(&sig)],
        None,
    )
    .await
}
