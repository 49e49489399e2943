use super::drafts::save_dirty_drafts;
use super::marks::{lint_context_for, mark_violations, relint, server_violations};
use crate::client::{ClientError, DrainReport, OutboxEntry, OutboxState};
use crate::domain::api::NewReply;
use crate::domain::{
    Feedback, FeedbackStatus, Message, PresenceState, Reply, ReplyPart, Visibility,
};
use crate::tui::effect::Effect;
use crate::tui::lint::MarkLevel;
use crate::tui::model::*;
use crate::tui::overlay::bulk_results::{BulkEntry, BulkOutcome, BulkReport};

/// How often waiting outbox replies are retried while connected.
pub(crate) const OUTBOX_RETRY_SECS: i64 = 30;

#[must_use]
pub(crate) fn drain_outbox(m: &mut Model) -> Vec<Effect> {
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
                    .map(|r| crate::tui::textutil::sanitize(&r))
                    .unwrap_or_else(|| "waiting since the last session".into()),
            ),
            reply_id: e.reply_id,
            messages: Vec::new(),
        });
    }
    m.dirty = true;
}

/// Our own reply's messages join the thread (they count as seen: see `guard::is_own`), and
/// delivery updates that came before the reply itself are applied.
pub(crate) fn note_own_messages(m: &mut Model, key: &str, reply: &Reply) {
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
            t.messages.push(msg.clone());
        }
    }
}

/// A macro (public) reply to every marked item: the public part of the open reply, checked
/// against the rules for each item's channel, sent to each through the outbox under its own
/// key (one base key plus the item id).
#[must_use]
pub(crate) fn send_macro(m: &mut Model) -> Vec<Effect> {
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
    let mut skipped: Vec<String> = Vec::new();
    let mut report = BulkReport::default();
    let ids: Vec<String> = m.marked.iter().cloned().collect();
    for id in ids {
        let entry = match macro_skip(m, &id, &body, &overrides) {
            Err((short, entry)) => {
                skipped.push(short);
                entry
            }
            Ok(who) => {
                let key = macro_key(&base_key, &id);
                fx.push(queue_macro(m, &id, &key, &body, &overrides));
                m.marked.remove(&id);
                BulkEntry {
                    feedback_id: id.clone(),
                    who,
                    outcome: BulkOutcome::Sent { key },
                }
            }
        };
        report.entries.push(entry);
    }
    macro_status(m, fx.len(), &skipped);
    // Every item's result, until the agent dismisses the list.
    m.bulk = Some(report);
    m.overlay = Some(Overlay::BulkResults { scroll: 0 });
    fx
}

/// Whether the macro goes to item `id`: `Ok(who)` it does, `Err` why not (the status line's
/// short form and the bulk list's entry).
fn macro_skip(
    m: &Model,
    id: &str,
    body: &str,
    overrides: &[crate::domain::Override],
) -> Result<String, (String, BulkEntry)> {
    let Some(fb) = m.stream.get(id).map(|r| r.fb.clone()) else {
        let entry = BulkEntry {
            feedback_id: id.to_string(),
            who: String::new(),
            outcome: BulkOutcome::Skipped {
                why: "not loaded in this console".into(),
            },
        };
        return Err((format!("{id} (not loaded)"), entry));
    };
    let who = crate::tui::textutil::handle_label(fb.channel, &fb.author.handle);
    let skip = |short: String, why: String| {
        let outcome = BulkOutcome::Skipped { why };
        let feedback_id = id.to_string();
        (
            short,
            BulkEntry {
                feedback_id,
                who: who.clone(),
                outcome,
            },
        )
    };
    if !fb.channel.has_public_thread() {
        return Err(skip(
            format!("{id} ({} has no public thread)", fb.channel),
            format!("{} has no public thread", fb.channel),
        ));
    }
    if let Some(rules) = &m.rules {
        let ctx = lint_context_for(m, Some(&fb));
        let marks = rules.check(&[(Visibility::Public, body.to_string())], &ctx);
        if let Some(v) = marks
            .iter()
            .find(|v| v.level == MarkLevel::Error && !overrides.iter().any(|o| o.rule == v.rule))
        {
            return Err(skip(
                format!("{id} (rule {} on {})", v.rule, fb.channel),
                format!("rule {} on {}: {}", v.rule, fb.channel, v.message),
            ));
        }
    }
    Ok(who)
}

