//! The reducer: `update(&mut Model, Msg) -> Vec<Effect>`. Synchronous and pure: no clock, no
//! I/O, no randomness (time comes in `Msg::Tick`, randomness in `Model::key_seed`). Everything the
//! console does outside the model is an `Effect` the loop runs.

use super::action::{Action, Context};
use super::canned::{self, Placeholders};
use super::effects::{Effect, UnsavedDrafts, Wake};
use super::keymap::{KeyPress, Lookup};
use super::lint::{CompiledRules, LintContext, MarkLevel, ViolationMark};
use super::model::*;
use super::overlay::bulk_results::{BulkEntry, BulkOutcome, BulkReport};
use super::panes;
use super::textutil::sanitize_multiline;
use super::theme::Theme;
use crate::client::{ClientError, DrainReport, OutboxEntry, OutboxState, StreamItem};
use crate::domain::api::{
    FeedbackDetail, FeedbackPatch, IdentityMatches, Me, NewFeedback, NewReply, Page,
};
use crate::domain::{
    Agent, AgentRole, Channel, Customer, Department, Feedback, FeedbackStatus, HistoryEntry,
    Identity, Message, Override, PresenceState, Priority, Reply, ReplyPart, SentimentLabel,
    Transaction, TransactionKind, Visibility,
};
use chrono::{DateTime, Utc};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};
use ratatui_textarea::{CursorMove, Input, Key};
use std::sync::Arc;

/// Everything that can happen to the console.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// Only with `--mouse`.
    Mouse(MouseEvent),
    Paste(String),
    Resize(u16, u16),
    /// The slow clock (ages, SLA, debounced draft saves).
    Tick(DateTime<Utc>),
    Stream(StreamItem),
    Me(Result<Me, ClientError>),
    Agents(Result<Vec<Agent>, ClientError>),
    Departments(Result<Vec<Department>, ClientError>),
    /// An item and its thread (`Effect::LoadThread`).
    Thread {
        id: String,
        result: Result<FeedbackDetail, ClientError>,
    },
    /// Offline feedback was logged (`Effect::CreateFeedback`).
    Created(Result<Feedback, ClientError>),
    /// What a drain of the outbox did.
    Drained(DrainReport),
    /// A timer `update` asked for.
    Wake(Wake),
    FeedbackPage {
        generation: u64,
        result: Result<Page<Feedback>, ClientError>,
    },
    Customer {
        id: String,
        result: Result<Customer, ClientError>,
    },
    History {
        id: String,
        result: Result<Page<HistoryEntry>, ClientError>,
    },
    Transactions {
        id: String,
        result: Result<Page<Transaction>, ClientError>,
    },
    ReplySent {
        feedback_id: String,
        key: String,
        result: Result<Reply, ClientError>,
    },
    Patched {
        feedback_id: String,
        result: Result<Feedback, ClientError>,
    },
    CustomerSearch {
        query: String,
        result: Result<Page<Customer>, ClientError>,
    },
    Matches {
        identity_id: String,
        result: Result<IdentityMatches, ClientError>,
    },
    Linked {
        identity_id: String,
        customer_id: String,
        result: Result<Identity, ClientError>,
    },
    Rules(Result<Arc<CompiledRules>, String>),
    EditorDone {
        feedback_id: String,
        part: Visibility,
        result: Result<String, String>,
    },
    ThemeLoaded {
        theme: Theme,
        warnings: Vec<String>,
    },
    /// A draft save or a copy failed (or succeeded, with a message to show).
    Notice {
        level: Level,
        text: String,
    },
    /// SIGTERM, SIGHUP...: save and quit.
    Signal(String),
    /// The loop is idle while a filter is still being applied: run its next slice.
    ContinueFilter,
    /// Drafts could not be written: kept in memory, and saved again at the next chance.
    DraftsNotSaved(UnsavedDrafts),
    /// The team's measures (`Effect::LoadTeam`).
    Team(Result<crate::domain::metrics::MetricsSummary, ClientError>),
}

/// How long a draft may stay unsaved after a change.
const DRAFT_DEBOUNCE_SECS: i64 = 2;
/// How long an info message stays in the status bar.
const STATUS_SECS: i64 = 6;

pub fn update(m: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut fx = update_model(m, msg);
    fx.extend(super::conversation::after_update(m));
    if m.read_only {
        // Whatever asked for it, a read-only console changes nothing on the server.
        fx.retain(|e| !e.changes_data());
    }
    fx
}

