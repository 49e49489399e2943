//! The stream pane: only the visible window of rows is built, so 100,000 items cost no more
//! than 20.

use super::frame::{pane_block, short_duration};
use crate::domain::{
    Channel, CustomerRole, Feedback, FeedbackStatus, PresenceState, Priority, SentimentLabel,
};
use crate::tui::model::{Focus, Model, Row};
use crate::tui::textutil::{fit, fit_right, handle_label, one_line};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn channel_abbrev(c: Channel) -> &'static str {
    match c {
        Channel::X => "X",
        Channel::Facebook => "FB",
        Channel::Instagram => "IG",
        Channel::Linkedin => "IN",
        Channel::Forum => "FRM",
        Channel::Review => "REV",
        Channel::Whatsapp => "WA",
        Channel::Sms => "SMS",
        Channel::Email => "EML",
        Channel::Webchat => "CHT",
        Channel::Phone => "TEL",
        Channel::InPerson => "INP",
        Channel::WebForm => "WEB",
    }
}

/// (label, scope) of an item's state: new, mine, answered.
pub fn state_of(m: &Model, r: &Row) -> (&'static str, &'static str) {
    let fb = &r.fb;
    if matches!(
        fb.status,
        FeedbackStatus::Answered | FeedbackStatus::Resolved
    ) {
        ("ans", "stream.state.answered")
    } else if m
        .me
        .as_ref()
        .is_some_and(|me| fb.assignee.as_deref() == Some(me.id.as_str()))
    {
        ("mine", "stream.state.mine")
    } else if fb.status == FeedbackStatus::New {
        ("new", "stream.state.new")
    } else {
        (
            if fb.status == FeedbackStatus::Pending {
                "pend"
            } else {
                fb.status.as_str()
            },
            "stream.state",
        )
    }
}

pub fn sentiment_mark(l: SentimentLabel) -> (&'static str, &'static str) {
    match l {
        SentimentLabel::Positive => ("+", "sentiment.positive"),
        SentimentLabel::Neutral => ("·", "sentiment.neutral"),
        SentimentLabel::Negative => ("-", "sentiment.negative"),
    }
}

/// SLA column: time left, or "late"; nothing once answered.
fn sla(m: &Model, r: &Row) -> (String, &'static str) {
    let fb = &r.fb;
    if matches!(
        fb.status,
        FeedbackStatus::Answered | FeedbackStatus::Resolved
    ) {
        return (String::new(), "sla.ok");
    }
    let left = (fb.sla_due_at - m.now).num_seconds();
    if left < 0 {
        ("late".into(), "sla.overdue")
    } else if left < 15 * 60 {
        (short_duration(left.max(60)), "sla.soon")
    } else {
        (short_duration(left), "sla.ok")
    }
}

