//! The Team screen and read-only supervision in the real demo, driven in a pty: `earshot demo`
//! opens the console as the demo supervisor; `T` shows the team's figures the in-process server
//! computed, `w` changes the window, Esc goes back; `--read-only` refuses every change and says so.

mod common;

use common::pty::Console;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

fn demo(home: &std::path::Path, extra: &[&str]) -> Console {
    let db = home.join("demo.db");
    let db = db.to_string_lossy().into_owned();
    let mut args = vec!["demo", "--db", &db, "--sim-rate", "0", "--burst-every", "0"];
    args.extend_from_slice(extra);
    Console::spawn(&args, home, 24, 80)
}

#[test]
fn the_demo_supervisor_opens_the_team_screen() {
    let home = tempfile::tempdir().unwrap();
    let mut console = demo(home.path(), &[]);
    console.wait_for("STREAM", WAIT);
    console.keys(b"T");
    let screen = console.wait_for("Breached now", WAIT);
    for part in [
        "Team · last 24 hours",
        "First reply p50",
        "SLA",
        "Agents",
        "on time",
    ] {
        assert!(screen.contains(part), "{part} missing:\n{screen}");
    }
    // The demo's departments are listed with their figures.
    assert!(screen.contains("Billing"), "{screen}");
    console.keys(b"w");
    console.wait_for("Team · last 7 days", WAIT);
    console.keys(b"\x1b");
    let back = console.wait_for("STREAM", WAIT);
    assert!(!back.contains("Breached now"), "{back}");
    console.keys(b":team\r");
    console.wait_for("Breached now", WAIT);
    console.keys(b"\x1b");
    console.keys(b"q");
    assert!(
        console.wait_exit(Duration::from_secs(20)).is_some(),
        "the console quits"
    );
}

#[test]
fn a_read_only_console_shows_the_team_and_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let mut console = demo(home.path(), &["--read-only"]);
    let screen = console.wait_for("READ-ONLY", WAIT);
    assert!(screen.contains("STREAM"), "{screen}");
    // Reply and resolve are refused with the reason, on the status bar.
    console.keys(b"r");
    console.wait_for("reply is disabled", WAIT);
    console.keys(b"T");
    console.wait_for("Breached now", WAIT);
    console.keys(b"\x1b");
    console.keys(b"?");
    console.wait_for("[read-only]", WAIT);
    console.keys(b"\x1b");
    console.keys(b"q");
    assert!(console.wait_exit(Duration::from_secs(20)).is_some());
}