fn update_model(m: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Team(result) => super::team::on_summary(m, result),
        Msg::Wake(Wake::TeamRefresh) => super::team::on_refresh_due(m),
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
                m.agents
                    .insert(a.id.clone(), super::textutil::sanitize(&a.name));
            }
            m.agent_list = list
                .into_iter()
                .map(|mut a| {
                    a.name = super::textutil::sanitize(&a.name);
                    a
                })
                .collect();
            m.dirty = true;
            vec![]
        }
        Msg::Agents(Err(_)) => vec![],
        Msg::Departments(Ok(list)) => {
            m.departments = list
                .into_iter()
                .map(|mut d| {
                    d.name = super::textutil::sanitize(&d.name);
                    d
                })
                .collect();
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
                Ok(c) => Load::Loaded(clean_customer(c)),
                Err(e) => Load::Failed(e.to_string()),
            };
            m.dirty = true;
            relint(m);
            vec![]
        }
        Msg::History { id, result } => {
            let v = m.customers.entry(id).or_insert_with(CustomerView::loading);
            v.history = match result {
                Ok(p) => Load::Loaded(
                    p.items
                        .into_iter()
                        .map(|mut h| {
                            h.summary = sanitize_multiline(&h.summary);
                            h
                        })
                        .collect(),
                ),
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
                        Ok(p) => Load::Loaded(p.items.into_iter().map(clean_customer).collect()),
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

/// Rows of the stream list at the current size.
pub fn stream_rows(m: &Model) -> usize {
    panes::layout(ratatui::layout::Rect::new(0, 0, m.size.0, m.size.1), m)
        .stream
        .height
        .saturating_sub(2) as usize
}

fn context_of(f: Focus) -> Context {
    match f {
        Focus::Stream => Context::Stream,
        Focus::Profile => Context::Profile,
        Focus::Composer => Context::Composer,
    }
}

fn on_key(m: &mut Model, ev: KeyEvent) -> Vec<Effect> {
    let Some(kp) = KeyPress::from_event(&ev) else {
        return vec![];
    };
    if m.overlay.is_some() {
        m.dirty = true;
        return overlay_key(m, kp);
    }
    if m.pending_keys.is_empty() {
        if let Some(fx) = super::team::on_key(m, &ev) {
            return fx;
        }
    }
    let ctx = match context_of(m.focus) {
        Context::Stream if m.conversation.is_open() => Context::Conversation,
        ctx => ctx,
    };
    let mut seq = std::mem::take(&mut m.pending_keys);
    let had_pending = !seq.is_empty();
    seq.push(kp);
    match m.keymap.lookup(ctx, &seq) {
        Lookup::Action(a) => {
            m.dirty = true;
            run_action(m, a)
        }
        Lookup::Pending => {
            m.pending_keys = seq;
            m.dirty = true;
            vec![]
        }
        Lookup::None if had_pending => {
            m.dirty = true;
            vec![]
        }
        Lookup::None if m.focus == Focus::Composer && m.read_only => {
            m.set_status(Level::Warning, READ_ONLY_NOTE);
            vec![]
        }
        Lookup::None if m.focus == Focus::Composer => composer_input(m, ev),
        Lookup::None => vec![],
    }
}

fn to_input(ev: &KeyEvent) -> Input {
    if ev.kind == KeyEventKind::Release {
        return Input::default();
    }
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let alt = ev.modifiers.contains(KeyModifiers::ALT);
    let shift = ev.modifiers.contains(KeyModifiers::SHIFT);
    let key = match ev.code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Enter => Key::Enter,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => {
            return Input {
                key: Key::Tab,
                ctrl,
                alt,
                shift: true,
            }
        }
        KeyCode::Delete => Key::Delete,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Esc => Key::Esc,
        KeyCode::F(n) => Key::F(n),
        _ => Key::Null,
    };
    Input {
        key,
        ctrl,
        alt,
        shift,
    }
}

fn composer_input(m: &mut Model, ev: KeyEvent) -> Vec<Effect> {
    let Some(c) = m.composer.as_mut() else {
        m.set_status(Level::Info, "select an item to reply to");
        return vec![];
    };
    c.bound = true;
    let part = c.active;
    let before = c.area(part).cursor();
    let changed = c.area_mut(part).input(to_input(&ev));
    if changed {
        m.dirty = true;
        draft_edited(m)
    } else {
        if c.area(part).cursor() != before {
            m.dirty = true;
        }
        vec![]
    }
}

fn on_paste(m: &mut Model, text: &str) -> Vec<Effect> {
    m.dirty = true;
    match &mut m.overlay {
        Some(Overlay::Command(li)) | Some(Overlay::Filter(li)) => {
            li.insert_str(text);
            if let Some(Overlay::Filter(li)) = &m.overlay {
                let f = li.text.clone();
                return apply_filter(m, &f);
            }
            vec![]
        }
        Some(Overlay::Canned(p)) => {
            p.query.insert_str(text);
            refresh_picker(m);
            vec![]
        }
        Some(Overlay::Link(ls)) => {
            ls.query.insert_str(text);
            vec![]
        }
        Some(Overlay::Assign(p)) => {
            p.query.insert_str(text);
            refresh_assign(p);
            vec![]
        }
        Some(Overlay::Log(form)) => {
            form.text.insert_str(text);
            vec![]
        }
        Some(Overlay::Help { .. })
        | Some(Overlay::Guard(_))
        | Some(Overlay::BulkResults { .. })
        | Some(Overlay::ConfirmClear) => vec![],
        None => {
            if m.focus != Focus::Composer {
                m.focus = Focus::Composer;
            }
            super::composer_target::bind(m);
            let Some(c) = m.composer.as_mut() else {
                return vec![];
            };
            let clean = sanitize_multiline(&text.replace("\r\n", "\n").replace('\r', "\n"));
            let part = c.active;
            c.area_mut(part).insert_str(clean);
            draft_edited(m)
        }
    }
}

fn on_tick(m: &mut Model, now: DateTime<Utc>) -> Vec<Effect> {
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

/// Presence not refreshed for this long is dropped.
const PRESENCE_TTL_SECS: i64 = 120;
/// Our presence is announced again this often while it holds.
const PRESENCE_REFRESH_SECS: i64 = 60;
/// How often waiting outbox replies are retried while connected.
const OUTBOX_RETRY_SECS: i64 = 30;
/// How long the selection rests on an item before `viewing` is announced.
const SETTLE_MS: u64 = 600;

/// Announce our presence on an item.
fn announce(m: &mut Model, id: &str, state: PresenceState) -> Effect {
    m.my_presence = Some((id.to_string(), state));
    m.my_presence_at = Some(m.now);
    Effect::SetPresence {
        feedback_id: id.to_string(),
        state,
    }
}

fn drain_outbox(m: &mut Model) -> Vec<Effect> {
    if !m.outbox_enabled {
        return vec![];
    }
    m.outbox_drained_at = Some(m.now);
    vec![Effect::DrainOutbox]
}

/// The outbox entries found at start: queued ones are shown and will be delivered.
pub fn load_outbox(m: &mut Model, entries: Vec<OutboxEntry>) {
    for e in entries {
        let state = match e.state {
            OutboxState::Queued => SendState::Queued,
            OutboxState::Failed => SendState::Failed,
            OutboxState::Sent => continue,
        };
        if m.outbox.iter().any(|o| o.key == e.key) {
            continue;
        }
        m.outbox.push(OutboxItem {
            key: e.key,
            feedback_id: e.feedback_id,
            parts: e.reply.parts,
            state,
            reason: Some(
                e.last_error
                    .map(|r| super::textutil::sanitize(&r))
                    .unwrap_or_else(|| "waiting since the last session".into()),
            ),
            reply_id: e.reply_id,
            messages: Vec::new(),
        });
    }
    m.dirty = true;
}

fn clean_message(mut msg: Message) -> Message {
    msg.body = sanitize_multiline(&msg.body);
    msg.author = super::textutil::sanitize(&msg.author);
    msg.address = super::textutil::sanitize(&msg.address);
    msg.status_reason = msg.status_reason.map(|r| super::textutil::sanitize(&r));
    msg
}

/// Our own reply's messages join the thread (they count as seen: see `guard::is_own`), and
/// delivery updates that came before the reply itself are applied.
fn note_own_messages(m: &mut Model, key: &str, reply: &Reply) {
    if let Some(early) = m.early_status.remove(&reply.id) {
        if let Some(o) = m.outbox.iter_mut().find(|o| o.key == key) {
            for e in early {
                if let Some(x) = o.messages.iter_mut().find(|x| x.id == e.id) {
                    *x = e;
                }
            }
        }
    }
    let Some(t) = m.threads.get_mut(&reply.feedback_id) else {
        return;
    };
    for msg in &reply.messages {
        if !t.messages.iter().any(|x| x.id == msg.id) {
            t.messages.push(clean_message(msg.clone()));
        }
    }
}

/// A message created or changed (`message.created`, `reply.status_changed`).
fn on_message(m: &mut Model, msg: Message) {
    let msg = clean_message(msg);
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

fn on_thread(
    m: &mut Model,
    id: String,
    result: Result<FeedbackDetail, ClientError>,
) -> Vec<Effect> {
    m.dirty = true;
    match result {
        Ok(detail) => {
            super::conversation::on_thread(m, &id, &detail);
            m.stream.upsert(detail.feedback);
            let msgs: Vec<Message> = detail.thread.into_iter().map(clean_message).collect();
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
            super::guard::merge_loaded(t, &id, msgs, first);
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

/// Copy the live composer into the drafts map (if it changed).
pub(crate) fn sync_composer(m: &mut Model) {
    if let Some(c) = &m.composer {
        if m.drafts_dirty.contains(&c.feedback_id) {
            let d = c.to_draft(m.now);
            if d.is_empty() && d.idempotency_key.is_none() {
                m.drafts.remove(&c.feedback_id);
            } else {
                m.drafts.insert(c.feedback_id.clone(), d);
            }
        }
    }
}

/// The mouse (only with `--mouse`): the wheel moves through the stream or scrolls the profile
/// under the pointer, a click selects a stream row or focuses the pane under it. Everything
/// stays reachable from the keyboard; overlays take keys only.
fn on_mouse(m: &mut Model, ev: MouseEvent) -> Vec<Effect> {
    if m.overlay.is_some() {
        return vec![];
    }
    let areas = panes::layout(Rect::new(0, 0, m.size.0, m.size.1), m);
    let at = Position::new(ev.column, ev.row);
    match ev.kind {
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            let down = ev.kind == MouseEventKind::ScrollDown;
            if areas.profile.contains(at) {
                m.dirty = true;
                m.profile_scroll = if down {
                    m.profile_scroll.saturating_add(1)
                } else {
                    m.profile_scroll.saturating_sub(1)
                };
                vec![]
            } else if areas.stream.contains(at) {
                m.dirty = true;
                move_selection(m, |s| s.move_by(if down { 1 } else { -1 }))
            } else {
                vec![]
            }
        }
        MouseEventKind::Down(MouseButton::Left) => {
            if areas.stream.contains(at) {
                m.focus = Focus::Stream;
                m.dirty = true;
                // Rows start under the top border and end above the bottom one.
                let first_row = areas.stream.y + 1;
                if at.y < first_row || at.y.saturating_add(1) >= areas.stream.bottom() {
                    return vec![];
                }
                m.stream.finish_filter();
                let pos = m.stream.top_pos() + usize::from(at.y - first_row);
                if m.stream.row_at(pos).is_none() {
                    return vec![];
                }
                move_selection(m, |s| s.select_pos(pos))
            } else if areas.profile.contains(at) {
                m.focus = Focus::Profile;
                m.dirty = true;
                vec![]
            } else if areas.composer.contains(at) && m.composer.is_some() {
                m.focus = Focus::Composer;
                super::composer_target::bind(m);
                m.dirty = true;
                vec![]
            } else {
                vec![]
            }
        }
        // Moves, drags and other buttons: nothing to do, nothing to redraw.
        _ => vec![],
    }
}

/// A save failed: the drafts are marked changed again, so the next debounce retries them (and
/// the last save on exit includes them).
fn on_drafts_not_saved(m: &mut Model, unsaved: UnsavedDrafts) -> Vec<Effect> {
    let n = unsaved.items.len();
    for (id, _) in unsaved.items {
        m.drafts_dirty.insert(id);
    }
    m.drafts_changed_at.get_or_insert(m.now);
    // Retried every few seconds: never hide another error (a failed send) behind this one.
    let prefix = "draft(s) not saved";
    let other_error = m
        .status
        .as_ref()
        .is_some_and(|s| s.level == Level::Error && !s.text.contains(prefix));
    if !other_error {
        m.set_status(
            Level::Error,
            format!(
                "{n} {prefix} ({}); kept here and retried",
                super::textutil::sanitize(&unsaved.error)
            ),
        );
    }
    vec![]
}

/// The drafts changed since the last save, as one save effect.
pub fn save_dirty_drafts(m: &mut Model) -> Vec<Effect> {
    sync_composer(m);
    m.drafts_changed_at = None;
    if m.drafts_dirty.is_empty() {
        return vec![];
    }
    let items = std::mem::take(&mut m.drafts_dirty)
        .into_iter()
        .map(|id| {
            let d = m.drafts.get(&id).cloned();
            (id, d)
        })
        .collect();
    vec![Effect::SaveDrafts(items)]
}

fn quit(m: &mut Model) -> Vec<Effect> {
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

fn on_stream(m: &mut Model, item: StreamItem) -> Vec<Effect> {
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
                reason: super::textutil::sanitize(&reason),
                retry_in_ms,
            };
            m.dirty = true;
            vec![]
        }
        StreamItem::Event(ev) => on_event(m, ev),
    }
}

fn on_event(m: &mut Model, ev: crate::domain::event_payload::TypedEvent) -> Vec<Effect> {
    m.events_seen = true;
    let mut fx = super::team::on_event(m);
    fx.extend(on_event_data(m, ev));
    fx
}

fn on_event_data(m: &mut Model, ev: crate::domain::event_payload::TypedEvent) -> Vec<Effect> {
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
                p.agent_name = super::textutil::sanitize(&p.agent_name);
                // Expiry runs on our clock, not the server's.
                p.at = m.now;
                list.push(p);
            }
            m.presence.retain(|_, l| !l.is_empty());
            m.dirty = true;
            vec![]
        }
        P::CustomerUpdated(c) => {
            if let Some(v) = m.customers.get_mut(&c.id) {
                v.customer = Load::Loaded(clean_customer(c));
                m.dirty = true;
            }
            vec![]
        }
        P::RulesUpdated(_) => vec![Effect::LoadRules],
        P::StreamReset(_) => refetch(m),
        P::MessageCreated(msg) | P::ReplyStatusChanged(msg) => {
            super::conversation::on_message(m, &clean_message(msg.clone()));
            on_message(m, msg);
            vec![]
        }
    }
}

fn refetch(m: &mut Model) -> Vec<Effect> {
    m.stream.generation += 1;
    m.stream.loading = true;
    m.stream.incoming.clear();
    m.dirty = true;
    vec![Effect::LoadFeedback {
        generation: m.stream.generation,
        cursor: None,
    }]
}

/// The first requests of a session.
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

