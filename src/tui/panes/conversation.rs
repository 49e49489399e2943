//! The conversation pane (`tui::conversation`): the item's triage, the whole post wrapped to the
//! pane, the participants of a public thread, then every message of the thread. The lines are
//! built by one function used both to draw and, in the reducer, to know which messages the agent
//! has on screen.

use super::frame::{pane_block, short_duration};
use crate::domain::{Direction, Feedback, FeedbackStatus, Message, Visibility};
use crate::tui::action::{Action, Context};
use crate::tui::model::{Focus, Model};
use crate::tui::textutil::handle_label;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// A line of the view, and the thread message (index) it belongs to.
pub struct ViewLine {
    pub line: Line<'static>,
    pub message: Option<usize>,
}

fn plain(line: Line<'static>) -> ViewLine {
    ViewLine {
        line,
        message: None,
    }
}

/// The pane's inner area at the model's size (the stream's place, or all of it zoomed).
fn inner(m: &Model) -> Rect {
    let a = super::frame::layout(Rect::new(0, 0, m.size.0, m.size.1), m).stream;
    ratatui::widgets::Block::bordered().inner(a)
}

/// Lines of text the view shows at once.
pub fn body_height(m: &Model) -> usize {
    inner(m).height as usize
}

/// The furthest the view scrolls (the last line at the bottom).
pub fn max_scroll(m: &Model) -> usize {
    let r = inner(m);
    lines(m, r.width as usize)
        .len()
        .saturating_sub(r.height as usize)
}

/// Indices (into the item's thread) of the messages with a line on screen now.
pub fn drawn_messages(m: &Model) -> Vec<usize> {
    let r = inner(m);
    if r.height == 0 || r.width == 0 {
        return vec![];
    }
    let scroll = m.conversation.open.as_ref().map_or(0, |o| o.scroll);
    let mut out: Vec<usize> = lines(m, r.width as usize)
        .into_iter()
        .skip(scroll)
        .take(r.height as usize)
        .filter_map(|l| l.message)
        .collect();
    out.dedup();
    out
}

fn sla_text(m: &Model, fb: &Feedback) -> (String, &'static str) {
    if matches!(
        fb.status,
        FeedbackStatus::Answered | FeedbackStatus::Resolved
    ) {
        return (format!("SLA met · {}", fb.status), "sla.ok");
    }
    let left = (fb.sla_due_at - m.now).num_seconds();
    if left < 0 {
        (
            format!("SLA late by {}", short_duration(-left)),
            "sla.overdue",
        )
    } else {
        (
            format!("SLA {} left", short_duration(left.max(60))),
            if left < 15 * 60 { "sla.soon" } else { "sla.ok" },
        )
    }
}

/// Lays out groups of spans separated by ` · `, as many whole groups per line as fit in
/// `width`; continuation lines start with `indent`. A group wider than a line gets its own.
fn flow(
    groups: Vec<Vec<Span<'static>>>,
    sep: Style,
    width: usize,
    indent: &str,
) -> Vec<Line<'static>> {
    let mut lines: Vec<Vec<Span<'static>>> = Vec::new();
    let mut used = 0;
    for g in groups {
        let w: usize = g.iter().map(|s| s.width()).sum();
        match lines.last_mut() {
            Some(line) if used + 3 + w <= width => {
                line.push(Span::styled(" · ", sep));
                line.extend(g);
                used += 3 + w;
            }
            last => {
                let mut line = Vec::new();
                if last.is_some() && !indent.is_empty() {
                    line.push(Span::raw(indent.to_string()));
                }
                used = line.iter().map(|s: &Span| s.width()).sum::<usize>() + w;
                line.extend(g);
                lines.push(line);
            }
        }
    }
    lines.into_iter().map(Line::from).collect()
}

/// Wraps `prefix` + `text` to `width`: the first line after `prefix`, the rest under it.
fn wrapped(
    text: &str,
    prefix: &str,
    width: usize,
    style: Style,
    lead: Style,
) -> Vec<Line<'static>> {
    let indent = " ".repeat(crate::tui::textutil::display_width(prefix));
    let room = width.saturating_sub(indent.len()).max(1);
    crate::text::wrap(text, room)
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let head = if i == 0 {
                prefix.to_string()
            } else {
                indent.clone()
            };
            Line::from(vec![Span::styled(head, lead), Span::styled(l, style)])
        })
        .collect()
}

