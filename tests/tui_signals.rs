//! A dropped SSH session (SIGHUP) or a `kill` (SIGTERM) must leave the terminal restored and the
//! draft saved: the real console in a pseudo-terminal, against the real server.

mod common;

use common::pty::Console;
use common::*;
use std::time::Duration;

fn signal_saves_the_draft_and_restores_the_terminal(signal: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let s = start().await;
        s.feedback(SAM, "x", "@ann", "my kettle is broken, please help")
            .await;
        s
    });
    let home = tempfile::tempdir().unwrap();
    let mut console = Console::spawn(
        &["console", "--url", &server.base, "--token", SAM],
        home.path(),
        24,
        80,
    );
    console.wait_for("kettle", Duration::from_secs(60));
    console.keys(b"r");
    let words = format!("draft before {signal}");
    console.keys(words.as_bytes());
    console.wait_for(&words, Duration::from_secs(10));
    assert!(console.parser.screen().alternate_screen());
    let pid = console.child.process_id().expect("a pid");
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = console.wait_exit(Duration::from_secs(20));
    assert!(status.is_some(), "the console exits on SIG{signal}");
    assert!(
        !console.parser.screen().alternate_screen(),
        "the terminal is restored on SIG{signal}"
    );
    // The draft was written to the data directory before exiting.
    let drafts = home.path().join("data/earshot/drafts");
    let saved: Vec<String> = std::fs::read_dir(&drafts)
        .unwrap_or_else(|e| panic!("{}: {e}", drafts.display()))
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    assert!(
        saved.iter().any(|d| d.contains(&words)),
        "draft saved: {saved:?}"
    );
    rt.block_on(server.stop());
}

#[test]
fn sigterm_saves_the_draft_and_restores_the_terminal() {
    signal_saves_the_draft_and_restores_the_terminal("TERM");
}

#[test]
fn sighup_saves_the_draft_and_restores_the_terminal() {
    signal_saves_the_draft_and_restores_the_terminal("HUP");
}