fn on_page(
    m: &mut Model,
    generation: u64,
    result: Result<Page<Feedback>, ClientError>,
) -> Vec<Effect> {
    if generation != m.stream.generation {
        return vec![];
    }
    m.dirty = true;
    match result {
        Ok(page) => {
            let first_ever = m.stream.total() == 0;
            if first_ever {
                // Show the first page at once; the rest is merged when all pages are in.
                m.stream.replace_all(page.items.clone());
            }
            m.stream.incoming.extend(page.items);
            let mut fx = Vec::new();
            match page.next_cursor {
                Some(c) if m.stream.incoming.len() < MAX_INITIAL_ITEMS => {
                    fx.push(Effect::LoadFeedback {
                        generation,
                        cursor: Some(c),
                    });
                }
                _ => {
                    let incoming = std::mem::take(&mut m.stream.incoming);
                    m.stream.finish_load(incoming);
                    m.stream.loading = false;
                    m.stream.error = None;
                }
            }
            fx.extend(after_view_change(m));
            fx
        }
        Err(e) => {
            m.stream.loading = false;
            m.stream.error = Some(e.to_string());
            m.set_status(Level::Error, format!("cannot load the stream: {e}"));
            vec![]
        }
    }
}

/// A new or changed item from the stream or a PATCH.
fn on_feedback(m: &mut Model, fb: Feedback) -> Vec<Effect> {
    let is_new = m.stream.upsert(fb);
    m.dirty = true;
    let old = m.stream.selected.clone();
    // While the agent writes a reply, an arrival never takes the selection (and the composer
    // with it) to another item, follow mode or not: the text would go to another customer.
    // Nor while the agent reads a conversation (it would change under their eyes).
    let composing =
        (m.focus == Focus::Composer && m.composer.is_some()) || m.conversation.is_open();
    if (m.follow && is_new && !composing) || m.stream.selected.is_none() {
        if m.follow {
            m.stream.follow_newest();
        } else {
            m.stream.select_pos(0);
        }
    }
    let h = stream_rows(m);
    m.stream.ensure_visible(h);
    let mut fx = selection_changed(m, old);
    relint(m);
    fx.extend(ensure_customer(m));
    fx
}

/// After the view, filter or data changed: keep a visible selection.
fn after_view_change(m: &mut Model) -> Vec<Effect> {
    let old = m.stream.selected.clone();
    if m.stream.selected_pos().is_none() {
        if m.follow {
            m.stream.follow_newest();
        } else {
            m.stream.select_pos(0);
        }
    }
    let h = stream_rows(m);
    m.stream.ensure_visible(h);
    selection_changed(m, old)
}

/// The default reply type for an item's channel.
fn default_kind(ch: Channel) -> ReplyKind {
    if ch.has_public_thread() {
        ReplyKind::Macro
    } else {
        ReplyKind::Micro
    }
}

pub fn style_composer(c: &mut Composer, theme: &Theme) {
    for part in [Visibility::Public, Visibility::Direct] {
        let ta = c.area_mut(part);
        ta.set_style(theme.get("ui.text"));
        // The terminal's own cursor marks where typing goes (panes::composer places it), as in
        // the command line: a drawn cursor cell costs a restyled cell on every keystroke, so
        // the cell under the cursor looks like the text around it.
        ta.set_cursor_style(theme.get("ui.text"));
        ta.set_placeholder_style(theme.get("ui.text.dim"));
        ta.set_selection_style(theme.get("ui.selection"));
    }
}

/// Stash the old item's composer, open the new one's, load its customer.
pub(crate) fn selection_changed(m: &mut Model, old: Option<String>) -> Vec<Effect> {
    let new = m.stream.selected.clone();
    if old == new && (new.is_none() || m.composer.as_ref().map(|c| &c.feedback_id) == new.as_ref())
    {
        return vec![];
    }
    let mut fx = Vec::new();
    sync_composer(m);
    // A composer the agent opened stays on its item: only the agent moves it.
    let held = super::composer_target::holds(m, new.as_deref());
    if !held {
        m.composer = None;
    }
    m.profile_scroll = 0;
    let writing = m.composer.as_ref().map(|c| c.feedback_id.clone());
    if let Some((id, state)) = &m.my_presence {
        if Some(id) != new.as_ref() && Some(id) != writing.as_ref() && *state != PresenceState::Left
        {
            fx.push(Effect::SetPresence {
                feedback_id: id.clone(),
                state: PresenceState::Left,
            });
            m.my_presence = None;
            m.my_presence_at = None;
        }
    }
    if let Some(id) = new {
        // `viewing` (and the thread) once the selection rests here, not on every j/k.
        m.selection_seq += 1;
        fx.push(Effect::Wake {
            after_ms: SETTLE_MS,
            wake: Wake::Settled {
                feedback_id: id.clone(),
                seq: m.selection_seq,
            },
        });
        let channel = match m.stream.get_mut(&id) {
            Some(r) => {
                r.seen = true;
                r.fb.channel
            }
            None => return fx,
        };
        if held {
            fx.extend(ensure_customer(m));
            return fx;
        }
        let mut c = match m.drafts.get(&id) {
            Some(d) => Composer::from_draft(d),
            None => Composer::new(&id, default_kind(channel)),
        };
        style_composer(&mut c, &m.theme);
        m.composer = Some(c);
        relint(m);
        fx.extend(ensure_customer(m));
    }
    fx
}

/// Fetch the selected item's customer unless we have it (or are getting it).
fn ensure_customer(m: &mut Model) -> Vec<Effect> {
    let Some(cid) = m.selected_customer_id() else {
        return vec![];
    };
    // A profile that failed to load (the backend was down) is asked for again.
    let failed = |v: &CustomerView| matches!(v.customer, Load::Failed(_));
    if m.customers.get(&cid).is_some_and(|v| !failed(v)) {
        return vec![];
    }
    m.customers.insert(cid.clone(), CustomerView::loading());
    vec![
        Effect::LoadCustomer(cid.clone()),
        Effect::LoadHistory(cid.clone()),
        Effect::LoadTransactions(cid),
    ]
}

/// The composer's text changed.
pub(crate) fn draft_edited(m: &mut Model) -> Vec<Effect> {
    let Some(c) = m.composer.as_mut() else {
        return vec![];
    };
    c.pending_key = None;
    c.confirm_stale = false;
    c.confirm_warnings = false;
    c.error = None;
    let id = c.feedback_id.clone();
    m.drafts_dirty.insert(id.clone());
    m.drafts_changed_at.get_or_insert(m.now);
    m.dirty = true;
    relint(m);
    let mut fx = Vec::new();
    let composing = matches!(&m.my_presence, Some((pid, PresenceState::Composing)) if *pid == id);
    if !composing {
        fx.push(announce(m, &id, PresenceState::Composing));
    }
    fx
}

/// What the rule engine needs to know about the selected item.
fn lint_context(m: &Model) -> LintContext {
    lint_context_for(m, m.composer_item())
}

/// What the rule engine needs to know about an item (its customer when loaded).
fn lint_context_for(m: &Model, fb: Option<&Feedback>) -> LintContext {
    let cust = fb
        .and_then(|f| {
            f.customer_id
                .clone()
                .or_else(|| f.author.customer_id.clone())
        })
        .and_then(|id| m.customer(&id).cloned());
    LintContext {
        channel: fb.map(|f| f.channel),
        tier: cust.as_ref().map(|c| c.tier.clone()),
        department: fb.map(|f| f.department.clone()),
        tags: cust.as_ref().map(|c| c.tags.clone()).unwrap_or_default(),
        language: cust.as_ref().map(|c| c.preferences.language.clone()),
        sentiment: fb.map(|f| f.sentiment),
    }
}

/// Re-check the draft and mark violations in the text areas.
pub fn relint(m: &mut Model) {
    let ctx = lint_context(m);
    let Some(c) = m.composer.as_mut() else { return };
    c.violations = match &m.rules {
        Some(r) => {
            let parts: Vec<(Visibility, String)> =
                c.kind.parts().iter().map(|p| (*p, c.text(*p))).collect();
            r.check(&parts, &ctx)
        }
        None => Vec::new(),
    };
    mark_violations(c, &m.theme);
}

/// Underline violating text: the text area highlights matches of a search pattern, so the
/// pattern is the escaped text of each violation in that part.
fn mark_violations(c: &mut Composer, theme: &Theme) {
    for part in [Visibility::Public, Visibility::Direct] {
        let text = c.text(part);
        let marks: Vec<&ViolationMark> = c.violations.iter().filter(|v| v.part == part).collect();
        let pats: Vec<String> = marks
            .iter()
            .filter_map(|v| text.get(v.start..v.end))
            .filter(|s| !s.is_empty())
            .map(regex::escape)
            .collect();
        let level = marks
            .iter()
            .map(|v| v.level)
            .max()
            .unwrap_or(MarkLevel::Info);
        let ta = c.area_mut(part);
        ta.set_search_style(theme.get(level.scope()));
        let _ = ta.set_search_pattern(pats.join("|"));
    }
}

pub fn cycle_kind(k: ReplyKind) -> ReplyKind {
    match k {
        ReplyKind::Macro => ReplyKind::Micro,
        ReplyKind::Micro => ReplyKind::Both,
        ReplyKind::Both => ReplyKind::Macro,
    }
}

/// Where a part goes: `Ok(label)` or `Err(why it cannot go)`, by the rule the server delivers
/// with (`domain::recipient`), so the composer never promises a route the server refuses.
pub fn recipient(m: &Model, fb: &Feedback, part: Visibility) -> Result<String, String> {
    // The server routes by the item's customer, not by its author's current link.
    let customer = match fb.customer_id.as_ref() {
        Some(cid) if crate::domain::recipient::needs_customer(fb, part) => {
            match m.customers.get(cid).map(|v| &v.customer) {
                Some(Load::Loaded(c)) => Some(c),
                Some(Load::Failed(e)) => return Err(format!("profile unavailable: {e}")),
                _ => return Err("loading the customer's contact details…".into()),
            }
        }
        _ => None,
    };
    crate::domain::recipient::recipient(fb, customer, part)
        .map(|to| to.label(fb, part))
        .map_err(|why| format!("no route: {why}"))
}

/// The order a reply is about: one of the customer's orders that the post names (the first
/// named, if several), else their newest. A complaint about AC-563140 must not be answered about
/// the order placed yesterday.
fn order_for(post: &str, transactions: &[Transaction]) -> Option<String> {
    let orders = transactions
        .iter()
        .filter(|t| t.kind == TransactionKind::Order && !t.reference.is_empty());
    let post = post.to_lowercase();
    let named = orders
        .clone()
        .filter_map(|t| post.find(&t.reference.to_lowercase()).map(|at| (at, t)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, t)| t);
    named
        .or_else(|| orders.max_by_key(|t| t.occurred_at))
        .map(|t| t.reference.clone())
}

