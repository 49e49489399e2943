//! The status bar: focused pane, key hints from the keymap (or the latest message), pending
//! keys, connection state and the agent.

use crate::tui::action::{Action, Context};
use crate::tui::model::{Connection, Focus, Level, Model};
use crate::tui::textutil::{display_width, truncate_to_width};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The hints shown for a context: (action, short label).
pub fn hints(ctx: Context) -> &'static [(Action, &'static str)] {
    match ctx {
        Context::Stream | Context::Global => &[
            (Action::SelectNext, "down"),
            (Action::OpenConversation, "open"),
            (Action::Reply, "reply"),
            (Action::Filter, "filter"),
            (Action::CycleView, "view"),
            (Action::AssignToMe, "assign"),
            (Action::Help, "help"),
            (Action::Quit, "quit"),
        ],
        Context::Conversation => &[
            (Action::ConversationDown, "scroll"),
            (Action::ConversationPageDown, "page"),
            (Action::Reply, "reply"),
            (Action::ToggleZoom, "zoom"),
            (Action::CloseConversation, "back"),
        ],
        Context::Profile => &[
            (Action::LinkIdentity, "link"),
            (Action::ProfileDown, "scroll"),
            (Action::FocusNext, "next pane"),
            (Action::Help, "help"),
        ],
        Context::Composer => &[
            (Action::SendReply, "send"),
            (Action::CycleReplyType, "type"),
            (Action::CannedReply, "canned"),
            (Action::OpenEditor, "$EDITOR"),
            (Action::LeaveComposer, "back"),
        ],
        // An open overlay names its (default) keys in its own title.
        Context::Pager
        | Context::Prompt
        | Context::Picker
        | Context::Form
        | Context::Guard
        | Context::Confirm => &[],
    }
}

pub fn render(f: &mut Frame, area: Rect, m: &Model) {
    let t = &m.theme;
    let bar = t.get("ui.statusbar");
    let (mode, ctx) = match m.focus {
        _ if m.team.is_some() => ("TEAM", Context::Global),
        Focus::Stream if m.conversation.is_open() => ("THREAD", Context::Conversation),
        Focus::Stream => ("STREAM", Context::Stream),
        Focus::Profile => ("PROFILE", Context::Profile),
        Focus::Composer => ("REPLY", Context::Composer),
    };
    let right = right_side(m);
    let right_w: usize = right.iter().map(|s| display_width(&s.content)).sum();
    let mut left: Vec<Span> = vec![
        Span::styled(format!(" {mode} "), t.get("ui.statusbar.mode")),
        Span::styled(" ", bar),
    ];
    let room = (area.width as usize).saturating_sub(right_w + mode.len() + 3);
    left.extend(message_or_hints(m, ctx, room));
    let left_w: usize = left.iter().map(|s| display_width(&s.content)).sum();
    let pad = (area.width as usize).saturating_sub(left_w + right_w);
    left.push(Span::styled(" ".repeat(pad), bar));
    left.extend(right);
    f.render_widget(Paragraph::new(Line::from(left)).style(bar), area);
}

/// Read-only mode, the connection and who is signed in.
fn right_side(m: &Model) -> Vec<Span<'static>> {
    let t = &m.theme;
    let bar = t.get("ui.statusbar");
    let mut right: Vec<Span> = Vec::new();
    if m.read_only {
        right.push(Span::styled(
            "READ-ONLY ",
            bar.patch(t.get("ui.statusbar.warning")),
        ));
    }
    match &m.connection {
        Connection::Connected => {
            right.push(Span::styled("● live", bar.patch(t.get("status.connected"))))
        }
        Connection::Connecting => right.push(Span::styled(
            "○ connecting",
            bar.patch(t.get("status.disconnected")),
        )),
        Connection::Disconnected { retry_in_ms, .. } => right.push(Span::styled(
            format!("○ offline, retry in {}s", retry_in_ms.div_ceil(1000)),
            bar.patch(t.get("status.disconnected")),
        )),
    }
    let agent =
        m.me.as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_else(|| "signing in…".into());
    right.push(Span::styled(format!(" · {agent} "), bar));
    right
}

/// Keys typed so far, else the status message, else the hints that fit in `room`.
fn message_or_hints(m: &Model, ctx: Context, room: usize) -> Vec<Span<'static>> {
    let t = &m.theme;
    if !m.pending_keys.is_empty() {
        let keys: Vec<String> = m.pending_keys.iter().map(|k| k.to_string()).collect();
        return vec![Span::styled(
            format!("{} …", keys.join(" ")),
            t.get("ui.statusbar.key"),
        )];
    }
    if let Some(s) = &m.status {
        let scope = match s.level {
            Level::Info => "ui.statusbar.info",
            Level::Warning => "ui.statusbar.warning",
            Level::Error => "ui.statusbar.error",
        };
        return vec![Span::styled(truncate_to_width(&s.text, room), t.get(scope))];
    }
    let pairs: Vec<(String, &str)> = if m.team.is_some() {
        [
            ("Esc", "close"),
            ("w", "window"),
            ("j/k", "select"),
            ("Enter", "open"),
            ("r", "refresh"),
        ]
        .into_iter()
        .map(|(k, l)| (k.to_string(), l))
        .collect()
    } else {
        hints(ctx)
            .iter()
            .filter_map(|(a, label)| Some((m.keymap.keys_for(ctx, *a)?, *label)))
            .collect()
    };
    hint_spans(m, &pairs, room)
}

/// As many `key label` hints as fit in `room`.
fn hint_spans(m: &Model, pairs: &[(String, &str)], room: usize) -> Vec<Span<'static>> {
    let t = &m.theme;
    let bar = t.get("ui.statusbar");
    let mut out = Vec::new();
    let mut used = 0;
    for (k, label) in pairs {
        let w = display_width(k) + display_width(label) + 3;
        if used + w > room {
            break;
        }
        used += w;
        out.push(Span::styled(k.clone(), t.get("ui.statusbar.key")));
        out.push(Span::styled(format!(" {label}  "), bar));
    }
    out
}