/// One key per item of a macro: the macro's, then the item's id (its safe characters).
fn macro_key(base_key: &str, id: &str) -> String {
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._:-".contains(*c))
        .collect();
    format!("{base_key}-{safe}")
}

fn queue_macro(
    m: &mut Model,
    id: &str,
    key: &str,
    body: &str,
    overrides: &[crate::domain::Override],
) -> Effect {
    let parts = vec![ReplyPart {
        visibility: Visibility::Public,
        body: body.to_string(),
    }];
    let reply = NewReply {
        parts: parts.clone(),
        overrides: overrides.to_vec(),
        rulebook_version: m.rules.as_ref().map(|r| r.version.clone()),
        base_message_id: crate::tui::guard::seen_base(m, id),
    };
    queue_item(m, id, key, parts);
    Effect::SendReply {
        feedback_id: id.to_string(),
        key: key.to_string(),
        reply,
    }
}

fn macro_status(m: &mut Model, sent: usize, skipped: &[String]) {
    let mut text = format!("macro queued to {sent} item(s)");
    if !skipped.is_empty() {
        text.push_str(&format!(
            "; {} skipped, still marked: {}",
            skipped.len(),
            skipped.join(", ")
        ));
    }
    let level = if skipped.is_empty() {
        Level::Info
    } else {
        Level::Warning
    };
    m.set_status(level, text);
}

/// Sends the composer's reply to the composer's item (never merely the selected one);
/// `resolve` resolves the item once the reply is sent.
#[must_use]
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
    let checked = reply_parts(m, c, &fb).and_then(|parts| {
        // The rulebook's override policy, by the server's own function: an override the
        // policy refuses does not lift its error here either, and the agent is told why.
        let role = m.me.as_ref().map(|a| a.role);
        match crate::tui::policy::blocking(c, m.rules.as_deref(), role) {
            Some(why) => Err(why),
            None => Ok(parts),
        }
    });
    let parts = match checked {
        Ok(parts) => parts,
        Err(why) => {
            m.set_status(Level::Error, why);
            return vec![];
        }
    };
    if asks_to_confirm_warnings(m) || stops_for_the_thread(m, &fb, resolve) {
        return vec![];
    }
    let key = reply_key(m);
    dispatch_reply(m, &fb, key, parts, resolve)
}

/// The parts the reply type has, each with text and a route.
fn reply_parts(m: &Model, c: &Composer, fb: &Feedback) -> Result<Vec<ReplyPart>, String> {
    let mut parts = Vec::new();
    for p in c.kind.parts() {
        let body = c.text(*p);
        if body.trim().is_empty() {
            return Err(format!("the {p} part is empty"));
        }
        if let Err(why) = recipient(m, fb, *p) {
            return Err(format!("cannot send the {p} part: {why}"));
        }
        parts.push(ReplyPart {
            visibility: *p,
            body,
        });
    }
    Ok(parts)
}

/// Warnings do not block, but the agent confirms them once (a second send): true when this
/// send stops to ask.
fn asks_to_confirm_warnings(m: &mut Model) -> bool {
    let Some(c) = m.composer.as_mut() else {
        return true;
    };
    let warnings: Vec<String> = c
        .violations
        .iter()
        .filter(|v| v.level == MarkLevel::Warning)
        .map(|v| v.rule.clone())
        .collect();
    if warnings.is_empty() || c.confirm_warnings {
        return false;
    }
    c.confirm_warnings = true;
    m.set_status(
        Level::Warning,
        format!(
            "{} rule warning(s), e.g. {}: send again to confirm",
            warnings.len(),
            warnings[0]
        ),
    );
    true
}

/// The stale-send guard shows messages the agent has not seen, in full; then, if the item was
/// answered since it was opened or someone else is writing, the agent confirms once. True when
/// this send stops for either.
fn stops_for_the_thread(m: &mut Model, fb: &Feedback, resolve: bool) -> bool {
    let unseen = crate::tui::guard::unseen(m, &fb.id);
    if !unseen.is_empty() {
        m.overlay = Some(Overlay::Guard(crate::tui::guard::GuardView {
            feedback_id: fb.id.clone(),
            messages: unseen,
            scroll: 0,
            resolve,
        }));
        return true;
    }
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
    let Some(c) = m.composer.as_mut() else {
        return true;
    };
    if (!stale && others.is_empty()) || c.confirm_stale {
        return false;
    }
    c.confirm_stale = true;
    let why = if stale {
        format!("this item is already {}", fb.status)
    } else {
        format!("{} is also replying", others.join(", "))
    };
    m.set_status(Level::Warning, format!("{why}: send again to confirm"));
    true
}

