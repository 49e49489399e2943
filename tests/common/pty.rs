//! The real `earshot` binary in a pseudo-terminal opened by the test, its output parsed by a
//! terminal emulator (vt100) and also kept raw, so tests can check both what the screen shows
//! and every byte the program wrote.

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Console {
    pub parser: vt100::Parser,
    pub raw: Vec<u8>,
    rx: mpsc::Receiver<Vec<u8>>,
    writer: Box<dyn Write + Send>,
    pub child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
}

impl Console {
    /// Runs `earshot <args>` at `rows`x`cols` with its XDG directories under `home`.
    pub fn spawn(args: &[&str], home: &Path, rows: u16, cols: u16) -> Console {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_earshot"));
        cmd.args(args);
        for (k, dir) in [
            ("HOME", ""),
            ("XDG_DATA_HOME", "data"),
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_STATE_HOME", "state"),
        ] {
            cmd.env(k, home.join(dir));
        }
        cmd.env("TERM", "xterm-256color");
        cmd.cwd(home);
        let child = pair.slave.spawn_command(cmd).expect("earshot starts");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Console {
            parser: vt100::Parser::new(rows, cols, 0),
            raw: Vec::new(),
            rx,
            writer,
            child,
            _master: pair.master,
        }
    }

    pub fn pump(&mut self) {
        while let Ok(bytes) = self.rx.try_recv() {
            self.parser.process(&bytes);
            self.raw.extend_from_slice(&bytes);
        }
    }

    pub fn text(&mut self) -> String {
        self.pump();
        self.parser.screen().contents()
    }

    /// Waits until the screen shows `needle`; panics with the screen when it does not.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {needle:?}; screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn keys(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(120));
    }

    /// Waits for the program to exit; kills it after `timeout`. Returns whether it exited.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<portable_pty::ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.pump();
                return Some(status);
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                self.pump();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
