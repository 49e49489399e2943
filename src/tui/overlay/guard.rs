//! The stale-send guard's overlay: the messages of the thread the agent has not seen, each in
//! full (author, time, visibility, direction, delivery status, the whole body wrapped), over the
//! profile and composer. One key (`y` or Enter) confirms that the agent read them and sends;
//! Esc goes back to the draft. (The conversation view replaces this once it lands: the guard
//! then opens it at the first unseen message.)

use super::keys::{self, Outcome, OverlayKey};
use crate::domain::Direction;
use crate::tui::action::Action;
use crate::tui::guard::GuardView;
use crate::tui::model::Model;
use crate::tui::textutil::truncate_to_width;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

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

/// The new messages scroll; `guard_send` is Accept (send), `guard_keep` is Close (the draft is
/// kept). The pager's own close keys (`q`, `x`) do nothing here, as before the guard read its
/// keys from the keymap: the agent leaves it with a keep or a send key.
pub fn on_key(view: &mut GuardView, key: OverlayKey) -> Outcome {
    if let Some(s) = keys::scroll(view.scroll, key) {
        view.scroll = s;
        return Outcome::Stay;
    }
    match key {
        OverlayKey::Action(Action::GuardSend) => Outcome::Accept,
        OverlayKey::Action(Action::GuardKeep) => Outcome::Close,
        _ => Outcome::Stay,
    }
}
