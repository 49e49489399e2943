//! `:` commands, as one table of typed commands (Helix's model): each has a name, its aliases,
//! its usage, whether it changes data, and the function that runs it. The command line runs
//! them, and the help screen lists them from the same table. Any action name also works
//! (`:toggle_follow`).

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

/// One `:` command.
pub struct TypedCommand {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// The arguments, as the help screen and a wrong call show them.
    pub usage: &'static str,
    pub doc: &'static str,
    /// Disabled in a read-only console.
    pub changes_data: bool,
    pub run: fn(&mut Model, &Args) -> Vec<Effect>,
}

/// What was typed after the `:`.
pub struct Args<'a> {
    /// The command word as typed (a name or an alias).
    pub typed: &'a str,
    pub rest: Vec<&'a str>,
}

impl TypedCommand {
    fn matches(&self, word: &str) -> bool {
        self.name == word || self.aliases.contains(&word)
    }
}

const fn cmd(
    name: &'static str,
    aliases: &'static [&'static str],
    usage: &'static str,
    doc: &'static str,
    changes_data: bool,
    run: fn(&mut Model, &Args) -> Vec<Effect>,
) -> TypedCommand {
    TypedCommand {
        name,
        aliases,
        usage,
        doc,
        changes_data,
        run,
    }
}

/// Every `:` command.
pub const COMMANDS: &[TypedCommand] = &[
    cmd(
        "quit",
        &["q", "wq", "x", "q!"],
        "",
        "save drafts and quit",
        false,
        |m, _| quit(m),
    ),
    cmd("team", &[], "", "the Team screen", false, team),
    cmd(
        "view",
        &["v"],
        "mine|dept|unassigned|all",
        "which items the stream shows",
        false,
        view,
    ),
    cmd(
        "sort",
        &[],
        "arrival|sla|priority",
        "the stream's order",
        false,
        sort,
    ),
    cmd(
        "theme",
        &[],
        "[NAME]",
        "load a theme, or say which is in use",
        false,
        theme,
    ),
    cmd("filter", &[], "TEXT", "filter the stream", false, |m, a| {
        apply_filter(m, &a.rest.join(" "))
    }),
    cmd("nofilter", &[], "", "clear the filter", false, |m, _| {
        apply_filter(m, "")
    }),
    cmd(
        "follow",
        &[],
        "[on|off]",
        "keep the newest item selected",
        false,
        follow,
    ),
    cmd(
        "reply",
        &["type"],
        "micro|macro|both",
        "the reply type",
        true,
        reply_type,
    ),
    cmd(
        "override",
        &[],
        "RULE REASON",
        "override a rule for this reply",
        true,
        override_rule,
    ),
    cmd(
        "send-resolve",
        &["sr"],
        "",
        "send the reply and resolve the item",
        false,
        |m, _| run_action(m, Action::SendAndResolve),
    ),
    cmd(
        "refresh",
        &[],
        "",
        "fetch the stream again",
        false,
        |m, _| run_action(m, Action::Refresh),
    ),
    cmd(
        "help",
        &["h", "warnings"],
        "",
        "this screen",
        false,
        |m, _| run_action(m, Action::Help),
    ),
    cmd(
        "copy",
        &[],
        "[link|customer|id]",
        "copy the item's link or customer id",
        false,
        copy,
    ),
    cmd(
        "assign",
        &["claim", "reassign", "route"],
        "[AGENT|DEPARTMENT]",
        "assign the item (to yourself without an argument)",
        true,
        assign,
    ),
    cmd("escalate", &[], "", "escalate the item", true, |m, _| {
        run_action(m, Action::Escalate)
    }),
    cmd("resolve", &[], "", "resolve the item", true, |m, _| {
        run_action(m, Action::Resolve)
    }),
    cmd("pending", &[], "", "set the item pending", true, |m, _| {
        run_action(m, Action::SetPending)
    }),
    cmd(
        "tone",
        &["sentiment"],
        "[negative|neutral|positive]",
        "correct the item's tone",
        true,
        tone,
    ),
    cmd(
        "status",
        &[],
        "pending|resolved|open",
        "set the item's status",
        true,
        status,
    ),
    cmd(
        "log",
        &[],
        "[phone|in_person|web_form] [TEXT]",
        "log offline feedback",
        true,
        log,
    ),
    cmd(
        "mark",
        &[],
        "",
        "mark the item for a macro reply",
        false,
        |m, _| run_action(m, Action::ToggleMark),
    ),
    cmd(
        "unmark",
        &["clearmarks"],
        "",
        "clear the marks",
        false,
        |m, _| run_action(m, Action::ClearMarks),
    ),
    cmd(
        "macro",
        &[],
        "",
        "send the macro reply to the marked items",
        false,
        |m, _| run_action(m, Action::SendMacroToMarked),
    ),
    cmd(
        "link",
        &[],
        "",
        "link the author to a customer",
        true,
        |m, _| run_action(m, Action::LinkIdentity),
    ),
];

