//! The form that logs offline feedback (a call, a visit, a web form).

use super::keys::{self, Outcome, OverlayKey};
use super::widgets::{input_line, popup};
use crate::tui::action::Action;
use crate::tui::model::{LogForm, Model, OFFLINE_CHANNELS};
use crate::tui::panes::frame::centered;
use crate::tui::textutil::truncate_to_width;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

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

/// The offline-feedback form: the channel keys cycle through the offline channels, Accept logs
/// it.
pub fn on_key(form: &mut LogForm, key: OverlayKey) -> Outcome {
    let step = match key {
        OverlayKey::Action(Action::FormNextChannel) => 1,
        OverlayKey::Action(Action::FormPrevChannel) => OFFLINE_CHANNELS.len() - 1,
        OverlayKey::Action(Action::PromptAccept) => return Outcome::Accept,
        OverlayKey::Action(Action::PromptCancel) => return Outcome::Close,
        key => {
            keys::edit(&mut form.text, key);
            return Outcome::Stay;
        }
    };
    let i = OFFLINE_CHANNELS
        .iter()
        .position(|c| *c == form.channel)
        .unwrap_or(0);
    form.channel = OFFLINE_CHANNELS[(i + step) % OFFLINE_CHANNELS.len()];
    Outcome::Stay
}
