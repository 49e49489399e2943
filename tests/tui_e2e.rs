//! End to end: the real binary (`earshot demo`: the reference server in process plus the
//! console) in a pseudo-terminal, driven by keys, its screen read back with a terminal emulator.
//! It moves through the stream, writes and sends a reply, sees the server's answer, quits, and
//! checks that the terminal was given back (alternate screen left).

use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Screen {
    parser: vt100::Parser,
    rx: mpsc::Receiver<Vec<u8>>,
}

impl Screen {
    fn pump(&mut self) {
        while let Ok(bytes) = self.rx.try_recv() {
            self.parser.process(&bytes);
        }
    }

    fn text(&mut self) -> String {
        self.pump();
        self.parser.screen().contents()
    }

    /// Wait until the screen shows one of `needles`; returns which.
    fn wait_for(&mut self, needles: &[&str], timeout: Duration) -> Result<usize, String> {
        let end = Instant::now() + timeout;
        loop {
            let t = self.text();
            if let Some(i) = needles.iter().position(|n| t.contains(n)) {
                return Ok(i);
            }
            if Instant::now() > end {
                return Err(format!("timed out waiting for {needles:?}; screen:\n{t}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn demo_console_sends_a_reply_to_the_server() {
    let home = tempfile::tempdir().unwrap();
    let pty = native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows: 30,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_earshot"));
    cmd.args(["demo", "--sim-rate", "0.2"]);
    cmd.env("HOME", home.path());
    cmd.env("XDG_DATA_HOME", home.path().join("data"));
    cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
    cmd.env("XDG_STATE_HOME", home.path().join("state"));
    cmd.env("TERM", "xterm-256color");
    cmd.env("EDITOR", "true");
    cmd.cwd(home.path());
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let mut writer = pair.master.take_writer().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Screen {
        parser: vt100::Parser::new(30, 100, 0),
        rx,
    };
    let mut send = |bytes: &[u8]| {
        writer.write_all(bytes).unwrap();
        writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
    };

    let result = (|| -> Result<(), String> {
        screen.wait_for(&["Stream · "], Duration::from_secs(60))?;
        screen.wait_for(&["● live"], Duration::from_secs(30))?;
        // Move through the stream, then try items until one can be answered from here.
        send(b"j");
        send(b"k");
        for attempt in 0..8 {
            send(b"j");
            send(b"r");
            send(b"Thanks for your patience, we are on it.");
            send(b"\x13"); // C-s
            match screen.wait_for(
                &[
                    "reply sent",
                    "cannot send",
                    "refused",
                    "not sent",
                    "send again to confirm",
                ],
                Duration::from_secs(20),
            )? {
                0 => return Ok(()),
                4 => {
                    send(b"\x13");
                    if screen
                        .wait_for(&["reply sent"], Duration::from_secs(20))
                        .is_ok()
                    {
                        return Ok(());
                    }
                }
                _ => {}
            }
            // Not answerable (no route, or a rule): clear the draft and try the next item.
            send(b"\x0b"); // C-k clears the draft
            send(b"\x1b");
            std::thread::sleep(Duration::from_millis(100));
            if attempt == 7 {
                return Err(format!(
                    "no item could be answered; screen:\n{}",
                    screen.text()
                ));
            }
        }
        Ok(())
    })();
    let shown = screen.text();
    // Leave: back to the stream, then quit.
    send(b"\x1b");
    std::thread::sleep(Duration::from_millis(200));
    send(b"q");
    let end = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > end {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    screen.pump();
    result.unwrap();
    assert!(shown.contains("reply sent"), "{shown}");
    let status = status.expect("the console quits on q");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        !screen.parser.screen().alternate_screen(),
        "the terminal was not restored"
    );
}