/// Runs a `:` command line.
#[must_use]
pub fn run_command(m: &mut Model, line: &str) -> Vec<Effect> {
    m.dirty = true;
    let mut words = line.split_whitespace();
    let Some(typed) = words.next() else {
        return vec![];
    };
    let args = Args {
        typed,
        rest: words.collect(),
    };
    let Some(command) = COMMANDS.iter().find(|c| c.matches(typed)) else {
        return run_action_named(m, typed);
    };
    if m.read_only && command.changes_data {
        m.set_status(Level::Warning, format!("read-only: :{typed} is disabled"));
        return vec![];
    }
    (command.run)(m, &args)
}

/// `:` followed by an action's name runs the action.
#[must_use]
fn run_action_named(m: &mut Model, word: &str) -> Vec<Effect> {
    match word.parse::<Action>() {
        Ok(a) => run_action(m, a),
        Err(_) => {
            m.set_status(
                Level::Error,
                format!("unknown command :{word} (see ? for help)"),
            );
            vec![]
        }
    }
}

#[must_use]
fn usage(m: &mut Model, text: &str) -> Vec<Effect> {
    m.set_status(Level::Error, text.to_string());
    vec![]
}

#[must_use]
fn team(m: &mut Model, _: &Args) -> Vec<Effect> {
    if m.team.is_some() {
        vec![]
    } else {
        crate::tui::team::toggle(m)
    }
}

#[must_use]
fn view(m: &mut Model, a: &Args) -> Vec<Effect> {
    match a.rest.first().and_then(|v| ViewKind::parse(v)) {
        Some(v) => set_view(m, v),
        None => usage(m, "usage: :view mine|dept|unassigned|all"),
    }
}

#[must_use]
fn sort(m: &mut Model, a: &Args) -> Vec<Effect> {
    match a
        .rest
        .first()
        .and_then(|v| crate::tui::sort::SortKey::parse(v))
    {
        Some(by) => set_sort(m, by),
        None => usage(m, "usage: :sort arrival|sla|priority"),
    }
}

#[must_use]
fn theme(m: &mut Model, a: &Args) -> Vec<Effect> {
    if let Some(name) = a.rest.first() {
        return vec![Effect::LoadTheme(name.to_string())];
    }
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

#[must_use]
fn follow(m: &mut Model, a: &Args) -> Vec<Effect> {
    let on = match a.rest.first().copied() {
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

#[must_use]
fn reply_type(m: &mut Model, a: &Args) -> Vec<Effect> {
    let Some(k) = a.rest.first().and_then(|k| ReplyKind::parse(k)) else {
        return usage(m, "usage: :reply micro|macro|both");
    };
    if let Some(c) = m.composer.as_mut() {
        c.kind = k;
        c.active = k.parts()[0];
        let id = c.feedback_id.clone();
        m.touch_draft(id);
        m.focus = Focus::Composer;
        relint(m);
    }
    vec![]
}

#[must_use]
fn override_rule(m: &mut Model, a: &Args) -> Vec<Effect> {
    if a.rest.len() < 2 {
        return usage(m, "usage: :override RULE REASON");
    }
    let rule = a.rest[0].to_string();
    let reason = a.rest[1..].join(" ");
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

#[must_use]
fn copy(m: &mut Model, a: &Args) -> Vec<Effect> {
    match a.rest.first().copied() {
        Some("customer") | Some("id") => run_action(m, Action::CopyCustomerId),
        _ => run_action(m, Action::CopyLink),
    }
}

/// `:assign` and `:claim` alone take the item; `:reassign` alone opens the picker; with an
/// argument, all of them (and `:route`) open the picker on it.
#[must_use]
fn assign(m: &mut Model, a: &Args) -> Vec<Effect> {
    match (a.typed, a.rest.is_empty()) {
        ("reassign", true) => run_action(m, Action::Reassign),
        ("assign" | "claim", true) => run_action(m, Action::AssignToMe),
        ("claim", false) => run_action_named(m, "claim"),
        _ => open_assign(m, &a.rest.join(" ")),
    }
}

#[must_use]
fn tone(m: &mut Model, a: &Args) -> Vec<Effect> {
    match a
        .rest
        .first()
        .and_then(|l| l.parse::<SentimentLabel>().ok())
    {
        Some(label) => set_tone(m, label),
        None if a.rest.is_empty() => run_action(m, Action::CycleTone),
        None => {
            m.set_status(Level::Warning, "usage: tone negative|neutral|positive");
            vec![]
        }
    }
}

#[must_use]
fn status(m: &mut Model, a: &Args) -> Vec<Effect> {
    match a.rest.first().copied() {
        Some("pending") => run_action(m, Action::SetPending),
        Some("resolved") | Some("resolve") => run_action(m, Action::Resolve),
        Some("open") => patch_selected(
            m,
            FeedbackPatch {
                status: Some(FeedbackStatus::Open),
                ..Default::default()
            },
        ),
        _ => usage(m, "usage: :status pending|resolved|open"),
    }
}

#[must_use]
fn log(m: &mut Model, a: &Args) -> Vec<Effect> {
    let channel = a.rest.first().and_then(|c| match *c {
        "phone" | "call" | "tel" => Some(Channel::Phone),
        "in_person" | "inperson" | "person" | "visit" => Some(Channel::InPerson),
        "web_form" | "form" | "webform" => Some(Channel::WebForm),
        _ => None,
    });
    let text = if channel.is_some() {
        a.rest[1..].join(" ")
    } else {
        a.rest.join(" ")
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