/// The item's triage: tone with confidence, kind, urgency, priority and SLA, and the cues that
/// decided the tone. Also shown in the profile pane.
pub fn triage_lines(m: &Model, fb: &Feedback, width: usize) -> Vec<Line<'static>> {
    let t = &m.theme;
    let (_, tone_scope) = super::stream::sentiment_mark(fb.sentiment_label);
    let (sla, sla_scope) = sla_text(m, fb);
    let groups = vec![
        vec![
            Span::styled("tone ", t.get("profile.label")),
            Span::styled(
                format!(
                    "{} {:.0}%{}",
                    fb.sentiment_label,
                    fb.sentiment_confidence.clamp(0.0, 1.0) * 100.0,
                    if fb.corrected { " (corrected)" } else { "" }
                ),
                t.get(tone_scope),
            ),
        ],
        vec![Span::styled(fb.kind.to_string(), t.get("profile.value"))],
        vec![Span::styled(
            format!("{} priority", fb.priority),
            match fb.priority {
                crate::domain::Priority::Urgent | crate::domain::Priority::High => {
                    t.get("rule.warning")
                }
                _ => t.get("profile.value"),
            },
        )],
        vec![Span::styled(sla, t.get(sla_scope))],
    ];
    // Whole parts per line rather than a cut-off SLA at 80 columns.
    let mut out = flow(groups, t.get("profile.label"), width, "");
    if !fb.urgency.is_empty() {
        let words: Vec<&str> = fb.urgency.iter().map(|u| u.as_str()).collect();
        out.extend(wrapped(
            &words.join(", ").replace('_', " "),
            "urgent: ",
            width,
            t.get("rule.error"),
            t.get("profile.label"),
        ));
    }
    if !fb.cues.is_empty() {
        out.extend(wrapped(
            &fb.cues.join(" · "),
            "cues: ",
            width,
            t.get("profile.value"),
            t.get("profile.label"),
        ));
    }
    out
}

fn status_word(msg: &Message) -> String {
    match (&msg.status_reason, msg.delivery_status) {
        (Some(r), crate::domain::DeliveryStatus::Failed) => format!("failed: {r}"),
        (_, s) => s.to_string(),
    }
}

fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%m-%d %H:%M").to_string()
}

/// Every line of the open conversation at `width`.
pub fn lines(m: &Model, width: usize) -> Vec<ViewLine> {
    let mut out = Vec::new();
    let Some(open) = &m.conversation.open else {
        return out;
    };
    let Some(row) = m.stream.get(&open.feedback_id) else {
        return out;
    };
    let fb = &row.fb;
    let width = width.max(10);
    let people = m.conversation.people.get(&fb.id);
    out.extend(triage_lines(m, fb, width).into_iter().map(plain));
    out.extend(post_lines(m, fb, people, width));
    out.extend(participant_lines(m, fb, people));
    out.extend(thread_lines(m, fb, people, width));
    out
}

type People = crate::tui::model::conversation::People;

/// The post, whole, under who wrote it.
fn post_lines(m: &Model, fb: &Feedback, people: Option<&People>, width: usize) -> Vec<ViewLine> {
    let t = &m.theme;
    let mut out = Vec::new();
    let who = handle_label(fb.channel, &fb.author.handle);
    let customer = people
        .and_then(|p| p.participant(&fb.author.id))
        .and_then(|p| p.customer_name.clone())
        .map(|n| format!(" ({n})"))
        .unwrap_or_else(|| {
            if fb.customer_id.is_none() && fb.author.customer_id.is_none() {
                " (unlinked)".into()
            } else {
                String::new()
            }
        });
    out.push(plain(Line::from("")));
    out.push(plain(Line::from(vec![
        Span::styled(format!("{who}{customer}"), t.get("profile.name")),
        Span::styled(
            format!(" · {} · {}", fb.channel, time(fb.received_at)),
            t.get("ui.text.dim"),
        ),
    ])));
    out.extend(
        wrapped(&fb.text, "  ", width, t.get("ui.text"), t.get("ui.text"))
            .into_iter()
            .map(plain),
    );
    out
}

