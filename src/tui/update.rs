//! The reducer: `update(&mut Model, Msg) -> Vec<Effect>`. Synchronous and pure: no clock, no
//! I/O, no randomness (time comes in `Msg::Tick`, randomness in `Model::key_seed`). Everything the
//! console does outside the model is an `Effect` the loop runs.

use super::action::{Action, Context};
use super::canned::{self, Placeholders};
use super::effects::Effect;
use super::keymap::{KeyPress, Lookup};
use super::lint::{CompiledRules, LintContext, MarkLevel, ViolationMark};
use super::model::*;
use super::panes;
use super::textutil::sanitize_multiline;
use super::theme::Theme;
use crate::client::{ClientError, StreamItem};
use crate::domain::api::{FeedbackPatch, Me, NewReply, Page, Presence};
use crate::domain::{
    Agent, Channel, Customer, EventName, Feedback, FeedbackStatus, HistoryEntry, Identity,
    Override, PresenceState, Reply, ReplyPart, Transaction, TransactionKind, Visibility,
};
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui_textarea::{CursorMove, Input, Key};
use std::sync::Arc;

/// Everything that can happen to the console.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Paste(String),
    Resize(u16, u16),
    /// The slow clock (ages, SLA, debounced draft saves).
    Tick(DateTime<Utc>),
    Stream(StreamItem),
    Me(Result<Me, ClientError>),
    Agents(Result<Vec<Agent>, ClientError>),
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
}

/// How long a draft may stay unsaved after a change.
const DRAFT_DEBOUNCE_SECS: i64 = 2;
/// How long an info message stays in the status bar.
const STATUS_SECS: i64 = 6;

pub fn update(m: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
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
            for a in list {
                m.agents.insert(a.id, a.name);
            }
            m.dirty = true;
            vec![]
        }
        Msg::Agents(Err(_)) => vec![],
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
    let ctx = context_of(m.focus);
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
        Some(Overlay::Help { .. }) => vec![],
        None => {
            if m.focus != Focus::Composer {
                m.focus = Focus::Composer;
            }
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
    match m.drafts_changed_at {
        Some(at) if (now - at).num_seconds() >= DRAFT_DEBOUNCE_SECS => save_dirty_drafts(m),
        _ => vec![],
    }
}

/// Copy the live composer into the drafts map (if it changed).
fn sync_composer(m: &mut Model) {
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
            if was_down {
                m.set_status(
                    Level::Info,
                    "reconnected: the stream resumed where it left off",
                );
            }
            vec![]
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
        StreamItem::Event(ev) => match ev.name {
            EventName::FeedbackCreated | EventName::FeedbackUpdated => {
                match serde_json::from_value::<Feedback>(ev.data) {
                    Ok(fb) => on_feedback(m, fb),
                    Err(_) => vec![],
                }
            }
            EventName::PresenceChanged => {
                if let Ok(p) = serde_json::from_value::<Presence>(ev.data) {
                    if m.me.as_ref().is_some_and(|me| me.id == p.agent_id) {
                        return vec![];
                    }
                    let list = m.presence.entry(p.feedback_id.clone()).or_default();
                    list.retain(|x| x.agent_id != p.agent_id);
                    if p.state != PresenceState::Left {
                        let mut p = p;
                        p.agent_name = super::textutil::sanitize(&p.agent_name);
                        list.push(p);
                    }
                    m.dirty = true;
                }
                vec![]
            }
            EventName::CustomerUpdated => {
                if let Ok(c) = serde_json::from_value::<Customer>(ev.data) {
                    if let Some(v) = m.customers.get_mut(&c.id) {
                        v.customer = Load::Loaded(clean_customer(c));
                        m.dirty = true;
                    }
                }
                vec![]
            }
            EventName::RulesUpdated => vec![Effect::LoadRules],
            EventName::StreamReset => refetch(m),
            EventName::MessageCreated | EventName::ReplyStatusChanged => vec![],
        },
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
    let mut fx = vec![Effect::LoadMe, Effect::LoadAgents, Effect::LoadRules];
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
    if (m.follow && is_new) || m.stream.selected.is_none() {
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
        ta.set_cursor_style(theme.get("composer.cursor"));
        ta.set_placeholder_style(theme.get("ui.text.dim"));
        ta.set_selection_style(theme.get("ui.selection"));
    }
}

