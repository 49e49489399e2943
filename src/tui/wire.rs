//! The bytes that reach the terminal (issue 15: a composer keystroke within 3x of vim's).
//!
//! ratatui already sends only the cells that changed, but its crossterm backend forgets the
//! terminal's state between frames: every frame ends with a full style reset (19 bytes), the
//! next frame sets its colours again from scratch, each colour change names both foreground and
//! background in their 256-colour form, and every frame hides the cursor again. Over SSH on a slow
//! link that is most of what a keystroke costs. [`LeanBackend`] wraps the crossterm backend and
//! keeps what the terminal already has:
//!
//! - the *pen* (colours, underline colour, attributes) across frames, so a cell drawn in the
//!   style the terminal is already in costs only its character, and a change sends one SGR
//!   sequence with only the parameters that changed, in their shortest form (`31`, not
//!   `38;5;1`, which the Linux console does not know either);
//! - where the terminal's cursor is, so a move to where it already stands is not sent (typing a
//!   character leaves the cursor right after it, which is where the composer wants it);
//! - whether the cursor is shown, so hiding it again every frame is not sent.
//!
//! Anything that may disturb that knowledge (a clear, another program on the terminal, a resize)
//! forgets it, and the next frame starts from a reset. The rest (sizes, clearing, the cursor
//! query) is what ratatui's crossterm backend does, through crossterm.

use crossterm::terminal::ClearType as CtClear;
use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};
use std::io::{self, Write};
use unicode_width::UnicodeWidthStr;

/// The terminal's current graphic rendition, as last set by us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pen {
    fg: Color,
    bg: Color,
    underline: Color,
    modifier: Modifier,
}

impl Pen {
    /// What `SGR 0` leaves.
    const RESET: Pen = Pen {
        fg: Color::Reset,
        bg: Color::Reset,
        underline: Color::Reset,
        modifier: Modifier::empty(),
    };

    fn of(cell: &Cell) -> Pen {
        Pen {
            fg: cell.fg,
            bg: cell.bg,
            underline: cell.underline_color,
            modifier: cell.modifier,
        }
    }
}

/// A backend that sends only what changes the terminal's state (see the module's comment).
pub struct LeanBackend<W: Write> {
    out: W,
    /// The terminal's pen; `None` when unknown (start, after a clear or another program).
    pen: Option<Pen>,
    /// Where the terminal's cursor is; `None` when unknown.
    at: Option<Position>,
    /// Whether the cursor is shown; `None` when unknown.
    shown: Option<bool>,
}

impl<W: Write> LeanBackend<W> {
    pub fn new(writer: W) -> LeanBackend<W> {
        LeanBackend {
            out: writer,
            pen: None,
            at: None,
            shown: None,
        }
    }

    /// The terminal was used by something else (an editor, a shell): assume nothing of it.
    pub fn forget(&mut self) {
        self.pen = None;
        self.at = None;
        self.shown = None;
    }

