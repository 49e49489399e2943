//! `?`: help generated from the action registry and the keymap in force, plus any problems in
//! the user's configuration.

use super::keys::{self, Outcome, OverlayKey};
use crate::tui::action::{Action, Context};
use crate::tui::model::Model;
use crate::tui::panes::frame::centered;
use crate::tui::textutil::truncate_to_width;
use crate::tui::update::commands::COMMANDS;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

/// The help text, one line per binding (also used by tests).
pub fn lines(m: &Model, width: usize) -> Vec<Line<'static>> {
    let mut out = problems(m, width);
    for ctx in Context::ALL {
        out.extend(keys_of(m, *ctx, width));
    }
    out.extend(commands(m, width));
    out
}

/// Read-only mode and the configuration's problems, first.
fn problems(m: &Model, width: usize) -> Vec<Line<'static>> {
    let t = &m.theme;
    let mut out = Vec::new();
    if m.read_only {
        out.push(Line::from(Span::styled(
            "READ-ONLY: actions marked [read-only] are disabled",
            t.get("rule.warning"),
        )));
        out.push(Line::from(""));
    }
    if !m.warnings.is_empty() {
        out.push(Line::from(Span::styled(
            "Configuration problems",
            t.get("rule.warning"),
        )));
        for w in &m.warnings {
            out.push(Line::from(Span::styled(
                truncate_to_width(&format!("  {w}"), width),
                t.get("rule.warning"),
            )));
        }
        out.push(Line::from(""));
    }
    out
}

/// One context's keys, each with what it does.
fn keys_of(m: &Model, ctx: Context, width: usize) -> Vec<Line<'static>> {
    let t = &m.theme;
    let mut out = Vec::new();
    out.push(Line::from(Span::styled(
        format!("{} keys", ctx.as_str()),
        t.get("ui.help.section"),
    )));
    let mut by_action: Vec<(Action, Vec<String>)> = Vec::new();
    for (keys, a) in m.keymap.bindings(ctx) {
        match by_action.iter_mut().find(|(x, _)| *x == a) {
            Some((_, ks)) => ks.push(keys),
            None => by_action.push((a, vec![keys])),
        }
    }
    for (a, keys) in by_action {
        let k = truncate_to_width(&keys.join(", "), 16);
        let (text, style) = if m.read_only && a.changes_data() {
            (
                format!("[read-only] {}", a.description()),
                t.get("ui.text.dim"),
            )
        } else {
            (a.description().to_string(), t.get("ui.text"))
        };
        out.push(Line::from(vec![
            Span::styled(format!("  {k:<16} "), t.get("ui.help.key")),
            Span::styled(truncate_to_width(&text, width.saturating_sub(19)), style),
        ]));
    }
    out.push(Line::from(""));
    out
}

/// The `:` commands, from their table.
fn commands(m: &Model, width: usize) -> Vec<Line<'static>> {
    let t = &m.theme;
    let mut out = Vec::new();
    out.push(Line::from(Span::styled(
        "commands",
        t.get("ui.help.section"),
    )));
    // From the command table itself, so the help cannot drift from what `:` runs.
    for c in COMMANDS {
        let mut head = format!(":{}", c.name);
        if !c.usage.is_empty() {
            head = format!("{head} {}", c.usage);
        }
        for alias in c.aliases {
            head.push_str(&format!(", :{alias}"));
        }
        let (line, style) = if m.read_only && c.changes_data {
            (
                format!("  {head}  [read-only] {}", c.doc),
                t.get("ui.text.dim"),
            )
        } else {
            (format!("  {head}  {}", c.doc), t.get("ui.text"))
        };
        out.push(Line::from(Span::styled(
            truncate_to_width(&line, width),
            style,
        )));
    }
    out.push(Line::from(Span::styled(
        "  :filter terms: is:late sentiment:neg role:detractor channel:x status:open @handle",
        t.get("ui.text"),
    )));
    out.push(Line::from(Span::styled(
        "  :ACTION (any action name above)",
        t.get("ui.text"),
    )));
    out
}

pub fn render(f: &mut Frame, area: Rect, m: &Model, scroll: u16) {
    let t = &m.theme;
    let pop = centered(
        area,
        area.width.saturating_sub(4).min(100),
        area.height.saturating_sub(2),
    );
    f.render_widget(Clear, pop);
    let block = Block::bordered()
        .title(" Help (j/k scroll, any other key closes) ")
        .border_style(t.get("ui.border.focus"))
        .style(t.get("ui.popup"));
    let inner = block.inner(pop);
    f.render_widget(block, pop);
    let lines = lines(m, inner.width as usize);
    let max = (lines.len() as u16).saturating_sub(inner.height);
    f.render_widget(Paragraph::new(lines).scroll((scroll.min(max), 0)), inner);
}

/// The help is a pager; any key that does not scroll it closes it.
pub fn on_key(scroll: &mut u16, key: OverlayKey) -> Outcome {
    match keys::scroll(*scroll, key) {
        Some(s) => {
            *scroll = s;
            Outcome::Stay
        }
        None => Outcome::Close,
    }
}