/// Stash the old item's composer, open the new one's, load its customer.
fn selection_changed(m: &mut Model, old: Option<String>) -> Vec<Effect> {
    let new = m.stream.selected.clone();
    if old == new && (new.is_none() || m.composer.as_ref().map(|c| &c.feedback_id) == new.as_ref())
    {
        return vec![];
    }
    let mut fx = Vec::new();
    sync_composer(m);
    m.composer = None;
    m.profile_scroll = 0;
    if let Some((id, state)) = &m.my_presence {
        if Some(id) != new.as_ref() && *state == PresenceState::Composing {
            fx.push(Effect::SetPresence {
                feedback_id: id.clone(),
                state: PresenceState::Left,
            });
            m.my_presence = None;
        }
    }
    if let Some(id) = new {
        let channel = match m.stream.get_mut(&id) {
            Some(r) => {
                r.seen = true;
                r.fb.channel
            }
            None => return fx,
        };
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
    if m.customers.contains_key(&cid) {
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
fn draft_edited(m: &mut Model) -> Vec<Effect> {
    let Some(c) = m.composer.as_mut() else {
        return vec![];
    };
    c.pending_key = None;
    c.confirm_stale = false;
    c.error = None;
    let id = c.feedback_id.clone();
    m.drafts_dirty.insert(id.clone());
    m.drafts_changed_at.get_or_insert(m.now);
    m.dirty = true;
    relint(m);
    let mut fx = Vec::new();
    let composing = matches!(&m.my_presence, Some((pid, PresenceState::Composing)) if *pid == id);
    if !composing {
        m.my_presence = Some((id.clone(), PresenceState::Composing));
        fx.push(Effect::SetPresence {
            feedback_id: id,
            state: PresenceState::Composing,
        });
    }
    fx
}

/// What the rule engine needs to know about the selected item.
fn lint_context(m: &Model) -> LintContext {
    let fb = m.selected();
    let cust = m
        .selected_customer_id()
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

/// Where a part goes: `Ok(label)` or `Err(why it cannot go)`.
pub fn recipient(m: &Model, fb: &Feedback, part: Visibility) -> Result<String, String> {
    let handle = fb.author.handle.trim_start_matches('@');
    match part {
        Visibility::Public => {
            if fb.channel.has_public_thread() {
                Ok(format!("@{handle}@{} (public thread)", fb.channel))
            } else {
                Err(format!("{} has no public thread", fb.channel))
            }
        }
        Visibility::Direct => {
            if fb.channel.has_direct_messages() {
                return Ok(format!("@{handle}@{} (direct message)", fb.channel));
            }
            match fb.channel {
                Channel::Email => return Ok(format!("{handle} (email)")),
                Channel::Sms => return Ok(format!("{handle} (sms)")),
                Channel::Webchat => return Ok(format!("{handle} (webchat)")),
                _ => {}
            }
            let Some(cid) = fb
                .customer_id
                .clone()
                .or_else(|| fb.author.customer_id.clone())
            else {
                return Err("no direct route: the author is not linked to a customer".into());
            };
            let c = match m.customers.get(&cid).map(|v| &v.customer) {
                Some(Load::Loaded(c)) => c,
                Some(Load::Failed(e)) => return Err(format!("profile unavailable: {e}")),
                _ => return Err("loading the customer's contact details…".into()),
            };
            let consents = &c.preferences.consents;
            let route = |ch: Channel| -> Option<String> {
                match ch {
                    Channel::Email if consents.email => {
                        c.emails.first().map(|e| format!("{e} (email)"))
                    }
                    Channel::Sms if consents.sms => c.phones.first().map(|p| format!("{p} (sms)")),
                    Channel::Whatsapp if consents.whatsapp => {
                        c.phones.first().map(|p| format!("{p} (whatsapp)"))
                    }
                    _ => None,
                }
            };
            route(c.preferences.preferred_channel)
                .or_else(|| {
                    [Channel::Email, Channel::Sms, Channel::Whatsapp]
                        .into_iter()
                        .find_map(route)
                })
                .ok_or_else(|| {
                    "no direct route: the customer consented to no direct channel".into()
                })
        }
    }
}

fn placeholders(m: &Model) -> Placeholders {
    let fb = m.selected();
    let cust = m.selected_customer_id().and_then(|id| m.customers.get(&id));
    let c = cust.and_then(|v| v.customer.loaded());
    let last_order = cust.and_then(|v| v.transactions.loaded()).and_then(|t| {
        t.iter()
            .filter(|t| t.kind == TransactionKind::Order)
            .max_by_key(|t| t.occurred_at)
            .map(|t| t.reference.clone())
    });
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

fn move_selection(m: &mut Model, f: impl FnOnce(&mut StreamState)) -> Vec<Effect> {
    let old = m.stream.selected.clone();
    f(&mut m.stream);
    if m.follow && m.stream.selected_pos() != Some(0) {
        m.follow = false;
    }
    let h = stream_rows(m);
    m.stream.ensure_visible(h);
    selection_changed(m, old)
}

fn set_view(m: &mut Model, v: ViewKind) -> Vec<Effect> {
    m.stream.set_view(v);
    m.dirty = true;
    after_view_change(m)
}

fn apply_filter(m: &mut Model, f: &str) -> Vec<Effect> {
    m.stream.set_filter(f);
    after_view_change(m)
}

pub fn run_action(m: &mut Model, a: Action) -> Vec<Effect> {
    m.dirty = true;
    let page = stream_rows(m).max(1) as isize;
    match a {
        Action::Quit => quit(m),
        Action::Help => {
            m.overlay = Some(Overlay::Help { scroll: 0 });
            vec![]
        }
        Action::CommandLine => {
            m.overlay = Some(Overlay::Command(LineInput::default()));
            vec![]
        }
        Action::FocusNext => {
            m.focus = m.focus.next();
            vec![]
        }
        Action::FocusPrev => {
            m.focus = m.focus.prev();
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
        Action::FocusComposer | Action::Reply => {
            if m.composer.is_none() {
                m.set_status(Level::Info, "select an item to reply to");
            } else {
                m.focus = Focus::Composer;
            }
            vec![]
        }
        Action::ViewMine => set_view(m, ViewKind::Mine),
        Action::ViewDept => set_view(m, ViewKind::Dept),
        Action::ViewAll => set_view(m, ViewKind::All),
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
            refetch(m)
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
        Action::Resolve => match m.selected() {
            Some(fb) => vec![Effect::Patch {
                feedback_id: fb.id.clone(),
                version: fb.version,
                patch: FeedbackPatch {
                    status: Some(FeedbackStatus::Resolved),
                    ..Default::default()
                },
            }],
            None => vec![],
        },
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
            m.overlay = Some(Overlay::Link(LinkSearch {
                feedback_id: fb.id.clone(),
                query: LineInput::with(&fb.author.display_name),
                identity: fb.author.clone(),
                searched: None,
                results: Load::Loaded(Vec::new()),
                selected: 0,
            }));
            vec![]
        }
        Action::SendReply => send(m),
        Action::CycleReplyType => {
            let Some(fb) = m.selected().cloned() else {
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
        Action::ClearDraft => {
            if let Some(c) = m.composer.as_mut() {
                set_text(&mut c.public, "");
                set_text(&mut c.direct, "");
                c.overrides.clear();
                draft_edited(m);
                m.set_status(Level::Info, "draft cleared");
            }
            vec![]
        }
    }
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

fn send(m: &mut Model) -> Vec<Effect> {
    let Some(fb) = m.selected().cloned() else {
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
    let blocking: Vec<&ViolationMark> = c
        .violations
        .iter()
        .filter(|v| v.level == MarkLevel::Error && !c.overrides.iter().any(|o| o.rule == v.rule))
        .collect();
    if !blocking.is_empty() {
        let n = blocking.len();
        let first = blocking[0].rule.clone();
        m.set_status(
            Level::Error,
            format!("{n} rule error(s), e.g. {first}: fix them or `:override {first} <reason>`"),
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
    let c = m.composer.as_mut().expect("checked");
    c.sending = true;
    c.error = None;
    let reply = NewReply {
        parts,
        overrides: c.overrides.clone(),
        rulebook_version: m.rules.as_ref().map(|r| r.version.clone()),
        base_message_id: None,
    };
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

fn on_reply_sent(
    m: &mut Model,
    feedback_id: String,
    key: String,
    result: Result<Reply, ClientError>,
) -> Vec<Effect> {
    m.dirty = true;
    let current = m.composer.as_mut().filter(|c| c.feedback_id == feedback_id);
    match result {
        Ok(reply) => {
            let mut fx = Vec::new();
            if let Some(c) = current {
                set_text(&mut c.public, "");
                set_text(&mut c.direct, "");
                c.pending_key = None;
                c.sending = false;
                c.confirm_stale = false;
                c.overrides.clear();
                c.violations.clear();
            }
            m.drafts.remove(&feedback_id);
            m.drafts_dirty.remove(&feedback_id);
            fx.push(Effect::SaveDrafts(vec![(feedback_id.clone(), None)]));
            let to: Vec<String> = reply
                .messages
                .iter()
                .map(|msg| super::textutil::sanitize(&msg.address))
                .collect();
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
            let retryable = matches!(e, ClientError::Unreachable(_) | ClientError::RateLimited(_));
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
                other if retryable => {
                    format!("not sent ({other}); the draft is kept, send again to retry")
                }
                other => format!("not sent: {other}"),
            };
            if let Some(c) = m.composer.as_mut().filter(|c| c.feedback_id == feedback_id) {
                c.sending = false;
                if !retryable {
                    // The server answered: this key is spent with this body.
                    if c.pending_key.as_deref() == Some(key.as_str()) {
                        c.pending_key = None;
                    }
                }
                c.error = Some(msg.clone());
            }
            m.set_status(Level::Error, msg);
            vec![]
        }
    }
}

/// Violations in a 422 problem body, read loosely (the rule engine's JSON shape).
fn server_violations(problem: &serde_json::Value) -> Vec<ViolationMark> {
    let Some(list) = problem.get("violations").and_then(|v| v.as_array()) else {
        return vec![];
    };
    list.iter()
        .filter_map(|v| {
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).map(|x| x as usize);
            let part = match s("part").as_deref() {
                Some("public") => Visibility::Public,
                _ => Visibility::Direct,
            };
            let level = match s("level").as_deref() {
                Some("warning") => MarkLevel::Warning,
                Some("info") => MarkLevel::Info,
                _ => MarkLevel::Error,
            };
            Some(ViolationMark {
                rule: s("rule").or_else(|| s("rule_id"))?,
                level,
                message: super::textutil::sanitize(&s("message").unwrap_or_default()),
                part,
                start: n("start").unwrap_or(0),
                end: n("end").unwrap_or(0),
                fix: s("fix"),
            })
        })
        .collect()
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
            let mut fx = ensure_customer(m);
            relint(m);
            fx.extend(Vec::new());
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

fn overlay_key(m: &mut Model, kp: KeyPress) -> Vec<Effect> {
    let esc = kp.code == KeyCode::Esc
        || (kp.code == KeyCode::Char('c') && kp.mods == KeyModifiers::CONTROL)
        || (kp.code == KeyCode::Char('g') && kp.mods == KeyModifiers::CONTROL);
    let enter = kp.code == KeyCode::Enter;
    let Some(overlay) = m.overlay.as_mut() else {
        return vec![];
    };
    match overlay {
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
                return vec![];
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
            if is_down(kp) {
                p.selected = (p.selected + 1).min(p.matches.len().saturating_sub(1));
                return vec![];
            }
            if is_up(kp) {
                p.selected = p.selected.saturating_sub(1);
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
        Overlay::Link(ls) => {
            if esc {
                m.overlay = None;
                return vec![];
            }
            let n = ls.results.loaded().map(|r| r.len()).unwrap_or(0);
            if is_down(kp) {
                ls.selected = (ls.selected + 1).min(n.saturating_sub(1));
                return vec![];
            }
            if is_up(kp) {
                ls.selected = ls.selected.saturating_sub(1);
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
                if let Some(c) = ls.results.loaded().and_then(|r| r.get(ls.selected)) {
                    return vec![Effect::LinkIdentity {
                        identity_id: ls.identity.id.clone(),
                        customer_id: c.id.clone(),
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
    match cmd {
        "q" | "quit" | "wq" | "x" | "q!" => quit(m),
        "view" | "v" => match rest.first().and_then(|v| ViewKind::parse(v)) {
            Some(v) => set_view(m, v),
            None => {
                m.set_status(Level::Error, "usage: :view mine|dept|all");
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
        "refresh" => run_action(m, Action::Refresh),
        "help" | "h" | "warnings" => run_action(m, Action::Help),
        "copy" => match rest.first().copied() {
            Some("customer") | Some("id") => run_action(m, Action::CopyCustomerId),
            _ => run_action(m, Action::CopyLink),
        },
        "assign" => run_action(m, Action::AssignToMe),
        "resolve" => run_action(m, Action::Resolve),
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
