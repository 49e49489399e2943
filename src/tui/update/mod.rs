//! The reducer: `update(&mut Model, Msg) -> Vec<Effect>`. Synchronous and pure: no clock, no
//! I/O, no randomness (time comes in `Msg::Tick`, randomness in `Model::key_seed`). Everything the
//! console does outside the model is an `Effect` the loop runs.
//!
//! This file only dispatches; each family of messages and actions has its own file, and they
//! import one way (lower files never import higher ones, none imports this one):
//! `marks`, `presence` < `view` < `compose`, `drafts` < `send`, `triage`, `events`, `session`
//! < `actions` < `commands` < `overlays` < `input`.

pub mod actions;
pub mod commands;
pub mod compose;
pub mod directory;
pub mod drafts;
pub mod events;
pub mod input;
pub mod marks;
pub mod overlays;
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
use drafts::on_drafts_not_saved;
use events::{on_stream, on_thread};
use input::{on_key, on_mouse, on_paste};
use send::{on_drained, on_reply_sent};
use session::on_tick;
use triage::on_linked;
use view::on_page;

#[must_use]
pub fn update(m: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut fx = update_model(m, msg);
    fx.extend(crate::tui::conversation::after_update(m));
    if m.read_only {
        // Whatever asked for it, a read-only console changes nothing on the server.
        fx.retain(|e| !e.changes_data());
    }
    fx
}

/// Dispatches each message to the family that handles it.
#[must_use]
fn update_model(m: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(ev) => on_key(m, ev),
        Msg::Paste(text) => on_paste(m, &text),
        Msg::Mouse(ev) => on_mouse(m, ev),
        Msg::Resize(w, h) => session::on_resize(m, w, h),
        Msg::Tick(now) => on_tick(m, now),
        Msg::Signal(name) => session::on_signal(m, &name),
        Msg::Notice { level, text } => {
            m.set_status(level, text);
            vec![]
        }
        Msg::Me(result) => session::on_me(m, result),
        Msg::Agents(result) => session::on_agents(m, result),
        Msg::Departments(result) => session::on_departments(m, result),
        Msg::ThemeLoaded { theme, warnings } => session::on_theme(m, theme, warnings),
        Msg::Team(result) => crate::tui::team::on_summary(m, result),
        Msg::Wake(Wake::TeamRefresh) => crate::tui::team::on_refresh_due(m),
        Msg::Wake(Wake::Settled { feedback_id, seq }) => events::on_settled(m, feedback_id, seq),
        Msg::Stream(item) => on_stream(m, item),
        Msg::Thread { id, result } => on_thread(m, id, result),
        Msg::FeedbackPage { generation, result } => on_page(m, generation, result),
        Msg::ContinueFilter => view::on_continue_filter(m),
        Msg::Created(result) => triage::on_created(m, result),
        Msg::Patched {
            feedback_id,
            result,
        } => triage::on_patched(m, &feedback_id, result),
        Msg::Customer { id, result } => directory::on_customer(m, id, result),
        Msg::History { id, result } => directory::on_history(m, id, result),
        Msg::Transactions { id, result } => directory::on_transactions(m, id, result),
        Msg::CustomerSearch { query, result } => directory::on_search(m, &query, result),
        Msg::Matches {
            identity_id,
            result,
        } => directory::on_matches(m, &identity_id, result),
        Msg::Linked {
            identity_id,
            customer_id,
            result,
        } => on_linked(m, identity_id, customer_id, result),
        Msg::ReplySent {
            feedback_id,
            key,
            result,
        } => on_reply_sent(m, feedback_id, key, result),
        Msg::Drained(report) => on_drained(m, report),
        Msg::DraftsNotSaved(unsaved) => on_drafts_not_saved(m, unsaved),
        Msg::Rules(result) => marks::on_rules(m, result),
        Msg::EditorDone {
            feedback_id,
            part,
            result,
        } => compose::on_editor_done(m, feedback_id, part, result),
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