fn placeholders(m: &Model) -> Placeholders {
    let fb = m.composer_item();
    let cust = fb
        .and_then(|f| {
            f.customer_id
                .clone()
                .or_else(|| f.author.customer_id.clone())
        })
        .and_then(|id| m.customers.get(&id));
    let c = cust.and_then(|v| v.customer.loaded());
    let last_order = cust
        .and_then(|v| v.transactions.loaded())
        .and_then(|t| order_for(fb.map_or("", |f| f.text.as_str()), t));
    Placeholders {
        first_name: c.map(|c| c.first_name.clone()).or_else(|| {
            fb.and_then(|f| {
                f.author
                    .display_name
                    .split_whitespace()
                    .next()
                    .map(str::to_string)
            })
        }),
        last_name: c.map(|c| c.last_name.clone()),
        last_order,
        agent: m.me.as_ref().map(|a| a.name.clone()),
        handle: fb.map(|f| super::textutil::handle_label(f.channel, &f.author.handle)),
        channel: fb.map(|f| f.channel.to_string()),
    }
}

/// The agent moves the selection (j/k, a click, the wheel...): from the stream or profile the
/// composer follows it (an unsent draft is kept for its item); from the composer it stays bound.
pub(crate) fn move_selection(m: &mut Model, f: impl FnOnce(&mut StreamState)) -> Vec<Effect> {
    let old = m.stream.selected.clone();
    f(&mut m.stream);
    if m.focus != Focus::Composer && m.stream.selected != old {
        super::composer_target::detach(m);
    }
    if m.follow && m.stream.selected_pos() != Some(0) {
        m.follow = false;
    }
    let h = stream_rows(m);
    m.stream.ensure_visible(h);
    selection_changed(m, old)
}

fn set_sort(m: &mut Model, by: super::sort::SortKey) -> Vec<Effect> {
    m.stream.set_sort(by);
    m.set_status(Level::Info, format!("sorted by {}", by.as_str()));
    after_view_change(m)
}

fn set_view(m: &mut Model, v: ViewKind) -> Vec<Effect> {
    m.stream.set_view(v);
    m.dirty = true;
    after_view_change(m)
}

fn apply_filter(m: &mut Model, f: &str) -> Vec<Effect> {
    m.stream.now = m.now;
    m.stream.set_filter(f);
    after_view_change(m)
}

/// Actions whose target is the selected item (as opposed to moving about or the view).
fn acts_on_selection(a: Action) -> bool {
    matches!(
        a,
        Action::Reply
            | Action::OpenConversation
            | Action::AssignToMe
            | Action::Reassign
            | Action::Escalate
            | Action::SetPending
            | Action::Resolve
            | Action::CycleTone
            | Action::LogFeedback
            | Action::ToggleMark
            | Action::CopyLink
            | Action::CopyCustomerId
            | Action::LinkIdentity
    )
}

/// What a read-only console says when asked to change something.
pub const READ_ONLY_NOTE: &str =
    "read-only: this console changes nothing (--read-only or a read-scope token)";

pub fn run_action(m: &mut Model, a: Action) -> Vec<Effect> {
    if m.read_only && a.changes_data() {
        m.dirty = true;
        m.set_status(
            Level::Warning,
            format!("read-only: {} is disabled", a.name()),
        );
        return vec![];
    }
    // A filter still being applied could move the selection after the action: finish it
    // first. If that moves the selection, an action on the selected item stops there (the key
    // was meant for the item the agent saw); moving about goes on from the final view.
    let mut fx = Vec::new();
    if m.stream.filtering() {
        m.stream.finish_filter();
        fx = after_view_change(m);
        if !fx.is_empty() && acts_on_selection(a) {
            m.dirty = true;
            return fx;
        }
    }
    fx.extend(run_action_on_final_view(m, a));
    fx
}

fn run_action_on_final_view(m: &mut Model, a: Action) -> Vec<Effect> {
    m.dirty = true;
    let page = stream_rows(m).max(1) as isize;
    if let Some(fx) = super::conversation::run(m, a) {
        return fx;
    }
    match a {
        // Handled by `conversation::run` above.
        Action::OpenConversation
        | Action::CloseConversation
        | Action::ConversationDown
        | Action::ConversationUp
        | Action::ConversationPageDown
        | Action::ConversationPageUp
        | Action::ConversationTop
        | Action::ConversationBottom => vec![],
        Action::Quit => quit(m),
        Action::Help => {
            m.overlay = Some(Overlay::Help { scroll: 0 });
            vec![]
        }
        Action::Team => super::team::toggle(m),
        Action::CommandLine => {
            m.overlay = Some(Overlay::Command(LineInput::default()));
            vec![]
        }
        Action::FocusNext => {
            m.focus = m.focus.next();
            if m.focus == Focus::Composer {
                super::composer_target::bind(m);
            }
            vec![]
        }
        Action::FocusPrev => {
            m.focus = m.focus.prev();
            if m.focus == Focus::Composer {
                super::composer_target::bind(m);
            }
            vec![]
        }
        Action::FocusStream => {
            m.focus = Focus::Stream;
            vec![]
        }
        Action::FocusProfile => {
            m.focus = Focus::Profile;
            vec![]
        }
        Action::FocusComposer => {
            if m.composer.is_none() {
                m.set_status(Level::Info, "select an item to reply to");
            } else {
                m.focus = Focus::Composer;
                super::composer_target::bind(m);
            }
            vec![]
        }
        // `r` answers the selected item: the agent's own choice moves the composer to it.
        Action::Reply => super::composer_target::reply_to_selected(m),
        Action::NextItem => super::composer_target::step(m, 1),
        Action::PrevItem => super::composer_target::step(m, -1),
        Action::ResolveItem => super::composer_target::resolve(m),
        Action::SendAndResolve => send_reply(m, true),
        Action::Undo => super::composer_target::undo(m),
        Action::ViewMine => set_view(m, ViewKind::Mine),
        Action::ViewDept => set_view(m, ViewKind::Dept),
        Action::ViewAll => set_view(m, ViewKind::All),
        Action::ViewUnassigned => set_view(m, ViewKind::Unassigned),
        Action::CycleSort => {
            let by = m.stream.sort().next();
            set_sort(m, by)
        }
        Action::CycleView => {
            let v = m.stream.view_kind().next();
            set_view(m, v)
        }
        Action::ToggleFollow => {
            m.follow = !m.follow;
            if m.follow {
                move_selection(m, |s| s.follow_newest())
            } else {
                vec![]
            }
        }
        Action::ToggleZoom => {
            m.zoom = !m.zoom;
            let h = stream_rows(m);
            m.stream.ensure_visible(h);
            vec![]
        }
        Action::CopyLink => match m.selected() {
            Some(fb) => {
                let link = fb
                    .url
                    .clone()
                    .unwrap_or_else(|| format!("earshot:feedback/{}", fb.id));
                let text = super::textutil::sanitize(&link);
                m.set_status(Level::Info, format!("copied {text}"));
                vec![Effect::Copy(text)]
            }
            None => vec![],
        },
        Action::CopyCustomerId => match m.selected_customer_id() {
            Some(id) => {
                let id = super::textutil::sanitize(&id);
                m.set_status(Level::Info, format!("copied {id}"));
                vec![Effect::Copy(id)]
            }
            None => {
                m.set_status(Level::Info, "the author is not linked to a customer");
                vec![]
            }
        },
        Action::Refresh => {
            m.set_status(Level::Info, "refreshing…");
            let mut fx = refetch(m);
            // Our replies not yet known delivered: their threads say where they are.
            let mut waiting: Vec<String> = m
                .outbox
                .iter()
                .filter(|o| {
                    o.state == SendState::Sent && !matches!(o.label(), "delivered" | "failed")
                })
                .map(|o| o.feedback_id.clone())
                .collect();
            waiting.dedup();
            fx.extend(waiting.into_iter().map(Effect::LoadThread));
            fx
        }
        Action::SelectNext => move_selection(m, |s| s.move_by(1)),
        Action::SelectPrev => move_selection(m, |s| s.move_by(-1)),
        Action::PageDown => move_selection(m, |s| s.move_by(page)),
        Action::PageUp => move_selection(m, |s| s.move_by(-page)),
        Action::SelectFirst => move_selection(m, |s| s.select_pos(0)),
        Action::SelectLast => move_selection(m, |s| {
            let n = s.visible();
            if n > 0 {
                s.select_pos(n - 1)
            }
        }),
        Action::Filter => {
            m.overlay = Some(Overlay::Filter(LineInput::with(m.stream.filter())));
            vec![]
        }
        Action::ClearFilter => {
            if m.stream.filter().is_empty() {
                vec![]
            } else {
                apply_filter(m, "")
            }
        }
        Action::AssignToMe => match (m.selected(), &m.me) {
            (Some(fb), Some(me)) => vec![Effect::Patch {
                feedback_id: fb.id.clone(),
                version: fb.version,
                patch: FeedbackPatch {
                    assignee: Some(Some(me.id.clone())),
                    ..Default::default()
                },
            }],
            _ => vec![],
        },
        Action::Resolve => patch_selected(
            m,
            FeedbackPatch {
                status: Some(FeedbackStatus::Resolved),
                ..Default::default()
            },
        ),
        Action::SetPending => patch_selected(
            m,
            FeedbackPatch {
                status: Some(FeedbackStatus::Pending),
                ..Default::default()
            },
        ),
        Action::Escalate => escalate(m),
        Action::CycleTone => cycle_tone(m),
        Action::Reassign => open_assign(m, ""),
        Action::LogFeedback => open_log(m, None, ""),
        Action::ToggleMark => {
            let Some(id) = m.stream.selected.clone() else {
                return vec![];
            };
            if !m.marked.remove(&id) {
                m.marked.insert(id);
            }
            m.set_status(
                Level::Info,
                format!("{} item(s) marked for a macro reply", m.marked.len()),
            );
            // Mark and move on, as in a file manager.
            move_selection(m, |s| s.move_by(1))
        }
        Action::ClearMarks => {
            m.marked.clear();
            m.set_status(Level::Info, "marks cleared");
            vec![]
        }
        Action::SendMacroToMarked => send_macro(m),
        Action::ProfileDown => {
            m.profile_scroll = m.profile_scroll.saturating_add(1);
            vec![]
        }
        Action::ProfileUp => {
            m.profile_scroll = m.profile_scroll.saturating_sub(1);
            vec![]
        }
        Action::LinkIdentity => {
            let Some(fb) = m.selected().cloned() else {
                return vec![];
            };
            if fb.customer_id.is_some() || fb.author.customer_id.is_some() {
                m.set_status(Level::Info, "the author is already linked to a customer");
                return vec![];
            }
            // The server's suggestions and a search by the author's name start at once, so
            // the best candidates are listed (suggestions first) by the time the agent looks.
            let name = fb.author.display_name.trim().to_string();
            let search = name.chars().count() >= 2;
            m.overlay = Some(Overlay::Link(LinkSearch {
                feedback_id: fb.id.clone(),
                query: LineInput::with(&name),
                identity: fb.author.clone(),
                searched: search.then(|| name.clone()),
                results: if search {
                    Load::Loading
                } else {
                    Load::Loaded(Vec::new())
                },
                suggestions: Load::Loading,
                selected: 0,
            }));
            let mut fx = vec![Effect::LoadMatches(fb.author.id.clone())];
            if search {
                fx.push(Effect::SearchCustomers(name));
            }
            fx
        }
        Action::SendReply => send_reply(m, false),
        Action::CycleReplyType => {
            let Some(fb) = m.composer_item().cloned() else {
                return vec![];
            };
            let Some(c) = m.composer.as_ref() else {
                return vec![];
            };
            let mut k = cycle_kind(c.kind);
            // Skip types whose parts have no route on this item.
            for _ in 0..3 {
                if k.parts()
                    .iter()
                    .all(|p| p != &Visibility::Public || fb.channel.has_public_thread())
                {
                    break;
                }
                k = cycle_kind(k);
            }
            let c = m.composer.as_mut().expect("checked");
            c.kind = k;
            if !k.parts().contains(&c.active) {
                c.active = k.parts()[0];
            }
            let id = c.feedback_id.clone();
            m.drafts_dirty.insert(id);
            m.drafts_changed_at.get_or_insert(m.now);
            relint(m);
            vec![]
        }
        Action::SwitchPart => {
            if let Some(c) = m.composer.as_mut() {
                let parts = c.kind.parts();
                let i = parts.iter().position(|p| *p == c.active).unwrap_or(0);
                c.active = parts[(i + 1) % parts.len()];
            }
            vec![]
        }
        Action::OpenEditor => match m.composer.as_ref() {
            Some(c) => vec![Effect::OpenEditor {
                feedback_id: c.feedback_id.clone(),
                part: c.active,
                text: c.text(c.active),
            }],
            None => vec![],
        },
        Action::CannedReply => {
            if m.composer.is_none() {
                return vec![];
            }
            m.overlay = Some(Overlay::Canned(Picker {
                query: LineInput::default(),
                matches: Vec::new(),
                selected: 0,
            }));
            refresh_picker(m);
            vec![]
        }
        Action::NextViolation => {
            if let Some(c) = m.composer.as_mut() {
                next_violation(c);
            }
            vec![]
        }
        Action::ApplyFix => apply_fix(m),
        Action::LeaveComposer => {
            m.focus = Focus::Stream;
            vec![]
        }
        Action::ClearDraft => match m.composer.as_ref() {
            // Nothing to lose: no question.
            Some(c) if c.is_empty() && c.overrides.is_empty() => clear_draft_now(m),
            Some(_) => {
                m.overlay = Some(Overlay::ConfirmClear);
                vec![]
            }
            None => vec![],
        },
    }
}

