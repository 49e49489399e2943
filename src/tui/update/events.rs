use super::marks::relint;
use super::send::drain_outbox;
use super::view::{ensure_customer, on_feedback, refetch};
use crate::client::{ClientError, StreamItem};
use crate::domain::api::FeedbackDetail;
use crate::domain::{Message, PresenceState};
use crate::tui::effect::Effect;
use crate::tui::model::*;

/// A message created or changed (`message.created`, `reply.status_changed`).
pub(crate) fn on_message(m: &mut Model, msg: Message) {
    if let Some(fid) = &msg.feedback_id {
        if let Some(t) = m.threads.get_mut(fid) {
            match t.messages.iter_mut().find(|x| x.id == msg.id) {
                Some(x) => *x = msg.clone(),
                None => t.messages.push(msg.clone()),
            }
            m.dirty = true;
        }
    }
    if let Some(rid) = &msg.reply_id {
        if let Some(o) = m
            .outbox
            .iter_mut()
            .find(|o| o.reply_id.as_deref() == Some(rid.as_str()))
        {
            match o.messages.iter_mut().find(|x| x.id == msg.id) {
                Some(x) => *x = msg,
                None => o.messages.push(msg),
            }
            m.dirty = true;
        } else if msg.direction == crate::domain::Direction::Outbound
            && m.outbox.iter().any(|o| o.reply_id.is_none())
        {
            // The delivery may be faster than the answer to our POST: keep the update for the
            // reply it belongs to (bounded: only while one of ours is unanswered).
            if m.early_status.len() < 256 {
                let list = m.early_status.entry(rid.clone()).or_default();
                list.retain(|x| x.id != msg.id);
                list.push(msg);
            }
        }
    }
}

#[must_use]
pub(crate) fn on_thread(
    m: &mut Model,
    id: String,
    result: Result<FeedbackDetail, ClientError>,
) -> Vec<Effect> {
    m.dirty = true;
    match result {
        Ok(detail) => {
            crate::tui::conversation::on_thread(m, &id, &detail);
            m.stream.upsert(detail.feedback);
            let msgs: Vec<Message> = detail.thread.into_iter().collect();
            // Our replies' delivery as the thread has it (an update may have been missed).
            for o in m.outbox.iter_mut() {
                for x in o.messages.iter_mut() {
                    if let Some(now) = msgs.iter().find(|n| n.id == x.id) {
                        *x = now.clone();
                    }
                }
            }
            let first = !m.threads.contains_key(&id);
            let t = m.threads.entry(id.clone()).or_default();
            // The base stays on what the agent saw: a refetch never clears the guard.
            crate::tui::guard::merge_loaded(t, &id, msgs, first);
            relint(m);
            vec![]
        }
        Err(e) => {
            if let Some(c) = m.composer.as_mut().filter(|c| c.feedback_id == id) {
                c.error = Some(format!("the thread could not be loaded: {e}"));
            }
            vec![]
        }
    }
}

#[must_use]
pub(crate) fn on_stream(m: &mut Model, item: StreamItem) -> Vec<Effect> {
    match item {
        StreamItem::Connected => {
            let was_down = matches!(m.connection, Connection::Disconnected { .. });
            m.connection = Connection::Connected;
            m.dirty = true;
            // Before any event the client has no resume point and the stream starts at "now":
            // what arrived since the queue was fetched may be missing, so fetch it again
            // (arrivals are merged, nothing flickers). After an event, a reconnection resumes
            // with Last-Event-ID and needs no refetch.
            let reload = !m.events_seen;
            if was_down {
                m.set_status(
                    Level::Info,
                    if reload {
                        "reconnected: the stream is reloaded"
                    } else {
                        "reconnected: the stream resumed where it left off"
                    },
                );
            }
            let mut fx = if reload { refetch(m) } else { vec![] };
            // A profile that failed to load while the backend was away is asked for again.
            fx.extend(ensure_customer(m));
            // The backend is there: deliver what waits in the outbox.
            if m.outbox.iter().any(|o| o.state == SendState::Queued) {
                fx.extend(drain_outbox(m));
            }
            fx
        }
        StreamItem::Disconnected {
            reason,
            retry_in_ms,
        } => {
            m.connection = Connection::Disconnected {
                reason,
                retry_in_ms,
            };
            m.dirty = true;
            vec![]
        }
        StreamItem::Event(ev) => on_event(m, ev),
    }
}

#[must_use]
pub(crate) fn on_event(m: &mut Model, ev: crate::domain::event_payload::TypedEvent) -> Vec<Effect> {
    m.events_seen = true;
    let mut fx = crate::tui::team::on_event(m);
    fx.extend(on_event_data(m, ev));
    fx
}

#[must_use]
pub(crate) fn on_event_data(
    m: &mut Model,
    ev: crate::domain::event_payload::TypedEvent,
) -> Vec<Effect> {
    use crate::domain::event_payload::EventPayload as P;
    match ev.payload {
        P::FeedbackCreated(fb) | P::FeedbackUpdated(fb) => on_feedback(m, fb),
        P::PresenceChanged(p) => {
            if m.me.as_ref().is_some_and(|me| me.id == p.agent_id) {
                return vec![];
            }
            let list = m.presence.entry(p.feedback_id.clone()).or_default();
            list.retain(|x| x.agent_id != p.agent_id);
            if p.state != PresenceState::Left {
                let mut p = p;
                // Expiry runs on our clock, not the server's.
                p.at = m.now;
                list.push(p);
            }
            m.presence.retain(|_, l| !l.is_empty());
            m.dirty = true;
            vec![]
        }
        // The event names the customer, not its profile: a profile this console shows (or
        // the one it was merged into) is fetched again.
        P::CustomerUpdated(c) => std::iter::once(c.customer_id)
            .chain(c.merged_into)
            .filter(|id| m.customers.contains_key(id))
            .map(Effect::LoadCustomer)
            .collect(),
        P::RulesUpdated(_) => vec![Effect::LoadRules],
        P::StreamReset(_) => refetch(m),
        P::MessageCreated(msg) | P::ReplyStatusChanged(msg) => {
            crate::tui::conversation::on_message(m, &msg);
            on_message(m, msg);
            vec![]
        }
    }
}

/// The first requests of a session.
#[must_use]
pub fn init(m: &mut Model) -> Vec<Effect> {
    let mut fx = vec![
        Effect::LoadMe,
        Effect::LoadAgents,
        Effect::LoadDepartments,
        Effect::LoadRules,
    ];
    if m.outbox.iter().any(|o| o.state == SendState::Queued) {
        fx.extend(drain_outbox(m));
    }
    fx.extend(refetch(m));
    fx
}

/// The selection has rested on an item: announce `viewing`, load its thread.
#[must_use]
pub(crate) fn on_settled(m: &mut Model, feedback_id: String, seq: u64) -> Vec<Effect> {
    if seq != m.selection_seq || m.stream.selected.as_deref() != Some(&feedback_id) {
        return vec![];
    }
    let mut fx = Vec::new();
    let here = matches!(&m.my_presence, Some((id, st)) if *id == feedback_id && *st != PresenceState::Left);
    if !here {
        fx.push(super::presence::announce(
            m,
            &feedback_id,
            PresenceState::Viewing,
        ));
    }
    fx.push(Effect::LoadThread(feedback_id));
    fx
}