/// Who is in the thread (a public thread's community), with their roles.
fn participant_lines(m: &Model, fb: &Feedback, people: Option<&People>) -> Vec<ViewLine> {
    let t = &m.theme;
    let mut out = Vec::new();
    if let Some(p) = people.filter(|p| fb.channel.has_public_thread() && !p.participants.is_empty())
    {
        out.push(plain(Line::from("")));
        out.push(plain(Line::from(Span::styled(
            format!("Participants ({})", p.participants.len()),
            t.get("ui.help.section"),
        ))));
        for part in &p.participants {
            let mut spans = vec![
                Span::raw("  "),
                Span::styled(
                    handle_label(part.identity.network, &part.identity.handle),
                    t.get("stream.author"),
                ),
                Span::raw(" "),
            ];
            match &part.customer_name {
                Some(n) => spans.push(Span::styled(n.clone(), t.get("profile.value"))),
                None if part.customer_id.is_some() => spans.push(Span::styled(
                    part.customer_id.clone().unwrap_or_default(),
                    t.get("profile.value"),
                )),
                None => spans.push(Span::styled("unlinked", t.get("profile.unlinked"))),
            }
            let roles = part.role_words();
            if !roles.is_empty() {
                spans.push(Span::styled(" · ", t.get("profile.label")));
                for (i, r) in roles.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::styled(", ", t.get("profile.label")));
                    }
                    spans.push(Span::styled(r.to_string(), role_style(m, r)));
                }
            }
            let mut notes = Vec::new();
            if part.original_poster {
                notes.push("started it".to_string());
            }
            if part.new_to_thread {
                notes.push("new".to_string());
            }
            notes.push(format!("{} msg", part.messages));
            spans.push(Span::styled(
                format!(" · {}", notes.join(" · ")),
                if part.new_to_thread {
                    t.get("composer.presence")
                } else {
                    t.get("ui.text.dim")
                },
            ));
            out.push(plain(Line::from(spans)));
        }
    }
    out
}

/// The thread, in order; our post is not repeated.
fn thread_lines(m: &Model, fb: &Feedback, people: Option<&People>, width: usize) -> Vec<ViewLine> {
    let t = &m.theme;
    let mut out = Vec::new();
    out.push(plain(Line::from("")));
    let Some(thread) = m.threads.get(&fb.id) else {
        out.push(plain(Line::from(Span::styled(
            "Loading the thread…",
            t.get("ui.text.dim"),
        ))));
        return out;
    };
    out.push(plain(Line::from(Span::styled(
        format!("Thread · {} message(s)", thread.messages.len()),
        t.get("ui.help.section"),
    ))));
    let own_post = thread.messages.iter().position(|x| {
        x.direction == Direction::Inbound && x.feedback_id.as_deref() == Some(&fb.id)
    });
    for (i, msg) in thread.messages.iter().enumerate() {
        for head in message_head(m, fb, msg, people, width) {
            out.push(ViewLine {
                line: head,
                message: Some(i),
            });
        }
        let body_style = if msg.direction == Direction::Outbound {
            t.get("composer.recipient").remove_modifier(Modifier::BOLD)
        } else {
            t.get("ui.text")
        };
        if Some(i) == own_post {
            out.push(ViewLine {
                line: Line::from(Span::styled("  (the post above)", t.get("ui.text.dim"))),
                message: Some(i),
            });
            continue;
        }
        for l in wrapped(&msg.body, "  ", width, body_style, body_style) {
            out.push(ViewLine {
                line: l,
                message: Some(i),
            });
        }
    }
    out
}

fn role_style(m: &Model, role: &str) -> Style {
    let t = &m.theme;
    match role {
        "detractor" => t.get("sentiment.negative").add_modifier(Modifier::BOLD),
        "helper" => t.get("sentiment.positive").add_modifier(Modifier::BOLD),
        _ => t.get("profile.role"),
    }
}

