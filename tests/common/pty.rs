//! A program in a pseudo-terminal opened by the test: the one harness of the pty tests and of
//! benches/console.rs (which includes this file by path, as a bench cannot import tests/common).
//!
//! [`Pty`] is the terminal itself: a reader thread hands over every chunk the program writes,
//! stamped when it arrived (the bench times the first frame by it). [`Console`] is the real
//! `earshot` on one, its output parsed by a terminal emulator (vt100) and also kept raw, so tests
//! can check both what the screen shows and every byte the program wrote.
// Each test crate and the bench use a part of it.
#![allow(dead_code)]

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Bytes the program wrote, as one read got them.
pub struct Chunk {
    pub at: Instant,
    pub bytes: Vec<u8>,
}

pub struct Pty {
    pub rx: mpsc::Receiver<Chunk>,
    pub writer: Box<dyn Write + Send>,
    pub child: Box<dyn Child + Send + Sync>,
    /// Just before the program was started.
    pub spawned: Instant,
    _master: Box<dyn MasterPty + Send>,
}

impl Pty {
    /// Runs `cmd` on a new `rows`x`cols` terminal.
    pub fn spawn(cmd: CommandBuilder, rows: u16, cols: u16) -> Result<Pty, String> {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| e.to_string())?;
        let mut reader = pair.master.try_clone_reader().map_err(|e| e.to_string())?;
        let writer = pair.master.take_writer().map_err(|e| e.to_string())?;
        let spawned = Instant::now();
        let child = pair.slave.spawn_command(cmd).map_err(|e| e.to_string())?;
        drop(pair.slave);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = reader.read(&mut buf) {
                let chunk = Chunk {
                    at: Instant::now(),
                    bytes: buf[..n].to_vec(),
                };
                if n == 0 || tx.send(chunk).is_err() {
                    break;
                }
            }
        });
        Ok(Pty {
            rx,
            writer,
            child,
            spawned,
            _master: pair.master,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }
}

/// `bin <args>` with its XDG directories (and `HOME`) under `home`, run there, on an xterm.
pub fn earshot_command(bin: &str, args: &[&str], home: &Path) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(bin);
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
    cmd
}

pub struct Console {
    pub parser: vt100::Parser,
    pub raw: Vec<u8>,
    pub child: Box<dyn Child + Send + Sync>,
    /// How long [`Console::keys`] waits after writing, for the program to handle them.
    pub settle: Duration,
    rx: mpsc::Receiver<Chunk>,
    writer: Box<dyn Write + Send>,
    _master: Box<dyn MasterPty + Send>,
}

impl Console {
    /// Runs `earshot <args>` at `rows`x`cols` with its XDG directories under `home`.
    pub fn spawn(args: &[&str], home: &Path, rows: u16, cols: u16) -> Console {
        let cmd = earshot_command(env!("CARGO_BIN_EXE_earshot"), args, home);
        Console::spawn_command(cmd, rows, cols)
    }

    /// Runs `cmd` (from [`earshot_command`], with more environment) at `rows`x`cols`.
    pub fn spawn_command(cmd: CommandBuilder, rows: u16, cols: u16) -> Console {
        let Pty {
            rx,
            writer,
            child,
            spawned: _,
            _master,
        } = Pty::spawn(cmd, rows, cols).expect("earshot starts in a pty");
        Console {
            parser: vt100::Parser::new(rows, cols, 0),
            raw: Vec::new(),
            child,
            settle: Duration::from_millis(120),
            rx,
            writer,
            _master,
        }
    }

    pub fn pump(&mut self) {
        while let Ok(chunk) = self.rx.try_recv() {
            self.parser.process(&chunk.bytes);
            self.raw.extend_from_slice(&chunk.bytes);
        }
    }

    pub fn text(&mut self) -> String {
        self.pump();
        self.parser.screen().contents()
    }

    /// Waits until the screen shows `needle`; panics with the screen when it does not.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        match self.wait_until(&[needle], timeout) {
            Ok((_, text)) => text,
            Err(text) => panic!("timed out waiting for {needle:?}; screen:\n{text}"),
        }
    }

    /// Waits until the screen shows one of `needles`; returns which, or the screen on timeout.
    pub fn wait_for_any(&mut self, needles: &[&str], timeout: Duration) -> Result<usize, String> {
        match self.wait_until(needles, timeout) {
            Ok((i, _)) => Ok(i),
            Err(text) => Err(format!(
                "timed out waiting for {needles:?}; screen:\n{text}"
            )),
        }
    }

    /// The needle shown and the screen showing it, or the last screen.
    fn wait_until(
        &mut self,
        needles: &[&str],
        timeout: Duration,
    ) -> Result<(usize, String), String> {
        let end = Instant::now() + timeout;
        loop {
            let text = self.text();
            if let Some(i) = needles.iter().position(|n| text.contains(n)) {
                return Ok((i, text));
            }
            if Instant::now() >= end {
                return Err(text);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn keys(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
        std::thread::sleep(self.settle);
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
