//! The reducer: `update(&mut Model, Msg) -> Vec<Effect>`. Synchronous and pure: no clock, no
//! I/O, no randomness (time comes in `Msg::Tick`, randomness in `Model::key_seed`). Everything the
//! console does outside the model is an `Effect` the loop runs.
//!
//! This file only dispatches; each family of messages and actions has its own file, and they
//! import one way (lower files never import higher ones, none imports this one):
//! `marks`, `presence` < `view` < `compose`, `drafts` < `send`, `triage`, `events`, `session`
//! < `actions` < `commands` < `input`.

pub mod actions;
pub mod commands;
pub mod compose;
pub mod drafts;
pub mod events;
pub mod input;
pub mod marks;
pub mod presence;
pub mod send;
pub mod session;
pub mod target;
pub mod triage;
pub mod view;

pub use super::msg::Msg;
pub use commands::run_command;
pub use events::init;

use super::effect::{Effect, Wake};
use super::model::*;
use super::textutil::sanitize_multiline;
use crate::domain::{PresenceState, Visibility};
use compose::draft_edited;
use drafts::on_drafts_not_saved;
use events::{on_stream, on_thread};
use input::{on_key, on_mouse, on_paste};
use marks::{relint, style_composer};
use presence::announce;
use send::{on_drained, on_reply_sent};
use session::{on_tick, quit};
use triage::on_linked;
use view::{after_view_change, on_feedback, on_page, stream_rows};

pub fn update(m: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut fx = update_model(m, msg);
    fx.extend(crate::tui::conversation::after_update(m));
    if m.read_only {
        // Whatever asked for it, a read-only console changes nothing on the server.
        fx.retain(|e| !e.changes_data());
    }
    fx
}

