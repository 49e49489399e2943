//! The console's own model (the state the panes draw from), driven headless by the real effect
//! runner against the real server over HTTP: the loop of `tui::app::run` without a terminal.
//!
//! - a server process killed mid-stream and started again on the same database and address:
//!   every item is in the model once, and no event reaches the model twice;
//! - two agents on one item: each console shows the other's presence, and the second send is
//!   stopped by the stale-send guard with what changed, then goes out once confirmed.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use earshot::client::Outbox;
use earshot::client::{CrmBackend, HttpBackend, Sanitized, StreamItem};
use earshot::tui::effect::Effect;
use earshot::tui::keymap::{KeyPress, Keymap};
use earshot::tui::model::{Connection, Model, Overlay};
use earshot::tui::runtime::{self, Runner};
use earshot::tui::theme::Theme;
use earshot::tui::update::{init, Msg};
use earshot::tui::ColorDepth;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// One console without a terminal: its model, the runner that turns effects into backend
/// calls, and the channel their answers (and the event stream) come back on.
struct HeadlessConsole {
    model: Model,
    runner: Runner,
    rx: UnboundedReceiver<Msg>,
    /// The sequence number of every event that reached `update`, in order.
    seqs: Vec<i64>,
    stream_task: tokio::task::JoinHandle<()>,
}

impl HeadlessConsole {
    fn start(base: &str, token: &str) -> HeadlessConsole {
        Self::start_with(base, token, None)
    }

    /// With a data directory: the durable outbox in `<dir>/outbox`, drafts in `<dir>/drafts`.
    fn start_with(base: &str, token: &str, data_dir: Option<&Path>) -> HeadlessConsole {
        // As the console runs it: every answer and event cleaned once, at the backend boundary.
        let backend: Arc<dyn CrmBackend> =
            Arc::new(Sanitized::new(HttpBackend::new(base, token).unwrap()));
        let (tx, rx) = unbounded_channel();
        let runner = Runner {
            backend: backend.clone(),
            tx: tx.clone(),
            drafts_dir: data_dir.map(|d| d.join("drafts")),
            config_dir: None,
            depth: ColorDepth::TrueColor,
            outbox: data_dir.map(|d| Arc::new(Outbox::open(d.join("outbox")).unwrap())),
        };
        let stream_task = tokio::spawn(async move {
            let mut events = backend.events(None);
            while let Some(item) = events.next().await {
                if tx.send(Msg::Stream(item)).is_err() {
                    break;
                }
            }
        });
        let (keymap, _) = Keymap::load(None, None);
        let mut model = Model::new(
            chrono::Utc::now(),
            keymap,
            Theme::builtin("mono", ColorDepth::TrueColor),
            format!("test-{token}"),
        );
        model.size = (120, 40);
        model.outbox_enabled = data_dir.is_some();
        let fx = init(&mut model);
        let mut console = HeadlessConsole {
            model,
            runner,
            rx,
            seqs: Vec::new(),
            stream_task,
        };
        console.run(fx);
        console
    }

    /// Runs effects as the console does (`runtime::run_effects`); the terminal's own
    /// (quit, $EDITOR, copy) have no terminal here.
    fn run(&mut self, effects: Vec<Effect>) {
        let _terminal = runtime::run_effects(&mut self.model, &self.runner, effects);
    }

    fn handle(&mut self, msg: Msg) {
        if let Msg::Stream(StreamItem::Event(e)) = &msg {
            self.seqs.push(e.seq);
        }
        let _terminal = runtime::step(&mut self.model, &self.runner, msg);
    }

