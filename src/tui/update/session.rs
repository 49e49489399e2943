use super::drafts::{save_dirty_drafts, DRAFT_DEBOUNCE_SECS};
use super::presence::{announce, PRESENCE_REFRESH_SECS, PRESENCE_TTL_SECS};
use super::send::{drain_outbox, OUTBOX_RETRY_SECS};
use super::view::STATUS_SECS;
use crate::domain::PresenceState;
use crate::tui::effect::Effect;
use crate::tui::model::*;
use chrono::{DateTime, Utc};

#[must_use]
pub(crate) fn on_tick(m: &mut Model, now: DateTime<Utc>) -> Vec<Effect> {
    let old = m.now;
    m.now = now;
    // Ages and SLA timers are shown to the minute: redraw only when the minute turns.
    if old.timestamp().div_euclid(60) != now.timestamp().div_euclid(60) {
        m.dirty = true;
    }
    if let Some(s) = &m.status {
        if s.level == Level::Info && (now - s.at).num_seconds() >= STATUS_SECS {
            m.status = None;
            m.dirty = true;
        }
    }
    let mut fx = match m.drafts_changed_at {
        Some(at) if (now - at).num_seconds() >= DRAFT_DEBOUNCE_SECS => save_dirty_drafts(m),
        _ => vec![],
    };
    // Others' presence fades when it is not refreshed; ours is refreshed before it would.
    let before: usize = m.presence.values().map(Vec::len).sum();
    for list in m.presence.values_mut() {
        list.retain(|p| (now - p.at).num_seconds() < PRESENCE_TTL_SECS);
    }
    m.presence.retain(|_, l| !l.is_empty());
    if m.presence.values().map(Vec::len).sum::<usize>() != before {
        m.dirty = true;
    }
    if let (Some((id, st)), Some(at)) = (m.my_presence.clone(), m.my_presence_at) {
        if st != PresenceState::Left && (now - at).num_seconds() >= PRESENCE_REFRESH_SECS {
            fx.push(announce(m, &id, st));
        }
    }
    // Replies waiting in the outbox are retried while the stream is up.
    let waiting = m
        .outbox
        .iter()
        .any(|o| o.state == SendState::Queued && o.reason.is_some());
    let due = m
        .outbox_drained_at
        .is_none_or(|at| (now - at).num_seconds() >= OUTBOX_RETRY_SECS);
    if waiting && due && m.connection == Connection::Connected {
        fx.extend(drain_outbox(m));
    }
    fx
}

#[must_use]
pub(crate) fn quit(m: &mut Model) -> Vec<Effect> {
    let mut fx = save_dirty_drafts(m);
    if let Some((id, state)) = m.my_presence.take() {
        if state != PresenceState::Left {
            fx.push(Effect::SetPresence {
                feedback_id: id,
                state: PresenceState::Left,
            });
        }
    }
    fx.push(Effect::Quit);
    m.quit = true;
    fx
}

#[must_use]
pub(crate) fn on_resize(m: &mut Model, w: u16, h: u16) -> Vec<Effect> {
    m.size = (w, h);
    let h = super::view::stream_rows(m);
    m.stream.ensure_visible(h);
    m.dirty = true;
    vec![]
}

/// SIGTERM, SIGHUP...: save and quit.
#[must_use]
pub(crate) fn on_signal(m: &mut Model, name: &str) -> Vec<Effect> {
    let mut fx = quit(m);
    fx.insert(
        0,
        Effect::Log(format!("{name}: saving drafts and quitting")),
    );
    fx
}

#[must_use]
pub(crate) fn on_me(
    m: &mut Model,
    result: Result<crate::domain::api::Me, crate::client::ClientError>,
) -> Vec<Effect> {
    let me = match result {
        Ok(me) => me,
        Err(e) => {
            m.set_status(Level::Error, format!("cannot sign in: {e}"));
            return vec![];
        }
    };
    if !m.read_only && !me.scopes.contains(&crate::domain::Scope::Reply) {
        // The token cannot change anything anyway: say so before a key is pressed.
        m.read_only = true;
        m.set_status(Level::Info, "read-only token: nothing can be changed here");
    }
    m.stream
        .set_me(Some(me.agent.id.clone()), me.agent.departments.clone());
    m.agents.insert(me.agent.id.clone(), me.agent.name.clone());
    m.me = Some(me.agent);
    m.dirty = true;
    super::view::after_view_change(m)
}

#[must_use]
pub(crate) fn on_agents(
    m: &mut Model,
    result: Result<Vec<crate::domain::Agent>, crate::client::ClientError>,
) -> Vec<Effect> {
    if let Ok(list) = result {
        for a in &list {
            m.agents.insert(a.id.clone(), a.name.clone());
        }
        m.agent_list = list;
        m.dirty = true;
    }
    vec![]
}

#[must_use]
pub(crate) fn on_departments(
    m: &mut Model,
    result: Result<Vec<crate::domain::Department>, crate::client::ClientError>,
) -> Vec<Effect> {
    if let Ok(list) = result {
        m.departments = list;
    }
    vec![]
}

#[must_use]
pub(crate) fn on_theme(
    m: &mut Model,
    theme: crate::tui::theme::Theme,
    warnings: Vec<String>,
) -> Vec<Effect> {
    let name = theme.name.clone();
    m.theme = theme;
    if let Some(c) = m.composer.as_mut() {
        super::marks::style_composer(c, &m.theme);
    }
    super::marks::relint(m);
    if warnings.is_empty() {
        m.set_status(Level::Info, format!("theme {name}"));
    } else {
        m.set_status(
            Level::Warning,
            format!("theme {name}: {}", warnings.join("; ")),
        );
        m.warnings.extend(warnings);
    }
    vec![]
}