/// Clears the composer's draft (after the agent said yes); `undo` brings the text back.
pub fn clear_draft_now(m: &mut Model) -> Vec<Effect> {
    let Some(c) = m.composer.as_mut() else {
        return vec![];
    };
    set_text(&mut c.public, "");
    set_text(&mut c.direct, "");
    c.overrides.clear();
    let fx = draft_edited(m);
    m.set_status(Level::Info, "draft cleared (C-z undoes)");
    fx
}

/// Byte offset -> (row, char column) in a text area's lines.
fn row_col(text: &str, byte: usize) -> (u16, u16) {
    let before = &text[..byte.min(text.len())];
    let row = before.matches('\n').count();
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (row as u16, before[line_start..].chars().count() as u16)
}

fn cursor_byte(c: &Composer) -> usize {
    let ratatui_textarea::DataCursor(row, col) = c.area(c.active).cursor();
    let lines = c.area(c.active).lines();
    let mut b = 0;
    for l in &lines[..row.min(lines.len())] {
        b += l.len() + 1;
    }
    if let Some(l) = lines.get(row) {
        b += l.char_indices().nth(col).map(|(i, _)| i).unwrap_or(l.len());
    }
    b
}

fn next_violation(c: &mut Composer) {
    if c.violations.is_empty() {
        return;
    }
    let at = cursor_byte(c);
    let order = |v: &ViolationMark| (v.part != c.active, v.start);
    let mut vs: Vec<&ViolationMark> = c.violations.iter().collect();
    vs.sort_by_key(|v| order(v));
    let target = vs
        .iter()
        .find(|v| v.part == c.active && v.start > at)
        .or_else(|| vs.iter().find(|v| v.part != c.active))
        .or_else(|| vs.first())
        .map(|v| (*v).clone());
    if let Some(v) = target {
        c.active = v.part;
        let text = c.text(v.part);
        let (r, col) = row_col(&text, v.start);
        c.area_mut(v.part).move_cursor(CursorMove::Jump(r, col));
    }
}

fn apply_fix(m: &mut Model) -> Vec<Effect> {
    let Some(c) = m.composer.as_mut() else {
        return vec![];
    };
    let at = cursor_byte(c);
    let v = c
        .violations
        .iter()
        .find(|v| v.part == c.active && v.fix.is_some() && v.start <= at && at <= v.end)
        .or_else(|| {
            c.violations
                .iter()
                .find(|v| v.part == c.active && v.fix.is_some())
        })
        .cloned();
    let Some(v) = v else {
        m.set_status(Level::Info, "no fix here");
        return vec![];
    };
    let mut text = c.text(v.part);
    if v.end > text.len() || !text.is_char_boundary(v.start) || !text.is_char_boundary(v.end) {
        return vec![];
    }
    let fix = v.fix.clone().unwrap_or_default();
    text.replace_range(v.start..v.end, &fix);
    set_text(c.area_mut(v.part), &text);
    let (r, col) = row_col(&text, v.start + fix.len());
    c.area_mut(v.part).move_cursor(CursorMove::Jump(r, col));
    m.set_status(Level::Info, format!("applied fix for {}", v.rule));
    draft_edited(m)
}