    /// Feeds messages to the model until `done` holds (patiently: CI machines are slow).
    async fn until(&mut self, what: &str, done: impl Fn(&Model) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !done(&self.model) {
            // As `app::run`: a filter still being applied takes a slice when nothing waits.
            if self.model.stream.filtering() && self.rx.is_empty() {
                self.handle(Msg::ContinueFilter);
                continue;
            }
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(msg)) => self.handle(msg),
                Ok(None) => panic!("the console's channel closed while waiting for {what}"),
                Err(_) => panic!(
                    "timed out waiting for {what}; model: {:?}, status: {:?}",
                    self.model,
                    self.model.status.as_ref().map(|s| &s.text)
                ),
            }
        }
    }

    /// Feeds what arrives within `ms` milliseconds.
    async fn settle(&mut self, ms: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            self.handle(msg);
        }
    }

    /// Presses keys given as keymap notation, separated by spaces ("/ j C-s").
    fn keys(&mut self, seq: &str) {
        for k in seq.split(' ') {
            let k = KeyPress::parse(k).unwrap();
            self.handle(Msg::Key(KeyEvent::new(k.code, k.mods)));
        }
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.handle(Msg::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            )));
        }
    }

    fn connected(&self) -> bool {
        self.model.connection == Connection::Connected
    }

    fn has_item(&self, id: &str) -> bool {
        self.model.stream.get(id).is_some()
    }

    /// Waits for the item in the queue and the rulebook, selects it, and waits until its
    /// thread is loaded (the base of a reply).
    async fn open_item(&mut self, word: &str, id: &str) {
        let want = id.to_string();
        self.until("the item in the queue", move |m| {
            m.connection == Connection::Connected
                && !m.stream.loading
                && m.stream.get(&want).is_some()
                && m.rules.is_some()
        })
        .await;
        self.select_by_text(word, id).await;
        let want = id.to_string();
        self.until("the thread", move |m| {
            m.threads.get(&want).is_some_and(|t| t.base.is_some())
        })
        .await;
    }

    /// Selects the item whose text contains `word` (a filter, then back to the full list).
    async fn select_by_text(&mut self, word: &str, id: &str) {
        self.keys("/");
        self.type_text(word);
        self.keys("enter");
        let want = id.to_string();
        self.until("the selection", move |m| {
            m.stream.selected.as_deref() == Some(&want)
        })
        .await;
    }
}

impl Drop for HeadlessConsole {
    fn drop(&mut self) {
        self.stream_task.abort();
    }
}