/// `▸ @ann (Ann Lee) · 03-14 09:31 · public · received` or `◂ Bo (agent) → @ann · … · delivered`.
fn message_head(
    m: &Model,
    fb: &Feedback,
    msg: &Message,
    people: Option<&crate::tui::model::conversation::People>,
    width: usize,
) -> Vec<Line<'static>> {
    let t = &m.theme;
    let author = people.and_then(|p| p.author_of(&msg.id));
    let vis_style = match msg.visibility {
        Visibility::Public => t.get("stream.channel"),
        Visibility::Direct => t.get("stream.department"),
    };
    let mut spans = Vec::new();
    match msg.direction {
        Direction::Inbound => {
            let who = handle_label(msg.channel, &msg.address);
            spans.push(Span::styled("▸ ", t.get("ui.text.dim")));
            spans.push(Span::styled(who, t.get("stream.author")));
            let part = author
                .and_then(|a| a.identity_id.as_deref())
                .and_then(|id| people.and_then(|p| p.participant(id)));
            match part {
                Some(p) => {
                    let roles = p.role_words();
                    let mut what = p.customer_name.clone().unwrap_or_else(|| "unlinked".into());
                    if !roles.is_empty() {
                        what.push_str(&format!(", {}", roles.join(", ")));
                    }
                    spans.push(Span::styled(format!(" ({what})"), t.get("profile.role")));
                }
                None if msg.feedback_id.as_deref() == Some(&fb.id) => {}
                None => {}
            }
        }
        Direction::Outbound => {
            let me = m.me.as_ref().map(|a| a.id.as_str());
            let mine = author
                .and_then(|a| a.agent_id.as_deref())
                .is_some_and(|a| Some(a) == me)
                || (author.is_none() && m.me.as_ref().is_some_and(|a| a.name == msg.author));
            spans.push(Span::styled("◂ ", t.get("ui.text.dim")));
            spans.push(Span::styled(
                if mine {
                    "me".to_string()
                } else {
                    format!("{} (colleague)", msg.author)
                },
                t.get("composer.recipient"),
            ));
            spans.push(Span::styled(
                format!(" → {}", handle_label(msg.channel, &msg.address)),
                t.get("ui.text.dim"),
            ));
        }
    }
    let status_style = match msg.delivery_status {
        crate::domain::DeliveryStatus::Failed => t.get("rule.error"),
        crate::domain::DeliveryStatus::Delivered => t.get("stream.state.answered"),
        _ => t.get("ui.text.dim"),
    };
    let groups = vec![
        spans,
        vec![Span::styled(time(msg.created_at), t.get("ui.text.dim"))],
        vec![Span::styled(msg.visibility.to_string(), vis_style)],
        vec![Span::styled(status_word(msg), status_style)],
    ];
    flow(groups, t.get("ui.text.dim"), width, "  ")
}

pub fn title(m: &Model) -> String {
    let Some(open) = &m.conversation.open else {
        return "Conversation".into();
    };
    let key = m
        .keymap
        .keys_for(Context::Conversation, Action::CloseConversation)
        .unwrap_or_else(|| "esc".into());
    let mut t = match m.stream.get(&open.feedback_id) {
        Some(r) => format!(
            "Conversation · {} on {}",
            handle_label(r.fb.channel, &r.fb.author.handle),
            r.fb.channel
        ),
        None => "Conversation".into(),
    };
    if let Some(th) = m.threads.get(&open.feedback_id) {
        t.push_str(&format!(" · {} msg", th.messages.len()));
    }
    if open.loading {
        t.push_str(" · loading…");
    }
    t.push_str(&format!(" · {key} back"));
    t
}

pub fn render(f: &mut Frame, area: Rect, m: &Model) {
    let focused = m.focus == Focus::Stream;
    let block = pane_block(m, title(m), focused);
    let inner = block.inner(area);
    let all = lines(m, inner.width as usize);
    let scroll = m
        .conversation
        .open
        .as_ref()
        .map_or(0, |o| o.scroll)
        .min(all.len().saturating_sub(inner.height as usize));
    let below = all.len().saturating_sub(scroll + inner.height as usize);
    let block = if below > 0 {
        let key = |a: Action| {
            m.keymap
                .keys_for(Context::Conversation, a)
                .unwrap_or_default()
        };
        block.title_bottom(Line::from(Span::styled(
            format!(
                " ↓ {below} more line(s) · {}/{} ",
                key(Action::ConversationDown),
                key(Action::ConversationPageDown)
            ),
            m.theme.get("ui.text.dim"),
        )))
    } else {
        block
    };
    f.render_widget(block, area);
    let shown: Vec<Line> = all
        .into_iter()
        .skip(scroll)
        .take(inner.height as usize)
        .map(|l| l.line)
        .collect();
    f.render_widget(Paragraph::new(shown), inner);
}
