//! The composer in the real binary, in a pseudo-terminal, against the real server (issue 16):
//!
//! - a plain (unbracketed) paste of 5,000 characters arrives whole;
//! - with follow mode on, an arrival while the agent writes never takes the reply to another
//!   customer: the text goes to the item it was written for;
//! - the stale-send guard survives re-selecting the item, shows the colleague's reply in full,
//!   and one key confirms;
//! - at 16 colours a rule error is underlined in red, not grey.

mod common;

use common::pty::Console;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ROWS: u16 = 30;
const COLS: u16 = 100;

fn console(base: &str, token: &str, home: &std::path::Path, extra: &[&str]) -> Console {
    let mut args = vec!["console", "--url", base, "--token", token];
    args.extend_from_slice(extra);
    let mut c = Console::spawn(&args, home, ROWS, COLS);
    c.wait_for("● live", Duration::from_secs(60));
    // The selected item's thread, profile and the rulebook come in once the selection rests.
    std::thread::sleep(Duration::from_millis(1500));
    c
}

fn quit(c: &mut Console) {
    c.keys(b"\x1b");
    c.keys(b"\x1b");
    c.keys(b"q");
    let status = c.wait_exit(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "the console quits on q"
    );
}

/// Waits until `f` holds for the screen's text; panics with the screen when it does not.
fn wait_until(c: &mut Console, what: &str, f: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let t = c.text();
        if f(&t) {
            return t;
        }
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}; screen:\n{t}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn thread_of(s: &TestServer, id: &str) -> Vec<Value> {
    let detail = s.get(&format!("/v1/feedback/{id}"), SAM).await;
    detail.body["thread"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn outbound_with(s: &TestServer, id: &str, text: &str) -> usize {
    thread_of(s, id)
        .await
        .iter()
        .filter(|m| m["direction"] == "outbound" && m["body"].as_str().unwrap_or("").contains(text))
        .count()
}

async fn reply_as(s: &TestServer, token: &str, id: &str, body: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/feedback/{id}/replies", s.base))
        .bearer_auth(token)
        .header("Idempotency-Key", format!("colleague-{id}"))
        .json(&json!({"parts": [{"visibility": "direct", "body": body}], "overrides": []}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "colleague's reply: {}", r.status());
}

#[test]
fn a_plain_paste_of_5000_characters_arrives_whole() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(async {
        let s = start().await;
        post_feedback(
            &s.base,
            SAM,
            "webchat",
            "visitor",
            "how do I descale my kettle",
        )
        .await;
        s
    });
    let home = tempfile::tempdir().unwrap();
    let mut c = console(&s.base, ALICE, home.path(), &[]);
    c.keys(b"r");
    // Words, no newline, no bracketed-paste markers: what a terminal without bracketed paste
    // (or tmux's paste-buffer) sends, in one write.
    let words = ["kettle ", "order ", "thanks ", "please ", "ok "];
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 5000 {
        text.push_str(words[i % words.len()]);
        i += 1;
    }
    text.truncate(5000);
    c.keys(text.as_bytes());
    wait_until(&mut c, "the composer to count 5000 characters", |t| {
        t.contains("5000 chars") || t.contains("5000/")
    });
    quit(&mut c);
    rt.block_on(s.stop());
}

#[test]
fn follow_mode_never_takes_the_reply_to_an_arriving_item() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (s, first) = rt.block_on(async {
        let s = start().await;
        let item = post_feedback(&s.base, SAM, "webchat", "ann", "my zebrakettle is cold").await;
        (s, item["id"].as_str().unwrap().to_string())
    });
    let home = tempfile::tempdir().unwrap();
    let mut c = console(&s.base, ALICE, home.path(), &[]);
    c.keys(b"f");
    c.wait_for("follow", Duration::from_secs(10));
    c.keys(b"r");
    c.keys(b"Hello Ann, BOUND-");
    // Someone else writes in while Ann's reply is being typed.
    let second = rt.block_on(async {
        let item = post_feedback(&s.base, SAM, "webchat", "bob", "my quokkatoaster smokes").await;
        item["id"].as_str().unwrap().to_string()
    });
    c.wait_for("quokkatoaster", Duration::from_secs(20));
    c.keys(b"REPLY for you.");
    let screen = c.text();
    assert!(
        screen.contains("Reply to ann"),
        "the title names the recipient:\n{screen}"
    );
    c.keys(b"\x13"); // C-s
    c.wait_for("reply sent", Duration::from_secs(20));
    quit(&mut c);
    rt.block_on(async {
        assert_eq!(
            outbound_with(&s, &first, "BOUND-REPLY").await,
            1,
            "on Ann's item"
        );
        assert_eq!(
            outbound_with(&s, &second, "BOUND").await,
            0,
            "nothing to Bob"
        );
        s.stop().await;
    });
}

#[test]
fn re_selecting_the_item_never_clears_the_stale_send_guard() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (s, id) = rt.block_on(async {
        let s = start().await;
        post_feedback(
            &s.base,
            SAM,
            "webchat",
            "carl",
            "older wombatgrill question",
        )
        .await;
        let item = post_feedback(&s.base, SAM, "webchat", "dora", "my wombatkettle leaks").await;
        (s, item["id"].as_str().unwrap().to_string())
    });
    let home = tempfile::tempdir().unwrap();
    let mut c = console(&s.base, ALICE, home.path(), &[]);
    c.wait_for("wombatkettle", Duration::from_secs(10));
    c.keys(b"r");
    c.keys(b"Sorry Dora, GUARDED-REPLY.");
    // A colleague answers meanwhile, at length.
    let colleague = format!(
        "Jonas here: we are sending a replacement seal today, {} END-OF-JONAS",
        "with a prepaid return label for the old one, ".repeat(4)
    );
    rt.block_on(reply_as(&s, JONAS, &id, &colleague));
    c.wait_for("not seen", Duration::from_secs(20));
    // Leave the composer, look at another item, come back, send: the guard still holds.
    c.keys(b"\x1b");
    c.keys(b"j");
    c.keys(b"k");
    std::thread::sleep(Duration::from_millis(1500));
    c.keys(b"r");
    c.keys(b"\x13");
    let screen = c.wait_for("The thread moved on", Duration::from_secs(20));
    assert!(
        screen.contains("END-OF-JONAS"),
        "the colleague's reply in full:\n{screen}"
    );
    rt.block_on(async {
        assert_eq!(
            outbound_with(&s, &id, "GUARDED-REPLY").await,
            0,
            "held back"
        );
    });
    // One key confirms.
    c.keys(b"y");
    c.wait_for("reply sent", Duration::from_secs(20));
    let screen = c.text();
    assert!(
        !screen.contains("new message"),
        "no false claim after our own send:\n{screen}"
    );
    quit(&mut c);
    rt.block_on(async {
        assert_eq!(outbound_with(&s, &id, "GUARDED-REPLY").await, 1);
        s.stop().await;
    });
}

