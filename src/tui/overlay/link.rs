//! The link picker: the server's suggestions for an identity, then a customer search.

use super::keys::{self, Outcome, OverlayKey};
use super::widgets::{input_line, menu_line, popup};
use crate::tui::action::Action;
use crate::tui::model::{LinkSearch, Load, Model};
use crate::tui::panes::frame::centered;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

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

/// The link picker: Accept searches for a new query, else links the selected customer. Typing
/// keeps the selection (the suggestions stay listed above what a search finds).
pub fn on_key(ls: &mut LinkSearch, key: OverlayKey) -> Outcome {
    let rows = ls.rows().len();
    if keys::move_in_list(&mut ls.selected, rows, key) {
        return Outcome::Stay;
    }
    match key {
        OverlayKey::Action(Action::PromptAccept) => Outcome::Accept,
        OverlayKey::Action(Action::PromptCancel) => Outcome::Close,
        key => {
            keys::edit(&mut ls.query, key);
            Outcome::Stay
        }
    }
}