/// The reply's idempotency key: the composer's pending one (a retry), else a new one.
fn reply_key(m: &mut Model) -> String {
    if let Some(k) = m.composer.as_ref().and_then(|c| c.pending_key.clone()) {
        return k;
    }
    let k = format!("{}-{:06}", m.key_seed, m.key_counter);
    m.key_counter += 1;
    if let Some(c) = m.composer.as_mut() {
        c.pending_key = Some(k.clone());
    }
    k
}

/// The reply goes: into the outbox view, the draft (with its key) saved, the request sent.
#[must_use]
fn dispatch_reply(
    m: &mut Model,
    fb: &Feedback,
    key: String,
    parts: Vec<ReplyPart>,
    resolve: bool,
) -> Vec<Effect> {
    // Stale-send guard: the reply is based on the newest message the agent has seen; the
    // server refuses it (409) if the thread moved on since, and the guard shows what changed.
    let base_message_id = crate::tui::guard::seen_base(m, &fb.id);
    let overrides = match m.composer.as_mut() {
        Some(c) => {
            c.sending = true;
            c.error = None;
            c.overrides.clone()
        }
        None => return vec![],
    };
    if resolve {
        m.resolve_after.insert(key.clone());
    }
    let reply = NewReply {
        parts: parts.clone(),
        overrides,
        rulebook_version: m.rules.as_ref().map(|r| r.version.clone()),
        base_message_id,
    };
    queue_item(m, &fb.id, &key, parts);
    // The key is part of the draft: if we die now, a retry after restart reuses it.
    m.drafts_dirty.insert(fb.id.clone());
    let mut fx = save_dirty_drafts(m);
    m.set_status(Level::Info, "sending…");
    fx.push(Effect::SendReply {
        feedback_id: fb.id.clone(),
        key,
        reply,
    });
    fx
}

