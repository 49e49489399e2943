//! End to end: the real binaries in a pseudo-terminal, driven by keys, the screen read back with
//! a terminal emulator, and the server asked over HTTP what it got.
//!
//! - `earshot serve --demo` as its own process and `earshot console --url .. --token ..`: the
//!   console moves through the stream, writes and sends a reply, and the reply is on the item's
//!   thread on the server, once; the terminal is given back on quit.
//! - A console restarted with a reply queued in its outbox while the backend is down delivers
//!   it exactly once when the backend comes up.

mod common;

use common::pty::{earshot_command, Console};
use std::time::{Duration, Instant};

const MARKER: &str = "Thanks for your patience, we are on it";

fn spawn_console(home: &std::path::Path, args: &[&str]) -> Console {
    let mut cmd = earshot_command(env!("CARGO_BIN_EXE_earshot"), args, home);
    cmd.env("EDITOR", "true");
    // Filter in slices of 16 rows, as with 100,000 items: the loop must finish the job.
    cmd.env("EARSHOT_FILTER_SLICE", "16");
    let mut console = Console::spawn_command(cmd, 30, 100);
    console.settle = Duration::from_millis(150);
    console
}

/// Quit with `q` and wait for the process; the terminal must be given back.
fn quit(console: &mut Console) {
    console.keys(b"\x1b");
    std::thread::sleep(Duration::from_millis(200));
    console.keys(b"q");
    let status = console.wait_exit(Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(100));
    console.pump();
    let status = status.expect("the console quits on q");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        !console.parser.screen().alternate_screen(),
        "the terminal was not restored"
    );
}

async fn get_json(base: &str, token: &str, path: &str) -> serde_json::Value {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.json().await.unwrap()
}

/// Outbound messages on the thread of `id` whose body contains `text`.
async fn outbound_with(base: &str, token: &str, id: &str, text: &str) -> usize {
    let detail = get_json(base, token, &format!("/v1/feedback/{id}")).await;
    detail["thread"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound" && m["body"].as_str().unwrap_or("").contains(text))
        .count()
}

/// The items that got an outbound message containing `text`, from the server's event log
/// (read from the start over SSE until `text` shows up, then a little longer).
async fn items_answered_with(base: &str, token: &str, text: &str) -> Vec<String> {
    use futures::StreamExt;
    let resp = reqwest::Client::new()
        .get(format!("{base}/v1/events"))
        .bearer_auth(token)
        .header("Last-Event-ID", "0")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut found: Vec<String> = Vec::new();
    let mut until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let chunk = match tokio::time::timeout_at(until, body.next()).await {
            Ok(Some(Ok(c))) => c,
            _ => break,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = buf.find("\n\n") {
            let frame: String = buf.drain(..i + 2).collect();
            if !frame.contains("event: message.created") {
                continue;
            }
            let data: String = frame
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("\n");
            // `data` is the event: {seq, name, data: <the message>, created_at}.
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&data) else {
                continue;
            };
            let msg = &event["data"];
            if msg["direction"] == "outbound" && msg["body"].as_str().unwrap_or("").contains(text) {
                found.push(msg["feedback_id"].as_str().unwrap_or("").to_string());
                // A doubled delivery would follow closely: listen a little longer.
                until = tokio::time::Instant::now() + Duration::from_secs(2);
            }
        }
    }
    found
}

/// A server process (`earshot serve`), killed when dropped.
struct ServeProcess {
    child: std::process::Child,
    url: String,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_demo(db: &std::path::Path, home: &std::path::Path) -> ServeProcess {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--sim-rate",
            "0.2",
        ])
        .arg("--db")
        .arg(db)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server prints where it listens")
            .unwrap();
        if let Some(u) = line.strip_prefix("earshot server listening on ") {
            break u.trim().to_string();
        }
    };
    // Keep reading what it prints so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ServeProcess { child, url }
}

