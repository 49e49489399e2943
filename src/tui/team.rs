//! The Team screen (`T`, `:team`): the team's measures for a supervisor, from
//! `GET /v1/metrics/summary`. It refreshes itself while open: an event on the stream asks for a
//! refetch [`REFRESH_DEBOUNCE_MS`] later, and events arriving meanwhile ride on that one, so a
//! burst of arrivals costs one request.

use super::effect::{Effect, Wake};
use super::model::{Focus, Level, Load, Model};
use crate::client::ClientError;
use crate::domain::metrics::{MetricsQuery, MetricsSummary, MetricsWindow};
use crate::domain::AgentRole;
pub use crate::tui::model::team::TeamView;

/// How long after an event the summary is fetched again.
pub const REFRESH_DEBOUNCE_MS: u64 = 2_000;

impl TeamView {
    fn new(window: MetricsWindow) -> TeamView {
        TeamView {
            window,
            summary: Load::Loading,
            selected: 0,
            refresh_pending: true,
        }
    }

    pub fn summary(&self) -> Option<&MetricsSummary> {
        match &self.summary {
            Load::Loaded(s) => Some(s),
            _ => None,
        }
    }
}

fn load(window: MetricsWindow) -> Effect {
    Effect::LoadTeam(MetricsQuery {
        window,
        ..Default::default()
    })
}

/// Opens the screen (or closes it when open). Agents are told it is their supervisors' view.
#[must_use]
pub fn toggle(m: &mut Model) -> Vec<Effect> {
    m.dirty = true;
    if m.team.is_some() {
        m.team = None;
        return vec![];
    }
    if m.me.as_ref().is_some_and(|me| me.role == AgentRole::Agent) {
        m.set_status(
            Level::Warning,
            "the Team screen is for supervisors and admins",
        );
        return vec![];
    }
    let view = TeamView::new(MetricsWindow::default());
    let fx = vec![load(view.window)];
    m.team = Some(view);
    fx
}

#[must_use]
pub fn on_summary(m: &mut Model, result: Result<MetricsSummary, ClientError>) -> Vec<Effect> {
    let Some(team) = m.team.as_mut() else {
        return vec![];
    };
    team.refresh_pending = false;
    m.dirty = true;
    match result {
        // Sanitised at ingest by the client, like everything else it fetches.
        Ok(s) => {
            if s.window != team.window {
                // An answer for a window the supervisor has left: ask for the current one.
                team.refresh_pending = true;
                return vec![load(team.window)];
            }
            team.selected = team.selected.min(s.sla.breached.len().saturating_sub(1));
            team.summary = Load::Loaded(s);
        }
        // A failed refresh keeps the figures already shown and says why.
        Err(e) => match &team.summary {
            Load::Loaded(_) => {
                m.set_status(Level::Warning, format!("team figures not refreshed: {e}"))
            }
            _ => team.summary = Load::Failed(e.to_string()),
        },
    }
    vec![]
}

/// Something happened on the stream: refetch soon, once.
#[must_use]
pub fn on_event(m: &mut Model) -> Vec<Effect> {
    match m.team.as_mut() {
        Some(team) if !team.refresh_pending => {
            team.refresh_pending = true;
            vec![Effect::Wake {
                after_ms: REFRESH_DEBOUNCE_MS,
                wake: Wake::TeamRefresh,
            }]
        }
        _ => vec![],
    }
}

#[must_use]
pub fn on_refresh_due(m: &mut Model) -> Vec<Effect> {
    match &m.team {
        Some(team) => vec![load(team.window)],
        None => vec![],
    }
}

/// The screen's own keys; `None` for a key it leaves to the rest of the console (`:`, `?`,
/// quit, views).
#[must_use]
pub fn on_key(m: &mut Model, key: &crossterm::event::KeyEvent) -> Option<Vec<Effect>> {
    use crossterm::event::KeyCode;
    let team = m.team.as_mut()?;
    let breached = team.summary().map_or(0, |s| s.sla.breached.len());
    let fx = match key.code {
        KeyCode::Esc | KeyCode::Char('T') => {
            m.team = None;
            vec![]
        }
        KeyCode::Down | KeyCode::Char('j') => {
            team.selected = (team.selected + 1).min(breached.saturating_sub(1));
            vec![]
        }
        KeyCode::Up | KeyCode::Char('k') => {
            team.selected = team.selected.saturating_sub(1);
            vec![]
        }
        KeyCode::Char('w') => {
            let all = MetricsWindow::ALL;
            let at = all.iter().position(|w| *w == team.window).unwrap_or(0);
            team.window = all[(at + 1) % all.len()];
            team.refresh_pending = true;
            vec![load(team.window)]
        }
        KeyCode::Char('r') => {
            team.refresh_pending = true;
            vec![load(team.window)]
        }
        KeyCode::Enter => return Some(open_selected(m)),
        _ => return None,
    };
    m.dirty = true;
    Some(fx)
}

/// Enter: close the screen and select the breached item in the stream (its thread is loaded,
/// which also brings the item into the stream when it was not there).
#[must_use]
fn open_selected(m: &mut Model) -> Vec<Effect> {
    m.dirty = true;
    let Some(id) = m.team.as_ref().and_then(|t| {
        t.summary()
            .and_then(|s| s.sla.breached.get(t.selected))
            .map(|b| b.feedback_id.clone())
    }) else {
        return vec![];
    };
    m.team = None;
    m.focus = Focus::Stream;
    let old = m.stream.selected.replace(id.clone());
    let mut fx = super::update::view::selection_changed(m, old);
    fx.push(Effect::LoadThread(id));
    fx
}

#[cfg(test)]
#[path = "team_tests.rs"]
mod tests;