fn update_model(m: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Team(result) => crate::tui::team::on_summary(m, result),
        Msg::Wake(Wake::TeamRefresh) => crate::tui::team::on_refresh_due(m),
        Msg::Key(ev) => on_key(m, ev),
        Msg::Paste(text) => on_paste(m, &text),
        Msg::Resize(w, h) => {
            m.size = (w, h);
            let h = stream_rows(m);
            m.stream.ensure_visible(h);
            m.dirty = true;
            vec![]
        }
        Msg::Tick(now) => on_tick(m, now),
        Msg::Stream(item) => on_stream(m, item),
        Msg::Me(Ok(me)) => {
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
            after_view_change(m)
        }
        Msg::Me(Err(e)) => {
            m.set_status(Level::Error, format!("cannot sign in: {e}"));
            vec![]
        }
        Msg::Agents(Ok(list)) => {
            for a in &list {
                m.agents.insert(a.id.clone(), a.name.clone());
            }
            m.agent_list = list;
            m.dirty = true;
            vec![]
        }
        Msg::Agents(Err(_)) => vec![],
        Msg::Departments(Ok(list)) => {
            m.departments = list;
            vec![]
        }
        Msg::Departments(Err(_)) => vec![],
        Msg::Thread { id, result } => on_thread(m, id, result),
        Msg::Created(Ok(fb)) => {
            let id = fb.id.clone();
            m.set_status(Level::Info, format!("offline feedback logged as {id}"));
            on_feedback(m, fb)
        }
        Msg::Created(Err(e)) => {
            m.set_status(Level::Error, format!("feedback not logged: {e}"));
            vec![]
        }
        Msg::Drained(report) => on_drained(m, report),
        Msg::Wake(Wake::Settled { feedback_id, seq }) => {
            if seq != m.selection_seq || m.stream.selected.as_deref() != Some(&feedback_id) {
                return vec![];
            }
            let mut fx = Vec::new();
            let here = matches!(&m.my_presence, Some((id, st)) if *id == feedback_id && *st != PresenceState::Left);
            if !here {
                fx.push(announce(m, &feedback_id, PresenceState::Viewing));
            }
            fx.push(Effect::LoadThread(feedback_id));
            fx
        }
        Msg::FeedbackPage { generation, result } => on_page(m, generation, result),
        Msg::Customer { id, result } => {
            let v = m.customers.entry(id).or_insert_with(CustomerView::loading);
            v.customer = match result {
                Ok(c) => Load::Loaded(c),
                Err(e) => Load::Failed(e.to_string()),
            };
            m.dirty = true;
            relint(m);
            vec![]
        }
        Msg::History { id, result } => {
            let v = m.customers.entry(id).or_insert_with(CustomerView::loading);
            v.history = match result {
                Ok(p) => Load::Loaded(p.items),
                Err(e) => Load::Failed(e.to_string()),
            };
            m.dirty = true;
            vec![]
        }
        Msg::Transactions { id, result } => {
            let v = m.customers.entry(id).or_insert_with(CustomerView::loading);
            v.transactions = match result {
                Ok(p) => Load::Loaded(p.items),
                Err(e) => Load::Failed(e.to_string()),
            };
            m.dirty = true;
            vec![]
        }
        Msg::ReplySent {
            feedback_id,
            key,
            result,
        } => on_reply_sent(m, feedback_id, key, result),
        Msg::Patched {
            feedback_id,
            result,
        } => match result {
            Ok(fb) => on_feedback(m, fb),
            Err(e) => {
                m.set_status(Level::Error, format!("{feedback_id} not changed: {e}"));
                vec![]
            }
        },
        Msg::CustomerSearch { query, result } => {
            if let Some(Overlay::Link(ls)) = &mut m.overlay {
                if ls.searched.as_deref() == Some(query.as_str()) {
                    ls.results = match result {
                        Ok(p) => Load::Loaded(p.items),
                        Err(e) => Load::Failed(e.to_string()),
                    };
                    ls.selected = 0;
                    m.dirty = true;
                }
            }
            vec![]
        }
        Msg::Matches {
            identity_id,
            result,
        } => {
            if let Some(Overlay::Link(ls)) = &mut m.overlay {
                if ls.identity.id == identity_id {
                    ls.suggestions = match result {
                        Ok(found) => Load::Loaded(found.candidates),
                        Err(e) => Load::Failed(e.to_string()),
                    };
                    ls.selected = 0;
                    m.dirty = true;
                }
            }
            vec![]
        }
        Msg::Linked {
            identity_id,
            customer_id,
            result,
        } => on_linked(m, identity_id, customer_id, result),
        Msg::Rules(Ok(rules)) => {
            m.rules = Some(rules);
            relint(m);
            m.dirty = true;
            vec![]
        }
        Msg::Rules(Err(e)) => {
            m.set_status(
                Level::Warning,
                format!("rulebook not loaded, the server still checks: {e}"),
            );
            vec![]
        }
        Msg::EditorDone {
            feedback_id,
            part,
            result,
        } => {
            m.dirty = true;
            match result {
                Ok(text) => {
                    let text = sanitize_multiline(text.trim_end_matches('\n'));
                    if let Some(c) = m.composer.as_mut().filter(|c| c.feedback_id == feedback_id) {
                        set_text(c.area_mut(part), &text);
                        draft_edited(m)
                    } else {
                        let d = m
                            .drafts
                            .entry(feedback_id.clone())
                            .or_insert_with(|| Draft {
                                feedback_id: feedback_id.clone(),
                                kind: ReplyKind::Micro,
                                public: String::new(),
                                direct: String::new(),
                                updated_at: m.now,
                                idempotency_key: None,
                            });
                        match part {
                            Visibility::Public => d.public = text,
                            Visibility::Direct => d.direct = text,
                        }
                        m.drafts_dirty.insert(feedback_id);
                        m.drafts_changed_at.get_or_insert(m.now);
                        vec![]
                    }
                }
                Err(e) => {
                    m.set_status(Level::Error, format!("editor: {e}"));
                    vec![]
                }
            }
        }
        Msg::ThemeLoaded { theme, warnings } => {
            let name = theme.name.clone();
            m.theme = theme;
            if let Some(c) = m.composer.as_mut() {
                style_composer(c, &m.theme);
            }
            relint(m);
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
        Msg::Notice { level, text } => {
            m.set_status(level, text);
            vec![]
        }
        Msg::DraftsNotSaved(unsaved) => on_drafts_not_saved(m, unsaved),
        Msg::Mouse(ev) => on_mouse(m, ev),
        Msg::ContinueFilter => {
            if m.stream.continue_filter() {
                m.dirty = true;
                after_view_change(m)
            } else {
                vec![]
            }
        }
        Msg::Signal(name) => {
            let mut fx = quit(m);
            fx.insert(
                0,
                Effect::Log(format!("{name}: saving drafts and quitting")),
            );
            fx
        }
    }
}

// The reducer's tests reach every family's functions by name.
#[cfg(test)]
#[allow(unused_imports)]
use {
    actions::*, commands::*, compose::*, drafts::*, events::*, input::*, marks::*, presence::*,
    send::*, session::*, triage::*, view::*,
};
#[cfg(test)]
mod tests;