fn row_line<'a>(m: &Model, r: &Row, width: usize, selected: bool, focused: bool) -> Line<'a> {
    let t = &m.theme;
    let fb = &r.fb;
    let wide = width >= 100;
    let author_w = if wide { 18 } else { 14 };
    let (dept_w, asg_w) = if wide { (10, 10) } else { (0, 0) };
    // gutter, state, channel, tone, role, priority, author, thread, (preview), age, SLA.
    let fixed = 12 + 3 + (author_w + 1) + 4 + 5 + 5 + if wide { dept_w + 1 + asg_w + 1 } else { 0 };
    let preview_w = width.saturating_sub(fixed).max(4);

    let base = row_style(m, r);
    let sel = match (selected, focused) {
        (true, true) => t.get("ui.selection"),
        (true, false) => t.get("ui.selection.unfocused"),
        (false, _) => Style::default(),
    };
    let st = |scope: &str| base.patch(t.get(scope)).patch(sel);
    let (state, state_scope) = state_of(m, r);
    let (smark, sscope) = sentiment_mark(fb.sentiment_label);
    let (sla_text, sla_scope) = sla(m, r);
    let age = short_duration((m.now - fb.received_at).num_seconds());
    let marked = m.marked.contains(&fb.id);
    let gutter = match (selected, marked) {
        (true, true) => "▐",
        (true, false) => "▌",
        (false, true) => "+",
        (false, false) => " ",
    };
    // Who else is here, and our replies on their way: before the preview.
    let notes = notes_of(m, &fb.id);
    let notes_w = if notes.is_empty() {
        0
    } else {
        notes.chars().count().min(preview_w / 2)
    };
    let preview_w = preview_w - notes_w;
    let mut spans = vec![
        Span::styled(
            gutter,
            if marked {
                st("stream.state.mine")
            } else {
                base.patch(sel)
            },
        ),
        Span::styled(fit(state, 4), st(state_scope)),
        Span::styled(" ", base.patch(sel)),
        Span::styled(fit(channel_abbrev(fb.channel), 3), st("stream.channel")),
        Span::styled(" ", base.patch(sel)),
        Span::styled(smark, st(sscope)),
        Span::styled(" ", base.patch(sel)),
        role_span(m, fb, base.patch(sel)),
        priority_span(m, fb, base.patch(sel)),
        Span::styled(" ", base.patch(sel)),
        Span::styled(
            fit(&handle_label(fb.channel, &fb.author.handle), author_w),
            st("stream.author"),
        ),
        Span::styled(" ", base.patch(sel)),
        Span::styled(
            if fb.thread_messages > 1 {
                fit_right(&format!("✉{}", fb.thread_messages.min(999)), 3)
            } else {
                "   ".to_string()
            },
            st("stream.channel"),
        ),
        Span::styled(" ", base.patch(sel)),
        Span::styled(fit(&notes, notes_w), st("composer.presence")),
        Span::styled(fit(&one_line(&fb.text), preview_w), base.patch(sel)),
        Span::styled(fit_right(&age, 4), st("stream.age")),
        Span::styled(" ", base.patch(sel)),
        Span::styled(fit_right(&sla_text, 4), st(sla_scope)),
        Span::styled(" ", base.patch(sel)),
    ];
    if wide {
        spans.extend(routing_spans(m, fb, dept_w, asg_w, &st, base.patch(sel)));
    }
    Line::from(spans)
}

/// A row's style before selection: unread new items stand out, answered ones recede.
fn row_style(m: &Model, r: &Row) -> Style {
    let t = &m.theme;
    let fb = &r.fb;
    let mut base = t.get("stream.item");
    if !r.seen && fb.status == FeedbackStatus::New {
        base = base.patch(t.get("stream.item.unread"));
    }
    if matches!(
        fb.status,
        FeedbackStatus::Answered | FeedbackStatus::Resolved
    ) {
        base = base.patch(t.get("stream.item.answered"));
    }
    base
}

/// Who else is on the item (viewing or writing), and our last reply's state.
fn notes_of(m: &Model, feedback_id: &str) -> String {
    let mut notes = String::new();
    if let Some(list) = m.presence.get(feedback_id) {
        for p in list {
            let mark = if p.state == PresenceState::Composing {
                "✎"
            } else {
                "◔"
            };
            let first = p.agent_name.split_whitespace().next().unwrap_or("?");
            notes.push_str(&format!("{mark}{first} "));
        }
    }
    if let Some(o) = m.outbox_for(feedback_id).last() {
        let mark = match o.label() {
            "delivered" => "✓✓",
            "sent" => "✓",
            "failed" => "✗",
            _ => "⇡",
        };
        notes.push_str(&format!("{mark}{} ", o.label()));
    }
    notes
}

/// The wide layout's department and assignee columns.
fn routing_spans<'a>(
    m: &Model,
    fb: &crate::domain::Feedback,
    dept_w: usize,
    asg_w: usize,
    st: &dyn Fn(&str) -> Style,
    gap: Style,
) -> Vec<Span<'a>> {
    let asg = match (&fb.assignee, &fb.unassigned_reason) {
        (Some(a), _) => m.agent_name(a),
        // Routing found nobody available (the reply pane says why).
        (None, Some(_)) => "no one",
        (None, None) => "—",
    };
    vec![
        Span::styled(fit(&fb.department, dept_w), st("stream.department")),
        Span::styled(" ", gap),
        Span::styled(fit(asg, asg_w), st("stream.assignee")),
        Span::styled(" ", gap),
    ]
}