/// A reply goes into the console's view of the outbox (the runner writes the file first).
pub(crate) fn queue_item(m: &mut Model, feedback_id: &str, key: &str, parts: Vec<ReplyPart>) {
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
#[must_use]
pub(crate) fn clear_sent(m: &mut Model, feedback_id: &str, key: &str) -> Vec<Effect> {
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
#[must_use]
pub(crate) fn return_to_draft(m: &mut Model, item: &OutboxItem) -> Vec<Effect> {
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
    m.touch_draft(fid.clone());
    relint(m);
    vec![]
}

#[must_use]
pub(crate) fn on_reply_sent(
    m: &mut Model,
    feedback_id: String,
    key: String,
    result: Result<Reply, ClientError>,
) -> Vec<Effect> {
    m.dirty = true;
    match result {
        Ok(reply) => on_delivered(m, &feedback_id, &key, &reply),
        Err(e) if e.keeps_queued() && m.outbox_enabled => {
            // On disk and retried under the same key: the composer is free again.
            if let Some(o) = m.outbox.iter_mut().find(|o| o.key == key) {
                o.reason = Some(e.to_string());
            }
            let fx = clear_sent(m, &feedback_id, &key);
            m.set_status(
                Level::Warning,
                format!("reply queued ({e}): it is delivered when the backend is back"),
            );
            fx
        }
        Err(e) => on_not_sent(m, &feedback_id, &key, &e),
    }
}

/// The server took the reply: its messages join the outbox entry and the thread.
#[must_use]
fn on_delivered(m: &mut Model, feedback_id: &str, key: &str, reply: &Reply) -> Vec<Effect> {
    let msgs: Vec<Message> = reply.messages.clone();
    if let Some(o) = m.outbox.iter_mut().find(|o| o.key == key) {
        o.state = SendState::Sent;
        o.reason = None;
        o.reply_id = Some(reply.id.clone());
        o.messages = msgs.clone();
    }
    note_own_messages(m, key, reply);
    let mut fx = clear_sent(m, feedback_id, key);
    if m.resolve_after.remove(key) {
        if let Some(fb) = m.stream.get(feedback_id).map(|r| r.fb.clone()) {
            fx.push(resolve_effect(&fb));
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

/// Not queued: the text stays in (or returns to) the composer, the outbox entry goes (a
/// resend makes a new one), and the agent is told why.
#[must_use]
fn on_not_sent(m: &mut Model, feedback_id: &str, key: &str, e: &ClientError) -> Vec<Effect> {
    let retryable = e.keeps_queued();
    let was_resolve = m.resolve_after.contains(key);
    m.resolve_after.remove(key);
    crate::tui::overlay::bulk_results::refused(m, feedback_id, key, e);
    let mut fx = Vec::new();
    if let Some(i) = m.outbox.iter().position(|o| o.key == key) {
        let item = m.outbox.remove(i);
        fx.extend(return_to_draft(m, &item));
    }
    if m.outbox_enabled {
        fx.push(Effect::DropOutbox(key.to_string()));
    }
    let msg = refusal_text(m, feedback_id, e, retryable);
    if let Some(c) = m.composer.as_mut().filter(|c| c.feedback_id == feedback_id) {
        c.sending = false;
        if !retryable && !matches!(e, ClientError::Protocol(_)) {
            // The server answered: this key is spent with this body.
            if c.pending_key.as_deref() == Some(key) {
                c.pending_key = None;
            }
        }
        c.error = Some(msg.clone());
    }
    if matches!(e, ClientError::Stale { .. }) {
        fx.push(Effect::LoadThread(feedback_id.to_string()));
        crate::tui::guard::open_after_refusal(m, feedback_id, was_resolve);
        m.set_status(Level::Warning, msg);
    } else {
        m.set_status(Level::Error, msg);
    }
    fx
}

/// What the composer says of a reply not sent; the server's violations are marked in it and
/// the messages a stale reply missed join the thread.
fn refusal_text(m: &mut Model, feedback_id: &str, e: &ClientError, retryable: bool) -> String {
    match e {
        ClientError::Refused { detail, problem } => {
            let marks = server_violations(problem);
            if let Some(c) = m.composer.as_mut().filter(|c| c.feedback_id == feedback_id) {
                if !marks.is_empty() {
                    c.violations = marks;
                    mark_violations(c, &m.theme);
                }
            }
            format!("refused by the server: {detail}")
        }
        ClientError::Stale { changes, .. } => {
            // What the reply did not take into account joins the thread, and is shown.
            crate::tui::guard::add_changes(m, feedback_id, changes);
            format!(
                "not sent: {} new message(s) on the thread since you saw it",
                changes.len()
            )
        }
        other if retryable => {
            format!("not sent ({other}); the draft is kept, send again to retry")
        }
        other => format!("not sent: {other}"),
    }
}

#[must_use]
pub(crate) fn on_drained(m: &mut Model, report: DrainReport) -> Vec<Effect> {
    m.dirty = true;
    let mut fx = Vec::new();
    let delivered = report.sent.len();
    for (key, reply) in report.sent {
        let fid = reply.feedback_id.clone();
        if let Some(o) = m.outbox.iter_mut().find(|o| o.key == key) {
            o.state = SendState::Sent;
            o.reason = None;
            o.reply_id = Some(reply.id.clone());
            o.messages = reply.messages.clone();
        }
        note_own_messages(m, &key, &reply);
        fx.extend(clear_sent(m, &fid, &key));
    }
    let failed = report.failed.len();
    for (key, reason) in report.failed {
        if let Some(o) = m.outbox.iter_mut().find(|o| o.key == key) {
            o.state = SendState::Failed;
            o.reason = Some(reason);
            let item = o.clone();
            fx.extend(return_to_draft(m, &item));
        }
        fx.push(Effect::DropOutbox(key));
    }
    if let Some(why) = &report.stopped {
        let why = why.to_string();
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

/// The PATCH that resolves an item at the version we have.
pub fn resolve_effect(fb: &crate::domain::Feedback) -> Effect {
    Effect::Patch {
        feedback_id: fb.id.clone(),
        version: fb.version,
        patch: crate::domain::api::FeedbackPatch {
            status: Some(FeedbackStatus::Resolved),
            ..Default::default()
        },
    }
}