    /// One SGR sequence taking the terminal's pen to `to` (from a reset when it is unknown).
    fn set_pen(&mut self, to: Pen) -> io::Result<()> {
        let mut params: Vec<String> = Vec::new();
        let from = match self.pen {
            Some(p) => p,
            None => {
                params.push("0".into());
                Pen::RESET
            }
        };
        modifier_params(from.modifier, to.modifier, &mut params);
        if to.fg != from.fg {
            params.push(colour_param(to.fg, Ground::Fore));
        }
        if to.bg != from.bg {
            params.push(colour_param(to.bg, Ground::Back));
        }
        if to.underline != from.underline {
            params.push(colour_param(to.underline, Ground::Underline));
        }
        if !params.is_empty() {
            write!(self.out, "\x1b[{}m", params.join(";"))?;
        }
        self.pen = Some(to);
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Ground {
    Fore,
    Back,
    Underline,
}

/// The shortest SGR parameter for a colour: the 16 ANSI colours by their own codes.
fn colour_param(c: Color, ground: Ground) -> String {
    let (base, bright, extended, reset) = match ground {
        Ground::Fore => (30, 90, 38, 39),
        Ground::Back => (40, 100, 48, 49),
        // Underline colours have no short forms.
        Ground::Underline => (0, 0, 58, 59),
    };
    let ansi = |n: u8| -> Option<u8> {
        match ground {
            Ground::Underline => None,
            _ if n < 8 => Some(base + n),
            _ => Some(bright + n - 8),
        }
    };
    let indexed = |n: u8| ansi(n).map_or(format!("{extended};5;{n}"), |p| p.to_string());
    match c {
        Color::Reset => reset.to_string(),
        Color::Black => indexed(0),
        Color::Red => indexed(1),
        Color::Green => indexed(2),
        Color::Yellow => indexed(3),
        Color::Blue => indexed(4),
        Color::Magenta => indexed(5),
        Color::Cyan => indexed(6),
        Color::Gray => indexed(7),
        Color::DarkGray => indexed(8),
        Color::LightRed => indexed(9),
        Color::LightGreen => indexed(10),
        Color::LightYellow => indexed(11),
        Color::LightBlue => indexed(12),
        Color::LightMagenta => indexed(13),
        Color::LightCyan => indexed(14),
        Color::White => indexed(15),
        Color::Indexed(n) => format!("{extended};5;{n}"),
        Color::Rgb(r, g, b) => format!("{extended};2;{r};{g};{b}"),
    }
}

/// The SGR parameters that turn attributes `from` into `to`. Bold and dim share their "off"
/// code (22), so turning one off re-sends the other when it stays.
fn modifier_params(from: Modifier, to: Modifier, params: &mut Vec<String>) {
    let removed = from - to;
    let mut added = to - from;
    let offs = [
        (Modifier::ITALIC, "23"),
        (Modifier::UNDERLINED, "24"),
        (Modifier::SLOW_BLINK | Modifier::RAPID_BLINK, "25"),
        (Modifier::REVERSED, "27"),
        (Modifier::HIDDEN, "28"),
        (Modifier::CROSSED_OUT, "29"),
    ];
    if removed.intersects(Modifier::BOLD | Modifier::DIM) {
        params.push("22".into());
        added |= to & (Modifier::BOLD | Modifier::DIM);
    }
    for (m, off) in offs {
        if removed.intersects(m) {
            params.push(off.into());
            added |= to & m;
        }
    }
    let ons = [
        (Modifier::BOLD, "1"),
        (Modifier::DIM, "2"),
        (Modifier::ITALIC, "3"),
        (Modifier::UNDERLINED, "4"),
        (Modifier::SLOW_BLINK, "5"),
        (Modifier::RAPID_BLINK, "6"),
        (Modifier::REVERSED, "7"),
        (Modifier::HIDDEN, "8"),
        (Modifier::CROSSED_OUT, "9"),
    ];
    for (m, on) in ons {
        if added.contains(m) {
            params.push(on.into());
        }
    }
}

impl<W: Write> Backend for LeanBackend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        for (x, y, cell) in content {
            let here = Position { x, y };
            if self.at != Some(here) {
                write!(self.out, "\x1b[{};{}H", y + 1, x + 1)?;
            }
            let pen = Pen::of(cell);
            if self.pen != Some(pen) {
                self.set_pen(pen)?;
            }
            let symbol = cell.symbol();
            self.out.write_all(symbol.as_bytes())?;
            // Only a one-column character leaves the cursor surely one cell on (a wide one
            // depends on the terminal's idea of its width; the last column wraps lazily).
            self.at = (symbol.width() == 1).then_some(Position { x: x + 1, y });
        }
        Ok(())
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        if self.shown != Some(false) {
            self.out.write_all(b"\x1b[?25l")?;
            self.shown = Some(false);
        }
        Ok(())
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        if self.shown != Some(true) {
            self.out.write_all(b"\x1b[?25h")?;
            self.shown = Some(true);
        }
        Ok(())
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        let (x, y) = crossterm::cursor::position()?;
        Ok(Position { x, y })
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        let p = position.into();
        if self.at != Some(p) {
            write!(self.out, "\x1b[{};{}H", p.y + 1, p.x + 1)?;
            self.at = Some(p);
        }
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        // Erasing fills with the current background: erase with the default one.
        if self.pen != Some(Pen::RESET) {
            self.out.write_all(b"\x1b[0m")?;
            self.pen = Some(Pen::RESET);
        }
        self.at = None;
        let kind = match clear_type {
            ClearType::All => CtClear::All,
            ClearType::AfterCursor => CtClear::FromCursorDown,
            ClearType::BeforeCursor => CtClear::FromCursorUp,
            ClearType::CurrentLine => CtClear::CurrentLine,
            ClearType::UntilNewLine => CtClear::UntilNewLine,
        };
        crossterm::execute!(self.out, crossterm::terminal::Clear(kind))
    }

    fn size(&self) -> io::Result<Size> {
        let (width, height) = crossterm::terminal::size()?;
        Ok(Size { width, height })
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        let ws = crossterm::terminal::window_size()?;
        Ok(WindowSize {
            columns_rows: Size {
                width: ws.columns,
                height: ws.rows,
            },
            pixels: Size {
                width: ws.width,
                height: ws.height,
            },
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> Write for LeanBackend<W> {
    /// Raw writes (OSC 52) go straight through; they move neither pen nor cursor.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests;
