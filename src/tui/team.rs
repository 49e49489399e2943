//! The Team screen (`T`, `:team`): the team's measures for a supervisor, from
//! `GET /v1/metrics/summary`. It refreshes itself while open: an event on the stream asks for a
//! refetch [`REFRESH_DEBOUNCE_MS`] later, and events arriving meanwhile ride on that one, so a
//! burst of arrivals costs one request.

use super::effects::{Effect, Wake};
use super::model::{Focus, Level, Load, Model};
use crate::client::ClientError;
use crate::domain::metrics::{MetricsQuery, MetricsSummary, MetricsWindow};
use crate::domain::AgentRole;

/// How long after an event the summary is fetched again.
pub const REFRESH_DEBOUNCE_MS: u64 = 2_000;

#[derive(Debug, Clone, PartialEq)]
pub struct TeamView {
    pub window: MetricsWindow,
    pub summary: Load<MetricsSummary>,
    /// The selected row of the breached list.
    pub selected: usize,
    /// A refetch is scheduled or in flight: events meanwhile need no other.
    pub refresh_pending: bool,
}

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

pub fn on_refresh_due(m: &mut Model) -> Vec<Effect> {
    match &m.team {
        Some(team) => vec![load(team.window)],
        None => vec![],
    }
}

/// The screen's own keys; `None` for a key it leaves to the rest of the console (`:`, `?`,
/// quit, views).
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
    let mut fx = super::update::selection_changed(m, old);
    fx.push(Effect::LoadThread(id));
    fx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::api::Me;
    use crate::domain::{Event, EventName, Scope};
    use crate::tui::keymap::Keymap;
    use crate::tui::model::fixtures::{me, t0};
    use crate::tui::theme::{ColorDepth, Theme};
    use crate::tui::update::{update, Msg};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn summary() -> MetricsSummary {
        serde_json::from_str(include_str!("panes/fixtures/team_summary.json")).unwrap()
    }

    fn model(role: AgentRole, scopes: Vec<Scope>) -> Model {
        let (km, _) = Keymap::load(None, None);
        let mut m = Model::new(
            t0(),
            km,
            Theme::builtin("mono", ColorDepth::None),
            "s".into(),
        );
        let mut agent = me();
        agent.role = role;
        update(&mut m, Msg::Me(Ok(Me { agent, scopes })));
        m
    }

    fn key(m: &mut Model, code: KeyCode) -> Vec<Effect> {
        update(m, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    fn event() -> Msg {
        Msg::Stream(crate::client::StreamItem::Event(
            crate::domain::event_payload::TypedEvent::decode(&Event {
                seq: 1,
                name: EventName::RulesUpdated,
                data: serde_json::json!({"id": "rulebook", "version": "v2"}),
                created_at: t0(),
            })
            .unwrap(),
        ))
    }

    #[test]
    fn an_agent_is_told_the_screen_is_for_supervisors() {
        let mut m = model(AgentRole::Agent, vec![Scope::Read, Scope::Reply]);
        assert!(key(&mut m, KeyCode::Char('T')).is_empty());
        assert!(m.team.is_none());
        assert!(m.status.as_ref().unwrap().text.contains("supervisors"));
    }

    #[test]
    fn events_refetch_once_after_a_pause_and_windows_cycle() {
        let mut m = model(AgentRole::Supervisor, vec![Scope::Read, Scope::Reply]);
        let fx = key(&mut m, KeyCode::Char('T'));
        assert_eq!(fx, vec![load(MetricsWindow::Day)]);
        // An event while the first fetch is in flight needs no other.
        assert!(!update(&mut m, event())
            .iter()
            .any(|e| matches!(e, Effect::Wake { .. })));
        update(&mut m, Msg::Team(Ok(summary())));
        assert!(m.team.as_ref().unwrap().summary().is_some());
        let wake = Effect::Wake {
            after_ms: REFRESH_DEBOUNCE_MS,
            wake: Wake::TeamRefresh,
        };
        assert!(update(&mut m, event()).contains(&wake));
        // A burst rides on the refetch already due.
        for _ in 0..5 {
            assert!(!update(&mut m, event()).contains(&wake));
        }
        assert_eq!(
            update(&mut m, Msg::Wake(Wake::TeamRefresh)),
            vec![load(MetricsWindow::Day)]
        );
        assert_eq!(
            key(&mut m, KeyCode::Char('w')),
            vec![load(MetricsWindow::Week)]
        );
        // The day's answer, late, is not shown as the week's: the week is asked for again.
        assert_eq!(
            update(&mut m, Msg::Team(Ok(summary()))),
            vec![load(MetricsWindow::Week)]
        );
        // A failed refresh keeps what is shown.
        let mut week = summary();
        week.window = MetricsWindow::Week;
        update(&mut m, Msg::Team(Ok(week)));
        update(
            &mut m,
            Msg::Team(Err(ClientError::Unreachable("down".into()))),
        );
        assert!(m.team.as_ref().unwrap().summary().is_some());
        key(&mut m, KeyCode::Esc);
        assert!(m.team.is_none());
        assert!(update(&mut m, event())
            .iter()
            .all(|e| !matches!(e, Effect::Wake { .. })));
    }

    #[test]
    fn enter_opens_the_selected_breached_item() {
        let mut m = model(AgentRole::Supervisor, vec![Scope::Read, Scope::Reply]);
        key(&mut m, KeyCode::Char('T'));
        update(&mut m, Msg::Team(Ok(summary())));
        let fx = key(&mut m, KeyCode::Enter);
        assert!(m.team.is_none());
        assert_eq!(m.stream.selected.as_deref(), Some("fb_i5"));
        assert!(fx.contains(&Effect::LoadThread("fb_i5".into())), "{fx:?}");
    }

    #[test]
    fn a_read_scope_token_makes_the_console_read_only() {
        let mut m = model(AgentRole::Supervisor, vec![Scope::Read]);
        assert!(m.read_only);
        let item = crate::tui::model::fixtures::feedback(1);
        m.stream.selected = Some(item.id.clone());
        m.stream.upsert(item);
        for (code, what) in [
            (KeyCode::Char('R'), "resolve"),
            (KeyCode::Char('r'), "reply"),
        ] {
            let fx = key(&mut m, code);
            assert!(fx.iter().all(|e| !e.changes_data()), "{fx:?}");
            let status = &m.status.as_ref().unwrap().text;
            assert!(status.contains("read-only"), "{what}: {status}");
        }
        let fx = crate::tui::update::run_command(&mut m, "tone negative");
        assert!(fx.is_empty());
        // The Team screen is for reading: it opens.
        assert_eq!(
            key(&mut m, KeyCode::Char('T')),
            vec![load(MetricsWindow::Day)]
        );
    }
}