/// One letter for the author's most telling role: a detractor or a helper stands out.
pub fn role_mark(roles: &[CustomerRole]) -> Option<(&'static str, CustomerRole)> {
    [
        (CustomerRole::Detractor, "D"),
        (CustomerRole::Helper, "H"),
        (CustomerRole::Advocate, "A"),
        (CustomerRole::PowerUser, "P"),
    ]
    .into_iter()
    .find(|(r, _)| roles.contains(r))
    .map(|(r, s)| (s, r))
}

fn role_span<'a>(m: &Model, fb: &Feedback, base: Style) -> Span<'a> {
    let t = &m.theme;
    match role_mark(&fb.author_roles) {
        Some((s, CustomerRole::Detractor)) => Span::styled(
            s,
            base.patch(t.get("sentiment.negative"))
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ),
        Some((s, CustomerRole::Helper)) => Span::styled(
            s,
            base.patch(t.get("sentiment.positive"))
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ),
        Some((s, _)) => Span::styled(s, base.patch(t.get("profile.role"))),
        None => Span::styled(" ", base),
    }
}

fn priority_span<'a>(m: &Model, fb: &Feedback, base: Style) -> Span<'a> {
    let t = &m.theme;
    match fb.priority {
        Priority::Urgent => Span::styled("‼", base.patch(t.get("sla.overdue"))),
        Priority::High => Span::styled("!", base.patch(t.get("sla.soon"))),
        Priority::Low => Span::styled("↓", base.patch(t.get("ui.text.dim"))),
        Priority::Normal => Span::styled(" ", base),
    }
}

/// The one-line legend of the row's marks, in the pane's bottom border.
pub fn legend(width: usize) -> &'static str {
    if width >= 100 {
        " ± tone · role: D detractor H helper A advocate P power user · ‼ ! ↓ priority · ✉ messages · age · SLA "
    } else {
        " ±tone · D detractor H helper A advocate P power · ‼!↓ pri · ✉ msgs "
    }
}

pub fn title(m: &Model) -> String {
    let s = &m.stream;
    let mut t = format!(
        "Stream · {} {}/{}",
        s.view_kind().title(),
        s.visible(),
        s.total()
    );
    if !s.filter().is_empty() {
        t.push_str(&format!(" · /{}", s.filter()));
    }
    if s.filtering() {
        // The count is of the rows not yet ruled out; it settles within a few frames.
        t.push_str(" · filtering…");
    }
    if s.sort() != crate::tui::sort::SortKey::Arrival {
        t.push_str(&format!(" · by {}", s.sort().as_str()));
    }
    if m.follow {
        t.push_str(" · follow");
    }
    if !m.marked.is_empty() {
        t.push_str(&format!(" · {} marked", m.marked.len()));
    }
    if s.loading {
        t.push_str(" · loading…");
    }
    t
}

pub fn render(f: &mut Frame, area: Rect, m: &Model) {
    let focused = m.focus == Focus::Stream;
    let block = pane_block(m, title(m), focused).title_bottom(Line::from(Span::styled(
        legend(area.width as usize),
        m.theme.get("ui.text.dim"),
    )));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let s = &m.stream;
    let h = inner.height as usize;
    let w = inner.width as usize;
    if s.visible() == 0 {
        let msg = if s.loading && s.total() == 0 {
            "Loading feedback…".to_string()
        } else if let Some(e) = &s.error {
            format!("Cannot load the stream: {e}")
        } else if s.total() == 0 {
            "No feedback yet. New items appear here as they arrive.".to_string()
        } else if !s.filter().is_empty() {
            format!(
                "Nothing matches /{} in {} (esc clears the filter)",
                s.filter(),
                s.view_kind().title()
            )
        } else {
            format!(
                "Nothing in {} ({} items in all: press A)",
                s.view_kind().title(),
                s.total()
            )
        };
        f.render_widget(Paragraph::new(msg).style(m.theme.get("ui.text.dim")), inner);
        return;
    }
    let top = s.top_pos();
    let sel = s.selected_pos();
    let lines: Vec<Line> = (top..top + h)
        .filter_map(|pos| {
            s.row_at(pos)
                .map(|r| row_line(m, r, w, Some(pos) == sel, focused))
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}
