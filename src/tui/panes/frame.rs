//! The frame every pane is drawn in: where each pane goes at a size (`layout`, also what the
//! reducer asks to know how many rows a page is), a pane's border, a centred popup's area and
//! compact durations. Imports only the model, so the reducer can use it without the panes.

use crate::tui::model::{Focus, Model};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};
use ratatui::Frame;

/// Where each pane goes. A zoomed layout gives the focused pane everything (others are empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub stream: Rect,
    pub profile: Rect,
    pub composer: Rect,
    pub status: Rect,
}

pub fn layout(area: Rect, m: &Model) -> Areas {
    let [main, status] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    if m.zoom {
        let mut a = Areas {
            stream: Rect::default(),
            profile: Rect::default(),
            composer: Rect::default(),
            status,
        };
        match m.focus {
            Focus::Stream => a.stream = main,
            Focus::Profile => a.profile = main,
            Focus::Composer => a.composer = main,
        }
        return a;
    }
    let stream_pct = if main.height >= 36 { 50 } else { 45 };
    let [stream, bottom] =
        Layout::vertical([Constraint::Percentage(stream_pct), Constraint::Min(6)]).areas(main);
    let (profile, composer) = if bottom.width >= 60 {
        let [p, c] = Layout::new(
            Direction::Horizontal,
            [Constraint::Percentage(40), Constraint::Percentage(60)],
        )
        .areas(bottom);
        (p, c)
    } else {
        let [p, c] = Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)])
            .areas(bottom);
        (p, c)
    };
    Areas {
        stream,
        profile,
        composer,
        status,
    }
}

/// A pane's frame: focus shows in the border style and a marker in the title (so it stays
/// visible with no colour at all).
pub fn pane_block<'a>(m: &Model, title: impl Into<String>, focused: bool) -> Block<'a> {
    let t = &m.theme;
    let (border, title_style, mark) = if focused {
        (t.get("ui.border.focus"), t.get("ui.title.focus"), "▶ ")
    } else {
        (t.get("ui.border"), t.get("ui.title"), "")
    };
    Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Line::from(vec![Span::styled(
            format!(" {mark}{} ", title.into()),
            title_style,
        )]))
}

/// A centred rectangle of at most `w` x `h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// "3m", "2h", "5d": compact ages for list rows.
pub fn short_duration(secs: i64) -> String {
    let s = secs.abs();
    if s < 60 {
        "now".into()
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// A pane with nothing to show yet: its frame and one dim line saying why.
pub fn empty_pane(f: &mut Frame, area: Rect, m: &Model, title: &str, focused: bool, why: &str) {
    let block = pane_block(m, title, focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    f.render_widget(Paragraph::new(why).style(m.theme.get("ui.text.dim")), inner);
}