#[test]
fn console_sends_a_reply_that_reaches_the_servers_thread() {
    let home = tempfile::tempdir().unwrap();
    let server = serve_demo(&home.path().join("demo.db"), home.path());
    let token = "es_demo_farah";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut console = spawn_console(
        home.path(),
        &["console", "--url", &server.url, "--token", token],
    );

    let result = (|| -> Result<(), String> {
        console.wait_for_any(&["Stream · "], Duration::from_secs(60))?;
        console.wait_for_any(&["● live"], Duration::from_secs(30))?;
        // Filter the stream: the loop applies the filter between keys, in slices, and the
        // title settles on the final count. (First let the selected item's thread and profile
        // load: their answers would finish the filter too, and this is about the loop.)
        std::thread::sleep(Duration::from_millis(1500));
        // (The prompt stays open: Enter would finish the filter at once.)
        console.keys(b"/kettle");
        console.wait_for_any(&["/kettle"], Duration::from_secs(10))?;
        let settled = Instant::now() + Duration::from_secs(10);
        while console.text().contains("filtering") && Instant::now() < settled {
            std::thread::sleep(Duration::from_millis(50));
            console.pump();
        }
        let text = console.text();
        // The title counts the rows left against all of them ("all 146/2691 · /kettle").
        let narrowed = text
            .lines()
            .find(|l| l.contains("· /kettle"))
            .and_then(|l| l.split(" · /kettle").next())
            .and_then(|head| head.split_whitespace().last())
            .and_then(|count| count.split_once('/'))
            .and_then(|(shown, all)| Some((shown.parse::<u32>().ok()?, all.parse::<u32>().ok()?)))
            .is_some_and(|(shown, all)| shown > 0 && shown < all);
        if text.contains("filtering") || !narrowed {
            return Err(format!("the filter did not settle; screen:\n{text}"));
        }
        console.keys(b"\x1b");
        // Move through the stream, then try items until one can be answered from here.
        console.keys(b"j");
        console.keys(b"k");
        for attempt in 0..8 {
            console.keys(b"j");
            console.keys(b"r");
            console.keys(format!("{MARKER} ({attempt}).").as_bytes());
            console.keys(b"\x13"); // C-s
            match console.wait_for_any(
                &[
                    "reply sent",
                    "cannot send",
                    "refused",
                    "not sent",
                    "send again to confirm",
                    "again to confirm",
                ],
                Duration::from_secs(20),
            )? {
                0 => return Ok(()),
                4 | 5 => {
                    console.keys(b"\x13");
                    if console
                        .wait_for_any(&["reply sent"], Duration::from_secs(20))
                        .is_ok()
                    {
                        return Ok(());
                    }
                }
                _ => {}
            }
            // Not answerable (no route, or a rule): clear the draft and try the next item.
            console.keys(b"\x0b"); // C-k clears the draft
            console.keys(b"\x1b");
            std::thread::sleep(Duration::from_millis(100));
            if attempt == 7 {
                return Err(format!(
                    "no item could be answered; screen:\n{}",
                    console.text()
                ));
            }
        }
        Ok(())
    })();
    let shown = console.text();
    quit(&mut console);
    result.unwrap();
    assert!(shown.contains("reply sent"), "{shown}");

    // The server has it: one outbound message with our text, and it is on the item's thread
    // (GET /v1/feedback/{id}), once.
    let items = rt.block_on(items_answered_with(&server.url, token, MARKER));
    assert_eq!(items.len(), 1, "outbound messages with our text: {items:?}");
    let on_thread = rt.block_on(outbound_with(&server.url, token, &items[0], MARKER));
    assert_eq!(
        on_thread, 1,
        "the reply is on the thread of {} once",
        items[0]
    );
}

