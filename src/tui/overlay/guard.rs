//! The stale-send guard's overlay: the messages of the thread the agent has not seen, each in
//! full (author, time, visibility, direction, delivery status, the whole body wrapped), over the
//! profile and composer. One key (`y` or Enter) confirms that the agent read them and sends;
//! Esc goes back to the draft. (The conversation view replaces this once it lands: the guard
//! then opens it at the first unseen message.)

use super::scroll::scroll_key;
use crate::domain::Direction;
use crate::tui::effect::Effect;
use crate::tui::guard::{confirm_seen, GuardView};
use crate::tui::keymap::KeyPress;
use crate::tui::model::{Level, Model, Overlay};
use crate::tui::textutil::truncate_to_width;
use crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

#[must_use]
pub fn key(m: &mut Model, kp: KeyPress, esc: bool) -> Vec<Effect> {
    let Some(Overlay::Guard(view)) = m.overlay.as_mut() else {
        return vec![];
    };
    if let Some(s) = scroll_key(view.scroll, kp) {
        view.scroll = s;
        return vec![];
    }
    if esc || matches!(kp.code, KeyCode::Char('n')) {
        m.overlay = None;
        m.set_status(
            Level::Info,
            "not sent: the draft is kept (sending shows the new messages again)",
        );
        return vec![];
    }
    if matches!(kp.code, KeyCode::Enter | KeyCode::Char('y')) {
        let Some(Overlay::Guard(view)) = m.overlay.take() else {
            return vec![];
        };
        confirm_seen(m, &view.feedback_id, &view.messages);
        // The agent read what happened on the item (a colleague's answer included): no second
        // question about it being answered already.
        if let Some(c) = m
            .composer
            .as_mut()
            .filter(|c| c.feedback_id == view.feedback_id)
        {
            c.confirm_stale = true;
        }
        return crate::tui::update::send::send_reply(m, view.resolve);
    }
    vec![]
}

pub fn lines(m: &Model, view: &GuardView) -> Vec<Line<'static>> {
    let t = &m.theme;
    let mut out = Vec::new();
    for msg in &view.messages {
        let who = match msg.direction {
            Direction::Outbound => format!("{} (agent)", msg.author),
            Direction::Inbound => msg.author.clone(),
        };
        let head = format!(
            "{who} · {} · {} {} · {}",
            msg.created_at.format("%Y-%m-%d %H:%M"),
            msg.visibility,
            msg.channel,
            msg.delivery_status.as_str(),
        );
        out.push(Line::from(Span::styled(head, t.get("ui.help.section"))));
        for l in msg.body.lines() {
            out.push(Line::from(Span::styled(l.to_string(), t.get("ui.text"))));
        }
        out.push(Line::from(""));
    }
    out
}

pub fn render(f: &mut Frame, area: Rect, m: &Model, view: &GuardView) {
    let t = &m.theme;
    f.render_widget(Clear, area);
    let what = if view.resolve {
        "send and resolve"
    } else {
        "send"
    };
    let title = format!(
        " The thread moved on: {} new message(s) · y/Enter: I read them, {what} · Esc: back ",
        view.messages.len()
    );
    let block = Block::bordered()
        .title(truncate_to_width(
            &title,
            area.width.saturating_sub(2) as usize,
        ))
        .border_style(t.get("rule.warning"))
        .style(t.get("ui.popup"));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines = lines(m, view);
    // Rows once wrapped (about: wrapping at words may take a row more), to stop the scroll there.
    let w = usize::from(inner.width.max(1));
    let total: usize = lines.iter().map(|l| l.width().div_ceil(w).max(1)).sum();
    let max = (total as u16).saturating_sub(inner.height);
    let p = Paragraph::new(lines).wrap(Wrap { trim: false });
    f.render_widget(p.scroll((view.scroll.min(max), 0)), inner);
}
