//! The Team screen through the reducer (kept apart so `team` does not import `update`).

// These tests look at the model a message leaves; the effects it asks for are often not the point.
#![allow(unused_must_use)]

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
