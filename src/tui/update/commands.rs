use super::actions::run_action;
use super::marks::relint;
use super::session::quit;
use super::triage::{open_assign, open_log, patch_selected, set_tone, submit_log};
use super::view::{apply_filter, set_sort, set_view};
use crate::domain::api::FeedbackPatch;
use crate::domain::{Channel, FeedbackStatus, Override, SentimentLabel};
use crate::tui::action::Action;
use crate::tui::effect::Effect;
use crate::tui::model::*;

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
                crate::tui::team::toggle(m)
            }
        }
        "view" | "v" => match rest.first().and_then(|v| ViewKind::parse(v)) {
            Some(v) => set_view(m, v),
            None => {
                m.set_status(Level::Error, "usage: :view mine|dept|unassigned|all");
                vec![]
            }
        },
        "sort" => match rest
            .first()
            .and_then(|v| crate::tui::sort::SortKey::parse(v))
        {
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
            if let Err(why) = crate::tui::policy::judge(m.rules.as_deref(), &rule, &reason, role) {
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
