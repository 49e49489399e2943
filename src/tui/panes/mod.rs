//! Rendering: a pure function of the model (`render(frame, &model)`), one module per pane.
//! Nothing here reads the clock or the environment, so a model renders the same way every time.

pub mod composer;
pub mod conversation;
pub mod frame;
pub mod profile;
pub mod statusbar;
pub mod stream;
pub mod team;

use super::model::{Model, Overlay};
pub use frame::{centered, layout, pane_block, short_duration, Areas};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Block;
use ratatui::Frame;

/// Draw the whole console.
pub fn render(f: &mut Frame, m: &Model) {
    let area = f.area();
    let a = layout(area, m);
    let bg = m.theme.get("ui.background");
    if bg != Style::default() {
        f.render_widget(Block::new().style(bg), area);
    }
    if let Some(view) = &m.team {
        // The Team screen takes the place of the panes.
        let main = Rect::new(area.x, area.y, area.width, area.height.saturating_sub(1));
        team::render(f, main, m, view);
    } else {
        if a.stream.area() > 0 {
            if m.conversation.is_open() {
                conversation::render(f, a.stream, m);
            } else {
                stream::render(f, a.stream, m);
            }
        }
        if a.profile.area() > 0 {
            profile::render(f, a.profile, m);
        }
        if a.composer.area() > 0 {
            composer::render(f, a.composer, m);
        }
    }
    match &m.overlay {
        Some(Overlay::Command(li)) => {
            crate::tui::overlay::line::render_line(f, a.status, m, ':', li)
        }
        Some(Overlay::Filter(li)) => {
            crate::tui::overlay::line::render_line(f, a.status, m, '/', li)
        }
        _ => statusbar::render(f, a.status, m),
    }
    match &m.overlay {
        Some(Overlay::Help { scroll }) => crate::tui::overlay::help::render(f, area, m, *scroll),
        Some(Overlay::Canned(p)) => crate::tui::overlay::canned::render_canned(f, area, m, p),
        Some(Overlay::Link(ls)) => crate::tui::overlay::link::render_link(f, area, m, ls),
        Some(Overlay::Assign(p)) => crate::tui::overlay::assign::render_assign(f, area, m, p),
        Some(Overlay::Log(form)) => crate::tui::overlay::log::render_log(f, area, m, form),
        _ => {
            let bottom = if m.zoom {
                a.stream.union(a.profile).union(a.composer)
            } else {
                a.profile.union(a.composer)
            };
            crate::tui::overlay::render(f, area, bottom, m)
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_conversation;