/// A PATCH of the selected item at the version we have (a stale version is refused and
/// reported; the event stream brings the current one).
fn patch_selected(m: &mut Model, patch: FeedbackPatch) -> Vec<Effect> {
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
fn cycle_tone(m: &mut Model) -> Vec<Effect> {
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

fn set_tone(m: &mut Model, label: SentimentLabel) -> Vec<Effect> {
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
fn escalate(m: &mut Model) -> Vec<Effect> {
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

fn refresh_assign(p: &mut AssignPicker) {
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
fn open_assign(m: &mut Model, query: &str) -> Vec<Effect> {
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

fn assign_to(m: &mut Model, feedback_id: &str, choice: AssignChoice) -> Vec<Effect> {
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
fn open_log(m: &mut Model, channel: Option<Channel>, text: &str) -> Vec<Effect> {
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

fn submit_log(m: &mut Model, form: LogForm) -> Vec<Effect> {
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

/// A macro (public) reply to every marked item: the public part of the open reply, checked
/// against the rules for each item's channel, sent to each through the outbox under its own
/// key (one base key plus the item id).
fn send_macro(m: &mut Model) -> Vec<Effect> {
    let Some(c) = m.composer.as_ref() else {
        m.set_status(Level::Info, "write the macro in a reply first");
        return vec![];
    };
    let body = c.text(Visibility::Public);
    if body.trim().is_empty() {
        m.set_status(
            Level::Error,
            "the public part is empty: write the macro there (C-t switches the reply type)",
        );
        return vec![];
    }
    if m.marked.is_empty() {
        m.set_status(Level::Error, "no item is marked (space marks items)");
        return vec![];
    }
    let overrides = c.overrides.clone();
    let base_key = format!("{}-{:06}", m.key_seed, m.key_counter);
    m.key_counter += 1;
    let mut fx = Vec::new();
    let mut sent = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut report = BulkReport::default();
    let ids: Vec<String> = m.marked.iter().cloned().collect();
    for id in ids {
        let Some(fb) = m.stream.get(&id).map(|r| r.fb.clone()) else {
            skipped.push(format!("{id} (not loaded)"));
            report.entries.push(BulkEntry {
                feedback_id: id.clone(),
                who: String::new(),
                outcome: BulkOutcome::Skipped {
                    why: "not loaded in this console".into(),
                },
            });
            continue;
        };
        let who = super::textutil::handle_label(fb.channel, &fb.author.handle);
        let skip = |why: String| BulkEntry {
            feedback_id: id.clone(),
            who: who.clone(),
            outcome: BulkOutcome::Skipped { why },
        };
        if !fb.channel.has_public_thread() {
            skipped.push(format!("{id} ({} has no public thread)", fb.channel));
            report
                .entries
                .push(skip(format!("{} has no public thread", fb.channel)));
            continue;
        }
        if let Some(rules) = &m.rules {
            let ctx = lint_context_for(m, Some(&fb));
            let marks = rules.check(&[(Visibility::Public, body.clone())], &ctx);
            if let Some(v) = marks.iter().find(|v| {
                v.level == MarkLevel::Error && !overrides.iter().any(|o| o.rule == v.rule)
            }) {
                skipped.push(format!("{id} (rule {} on {})", v.rule, fb.channel));
                report.entries.push(skip(format!(
                    "rule {} on {}: {}",
                    v.rule, fb.channel, v.message
                )));
                continue;
            }
        }
        let safe: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "._:-".contains(*c))
            .collect();
        let key = format!("{base_key}-{safe}");
        let parts = vec![ReplyPart {
            visibility: Visibility::Public,
            body: body.clone(),
        }];
        let reply = NewReply {
            parts: parts.clone(),
            overrides: overrides.clone(),
            rulebook_version: m.rules.as_ref().map(|r| r.version.clone()),
            base_message_id: super::guard::seen_base(m, &id),
        };
        queue_item(m, &id, &key, parts);
        report.entries.push(BulkEntry {
            feedback_id: id.clone(),
            who: who.clone(),
            outcome: BulkOutcome::Sent { key: key.clone() },
        });
        fx.push(Effect::SendReply {
            feedback_id: id.clone(),
            key,
            reply,
        });
        sent.push(id);
    }
    for id in &sent {
        m.marked.remove(id);
    }
    let mut text = format!("macro queued to {} item(s)", sent.len());
    if !skipped.is_empty() {
        text.push_str(&format!(
            "; {} skipped, still marked: {}",
            skipped.len(),
            skipped.join(", ")
        ));
    }
    m.set_status(
        if skipped.is_empty() {
            Level::Info
        } else {
            Level::Warning
        },
        text,
    );
    // Every item's result, until the agent dismisses the list.
    m.bulk = Some(report);
    m.overlay = Some(Overlay::BulkResults { scroll: 0 });
    fx
}

/// Sends the composer's reply to the composer's item (never merely the selected one);
/// `resolve` resolves the item once the reply is sent.
pub fn send_reply(m: &mut Model, resolve: bool) -> Vec<Effect> {
    let Some(fb) = m.composer_item().cloned() else {
        return vec![];
    };
    let Some(c) = m.composer.as_ref() else {
        return vec![];
    };
    if c.sending {
        m.set_status(Level::Info, "already sending…");
        return vec![];
    }
    let mut parts = Vec::new();
    for p in c.kind.parts() {
        let body = c.text(*p);
        if body.trim().is_empty() {
            m.set_status(Level::Error, format!("the {p} part is empty"));
            return vec![];
        }
        if let Err(why) = recipient(m, &fb, *p) {
            m.set_status(Level::Error, format!("cannot send the {p} part: {why}"));
            return vec![];
        }
        parts.push(ReplyPart {
            visibility: *p,
            body,
        });
    }
    // The rulebook's override policy, by the server's own function: an override the policy
    // refuses does not lift its error here either, and the agent is told why.
    let role = m.me.as_ref().map(|a| a.role);
    if let Some(why) = super::policy::blocking(c, m.rules.as_deref(), role) {
        m.set_status(Level::Error, why);
        return vec![];
    }
    // Warnings do not block, but the agent confirms them once (a second send).
    let warnings: Vec<String> = c
        .violations
        .iter()
        .filter(|v| v.level == MarkLevel::Warning)
        .map(|v| v.rule.clone())
        .collect();
    if !warnings.is_empty() && !c.confirm_warnings {
        let n = warnings.len();
        let first = warnings[0].clone();
        if let Some(c) = m.composer.as_mut() {
            c.confirm_warnings = true;
        }
        m.set_status(
            Level::Warning,
            format!("{n} rule warning(s), e.g. {first}: send again to confirm"),
        );
        return vec![];
    }
    // Collision detection: the item was answered since we opened it, or someone else is
    // writing; ask once.
    let others: Vec<String> = m
        .presence
        .get(&fb.id)
        .map(|l| {
            l.iter()
                .filter(|p| p.state == PresenceState::Composing)
                .map(|p| p.agent_name.clone())
                .collect()
        })
        .unwrap_or_default();
    let stale = matches!(
        fb.status,
        FeedbackStatus::Answered | FeedbackStatus::Resolved
    );
    // The stale-send guard: messages the agent has not seen are shown in full first.
    let unseen = super::guard::unseen(m, &fb.id);
    if !unseen.is_empty() {
        m.overlay = Some(Overlay::Guard(super::guard::GuardView {
            feedback_id: fb.id.clone(),
            messages: unseen,
            scroll: 0,
            resolve,
        }));
        return vec![];
    }
    let c = m.composer.as_mut().expect("checked");
    if (stale || !others.is_empty()) && !c.confirm_stale {
        c.confirm_stale = true;
        let why = if stale {
            format!("this item is already {}", fb.status)
        } else {
            format!("{} is also replying", others.join(", "))
        };
        m.set_status(Level::Warning, format!("{why}: send again to confirm"));
        return vec![];
    }
    let key = match &c.pending_key {
        Some(k) => k.clone(),
        None => {
            let k = format!("{}-{:06}", m.key_seed, m.key_counter);
            m.key_counter += 1;
            let c = m.composer.as_mut().expect("checked");
            c.pending_key = Some(k.clone());
            k
        }
    };
    // Stale-send guard: the reply is based on the newest message the agent has seen; the
    // server refuses it (409) if the thread moved on since, and the guard shows what changed.
    let base_message_id = super::guard::seen_base(m, &fb.id);
    let c = m.composer.as_mut().expect("checked");
    c.sending = true;
    c.error = None;
    if resolve {
        m.resolve_after.insert(key.clone());
    }
    let reply = NewReply {
        parts: parts.clone(),
        overrides: c.overrides.clone(),
        rulebook_version: m.rules.as_ref().map(|r| r.version.clone()),
        base_message_id,
    };
    queue_item(m, &fb.id, &key, parts);
    // The key is part of the draft: if we die now, a retry after restart reuses it.
    m.drafts_dirty.insert(fb.id.clone());
    let mut fx = save_dirty_drafts(m);
    m.set_status(Level::Info, "sending…");
    fx.push(Effect::SendReply {
        feedback_id: fb.id,
        key,
        reply,
    });
    fx
}

/// A reply goes into the console's view of the outbox (the runner writes the file first).
fn queue_item(m: &mut Model, feedback_id: &str, key: &str, parts: Vec<ReplyPart>) {
    m.outbox.retain(|o| o.key != key);
    m.outbox.push(OutboxItem {
        key: key.to_string(),
        feedback_id: feedback_id.to_string(),
        parts,
        state: SendState::Queued,
        reason: None,
        reply_id: None,
        messages: Vec::new(),
    });
    m.dirty = true;
}

/// Clear the composer and the draft of an item if they hold the reply sent under `key`.
fn clear_sent(m: &mut Model, feedback_id: &str, key: &str) -> Vec<Effect> {
    let mut cleared = false;
    if let Some(c) = m
        .composer
        .as_mut()
        .filter(|c| c.feedback_id == feedback_id && c.pending_key.as_deref() == Some(key))
    {
        set_text(&mut c.public, "");
        set_text(&mut c.direct, "");
        c.pending_key = None;
        c.sending = false;
        c.confirm_stale = false;
        c.error = None;
        c.overrides.clear();
        c.violations.clear();
        cleared = true;
    }
    if cleared
        || m.drafts
            .get(feedback_id)
            .is_some_and(|d| d.idempotency_key.as_deref() == Some(key))
    {
        m.drafts.remove(feedback_id);
        m.drafts_dirty.remove(feedback_id);
        return vec![Effect::SaveDrafts(vec![(feedback_id.to_string(), None)])];
    }
    vec![]
}

/// A reply that failed for good goes back to its item's draft (when that is empty), so that
/// nothing the agent wrote is lost.
fn return_to_draft(m: &mut Model, item: &OutboxItem) -> Vec<Effect> {
    let fid = &item.feedback_id;
    let text = |v: Visibility| {
        item.parts
            .iter()
            .find(|p| p.visibility == v)
            .map(|p| p.body.clone())
            .unwrap_or_default()
    };
    let kind = match (
        item.parts
            .iter()
            .any(|p| p.visibility == Visibility::Public),
        item.parts
            .iter()
            .any(|p| p.visibility == Visibility::Direct),
    ) {
        (true, true) => ReplyKind::Both,
        (true, false) => ReplyKind::Macro,
        _ => ReplyKind::Micro,
    };
    if let Some(c) = m.composer.as_mut().filter(|c| &c.feedback_id == fid) {
        if !c.is_empty() {
            return vec![];
        }
        c.kind = kind;
        c.active = kind.parts()[0];
        set_text(&mut c.public, &text(Visibility::Public));
        set_text(&mut c.direct, &text(Visibility::Direct));
        c.sending = false;
        c.pending_key = None;
    } else if m.drafts.get(fid).is_some_and(|d| !d.is_empty()) {
        return vec![];
    } else {
        m.drafts.insert(
            fid.clone(),
            Draft {
                feedback_id: fid.clone(),
                kind,
                public: text(Visibility::Public),
                direct: text(Visibility::Direct),
                updated_at: m.now,
                idempotency_key: None,
            },
        );
    }
    m.drafts_dirty.insert(fid.clone());
    m.drafts_changed_at.get_or_insert(m.now);
    relint(m);
    vec![]
}

fn on_reply_sent(
    m: &mut Model,
    feedback_id: String,
    key: String,
    result: Result<Reply, ClientError>,
) -> Vec<Effect> {
    m.dirty = true;
    match result {
        Ok(reply) => {
            let msgs: Vec<Message> = reply.messages.iter().cloned().map(clean_message).collect();
            if let Some(o) = m.outbox.iter_mut().find(|o| o.key == key) {
                o.state = SendState::Sent;
                o.reason = None;
                o.reply_id = Some(reply.id.clone());
                o.messages = msgs.clone();
            }
            note_own_messages(m, &key, &reply);
            let mut fx = clear_sent(m, &feedback_id, &key);
            if m.resolve_after.remove(&key) {
                if let Some(fb) = m.stream.get(&feedback_id).map(|r| r.fb.clone()) {
                    fx.push(super::composer_target::resolve_effect(&fb));
                }
            }
            let to: Vec<String> = msgs.iter().map(|msg| msg.address.clone()).collect();
            let what = if to.is_empty() {
                String::new()
            } else {
                format!(" to {}", to.join(", "))
            };
            m.set_status(Level::Info, format!("reply sent{what}"));
            relint(m);
            fx
        }
        Err(e) => {
            let retryable = e.keeps_queued();
            let queued = retryable && m.outbox_enabled;
            let stale = matches!(e, ClientError::Stale { .. });
            let mut fx = Vec::new();
            let was_resolve = m.resolve_after.contains(&key);
            if !queued {
                m.resolve_after.remove(&key);
                super::overlay::bulk_results::refused(m, &feedback_id, &key, &e);
            }
            if queued {
                // On disk and retried under the same key: the composer is free again.
                if let Some(o) = m.outbox.iter_mut().find(|o| o.key == key) {
                    o.reason = Some(e.to_string());
                }
                fx.extend(clear_sent(m, &feedback_id, &key));
                m.set_status(
                    Level::Warning,
                    format!("reply queued ({e}): it is delivered when the backend is back"),
                );
                return fx;
            }
            // Not queued: the text stays in (or returns to) the composer, the outbox entry
            // goes (a resend makes a new one).
            if let Some(i) = m.outbox.iter().position(|o| o.key == key) {
                let item = m.outbox.remove(i);
                fx.extend(return_to_draft(m, &item));
            }
            if m.outbox_enabled {
                fx.push(Effect::DropOutbox(key.clone()));
            }
            let msg = match &e {
                ClientError::Refused { detail, problem } => {
                    let marks = server_violations(problem);
                    if let Some(c) = m.composer.as_mut().filter(|c| c.feedback_id == feedback_id) {
                        if !marks.is_empty() {
                            c.violations = marks;
                            mark_violations(c, &m.theme);
                        }
                    }
                    format!(
                        "refused by the server: {}",
                        super::textutil::sanitize(detail)
                    )
                }
                ClientError::Stale { changes, .. } => {
                    // What the reply did not take into account joins the thread, and is shown.
                    let changes: Vec<Message> =
                        changes.iter().cloned().map(clean_message).collect();
                    super::guard::add_changes(m, &feedback_id, &changes);
                    format!(
                        "not sent: {} new message(s) on the thread since you saw it",
                        changes.len()
                    )
                }
                other if retryable => {
                    format!("not sent ({other}); the draft is kept, send again to retry")
                }
                other => format!("not sent: {other}"),
            };
            if let Some(c) = m.composer.as_mut().filter(|c| c.feedback_id == feedback_id) {
                c.sending = false;
                if !retryable && !matches!(e, ClientError::Protocol(_)) {
                    // The server answered: this key is spent with this body.
                    if c.pending_key.as_deref() == Some(key.as_str()) {
                        c.pending_key = None;
                    }
                }
                c.error = Some(msg.clone());
            }
            if stale {
                fx.push(Effect::LoadThread(feedback_id.clone()));
                super::guard::open_after_refusal(m, &feedback_id, was_resolve);
                m.set_status(Level::Warning, msg);
            } else {
                m.set_status(Level::Error, msg);
            }
            fx
        }
    }
}

fn on_drained(m: &mut Model, report: DrainReport) -> Vec<Effect> {
    m.dirty = true;
    let mut fx = Vec::new();
    let delivered = report.sent.len();
    for (key, reply) in report.sent {
        let fid = reply.feedback_id.clone();
        if let Some(o) = m.outbox.iter_mut().find(|o| o.key == key) {
            o.state = SendState::Sent;
            o.reason = None;
            o.reply_id = Some(reply.id.clone());
            o.messages = reply.messages.iter().cloned().map(clean_message).collect();
        }
        note_own_messages(m, &key, &reply);
        fx.extend(clear_sent(m, &fid, &key));
    }
    let failed = report.failed.len();
    for (key, reason) in report.failed {
        if let Some(o) = m.outbox.iter_mut().find(|o| o.key == key) {
            o.state = SendState::Failed;
            o.reason = Some(super::textutil::sanitize(&reason));
            let item = o.clone();
            fx.extend(return_to_draft(m, &item));
        }
        fx.push(Effect::DropOutbox(key));
    }
    if let Some(why) = &report.stopped {
        let why = super::textutil::sanitize(&why.to_string());
        for o in m.outbox.iter_mut().filter(|o| o.state == SendState::Queued) {
            o.reason = Some(why.clone());
        }
    }
    if delivered > 0 || failed > 0 {
        let mut text = format!("outbox: {delivered} queued repl(ies) delivered");
        if failed > 0 {
            text.push_str(&format!(
                ", {failed} refused (the text is back in the draft)"
            ));
        }
        m.set_status(
            if failed > 0 {
                Level::Warning
            } else {
                Level::Info
            },
            text,
        );
    }
    fx
}

/// Violations of the server's 422 rule refusal (typed by the client), as the composer marks them.
fn server_violations(problem: &crate::domain::problem::ServerProblem) -> Vec<ViolationMark> {
    use crate::domain::problem::ProblemExtension;
    use crate::domain::verdict::Level as RuleLevel;
    let ProblemExtension::RuleViolation(r) = &problem.extension else {
        return vec![];
    };
    r.violations
        .iter()
        .map(|v| ViolationMark {
            rule: v.rule.clone(),
            level: match v.level {
                RuleLevel::Error => MarkLevel::Error,
                RuleLevel::Warning => MarkLevel::Warning,
                RuleLevel::Info => MarkLevel::Info,
            },
            message: v.message.clone(),
            part: v.part,
            start: v.start,
            end: v.end,
            fix: v.fix.clone(),
        })
        .collect()
}

/// The rules whose errors the server would not let through (a 422 rule refusal), each once.
pub fn refused_rules(e: &ClientError) -> Vec<String> {
    use crate::domain::problem::ProblemExtension;
    let ClientError::Refused { problem, .. } = e else {
        return vec![];
    };
    let ProblemExtension::RuleViolation(r) = &problem.extension else {
        return vec![];
    };
    let mut rules: Vec<String> = Vec::new();
    for x in &r.refused {
        if !rules.contains(&x.rule) {
            rules.push(x.rule.clone());
        }
    }
    rules
}

fn on_linked(
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

fn refresh_picker(m: &mut Model) {
    if let Some(Overlay::Canned(p)) = &mut m.overlay {
        p.matches = canned::fuzzy(&m.canned, &p.query.text);
        p.selected = p.selected.min(p.matches.len().saturating_sub(1));
    }
}

/// Edit a line input with a key; true if the key was an edit.
fn edit_line(li: &mut LineInput, kp: KeyPress) -> bool {
    match (kp.code, kp.mods) {
        (KeyCode::Char(c), mods) if !mods.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
            li.insert(c);
            true
        }
        (KeyCode::Backspace, _) | (KeyCode::Char('h'), KeyModifiers::CONTROL) => li.backspace(),
        (KeyCode::Left, _) | (KeyCode::Char('b'), KeyModifiers::CONTROL) => {
            li.left();
            false
        }
        (KeyCode::Right, _) | (KeyCode::Char('f'), KeyModifiers::CONTROL) => {
            li.right();
            false
        }
        (KeyCode::Home, _) | (KeyCode::Char('a'), KeyModifiers::CONTROL) => {
            li.cursor = 0;
            false
        }
        (KeyCode::End, _) | (KeyCode::Char('e'), KeyModifiers::CONTROL) => {
            li.cursor = li.text.len();
            false
        }
        (KeyCode::Char('u'), KeyModifiers::CONTROL) => {
            li.text.clear();
            li.cursor = 0;
            true
        }
        _ => false,
    }
}

fn is_down(kp: KeyPress) -> bool {
    matches!(
        (kp.code, kp.mods),
        (KeyCode::Down, _)
            | (KeyCode::Char('n'), KeyModifiers::CONTROL)
            | (KeyCode::Tab, KeyModifiers::NONE)
    )
}
fn is_up(kp: KeyPress) -> bool {
    matches!(
        (kp.code, kp.mods),
        (KeyCode::Up, _)
            | (KeyCode::Char('p'), KeyModifiers::CONTROL)
            | (KeyCode::Tab, KeyModifiers::SHIFT)
    )
}

/// Moves a picker's selection on a down or up key, within its `len` entries; false for any
/// other key.
fn move_in_list(selected: &mut usize, len: usize, kp: KeyPress) -> bool {
    if is_down(kp) {
        *selected = (*selected + 1).min(len.saturating_sub(1));
    } else if is_up(kp) {
        *selected = selected.saturating_sub(1);
    } else {
        return false;
    }
    true
}

fn overlay_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    let esc = kp.code == KeyCode::Esc
        || (kp.code == KeyCode::Char('c') && kp.mods == KeyModifiers::CONTROL)
        || (kp.code == KeyCode::Char('g') && kp.mods == KeyModifiers::CONTROL);
    let enter = kp.code == KeyCode::Enter;
    if let Some(fx) = super::overlay::key(m, kp) {
        return fx;
    }
    let Some(overlay) = m.overlay.as_mut() else {
        return vec![];
    };
    match overlay {
        Overlay::Guard(_) | Overlay::BulkResults { .. } | Overlay::ConfirmClear => vec![],
        Overlay::Help { scroll } => {
            match kp.code {
                KeyCode::Char('j') | KeyCode::Down => *scroll = scroll.saturating_add(1),
                KeyCode::Char('k') | KeyCode::Up => *scroll = scroll.saturating_sub(1),
                KeyCode::PageDown | KeyCode::Char(' ') => *scroll = scroll.saturating_add(10),
                KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                KeyCode::Char('g') | KeyCode::Home => *scroll = 0,
                _ => m.overlay = None,
            }
            vec![]
        }
        Overlay::Command(li) => {
            if esc {
                m.overlay = None;
                return vec![];
            }
            if enter {
                let line = li.text.clone();
                m.overlay = None;
                return run_command(m, &line);
            }
            if kp.code == KeyCode::Backspace && li.text.is_empty() {
                m.overlay = None;
                return vec![];
            }
            edit_line(li, kp);
            vec![]
        }
        Overlay::Filter(li) => {
            if esc {
                m.overlay = None;
                return apply_filter(m, "");
            }
            if enter {
                m.overlay = None;
                // The filter is accepted: its final view (and selection) now, not later.
                m.stream.finish_filter();
                return after_view_change(m);
            }
            if is_down(kp) || is_up(kp) {
                let d = if is_down(kp) { 1 } else { -1 };
                return move_selection(m, |s| s.move_by(d));
            }
            if edit_line(li, kp) {
                let f = li.text.clone();
                return apply_filter(m, &f);
            }
            vec![]
        }
        Overlay::Canned(p) => {
            if esc {
                m.overlay = None;
                return vec![];
            }
            if move_in_list(&mut p.selected, p.matches.len(), kp) {
                return vec![];
            }
            if enter {
                let chosen = p.matches.get(p.selected).copied();
                m.overlay = None;
                let Some(i) = chosen else { return vec![] };
                let body = canned::fill(&m.canned[i].body, &placeholders(m));
                let name = m.canned[i].name.clone();
                if let Some(c) = m.composer.as_mut() {
                    let part = c.active;
                    c.area_mut(part).insert_str(body);
                    m.focus = Focus::Composer;
                    m.set_status(Level::Info, format!("inserted \"{name}\""));
                    return draft_edited(m);
                }
                return vec![];
            }
            if edit_line(&mut p.query, kp) {
                p.selected = 0;
                refresh_picker(m);
            }
            vec![]
        }
        Overlay::Assign(p) => {
            if esc {
                m.overlay = None;
                return vec![];
            }
            if move_in_list(&mut p.selected, p.matches.len(), kp) {
                return vec![];
            }
            if enter {
                let chosen = p.matches.get(p.selected).map(|i| p.choices[*i].clone());
                let fid = p.feedback_id.clone();
                m.overlay = None;
                return match chosen {
                    Some(c) => assign_to(m, &fid, c),
                    None => vec![],
                };
            }
            if edit_line(&mut p.query, kp) {
                p.selected = 0;
                refresh_assign(p);
            }
            vec![]
        }
        Overlay::Log(form) => {
            if esc {
                m.overlay = None;
                return vec![];
            }
            let cycle = kp.code == KeyCode::Tab
                || (kp.code == KeyCode::Char('t') && kp.mods == KeyModifiers::CONTROL);
            if cycle {
                let i = OFFLINE_CHANNELS
                    .iter()
                    .position(|c| *c == form.channel)
                    .unwrap_or(0);
                let step = if kp.mods.contains(KeyModifiers::SHIFT) {
                    2
                } else {
                    1
                };
                form.channel = OFFLINE_CHANNELS[(i + step) % OFFLINE_CHANNELS.len()];
                return vec![];
            }
            if enter {
                let form = form.clone();
                return submit_log(m, form);
            }
            edit_line(&mut form.text, kp);
            vec![]
        }
        Overlay::Link(ls) => {
            if esc {
                m.overlay = None;
                return vec![];
            }
            let n = ls.rows().len();
            if move_in_list(&mut ls.selected, n, kp) {
                return vec![];
            }
            if enter {
                let q = ls.query.text.trim().to_string();
                if ls.searched.as_deref() != Some(q.as_str()) {
                    if q.is_empty() {
                        return vec![];
                    }
                    ls.searched = Some(q.clone());
                    ls.results = Load::Loading;
                    return vec![Effect::SearchCustomers(q)];
                }
                if let Some(row) = ls.rows().get(ls.selected) {
                    return vec![Effect::LinkIdentity {
                        identity_id: ls.identity.id.clone(),
                        customer_id: row.customer.id.clone(),
                    }];
                }
                return vec![];
            }
            edit_line(&mut ls.query, kp);
            vec![]
        }
    }
}

/// `:` commands. Any action name also works (`:toggle_follow`).
pub fn run_command(m: &mut Model, line: &str) -> Vec<Effect> {
    m.dirty = true;
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return vec![];
    };
    let rest: Vec<&str> = words.collect();
    const CHANGING: &[&str] = &[
        "reply",
        "type",
        "override",
        "assign",
        "claim",
        "reassign",
        "route",
        "escalate",
        "resolve",
        "pending",
        "tone",
        "sentiment",
        "status",
        "log",
        "link",
    ];
    if m.read_only && CHANGING.contains(&cmd) {
        m.set_status(Level::Warning, format!("read-only: :{cmd} is disabled"));
        return vec![];
    }
    match cmd {
        "q" | "quit" | "wq" | "x" | "q!" => quit(m),
        "team" => {
            if m.team.is_some() {
                vec![]
            } else {
                super::team::toggle(m)
            }
        }
        "view" | "v" => match rest.first().and_then(|v| ViewKind::parse(v)) {
            Some(v) => set_view(m, v),
            None => {
                m.set_status(Level::Error, "usage: :view mine|dept|unassigned|all");
                vec![]
            }
        },
        "sort" => match rest.first().and_then(|v| super::sort::SortKey::parse(v)) {
            Some(by) => set_sort(m, by),
            None => {
                m.set_status(Level::Error, "usage: :sort arrival|sla|priority");
                vec![]
            }
        },
        "theme" => match rest.first() {
            Some(name) => vec![Effect::LoadTheme(name.to_string())],
            None => {
                m.set_status(
                    Level::Info,
                    format!(
                        "theme {} ({} colours)",
                        m.theme.name,
                        m.theme.depth.as_str()
                    ),
                );
                vec![]
            }
        },
        "filter" => {
            let f = rest.join(" ");
            apply_filter(m, &f)
        }
        "nofilter" => apply_filter(m, ""),
        "follow" => {
            let on = match rest.first().copied() {
                Some("on") => true,
                Some("off") => false,
                _ => !m.follow,
            };
            if on != m.follow {
                run_action(m, Action::ToggleFollow)
            } else {
                vec![]
            }
        }
        "reply" | "type" => {
            let Some(k) = rest.first().and_then(|k| ReplyKind::parse(k)) else {
                m.set_status(Level::Error, "usage: :reply micro|macro|both");
                return vec![];
            };
            if let Some(c) = m.composer.as_mut() {
                c.kind = k;
                c.active = k.parts()[0];
                let id = c.feedback_id.clone();
                m.drafts_dirty.insert(id);
                m.drafts_changed_at.get_or_insert(m.now);
                m.focus = Focus::Composer;
                relint(m);
            }
            vec![]
        }
        "override" => {
            if rest.len() < 2 {
                m.set_status(Level::Error, "usage: :override RULE REASON");
                return vec![];
            }
            let rule = rest[0].to_string();
            let reason = rest[1..].join(" ");
            let role = m.me.as_ref().map(|a| a.role);
            if let Err(why) = super::policy::judge(m.rules.as_deref(), &rule, &reason, role) {
                m.set_status(Level::Error, format!("override not added: {why}"));
                return vec![];
            }
            if let Some(c) = m.composer.as_mut() {
                c.overrides.retain(|o| o.rule != rule);
                c.overrides.push(Override {
                    rule: rule.clone(),
                    reason,
                });
                c.pending_key = None;
                m.set_status(
                    Level::Info,
                    format!("override of {rule} added to this reply"),
                );
            }
            vec![]
        }
        "send-resolve" | "sr" => run_action(m, Action::SendAndResolve),
        "refresh" => run_action(m, Action::Refresh),
        "help" | "h" | "warnings" => run_action(m, Action::Help),
        "copy" => match rest.first().copied() {
            Some("customer") | Some("id") => run_action(m, Action::CopyCustomerId),
            _ => run_action(m, Action::CopyLink),
        },
        "assign" | "claim" | "reassign" if rest.is_empty() => {
            if cmd == "reassign" {
                run_action(m, Action::Reassign)
            } else {
                run_action(m, Action::AssignToMe)
            }
        }
        "assign" | "reassign" | "route" => open_assign(m, &rest.join(" ")),
        "escalate" => run_action(m, Action::Escalate),
        "resolve" => run_action(m, Action::Resolve),
        "pending" => run_action(m, Action::SetPending),
        "tone" | "sentiment" => match rest.first().and_then(|l| l.parse::<SentimentLabel>().ok()) {
            Some(label) => set_tone(m, label),
            None if rest.is_empty() => run_action(m, Action::CycleTone),
            None => {
                m.set_status(Level::Warning, "usage: tone negative|neutral|positive");
                vec![]
            }
        },
        "status" => match rest.first().copied() {
            Some("pending") => run_action(m, Action::SetPending),
            Some("resolved") | Some("resolve") => run_action(m, Action::Resolve),
            Some("open") => patch_selected(
                m,
                FeedbackPatch {
                    status: Some(FeedbackStatus::Open),
                    ..Default::default()
                },
            ),
            _ => {
                m.set_status(Level::Error, "usage: :status pending|resolved|open");
                vec![]
            }
        },
        "log" => {
            let channel = rest.first().and_then(|c| match *c {
                "phone" | "call" | "tel" => Some(Channel::Phone),
                "in_person" | "inperson" | "person" | "visit" => Some(Channel::InPerson),
                "web_form" | "form" | "webform" => Some(Channel::WebForm),
                _ => None,
            });
            let text = if channel.is_some() {
                rest[1..].join(" ")
            } else {
                rest.join(" ")
            };
            let fx = open_log(m, channel, &text);
            // `:log phone text...` logs at once; without text the form waits for it.
            match (&m.overlay, channel.is_some() && !text.trim().is_empty()) {
                (Some(Overlay::Log(form)), true) => {
                    let form = form.clone();
                    submit_log(m, form)
                }
                _ => fx,
            }
        }
        "mark" => run_action(m, Action::ToggleMark),
        "unmark" | "clearmarks" => run_action(m, Action::ClearMarks),
        "macro" => run_action(m, Action::SendMacroToMarked),
        "link" => run_action(m, Action::LinkIdentity),
        other => match other.parse::<Action>() {
            Ok(a) => run_action(m, a),
            Err(_) => {
                m.set_status(
                    Level::Error,
                    format!("unknown command :{other} (see ? for help)"),
                );
                vec![]
            }
        },
    }
}

#[cfg(test)]
mod tests;
