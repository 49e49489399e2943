use super::marks::relint;
use super::view::ensure_customer;
use crate::client::ClientError;
use crate::domain::api::{FeedbackPatch, NewFeedback};
use crate::domain::{Agent, AgentRole, Channel, Identity, Priority, SentimentLabel};
use crate::tui::effect::Effect;
use crate::tui::model::*;

/// A PATCH of the selected item at the version we have (a stale version is refused and
/// reported; the event stream brings the current one).
#[must_use]
pub(crate) fn patch_selected(m: &mut Model, patch: FeedbackPatch) -> Vec<Effect> {
    match m.selected() {
        Some(fb) => vec![Effect::Patch {
            feedback_id: fb.id.clone(),
            version: fb.version,
            patch,
        }],
        None => {
            m.set_status(Level::Info, "select an item first");
            vec![]
        }
    }
}

/// Correct the selected item's tone to the next label (negative, neutral, positive, around):
/// the server stores the agent's word, re-routes the item and learns from the correction.
#[must_use]
pub(crate) fn cycle_tone(m: &mut Model) -> Vec<Effect> {
    let Some(fb) = m.selected() else {
        m.set_status(Level::Info, "select an item first");
        return vec![];
    };
    let next = match fb.sentiment_label {
        SentimentLabel::Negative => SentimentLabel::Neutral,
        SentimentLabel::Neutral => SentimentLabel::Positive,
        SentimentLabel::Positive => SentimentLabel::Negative,
    };
    set_tone(m, next)
}

#[must_use]
pub(crate) fn set_tone(m: &mut Model, label: SentimentLabel) -> Vec<Effect> {
    let id = m.selected().map(|fb| fb.id.clone());
    let fx = patch_selected(
        m,
        FeedbackPatch {
            sentiment_label: Some(label),
            ..Default::default()
        },
    );
    if let Some(id) = id {
        m.set_status(Level::Info, format!("{id}: tone corrected to {label}"));
    }
    fx
}

/// Escalate: priority urgent, and assigned to a supervisor (of the item's department when
/// there is one) unless one has it already.
#[must_use]
pub(crate) fn escalate(m: &mut Model) -> Vec<Effect> {
    let Some(fb) = m.selected().cloned() else {
        return vec![];
    };
    let me = m.me.as_ref().map(|a| a.id.clone());
    let supervisors: Vec<&Agent> = m
        .agent_list
        .iter()
        .filter(|a| a.role == AgentRole::Supervisor && Some(&a.id) != me.as_ref())
        .collect();
    let has_one = fb
        .assignee
        .as_ref()
        .is_some_and(|a| supervisors.iter().any(|s| &s.id == a));
    let sup = supervisors
        .iter()
        .find(|a| a.departments.contains(&fb.department))
        .or_else(|| supervisors.first())
        .map(|a| (a.id.clone(), a.name.clone()));
    let mut patch = FeedbackPatch {
        priority: Some(Priority::Urgent),
        ..Default::default()
    };
    let to = match sup {
        Some((id, name)) if !has_one => {
            patch.assignee = Some(Some(id));
            format!(", to {name}")
        }
        _ => String::new(),
    };
    m.set_status(Level::Info, format!("escalating {}: urgent{to}", fb.id));
    patch_selected(m, patch)
}

pub(crate) fn refresh_assign(p: &mut AssignPicker) {
    let q = p.query.text.to_lowercase();
    p.matches = p
        .choices
        .iter()
        .enumerate()
        .filter(|(_, c)| q.is_empty() || c.label().to_lowercase().contains(&q))
        .map(|(i, _)| i)
        .collect();
    p.selected = p.selected.min(p.matches.len().saturating_sub(1));
}

/// The reassign picker: agents, departments, unassign; `query` prefilters it.
#[must_use]
pub(crate) fn open_assign(m: &mut Model, query: &str) -> Vec<Effect> {
    let Some(fb) = m.selected().cloned() else {
        m.set_status(Level::Info, "select an item first");
        return vec![];
    };
    let mut choices: Vec<AssignChoice> = m
        .agent_list
        .iter()
        .map(|a| AssignChoice::Agent {
            id: a.id.clone(),
            name: a.name.clone(),
        })
        .collect();
    choices.extend(m.departments.iter().map(|d| AssignChoice::Department {
        id: d.id.clone(),
        name: d.name.clone(),
    }));
    choices.push(AssignChoice::Unassign);
    let mut p = AssignPicker {
        feedback_id: fb.id,
        query: LineInput::with(query),
        choices,
        matches: Vec::new(),
        selected: 0,
    };
    refresh_assign(&mut p);
    // One exact answer on the command line (`:assign Bo`) needs no picker.
    if !query.is_empty() && p.matches.len() == 1 {
        let c = p.choices[p.matches[0]].clone();
        let fid = p.feedback_id.clone();
        return assign_to(m, &fid, c);
    }
    m.overlay = Some(Overlay::Assign(p));
    let mut fx = Vec::new();
    if m.agent_list.is_empty() {
        fx.push(Effect::LoadAgents);
    }
    if m.departments.is_empty() {
        fx.push(Effect::LoadDepartments);
    }
    fx
}

