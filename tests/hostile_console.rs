//! Hostile customer text, end to end: a corpus of attack posts goes through the real server
//! (HTTP intake) and is rendered by the real console (`earshot console`) in a pseudo-terminal.
//! Every byte the console writes is kept and checked: nothing but text reaches the terminal (no
//! title change, no clipboard write, no hyperlink, no bidi reordering, no bell), and the layout
//! holds (borders stay in their columns).

mod common;

use common::pty::Console;
use common::*;
use serde_json::json;
use std::time::Duration;

const ROWS: u16 = 24;
const COLS: u16 = 80;

/// (author handle, text): each line an attack seen in the wild on terminals.
fn corpus() -> Vec<(String, String)> {
    let big = format!(
        "start of a long post {}end of it",
        "lorem ipsum dolor sit amet ".repeat(100 * 1024 / 27)
    );
    vec![
        ("@clear\u{1b}[2J".into(), "\u{1b}[2J\u{1b}[Hscreen cleared? \u{1b}[31mred\u{1b}[0m".into()),
        ("@title".into(), "\u{1b}]0;pwned-title\u{7}window title attack \u{1b}]2;pwned-title-2\u{1b}\\".into()),
        ("@link".into(), "\u{1b}]8;;http://evil.example/\u{1b}\\click here\u{1b}]8;;\u{1b}\\ hyperlink attack".into()),
        ("@clip".into(), "\u{1b}]52;c;ZXZpbCBjbGlwYm9hcmQ=\u{7}clipboard attack".into()),
        ("@c1".into(), "C1 attack \u{9b}31m\u{9d}0;c1-title\u{9c} \u{90}dcs\u{9c} done".into()),
        ("@trojan".into(), "Trojan \u{202e}gnp.exe\u{202c} and \u{2066}if admin\u{2069} \u{202a}ltr\u{202c}".into()),
        ("@zwj".into(), "family 👨\u{200d}👩\u{200d}👧 zero\u{200b}width \u{feff}bom \u{2060}join".into()),
        ("@bell".into(), "bell\u{7}\u{7} back\u{8}\u{8}space carriage\roverwrite tab\there".into()),
        ("@dcs".into(), "\u{1b}P1$qm\u{1b}\\device control and \u{1b}[6n cursor report".into()),
        ("@wide".into(), "顧客サービス最高 Z\u{0337}\u{0334}\u{0335}\u{0336}\u{0338}\u{0339}\u{033a}\u{033b}\u{033c}\u{033d}\u{033e}\u{033f}\u{0340}\u{0341}\u{0342}\u{0343}\u{0344}\u{0345}algo".into()),
        ("@big".into(), big),
    ]
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn hostile_posts_reach_the_screen_as_text_only() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let s = start().await;
        for (handle, text) in corpus() {
            let r = s
                .post(
                    "/v1/feedback",
                    SAM,
                    json!({"channel": "forum", "author_handle": handle, "text": text}),
                )
                .await;
            assert!(r.status.is_success(), "{} {}", r.status, r.body);
        }
        s
    });
    let home = tempfile::tempdir().unwrap();
    let mut term = Console::spawn(
        &["console", "--url", &server.base, "--token", SAM],
        home.path(),
        ROWS,
        COLS,
    );
    term.wait_for("Stream", Duration::from_secs(60));
    // Walk over every hostile item so each is rendered in the stream, the profile and the composer.
    for _ in 0..corpus().len() + 1 {
        term.keys(b"j");
    }
    for _ in 0..corpus().len() + 1 {
        term.keys(b"k");
    }
    std::thread::sleep(Duration::from_millis(500));
    term.pump();
    let screen = term.parser.screen().clone();
    term.keys(b"q");
    term.wait_exit(Duration::from_secs(20));
    rt.block_on(server.stop());

    let raw = &term.raw;
    // Nothing from a customer became a control sequence.
    for (what, seq) in [
        ("window title (OSC 0/2)", &b"\x1b]0;"[..]),
        ("window title (OSC 2)", b"\x1b]2;"),
        ("hyperlink (OSC 8)", b"\x1b]8;"),
        ("clipboard (OSC 52)", b"\x1b]52;"),
        ("device control (DCS)", b"\x1bP"),
        ("cursor report request", b"\x1b[6n"),
        ("bell", b"\x07"),
        ("C1 CSI as UTF-8", "\u{9b}".as_bytes()),
        ("C1 OSC as UTF-8", "\u{9d}".as_bytes()),
        ("bidi override", "\u{202e}".as_bytes()),
        ("bidi isolate", "\u{2066}".as_bytes()),
        ("zero-width space", "\u{200b}".as_bytes()),
        ("byte order mark", "\u{feff}".as_bytes()),
    ] {
        assert!(!find(raw, seq), "{what} reached the terminal");
    }
    // The whole escape sequence is dropped, payload and all, so no `]0;title` debris is shown.
    for debris in [
        &b"pwned-title"[..],
        b"evil.example",
        b"ZXZpbCBjbGlwYm9hcmQ=",
        b"c1-title",
    ] {
        assert!(
            !find(raw, debris),
            "{} reached the terminal",
            String::from_utf8_lossy(debris)
        );
    }
    let text = screen.contents();
    assert!(text.contains("Stream"), "{text}");
    assert!(
        text.contains("attack") || text.contains("顧客"),
        "hostile items are listed as text:\n{text}"
    );
    // The layout holds: the stream pane's top border spans the full width on row 0 and every row
    // ends inside the screen (wide and combining characters did not push anything out).
    let first_row = screen.contents_between(0, 0, 0, COLS);
    assert_eq!(
        unicode_width::UnicodeWidthStr::width(first_row.as_str()),
        COLS as usize,
        "{first_row:?}"
    );
    for row in 0..ROWS {
        let cell = screen.cell(row, COLS - 1);
        assert!(cell.is_some(), "row {row} is cut short");
    }
    assert!(
        !term.parser.screen().alternate_screen(),
        "the terminal was restored on quit"
    );
}