async fn post(base: &str, author: &str, text: &str) -> String {
    let item = post_feedback(base, SAM, "webchat", author, text).await;
    item["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_stream_leaves_every_item_once_in_the_consoles_model() {
    let db = test_db().await;
    let db = start_on(db).await.stop().await;
    let listen = free_address();
    let server = ServerProcess::spawn_at(&db.url, &listen, &[]).await;
    let base = server.base.clone();
    let mut console = HeadlessConsole::start(&base, SAM);
    console
        .until("connected and loaded", |m| {
            m.connection == Connection::Connected && !m.stream.loading
        })
        .await;

    let mut posted = Vec::new();
    for i in 0..3 {
        posted.push(post(&base, &format!("v{i}"), "kettle question before").await);
    }
    let ids = posted.clone();
    console
        .until("the first three items", move |m| {
            ids.iter().all(|id| m.stream.get(id).is_some())
        })
        .await;

    // SIGKILL mid-stream: the console keeps what it has and says the backend is gone.
    server.kill();
    console
        .until("the disconnection", |m| {
            matches!(m.connection, Connection::Disconnected { .. })
        })
        .await;
    assert!(posted.iter().all(|id| console.has_item(id)));

    // Started again on the same database and address; new items arrive while it resumes.
    let server = ServerProcess::spawn_at(&db.url, &listen, &[]).await;
    for i in 3..6 {
        posted.push(post(&base, &format!("v{i}"), "kettle question after").await);
    }
    let ids = posted.clone();
    console
        .until("every item after the restart", move |m| {
            m.connection == Connection::Connected && ids.iter().all(|id| m.stream.get(id).is_some())
        })
        .await;
    // Give a repeated event every chance to arrive.
    console.settle(1500).await;
    assert!(console.connected());

    let mut counts: HashMap<&str, usize> = HashMap::new();
    for row in console.model.stream.rows() {
        *counts.entry(row.fb.id.as_str()).or_default() += 1;
    }
    for id in &posted {
        assert_eq!(
            counts.get(id.as_str()),
            Some(&1),
            "{id} is in the model once"
        );
    }
    assert!(
        counts.values().all(|n| *n == 1),
        "no item is in the model twice"
    );
    assert!(
        console.seqs.windows(2).all(|w| w[0] < w[1]),
        "no event reached the model twice or out of order: {:?}",
        console.seqs
    );
    // Every event of the six items reached it (feedback.created + message.created each).
    assert!(console.seqs.len() >= 12, "{:?}", console.seqs);
    drop(console);
    server.kill();
}

/// Outbound messages on the item's thread, as the server has them.
async fn outbound(s: &TestServer, item: &str) -> usize {
    let detail = s.get(&format!("/v1/feedback/{item}"), SAM).await;
    detail.body["thread"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .count()
}

/// The server answered the console's send with the stored reply.
fn sent(m: &Model) -> bool {
    m.status
        .as_ref()
        .is_some_and(|s| s.text.starts_with("reply sent"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_on_one_item_see_each_other_and_the_second_send_is_guarded() {
    let s = start().await;
    let item = post(&s.base, "@zed", "my zebrakettle leaks").await;
    let mut alice = HeadlessConsole::start(&s.base, ALICE);
    let mut jonas = HeadlessConsole::start(&s.base, JONAS);
    for c in [&mut alice, &mut jonas] {
        c.open_item("zebrakettle", &item).await;
    }

    // Both open the composer: each sees the other composing.
    alice.keys("r");
    jonas.keys("r");
    for (console, other) in [(&mut alice, "Jonas"), (&mut jonas, "Alice")] {
        let want = item.clone();
        console
            .until(&format!("{other}'s presence"), move |m| {
                m.presence
                    .get(&want)
                    .is_some_and(|l| l.iter().any(|p| p.agent_name == other))
            })
            .await;
    }

    // Alice sends first; it goes out.
    alice.type_text("Thanks for telling us, we are sending a replacement seal today.");
    alice.keys("C-s");
    alice.until("Alice's reply delivered", sent).await;

    // Jonas wrote against the thread as he loaded it: the guard stops his send and shows
    // Alice's reply.
    jonas.type_text("Sorry about that, could you send us a photo of the leak?");
    jonas.keys("C-s");
    jonas
        .until("the stale-send guard", |m| {
            matches!(&m.overlay, Some(Overlay::Guard(v))
                if v.messages.iter().any(|m| m.body.contains("replacement seal")))
        })
        .await;
    assert_eq!(outbound(&s, &item).await, 1, "only Alice's reply went out");
    // Leaving and selecting the item again does not clear the guard.
    jonas.keys("esc esc j k");
    jonas.settle(800).await;
    jonas.keys("r C-s");
    jonas
        .until("the guard again after re-selecting", |m| {
            matches!(&m.overlay, Some(Overlay::Guard(_)))
        })
        .await;
    assert_eq!(outbound(&s, &item).await, 1, "still only Alice's reply");

    // Jonas confirms with one key: his reply goes out once, after Alice's.
    jonas.keys("y");
    jonas
        .until("Jonas's reply delivered", |m| {
            sent(m)
                && earshot::tui::guard::unseen(m, &m.composer.as_ref().unwrap().feedback_id)
                    .is_empty()
        })
        .await;
    assert_eq!(outbound(&s, &item).await, 2);
    drop((alice, jonas));
    s.stop().await;
}

/// A directory that refuses writes, as a full disk does (root ignores permissions, so the
/// directory is replaced by a plain file: every write inside fails).
fn break_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::write(dir, b"").unwrap();
}

fn repair_dir(dir: &Path) {
    std::fs::remove_file(dir).unwrap();
    std::fs::create_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_refuses_writes_loses_neither_the_reply_nor_the_draft() {
    let s = start().await;
    let item = post(&s.base, "@zed", "my zebrakettle leaks").await;
    let data = tempfile::tempdir().unwrap();
    let mut c = HeadlessConsole::start_with(&s.base, ALICE, Some(data.path()));
    c.open_item("zebrakettle", &item).await;

    let (outbox_dir, drafts_dir) = (data.path().join("outbox"), data.path().join("drafts"));
    break_dir(&outbox_dir);
    break_dir(&drafts_dir);
    let text = "We are sending a replacement seal today.";
    c.keys("r");
    c.type_text(text);

    // The outbox cannot be written: nothing goes out, the text stays in the composer.
    c.keys("C-s");
    c.until("the refused send", |m| {
        m.composer.as_ref().is_some_and(|c| c.error.is_some())
    })
    .await;
    let composer = c.model.composer.as_ref().unwrap();
    assert!(
        composer.error.as_ref().unwrap().contains("outbox"),
        "{:?}",
        composer.error
    );
    assert_eq!(composer.text(composer.active), text);
    assert_eq!(
        outbound(&s, &item).await,
        0,
        "nothing was sent without the outbox"
    );

    // The draft cannot be saved: the debounced save is written at once, as by the console's
    // loop (one runtime for both), fails, and the draft is kept and marked for the next save;
    // the failed send stays on the status line rather than being hidden by the retried save.
    c.handle(Msg::Tick(chrono::Utc::now() + chrono::Duration::seconds(5)));
    let want = item.clone();
    c.until("the failed draft save, marked for a retry", move |m| {
        m.drafts_dirty.contains(&want)
    })
    .await;
    let status = &c.model.status.as_ref().unwrap().text;
    assert!(status.contains("not written to the outbox"), "{status}");

    // The disk comes back: the next save writes the draft, the next send goes out once.
    repair_dir(&outbox_dir);
    repair_dir(&drafts_dir);
    c.handle(Msg::Tick(
        chrono::Utc::now() + chrono::Duration::seconds(10),
    ));
    let want = drafts_dir.join(format!("{item}.json"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !want.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the draft is saved once the disk is back"
        );
        c.settle(50).await;
    }
    assert!(std::fs::read_to_string(&want)
        .unwrap()
        .contains("replacement seal"));
    c.keys("C-s");
    c.until("the reply sent", sent).await;
    assert_eq!(outbound(&s, &item).await, 1);
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_picker_lists_the_servers_suggestions_first() {
    let s = start().await;
    // An unlinked author whose name and handle resemble the seeded customer Ann Tester.
    let r = s
        .post(
            "/v1/feedback",
            SAM,
            serde_json::json!({"channel": "x", "author_handle": "@ann_tester",
                               "author_name": "Ann Tester", "text": "my kettle lid is loose"}),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(r.body["customer_id"].is_null());
    let mut alice = HeadlessConsole::start(&s.base, ALICE);
    alice.open_item("lid", &id).await;
    alice.keys("2 l");
    alice
        .until("the suggestions", |m| {
            matches!(&m.overlay, Some(earshot::tui::model::Overlay::Link(ls))
                if ls.suggestions.loaded().is_some() && ls.results.loaded().is_some())
        })
        .await;
    let Some(earshot::tui::model::Overlay::Link(ls)) = &alice.model.overlay else {
        unreachable!()
    };
    let rows = ls.rows();
    let first = rows.first().expect("a candidate");
    assert_eq!(first.customer.id, "cu_ann");
    let suggestion = first
        .suggestion
        .expect("the first row is the server's suggestion");
    assert!(
        suggestion.reasons.iter().any(|r| r.contains("name")),
        "{:?}",
        suggestion.reasons
    );
    // The same customer is not listed again among the search results.
    assert_eq!(rows.iter().filter(|r| r.customer.id == "cu_ann").count(), 1);
    alice.keys("enter");
    let want = id.clone();
    alice
        .until("the link", move |m| {
            m.overlay.is_none()
                && m.stream
                    .get(&want)
                    .is_some_and(|f| f.fb.author.customer_id.as_deref() == Some("cu_ann"))
        })
        .await;
    s.stop().await;
}

/// The server's own refusal, decoded by the real client, is underlined in the composer like a
/// violation found locally (the body nests them: `violations.violations`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn violations_found_by_the_server_are_marked_in_the_composer() {
    use earshot::domain::api::NewReply;
    use earshot::domain::{ReplyPart, Visibility};
    let s = start().await;
    let id = post(&s.base, "visitor", "my kettle lid is loose").await;
    let mut alice = HeadlessConsole::start(&s.base, ALICE);
    alice.open_item("lid", &id).await;
    // No local rulebook, so whatever gets marked came from the server.
    alice.model.rules = None;
    alice.keys("r");
    let text = "Your card 4111 1111 1111 1111 is on file";
    alice.type_text(text);
    let refused = HttpBackend::new(&s.base, ALICE)
        .unwrap()
        .send_reply(
            &id,
            "server-marks",
            &NewReply {
                parts: vec![ReplyPart {
                    visibility: Visibility::Direct,
                    body: text.into(),
                }],
                overrides: vec![],
                rulebook_version: None,
                base_message_id: None,
            },
        )
        .await
        .expect_err("the server refuses a card number");
    alice.handle(Msg::ReplySent {
        feedback_id: id.clone(),
        key: "server-marks".into(),
        result: Err(refused),
    });
    let composer = alice
        .model
        .composer
        .as_ref()
        .expect("the composer stays open");
    let card = composer
        .violations
        .iter()
        .find(|v| v.rule == "PII-CARD")
        .unwrap_or_else(|| panic!("no PII-CARD mark: {:?}", composer.violations));
    assert_eq!(&text[card.start..card.end], "4111 1111 1111 1111");
    s.stop().await;
}

/// The console judges an override as the server does: the server's refusal of `PII-CARD`
/// (`override.allowed = false`), decoded by the real client into the typed refusal, gives the
/// same reason as the console's own check, which refuses `:override PII-CARD ...` before sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_the_rulebook_forbids_is_refused_by_the_console_as_by_the_server() {
    use earshot::domain::api::NewReply;
    use earshot::domain::problem::ProblemExtension;
    use earshot::domain::verdict::RefusalReason;
    use earshot::domain::{Override, ReplyPart, Visibility};
    let s = start().await;
    let id = post(&s.base, "visitor", "my kettle lid is loose").await;
    let mut alice = HeadlessConsole::start(&s.base, ALICE);
    alice.open_item("lid", &id).await;
    let text = "Your card 4111 1111 1111 1111 is on file";
    let reason = "the customer asked us to repeat it in writing";
    let refused = HttpBackend::new(&s.base, ALICE)
        .unwrap()
        .send_reply(
            &id,
            "override-refused",
            &NewReply {
                parts: vec![ReplyPart {
                    visibility: Visibility::Direct,
                    body: text.into(),
                }],
                overrides: vec![Override {
                    rule: "PII-CARD".into(),
                    reason: reason.into(),
                }],
                rulebook_version: None,
                base_message_id: None,
            },
        )
        .await
        .expect_err("the server refuses the override");
    let earshot::client::ClientError::Refused { problem, .. } = &refused else {
        panic!("{refused:?}")
    };
    let ProblemExtension::RuleViolation(r) = &problem.extension else {
        panic!("not a typed rule refusal: {problem:?}")
    };
    let server_says = r
        .refused
        .iter()
        .find(|x| x.rule == "PII-CARD")
        .expect("PII-CARD refused");
    assert_eq!(server_says.reason, RefusalReason::NotAllowed);
    // The console's own check, with the rulebook the server sent it.
    let role = alice.model.me.as_ref().map(|a| a.role);
    let console_says =
        earshot::tui::policy::judge(alice.model.rules.as_deref(), "PII-CARD", reason, role)
            .expect_err("the console refuses it too");
    assert!(
        console_says.contains(&RefusalReason::NotAllowed.to_string()),
        "{console_says}"
    );
    // And says so on `:override`, adding nothing.
    alice.keys("r");
    alice.type_text(text);
    alice.keys("esc");
    let _ =
        earshot::tui::update::run_command(&mut alice.model, &format!("override PII-CARD {reason}"));
    let status = alice
        .model
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(status.contains("cannot be overridden"), "{status}");
    assert!(alice.model.composer.as_ref().unwrap().overrides.is_empty());
    s.stop().await;
}
