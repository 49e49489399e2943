//! The composer pane: what we answer, the exact recipient of each part, a length meter per part,
//! the rule violations below the text, and who else is on the item.

use super::frame::{empty_pane, pane_block};
use crate::domain::{PresenceState, Visibility};
use crate::tui::action::{Action, Context};
use crate::tui::meter::meter;
use crate::tui::model::recipient;
use crate::tui::model::{Composer, Focus, Model};
use crate::tui::textutil::{handle_label, one_line, truncate_to_width};
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn render(f: &mut Frame, area: Rect, m: &Model) {
    let focused = m.focus == Focus::Composer;
    // The composer's own item, which may not be the selected one (it is bound to it).
    let (Some(fb), Some(c)) = (m.composer_item(), m.composer.as_ref()) else {
        empty_pane(f, area, m, "Reply", focused, "Select an item to reply to.");
        return;
    };
    let key = |a: Action| m.keymap.keys_for(Context::Composer, a).unwrap_or_default();
    let title = crate::tui::model::target::title(m, c.kind.as_str(), &key(Action::CycleReplyType));
    let block = pane_block(m, title, focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let w = inner.width as usize;

    // Top: who else is here, the send state, then the post being answered.
    let top = top_lines(m, fb, c, w);

    // Bottom: violations, then overrides.
    let bottom = bottom_lines(m, c, w, (inner.height as usize / 3).max(1));

    let [top_area, parts_area, bottom_area] = Layout::vertical([
        Constraint::Length(top.len() as u16),
        Constraint::Min(2),
        Constraint::Length(bottom.len() as u16),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(top), top_area);
    f.render_widget(Paragraph::new(bottom), bottom_area);

    let parts = c.kind.parts();
    let areas = Layout::vertical(parts.iter().map(|_| Constraint::Fill(1))).split(parts_area);
    for (part, a) in parts.iter().zip(areas.iter()) {
        render_part(
            f,
            *a,
            m,
            c,
            *part,
            focused && c.active == *part,
            parts.len() > 1,
        );
    }
}

/// Who else is on the item, what the guard has to show, our replies on their way, the send
/// state, the post being answered, and why nobody was assigned.
fn top_lines(
    m: &Model,
    fb: &crate::domain::Feedback,
    c: &Composer,
    w: usize,
) -> Vec<Line<'static>> {
    let t = &m.theme;
    let mut top: Vec<Line> = Vec::new();
    let others: Vec<String> = m
        .presence
        .get(&fb.id)
        .map(|l| {
            l.iter()
                .map(|p| match p.state {
                    PresenceState::Composing => format!("{} is replying", p.agent_name),
                    _ => format!("{} is viewing", p.agent_name),
                })
                .collect()
        })
        .unwrap_or_default();
    if !others.is_empty() {
        top.push(Line::from(Span::styled(
            truncate_to_width(&format!("⚠ {}", others.join(", ")), w),
            t.get("composer.presence"),
        )));
    }
    // The stale-send guard: messages on the thread the agent has not seen (sending shows them).
    if let Some(n) = crate::tui::guard::notice(m, &fb.id) {
        top.push(Line::from(Span::styled(
            truncate_to_width(&n, w),
            t.get("composer.presence"),
        )));
    }
    top.extend(outbox_lines(m, &fb.id, w));
    if c.sending {
        top.push(Line::from(Span::styled("sending…", t.get("ui.text.dim"))));
    } else if let Some(e) = &c.error {
        top.push(Line::from(Span::styled(
            truncate_to_width(e, w),
            t.get("rule.error"),
        )));
    }
    let quote = format!(
        "{}: {}",
        handle_label(fb.channel, &fb.author.handle),
        one_line(&fb.text)
    );
    top.push(Line::from(Span::styled(
        truncate_to_width(&quote, w),
        t.get("ui.text.dim"),
    )));
    // Routing found nobody to take it: say why, so the agent knows it waits for someone.
    if let (None, Some(reason)) = (&fb.assignee, &fb.unassigned_reason) {
        top.push(Line::from(Span::styled(
            truncate_to_width(&format!("unassigned: {reason}"), w),
            t.get("rule.warning"),
        )));
    }
    top
}

/// Our last two replies to the item on their way (the outbox), newest last.
fn outbox_lines(m: &Model, feedback_id: &str, w: usize) -> Vec<Line<'static>> {
    let t = &m.theme;
    let mut out = Vec::new();
    // Our replies to this item on their way (the outbox), newest last.
    for o in m
        .outbox_for(feedback_id)
        .collect::<Vec<_>>()
        .iter()
        .rev()
        .take(2)
        .rev()
    {
        let first = o
            .parts
            .first()
            .map(|p| one_line(&p.body))
            .unwrap_or_default();
        let mut text = format!("{} · {first}", o.label());
        if let Some(p) = o.problem() {
            text.push_str(&format!(" ({p})"));
        }
        let style = match o.label() {
            "failed" => t.get("rule.error"),
            "delivered" | "sent" => t.get("stream.state.answered"),
            _ => t.get("ui.text.dim"),
        };
        out.push(Line::from(Span::styled(truncate_to_width(&text, w), style)));
    }
    out
}