#[must_use]
pub(crate) fn assign_to(m: &mut Model, feedback_id: &str, choice: AssignChoice) -> Vec<Effect> {
    let Some(fb) = m.stream.get(feedback_id).map(|r| r.fb.clone()) else {
        return vec![];
    };
    let patch = match &choice {
        AssignChoice::Agent { id, .. } => FeedbackPatch {
            assignee: Some(Some(id.clone())),
            ..Default::default()
        },
        AssignChoice::Department { id, .. } => FeedbackPatch {
            department: Some(id.clone()),
            ..Default::default()
        },
        AssignChoice::Unassign => FeedbackPatch {
            assignee: Some(None),
            ..Default::default()
        },
    };
    m.set_status(Level::Info, format!("{}: {}", fb.id, choice.label()));
    vec![Effect::Patch {
        feedback_id: fb.id,
        version: fb.version,
        patch,
    }]
}

/// The offline feedback form for the selected item's customer.
#[must_use]
pub(crate) fn open_log(m: &mut Model, channel: Option<Channel>, text: &str) -> Vec<Effect> {
    let fb = m.selected().cloned();
    let customer_id = m.selected_customer_id();
    let author = customer_id
        .as_deref()
        .and_then(|id| m.customer(id))
        .map(|c| c.full_name())
        .or_else(|| fb.as_ref().map(|f| f.author.display_name.clone()))
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "walk-in customer".into());
    m.overlay = Some(Overlay::Log(LogForm {
        customer_id,
        author,
        channel: channel.unwrap_or(Channel::Phone),
        text: LineInput::with(text),
    }));
    vec![]
}

#[must_use]
pub(crate) fn submit_log(m: &mut Model, form: LogForm) -> Vec<Effect> {
    let text = form.text.text.trim().to_string();
    if text.is_empty() {
        m.set_status(Level::Error, "write what the customer said first");
        return vec![];
    }
    m.overlay = None;
    m.set_status(Level::Info, format!("logging {} feedback…", form.channel));
    vec![Effect::CreateFeedback(NewFeedback {
        channel: form.channel,
        text,
        author_handle: form.author.clone(),
        author_name: Some(form.author),
        customer_id: form.customer_id,
        thread_id: None,
        url: None,
        received_at: None,
        external_id: None,
        parent_external_id: None,
    })]
}

#[must_use]
pub(crate) fn on_linked(
    m: &mut Model,
    identity_id: String,
    customer_id: String,
    result: Result<Identity, ClientError>,
) -> Vec<Effect> {
    m.dirty = true;
    match result {
        Ok(_) => {
            m.stream.link_author(&identity_id, &customer_id);
            if matches!(&m.overlay, Some(Overlay::Link(_))) {
                m.overlay = None;
            }
            m.customers.remove(&customer_id);
            m.set_status(Level::Info, format!("linked to customer {customer_id}"));
            let fx = ensure_customer(m);
            relint(m);
            fx
        }
        Err(e) => {
            m.set_status(Level::Error, format!("not linked: {e}"));
            vec![]
        }
    }
}

/// Offline feedback was logged.
#[must_use]
pub(crate) fn on_created(
    m: &mut Model,
    result: Result<crate::domain::Feedback, crate::client::ClientError>,
) -> Vec<Effect> {
    match result {
        Ok(fb) => {
            let id = fb.id.clone();
            m.set_status(Level::Info, format!("offline feedback logged as {id}"));
            super::view::on_feedback(m, fb)
        }
        Err(e) => {
            m.set_status(Level::Error, format!("feedback not logged: {e}"));
            vec![]
        }
    }
}

#[must_use]
pub(crate) fn on_patched(
    m: &mut Model,
    feedback_id: &str,
    result: Result<crate::domain::Feedback, crate::client::ClientError>,
) -> Vec<Effect> {
    match result {
        Ok(fb) => super::view::on_feedback(m, fb),
        Err(e) => {
            m.set_status(Level::Error, format!("{feedback_id} not changed: {e}"));
            vec![]
        }
    }
}
