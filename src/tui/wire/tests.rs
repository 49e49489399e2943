use super::*;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::{Terminal, TerminalOptions, Viewport};
use std::cell::RefCell;
use std::rc::Rc;

/// What the terminal receives, shared with the test.
#[derive(Clone, Default)]
struct Wire(Rc<RefCell<Vec<u8>>>);

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Wire {
    fn len(&self) -> usize {
        self.0.borrow().len()
    }
}

const W: u16 = 40;
const H: u16 = 6;

fn fixed<B: Backend>(b: B) -> Terminal<B> {
    Terminal::with_options(
        b,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, W, H)),
        },
    )
    .unwrap()
}

/// A deterministic frame of styled words: colours of every kind, attributes added and removed.
fn frame(seed: u64) -> Vec<Line<'static>> {
    let colours = [
        Color::Reset,
        Color::Red,
        Color::LightGreen,
        Color::DarkGray,
        Color::White,
        Color::Indexed(203),
        Color::Rgb(10, 200, 30),
    ];
    let mods = [
        Modifier::empty(),
        Modifier::BOLD,
        Modifier::DIM,
        Modifier::BOLD | Modifier::REVERSED,
        Modifier::ITALIC | Modifier::UNDERLINED,
        Modifier::DIM | Modifier::ITALIC,
    ];
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = |n: usize| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as usize) % n
    };
    (0..H)
        .map(|_| {
            let spans: Vec<Span> = (0..6)
                .map(|_| {
                    let style = Style::default()
                        .fg(colours[next(colours.len())])
                        .bg(colours[next(colours.len())])
                        .add_modifier(mods[next(mods.len())]);
                    let word = ["ab", "cde", "é€", "xyz ", "  ", "q"][next(6)];
                    Span::styled(word.to_string(), style)
                })
                .collect();
            Line::from(spans)
        })
        .collect()
}

fn screen(bytes: &[u8]) -> vt100::Parser {
    let mut p = vt100::Parser::new(H, W, 0);
    p.process(bytes);
    p
}

/// Every cell as the terminal shows it: text, colours and attributes.
fn cells(p: &vt100::Parser) -> Vec<String> {
    let s = p.screen();
    let mut out = Vec::new();
    for r in 0..H {
        for c in 0..W {
            let cell = s.cell(r, c).unwrap();
            out.push(format!(
                "{r},{c} {:?} {:?} {:?} b{} d{} i{} u{} v{}",
                cell.contents(),
                cell.fgcolor(),
                cell.bgcolor(),
                cell.bold(),
                cell.dim(),
                cell.italic(),
                cell.underline(),
                cell.inverse()
            ));
        }
    }
    out
}

#[test]
fn the_lean_backend_draws_what_the_crossterm_backend_draws() {
    let (lean_wire, full_wire) = (Wire::default(), Wire::default());
    let mut lean = fixed(LeanBackend::new(lean_wire.clone()));
    let mut full = fixed(CrosstermBackend::new(full_wire.clone()));
    for seed in 0..40 {
        let lines = frame(seed);
        let cursor = (seed % 3 == 0).then_some(Position::new((seed % W as u64) as u16, 2));
        lean.draw_lines(&lines, cursor);
        full.draw_lines(&lines, cursor);
        let (a, b) = (screen(&lean_wire.0.borrow()), screen(&full_wire.0.borrow()));
        assert_eq!(cells(&a), cells(&b), "frame {seed}");
        assert_eq!(
            a.screen().hide_cursor(),
            b.screen().hide_cursor(),
            "frame {seed}"
        );
        if cursor.is_some() {
            assert_eq!(a.screen().cursor_position(), b.screen().cursor_position());
        }
    }
    assert!(
        lean_wire.len() < full_wire.len(),
        "lean {} B, crossterm {} B",
        lean_wire.len(),
        full_wire.len()
    );
}

/// Both terminals behind one face, so the test drives them alike.
trait DrawLines {
    fn draw_lines(&mut self, lines: &[Line<'static>], cursor: Option<Position>);
}

impl<B: Backend> DrawLines for Terminal<B> {
    fn draw_lines(&mut self, lines: &[Line<'static>], cursor: Option<Position>) {
        let _ = self.draw(|f| {
            f.render_widget(Paragraph::new(lines.to_vec()), f.area());
            if let Some(p) = cursor {
                f.set_cursor_position(p);
            }
        });
    }
}

#[test]
fn a_frame_with_no_change_sends_nothing_and_a_typed_character_little() {
    let wire = Wire::default();
    let mut t = fixed(LeanBackend::new(wire.clone()));
    let text = |s: &str| {
        vec![Line::from(Span::styled(
            s.to_string(),
            Style::default().fg(Color::Gray),
        ))]
    };
    t.draw_lines(&text("Hello"), Some(Position::new(5, 0)));
    let before = wire.len();
    t.draw_lines(&text("Hello"), Some(Position::new(5, 0)));
    assert_eq!(wire.len(), before, "an unchanged frame sent bytes");
    // Typing: the character where the cursor stands, and the cursor is already right after it.
    t.draw_lines(&text("Hello!"), Some(Position::new(6, 0)));
    let sent = String::from_utf8_lossy(&wire.0.borrow()[before..]).to_string();
    assert_eq!(sent, "!", "a typed character in the same style is one byte");
}

#[test]
fn a_clear_forgets_the_pen_and_erases_with_the_default_background() {
    let wire = Wire::default();
    let mut t = fixed(LeanBackend::new(wire.clone()));
    let red = vec![Line::from(Span::styled(
        "x".repeat(W as usize),
        Style::default().bg(Color::Red),
    ))];
    t.draw_lines(&red, None);
    // The backend's own clear (ratatui's `Terminal::clear` also asks the tty for its size).
    t.backend_mut().clear().unwrap();
    let bytes = wire.0.borrow().clone();
    let p = screen(&bytes);
    // After the clear every cell is blank on the default background.
    assert_eq!(
        p.screen().cell(0, 0).unwrap().bgcolor(),
        vt100::Color::Default
    );
    assert_eq!(p.screen().cell(0, 0).unwrap().contents(), "");
}

#[test]
fn colours_take_their_shortest_codes() {
    assert_eq!(colour_param(Color::Red, Ground::Fore), "31");
    assert_eq!(colour_param(Color::LightRed, Ground::Back), "101");
    assert_eq!(colour_param(Color::Indexed(203), Ground::Fore), "38;5;203");
    assert_eq!(colour_param(Color::Red, Ground::Underline), "58;5;1");
    assert_eq!(colour_param(Color::Reset, Ground::Back), "49");
    let mut p = Vec::new();
    modifier_params(Modifier::BOLD | Modifier::DIM, Modifier::DIM, &mut p);
    assert_eq!(p, ["22", "2"], "bold off re-sends dim");
}
