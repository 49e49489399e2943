//! A dropped SSH session (SIGHUP) or a `kill` (SIGTERM) must leave the terminal restored and the
//! draft saved; `--mouse` takes the mouse and gives it back: the real console in a
//! pseudo-terminal, against the real server.

mod common;

use common::pty::Console;
use common::*;
use std::time::Duration;

/// A server holding `posts` (oldest first) and the real console on it in an 80x24 pty.
fn serve_and_open(
    posts: &[&str],
    extra_args: &[&str],
) -> (
    tokio::runtime::Runtime,
    TestServer,
    tempfile::TempDir,
    Console,
) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let s = start().await;
        for text in posts {
            s.feedback(SAM, "x", "@ann", text).await;
        }
        s
    });
    let home = tempfile::tempdir().unwrap();
    let mut args = vec!["console", "--url", &server.base, "--token", SAM];
    args.extend_from_slice(extra_args);
    let console = Console::spawn(&args, home.path(), 24, 80);
    (rt, server, home, console)
}

fn signal_saves_the_draft_and_restores_the_terminal(signal: &str) {
    let (rt, server, home, mut console) =
        serve_and_open(&["my kettle is broken, please help"], &[]);
    console.wait_for("kettle", Duration::from_secs(60));
    assert_eq!(
        console.parser.screen().mouse_protocol_mode(),
        vt100::MouseProtocolMode::None,
        "the mouse is the terminal's unless --mouse"
    );
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

#[test]
fn with_mouse_a_click_selects_a_row_and_the_mouse_is_given_back() {
    let (rt, server, _home, mut console) = serve_and_open(
        &[
            "first kettle post",
            "second kettle post",
            "third kettle post",
        ],
        &["--mouse"],
    );
    console.wait_for("first kettle post", Duration::from_secs(60));
    assert_ne!(
        console.parser.screen().mouse_protocol_mode(),
        vt100::MouseProtocolMode::None,
        "--mouse asks the terminal for mouse reports"
    );
    // The newest item is selected (row 1, under the border). A left click (SGR encoding,
    // 1-based) on the third row selects the item drawn there.
    let third_row = |console: &mut Console| {
        console.pump();
        let text = console.parser.screen().contents();
        text.lines().nth(3).unwrap_or_default().to_string()
    };
    let row = third_row(&mut console);
    assert!(row.contains("first kettle post"), "{row}");
    console.keys(b"\x1b[<0;20;4M\x1b[<0;20;4m");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let row = third_row(&mut console);
        if row.contains('▌') {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the clicked row is not selected; screen:\n{}",
            console.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    console.keys(b"q");
    let status = console.wait_exit(Duration::from_secs(20));
    assert!(status.as_ref().is_some_and(|s| s.success()), "{status:?}");
    let screen = console.parser.screen();
    assert!(!screen.alternate_screen());
    assert_eq!(
        screen.mouse_protocol_mode(),
        vt100::MouseProtocolMode::None,
        "the mouse is given back on exit"
    );
    rt.block_on(server.stop());
}
