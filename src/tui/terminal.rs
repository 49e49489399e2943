//! The terminal guard: raw mode, alternate screen and bracketed paste on the way in; all of it
//! undone on the way out, whether by quit, error, panic (a hook restores before the message is
//! printed) or signal (the loop quits through the normal path).

use super::wire::LeanBackend;
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::style::{Attribute, ResetColor, SetAttribute};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use std::io::{self, BufWriter, Stdout, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;

/// Bytes written to the terminal since start (for the benchmark and the idle check).
pub static BYTES_WRITTEN: AtomicU64 = AtomicU64::new(0);
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Mouse capture was asked for (`--mouse`): on with the rest, off with the rest.
static MOUSE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Stdout, buffered, counting what goes through.
pub struct CountingStdout(BufWriter<Stdout>);

impl Write for CountingStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.0.write(buf)?;
        BYTES_WRITTEN.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

pub type Term = Terminal<LeanBackend<CountingStdout>>;

pub struct TerminalGuard {
    pub terminal: Term,
}

/// Put the terminal back as we found it. Safe to call more than once.
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let mut out = io::stdout();
    // The lean backend leaves its last colours set between frames: reset them before the
    // alternate screen goes, so the shell does not inherit them.
    let r1 = execute!(
        out,
        SetAttribute(Attribute::Reset),
        ResetColor,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let r2 = disable_raw_mode();
    let r3 = if MOUSE.load(Ordering::SeqCst) {
        execute!(io::stdout(), DisableMouseCapture)
    } else {
        Ok(())
    };
    r1.and(r2).and(r3)
}

fn setup() -> io::Result<()> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(
        io::stdout(),
        EnterAlternateScreen,
        EnableBracketedPaste,
        cursor::Hide
    )?;
    if MOUSE.load(Ordering::SeqCst) {
        execute!(io::stdout(), EnableMouseCapture)?;
    }
    Ok(())
}

impl TerminalGuard {
    /// Takes the terminal; with `mouse`, clicks and the wheel come in as events too.
    pub fn enter(mouse: bool) -> io::Result<TerminalGuard> {
        MOUSE.store(mouse, Ordering::SeqCst);
        HOOK.call_once(|| {
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                // A dependency's panic that the rules engine catches and handles is no reason
                // to leave the screen.
                if crate::rules::panic_is_contained() {
                    return;
                }
                let _ = restore();
                prev(info);
            }));
        });
        if let Err(e) = setup() {
            let _ = restore();
            return Err(e);
        }
        let backend = LeanBackend::new(CountingStdout(BufWriter::with_capacity(
            64 * 1024,
            io::stdout(),
        )));
        match Terminal::new(backend) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                let _ = restore();
                Err(e)
            }
        }
    }

    /// Give the terminal to another program ($EDITOR).
    pub fn suspend(&mut self) -> io::Result<()> {
        restore()
    }

    /// Take it back and repaint everything on the next draw.
    pub fn resume(&mut self) -> io::Result<()> {
        setup()?;
        self.terminal.backend_mut().forget();
        self.terminal.clear()
    }

    /// OSC 52: ask the terminal to put `text` on the clipboard.
    pub fn copy(&mut self, text: &str) -> io::Result<()> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        let w = self.terminal.backend_mut();
        write!(w, "\x1b]52;c;{b64}\x07")?;
        w.flush()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = restore();
    }
}
