//! The form that logs offline feedback (a call, a visit, a web form).

use super::widgets::{input_line, popup};
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