/// The rules' marks on the parts in use, then the overrides, at most `max_bottom` lines.
fn bottom_lines(m: &Model, c: &Composer, w: usize, max_bottom: usize) -> Vec<Line<'static>> {
    let t = &m.theme;
    let key = |a: Action| m.keymap.keys_for(Context::Composer, a).unwrap_or_default();
    let mut bottom: Vec<Line> = Vec::new();
    for v in c
        .violations
        .iter()
        .filter(|v| c.kind.parts().contains(&v.part))
    {
        let mark = match v.level {
            crate::tui::lint::MarkLevel::Error => "✗",
            crate::tui::lint::MarkLevel::Warning => "!",
            crate::tui::lint::MarkLevel::Info => "i",
        };
        let fix = if v.fix.is_some() {
            format!(" ({} fixes)", key(Action::ApplyFix))
        } else {
            String::new()
        };
        let text = format!("{mark} {} [{}]: {}{fix}", v.part, v.rule, v.message);
        bottom.push(Line::from(Span::styled(
            truncate_to_width(&text, w),
            t.get(v.level.scope()),
        )));
    }
    for o in &c.overrides {
        bottom.push(Line::from(Span::styled(
            truncate_to_width(&format!("override {}: {}", o.rule, o.reason), w),
            t.get("rule.info"),
        )));
    }
    if bottom.len() > max_bottom {
        let more = bottom.len() - max_bottom + 1;
        bottom.truncate(max_bottom - 1);
        bottom.push(Line::from(Span::styled(
            format!("… {more} more ({} jumps)", key(Action::NextViolation)),
            t.get("ui.text.dim"),
        )));
    }
    bottom
}

fn render_part(
    f: &mut Frame,
    area: Rect,
    m: &Model,
    c: &Composer,
    part: Visibility,
    active: bool,
    several: bool,
) {
    let t = &m.theme;
    let Some(fb) = m.composer_item() else { return };
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let text = c.text(part);
    let mt = meter(fb.channel, part, &text);
    let (to, to_style) = match recipient(m, fb, part) {
        Ok(r) => (format!("→ {r}"), t.get("composer.recipient")),
        Err(e) => (format!("✗ {e}"), t.get("rule.error")),
    };
    let marker = if several && c.active == part {
        "▸ "
    } else {
        ""
    };
    let label = format!("{marker}{part} ");
    let meter_text = format!(" {}", mt.label);
    let room =
        (head.width as usize).saturating_sub(label.chars().count() + meter_text.chars().count());
    let meter_style = if mt.over {
        t.get("composer.meter.over")
    } else {
        t.get("composer.meter")
    };
    let label_style = if c.active == part {
        t.get("ui.title.focus")
    } else {
        t.get("ui.title")
    };
    let line = Line::from(vec![
        Span::styled(label, label_style),
        Span::styled(format!("{:<room$}", truncate_to_width(&to, room)), to_style),
        Span::styled(meter_text, meter_style),
    ]);
    f.render_widget(Paragraph::new(line), head);
    let ta = c.area(part);
    // The blank cells take the text's style too, so the cell under the cursor (drawn in it)
    // is no change to the terminal when the cursor moves on.
    f.buffer_mut().set_style(body, t.get("ui.text"));
    f.render_widget(ta, body);
    // Any overlay (help, a popup, the command line) is drawn over the panes and owns the cursor.
    if active && m.overlay.is_none() {
        if let Some(p) = cursor_on_screen(ta, body) {
            f.set_cursor_position(p);
        }
    }
}

/// Where the terminal's cursor goes in a drawn text area: its cursor in display lines, less what
/// the area scrolled (known once it has been drawn), if that falls inside `body`.
fn cursor_on_screen(ta: &ratatui_textarea::TextArea, body: Rect) -> Option<Position> {
    let sc = ta.screen_cursor();
    let (top, left) = ta.scroll_offset();
    let row = sc.row.checked_sub(top as usize)?;
    let col = sc.col.checked_sub(left as usize)?;
    (row < body.height as usize && col < body.width as usize)
        .then(|| Position::new(body.x + col as u16, body.y + row as u16))
}
