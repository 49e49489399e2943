//! What the line and picker overlays draw with: an input line with its cursor, a popup, a menu line, a picker.

use crate::tui::model::{LineInput, Model};
use crate::tui::textutil::truncate_to_width;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

pub(super) fn input_line<'a>(m: &Model, label: &str, li: &LineInput) -> Line<'a> {
    let t = &m.theme;
    Line::from(vec![
        Span::styled(label.to_string(), t.get("ui.help.key")),
        Span::styled(li.text.clone(), t.get("ui.text")),
        Span::styled("▏", t.get("ui.text.dim")),
    ])
}

/// A pop-up over the console: cleared, framed and titled; gives the area inside the frame.
pub(super) fn popup(f: &mut Frame, m: &Model, pop: Rect, title: String) -> Rect {
    let t = &m.theme;
    f.render_widget(Clear, pop);
    let block = Block::bordered()
        .title(title)
        .border_style(t.get("ui.border.focus"))
        .style(t.get("ui.popup"));
    let inner = block.inner(pop);
    f.render_widget(block, pop);
    inner
}

/// One row of a picker's list: padded to the width, highlighted when selected.
pub(super) fn menu_line<'a>(m: &Model, text: &str, w: usize, selected: bool) -> Line<'a> {
    let style = if selected {
        m.theme.get("ui.menu.selected")
    } else {
        m.theme.get("ui.menu")
    };
    Line::from(Span::styled(
        format!("{:<w$}", truncate_to_width(text, w)),
        style,
    ))
}

/// A picker: its query line, then the `count` matches (`label(i)` for the i-th), scrolled so
/// that `selected` stays in view, or `empty` when nothing matches.
pub(super) fn render_picker(
    f: &mut Frame,
    inner: Rect,
    m: &Model,
    query: &LineInput,
    (count, selected): (usize, usize),
    label: impl Fn(usize) -> String,
    empty: &str,
) {
    let [q, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    f.render_widget(Paragraph::new(input_line(m, "> ", query)), q);
    if count == 0 {
        f.render_widget(
            Paragraph::new(empty.to_string()).style(m.theme.get("ui.text.dim")),
            list,
        );
        return;
    }
    let (w, h) = (list.width as usize, list.height as usize);
    let start = selected.saturating_sub(h.saturating_sub(1));
    let lines: Vec<Line> = (start..count.min(start + h))
        .map(|i| menu_line(m, &label(i), w, i == selected))
        .collect();
    f.render_widget(Paragraph::new(lines), list);
}