#[test]
fn a_restarted_console_delivers_its_queued_reply_once_when_the_backend_is_up() {
    use earshot::client::{CrmBackend, HttpBackend, Outbox, OutboxState};
    use earshot::domain::api::NewReply;
    use earshot::domain::{ReplyPart, Visibility};
    use earshot::server::{self, ServerConfig};

    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("demo.db").to_string_lossy().into_owned();
    let token = "es_demo_farah";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = |addr: std::net::SocketAddr| {
        let mut c = ServerConfig::new(db.clone(), addr);
        c.demo = true;
        c.sim_per_minute = 0.0;
        c.sim_burst_every_min = 0.0;
        c
    };

    // A first server run gives us the demo organisation and an item that takes a public reply.
    let (addr, item) = rt.block_on(async {
        let s = server::start(config("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let base = s.url();
        let page = get_json(&base, token, "/v1/feedback?assignee=any&limit=500").await;
        let item = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| ["forum", "review"].contains(&f["channel"].as_str().unwrap()))
            .expect("a forum or review item")["id"]
            .as_str()
            .unwrap()
            .to_string();
        let addr = s.addr;
        s.shutdown().await;
        (addr, item)
    });
    let base = format!("http://{addr}");

    // The last session queued a reply while the backend was down: it is in the outbox.
    let text = format!("{MARKER}: queued while the backend was down");
    let outbox_dir = home.path().join("data/earshot/outbox");
    let key = "es-e2e-restart-0001";
    let outbox = Outbox::open(&outbox_dir).unwrap();
    outbox
        .enqueue_with_key(
            key,
            &item,
            NewReply {
                parts: vec![ReplyPart {
                    visibility: Visibility::Public,
                    body: text.clone(),
                }],
                overrides: vec![],
                rulebook_version: None,
                base_message_id: None,
            },
        )
        .unwrap();

    // The console starts with the backend still down: the reply is shown, queued.
    let mut console = spawn_console(home.path(), &["console", "--url", &base, "--token", token]);
    let result = (|| -> Result<(), String> {
        console.wait_for_any(&["Stream · "], Duration::from_secs(60))?;
        std::thread::sleep(Duration::from_secs(2));
        let e = Outbox::open(&outbox_dir)
            .unwrap()
            .get(key)
            .unwrap()
            .unwrap();
        if e.state != OutboxState::Queued {
            return Err(format!("delivered with the backend down? {e:?}"));
        }
        Ok(())
    })();
    // The backend comes up on the same address: the console delivers on reconnect.
    let running = result.as_ref().ok().map(|_| {
        rt.block_on(async {
            server::start(config(addr))
                .await
                .expect("restart on the same port")
        })
    });
    let delivered = result.and_then(|_| {
        console.wait_for_any(&["● live"], Duration::from_secs(60))?;
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let n = rt.block_on(outbound_with(&base, token, &item, &text));
            if n > 0 {
                break Ok(n);
            }
            if Instant::now() > end {
                break Err(format!(
                    "the queued reply never arrived; screen:\n{}",
                    console.text()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    // Give a doubled send every chance to show up, then quit.
    std::thread::sleep(Duration::from_secs(2));
    let shown = console.text();
    quit(&mut console);
    assert_eq!(delivered.unwrap(), 1, "{shown}");
    let e = Outbox::open(&outbox_dir)
        .unwrap()
        .get(key)
        .unwrap()
        .unwrap();
    assert_eq!(e.state, OutboxState::Sent, "{e:?}");
    assert!(e.reply_id.is_some());

    // A second start finds nothing to send; the same key again is answered with the stored
    // reply, never delivered twice.
    let mut console = spawn_console(home.path(), &["console", "--url", &base, "--token", token]);
    console
        .wait_for_any(&["● live"], Duration::from_secs(60))
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    quit(&mut console);
    rt.block_on(async {
        let http = HttpBackend::new(&base, token).unwrap();
        let again = http
            .send_reply(&item, key, &e_reply(&outbox_dir, key))
            .await
            .unwrap();
        assert_eq!(Some(again.id), e.reply_id);
        assert_eq!(outbound_with(&base, token, &item, &text).await, 1);
    });
    if let Some(s) = running {
        rt.block_on(s.shutdown());
    }
}

fn e_reply(dir: &std::path::Path, key: &str) -> earshot::domain::api::NewReply {
    earshot::client::Outbox::open(dir)
        .unwrap()
        .get(key)
        .unwrap()
        .unwrap()
        .reply
}

async fn post_json(
    base: &str,
    token: &str,
    path: &str,
    body: serde_json::Value,
    key: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// `Enter` on a stream row opens its conversation: the whole post, then the thread, where a
/// colleague's public reply shows with its author, and then one that arrives live.
#[test]
fn the_conversation_view_shows_a_colleagues_reply_and_one_that_arrives_live() {
    let home = tempfile::tempdir().unwrap();
    let server = serve_demo(&home.path().join("demo.db"), home.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A customer's forum post (support by default) and Alice's public answer to it.
    let (status, fb) = rt.block_on(post_json(
        &server.url,
        "es_demo_sam",
        "/v1/feedback",
        serde_json::json!({"channel": "forum", "author_handle": "kettle_kim",
            "text": "My kettle ZQX-4711 leaks all over the counter since Monday and the lid will not close anymore."}),
        None,
    ));
    assert_eq!(status, 201, "{fb}");
    let id = fb["id"].as_str().unwrap().to_string();
    let (status, reply) = rt.block_on(post_json(
        &server.url,
        "es_demo_alice",
        &format!("/v1/feedback/{id}/replies"),
        serde_json::json!({"parts": [{"visibility": "public", "body": "We are sending a new lid today, Kim."}]}),
        Some("e2e-conv-1"),
    ));
    assert_eq!(status, 201, "{reply}");

    let mut console = spawn_console(
        home.path(),
        &["console", "--url", &server.url, "--token", "es_demo_farah"],
    );
    let result = (|| -> Result<(), String> {
        console.wait_for_any(&["Stream · "], Duration::from_secs(60))?;
        console.wait_for_any(&["● live"], Duration::from_secs(30))?;
        console.keys(b"/ZQX-4711");
        console.wait_for_any(&["/ZQX-4711"], Duration::from_secs(10))?;
        // Enter accepts the filter; once the prompt is gone (the stream's key hints are back),
        // Enter on the row opens its conversation. (Generous waits: a debug build on a busy
        // machine.)
        console.keys(b"\r");
        console.wait_for_any(&[" STREAM "], Duration::from_secs(20))?;
        console.keys(b"\r");
        console.wait_for_any(&["Conversation · @kettle_kim"], Duration::from_secs(30))?;
        console.keys(b"z");
        console.wait_for_any(
            &["We are sending a new lid today, Kim."],
            Duration::from_secs(15),
        )?;
        console.wait_for_any(&["Alice Martin (colleague)"], Duration::from_secs(5))?;
        if !console.text().contains("the lid will not close anymore") {
            return Err(format!("the whole post is not shown:\n{}", console.text()));
        }
        // A second colleague's answer arrives while the conversation is open.
        let (status, body) = rt.block_on(post_json(
            &server.url,
            "es_demo_jonas",
            &format!("/v1/feedback/{id}/replies"),
            serde_json::json!({"parts": [{"visibility": "public", "body": "Tracking for the lid follows by email."}]}),
            Some("e2e-conv-2"),
        ));
        if status != 201 {
            return Err(format!("second reply refused: {status} {body}"));
        }
        console.keys(b"G");
        console.wait_for_any(
            &["Tracking for the lid follows by email."],
            Duration::from_secs(15),
        )?;
        console.wait_for_any(&["Jonas Berg (colleague)"], Duration::from_secs(5))?;
        // Esc goes back to the stream.
        console.keys(b"\x1b");
        console.wait_for_any(&["Stream · "], Duration::from_secs(5))?;
        Ok(())
    })();
    quit(&mut console);
    result.unwrap();
}
