use super::compose::{apply_fix, clear_draft_now, cycle_kind, next_violation, refresh_picker};
use super::marks::relint;
use super::send::{send_macro, send_reply};
use super::session::quit;
use super::triage::{cycle_tone, escalate, open_assign, open_log, patch_selected};
use super::view::{
    after_view_change, apply_filter, move_selection, refetch, set_sort, set_view, stream_rows,
};
use crate::domain::api::FeedbackPatch;
use crate::domain::{FeedbackStatus, Visibility};
use crate::tui::action::Action;
use crate::tui::effect::Effect;
use crate::tui::model::*;

/// Actions whose target is the selected item (as opposed to moving about or the view).
pub(crate) fn acts_on_selection(a: Action) -> bool {
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

#[must_use]
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

#[must_use]
pub(crate) fn run_action_on_final_view(m: &mut Model, a: Action) -> Vec<Effect> {
    m.dirty = true;
    if let Some(fx) = crate::tui::conversation::run(m, a) {
        return fx;
    }
    navigate(m, a)
        .or_else(|| focus(m, a))
        .or_else(|| compose(m, a))
        .or_else(|| triage(m, a))
        .or_else(|| session(m, a))
        .unwrap_or_default()
}

/// Moving about: the selection, focus, the view and its sort, the filter, zoom, follow, the conversation. `None` when `a` is not one of these.
#[must_use]
fn navigate(m: &mut Model, a: Action) -> Option<Vec<Effect>> {
    let page = stream_rows(m).max(1) as isize;
    Some(match a {
        // Handled by `conversation::run` above.
        Action::OpenConversation
        | Action::CloseConversation
        | Action::ConversationDown
        | Action::ConversationUp
        | Action::ConversationPageDown
        | Action::ConversationPageUp
        | Action::ConversationTop
        | Action::ConversationBottom => vec![],
        Action::NextItem => crate::tui::update::target::step(m, 1),
        Action::PrevItem => crate::tui::update::target::step(m, -1),
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
        _ => return None,
    })
}

/// The composer: replying, the reply type and parts, $EDITOR, canned replies, rule fixes, sending. `None` when `a` is not one of these.
#[must_use]
fn compose(m: &mut Model, a: Action) -> Option<Vec<Effect>> {
    Some(match a {
        // `r` answers the selected item: the agent's own choice moves the composer to it.
        Action::Reply => crate::tui::update::target::reply_to_selected(m),
        Action::ResolveItem => crate::tui::update::target::resolve(m),
        Action::SendAndResolve => send_reply(m, true),
        Action::Undo => crate::tui::update::target::undo(m),
        Action::SendMacroToMarked => send_macro(m),
        Action::SendReply => send_reply(m, false),
        Action::CycleReplyType => cycle_reply_type(m),
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
                return Some(vec![]);
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
        _ => return None,
    })
}

/// Triage of the selected item: assignment, status, tone, escalation, marks, linking the author. `None` when `a` is not one of these.
#[must_use]
fn triage(m: &mut Model, a: Action) -> Option<Vec<Effect>> {
    Some(match a {
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
                return Some(vec![]);
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
        Action::LinkIdentity => open_link(m),
        _ => return None,
    })
}

/// The session: quitting, help, the Team screen, the command line, copying, refreshing. `None` when `a` is not one of these.
#[must_use]
fn session(m: &mut Model, a: Action) -> Option<Vec<Effect>> {
    Some(match a {
        Action::Quit => quit(m),
        Action::Help => {
            m.overlay = Some(Overlay::Help { scroll: 0 });
            vec![]
        }
        Action::Team => crate::tui::team::toggle(m),
        Action::CommandLine => {
            m.overlay = Some(Overlay::Command(LineInput::default()));
            vec![]
        }
        Action::CopyLink => match m.selected() {
            Some(fb) => {
                let link = fb
                    .url
                    .clone()
                    .unwrap_or_else(|| format!("earshot:feedback/{}", fb.id));
                let text = crate::tui::textutil::sanitize(&link);
                m.set_status(Level::Info, format!("copied {text}"));
                vec![Effect::Copy(text)]
            }
            None => vec![],
        },
        Action::CopyCustomerId => match m.selected_customer_id() {
            Some(id) => {
                let id = crate::tui::textutil::sanitize(&id);
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
        _ => return None,
    })
}

/// Moving focus between the panes, and scrolling the profile. `None` for other actions.
#[must_use]
fn focus(m: &mut Model, a: Action) -> Option<Vec<Effect>> {
    Some(match a {
        Action::FocusNext => {
            m.focus = m.focus.next();
            if m.focus == Focus::Composer {
                crate::tui::update::view::bind(m);
            }
            vec![]
        }
        Action::FocusPrev => {
            m.focus = m.focus.prev();
            if m.focus == Focus::Composer {
                crate::tui::update::view::bind(m);
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
                crate::tui::update::view::bind(m);
            }
            vec![]
        }
        Action::ProfileDown => {
            m.profile_scroll = m.profile_scroll.saturating_add(1);
            vec![]
        }
        Action::ProfileUp => {
            m.profile_scroll = m.profile_scroll.saturating_sub(1);
            vec![]
        }
        _ => return None,
    })
}

/// `C-t`: the next reply type whose parts all have a route on the item.
#[must_use]
fn cycle_reply_type(m: &mut Model) -> Vec<Effect> {
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
    m.touch_draft(id);
    relint(m);
    vec![]
}

/// Opens the link picker on the selected item's author.
#[must_use]
fn open_link(m: &mut Model) -> Vec<Effect> {
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
