//! Keys while an overlay is open: the overlay's own file reads the key from its keymap table and
//! says what it did ([`Outcome`]); this turns the outcome into model changes and effects.

use super::commands::run_command;
use super::compose::{clear_draft_now, draft_edited, placeholders, refresh_picker};
use super::triage::{assign_to, refresh_assign, submit_log};
use super::view::{after_view_change, apply_filter, move_selection};
use crate::tui::canned;
use crate::tui::effect::Effect;
use crate::tui::guard::confirm_seen;
use crate::tui::keymap::KeyPress;
use crate::tui::model::*;
use crate::tui::overlay::keys::{self, Outcome, OverlayKey};
use crate::tui::overlay::{
    assign, bulk_results, canned as canned_view, guard, help, line, link, log,
};

#[must_use]
pub(crate) fn overlay_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    let Some(open) = m.overlay.as_ref() else {
        return vec![];
    };
    let key = keys::read(&m.keymap, open, kp);
    let Some(open) = m.overlay.as_mut() else {
        return vec![];
    };
    match open {
        Overlay::Help { scroll } => {
            let outcome = help::on_key(scroll, key);
            close_on(m, outcome)
        }
        Overlay::BulkResults { scroll } => {
            let outcome = bulk_results::on_key(scroll, key);
            if outcome == Outcome::Close {
                m.bulk = None;
            }
            close_on(m, outcome)
        }
        Overlay::Guard(view) => {
            let outcome = guard::on_key(view, key);
            on_guard(m, outcome)
        }
        Overlay::ConfirmClear => on_confirm(m, key),
        Overlay::Command(li) => {
            let outcome = line::on_command_key(li, key);
            on_command(m, outcome)
        }
        Overlay::Filter(li) => {
            let outcome = line::on_filter_key(li, key);
            on_filter(m, outcome)
        }
        Overlay::Canned(p) => {
            let outcome = canned_view::on_key(p, key);
            on_canned(m, outcome)
        }
        Overlay::Assign(p) => {
            let outcome = assign::on_key(p, key);
            on_assign(m, outcome)
        }
        Overlay::Log(form) => {
            let outcome = log::on_key(form, key);
            on_log(m, outcome)
        }
        Overlay::Link(ls) => {
            let outcome = link::on_key(ls, key);
            on_link(m, outcome)
        }
    }
}

/// The outcome of an overlay that has nothing to accept: closed or left open.
fn close_on(m: &mut Model, outcome: Outcome) -> Vec<Effect> {
    if outcome == Outcome::Close {
        m.overlay = None;
    }
    vec![]
}

#[must_use]
fn on_guard(m: &mut Model, outcome: Outcome) -> Vec<Effect> {
    match outcome {
        Outcome::Close => {
            m.overlay = None;
            m.set_status(
                Level::Info,
                "not sent: the draft is kept (sending shows the new messages again)",
            );
            vec![]
        }
        Outcome::Accept => {
            let Some(Overlay::Guard(view)) = m.overlay.take() else {
                return vec![];
            };
            confirm_seen(m, &view.feedback_id, &view.messages);
            // The agent read what happened on the item (a colleague's answer included): no
            // second question about it being answered already.
            if let Some(c) = m
                .composer
                .as_mut()
                .filter(|c| c.feedback_id == view.feedback_id)
            {
                c.confirm_stale = true;
            }
            super::send::send_reply(m, view.resolve)
        }
        _ => vec![],
    }
}

/// The clear-draft question: a yes key clears, any other key keeps the draft.
#[must_use]
fn on_confirm(m: &mut Model, key: OverlayKey) -> Vec<Effect> {
    m.overlay = None;
    if key == OverlayKey::Action(crate::tui::action::Action::ConfirmYes) {
        return clear_draft_now(m);
    }
    m.set_status(Level::Info, "the draft is kept");
    vec![]
}

