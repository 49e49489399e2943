//! Line inputs and pickers: the `:` command line, the `/` filter, the canned-reply picker and
//! the customer search for linking an identity.

use super::frame::centered;
use crate::tui::model::{
    AssignPicker, LineInput, LinkSearch, Load, LogForm, Model, Picker, OFFLINE_CHANNELS,
};
use crate::tui::textutil::{display_width, one_line, truncate_to_width};
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

/// A one-line input on the status row, with the terminal cursor in it.
pub fn render_line(f: &mut Frame, area: Rect, m: &Model, prompt: char, li: &LineInput) {
    let t = &m.theme;
    let text = format!("{prompt}{}", li.text);
    f.render_widget(
        Paragraph::new(truncate_to_width(&text, area.width as usize)).style(t.get("ui.cmdline")),
        area,
    );
    let x = 1 + display_width(&li.text[..li.cursor]) as u16;
    f.set_cursor_position(Position::new(
        area.x + x.min(area.width.saturating_sub(1)),
        area.y,
    ));
}

fn input_line<'a>(m: &Model, label: &str, li: &LineInput) -> Line<'a> {
    let t = &m.theme;
    Line::from(vec![
        Span::styled(label.to_string(), t.get("ui.help.key")),
        Span::styled(li.text.clone(), t.get("ui.text")),
        Span::styled("▏", t.get("ui.text.dim")),
    ])
}

/// A pop-up over the console: cleared, framed and titled; gives the area inside the frame.
fn popup(f: &mut Frame, m: &Model, pop: Rect, title: String) -> Rect {
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
fn menu_line<'a>(m: &Model, text: &str, w: usize, selected: bool) -> Line<'a> {
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
fn render_picker(
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

pub fn render_canned(f: &mut Frame, area: Rect, m: &Model, p: &Picker) {
    let pop = centered(
        area,
        area.width.saturating_sub(8).min(90),
        area.height.saturating_sub(4).min(16),
    );
    let inner = popup(
        f,
        m,
        pop,
        " Canned replies (↑↓ choose, ret insert, esc cancel) ".into(),
    );
    render_picker(
        f,
        inner,
        m,
        &p.query,
        (p.matches.len(), p.selected),
        |i| {
            let r = &m.canned[p.matches[i]];
            format!("{} — {}", r.name, one_line(&r.body))
        },
        "no canned reply matches",
    );
}

pub fn render_link(f: &mut Frame, area: Rect, m: &Model, ls: &LinkSearch) {
    let t = &m.theme;
    let pop = centered(
        area,
        area.width.saturating_sub(8).min(90),
        area.height.saturating_sub(4).min(14),
    );
    let title = format!(
        " Link {} ({}) to a customer ",
        ls.identity.handle, ls.identity.network
    );
    let inner = popup(f, m, pop, title);
    let [q, hint, list] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    f.render_widget(
        Paragraph::new(input_line(m, "name, email or phone: ", &ls.query)),
        q,
    );
    let searched = ls.searched.as_deref() == Some(ls.query.text.trim());
    let hint_text = if searched {
        "ret links the highlighted customer · esc cancels"
    } else {
        "ret searches · esc cancels"
    };
    f.render_widget(Paragraph::new(hint_text).style(t.get("ui.text.dim")), hint);
    let w = list.width as usize;
    let rows = ls.rows();
    if rows.is_empty() {
        let (text, style) = match (&ls.results, &ls.suggestions) {
            (Load::Loading, _) | (_, Load::Loading) => ("searching…".to_string(), "ui.text.dim"),
            (Load::Failed(e), _) => (format!("search failed: {e}"), "profile.error"),
            _ if ls.searched.is_some() => ("no customer found".to_string(), "ui.text.dim"),
            _ => (String::new(), "ui.text.dim"),
        };
        f.render_widget(Paragraph::new(text).style(t.get(style)), list);
        return;
    }
    // Keep the highlighted row on screen.
    let height = list.height.max(1) as usize;
    let first = ls.selected.saturating_sub(height - 1);
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, row)| {
            let c = row.customer;
            let contact = format!(
                "{} · {} · {} · {}",
                c.full_name(),
                c.emails.first().map(String::as_str).unwrap_or("-"),
                c.phones.first().map(String::as_str).unwrap_or("-"),
                c.tier
            );
            // A suggestion's reasons come right after the name: at 80 columns they are what
            // the agent must read before linking.
            let text = match row.suggestion {
                Some(s) => format!(
                    "★ {:>3.0}% {} · {} · {}",
                    s.score * 100.0,
                    c.full_name(),
                    s.reasons.join(", "),
                    contact.split_once(" · ").map_or("", |(_, rest)| rest)
                ),
                None => format!("       {contact}"),
            };
            menu_line(m, &text, w, i == ls.selected)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), list);
}

/// The reassign picker: agents, departments, unassign.
pub fn render_assign(f: &mut Frame, area: Rect, m: &Model, p: &AssignPicker) {
    let pop = centered(
        area,
        area.width.saturating_sub(8).min(70),
        area.height.saturating_sub(4).min(16),
    );
    let title = format!(
        " Reassign {} (↑↓ choose, ret apply, esc cancel) ",
        p.feedback_id
    );
    let inner = popup(f, m, pop, title);
    render_picker(
        f,
        inner,
        m,
        &p.query,
        (p.matches.len(), p.selected),
        |i| p.choices[p.matches[i]].label(),
        "no agent or department matches (loading?)",
    );
}

/// The offline feedback form.
pub fn render_log(f: &mut Frame, area: Rect, m: &Model, form: &LogForm) {
    let t = &m.theme;
    let pop = centered(
        area,
        area.width.saturating_sub(8).min(80),
        7.min(area.height),
    );
    let inner = popup(
        f,
        m,
        pop,
        " Log offline feedback (tab channel, ret log, esc cancel) ".into(),
    );
    let w = inner.width as usize;
    let channels: Vec<Span> = OFFLINE_CHANNELS
        .iter()
        .flat_map(|c| {
            let style = if *c == form.channel {
                t.get("ui.menu.selected")
            } else {
                t.get("ui.menu")
            };
            [Span::styled(format!(" {c} "), style), Span::raw(" ")]
        })
        .collect();
    let who = match &form.customer_id {
        Some(id) => format!("customer: {} ({id})", form.author),
        None => format!("author: {} (not linked to a customer)", form.author),
    };
    let lines = vec![
        Line::from(Span::styled(
            truncate_to_width(&who, w),
            t.get("ui.text.dim"),
        )),
        Line::from(channels),
        input_line(m, "said: ", &form.text),
    ];
    f.render_widget(Paragraph::new(lines), inner);
}