#[test]
fn at_16_colours_a_rule_error_is_underlined_in_red() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(async {
        let s = start().await;
        post_feedback(&s.base, SAM, "webchat", "erin", "my kettle lid is loose").await;
        s
    });
    let home = tempfile::tempdir().unwrap();
    let mut c = console(&s.base, ALICE, home.path(), &["--color", "16"]);
    c.keys(b"r");
    c.keys(b"Your card 4111 1111 1111 1111 was charged");
    c.wait_for("PII-CARD", Duration::from_secs(20));
    c.pump();
    let screen = c.parser.screen().clone();
    let (row, col) = (0..ROWS)
        .find_map(|r| {
            let line = screen.contents_between(r, 0, r, COLS);
            line.find("4111 1111")
                .map(|i| (r, line[..i].chars().count() as u16))
        })
        .expect("the card number on screen");
    let cell = screen.cell(row, col).expect("a cell");
    assert!(cell.underline(), "the violation is underlined");
    // ANSI red (1) or bright red (9): a hue, not a grey (0, 7, 8, 15).
    assert!(
        matches!(cell.fgcolor(), vt100::Color::Idx(1) | vt100::Color::Idx(9)),
        "underline colour {:?}",
        cell.fgcolor()
    );
    quit(&mut c);
    rt.block_on(s.stop());
}