#[must_use]
fn on_command(m: &mut Model, outcome: Outcome) -> Vec<Effect> {
    match outcome {
        Outcome::Accept => {
            let Some(Overlay::Command(li)) = m.overlay.take() else {
                return vec![];
            };
            run_command(m, &li.text)
        }
        outcome => close_on(m, outcome),
    }
}

#[must_use]
fn on_filter(m: &mut Model, outcome: Outcome) -> Vec<Effect> {
    match outcome {
        Outcome::Close => {
            m.overlay = None;
            apply_filter(m, "")
        }
        Outcome::Accept => {
            m.overlay = None;
            // The filter is accepted: its final view (and selection) now, not later.
            m.stream.finish_filter();
            after_view_change(m)
        }
        Outcome::Move(d) => move_selection(m, |s| s.move_by(d)),
        Outcome::Edited => {
            let Some(Overlay::Filter(li)) = &m.overlay else {
                return vec![];
            };
            let f = li.text.clone();
            apply_filter(m, &f)
        }
        Outcome::Stay => vec![],
    }
}

#[must_use]
fn on_canned(m: &mut Model, outcome: Outcome) -> Vec<Effect> {
    match outcome {
        Outcome::Accept => {
            let Some(Overlay::Canned(p)) = m.overlay.take() else {
                return vec![];
            };
            match p.matches.get(p.selected).copied() {
                Some(i) => insert_canned(m, i),
                None => vec![],
            }
        }
        Outcome::Edited => {
            refresh_picker(m);
            vec![]
        }
        outcome => close_on(m, outcome),
    }
}

/// Puts canned reply `i`, its placeholders filled, into the part being written.
#[must_use]
fn insert_canned(m: &mut Model, i: usize) -> Vec<Effect> {
    let body = canned::fill(&m.canned[i].body, &placeholders(m));
    let name = m.canned[i].name.clone();
    let Some(c) = m.composer.as_mut() else {
        return vec![];
    };
    let part = c.active;
    c.area_mut(part).insert_str(body);
    m.focus = Focus::Composer;
    m.set_status(Level::Info, format!("inserted \"{name}\""));
    draft_edited(m)
}

#[must_use]
fn on_assign(m: &mut Model, outcome: Outcome) -> Vec<Effect> {
    match outcome {
        Outcome::Accept => {
            let Some(Overlay::Assign(p)) = m.overlay.take() else {
                return vec![];
            };
            match p.matches.get(p.selected).map(|i| p.choices[*i].clone()) {
                Some(choice) => assign_to(m, &p.feedback_id, choice),
                None => vec![],
            }
        }
        Outcome::Edited => {
            if let Some(Overlay::Assign(p)) = m.overlay.as_mut() {
                refresh_assign(p);
            }
            vec![]
        }
        outcome => close_on(m, outcome),
    }
}

#[must_use]
fn on_log(m: &mut Model, outcome: Outcome) -> Vec<Effect> {
    match outcome {
        Outcome::Accept => {
            let Some(Overlay::Log(form)) = &m.overlay else {
                return vec![];
            };
            let form = form.clone();
            submit_log(m, form)
        }
        outcome => close_on(m, outcome),
    }
}

/// Accept in the link picker: search when the query is new, else link the selected customer.
#[must_use]
fn on_link(m: &mut Model, outcome: Outcome) -> Vec<Effect> {
    if outcome != Outcome::Accept {
        return close_on(m, outcome);
    }
    let Some(Overlay::Link(ls)) = m.overlay.as_mut() else {
        return vec![];
    };
    let q = ls.query.text.trim().to_string();
    if ls.searched.as_deref() != Some(q.as_str()) {
        if q.is_empty() {
            return vec![];
        }
        ls.searched = Some(q.clone());
        ls.results = Load::Loading;
        return vec![Effect::SearchCustomers(q)];
    }
    match ls.rows().get(ls.selected) {
        Some(row) => vec![Effect::LinkIdentity {
            identity_id: ls.identity.id.clone(),
            customer_id: row.customer.id.clone(),
        }],
        None => vec![],
    }
}
